//! The read RTO: the outage the fault caused the readers, never an earlier one.
//!
//! - Reads that failed as the fault took effect (no read invoked after it succeeded before
//!   the first that failed) count exactly as the writes do (`rto.rs`, `basis: fault`).
//! - Reads that went on succeeding after the fault (replicas serving while the primary is
//!   down) did not stop at it: their outage is the one that began at their first failed
//!   read at or after the fault's effect (the promoted replica leaving the pool, a dead
//!   member of a static pool), and the read RTO counts from that read (`basis:
//!   reads_outage`). A blip of the reads before the fault (a replica paused earlier) is no
//!   part of it: the longest gap between successful reads says it.
//! - Reads recover as writes do: at the first ok read whose `stable_window_ms` holds no
//!   failed read and at least `stable_ok_ratio` ok ones. A static pool that keeps sending
//!   reads to a dead node never has such a window: the reads did not recover, and
//!   `Unrecovered` says how many failed from the outage's start to the end, and on which
//!   nodes their failures ran to the end.
//! - Per node: its first and last read that did not succeed at or after the fault, and the
//!   first ok read after that last failure (None: it never answered again).
use super::rto::{FaultTime, RtoBasis, RtoResult, rto};
use crate::clock::ms;
use crate::history::{Outcome, Read};
use crate::scenario::CheckSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One node's reads; `failed_from_ms`..`failed_to_ms`: its first and last read that did
/// not succeed at or after the fault (invoke times); `back_at_ms`: its first ok read after
/// that last failure (None: its reads never came back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeReads {
    pub node: String,
    pub ok: u64,
    pub fail: u64,
    pub unknown: u64,
    pub failed_from_ms: Option<f64>,
    pub failed_to_ms: Option<f64>,
    pub back_at_ms: Option<f64>,
}

impl NodeReads {
    /// Its reads failed at or after the fault and never succeeded again.
    pub fn never_back(&self) -> bool {
        self.failed_from_ms.is_some() && self.back_at_ms.is_none()
    }
}

/// Reads that never recovered: from the outage's start (`from_ms`, the read RTO's own
/// start) to the workload's stop (`to_ms`), the reads invoked and those that did not
/// succeed; `nodes`: the nodes whose reads failed from the fault to the end. The outage
/// lasted at least `to_ms - from_ms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Unrecovered {
    pub from_ms: f64,
    pub to_ms: f64,
    pub reads: u64,
    pub not_ok: u64,
    pub nodes: Vec<String>,
}

impl Unrecovered {
    /// The outage's lower bound: it lasted at least this long.
    pub fn at_least_ms(&self) -> f64 {
        (self.to_ms - self.from_ms).max(0.0)
    }

    /// "reads never recovered: 396 of 1190 reads from t=6012.3 ms to the end (t=12600.0 ms)
    /// did not succeed (33 %), on pg-1 to the end; the outage lasted at least 6587.7 ms".
    pub fn text(&self) -> String {
        let share = if self.reads == 0 { 0.0 } else { 100.0 * self.not_ok as f64 / self.reads as f64 };
        let on = if self.nodes.is_empty() { String::new() } else { format!(", on {} to the end", self.nodes.join(", ")) };
        format!(
            "reads never recovered: {} of {} reads from t={:.1} ms to the end (t={:.1} ms) did not succeed ({share:.0} %){on}; \
             the outage lasted at least {:.1} ms",
            self.not_ok,
            self.reads,
            self.from_ms,
            self.to_ms,
            self.at_least_ms()
        )
    }
}

/// The reads' RTO, sorted by invoke time: `fault` the one the writes' RTO counts from,
/// `injects` every fault, `(stop_ns, end_ns)` the workload's stop and end.
pub fn read_rto(
    sorted: &[&Read],
    fault: Option<FaultTime>,
    injects: &[FaultTime],
    (stop_ns, end_ns): (u64, u64),
    c: &CheckSpec,
) -> RtoResult {
    let ops = || sorted.iter().map(|r| (r.invoke_ns, r.outcome, r.complete_ns));
    let acks = || {
        let mut a: Vec<u64> = sorted.iter().filter(|r| r.outcome == Outcome::Ok).map(|r| r.complete_ns).collect();
        a.sort_unstable();
        a.into_iter()
    };
    let judge = |injects: &[FaultTime], fault| {
        rto(&ops, acks, injects, fault, (stop_ns, end_ns), c.stable_window_ms * 1_000_000, c.stable_ok_ratio)
    };
    let Some(f) = fault else { return judge(&[], None) };
    // when the fault took effect for the readers: their first failed read (the earliest
    // invoked that ended at or after the request), clamped to the fault's [requested,
    // applied], as for the writes; that read also ended at or after the effect
    let first_bad = sorted.iter().find(|r| r.outcome != Outcome::Ok && r.complete_ns >= f.at_ns).map(|r| r.invoke_ns);
    let effect = first_bad.map_or(f.applied_ns.unwrap_or(f.at_ns).max(f.at_ns), |b| f.effect(b));
    let served = sorted.iter().any(|r| r.outcome == Outcome::Ok && r.invoke_ns > effect && first_bad.is_none_or(|b| r.invoke_ns < b));
    match first_bad.filter(|_| served) {
        // their own outage, from the first read that failed after the fault
        Some(b) => RtoResult {
            basis: RtoBasis::ReadsOutage,
            fault_requested_ms: Some(ms(f.at_ns)),
            ..judge(&[], Some(FaultTime { at_ns: b, applied_ns: Some(b) }))
        },
        None => judge(injects, Some(f)),
    }
}

/// What the reads that never recovered did from the outage's start: None when they
/// recovered (or never stopped).
pub fn unrecovered(sorted: &[&Read], rto: &RtoResult, stop_ns: u64, nodes: &[NodeReads]) -> Option<Unrecovered> {
    if !rto.outage_observed || rto.rto_ms.is_some() {
        return None;
    }
    let from_ns = (rto.from_ms * 1e6) as u64;
    let after: Vec<&&Read> = sorted.iter().filter(|r| r.invoke_ns >= from_ns && r.invoke_ns < stop_ns).collect();
    Some(Unrecovered {
        from_ms: rto.from_ms,
        to_ms: ms(stop_ns),
        reads: after.len() as u64,
        not_ok: after.iter().filter(|r| r.outcome != Outcome::Ok).count() as u64,
        nodes: nodes.iter().filter(|n| n.never_back()).map(|n| n.node.clone()).collect(),
    })
}

/// Each node's reads, with its failures at or after the fault (`fault_ns`) and when its
/// reads came back.
pub fn nodes(sorted: &[&Read], fault_ns: Option<u64>) -> Vec<NodeReads> {
    let mut by: BTreeMap<&str, NodeReads> = BTreeMap::new();
    for r in sorted {
        let name = r.node.as_deref().unwrap_or("?");
        let n = by.entry(name).or_insert_with(|| NodeReads { node: name.to_string(), ..Default::default() });
        let at = ms(r.invoke_ns);
        match r.outcome {
            Outcome::Ok => n.ok += 1,
            Outcome::Fail => n.fail += 1,
            Outcome::Unknown => n.unknown += 1,
        }
        if r.outcome != Outcome::Ok && fault_ns.is_some_and(|f| r.complete_ns >= f) {
            n.failed_from_ms.get_or_insert(at);
            (n.failed_to_ms, n.back_at_ms) = (Some(at), None);
        } else if r.outcome == Outcome::Ok && n.failed_from_ms.is_some() && n.back_at_ms.is_none() {
            n.back_at_ms = Some(at);
        }
    }
    by.into_values().collect()
}
