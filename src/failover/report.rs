//! What a recovery did, for results.json: the report every recovery returns, and its
//! restore's and bootstrap's steps.
use crate::history::{EventKind, RecorderHandle};
use serde::Serialize;

/// What the failover did, for results.json.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct FailoverReport {
    pub started_ms: Option<f64>,
    pub done_ms: Option<f64>,
    pub old_primary: Option<String>,
    pub new_primary: Option<String>,
    /// Replica positions seen when choosing (node, position).
    pub candidates: Vec<(String, u64)>,
    pub repointed: Vec<String>,
    /// How long the promotion looked for the replica it chose (ms): 0 when it answered at
    /// once, longer when it was still restarting (notes in the history say each miss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_ms: Option<f64>,
    pub rejoined: Option<String>,
    pub error: Option<String>,
    /// Index of the fault the failover answered, and when it was injected (drill ms).
    pub answered_fault: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<f64>,
    /// Point-in-time recovery (`restore_to: before_fault`): the target, drill ms, just
    /// before the fault answered. Writes acknowledged after it are discarded by design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<f64>,
    /// A restore recovery's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreReport>,
    /// An operator's bootstrap: the positions read, the node chosen, its steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapReport>,
}

/// What an operator's bootstrap did, step by step (drill ms).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct BootstrapReport {
    /// Every node's saved position, as it was read.
    pub positions: Vec<SavedPosition>,
    /// The node that formed the new primary component.
    pub chosen: String,
    /// Every stopped node's machine back, its database held.
    pub held_ms: Option<f64>,
    /// Every saved position read.
    pub read_ms: Option<f64>,
    /// The chosen node in a primary component, taking writes.
    pub bootstrapped_ms: Option<f64>,
    /// Every other node a member again.
    pub joined_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SavedPosition {
    pub node: String,
    pub seqno: u64,
    pub position: String,
    /// Where it was read (a running node's last commit, a crashed node's InnoDB).
    pub how: String,
}

impl SavedPosition {
    pub(super) fn of(node: &str, s: &crate::stack::Saved) -> Self {
        SavedPosition { node: node.to_string(), seqno: s.seqno, position: s.position.clone(), how: s.how.clone() }
    }
}

impl FailoverReport {
    /// Point-in-time recovery: the answered fault's injection is the target; records it
    /// (drill ms) and returns it in UTC.
    pub(super) fn set_target(&mut self, clock: &crate::clock::Clock) -> chrono::DateTime<chrono::Utc> {
        let at_ns = self.answered_at_ms.map(|ms| (ms * 1e6) as u64).unwrap_or(0);
        self.target_ms = Some(at_ns as f64 / 1e6);
        clock.wall_anchor + chrono::Duration::nanoseconds(at_ns as i64)
    }
}

/// What a restore recovery did, step by step (drill ms), beside what its settings allow.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct RestoreReport {
    pub tool: String,
    /// The backup taken before the workload, in the tool's words.
    pub backup: String,
    pub node: String,
    /// Point-in-time recovery: the old primary archived what it had not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_ms: Option<f64>,
    /// The fresh node ran, the backup was restored into it, the database accepted
    /// connections, then writes.
    pub node_ms: Option<f64>,
    pub fetched_ms: Option<f64>,
    pub started_ms: Option<f64>,
    /// drdrill replayed what the backup lacks (a streamed binlog) and opened the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_ms: Option<f64>,
    pub writable_ms: Option<f64>,
    pub fetched: String,
    /// What was replayed on the restored node besides the backup (a streamed binlog),
    /// in the tool's words; empty when the database replayed by itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replayed: String,
    /// The acknowledged time the settings allow a restore to lose (ms), and why.
    pub allowed_loss_ms: u64,
    pub allowed_by: String,
}

impl FailoverReport {
    /// Records why the failover failed (about `node` when one is named) and returns its report.
    pub(super) async fn failed(mut self, rec: &RecorderHandle, fault: Option<usize>, node: Option<&str>, msg: String) -> FailoverReport {
        rec.event(EventKind::FailoverFailed, fault, node, msg.clone()).await;
        self.error = Some(msg);
        self
    }
}
