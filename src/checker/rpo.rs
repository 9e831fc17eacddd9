//! RPO: acknowledged writes missing from the new primary's read-back are lost; writes that
//! failed or timed out but are present anyway are recovered (not an error).
//!
//! `rpo_ms` = failure point - recovery point, 0 exactly when nothing is lost:
//! - recovery point: the invoke time of the earliest-invoked lost write. The surviving
//!   data holds nothing the clients wrote from then on that was lost.
//! - failure point: when the failure took effect for the clients: the later of the
//!   fault's injection (requested time) and the last acknowledgement of a lost write (the
//!   failed primary was still acknowledging then; a SIGKILL can take hundreds of ms to
//!   land).
//!
//! A lost write was invoked before it was acknowledged, so any loss gives `rpo_ms` > 0.
use crate::history::Outcome;
use crate::stack::ReadBack;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LostWrite {
    pub writer: u32,
    pub seq: u64,
    pub ack_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RpoResult {
    pub rpo_ms: f64,
    /// Drill time of the recovery point (None when nothing is lost).
    pub recovery_point_ms: Option<f64>,
    /// Drill time of the failure point (None when nothing is lost).
    pub failure_point_ms: Option<f64>,
    pub lost_writes: u64,
    pub recovered_writes: u64,
    pub duplicate_writes: u64,
    /// Records present that no writer ever invoked.
    pub unexpected_writes: u64,
    pub records_read: u64,
    /// Every lost write, earliest ack first.
    pub lost: Vec<LostWrite>,
}

/// `writers[w][seq - 1]` = (outcome, invoke ns, completion ns) of writer w's op seq.
pub fn rpo(writers: &BTreeMap<u32, Vec<(Outcome, u64, u64)>>, read: &ReadBack, fault_ns: u64) -> RpoResult {
    let mut r = RpoResult {
        rpo_ms: 0.0,
        recovery_point_ms: None,
        failure_point_ms: None,
        lost_writes: 0,
        recovered_writes: 0,
        duplicate_writes: 0,
        unexpected_writes: 0,
        records_read: read.len() as u64,
        lost: Vec::new(),
    };
    let empty = Vec::new();
    let (mut first_invoke, mut last_ack) = (u64::MAX, 0u64);
    let writer_ids: std::collections::BTreeSet<u32> = writers.keys().chain(read.records.keys()).copied().collect();
    for w in writer_ids {
        let ops = writers.get(&w).unwrap_or(&empty);
        let seqs = read.records.get(&w).map(Vec::as_slice).unwrap_or(&[]);
        let mut present = vec![false; ops.len()];
        let mut prev = None;
        for &s in seqs {
            if prev == Some(s) {
                r.duplicate_writes += 1;
                continue;
            }
            prev = Some(s);
            match s.checked_sub(1).and_then(|i| present.get_mut(i as usize)) {
                Some(p) => *p = true,
                None => r.unexpected_writes += 1,
            }
        }
        for (i, (outcome, invoke, done)) in ops.iter().enumerate() {
            match (outcome, present[i]) {
                (Outcome::Ok, false) => {
                    first_invoke = first_invoke.min(*invoke);
                    last_ack = last_ack.max(*done);
                    r.lost.push(LostWrite { writer: w, seq: i as u64 + 1, ack_ms: *done as f64 / 1e6 })
                }
                (Outcome::Fail | Outcome::Unknown, true) => r.recovered_writes += 1,
                _ => {}
            }
        }
    }
    r.lost.sort_by(|a, b| a.ack_ms.total_cmp(&b.ack_ms));
    r.lost_writes = r.lost.len() as u64;
    if !r.lost.is_empty() {
        let failure = fault_ns.max(last_ack);
        r.recovery_point_ms = Some(first_invoke as f64 / 1e6);
        r.failure_point_ms = Some(failure as f64 / 1e6);
        // at least 1 ns: a lost write is never an RPO of zero
        r.rpo_ms = failure.saturating_sub(first_invoke).max(1) as f64 / 1e6;
    }
    r
}
