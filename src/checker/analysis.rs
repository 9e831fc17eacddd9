//! Collects ops from the history, then judges them against the scenario's targets.
use super::spill::Spill;
use super::targets::{self, TargetResult};
use super::{Convergence, PhaseLatency, RpoResult, RtoResult, Verdict, latency, rpo, rto};
use crate::history::{Event, EventKind, HistoryFile, Op, Outcome, read_history};
use crate::scenario::{CheckSpec, Targets};
use crate::stack::ReadBack;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

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

/// Ops the checker keeps in memory before it spills a sorted run to disk (32 bytes each).
const OPS_IN_MEMORY: usize = 256 * 1024;
/// Acknowledgement times kept in memory before a run is spilled (8 bytes each).
const ACKS_IN_MEMORY: usize = 512 * 1024;

/// One op as the checker keeps it, ordered by invoke time (ties: completion, writer, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OpRecord {
    invoke_ns: u64,
    complete_ns: u64,
    writer: u32,
    seq: u64,
    outcome: u8,
    /// The node that answered: an index into `Checker::nodes` (0: none recorded).
    node: u16,
}

const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::Fail, Outcome::Unknown];

impl super::spill::Record for OpRecord {
    const SIZE: usize = 31;
    fn put(&self, out: &mut Vec<u8>) {
        for x in [self.invoke_ns, self.complete_ns, self.seq] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&self.writer.to_le_bytes());
        out.push(self.outcome);
        out.extend_from_slice(&self.node.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let writer = u32::from_le_bytes(b[24..28].try_into().expect("4 bytes"));
        let node = u16::from_le_bytes(b[29..31].try_into().expect("2 bytes"));
        OpRecord { invoke_ns: u(0), complete_ns: u(8), seq: u(16), writer, outcome: b[28], node }
    }
}

impl OpRecord {
    fn outcome(&self) -> Outcome {
        OUTCOMES[usize::from(self.outcome)]
    }
}

/// Streams the ops in; memory stays flat however many there are: beyond a fixed buffer,
/// ops and acknowledgement times wait in sorted runs in unnamed temporary files (`$TMPDIR`,
/// 39 bytes per op; see `spill.rs`), and every judgement is a pass over them.
pub struct Checker {
    ops: Spill<OpRecord>,
    acks: Spill<u64>,
    /// Ops by outcome (ok, fail, unknown).
    counts: [u64; 3],
    /// One past the latest invoke time: the workload's stop when none was recorded.
    end_ns: u64,
    /// The latest completion: the workload ends with its stop or this, whichever is later.
    last_complete_ns: u64,
    /// Where acknowledgements came from, for the orchestrator's phases.
    pub runs: super::AckRuns,
    /// A point-in-time recovery's target (drill ns): writes acknowledged after it and
    /// missing are counted apart from the lost ones.
    pub recovery_target_ns: Option<u64>,
    /// After an operator error, writes never stopped but went to damaged data: the RTO
    /// runs from the fault to this point instead (the recovered node's first acknowledged
    /// write, by invoke time).
    pub data_recovered_ns: Option<u64>,
    /// A service with one primary per shard has recovered once every shard a fault hit has:
    /// `Some(Some(t))` the last of them recovered at `t` (drill ns), `Some(None)` one never
    /// did. Writes to the other shards succeeding meanwhile do not end its RTO.
    pub shards_recovered_ns: Option<Option<u64>>,
    /// The writers' rewrites and deletes of their own records (`workload.changes`).
    changes: super::changes::Changes,
    /// The nodes that answered ops, by `OpRecord::node` (index 0: none recorded).
    nodes: Vec<std::sync::Arc<str>>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::with_memory(OPS_IN_MEMORY, ACKS_IN_MEMORY)
    }
}

impl Checker {
    /// A checker that keeps at most `ops` ops and `acks` acknowledgement times in memory.
    pub(super) fn with_memory(ops: usize, acks: usize) -> Self {
        Checker {
            ops: Spill::new(ops),
            acks: Spill::new(acks),
            counts: [0; 3],
            end_ns: 0,
            last_complete_ns: 0,
            runs: Default::default(),
            recovery_target_ns: None,
            data_recovered_ns: None,
            shards_recovered_ns: None,
            changes: Default::default(),
            nodes: vec!["".into()],
        }
    }

    /// `node`'s index in `nodes`, added when new (0: none; past u16's range, none too).
    fn node_index(&mut self, node: Option<&str>) -> u16 {
        let Some(n) = node else { return 0 };
        if let Some(i) = self.nodes.iter().position(|x| &**x == n) {
            return i as u16;
        }
        let Ok(i) = u16::try_from(self.nodes.len()) else { return 0 };
        self.nodes.push(n.into());
        i
    }

    /// The node an op's record names (None: none recorded).
    fn node_name(&self, i: u16) -> Option<&str> {
        self.nodes.get(usize::from(i)).map(|n| &**n).filter(|n| !n.is_empty())
    }

    pub fn add(&mut self, op: &Op) {
        let i = OUTCOMES.iter().position(|&o| o == op.outcome).unwrap_or(2);
        self.counts[i] += 1;
        self.end_ns = self.end_ns.max(op.invoke_ns.saturating_add(1));
        self.last_complete_ns = self.last_complete_ns.max(op.complete_ns);
        // an update of a shared key is no record to read back: the updates are judged
        // against the keys' final values (`judge_updates`); nor is a change to a record
        // (judged on the records it changed, `changes.rs`); both count for availability
        if op.key.is_none() && !self.changes.add(op) {
            let node = self.node_index(op.node.as_deref());
            self.ops.push(OpRecord {
                invoke_ns: op.invoke_ns,
                complete_ns: op.complete_ns,
                writer: op.writer,
                seq: op.seq,
                outcome: i as u8,
                node,
            });
        }
        self.runs.add(op);
        if op.outcome == Outcome::Ok {
            self.acks.push(op.complete_ns);
        }
    }

    /// Streams a history file into a checker.
    pub fn from_history(path: &Path) -> std::io::Result<(Checker, HistoryFile)> {
        Checker::from_history_of(path, None)
    }

    /// Streams one service's ops into a checker; the history's events are that service's
    /// and the drill's own (None: a drill of one service, everything).
    pub fn from_history_of(path: &Path, service: Option<&str>) -> std::io::Result<(Checker, HistoryFile)> {
        let (c, mut h) = Checker::from_history_where(path, |op| crate::history::belongs(op.service.as_ref(), service))?;
        h.events.retain(|e| crate::history::belongs(e.service.as_ref(), service));
        h.reads.retain(|r| crate::history::belongs(r.service.as_ref(), service));
        Ok((c, h))
    }

    /// Streams the ops `keep` keeps into a checker (every event stays in the history).
    pub fn from_history_where(path: &Path, keep: impl Fn(&Op) -> bool) -> std::io::Result<(Checker, HistoryFile)> {
        let mut c = Checker::default();
        let h = read_history(path, |op| {
            if keep(&op) {
                c.add(&op)
            }
        })?;
        Ok((c, h))
    }

    /// Judges the ops against the targets; an error only when the checker's own temporary
    /// files failed.
    pub fn finish(
        mut self,
        events: &[Event],
        answered_fault: Option<usize>,
        read_back: Option<&ReadBack>,
        convergence: Option<&Convergence>,
        checks: &CheckSpec,
        targets: &Targets,
    ) -> std::io::Result<Analysis> {
        self.ops.seal()?;
        self.acks.seal()?;
        let [acked, failed, unknown] = self.counts;
        let (injects, fault) = the_fault(events, answered_fault);
        let fault_ns = fault.map(|e| e.t_ns).unwrap_or(0);
        let stop_ns = events.iter().find(|e| e.kind == EventKind::WorkloadStop).map(|e| e.t_ns).unwrap_or(self.end_ns);
        let acked_before_fault = self.acks.sorted().take_while(|&t| t < fault_ns).count() as u64;
        let rpo = read_back.map(|rb| self.rpo(rb, fault_ns)).transpose()?;
        let lost: HashSet<(u32, u64)> = rpo.iter().flat_map(|r| &r.lost).map(|l| (l.writer, l.seq)).collect();
        let rto = self.measure_rto(events, &injects, fault, stop_ns, checks, &lost);
        let recovered_ns = rto.recovered_at_ms.map(|ms| (ms * 1e6).round() as u64);
        let latency = self.latency(events, recovered_ns, stop_ns)?;
        let measured = targets::Measured {
            events,
            injected: injects.len(),
            baseline_writes: if fault.is_some() { acked_before_fault } else { acked },
            acked,
            rto: &rto,
            rpo: rpo.as_ref(),
            convergence,
        };
        let t = targets::judge(&measured, targets);
        let verdict = t.iter().fold(Verdict::Pass, |v, r| v.merge(r.verdict));
        Ok(Analysis {
            verdict,
            total_writes: self.counts.iter().sum(),
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
        })
    }

    /// RTO from `fault` (None: from the outage's start) to the recovery point; none when
    /// there was nothing to recover from, and up to correct data after an operator error.
    /// A write invoked after the fault whose acknowledgement the read-back proves lost
    /// (`lost`: a split brain's isolated primary acknowledging writes its successor never
    /// got) is no availability: it counts as a failed write, so RTO runs to the clients'
    /// recovery on data that survived. Writes lost from before the fault (what an async
    /// replica had not received) are the RPO's alone.
    fn measure_rto(
        &self,
        events: &[Event],
        injects: &[&Event],
        fault: Option<&Event>,
        stop_ns: u64,
        checks: &CheckSpec,
        lost: &HashSet<(u32, u64)>,
    ) -> RtoResult {
        let inject_times: Vec<rto::FaultTime> = injects.iter().map(|e| fault_time(e)).collect();
        let window = crate::clock::ms_to_ns(checks.stable_window_ms);
        let fault_ns = fault.map_or(0, |e| e.t_ns);
        let outcome = |o: &OpRecord| match o.outcome() {
            Outcome::Ok if o.invoke_ns >= fault_ns && lost.contains(&(o.writer, o.seq)) => Outcome::Fail,
            other => other,
        };
        let sorted = || self.ops.sorted().map(|o| (o.invoke_ns, outcome(&o), o.complete_ns));
        let end_ns = stop_ns.max(self.last_complete_ns);
        let (ok_ratio, answered) = (checks.stable_ok_ratio, fault.map(fault_time));
        let mut rto = rto::rto(&sorted, || self.acks.sorted(), &inject_times, answered, (stop_ns, end_ns), window, ok_ratio);
        let no_fault = events.iter().all(|e| !matches!(e.kind, EventKind::FaultInject | EventKind::FaultFailed));
        if no_fault && !rto.outage_observed && self.counts[0] > 0 {
            nothing_to_recover_from(&mut rto);
        }
        if let Some(t) = self.data_recovered_ns {
            rto_until_data_recovered(&mut rto, t, fault.map(|e| e.t_ns).unwrap_or(0));
        }
        if let Some(t) = self.shards_recovered_ns {
            rto_until_every_shard(&mut rto, t);
        }
        rto
    }

    /// The RPO against the read-back, in one pass over the ops in any order; an error when
    /// the temporary files gave back fewer or more ops than added.
    fn rpo(&self, read_back: &ReadBack, fault_ns: u64) -> std::io::Result<RpoResult> {
        let mut rpo =
            rpo::Rpo::new(read_back, self.recovery_target_ns).with_gone(self.changes.gone()).with_lost_anyway(self.changes.recreated());
        self.each_op(|o| rpo.add(o.writer, o.seq, o.outcome(), o.invoke_ns, o.complete_ns, self.node_name(o.node)))?;
        if !self.changes.is_empty() {
            let judged = self.changes.judge(read_back, &mut rpo);
            rpo.set_changes(judged);
        }
        Ok(rpo.finish(fault_ns))
    }

    /// Latency per phase (before the fault, during it, after `recovered_ns`), in one pass.
    fn latency(&self, events: &[Event], recovered_ns: Option<u64>, stop_ns: u64) -> std::io::Result<Vec<PhaseLatency>> {
        let mut latency = latency::PhaseLatencies::new(events, recovered_ns, stop_ns);
        self.each_op(|o| latency.add(o.invoke_ns, o.outcome(), o.complete_ns))?;
        Ok(latency.finish())
    }

    /// Every op once, in any order; an error when the temporary files gave back fewer or
    /// more ops than added.
    fn each_op(&self, mut f: impl FnMut(&OpRecord)) -> std::io::Result<()> {
        let total = self.ops.len();
        let mut read = 0u64;
        for o in self.ops.unordered() {
            read += 1;
            f(&o);
        }
        if read != total {
            return Err(std::io::Error::other(format!("the checker's temporary files gave back {read} of {total} ops")));
        }
        Ok(())
    }
}

/// The injected faults, and the fault the drill is measured from: the one the failover
/// answered, else the first injected (None: no fault was injected).
fn the_fault(events: &[Event], answered_fault: Option<usize>) -> (Vec<&Event>, Option<&Event>) {
    let injects: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::FaultInject).collect();
    let fault = answered_fault.and_then(|i| injects.iter().find(|e| e.fault == Some(i))).or(injects.first()).copied();
    (injects, fault)
}

/// Every fault injected and the one RTO counts from (`answered_fault`, else the first), as
/// RTO counts from them: the readers' RTO counts from the writes' fault.
pub fn fault_times(events: &[Event], answered_fault: Option<usize>) -> (Vec<rto::FaultTime>, Option<rto::FaultTime>) {
    let (injects, fault) = the_fault(events, answered_fault);
    (injects.into_iter().map(fault_time).collect(), fault.map(fault_time))
}

/// A fault as RTO counts from it: when it was asked for and when it was reported applied.
fn fault_time(e: &Event) -> rto::FaultTime {
    rto::FaultTime { at_ns: e.t_ns, applied_ns: e.applied_ns }
}

/// No fault hit this service and its clients saw no outage: no RTO, and why.
fn nothing_to_recover_from(rto: &mut RtoResult) {
    rto.rto_ms = None;
    rto.no_rto_because = Some("no fault hit this service and its clients saw no outage: nothing to recover from".into());
}

/// A sharded service recovers when its last hit shard does (`at_ns`; None: one never did),
/// not when the first write to any shard succeeds again.
fn rto_until_every_shard(rto: &mut RtoResult, at_ns: Option<u64>) {
    let Some(recovered) = rto.recovered_at_ms else { return };
    // in whole ns, as the shards' and the service's own figures are: a shard that recovered
    // at the service's own point must give the same RTO, not one a float's rounding shorter
    let ns = |ms: f64| (ms * 1e6).round() as u64;
    match at_ns {
        None => {
            (rto.rto_ms, rto.recovered_at_ms, rto.outage_ms) = (None, None, None);
        }
        Some(t) if t > ns(recovered) => {
            let since = |from_ms: f64| t.saturating_sub(ns(from_ms)) as f64 / 1e6;
            rto.recovered_at_ms = Some(t as f64 / 1e6);
            rto.rto_ms = rto.rto_ms.map(|_| since(rto.from_ms));
            rto.outage_ms = rto.outage_ms.zip(rto.last_ack_before_outage_ms).map(|(_, last)| since(last)).or(rto.outage_ms);
        }
        Some(_) => {}
    }
}

/// After an operator error the clients' outage does not end the RTO: correct data does, at
/// `data_recovered_ns`, counted from the fault.
fn rto_until_data_recovered(rto: &mut RtoResult, data_recovered_ns: u64, fault_ns: u64) {
    rto.rto_ms = Some(data_recovered_ns.saturating_sub(fault_ns) as f64 / 1e6);
    rto.recovered_at_ms = Some(data_recovered_ns as f64 / 1e6);
    rto.from_ms = fault_ns as f64 / 1e6;
    rto.no_rto_because = None;
}
