//! `action` faults: the scenario's own command, request or manual step breaks the stack;
//! its `undo` heals it. The event's time is when the action started (a manual step: when
//! the person confirmed), and `applied_ns` when it returned.
use super::{Applied, Undo};
use crate::action::{ActionEnv, perform};
use crate::error::{Error, Result};
use crate::history::RecorderHandle;
use crate::scenario::FaultSpec;
use crate::stack::Stack;

/// Runs the fault's action; returns what it did and when it took effect (start, end).
pub async fn inject(stack: &Stack, index: usize, spec: &FaultSpec, rec: &RecorderHandle, hit_primary: bool) -> (Result<Applied>, u64, u64) {
    let env = stack.action_env();
    let Some(a) = &spec.action else { return (Err(Error::usage("an action fault needs `action`")), 0, 0) };
    let label = format!("fault-{index}");
    let o = perform(a, &label, &env, &rec.clock).await;
    if !o.ok {
        return (Err(Error::infra(format!("action {}", o.detail))), o.at_ns, o.ended_ns);
    }
    let undo = spec.undo.clone().map(|u| Undo::Action { spec: Box::new(u), label: format!("{label}-undo"), env }).into_iter().collect();
    (Ok(Applied { detail: o.detail, undo, hit_primary, stamped: None }), o.at_ns, o.ended_ns)
}

/// Runs an `undo` action; an error carries its one-line outcome.
pub async fn undo(spec: &crate::scenario::ActionSpec, label: &str, env: &ActionEnv) -> Result<()> {
    let clock = crate::clock::Clock::start();
    let o = perform(spec, label, env, &clock).await;
    if o.ok { Ok(()) } else { Err(Error::infra(format!("undo {}", o.detail))) }
}
