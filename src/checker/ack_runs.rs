//! Where acknowledgements came from: per node, the runs of acknowledged writes, kept as a
//! few numbers whatever the number of writes.
use crate::history::{Op, Outcome};
use std::collections::HashMap;

/// A new run of acknowledgements on a node starts when its previous ack is this old.
const RUN_GAP_NS: u64 = 100_000_000;

/// Per node, when runs of acknowledged writes began: the invoke time of a run's first write
/// (as RTO's recovery point counts) and the run's first acknowledgement. A few numbers per
/// node, whatever the number of writes.
#[derive(Debug, Default)]
pub struct AckRuns {
    nodes: HashMap<String, (u64, Vec<RunStart>)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RunStart {
    pub(crate) invoke_ns: u64,
    pub(crate) ack_ns: u64,
}

impl AckRuns {
    pub fn add(&mut self, op: &Op) {
        let Some(node) = op.node.as_deref().filter(|_| op.outcome == Outcome::Ok) else { return };
        let e = match self.nodes.get_mut(node) {
            Some(e) => e,
            None => self.nodes.entry(node.to_string()).or_insert((0, Vec::new())),
        };
        if e.1.is_empty() || op.complete_ns >= e.0.saturating_add(RUN_GAP_NS) {
            e.1.push(RunStart { invoke_ns: op.invoke_ns, ack_ns: op.complete_ns });
        } else if let Some(start) = e.1.last_mut() {
            // ops arrive in completion order: one invoked earlier may complete later
            start.invoke_ns = start.invoke_ns.min(op.invoke_ns);
            start.ack_ns = start.ack_ns.min(op.complete_ns);
        }
        e.0 = e.0.max(op.complete_ns);
    }

    /// The first acknowledged write `node` took that was invoked at or after `from_ns`,
    /// when it begins a run.
    pub(crate) fn first_after(&self, node: &str, from_ns: u64) -> Option<RunStart> {
        let (_, starts) = self.nodes.get(node)?;
        starts.iter().copied().filter(|r| r.invoke_ns >= from_ns).min_by_key(|r| r.invoke_ns)
    }
}
