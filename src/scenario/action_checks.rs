//! Validation of actions, hooks, steady-state probes and abort conditions, wherever a
//! scenario has them (faults, undo, failover steps, hooks).
use super::actions::{ActionSpec, ProbeSpec};
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// Every action in the scenario, with where it is (faults, undo, steps, hooks).
pub fn validate_actions(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(a) = &f.action {
            check_action(a, vec![Key("faults"), Index(i), Key("action")], p);
        }
        if let Some(a) = &f.undo {
            check_action(a, vec![Key("faults"), Index(i), Key("undo")], p);
        }
    }
    if let Some(fo) = &s.failover {
        for (i, a) in fo.steps.iter().enumerate() {
            check_action(a, vec![Key("failover"), Key("steps"), Index(i)], p);
            if let Some(d) = &a.dns {
                super::region::check_dns_step(s, d, vec![Key("failover"), Key("steps"), Index(i), Key("dns")], p);
            }
        }
        if !fo.steps.is_empty() && s.failover_mode() != Some(FailoverMode::Scripted) {
            p.push((
                vec![Key("failover"), Key("steps")],
                "steps replace drdrill's scripted promotion; an orchestrated stack fails over by itself".into(),
            ));
        }
    }
    drill_actions(DrillActions { hooks: &s.hooks, steady_state: &s.steady_state, abort_when: &s.abort_when, secrets: &s.secrets }, None, p);
}

/// The actions a drill runs around its exercise, whichever services it has.
pub struct DrillActions<'a> {
    pub hooks: &'a super::actions::Hooks,
    pub steady_state: &'a super::actions::SteadyState,
    pub abort_when: &'a Option<super::actions::AbortWhen>,
    pub secrets: &'a [String],
}

/// Hooks, steady-state probes, abort conditions and secrets. `services`: the services of a
/// drill of several, one of which each `write` or `max_lag_bytes` probe names; `None` in a
/// drill of one stack, where a probe names none.
pub fn drill_actions(d: DrillActions, services: Option<&[&str]>, p: &mut Vec<Problem>) {
    for (list, key) in [(&d.hooks.before, "before"), (&d.hooks.after, "after")] {
        for (i, a) in list.iter().enumerate() {
            check_action_in(a, vec![Key("hooks"), Key(key), Index(i)], services, p);
        }
    }
    for (i, pr) in d.steady_state.probes.iter().enumerate() {
        check_probe(pr, vec![Key("steady_state"), Key("probes"), Index(i)], services, p);
    }
    if let Some(a) = d.abort_when {
        if let Some(pr) = &a.probe {
            check_probe(pr, vec![Key("abort_when"), Key("probe")], services, p);
        }
        let at = |k: &'static str| vec![Key("abort_when"), Key(k)];
        super::bounds::check_opt(p, at("outage_ms"), "AbortWhen.outage_ms", a.outage_ms.map(|v| v as f64));
        super::bounds::check(p, at("probe_failures"), "AbortWhen.probe_failures", f64::from(a.probe_failures), "");
        if a.outage_ms.is_none() && a.failed_writes.is_none() && a.probe.is_none() {
            p.push((vec![Key("abort_when")], "give at least one of outage_ms, failed_writes or probe".into()));
        }
    }
    for (i, name) in d.secrets.iter().enumerate() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.push((vec![Key("secrets"), Index(i)], format!("`{name}` is not an environment variable name")));
        }
    }
}

fn check_action(a: &ActionSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    check_action_in(a, at, None, p)
}

fn check_action_in(a: &ActionSpec, at: Vec<Seg>, services: Option<&[&str]>, p: &mut Vec<Problem>) {
    if a.kind().is_none() {
        p.push((at.clone(), "an action takes exactly one of command, http, manual, wait or sql (or, a failover step, dns)".into()));
    }
    if a.dns.is_some() && at.get(1) != Some(&Key("steps")) {
        p.push((with(&at, "dns"), "`dns` moves a record during failover: it is a failover step only".into()));
    }
    super::bounds::check_opt(p, with(&at, "timeout_ms"), "ActionSpec.timeout_ms", a.timeout_ms.map(|v| v as f64));
    if let Some(c) = &a.command {
        check_command(c, with(&at, "command"), p);
    }
    if let Some(h) = &a.http {
        check_http(h, with(&at, "http"), p);
    }
    if let Some(w) = &a.wait {
        check_probe(w, with(&at, "wait"), services, p);
    }
    if let Some(q) = &a.sql
        && q.run.trim().is_empty()
    {
        p.push((with(&with(&at, "sql"), "run"), "expected the SQL to run".into()));
    }
    if let Some(n) = &a.name
        && (n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        p.push((with(&at, "name"), format!("action name `{n}` must be letters, digits, '-' or '_'")));
    }
}

fn check_probe(pr: &ProbeSpec, at: Vec<Seg>, services: Option<&[&str]>, p: &mut Vec<Problem>) {
    let kind = pr.kind();
    if kind.is_none() {
        p.push((at.clone(), "a probe takes exactly one of command, http, write: true or max_lag_bytes".into()));
    }
    let asks_db = matches!(kind, Some("write" | "max_lag_bytes"));
    match (services, &pr.service) {
        (None, Some(_)) => p.push((
            with(&at, "service"),
            "`service` names the service a probe asks in a drill of several services; this one has one stack".into(),
        )),
        (Some(_), Some(_)) if !asks_db => p.push((
            with(&at, "service"),
            "`service` is for a `write` or `max_lag_bytes` probe; a command or request names its own target".into(),
        )),
        (Some(names), Some(s)) if !names.contains(&s.as_str()) => {
            p.push((with(&at, "service"), format!("expected one of the drill's services ({}), found `{s}`", names.join(", "))))
        }
        (Some(names), None) if asks_db => p.push((
            at.clone(),
            format!(
                "a `{}` probe in a drill of several services names the one it asks: `service:` one of {}",
                kind.unwrap_or_default(),
                names.join(", ")
            ),
        )),
        _ => {}
    }
    super::bounds::check(p, with(&at, "attempt_timeout_ms"), "ProbeSpec.attempt_timeout_ms", pr.attempt_timeout_ms as f64, "");
    super::bounds::check(p, with(&at, "every_ms"), "ProbeSpec.every_ms", pr.every_ms as f64, "");
    if let Some(c) = &pr.command {
        check_command(c, with(&at, "command"), p);
    }
    if let Some(h) = &pr.http {
        check_http(h, with(&at, "http"), p);
    }
}

fn check_command(c: &super::actions::CommandLine, at: Vec<Seg>, p: &mut Vec<Problem>) {
    let empty = match c {
        super::actions::CommandLine::Argv(v) => v.first().is_none_or(|a| a.is_empty()),
        super::actions::CommandLine::Shell(s) => s.trim().is_empty(),
    };
    if empty {
        p.push((at, "the command is empty".into()));
    }
}

fn check_http(h: &super::actions::HttpSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
        p.push((with(&at, "url"), format!("expected an http:// or https:// URL, found `{}`", h.url)));
    }
    if h.method.parse::<hyper::Method>().is_err() || h.method.is_empty() {
        p.push((with(&at, "method"), format!("`{}` is not an HTTP method", h.method)));
    }
    super::bounds::check_opt(p, with(&at, "status"), "HttpSpec.status", h.status.map(f64::from));
}

fn with(at: &[Seg], key: &'static str) -> Vec<Seg> {
    let mut v = at.to_vec();
    v.push(Key(key));
    v
}

#[cfg(test)]
mod tests {
    use super::super::region::tests::problems;

    #[test]
    fn a_database_probe_of_a_drill_of_several_services_names_one_of_them() {
        let drill = |probes: &str| {
            format!(
                "name: t\nsteady_state:\n  probes: {probes}\nservices:\n  db: {{stack: {{kind: postgres, replicas: 1}}, targets: {{}}}}\n  \
                 cache: {{stack: {{kind: redis, replicas: 1}}, targets: {{}}}}\n"
            )
        };
        assert_eq!(problems(&drill("[{write: true, service: db}, {max_lag_bytes: 100, service: cache}, {command: [\"true\"]}]")), "");
        let e = problems(&drill("[{write: true}]"));
        assert!(e.contains("t.yaml:3:") && e.contains("names the one it asks: `service:` one of cache, db"), "{e}");
        let e = problems(&drill("[{write: true, service: dbx}]"));
        assert!(e.contains("expected one of the drill's services (cache, db), found `dbx`"), "{e}");
        let e = problems(&drill("[{command: [\"true\"], service: db}]"));
        assert!(e.contains("`service` is for a `write` or `max_lag_bytes` probe"), "{e}");
        // checked in a drill of several services as in one of one stack (an empty command)
        let e = problems(&drill("[{command: []}]"));
        assert!(e.contains("the command is empty"), "{e}");
        let one = "name: t\ntargets: {}\nstack: {kind: postgres, replicas: 1}\nsteady_state: {probes: [{write: true, service: db}]}\n";
        assert!(problems(one).contains("this one has one stack"), "{}", problems(one));
    }
}

/// Every action of a single-stack scenario, with where it is.
fn each_action(s: &Scenario) -> Vec<(&ActionSpec, Vec<Seg>)> {
    let mut out = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        out.extend(f.action.iter().map(|a| (a, vec![Key("faults"), Index(i), Key("action")])));
        out.extend(f.undo.iter().map(|a| (a, vec![Key("faults"), Index(i), Key("undo")])));
    }
    for (i, a) in s.failover.iter().flat_map(|f| f.steps.iter()).enumerate() {
        out.push((a, vec![Key("failover"), Key("steps"), Index(i)]));
    }
    for (list, key) in [(&s.hooks.before, "before"), (&s.hooks.after, "after")] {
        out.extend(list.iter().enumerate().map(|(i, a)| (a, vec![Key("hooks"), Key(key), Index(i)])));
    }
    out
}

/// `sql` actions: on a node of the stack, of a kind whose database runs SQL.
pub(super) fn check_sql(s: &Scenario, p: &mut Vec<Problem>) {
    let nodes = s.stack.node_names();
    for (a, at) in each_action(s) {
        let Some(q) = &a.sql else { continue };
        let at = with(&at, "sql");
        if !s.stack.kind.info().sql {
            p.push((at, format!("a {} stack runs no SQL drdrill can send", s.stack.kind.name())));
        } else if !nodes.contains(&q.node) {
            p.push((with(&at, "node"), format!("expected a node of the stack ({}), found `{}`", nodes.join(", "), q.node)));
        }
    }
}

/// Every `setval('<name>', …)` in the scenario's `sql` actions names one of `sequences`
/// (PostgreSQL would answer `relation "<name>" does not exist`, mid-drill).
pub fn check_sequences(s: &Scenario, sequences: &[String], p: &mut Vec<Problem>) {
    for (a, at) in each_action(s) {
        let Some(q) = &a.sql else { continue };
        for name in setval_names(&q.run) {
            if !sequences.contains(&name) {
                let why = format!("setval names `{name}`, which is no sequence of this stack (its sequences: {})", sequences.join(", "));
                p.push((with(&with(&at, "sql"), "run"), why));
            }
        }
    }
}

/// The sequences `setval('…'` names in `sql`, without a `public.` schema.
fn setval_names(sql: &str) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    lower
        .match_indices("setval")
        .filter_map(|(i, _)| {
            let rest = lower[i + 6..].trim_start().strip_prefix('(')?.trim_start().strip_prefix('\'')?;
            let name = &rest[..rest.find('\'')?];
            Some(name.strip_prefix("public.").unwrap_or(name).trim_matches('"').to_string())
        })
        .collect()
}

#[cfg(test)]
mod sql_tests {
    #[test]
    fn setval_names_are_read_as_postgresql_would() {
        let sql = "SELECT setval('users_id_seq', (SELECT max(id) FROM users)); select SETVAL ( 'public.Audit_id_seq', 1)";
        assert_eq!(super::setval_names(sql), ["users_id_seq", "audit_id_seq"]);
        assert!(super::setval_names("SELECT 1").is_empty());
    }
}
