//! The read path (`workload.readers`), judged from the reads in the history, the writes'
//! acknowledgements and the final read-back:
//!
//! - **availability**: reads ok / fail / unknown, the longest gap between successful
//!   reads, the read RTO of the outage the fault caused the readers (`read_rto.rs`), and
//!   per node when its reads stopped and whether they came back;
//! - **staleness** of each successful read of writer W invoked at t that saw W's record s:
//!   the acknowledged writes of W (complete ≤ t) with a sequence above s are the ones it did
//!   not show; its staleness is t minus the acknowledgement of the earliest of them (0 when
//!   it showed every acknowledged write), in ms and in writes;
//! - **reads of lost writes**: successful reads that saw a record the final read-back does
//!   not hold: a user saw data the failover then lost;
//! - **reads back in time**: a reader that saw W's record n, then (a later read of its own)
//!   a record of W below n.
use super::latency::{self, LatencyPhase, PhaseLatencies, PhaseLatency};
use super::read_rto::{self, NodeReads, Unrecovered};
use super::rto::{FaultTime, RtoResult};
use crate::history::{Event, EventKind, HistoryFile, Outcome, Read};
use crate::scenario::CheckSpec;
use crate::stack::ReadBack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How many reads of lost writes and steps back in time are listed one by one.
const LISTED: usize = 10;

/// What the readers got, as results.json `reads` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadsReport {
    pub readers: u16,
    pub from: String,
    pub total: u64,
    /// Of them, reads of one key of the shared key space (`workload.keys`): their
    /// staleness counts beside the records' (the updates of the key acknowledged after the
    /// one shown); lost and back in time judge the records' reads only.
    pub key_reads: u64,
    pub ok: u64,
    pub fail: u64,
    pub unknown: u64,
    /// The read RTO (`rto.rto_ms`), its outage and longest gap between successful reads.
    pub rto: Option<RtoResult>,
    /// Reads that never recovered after the fault: how many failed to the end, on which nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrecovered: Option<Unrecovered>,
    /// Each node the reads went to, with what it answered.
    pub nodes: Vec<NodeReads>,
    /// Staleness of the successful reads over the drill, and per phase (the writes' phases).
    pub staleness: StaleStats,
    pub staleness_by_phase: Vec<PhaseStaleness>,
    pub latency: Vec<PhaseLatency>,
    /// None: the surviving data could not be read back.
    pub of_lost_writes: Option<LostReads>,
    pub back_in_time: BackInTime,
}

/// Staleness of successful reads: ms, and writes not shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StaleStats {
    pub reads: u64,
    /// Reads that showed every write acknowledged when they were invoked.
    pub fresh: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// The most acknowledged writes one read did not show, and when that read was invoked.
    pub max_writes: u64,
    pub max_at_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStaleness {
    pub phase: LatencyPhase,
    pub from_ms: f64,
    pub to_ms: f64,
    #[serde(flatten)]
    pub stats: StaleStats,
}

/// Successful reads of records the final read-back does not hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LostReads {
    pub reads: u64,
    pub distinct_writes: u64,
    pub first: Vec<LostRead>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LostRead {
    /// When the read was invoked.
    pub at_ms: f64,
    pub reader: u32,
    pub node: String,
    pub writer: u32,
    pub seq: u64,
}

/// Reads that showed a writer's data older than the same reader saw before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackInTime {
    pub reads: u64,
    /// The largest step back, in the writer's records.
    pub largest_step: u64,
    pub first: Vec<StepBack>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepBack {
    /// When the read that went back was invoked.
    pub at_ms: f64,
    pub reader: u32,
    pub writer: u32,
    pub before_seq: u64,
    pub before_node: String,
    pub after_seq: u64,
    pub after_node: String,
}

/// Each writer's acknowledged inserts as (complete_ns, seq), sorted by completion, with
/// the running maximum of seq; on a stack whose nodes each hold a part of the records (a
/// cluster's shards: `by_parts`), each part's apart, and a read weighed against the part of
/// the node it read.
#[derive(Default)]
pub struct Acks {
    by_writer: BTreeMap<(u32, usize), WriterAcks>,
    /// node -> its part; empty: every node holds every record.
    parts: BTreeMap<String, usize>,
    /// Each shared key's acknowledged updates (`workload.keys`) as (ack, invoke), by
    /// acknowledgement.
    key_acks: BTreeMap<u32, Vec<(u64, u64)>>,
    /// Every update (key, writer, seq) -> when it took effect at the latest as far as a
    /// read can tell: its acknowledgement, or for one never acknowledged its invoke (the
    /// earliest it can have been applied: a read showing it is not judged fresher than
    /// that).
    updates: HashMap<(u32, u32, u64), u64>,
}

/// One writer's (complete_ns, seq) by completion, and the running maximum of seq.
type WriterAcks = (Vec<(u64, u64)>, Vec<u64>);

impl Acks {
    /// For a stack whose nodes each hold one part of the records: each node's part (a
    /// shard's primary and replicas share one). An acknowledgement counts in the part of
    /// the node that gave it; a read, in the part of the node it read.
    pub fn by_parts(parts: BTreeMap<String, usize>) -> Acks {
        Acks { parts, ..Acks::default() }
    }

    /// `node`'s part: 0 when every node holds every record; none (usize::MAX) for a node
    /// in no part.
    pub fn part(&self, node: Option<&str>) -> usize {
        if self.parts.is_empty() {
            return 0;
        }
        node.and_then(|n| self.parts.get(n)).copied().unwrap_or(usize::MAX)
    }

    /// Adds an acknowledged insert (any order), given by `node`.
    pub fn add(&mut self, writer: u32, node: Option<&str>, seq: u64, complete_ns: u64) {
        let part = self.part(node);
        self.by_writer.entry((writer, part)).or_default().0.push((complete_ns, seq));
    }

    /// Adds an update of shared key `key` (any order, any outcome).
    pub fn add_update(&mut self, key: u32, (writer, seq): (u32, u64), ok: bool, (invoke_ns, complete_ns): (u64, u64)) {
        if ok {
            self.key_acks.entry(key).or_default().push((complete_ns, invoke_ns));
        }
        self.updates.insert((key, writer, seq), if ok { complete_ns } else { invoke_ns });
    }

    /// What read `r` of key `key` did not show: the updates of the key acknowledged before
    /// it was invoked and invoked after the one it showed had taken effect (newer than it
    /// by any conflict rule; two updates in flight together are not ordered by their
    /// acknowledgements, and last-write-wins may keep either): the ns since the earliest
    /// such acknowledgement, and how many.
    fn key_staleness(&self, key: u32, r: &Read) -> (u64, u64) {
        let Some(acks) = self.key_acks.get(&key) else { return (0, 0) };
        let shown = r.seen.and_then(|s| self.updates.get(&(key, r.writer, s))).copied();
        let to = acks.partition_point(|a| a.0 <= r.invoke_ns);
        let newer = acks[..to].iter().filter(|a| shown.is_none_or(|t| a.1 > t));
        let (n, first) = newer.fold((0u64, None::<u64>), |(n, f), a| (n + 1, Some(f.map_or(a.0, |f| f.min(a.0)))));
        first.map_or((0, 0), |f| (r.invoke_ns.saturating_sub(f), n))
    }

    /// Sorts each writer's acknowledgements; call once, after the last `add`.
    pub fn seal(&mut self) {
        for acks in self.key_acks.values_mut() {
            acks.sort_unstable();
        }
        for (acks, max) in self.by_writer.values_mut() {
            acks.sort_unstable();
            let mut m = 0;
            *max = acks
                .iter()
                .map(|a| {
                    m = m.max(a.1);
                    m
                })
                .collect();
        }
    }

    /// What read `r` (of `r.writer`, on `r.node`, invoked at `r.invoke_ns`) did not show:
    /// the ns since the earliest acknowledgement it missed, and how many acknowledged
    /// writes it missed.
    pub fn staleness(&self, r: &Read) -> (u64, u64) {
        if let Some(k) = r.key {
            return self.key_staleness(k, r);
        }
        let (t_ns, seen) = (r.invoke_ns, r.seen.unwrap_or(0));
        let Some((acks, max)) = self.by_writer.get(&(r.writer, self.part(r.node.as_deref()))) else { return (0, 0) };
        let k = acks.partition_point(|a| a.0 <= t_ns);
        if k == 0 || max[k - 1] <= seen {
            return (0, 0);
        }
        let i = max.partition_point(|&m| m <= seen);
        let missed = acks[i..k].iter().filter(|a| a.1 > seen).count() as u64;
        (t_ns.saturating_sub(acks[i].0), missed)
    }
}

/// The acknowledged inserts of `service` (None: every service's) in `history`, by the
/// parts `parts` names (empty: one part), and the history as read.
pub fn read_acks(history: &std::path::Path, service: Option<&str>, parts: BTreeMap<String, usize>) -> std::io::Result<(Acks, HistoryFile)> {
    let mut acks = Acks::by_parts(parts);
    let h = crate::history::read_history(history, |op| {
        if !crate::history::belongs(op.service.as_ref(), service) {
            return;
        }
        match op.key {
            Some(k) => acks.add_update(k, (op.writer, op.seq), op.outcome == Outcome::Ok, (op.invoke_ns, op.complete_ns)),
            None if op.outcome == Outcome::Ok => acks.add(op.writer, op.node.as_deref(), op.seq, op.complete_ns),
            None => {}
        }
    })?;
    acks.seal();
    Ok((acks, h))
}

/// What judging the reads needs besides them.
pub struct ReadContext<'a> {
    pub events: &'a [Event],
    pub acks: &'a Acks,
    /// None: the surviving data could not be read back.
    pub read_back: Option<&'a ReadBack>,
    /// The fault the writes' RTO counts from, and every fault injected.
    pub fault: Option<FaultTime>,
    pub injects: Vec<FaultTime>,
    /// The writes' recovery point (the phases are the writes').
    pub recovered_ns: Option<u64>,
    pub checks: &'a CheckSpec,
}

/// The readers' reads judged.
pub fn judge_reads(reads: &[Read], spec: &crate::scenario::ReadersSpec, cx: &ReadContext) -> ReadsReport {
    let mut sorted: Vec<&Read> = reads.iter().collect();
    sorted.sort_by_key(|r| (r.invoke_ns, r.complete_ns, r.reader));
    let stop_ns = cx.events.iter().find(|e| e.kind == EventKind::WorkloadStop).map(|e| e.t_ns);
    let last = sorted.iter().map(|r| r.complete_ns).max().unwrap_or(0);
    let stop_ns = stop_ns.unwrap_or(last + 1);
    let count = |o: Outcome| sorted.iter().filter(|r| r.outcome == o).count() as u64;
    // each successful read's staleness, once, in invoke order
    let stale: Vec<(u64, u64, u64)> = sorted.iter().filter_map(|r| stale(r, cx.acks)).collect();
    let rto = (!sorted.is_empty()).then(|| read_rto::read_rto(&sorted, cx.fault, &cx.injects, (stop_ns, stop_ns.max(last)), cx.checks));
    let nodes = read_rto::nodes(&sorted, cx.fault.map(|f| f.at_ns));
    ReadsReport {
        readers: spec.count,
        from: spec.from.clone(),
        total: sorted.len() as u64,
        key_reads: sorted.iter().filter(|r| r.key.is_some()).count() as u64,
        ok: count(Outcome::Ok),
        fail: count(Outcome::Fail),
        unknown: count(Outcome::Unknown),
        unrecovered: rto.as_ref().and_then(|r| read_rto::unrecovered(&sorted, r, stop_ns, &nodes)),
        rto,
        nodes,
        staleness: stale_stats(stale.iter().copied()),
        staleness_by_phase: staleness_by_phase(&stale, cx, stop_ns),
        latency: read_latency(&sorted, cx, stop_ns),
        of_lost_writes: cx.read_back.map(|rb| lost_reads(&sorted, rb)),
        back_in_time: back_in_time(&sorted, cx.acks),
    }
}

/// A successful read's staleness as (invoke_ns, stale ns, writes missed).
fn stale(r: &Read, acks: &Acks) -> Option<(u64, u64, u64)> {
    (r.outcome == Outcome::Ok).then(|| {
        let (ns, n) = acks.staleness(r);
        (r.invoke_ns, ns, n)
    })
}

fn stale_stats(each: impl Iterator<Item = (u64, u64, u64)>) -> StaleStats {
    let (mut ns, mut s) = (Vec::new(), StaleStats::default());
    for (at, stale_ns, writes) in each {
        ns.push(stale_ns);
        s.fresh += u64::from(stale_ns == 0);
        if writes > s.max_writes {
            (s.max_writes, s.max_at_ms) = (writes, Some(at as f64 / 1e6));
        }
    }
    ns.sort_unstable();
    let ms = |p: f64| super::pct(&ns, p).map(|v| (v as f64 / 1e3).round() / 1e3);
    s.reads = ns.len() as u64;
    (s.p50_ms, s.p95_ms, s.p99_ms) = (ms(50.0), ms(95.0), ms(99.0));
    s.max_ms = ns.last().map(|v| (*v as f64 / 1e3).round() / 1e3);
    s
}

/// `stale`: each successful read's (invoke_ns, stale ns, writes missed).
fn staleness_by_phase(stale: &[(u64, u64, u64)], cx: &ReadContext, stop_ns: u64) -> Vec<PhaseStaleness> {
    latency::phases(cx.events, cx.recovered_ns, stop_ns)
        .into_iter()
        .map(|(phase, from, to)| {
            let stats = stale_stats(stale.iter().copied().filter(|s| from <= s.0 && s.0 < to));
            PhaseStaleness { phase, from_ms: from as f64 / 1e6, to_ms: to as f64 / 1e6, stats }
        })
        .collect()
}

fn read_latency(sorted: &[&Read], cx: &ReadContext, stop_ns: u64) -> Vec<PhaseLatency> {
    let mut l = PhaseLatencies::new(cx.events, cx.recovered_ns, stop_ns);
    for r in sorted {
        l.add(r.invoke_ns, r.outcome, r.complete_ns);
    }
    l.finish()
}

fn lost_reads(sorted: &[&Read], rb: &ReadBack) -> LostReads {
    let (mut out, mut distinct) = (LostReads::default(), HashSet::new());
    // a key's update is judged lost or kept by the updates' own check, not the read-back
    for r in sorted.iter().filter(|r| r.outcome == Outcome::Ok && r.key.is_none()) {
        let Some(seq) = r.seen.filter(|&s| !rb.contains(r.writer, s)) else { continue };
        out.reads += 1;
        distinct.insert((r.writer, seq));
        if out.first.len() < LISTED {
            let node = r.node.as_deref().unwrap_or("?").to_string();
            out.first.push(LostRead { at_ms: r.invoke_ns as f64 / 1e6, reader: r.reader, node, writer: r.writer, seq });
        }
    }
    out.distinct_writes = distinct.len() as u64;
    out
}

/// Each reader's reads of each writer, in each part (a shard's records only follow its
/// own earlier reads), that showed less than the reader had seen before.
fn back_in_time(sorted: &[&Read], acks: &Acks) -> BackInTime {
    let mut last: BTreeMap<(u32, u32, usize), (u64, &str)> = BTreeMap::new();
    let mut out = BackInTime::default();
    for r in sorted.iter().filter(|r| r.outcome == Outcome::Ok && r.key.is_none()) {
        let (seen, node) = (r.seen.unwrap_or(0), r.node.as_deref().unwrap_or("?"));
        let key = (r.reader, r.writer, acks.part(r.node.as_deref()));
        if let Some(&(before, before_node)) = last.get(&key)
            && seen < before
        {
            out.reads += 1;
            out.largest_step = out.largest_step.max(before - seen);
            if out.first.len() < LISTED {
                out.first.push(StepBack {
                    at_ms: r.invoke_ns as f64 / 1e6,
                    reader: r.reader,
                    writer: r.writer,
                    before_seq: before,
                    before_node: before_node.to_string(),
                    after_seq: seen,
                    after_node: node.to_string(),
                });
            }
        }
        let e = last.entry(key).or_insert((seen, node));
        if seen >= e.0 {
            *e = (seen, node);
        }
    }
    out
}
