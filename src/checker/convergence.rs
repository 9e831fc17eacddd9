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
    let (mut missing, mut extra) = (0u64, 0u64);
    let writers: std::collections::BTreeSet<u32> = primary.records.keys().chain(replica.records.keys()).copied().collect();
    for w in writers {
        let a = dedup(primary.records.get(&w));
        let b = dedup(replica.records.get(&w));
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    missing += 1;
                    i += 1;
                }
                (Some(_), None) => {
                    missing += 1;
                    i += 1;
                }
                _ => {
                    extra += 1;
                    j += 1;
                }
            }
        }
    }
    (missing, extra)
}

fn dedup(v: Option<&Vec<u64>>) -> Vec<u64> {
    let mut v = v.cloned().unwrap_or_default();
    v.dedup();
    v
}
