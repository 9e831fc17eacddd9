//! External stacks: credentials from the environment or a file (registered as secrets),
//! the operator's confirmation naming the endpoints, and the stack attached, not started.
use crate::error::{Error, Result};
use crate::scenario::{Engine, Scenario};
use crate::stack::Auth;
use std::io::{BufRead, IsTerminal, Write};

/// The credentials of an external stack, read now; every value becomes a secret.
pub fn auth(sc: &Scenario, run_id: &str) -> Result<Auth> {
    let st = &sc.stack;
    let c = st.credentials.clone().unwrap_or_default();
    let env = |name: &str, what: &str| {
        std::env::var(name).map_err(|_| {
            Error::usage(format!("failed to read the {what}: environment variable {name} is not set"))
                .hint("stack.credentials names it; export it before running drdrill")
        })
    };
    let user = match (&c.user, &c.user_env) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(var)) => Some(env(var, "user name")?),
        (None, None) => None,
    };
    let password = match (&c.password_env, &c.password_file) {
        (Some(var), _) => Some(env(var, "password")?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::usage(format!("failed to read the password file {}", path.display())).cause(e))?;
            Some(text.lines().next().unwrap_or_default().to_string())
        }
        (None, None) => None,
    };
    crate::action::add_secrets(password.clone());
    if c.user_env.is_some() {
        crate::action::add_secrets(user.clone());
    }
    let default_table = "drdrill_drill";
    Ok(Auth {
        user,
        password,
        database: st.database.clone(),
        table: st.table.clone().unwrap_or_else(|| default_table.into()),
        run: run_id.to_string(),
    })
}

/// What an operator confirms before an external drill: the endpoints and every action.
pub fn confirmation_text(sc: &Scenario) -> String {
    let mut s = endpoints_text(sc);
    s.push_str("  and these actions run (see --dry-run for the timed plan):\n");
    for line in super::plan_faults::action_lines(sc, &[]) {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

/// The external stack: its endpoints and what the workload writes into.
pub fn endpoints_text(sc: &Scenario) -> String {
    let st = &sc.stack;
    let engine = st.engine.map_or("?", Engine::name);
    let mut s = format!("drdrill is about to drill an EXTERNAL {engine} stack it did not start:\n");
    s.push_str(&format!("  clients' endpoint: {}\n", st.endpoint.clone().unwrap_or_default()));
    if let Some(r) = &st.read_endpoint {
        s.push_str(&format!("  readers' endpoint: {r} (read only)\n"));
    }
    for (n, a) in &st.nodes {
        s.push_str(&format!("  node {n}: {a}\n"));
    }
    s.push_str(&format!(
        "  the workload writes into {} (rows tagged with this run's id){}\n",
        st.table.as_deref().unwrap_or("drdrill_drill"),
        if st.cleanup { ", deleted afterwards" } else { "" }
    ));
    s
}

/// Asks on the terminal; without one (CI), refuses unless `--yes` was given.
pub fn confirm(sc: &Scenario, yes: bool) -> Result<()> {
    if !sc.stack.kind.is_external() || yes {
        return Ok(());
    }
    let text = crate::action::redact(&confirmation_text(sc));
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage("failed to get a confirmation: drilling an external stack needs one and stdin is not a terminal")
            .hint(format!("{text}run with --yes to confirm in advance")));
    }
    eprint!("{text}Type `yes` to start: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() != "yes" {
        return Err(Error::usage("drill not confirmed: nothing was started"));
    }
    Ok(())
}
