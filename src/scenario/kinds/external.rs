//! `kind: external`: a stack drdrill did not start, reached at its endpoint (and nodes)
//! with the scenario's credentials, and the rules of those keys.
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::{self, Index, Key};
use crate::scenario::model::*;

/// The node an external stack without `nodes` is known by: its client endpoint.
pub const ENDPOINT: &str = "endpoint";
/// The service an external stack's `read_endpoint` is known by.
pub const READ_ENDPOINT: &str = "read_endpoint";

/// `kind: external`: a stack drdrill attaches to and never starts.
pub const EXTERNAL: KindInfo = KindInfo {
    external: true,
    blocks: &["engine", "endpoint", "resolver", "read_endpoint", "nodes", "credentials", "database", "table", "cleanup"],
    validate: validate_external,
    reads: true,
    read_endpoints: &["read_endpoint"],
    ..KindInfo::bare(
        "external",
        "A stack drdrill did not start and never starts, stops or removes: it reaches its `endpoint` (and `nodes`) and acts on it only through the scenario's actions.",
        "",
        "",
    )
};

fn validate_external(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    if st.engine.is_none() {
        let engines = super::kind_names(|k| k.info().engine);
        p.push((vec![Key("stack")], format!("an external stack needs `engine` ({})", super::spoken_list(&engines, "or"))));
    }
    match &st.endpoint {
        None => p.push((vec![Key("stack")], "an external stack needs `endpoint`: the host:port its clients use".into())),
        Some(e) => check_addr(e, here("endpoint"), p),
    }
    if let Some(r) = &st.resolver {
        check_resolver(st, r, p);
    }
    if let Some(e) = &st.read_endpoint {
        check_addr(e, here("read_endpoint"), p);
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
    check_failover(s, p);
}

/// `failover` on an external stack: the scenario's steps, or none (an engine that fails over
/// by itself, a cluster, is watched unless steps fail it over).
fn check_failover(s: &Scenario, p: &mut Vec<Problem>) {
    let (st, Some(fo)) = (&s.stack, &s.failover) else { return };
    let by_itself = st.fails_over_by_itself() && fo.steps.is_empty() && fo.mode != Some(FailoverMode::Scripted);
    if fo.mode == Some(FailoverMode::Orchestrator) && !by_itself {
        let engines = super::kind_names(|k| k.info().engine && k.orchestrated());
        let msg = format!(
            "drdrill watches the orchestrator of no external stack but a {} (its nodes' own view): omit `failover` (your orchestrator fails over, the clients measure it) or give `steps`",
            super::spoken_list(&engines, "or")
        );
        p.push((vec![Key("failover"), Key("mode")], msg));
    } else if fo.steps.is_empty() && !by_itself {
        p.push((
            vec![Key("failover")],
            "an external stack fails over through `steps` (actions) only; or omit `failover` and let your orchestrator do it".into(),
        ));
    }
    if fo.promote != "most-advanced" && !st.nodes.contains_key(&fo.promote) {
        p.push((vec![Key("failover"), Key("promote")], format!("expected `most-advanced` or one of stack.nodes, found `{}`", fo.promote)));
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
