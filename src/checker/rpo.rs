//! RPO: acknowledged writes missing from the new primary's read-back are lost; writes that
//! failed or timed out but are present anyway are recovered (not an error). `rpo_ms` is the
//! span of acknowledged history lost: from the ack of the earliest lost write to the
//! injection of the fault that took the primary away (0 when nothing is lost).
use crate::history::Outcome;
use crate::stack::ReadBack;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LostWrite {
    pub writer: u32,
    pub seq: u64,
    pub ack_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpoResult {
    pub rpo_ms: f64,
    pub lost_writes: u64,
    pub recovered_writes: u64,
    pub duplicate_writes: u64,
    /// Records present that no writer ever invoked.
    pub unexpected_writes: u64,
    pub records_read: u64,
    /// Every lost write, earliest ack first.
    pub lost: Vec<LostWrite>,
}

/// `writers[w][seq - 1]` = (outcome, completion ns) of writer w's op seq.
pub fn rpo(writers: &BTreeMap<u32, Vec<(Outcome, u64)>>, read: &ReadBack, fault_ns: u64) -> RpoResult {
    let mut r = RpoResult {
        rpo_ms: 0.0,
        lost_writes: 0,
        recovered_writes: 0,
        duplicate_writes: 0,
        unexpected_writes: 0,
        records_read: read.len() as u64,
        lost: Vec::new(),
    };
    let empty = Vec::new();
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
        for (i, (outcome, done)) in ops.iter().enumerate() {
            match (outcome, present[i]) {
                (Outcome::Ok, false) => r.lost.push(LostWrite { writer: w, seq: i as u64 + 1, ack_ms: *done as f64 / 1e6 }),
                (Outcome::Fail | Outcome::Unknown, true) => r.recovered_writes += 1,
                _ => {}
            }
        }
    }
    r.lost.sort_by(|a, b| a.ack_ms.total_cmp(&b.ack_ms));
    r.lost_writes = r.lost.len() as u64;
    if let Some(first) = r.lost.first() {
        r.rpo_ms = (fault_ns as f64 / 1e6 - first.ack_ms).max(0.0);
    }
    r
}
