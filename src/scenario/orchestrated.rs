//! A failover block against the stack's orchestrator: a stack that fails over by itself
//! takes no scripted promotion, and one without an orchestrator has none to watch.
use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;

pub fn validate_orchestrated(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    let kind = st.kind.name();
    if let Some(fo) = &s.failover {
        let mode = fo.mode.unwrap_or(st.kind.default_failover());
        match (st.fails_over_by_itself(), mode) {
            (true, FailoverMode::Scripted) if !st.kind.is_external() => p.push((
                vec![Key("failover"), Key("mode")],
                format!("a {kind} stack fails over by itself; drdrill never promotes in it (use `mode: orchestrator` or omit `failover`)"),
            )),
            (false, FailoverMode::Orchestrator) => p.push((
                vec![Key("failover"), Key("mode")],
                format!(
                    "a {kind} stack has no orchestrator; use `mode: scripted` with a trigger, or kind {}",
                    super::kinds::orchestrated_kinds()
                ),
            )),
            (true, FailoverMode::Orchestrator) if fo.trigger.delay.is_some() || fo.trigger.probe.is_some() => {
                p.push((vec![Key("failover"), Key("trigger")], "the orchestrator decides when to fail over: remove `trigger`".into()))
            }
            _ => {}
        }
    }
    if st.kind.orchestrated() && st.replicas == 0 {
        p.push((here("replicas"), "an orchestrated stack needs at least one replica to fail over to".into()));
    }
}
