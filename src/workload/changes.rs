//! `workload.changes`: which of a writer's own records its next op rewrites or deletes.
//! A record can be changed once its write (or last rewrite) was acknowledged `after_ms`
//! before; it is taken out of the candidates while a change to it is in flight, put back
//! (at its new revision, acknowledged now) when a rewrite is acknowledged, and never again
//! after a delete or a change that failed or went unanswered (its state is then unknown to
//! the writer, as it would be to an application). So each record's changes are made one at
//! a time, each after the one before was acknowledged: the checker can say which state the
//! record must end in.
use crate::history::{Change, Op, Outcome};
use crate::scenario::ChangesSpec;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Candidates kept per writer; beyond it the oldest are forgotten (never changed).
const CANDIDATES_MAX: usize = 4096;

/// One writer's records that may be changed, oldest acknowledgement first.
pub(super) struct Changes {
    spec: ChangesSpec,
    /// (seq, revision, when acknowledged)
    candidates: VecDeque<(u64, u32, Instant)>,
}

impl Changes {
    pub(super) fn new(spec: ChangesSpec) -> Self {
        Changes { spec, candidates: VecDeque::new() }
    }

    /// The change op number `seq` makes at `now`, if it is due one and a record is old
    /// enough; the record is taken out of the candidates.
    pub(super) fn pick(&mut self, seq: u64, now: Instant) -> Option<Change> {
        let due = |every: u32| every > 0 && seq.is_multiple_of(u64::from(every));
        let delete = due(self.spec.delete_every);
        if !delete && !due(self.spec.rewrite_every) {
            return None;
        }
        let &(of, rev, acked) = self.candidates.front()?;
        if now.saturating_duration_since(acked) < Duration::from_millis(self.spec.after_ms) {
            return None;
        }
        self.candidates.pop_front();
        Some(if delete { Change::Delete { of } } else { Change::Rewrite { of, rev: rev + 1, created: false } })
    }

    /// An op's answer, at `now`: an acknowledged new record, or an acknowledged rewrite,
    /// becomes a candidate.
    pub(super) fn answered(&mut self, op: &Op, now: Instant) {
        if op.outcome != Outcome::Ok || op.key.is_some() {
            return;
        }
        let (of, rev) = match op.change {
            None => (op.seq, 0),
            Some(Change::Rewrite { of, rev, .. }) => (of, rev),
            Some(Change::Delete { .. }) => return,
        };
        if self.candidates.len() >= CANDIDATES_MAX {
            self.candidates.pop_front();
        }
        self.candidates.push_back((of, rev, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(seq: u64, change: Option<Change>) -> Op {
        Op { service: None, writer: 1, seq, key: None, change, invoke_ns: 0, complete_ns: 1, outcome: Outcome::Ok, node: None, error: None }
    }

    #[test]
    fn only_records_acknowledged_long_enough_ago_are_changed_one_change_at_a_time() {
        let spec = ChangesSpec { delete_every: 4, rewrite_every: 3, after_ms: 1000 };
        let mut c = Changes::new(spec);
        let t0 = Instant::now();
        assert_eq!(c.pick(3, t0), None, "nothing acknowledged yet");
        c.answered(&ok(1, None), t0);
        c.answered(&ok(2, None), t0);
        assert_eq!(c.pick(3, t0 + Duration::from_millis(999)), None, "not old enough");
        assert_eq!(c.pick(5, t0 + Duration::from_secs(2)), None, "op 5 is due no change");
        assert_eq!(c.pick(3, t0 + Duration::from_secs(2)), Some(Change::Rewrite { of: 1, rev: 1, created: false }));
        // an op due both deletes; record 1 is out while its rewrite is in flight
        assert_eq!(c.pick(12, t0 + Duration::from_secs(2)), Some(Change::Delete { of: 2 }));
        assert_eq!(c.pick(6, t0 + Duration::from_secs(2)), None, "no candidate left");
        let t1 = t0 + Duration::from_secs(3);
        c.answered(&ok(3, Some(Change::Rewrite { of: 1, rev: 1, created: false })), t1);
        c.answered(&ok(12, Some(Change::Delete { of: 2 })), t1);
        assert_eq!(c.pick(6, t1), None, "rewritten just now");
        assert_eq!(c.pick(6, t1 + Duration::from_secs(1)), Some(Change::Rewrite { of: 1, rev: 2, created: false }));
        let failed = Op { outcome: Outcome::Unknown, ..ok(7, None) };
        c.answered(&failed, t1);
        assert_eq!(c.pick(9, t1 + Duration::from_secs(9)), None, "an unanswered write is no candidate");
    }
}
