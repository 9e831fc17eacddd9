//! What a drill has running at any moment, shared with `run` so that an interrupt can stop
//! it in order (failover, fault schedule, workload), mark the history, and still judge
//! what was recorded before the stack is torn down.
use crate::checker::{Checker, Verdict};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::fault::{FaultLedger, FaultSchedule};
use crate::history::{EventKind, Recorder, RecorderHandle};
use crate::report::{Interruption, Results, StackInfo};
use crate::scenario::Scenario;
use crate::stack::{ReplicaHealth, Stack};
use crate::workload::Workload;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct Live {
    /// The phase reached, as the terminal printed it.
    pub phase: String,
    pub stack: Option<Arc<Stack>>,
    pub health: Vec<ReplicaHealth>,
    pub clock: Option<Clock>,
    pub rec: Option<RecorderHandle>,
    pub recorder: Option<Recorder>,
    pub workload: Option<Workload>,
    pub schedule: Option<FaultSchedule>,
    pub failover: Option<tokio::task::AbortHandle>,
    /// Set while the `after` hooks are owed (from the first action on).
    pub after_pending: Option<crate::action::ActionEnv>,
}

#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Live>>);

impl Shared {
    pub fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn phase(&self, text: &str) {
        self.with(|l| l.phase = text.to_string());
    }
    fn take(&self) -> Live {
        self.with(std::mem::take)
    }
}

/// Stops what runs, in order: the failover (no promotion after the signal), the fault
/// schedule, then the workload (writes in flight are answered or time out); heals, marks
/// the interruption in the history and closes it. Returns partial results when the
/// workload had started.
pub(super) async fn stop_interrupted(
    shared: &Shared,
    ledger: &FaultLedger,
    signal: &str,
    sc: &Scenario,
    identity: (String, String),
    history: &Path,
) -> Result<Results> {
    let live = shared.take();
    if let Some(f) = &live.failover {
        f.abort();
    }
    if let Some(s) = live.schedule {
        s.stop().await;
    }
    let at_ns = live.clock.map(|c| c.now_ns());
    if let Some(rec) = &live.rec {
        rec.event(EventKind::Interrupted, None, None, format!("{signal} during {}", live.phase)).await;
    }
    if let Some(w) = live.workload {
        let _ = w.stop().await;
    }
    if let (Some(rec), Some(stack)) = (&live.rec, &live.stack) {
        ledger.heal_all(&stack.docker, Some(rec)).await;
    }
    if let (Some(rec), Some(env)) = (&live.rec, shared.with(|l| l.after_pending.take()).or(live.after_pending.clone())) {
        super::actions::after_hooks(&sc.hooks.after, &env, Some(rec)).await;
    }
    drop(live.rec);
    if let Some(r) = live.recorder {
        r.finish().await.map_err(|e| Error::infra(format!("failed to write {}", crate::history::FILE)).cause(e))?;
    }
    let (checker, events) = match Checker::from_history(history) {
        Ok((c, h)) => (c, h.events),
        Err(_) => (Checker::default(), Vec::new()),
    };
    // no read-back, no convergence: those targets are undecided
    let a = checker
        .finish(&events, None, None, None, &sc.checks, &sc.targets)
        .map_err(|e| Error::infra("failed to check the history").cause(e))?;
    let stack = live.stack.as_ref().map(|s| super::drill::stack_info(sc, s, &live.health)).unwrap_or_else(|| StackInfo::planned(sc));
    let wall = |ns: Option<u64>| live.clock.map(|c| (c.wall_anchor + chrono::Duration::nanoseconds(ns.unwrap_or(0) as i64)).to_rfc3339());
    let started = wall(Some(0)).unwrap_or_default();
    let finished = wall(at_ns).unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
    let mut r = Results::assemble((identity.0, identity.1, started, finished), a, stack, None, None, events, Vec::new());
    r.verdict = Verdict::Unknown;
    r.interrupted = true;
    r.interruption = Some(Interruption { signal: signal.to_string(), phase: live.phase, at_ms: at_ns.map(crate::clock::ms) });
    Ok(r)
}
