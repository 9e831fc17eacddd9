//! Judges what a drill measured against the scenario's targets: one `TargetResult` per
//! target, in the order the reports show them (the drill's own failures first).
use super::{Convergence, RpoResult, RtoResult, Target, Verdict};
use crate::history::{Event, EventKind};
use crate::scenario::Targets;
use serde::Serialize;

/// One target: its limit, what was measured, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TargetResult {
    pub target: Target,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
    pub verdict: Verdict,
    pub note: String,
}

/// What the drill measured, as the targets judge it.
pub(super) struct Measured<'a> {
    pub(super) events: &'a [Event],
    /// Faults injected.
    pub(super) injected: usize,
    /// Writes acknowledged before the fault (every acknowledged write without a fault).
    pub(super) baseline_writes: u64,
    /// Writes acknowledged in the whole drill.
    pub(super) acked: u64,
    pub(super) rto: &'a RtoResult,
    /// None when the surviving data could not be read back.
    pub(super) rpo: Option<&'a RpoResult>,
    pub(super) convergence: Option<&'a Convergence>,
}

/// Every target's result: the baseline, faults not injected, failed actions, an abort, then
/// RTO, RPO, lost writes and convergence when the scenario sets them.
pub(super) fn judge(m: &Measured, targets: &Targets) -> Vec<TargetResult> {
    let mut t = vec![baseline(m.baseline_writes)];
    t.extend(faults_not_injected(m.events, m.injected));
    t.extend(failover_before_fault(m.events));
    t.extend(failed_actions(m.events));
    t.extend(aborted(m.events));
    t.extend(targets.rto_ms.as_ref().and_then(|l| l.single()).map(|limit| rto_target(m.rto, limit)));
    t.extend(targets.rpo_ms.as_ref().and_then(|l| l.single()).map(|limit| rpo_target(m.rpo, limit)));
    t.extend(targets.max_lost_writes.as_ref().and_then(|l| l.single()).map(|limit| lost_writes_target(m.rpo, limit)));
    t.extend(targets.max_lost_pct.map(|limit| lost_share_target(m.rpo, m.acked, limit)));
    if targets.converge {
        t.push(convergence_target(m.convergence));
    }
    t
}

/// Some write must have been acknowledged before the fault, or nothing was measured
/// (undecided).
fn baseline(writes: u64) -> TargetResult {
    let ok = writes > 0;
    TargetResult {
        target: Target::BaselineWrites,
        limit: Some(1.0),
        actual: Some(writes as f64),
        verdict: if ok { Verdict::Pass } else { Verdict::Unknown },
        note: if ok {
            "writes were acknowledged before the fault".into()
        } else {
            "no write was acknowledged before the fault: nothing was measured".into()
        },
    }
}

/// How many `kind` events there were and their details, joined; None without one.
fn failures(events: &[Event], kind: EventKind) -> Option<(usize, String)> {
    let failed: Vec<&Event> = events.iter().filter(|e| e.kind == kind).collect();
    (!failed.is_empty()).then(|| (failed.len(), failed.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>().join("; ")))
}

/// A fault that could not be injected: the drill did not test what it declared (undecided).
fn faults_not_injected(events: &[Event], injected: usize) -> Option<TargetResult> {
    let (_, note) = failures(events, EventKind::FaultFailed)?;
    Some(TargetResult { target: Target::FaultsInjected, limit: None, actual: Some(injected as f64), verdict: Verdict::Unknown, note })
}

/// drdrill's own failover started before any fault (its probe failed on a saturated host,
/// say): it answered none of them, and what followed was not the fault's recovery; the
/// fault may then hit a node nobody uses (RTO 0). The drill is undecided.
fn failover_before_fault(events: &[Event]) -> Option<TargetResult> {
    let all: Vec<&Event> = events.iter().collect();
    let (start, first_fault) = crate::history::before_first_fault(&all, |e| e.kind == EventKind::FailoverStart)?;
    let ms = |ns: u64| ns as f64 / 1e6;
    let before = first_fault.map_or("no fault was injected".into(), |f| format!("{:.1} ms before the first fault", ms(f - start.t_ns)));
    let note = format!(
        "the failover began at t={:.1} ms ({}), {before}: it answered no fault, so what the drill measured after it is not a fault's recovery",
        ms(start.t_ns),
        start.detail
    );
    Some(TargetResult { target: Target::FailoverAfterFault, limit: None, actual: Some(ms(start.t_ns)), verdict: Verdict::Unknown, note })
}

/// A hook, failover step or steady-state check that failed leaves the drill undecided.
fn failed_actions(events: &[Event]) -> Option<TargetResult> {
    let (n, note) = failures(events, EventKind::ActionFailed)?;
    Some(TargetResult { target: Target::Actions, limit: None, actual: Some(n as f64), verdict: Verdict::Unknown, note })
}

/// An `abort_when` condition held: the drill fails, at the abort's time.
fn aborted(events: &[Event]) -> Option<TargetResult> {
    let abort = events.iter().find(|e| e.kind == EventKind::Aborted)?;
    Some(TargetResult {
        target: Target::Aborted,
        limit: None,
        actual: Some(abort.t_ns as f64 / 1e6),
        verdict: Verdict::Fail,
        note: abort.detail.clone(),
    })
}

/// RTO within `limit` ms; no RTO passes only when there was nothing to recover from.
fn rto_target(rto: &RtoResult, limit: u64) -> TargetResult {
    let (verdict, note) = match (rto.rto_ms, &rto.no_rto_because) {
        (Some(a), _) if a <= limit as f64 => (Verdict::Pass, rto_note(rto)),
        (Some(_), _) => (Verdict::Fail, rto_note(rto)),
        (None, Some(why)) => (Verdict::Pass, why.clone()),
        (None, None) => (Verdict::Fail, "writes never became available again before the workload stopped".into()),
    };
    TargetResult { target: Target::RtoMs, limit: Some(limit as f64), actual: rto.rto_ms, verdict, note }
}

/// What an RTO's note says: no outage seen, or the writes that failed again after recovery.
fn rto_note(r: &RtoResult) -> String {
    if !r.outage_observed {
        "no outage observed: no write failed after the fault".into()
    } else if r.relapses > 0 {
        format!("{} writes failed again after recovery", r.relapses)
    } else {
        String::new()
    }
}

/// RPO within `limit` ms; undecided when the surviving data could not be read back.
fn rpo_target(rpo: Option<&RpoResult>, limit: u64) -> TargetResult {
    let (actual, verdict) = match rpo {
        Some(r) => (Some(r.rpo_ms), if r.rpo_ms <= limit as f64 { Verdict::Pass } else { Verdict::Fail }),
        None => (None, Verdict::Unknown),
    };
    let note = if rpo.is_none() { "surviving data could not be read back".to_string() } else { String::new() };
    TargetResult { target: Target::RpoMs, limit: Some(limit as f64), actual, verdict, note }
}

/// At most `limit` acknowledged writes lost; undecided without a read-back.
fn lost_writes_target(rpo: Option<&RpoResult>, limit: u64) -> TargetResult {
    let (actual, verdict) = match rpo {
        Some(r) => (Some(r.lost_writes as f64), if r.lost_writes <= limit { Verdict::Pass } else { Verdict::Fail }),
        None => (None, Verdict::Unknown),
    };
    let note = rpo.map(|r| format!("{} acknowledged writes missing, {} recovered", r.lost_writes, r.recovered_writes)).unwrap_or_default();
    TargetResult { target: Target::MaxLostWrites, limit: Some(limit as f64), actual, verdict, note }
}

/// At most `limit` % of the acknowledged writes lost; undecided without a read-back or
/// with nothing acknowledged.
fn lost_share_target(rpo: Option<&RpoResult>, acked: u64, limit: f64) -> TargetResult {
    let share = rpo.filter(|_| acked > 0).map(|r| r.lost_writes as f64 * 100.0 / acked as f64);
    let verdict = match share {
        Some(pct) if pct <= limit => Verdict::Pass,
        Some(_) => Verdict::Fail,
        None => Verdict::Unknown,
    };
    let note = match rpo {
        Some(r) => format!("{} of {acked} acknowledged writes lost", r.lost_writes),
        None => "surviving data could not be read back".into(),
    };
    TargetResult { target: Target::MaxLostPct, limit: Some(limit), actual: share, verdict, note }
}

/// Every surviving replica holds exactly the primary's records; undecided when nothing
/// could be compared.
fn convergence_target(convergence: Option<&Convergence>) -> TargetResult {
    let conv = convergence.and_then(|c| c.converged);
    let verdict = match conv {
        Some(true) => Verdict::Pass,
        Some(false) => Verdict::Fail,
        None => Verdict::Unknown,
    };
    let note = convergence
        .map(|c| c.nodes.iter().map(|n| format!("{}: {} missing, {} extra", n.node, n.missing, n.extra)).collect::<Vec<_>>().join("; "))
        .unwrap_or_else(|| "not checked".into());
    TargetResult { target: Target::Converged, limit: None, actual: conv.map(|c| c as u8 as f64), verdict, note }
}
