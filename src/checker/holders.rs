//! Who held the clients' entry (a VIP) over the drill, and the spans when more than one
//! node held it: a split brain. In such a span both servers take writes (whichever the
//! clients' ARP cache points at); the writes each acknowledged then, and those of them the
//! surviving data lacks, are counted per node.
use crate::history::{Op, Outcome};
use crate::stack::ReadBack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One take or release, on the drill's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct HolderChange {
    pub t_ns: u64,
    pub node: String,
    pub holds: bool,
    pub detail: String,
}

/// A take or release as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HolderRow {
    pub at_ms: f64,
    pub node: String,
    pub holds: bool,
    pub detail: String,
}

/// A span with more than one holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub from_ms: f64,
    /// None: still split when the watch ended.
    pub to_ms: Option<f64>,
    pub duration_ms: f64,
    /// Every node that held the entry in the span.
    pub nodes: Vec<String>,
    /// Writes acknowledged in the span, by the node that acknowledged them.
    pub acked: BTreeMap<String, u64>,
    /// Of those, the ones the surviving data lacks.
    pub lost: BTreeMap<String, u64>,
}

/// What one node held once the workload stopped (read after a split brain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub node: String,
    /// Records it held; None when it could not be read (`error`).
    pub records: Option<u64>,
    /// Of the writes acknowledged in the splits, how many it held, by the node that took them.
    pub split_writes: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The entry's holders over the drill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldersReport {
    /// What the entry is ("the VIP 172.20.0.250").
    pub entry: String,
    /// Every take and release that changed who held it.
    pub changes: Vec<HolderRow>,
    pub splits: Vec<Split>,
    /// Who held it at the end, read from the nodes.
    pub final_holders: Vec<String>,
    /// After a split brain: what each node held once the workload stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sides: Vec<Side>,
}

impl HoldersReport {
    /// The report from the takes and releases in order; the watch ended at `end_ns`.
    pub fn new(entry: String, changes: &[HolderChange], end_ns: u64, final_holders: Vec<String>) -> Self {
        let ms = |ns: u64| ns as f64 / 1e6;
        let mut holding: BTreeSet<&str> = BTreeSet::new();
        let mut splits = Vec::new();
        let mut open: Option<(u64, BTreeSet<String>)> = None;
        let mut kept = Vec::new();
        for c in changes {
            let changed = match c.holds {
                true => holding.insert(&c.node),
                false => holding.remove(c.node.as_str()),
            };
            if !changed {
                continue;
            }
            kept.push(c);
            match (&mut open, holding.len() > 1) {
                (None, true) => open = Some((c.t_ns, holding.iter().map(|n| n.to_string()).collect())),
                (Some((_, nodes)), true) => nodes.extend(holding.iter().map(|n| n.to_string())),
                (Some(_), false) => splits.push(close(open.take().expect("open"), Some(c.t_ns))),
                (None, false) => {}
            }
        }
        splits.extend(open.map(|o| close(o, None)));
        for s in &mut splits {
            s.duration_ms = s.to_ms.unwrap_or(ms(end_ns)) - s.from_ms;
        }
        let changes = kept
            .into_iter()
            .map(|c| HolderRow { at_ms: ms(c.t_ns), node: c.node.clone(), holds: c.holds, detail: c.detail.clone() })
            .collect();
        HoldersReport { entry, changes, splits, final_holders, sides: Vec::new() }
    }

    /// Each node's records once the workload stopped (None: unread, with why), to count
    /// which side holds the split's writes.
    pub fn set_sides(&mut self, sides: Vec<(String, std::result::Result<ReadBack, String>)>) -> Vec<(String, ReadBack)> {
        let mut read = Vec::new();
        for (node, r) in sides {
            let (records, error) = match &r {
                Ok(rb) => (Some(rb.len() as u64), None),
                Err(e) => (None, Some(e.clone())),
            };
            self.sides.push(Side { node: node.clone(), records, split_writes: BTreeMap::new(), error });
            read.extend(r.ok().map(|rb| (node, rb)));
        }
        read
    }

    /// One op of the history: an acknowledged write in a split, by the node that took it,
    /// and lost when `read` lacks it.
    /// `sides`: each node's records once the workload stopped (`set_sides`).
    pub fn count(&mut self, op: &Op, read: Option<&ReadBack>, sides: &[(String, ReadBack)]) {
        let Some(node) = op.node.as_deref().filter(|_| op.outcome == Outcome::Ok && op.key.is_none() && op.change.is_none()) else {
            return;
        };
        let at = op.complete_ns as f64 / 1e6;
        let mut in_split = false;
        for s in self.splits.iter_mut().filter(|s| at >= s.from_ms && s.to_ms.is_none_or(|t| at <= t)) {
            in_split = true;
            *s.acked.entry(node.to_string()).or_default() += 1;
            if read.is_some_and(|r| !r.contains(op.writer, op.seq)) {
                *s.lost.entry(node.to_string()).or_default() += 1;
            }
        }
        for (side, (_, rb)) in self.sides.iter_mut().filter(|s| s.records.is_some()).zip(sides) {
            if in_split && rb.contains(op.writer, op.seq) {
                *side.split_writes.entry(node.to_string()).or_default() += 1;
            }
        }
    }
}

fn close((from, nodes): (u64, BTreeSet<String>), to: Option<u64>) -> Split {
    let ms = |ns: u64| ns as f64 / 1e6;
    Split {
        from_ms: ms(from),
        to_ms: to.map(ms),
        duration_ms: 0.0,
        nodes: nodes.into_iter().collect(),
        acked: BTreeMap::new(),
        lost: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(t_ms: u64, node: &str, holds: bool) -> HolderChange {
        HolderChange { t_ns: t_ms * 1_000_000, node: node.into(), holds, detail: String::new() }
    }

    #[test]
    fn two_holders_at_once_are_a_split_and_its_writes_are_counted_per_node() {
        let changes = [
            change(0, "files-1", true),
            change(9000, "files-2", true),    // the link cut: the backup takes the VIP too
            change(20_000, "files-2", false), // healed: the backup gives it back
            change(20_001, "files-2", false), // said twice: one change
            change(30_000, "files-1", false),
            change(31_000, "files-2", true), // a clean move is no split
        ];
        let mut r = HoldersReport::new("the VIP".into(), &changes, 40_000_000_000, vec!["files-2".into()]);
        assert_eq!((r.splits.len(), r.changes.len()), (1, 5));
        let s = &r.splits[0];
        assert_eq!((s.from_ms, s.to_ms, s.duration_ms), (9000.0, Some(20_000.0), 11_000.0));
        assert_eq!(s.nodes, ["files-1", "files-2"]);
        let mut read = ReadBack::default();
        read.push(0, 1);
        read.push(0, 2);
        let mut backup = ReadBack::default();
        backup.push(0, 4);
        let sides =
            r.set_sides(vec![("files-1".into(), Ok(read.clone())), ("files-2".into(), Ok(backup)), ("x".into(), Err("gone".into()))]);
        for op in [
            Op::acked_by("files-1", 1, 8000),
            Op::acked_by("files-1", 2, 10_000),
            Op::acked_by("files-2", 3, 12_000),
            Op::acked_by("files-2", 4, 19_000),
        ] {
            r.count(&op, Some(&read), &sides);
        }
        assert_eq!(r.sides[0].split_writes, BTreeMap::from([("files-1".into(), 1)]));
        assert_eq!(r.sides[1].split_writes, BTreeMap::from([("files-2".into(), 1)]));
        assert_eq!((r.sides[2].records, r.sides[2].error.as_deref()), (None, Some("gone")));
        let s = &r.splits[0];
        assert_eq!(s.acked, BTreeMap::from([("files-1".into(), 1), ("files-2".into(), 2)]));
        assert_eq!(s.lost, BTreeMap::from([("files-2".into(), 2)]));
    }

    #[test]
    fn a_split_still_open_at_the_end_runs_to_it() {
        let changes = [change(0, "a", true), change(5000, "b", true)];
        let r = HoldersReport::new("the VIP".into(), &changes, 8_000_000_000, vec!["a".into(), "b".into()]);
        assert_eq!((r.splits[0].to_ms, r.splits[0].duration_ms), (None, 3000.0));
    }
}
