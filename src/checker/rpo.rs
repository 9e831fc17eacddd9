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
use crate::history::{Change, Outcome};
use crate::stack::{ReadBack, Seqs};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LostWrite {
    pub writer: u32,
    pub seq: u64,
    pub ack_ms: f64,
    /// The node that acknowledged it, as the history recorded (None: not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// A change op's (`workload.changes`): the rewrite the surviving data holds an older
    /// revision than, or the delete it undid (the record is back). None: a record's write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

impl LostWrite {
    /// "seq 12", or for a change "seq 40 (the delete of seq 12, undone)".
    pub fn seq_text(&self) -> String {
        match self.change {
            None => format!("seq {}", self.seq),
            Some(Change::Delete { of }) => format!("seq {} (the delete of seq {of}, undone)", self.seq),
            Some(Change::Rewrite { of, rev, .. }) => format!("seq {} (the rewrite of seq {of} to revision {rev}, lost)", self.seq),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RpoResult {
    pub rpo_ms: f64,
    /// Drill time of the recovery point (None when nothing is lost).
    pub recovery_point_ms: Option<f64>,
    /// Drill time of the failure point (None when nothing is lost).
    pub failure_point_ms: Option<f64>,
    pub lost_writes: u64,
    /// Writes present in the surviving data that were not acknowledged: failed, timed out,
    /// or never recorded.
    pub recovered_writes: u64,
    /// Of those, writes the clients were told failed (a definite error, not a timeout): a
    /// timed-out write may well have committed, a failed one should not have.
    #[serde(default)]
    pub recovered_failed: u64,
    pub duplicate_writes: u64,
    /// Records present that no writer ever invoked.
    pub unexpected_writes: u64,
    pub records_read: u64,
    /// Every lost write, earliest ack first.
    pub lost: Vec<LostWrite>,
    /// Point-in-time recovery: acknowledged writes missing because they were acknowledged
    /// after the recovery target (the cost the recovery accepts by design; not lost).
    #[serde(default)]
    pub discarded_after_target: u64,
    /// The rewrites and deletes (`workload.changes`), when the writers made any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesJudged>,
}

/// The writers' rewrites and deletes of their own records, judged on the surviving data;
/// each one lost is also in `lost` (and in `lost_writes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ChangesJudged {
    pub rewrites_acked: u64,
    pub deletes_acked: u64,
    /// Acknowledged rewrites the surviving data holds an older revision of the record than
    /// (or no record at all).
    pub rewrites_lost: u64,
    /// Acknowledged deletes whose record the surviving data still holds.
    pub deletes_undone: u64,
    /// Records a delete may have removed that are absent: not lost.
    pub deleted_absent: u64,
    /// Records a rewrite found absent and created anew: their writes before it are lost,
    /// whatever the end holds.
    #[serde(default)]
    pub recreated: u64,
}

/// RPO judged while the ops stream past, in any order: per writer only the set of seqs
/// recorded (a bit each) and the highest; every lost write is kept.
pub struct Rpo<'a> {
    read: &'a ReadBack,
    /// Per writer: the seqs the history recorded, and the highest.
    recorded: BTreeMap<u32, (Seqs, u64)>,
    lost: Vec<LostWrite>,
    recovered: u64,
    recovered_failed: u64,
    first_invoke: u64,
    last_ack: u64,
    /// The recovery target (drill ns) of a point-in-time recovery.
    target_ns: Option<u64>,
    discarded: u64,
    /// Records a delete acknowledged (or left unanswered) may have removed: absent, not lost.
    gone: HashSet<(u32, u64)>,
    /// Records known lost even when present (a later rewrite created them anew).
    lost_anyway: HashSet<(u32, u64)>,
    deleted_absent: u64,
    changes: Option<ChangesJudged>,
}

impl<'a> Rpo<'a> {
    pub fn new(read: &'a ReadBack, target_ns: Option<u64>) -> Self {
        Rpo {
            read,
            recorded: BTreeMap::new(),
            lost: Vec::new(),
            recovered: 0,
            recovered_failed: 0,
            first_invoke: u64::MAX,
            last_ack: 0,
            target_ns,
            discarded: 0,
            gone: HashSet::new(),
            lost_anyway: HashSet::new(),
            deleted_absent: 0,
            changes: None,
        }
    }

    /// The records deletes may have removed (`workload.changes`): absent, they are not lost.
    pub fn with_gone(mut self, gone: HashSet<(u32, u64)>) -> Self {
        self.gone = gone;
        self
    }

    /// The records a later rewrite found absent (`workload.changes`): lost even when present.
    pub fn with_lost_anyway(mut self, lost: HashSet<(u32, u64)>) -> Self {
        self.lost_anyway = lost;
        self
    }

    /// A change op (`workload.changes`) whose effect the surviving data does not show.
    pub fn lost_change(&mut self, writer: u32, seq: u64, change: Change, invoke: u64, done: u64) {
        self.first_invoke = self.first_invoke.min(invoke);
        self.last_ack = self.last_ack.max(done);
        self.lost.push(LostWrite { writer, seq, ack_ms: done as f64 / 1e6, node: None, change: Some(change) });
    }

    /// The changes' tally (`ChangesJudged::deleted_absent` is counted here).
    pub fn set_changes(&mut self, judged: ChangesJudged) {
        self.changes = Some(judged);
    }

    /// One op: (writer, seq, outcome, invoke ns, completion ns, the node that answered). A
    /// seq the history holds twice counts once.
    pub fn add(&mut self, writer: u32, seq: u64, outcome: Outcome, invoke: u64, done: u64, node: Option<&str>) {
        let (seen, max) = self.recorded.entry(writer).or_default();
        if !seen.insert(seq) {
            return;
        }
        *max = (*max).max(seq);
        let present = self.read.contains(writer, seq) && !self.lost_anyway.contains(&(writer, seq));
        match (outcome, present) {
            // acknowledged after the recovery target: a point-in-time recovery drops it by design
            (Outcome::Ok, false) if self.target_ns.is_some_and(|t| done >= t) => self.discarded += 1,
            // a delete may have removed it, unless a rewrite found it absent before
            (Outcome::Ok, false) if self.gone.contains(&(writer, seq)) && !self.lost_anyway.contains(&(writer, seq)) => {
                self.deleted_absent += 1
            }
            (Outcome::Ok, false) => {
                self.first_invoke = self.first_invoke.min(invoke);
                self.last_ack = self.last_ack.max(done);
                self.lost.push(LostWrite { writer, seq, ack_ms: done as f64 / 1e6, node: node.map(str::to_string), change: None });
            }
            (Outcome::Fail, true) => {
                self.recovered += 1;
                self.recovered_failed += 1;
            }
            (Outcome::Unknown, true) => self.recovered += 1,
            _ => {}
        }
    }

    /// Read-back rows no op explains: duplicates, seqs beyond a writer's highest (or 0),
    /// and seqs below it the history never recorded (counted recovered: such a write was
    /// not acknowledged to anyone).
    pub fn finish(mut self, fault_ns: u64) -> RpoResult {
        let mut r = RpoResult {
            rpo_ms: 0.0,
            recovery_point_ms: None,
            failure_point_ms: None,
            lost_writes: 0,
            recovered_writes: self.recovered,
            recovered_failed: self.recovered_failed,
            duplicate_writes: 0,
            unexpected_writes: 0,
            records_read: self.read.len() as u64,
            lost: Vec::new(),
            discarded_after_target: self.discarded,
            changes: self.changes.take().map(|c| ChangesJudged { deleted_absent: self.deleted_absent, ..c }),
        };
        let none = (Seqs::default(), 0);
        for (w, present) in &self.read.records {
            let (seen, max) = self.recorded.get(w).unwrap_or(&none);
            let within = present.count_in(*max);
            r.duplicate_writes += present.duplicates();
            r.unexpected_writes += present.len() - within;
            // present below the highest seq, minus those the history recorded
            r.recovered_writes += within.saturating_sub(seen.len() - seen.difference_len(present));
        }
        self.lost.sort_by(|a, b| a.ack_ms.total_cmp(&b.ack_ms).then(a.writer.cmp(&b.writer)).then(a.seq.cmp(&b.seq)));
        r.lost_writes = self.lost.len() as u64;
        if !self.lost.is_empty() {
            let failure = fault_ns.max(self.last_ack);
            r.recovery_point_ms = Some(self.first_invoke as f64 / 1e6);
            r.failure_point_ms = Some(failure as f64 / 1e6);
            // at least 1 ns: a lost write is never an RPO of zero
            r.rpo_ms = failure.saturating_sub(self.first_invoke).max(1) as f64 / 1e6;
        }
        r.lost = self.lost;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_acknowledged_after_a_recovery_target_are_discarded_not_lost() {
        let mut rb = ReadBack::default();
        rb.push(1, 1);
        let mut r = Rpo::new(&rb, Some(1_000));
        r.add(1, 1, Outcome::Ok, 10, 20, None); // survived
        r.add(1, 2, Outcome::Ok, 30, 999, None); // acknowledged before the target, missing: lost
        r.add(1, 3, Outcome::Ok, 990, 1_000, None); // acknowledged at the target: discarded
        r.add(1, 4, Outcome::Ok, 2_000, 2_100, None); // after it: discarded
        let out = r.finish(500);
        assert_eq!((out.lost_writes, out.discarded_after_target), (1, 2));
        assert_eq!(out.lost[0].seq, 2);
        assert_eq!(Rpo::new(&rb, None).finish(0).discarded_after_target, 0);
    }
}
