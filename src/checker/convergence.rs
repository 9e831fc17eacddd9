//! Convergence: every surviving replica holds exactly the primary's records.
use crate::stack::ReadBack;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct NodeConvergence {
    pub node: String,
    /// Records on the replica (None: it could not be read).
    pub records: Option<u64>,
    /// Primary's records the replica lacks.
    pub missing: u64,
    /// Records the replica has that the primary lacks (a diverged timeline).
    pub extra: u64,
    pub converged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Convergence {
    /// None when nothing could be compared.
    pub converged: Option<bool>,
    pub waited_ms: f64,
    pub nodes: Vec<NodeConvergence>,
    /// Nodes not compared because they were not running (e.g. the killed old primary).
    pub excluded: Vec<String>,
}

/// Counts of (missing on replica, extra on replica), comparing as sets per writer.
pub fn compare(primary: &ReadBack, replica: &ReadBack) -> (u64, u64) {
    let empty = crate::stack::Seqs::default();
    let writers: std::collections::BTreeSet<u32> = primary.records.keys().chain(replica.records.keys()).copied().collect();
    writers.into_iter().fold((0, 0), |(missing, extra), w| {
        let (a, b) = (primary.records.get(&w).unwrap_or(&empty), replica.records.get(&w).unwrap_or(&empty));
        (missing + a.difference_len(b), extra + b.difference_len(a))
    })
}
