//! Node-level faults: kill (SIGKILL), stop (graceful), pause (freeze), restart.
use crate::error::Result;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{FaultKind, FaultSpec};
use crate::stack::Stack;
use std::time::Instant;

/// A fault that has been applied, and what healing it takes.
#[derive(Debug, Clone)]
pub struct Injected {
    pub index: usize,
    pub kind: FaultKind,
    pub node: String,
    /// Drill time of the injection (just before the engine was asked).
    pub at_ns: u64,
    /// Whether a heal is still owed (a pause, or a stop with a duration).
    pub needs_heal: bool,
    /// Whether this fault took the then-primary away.
    pub hit_primary: bool,
}

/// Applies `spec` now. The event's time is taken before the engine call; the call's own
/// duration is recorded in the event detail.
pub async fn inject(stack: &Stack, index: usize, spec: &FaultSpec, rec: &RecorderHandle) -> Result<Injected> {
    let node = stack.resolve(&spec.target)?;
    let hit_primary = node == stack.primary();
    let container = stack.node(&node)?.container.clone();
    let at_ns = rec.clock.now_ns();
    let started = Instant::now();
    let d = &stack.docker;
    let result = match spec.kind {
        FaultKind::Kill => d.kill(&container, "SIGKILL").await,
        FaultKind::Stop => d.stop(&container, 10).await,
        FaultKind::Pause => d.pause(&container).await,
        FaultKind::Restart => d.restart(&container, 10).await,
    };
    let took = started.elapsed().as_millis();
    let kind = format!("{:?}", spec.kind).to_lowercase();
    let (event, detail) = match &result {
        Ok(()) => (EventKind::FaultInject, format!("{kind} {node} (target {}, engine call {took} ms)", spec.target)),
        Err(e) => (EventKind::FaultFailed, format!("{kind} {node} failed: {}", e.one_line())),
    };
    rec.event_at(at_ns, event, Some(index), Some(&node), detail).await;
    result?;
    if spec.kind == FaultKind::Restart {
        // the engine returned once the container runs again: that is the heal
        rec.event(EventKind::FaultHeal, Some(index), Some(&node), format!("restart of {node} complete")).await;
    }
    // a pause always ends; a stop with a duration is followed by a start
    let needs_heal = spec.kind == FaultKind::Pause || (spec.kind == FaultKind::Stop && spec.duration_ms.is_some());
    Ok(Injected { index, kind: spec.kind, node, at_ns, needs_heal, hit_primary })
}

/// Undoes a fault that needs it (resumes a paused node, starts a node stopped for a
/// duration). Idempotent.
pub async fn heal(stack: &Stack, f: &mut Injected, rec: &RecorderHandle) -> Result<()> {
    if !f.needs_heal {
        return Ok(());
    }
    let container = stack.node(&f.node)?.container.clone();
    let (verb, r) = match f.kind {
        FaultKind::Stop => ("start", stack.docker.start(&container).await),
        _ => ("resume", stack.docker.unpause(&container).await),
    };
    let detail = match &r {
        Ok(()) => format!("{verb} {}", f.node),
        Err(e) => format!("{verb} {} failed: {}", f.node, e.one_line()),
    };
    rec.event(EventKind::FaultHeal, Some(f.index), Some(&f.node), detail).await;
    f.needs_heal = false;
    r
}
