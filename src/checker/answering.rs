//! When each node was answering the clients: per node, the stretches in which it
//! acknowledged writes with no gap longer than `ANSWER_GAP_NS`, and the moments a promotion
//! reached it (a node promoted answered the promotion). A page that says a node was down
//! while it answered throughout is a false page (`monitor::false_pages`).
use crate::history::{Event, EventKind, Op, Outcome};
use std::collections::BTreeMap;

/// A node acknowledging writes at least this often is answering.
pub const ANSWER_GAP_NS: u64 = 1_000_000_000;

/// One stretch of answers: the first and last acknowledgement (drill ns) and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub from_ns: u64,
    pub to_ns: u64,
    pub acks: u64,
    /// The longest time between two acknowledgements inside it.
    pub max_gap_ns: u64,
}

/// Per node, its stretches of answers (in completion order) and its promotions.
#[derive(Debug, Default)]
pub struct Answering {
    stretches: BTreeMap<String, Vec<Answered>>,
    promoted: BTreeMap<String, Vec<u64>>,
    /// When the workload stopped (the first service's stop).
    stop_ns: Option<u64>,
    /// The nodes drdrill read every record back from after the workload.
    read_back: Vec<String>,
}

impl Answering {
    /// One op, in the history's order (completion order within a writer, nearly so across).
    pub fn add(&mut self, op: &Op) {
        let Some(node) = op.node.as_deref().filter(|_| op.outcome == Outcome::Ok) else { return };
        let t = op.complete_ns;
        let list = self.stretches.entry(node.to_string()).or_default();
        match list.last_mut() {
            Some(s) if t <= s.to_ns.saturating_add(ANSWER_GAP_NS) => {
                s.max_gap_ns = s.max_gap_ns.max(t.saturating_sub(s.to_ns));
                s.from_ns = s.from_ns.min(t);
                s.to_ns = s.to_ns.max(t);
                s.acks += 1;
            }
            _ => list.push(Answered { from_ns: t, to_ns: t, acks: 1, max_gap_ns: 0 }),
        }
    }

    /// The promotions the events tell of (a recovery's or an orchestrator's), and the
    /// workload's stop.
    pub fn add_events(&mut self, events: &[Event]) {
        let stop = events.iter().filter(|e| e.kind == EventKind::WorkloadStop).map(|e| e.t_ns).min();
        self.stop_ns = self.stop_ns.min(stop).or(stop);
        for e in events.iter().filter(|e| matches!(e.kind, EventKind::FailoverPromote | EventKind::OrchestratorPromoted)) {
            if let Some(node) = &e.node {
                self.promoted.entry(node.clone()).or_default().push(e.t_ns);
            }
        }
    }

    /// `node` answered drdrill's read-back after the workload (it held the surviving data).
    pub fn read_back(&mut self, node: &str) {
        self.read_back.push(node.to_string());
    }

    /// The stretch in which `node` was answering at `at_ns`; the bool says that it was
    /// answering when the workload stopped, before `at_ns`, and was read back after it
    /// (nobody wrote to it by then: drdrill's read-back is the answer).
    pub fn at(&self, node: &str, at_ns: u64) -> Option<(Answered, bool)> {
        let list = self.stretches.get(node)?;
        if let Some(s) = list.iter().copied().find(|s| s.from_ns <= at_ns && at_ns <= s.to_ns) {
            return Some((s, false));
        }
        let stop = self.stop_ns.filter(|t| *t <= at_ns && self.read_back.iter().any(|n| n == node))?;
        let last = list.last().copied().filter(|s| s.to_ns.saturating_add(ANSWER_GAP_NS) >= stop)?;
        Some((last, true))
    }

    /// The latest promotion of `node` at or before `at_ns`.
    pub fn promoted_before(&self, node: &str, at_ns: u64) -> Option<u64> {
        self.promoted.get(node)?.iter().copied().filter(|t| *t <= at_ns).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::phases::tests::{ev, ok};

    #[test]
    fn acknowledgements_less_than_a_second_apart_are_one_stretch() {
        let mut a = Answering::default();
        for t in (100..=3000).step_by(20) {
            a.add(&ok("pg-1", t));
        }
        for t in (5000..=6000).step_by(300) {
            a.add(&ok("pg-1", t));
        }
        a.add(&Op { outcome: Outcome::Fail, ..ok("pg-2", 4000) });
        let first = a.at("pg-1", 2_000_000_000).unwrap().0;
        assert_eq!((first.from_ns, first.to_ns, first.acks, first.max_gap_ns), (100_000_000, 3_000_000_000, 146, 20_000_000));
        assert_eq!(a.at("pg-1", 4_000_000_000), None, "2 s without an answer");
        assert_eq!(a.at("pg-1", 5_500_000_000).unwrap().0.max_gap_ns, 300_000_000);
        assert_eq!(a.at("pg-2", 4_000_000_000), None, "a refused write is no answer");
    }

    #[test]
    fn after_the_workload_the_node_read_back_answers_if_it_answered_to_the_stop() {
        let mut a = Answering::default();
        (9600..14640).step_by(20).for_each(|t| a.add(&ok("pg-3", t)));
        (1000..8000).step_by(20).for_each(|t| a.add(&ok("pg-1", t)));
        a.add_events(&[ev(14_650, EventKind::WorkloadStop, None, None)]);
        assert_eq!(a.at("pg-3", 15_600_000_000), None, "not read back");
        a.read_back("pg-3");
        a.read_back("pg-1");
        let (s, after) = a.at("pg-3", 15_600_000_000).unwrap();
        assert!(after && s.to_ns == 14_620_000_000, "{s:?}");
        assert_eq!(a.at("pg-3", 12_000_000_000).map(|x| x.1), Some(false));
        assert_eq!(a.at("pg-1", 15_600_000_000), None, "pg-1 fell silent 6.6 s before the stop");
    }

    #[test]
    fn the_latest_promotion_before_a_moment_is_found() {
        let mut a = Answering::default();
        a.add_events(&[ev(9_600, EventKind::FailoverPromote, Some("pg-3"), None), ev(8_000, EventKind::FaultInject, Some("pg-1"), None)]);
        assert_eq!(a.promoted_before("pg-3", 18_000_000_000), Some(9_600_000_000));
        assert_eq!(a.promoted_before("pg-3", 9_000_000_000), None);
        assert_eq!(a.promoted_before("pg-1", u64::MAX), None);
    }
}
