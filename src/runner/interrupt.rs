//! An interrupted drill (SIGINT, SIGTERM): what runs stopped in order (failover, fault
//! schedule, workload), the history marked and closed, and each service judged on what
//! was recorded, before the stack is torn down.
use super::judge::stack_info;
use super::live::{Live, Shared};
use crate::checker::{Checker, Verdict};
use crate::checker::{Interruption, Results, StackInfo};
use crate::error::{Error, Result};
use crate::fault::FaultLedger;
use crate::history::EventKind;
use crate::scenario::{Loaded, ServicePlan};
use std::path::Path;

/// Stops what runs, in order: the failovers (no promotion after the signal), the fault
/// schedule, then the workloads (writes in flight are answered or time out); heals, marks
/// the interruption in the history and closes it. Returns partial results when the
/// workloads had started, each service judged on what was recorded.
pub(super) async fn stop_interrupted(
    shared: &Shared,
    ledger: &FaultLedger,
    signal: &str,
    loaded: &Loaded,
    identity: (String, String),
    history: &Path,
) -> Result<Results> {
    let mut live = shared.take();
    let at_ns = stop_in_order(shared, &mut live, ledger, signal, loaded).await?;
    let wall = |ns: Option<u64>| live.clock.map(|c| (c.wall_anchor + chrono::Duration::nanoseconds(ns.unwrap_or(0) as i64)).to_rfc3339());
    let started = wall(Some(0)).unwrap_or_default();
    let finished = wall(at_ns).unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
    let mut each = Vec::new();
    for plan in &loaded.services {
        let ids = (identity.0.clone(), identity.1.clone(), started.clone(), finished.clone());
        each.push((plan.name.clone(), service_results(&live, plan, history, ids)?));
    }
    // (one service's events are all the drill's: its results hold them already)
    let events = match loaded.several() {
        true => crate::history::read_history(history, |_| {}).map(|h| h.events).unwrap_or_default(),
        false => Vec::new(),
    };
    let mut r = Results::of_services(each, events);
    r.verdict = Verdict::Unknown;
    r.interrupted = true;
    r.interruption = Some(Interruption { signal: signal.to_string(), phase: live.phase, at_ms: at_ns.map(crate::clock::ms) });
    super::questions::ask(loaded, &mut r);
    Ok(r)
}

/// Stops the failovers, the fault schedule and the workloads in that order, heals, runs the `after`
/// hooks owed and closes the history; returns when the interruption was recorded.
async fn stop_in_order(shared: &Shared, live: &mut Live, ledger: &FaultLedger, signal: &str, loaded: &Loaded) -> Result<Option<u64>> {
    for f in &live.failovers {
        f.abort();
    }
    if let Some(s) = live.schedule.take() {
        s.stop().await;
    }
    let at_ns = live.clock.map(|c| c.now_ns());
    if let Some(rec) = &live.rec {
        rec.event(EventKind::Interrupted, None, None, format!("{signal} during {}", live.phase)).await;
    }
    futures_util::future::join_all(std::mem::take(&mut live.workloads).into_iter().map(|w| w.stop())).await;
    if let (Some(rec), Some((_, stack))) = (&live.rec, live.stacks.first()) {
        ledger.heal_all(&stack.docker, Some(rec)).await;
    }
    if let (Some(rec), Some(env)) = (&live.rec, shared.with(|l| l.after_pending.take()).or(live.after_pending.clone())) {
        super::actions::after_hooks(&loaded.scenario.hooks.after, &env, Some(rec)).await;
    }
    drop((live.rec.take(), std::mem::take(&mut live.recs)));
    if let Some(r) = live.recorder.take() {
        r.finish().await.map_err(|e| Error::infra(format!("failed to write {}", crate::history::FILE)).cause(e))?;
    }
    Ok(at_ns)
}

/// One service's partial results from what its history holds: no read-back and no
/// convergence, so those targets are undecided, and the verdict unknown.
fn service_results(live: &Live, plan: &ServicePlan, history: &Path, ids: (String, String, String, String)) -> Result<Results> {
    let tag = plan.tagged.then_some(plan.name.as_str());
    let (checker, events) = match Checker::from_history_of(history, tag) {
        Ok((c, h)) => (c, h.events),
        Err(_) => (Checker::default(), Vec::new()),
    };
    let a = checker
        .finish(&events, None, None, None, &plan.view.checks, &plan.view.targets)
        .map_err(|e| Error::infra("failed to check the history").cause(e))?;
    let stack = live.stacks.iter().find(|(n, _)| *n == plan.name).map(|(_, s)| s);
    let health = live.health.iter().find(|(n, _)| *n == plan.name).map(|(_, h)| h.as_slice()).unwrap_or_default();
    let info = stack.map(|s| stack_info(&plan.view, s, health)).unwrap_or_else(|| StackInfo::planned(&plan.view));
    let mut r = Results::assemble(ids, a, info, None, None, events, Vec::new());
    r.verdict = Verdict::Unknown;
    Ok(r)
}
