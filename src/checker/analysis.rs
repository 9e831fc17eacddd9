//! Collects ops from the history, then judges them against the scenario's targets.
use super::{Convergence, PhaseLatency, RpoResult, RtoResult, Verdict, latency, rpo, rto};
use crate::history::{Event, EventKind, HistoryFile, Op, Outcome, read_history};
use crate::scenario::{CheckSpec, Targets};
use crate::stack::ReadBack;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One target: its limit, what was measured, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TargetResult {
    pub target: String,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
    pub verdict: Verdict,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Analysis {
    pub verdict: Verdict,
    pub total_writes: u64,
    pub acked_writes: u64,
    pub failed_writes: u64,
    pub unknown_writes: u64,
    /// Writes acknowledged before the fault (the baseline the drill stands on).
    pub acked_before_fault: u64,
    pub fault_ms: Option<f64>,
    /// When the engine reported that fault applied.
    pub fault_applied_ms: Option<f64>,
    pub answered_fault: Option<usize>,
    pub rto: RtoResult,
    /// None when the surviving data could not be read back.
    pub rpo: Option<RpoResult>,
    pub targets: Vec<TargetResult>,
    /// Latency of ok writes per phase of the drill (see `latency.rs`).
    pub latency: Vec<PhaseLatency>,
}

/// Compact per-op state; memory is a few dozen bytes per op, never the op itself.
#[derive(Default)]
pub struct Checker {
    ops: Vec<(u64, Outcome, u64)>,
    acks: Vec<u64>,
    writers: BTreeMap<u32, Vec<(Outcome, u64, u64)>>,
    /// Where acknowledgements came from, for the orchestrator's phases.
    pub runs: super::AckRuns,
}

impl Checker {
    pub fn add(&mut self, op: &Op) {
        self.ops.push((op.invoke_ns, op.outcome, op.complete_ns));
        self.runs.add(op);
        if op.outcome == Outcome::Ok {
            self.acks.push(op.complete_ns);
        }
        let w = self.writers.entry(op.writer).or_default();
        let i = op.seq.saturating_sub(1) as usize;
        if w.len() <= i {
            w.resize(i + 1, (Outcome::Fail, 0, 0));
        }
        w[i] = (op.outcome, op.invoke_ns, op.complete_ns);
    }

    /// Streams a history file into a checker.
    pub fn from_history(path: &Path) -> std::io::Result<(Checker, HistoryFile)> {
        let mut c = Checker::default();
        let h = read_history(path, |op| c.add(&op))?;
        Ok((c, h))
    }

    pub fn finish(
        self,
        events: &[Event],
        answered_fault: Option<usize>,
        read_back: Option<&ReadBack>,
        convergence: Option<&Convergence>,
        checks: &CheckSpec,
        targets: &Targets,
    ) -> Analysis {
        let count = |o: Outcome| self.ops.iter().filter(|x| x.1 == o).count() as u64;
        let (acked, failed, unknown) = (count(Outcome::Ok), count(Outcome::Fail), count(Outcome::Unknown));
        let injects: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::FaultInject).collect();
        let fault = answered_fault.and_then(|i| injects.iter().find(|e| e.fault == Some(i))).or(injects.first()).copied();
        let fault_ns = fault.map(|e| e.t_ns).unwrap_or(0);
        let stop_ns = events
            .iter()
            .find(|e| e.kind == EventKind::WorkloadStop)
            .map(|e| e.t_ns)
            .unwrap_or_else(|| self.ops.iter().map(|o| o.0 + 1).max().unwrap_or(0));
        let acked_before_fault = self.acks.iter().filter(|&&t| t < fault_ns).count() as u64;
        let total = self.ops.len() as u64;
        let mut ops = self.ops;
        let inject_times: Vec<u64> = injects.iter().map(|e| e.t_ns).collect();
        let window = crate::clock::ms_to_ns(checks.stable_window_ms);
        let rto = rto::rto(&mut ops, self.acks, &inject_times, fault.map(|e| e.t_ns), stop_ns, window, checks.stable_ok_ratio);
        let rpo = read_back.map(|rb| rpo::rpo(&self.writers, rb, fault_ns));
        let recovered_ns = rto.recovered_at_ms.map(|ms| (ms * 1e6).round() as u64);
        let latency = latency::phase_latency(&ops, events, recovered_ns, stop_ns);

        let mut t = Vec::new();
        let baseline_ok = if fault.is_some() { acked_before_fault > 0 } else { acked > 0 };
        t.push(TargetResult {
            target: "baseline_writes".into(),
            limit: Some(1.0),
            actual: Some(if fault.is_some() { acked_before_fault } else { acked } as f64),
            verdict: if baseline_ok { Verdict::Pass } else { Verdict::Unknown },
            note: if baseline_ok {
                "writes were acknowledged before the fault".into()
            } else {
                "no write was acknowledged before the fault: nothing was measured".into()
            },
        });
        let failed_faults: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::FaultFailed).collect();
        if !failed_faults.is_empty() {
            t.push(TargetResult {
                target: "faults_injected".into(),
                limit: None,
                actual: Some(injects.len() as f64),
                verdict: Verdict::Unknown,
                note: failed_faults.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>().join("; "),
            });
        }
        let failed_actions: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::ActionFailed).collect();
        if !failed_actions.is_empty() {
            t.push(TargetResult {
                target: "actions".into(),
                limit: None,
                actual: Some(failed_actions.len() as f64),
                verdict: Verdict::Unknown,
                note: failed_actions.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>().join("; "),
            });
        }
        if let Some(abort) = events.iter().find(|e| e.kind == EventKind::Aborted) {
            t.push(TargetResult {
                target: "aborted".into(),
                limit: None,
                actual: Some(abort.t_ns as f64 / 1e6),
                verdict: Verdict::Fail,
                note: abort.detail.clone(),
            });
        }
        if let Some(limit) = targets.rto_ms.as_ref().and_then(|l| l.single()) {
            let (verdict, note) = match rto.rto_ms {
                Some(a) if a <= limit as f64 => (Verdict::Pass, rto_note(&rto)),
                Some(_) => (Verdict::Fail, rto_note(&rto)),
                None => (Verdict::Fail, "writes never became available again before the workload stopped".into()),
            };
            t.push(TargetResult { target: "rto_ms".into(), limit: Some(limit as f64), actual: rto.rto_ms, verdict, note });
        }
        if let Some(limit) = targets.rpo_ms.as_ref().and_then(|l| l.single()) {
            let (actual, verdict) = match &rpo {
                Some(r) => (Some(r.rpo_ms), if r.rpo_ms <= limit as f64 { Verdict::Pass } else { Verdict::Fail }),
                None => (None, Verdict::Unknown),
            };
            let note = if rpo.is_none() { "surviving data could not be read back".to_string() } else { String::new() };
            t.push(TargetResult { target: "rpo_ms".into(), limit: Some(limit as f64), actual, verdict, note });
        }
        if let Some(limit) = targets.max_lost_writes.as_ref().and_then(|l| l.single()) {
            let (actual, verdict) = match &rpo {
                Some(r) => (Some(r.lost_writes as f64), if r.lost_writes <= limit { Verdict::Pass } else { Verdict::Fail }),
                None => (None, Verdict::Unknown),
            };
            let note = rpo
                .as_ref()
                .map(|r| format!("{} acknowledged writes missing, {} recovered", r.lost_writes, r.recovered_writes))
                .unwrap_or_default();
            t.push(TargetResult { target: "max_lost_writes".into(), limit: Some(limit as f64), actual, verdict, note });
        }
        if targets.converge {
            let conv = convergence.and_then(|c| c.converged);
            let verdict = match conv {
                Some(true) => Verdict::Pass,
                Some(false) => Verdict::Fail,
                None => Verdict::Unknown,
            };
            let note = convergence
                .map(|c| {
                    c.nodes.iter().map(|n| format!("{}: {} missing, {} extra", n.node, n.missing, n.extra)).collect::<Vec<_>>().join("; ")
                })
                .unwrap_or_else(|| "not checked".into());
            t.push(TargetResult { target: "converged".into(), limit: None, actual: conv.map(|c| c as u8 as f64), verdict, note });
        }
        let verdict = t.iter().fold(Verdict::Pass, |v, r| v.merge(r.verdict));
        Analysis {
            verdict,
            total_writes: total,
            acked_writes: acked,
            failed_writes: failed,
            unknown_writes: unknown,
            acked_before_fault,
            fault_ms: fault.map(|e| e.t_ns as f64 / 1e6),
            fault_applied_ms: fault.and_then(|e| e.applied_ns).map(|t| t as f64 / 1e6),
            answered_fault: fault.and_then(|e| e.fault),
            rto,
            rpo,
            targets: t,
            latency,
        }
    }
}

fn rto_note(r: &RtoResult) -> String {
    if !r.outage_observed {
        "no outage observed: no write failed after the fault".into()
    } else if r.relapses > 0 {
        format!("{} writes failed again after recovery", r.relapses)
    } else {
        String::new()
    }
}
