//! Validation of external stacks and of actions, hooks, steady-state probes and abort
//! conditions (which container drills may use too).
use super::actions::{ActionSpec, ProbeSpec};
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// The node an external stack without `nodes` is known by: its client endpoint.
pub const ENDPOINT: &str = "endpoint";

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Redis => "redis",
            Engine::Mariadb => "mariadb",
        }
    }
}

/// Keys that only an external stack takes, and whether this one sets them.
fn external_keys(st: &StackSpec) -> [(&'static str, bool); 8] {
    [
        ("engine", st.engine.is_some()),
        ("endpoint", st.endpoint.is_some()),
        ("resolver", st.resolver.is_some()),
        ("nodes", !st.nodes.is_empty()),
        ("credentials", st.credentials.is_some()),
        ("database", st.database.is_some()),
        ("table", st.table.is_some()),
        ("cleanup", st.cleanup),
    ]
}

pub fn validate_external(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    if !st.kind.is_external() {
        for (key, set) in external_keys(st) {
            if set && !st.kind.accepts(key) {
                p.push((here(key), format!("`{key}` applies to an external stack (kind: external)")));
            }
        }
        return;
    }
    if st.engine.is_none() {
        p.push((vec![Key("stack")], "an external stack needs `engine` (postgres, redis or mariadb)".into()));
    }
    match &st.endpoint {
        None => p.push((vec![Key("stack")], "an external stack needs `endpoint`: the host:port its clients use".into())),
        Some(e) => check_addr(e, here("endpoint"), p),
    }
    if let Some(r) = &st.resolver {
        check_resolver(st, r, p);
    }
    for (name, addr) in &st.nodes {
        if name == ENDPOINT || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            p.push((here("nodes"), format!("node name `{name}` must be letters, digits, '-' or '_' (and not `{ENDPOINT}`)")));
        }
        check_addr(addr, vec![Key("stack"), Key("nodes"), Key(leak(name))], p);
    }
    if let Some(t) = &st.table
        && (t.is_empty() || t.len() > 48 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        p.push((here("table"), format!("table `{t}` must be 1 to 48 letters, digits or '_'")));
    }
    if let Some(c) = &st.credentials
        && c.user.is_some()
        && c.user_env.is_some()
    {
        p.push((vec![Key("stack"), Key("credentials")], "give `user` or `user_env`, not both".into()));
    }
    if s.proxy.is_some() {
        p.push((
            vec![Key("proxy")],
            "an external stack has no drdrill proxy: route its clients through your own (an `http` action can drive a Toxiproxy)".into(),
        ));
    }
    for (i, f) in s.faults.iter().enumerate() {
        if !matches!(f.kind, FaultKind::Action | FaultKind::Heal) {
            p.push((
                vec![Key("faults"), Index(i), Key("kind")],
                "an external stack takes `action` faults (and heals): drdrill starts nothing there, so it breaks it only through your commands".into(),
            ));
        }
    }
    if let Some(fo) = &s.failover {
        if fo.mode == Some(FailoverMode::Orchestrator) {
            p.push((vec![Key("failover"), Key("mode")], "drdrill watches no orchestrator of an external stack: omit `failover` (your orchestrator fails over, the clients measure it) or give `steps`".into()));
        } else if fo.steps.is_empty() {
            p.push((
                vec![Key("failover")],
                "an external stack fails over through `steps` (actions) only; or omit `failover` and let your orchestrator do it".into(),
            ));
        }
        if fo.promote != "most-advanced" && !st.nodes.contains_key(&fo.promote) {
            p.push((
                vec![Key("failover"), Key("promote")],
                format!("expected `most-advanced` or one of stack.nodes, found `{}`", fo.promote),
            ));
        }
    }
}

/// A leaked key name for a location path (a scenario has few nodes; validation runs once).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// `resolver`: an ip:port, for an endpoint that is a name, with the nodes named.
fn check_resolver(st: &StackSpec, r: &str, p: &mut Vec<Problem>) {
    let here = || vec![Key("stack"), Key("resolver")];
    if r.parse::<std::net::SocketAddr>().is_err() {
        p.push((here(), format!("expected the DNS server's ip:port, found `{r}`")));
    }
    let host = st.endpoint.as_deref().and_then(|e| e.rsplit_once(':')).map(|(h, _)| h).unwrap_or_default();
    if host.parse::<std::net::IpAddr>().is_ok() {
        p.push((vec![Key("stack"), Key("endpoint")], format!("`resolver` looks a name up; the endpoint `{host}` is an address")));
    }
    if st.nodes.is_empty() {
        p.push((
            here(),
            "with `resolver`, name the `nodes`: the answers are mapped to them, and the read-back follows the new primary".into(),
        ));
    }
}

fn check_addr(a: &str, at: Vec<Seg>, p: &mut Vec<Problem>) {
    let ok = a.rsplit_once(':').is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0));
    if !ok {
        p.push((at, format!("expected host:port, found `{a}`")));
    }
}

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
    for (list, key) in [(&s.hooks.before, "before"), (&s.hooks.after, "after")] {
        for (i, a) in list.iter().enumerate() {
            check_action(a, vec![Key("hooks"), Key(key), Index(i)], p);
        }
    }
    for (i, pr) in s.steady_state.probes.iter().enumerate() {
        check_probe(pr, vec![Key("steady_state"), Key("probes"), Index(i)], p);
    }
    if let Some(a) = &s.abort_when {
        if let Some(pr) = &a.probe {
            check_probe(pr, vec![Key("abort_when"), Key("probe")], p);
        }
        if a.outage_ms == Some(0) || a.probe_failures == 0 {
            p.push((vec![Key("abort_when")], "outage_ms and probe_failures must be above 0".into()));
        }
        if a.outage_ms.is_none() && a.failed_writes.is_none() && a.probe.is_none() {
            p.push((vec![Key("abort_when")], "give at least one of outage_ms, failed_writes or probe".into()));
        }
    }
    for (i, name) in s.secrets.iter().enumerate() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.push((vec![Key("secrets"), Index(i)], format!("`{name}` is not an environment variable name")));
        }
    }
}

fn check_action(a: &ActionSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if a.kind().is_none() {
        p.push((at.clone(), "an action takes exactly one of command, http, manual or wait (or, a failover step, dns)".into()));
    }
    if a.dns.is_some() && at.get(1) != Some(&Key("steps")) {
        p.push((with(&at, "dns"), "`dns` moves a record during failover: it is a failover step only".into()));
    }
    if a.timeout_ms == Some(0) {
        p.push((with(&at, "timeout_ms"), "timeout_ms must be above 0".into()));
    }
    if let Some(c) = &a.command {
        check_command(c, with(&at, "command"), p);
    }
    if let Some(h) = &a.http {
        check_http(h, with(&at, "http"), p);
    }
    if let Some(w) = &a.wait {
        check_probe(w, with(&at, "wait"), p);
    }
    if let Some(n) = &a.name
        && (n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        p.push((with(&at, "name"), format!("action name `{n}` must be letters, digits, '-' or '_'")));
    }
}

fn check_probe(pr: &ProbeSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if pr.kind().is_none() {
        p.push((at.clone(), "a probe takes exactly one of command, http, write: true or max_lag_bytes".into()));
    }
    if pr.attempt_timeout_ms == 0 || pr.every_ms == 0 {
        p.push((at.clone(), "attempt_timeout_ms and every_ms must be above 0".into()));
    }
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
    if let Some(code) = h.status
        && !(100..=599).contains(&code)
    {
        p.push((with(&at, "status"), format!("expected an HTTP status (100-599), found {code}")));
    }
}

fn with(at: &[Seg], key: &'static str) -> Vec<Seg> {
    let mut v = at.to_vec();
    v.push(Key(key));
    v
}
