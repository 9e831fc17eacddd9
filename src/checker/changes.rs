//! The writers' rewrites and deletes of their own records (`workload.changes`), judged on
//! the surviving data. A writer changes a record only after the change before was
//! acknowledged, and never again after one that failed or went unanswered
//! (`workload/changes.rs`), so each record's acknowledged changes say the one state it must
//! end in, and an unanswered last change allows one more:
//! - an acknowledged **delete** whose record is still there is **undone** (a file deleted on
//!   the main server that the mirror still serves after the failover);
//! - an acknowledged **rewrite** to revision k is **lost** when the record is found at an
//!   older revision, or not at all; a record with an acknowledged delete is judged by the
//!   delete alone (its rewrites before it were superseded);
//! - a record a delete may have removed (acknowledged or unanswered) is not lost when it is
//!   absent.
//!
//! Each change lost is an acknowledged write lost: it joins the RPO's lost writes, and its
//! times the RPO's window.
use super::rpo::{ChangesJudged, Rpo};
use crate::history::{Change, Op, Outcome};
use crate::stack::ReadBack;
use std::collections::{BTreeMap, HashSet};

/// One change op as the checker keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChangeOp {
    seq: u64,
    change: Change,
    outcome: Outcome,
    invoke_ns: u64,
    complete_ns: u64,
}

/// Every change op of the history, by the record it changed.
#[derive(Debug, Default)]
pub struct Changes {
    by_record: BTreeMap<(u32, u64), Vec<ChangeOp>>,
}

impl Changes {
    /// Keeps `op` when it is a change; false for any other op.
    pub fn add(&mut self, op: &Op) -> bool {
        let Some(change) = op.change else { return false };
        let c = ChangeOp { seq: op.seq, change, outcome: op.outcome, invoke_ns: op.invoke_ns, complete_ns: op.complete_ns };
        self.by_record.entry((op.writer, change.of())).or_default().push(c);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.by_record.is_empty()
    }

    /// The records a delete acknowledged or left unanswered may have removed.
    pub fn gone(&self) -> HashSet<(u32, u64)> {
        let deleted = |c: &ChangeOp| matches!(c.change, Change::Delete { .. }) && c.outcome != Outcome::Fail;
        self.by_record.iter().filter(|(_, cs)| cs.iter().any(deleted)).map(|(r, _)| *r).collect()
    }

    /// The records a rewrite found absent and created anew: their first write was lost,
    /// present at the end or not.
    pub fn recreated(&self) -> HashSet<(u32, u64)> {
        self.by_record.iter().filter(|(_, cs)| cs.iter().any(created)).map(|(r, _)| *r).collect()
    }

    /// Judges every record's changes on `read`, adding each change lost to `rpo`.
    pub fn judge(&self, read: &ReadBack, rpo: &mut Rpo) -> ChangesJudged {
        let mut j = ChangesJudged::default();
        for (&(writer, of), changes) in &self.by_record {
            let mut changes = changes.clone();
            changes.sort_by_key(|c| c.seq);
            let found = read.contains(writer, of).then(|| read.revision(writer, of));
            // an unanswered change, if any, is the record's last: it may or may not have been made
            let unanswered = changes.iter().find(|c| c.outcome == Outcome::Unknown).map(|c| c.change);
            // an acknowledged delete is the record's last word: its rewrites before it are
            // judged by it alone
            let deleted = changes.iter().any(|c| c.outcome == Outcome::Ok && matches!(c.change, Change::Delete { .. }));
            // the last rewrite the server created the record anew for: every acknowledged write
            // of it before was lost by then, whatever the end holds
            let created_at = changes.iter().rposition(created);
            j.recreated += u64::from(created_at.is_some());
            for (i, c) in changes.iter().enumerate().filter(|(_, c)| c.outcome == Outcome::Ok) {
                let lost = match c.change {
                    Change::Rewrite { rev, .. } => {
                        j.rewrites_acked += 1;
                        let deleted_maybe = found.is_none() && matches!(unanswered, Some(Change::Delete { .. }));
                        created_at.is_some_and(|k| i < k) || (!deleted && !deleted_maybe && found.is_none_or(|f| f < rev))
                    }
                    Change::Delete { .. } => {
                        j.deletes_acked += 1;
                        found.is_some()
                    }
                };
                if lost {
                    match c.change {
                        Change::Rewrite { .. } => j.rewrites_lost += 1,
                        Change::Delete { .. } => j.deletes_undone += 1,
                    }
                    rpo.lost_change(writer, c.seq, c.change, c.invoke_ns, c.complete_ns);
                }
            }
        }
        j
    }
}

/// An acknowledged rewrite the server created the record anew for.
fn created(c: &ChangeOp) -> bool {
    c.outcome == Outcome::Ok && matches!(c.change, Change::Rewrite { created: true, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(seq: u64, change: Option<Change>, outcome: Outcome, t_ms: u64) -> Op {
        Op {
            service: None,
            writer: 1,
            seq,
            key: None,
            change,
            invoke_ns: t_ms * 1_000_000,
            complete_ns: t_ms * 1_000_000 + 500_000,
            outcome,
            node: None,
            error: None,
        }
    }

    fn judge(ops: &[Op], read: &ReadBack) -> crate::checker::RpoResult {
        let mut changes = Changes::default();
        let mut inserts = Vec::new();
        for o in ops {
            if !changes.add(o) {
                inserts.push(o);
            }
        }
        let mut rpo = Rpo::new(read, None).with_gone(changes.gone()).with_lost_anyway(changes.recreated());
        for o in inserts {
            rpo.add(o.writer, o.seq, o.outcome, o.invoke_ns, o.complete_ns, o.node.as_deref());
        }
        let j = changes.judge(read, &mut rpo);
        rpo.set_changes(j);
        rpo.finish(10_000_000_000)
    }

    #[test]
    fn deletes_undone_and_rewrites_lost_are_lost_writes() {
        let ok = Outcome::Ok;
        let ops = [
            op(1, None, ok, 100),
            op(2, None, ok, 200),
            op(3, None, ok, 300),
            op(4, None, ok, 400),
            op(5, Some(Change::Delete { of: 1 }), ok, 5000), // undone: record 1 is back
            op(6, Some(Change::Delete { of: 2 }), ok, 5100), // done: record 2 is gone
            op(7, Some(Change::Rewrite { of: 3, rev: 1, created: false }), ok, 5200), // held: found at rev 1
            op(8, Some(Change::Rewrite { of: 3, rev: 2, created: false }), ok, 8000), // lost: found at rev 1
            op(9, Some(Change::Rewrite { of: 4, rev: 1, created: false }), Outcome::Unknown, 9000), // either
            op(10, None, ok, 500),
            op(11, Some(Change::Rewrite { of: 10, rev: 1, created: false }), ok, 5300), // then deleted: the delete judges
            op(12, Some(Change::Delete { of: 10 }), ok, 9500),
        ];
        let mut read = ReadBack::default();
        read.push(1, 1);
        read.push_at(1, 3, 1);
        read.push(1, 4);
        let r = judge(&ops, &read);
        let j = r.changes.clone().unwrap();
        assert_eq!((j.rewrites_acked, j.deletes_acked, j.rewrites_lost, j.deletes_undone, j.deleted_absent), (3, 3, 1, 1, 2));
        let lost: Vec<_> = r.lost.iter().map(|l| (l.seq, l.change)).collect();
        assert_eq!(lost, vec![(5, Some(Change::Delete { of: 1 })), (8, Some(Change::Rewrite { of: 3, rev: 2, created: false }))]);
        assert_eq!(r.lost_writes, 2);
        assert_eq!(r.recovery_point_ms, Some(5000.0), "the RPO's window opens at the undone delete");
    }

    #[test]
    fn a_rewrite_that_created_its_record_anew_proves_the_writes_before_it_lost() {
        let ok = Outcome::Ok;
        let ops = [
            op(1, None, ok, 100),
            op(2, Some(Change::Rewrite { of: 1, rev: 1, created: false }), ok, 3200),
            // the failover lost the file; the next rewrite found it absent and created it
            op(3, Some(Change::Rewrite { of: 1, rev: 2, created: true }), ok, 9000),
            op(4, Some(Change::Rewrite { of: 1, rev: 3, created: false }), ok, 12_000),
        ];
        let mut read = ReadBack::default();
        read.push_at(1, 1, 3);
        let r = judge(&ops, &read);
        let j = r.changes.clone().unwrap();
        assert_eq!((j.rewrites_acked, j.rewrites_lost, j.recreated), (3, 1, 1));
        let lost: Vec<_> = r.lost.iter().map(|l| l.seq).collect();
        assert_eq!(lost, vec![1, 2], "the upload and the first rewrite, though the file is back");
    }

    #[test]
    fn a_record_gone_with_its_rewrites_loses_them_unless_a_delete_may_have_removed_it() {
        let ok = Outcome::Ok;
        let ops = [
            op(1, None, ok, 100),
            op(2, Some(Change::Rewrite { of: 1, rev: 1, created: false }), ok, 4000),
            op(3, None, ok, 200),
            op(4, Some(Change::Rewrite { of: 3, rev: 1, created: false }), ok, 4100),
            op(5, Some(Change::Delete { of: 3 }), Outcome::Unknown, 8000),
            op(6, Some(Change::Delete { of: 1 }), Outcome::Fail, 8100),
        ];
        let r = judge(&ops, &ReadBack::default());
        let j = r.changes.clone().unwrap();
        // record 1: its write and its rewrite are lost (the delete failed); record 3 may be deleted
        assert_eq!((j.rewrites_lost, j.deletes_undone, j.deleted_absent), (1, 0, 1));
        let lost: Vec<_> = r.lost.iter().map(|l| l.seq).collect();
        assert_eq!(lost, vec![1, 2]);
    }
}
