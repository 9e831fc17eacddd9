//! The operator's recovery of a quorum cluster that lost its primary component
//! (`failover: {mode: bootstrap}`, docs/multi-active.md): the database of every stopped node
//! is held when its machine comes back, each node's saved position is read as an operator
//! reads it, the most advanced node forms a new primary component from its data, and the
//! others join it. What an engine does at each step is its driver's (`Bootstrap`); the
//! order of the steps is drdrill's (`failover/bootstrap.rs`).
use super::nodes::Stack;
use crate::error::Result;
use async_trait::async_trait;

/// A node's saved position, as the operator read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// The sequence number of the last transaction it holds: the operator's comparison.
    pub seqno: u64,
    /// The position as the engine takes it back (`uuid:seqno`).
    pub position: String,
    /// Where it was read, in the engine's words (`wsrep_last_committed of the running
    /// node`, `recovered from InnoDB by mariadbd --wsrep-recover`).
    pub how: String,
    /// Whether its database was running (a survivor without quorum) or held.
    pub running: bool,
}

#[async_trait]
pub trait Bootstrap: Send + Sync {
    /// Brings a stopped node's machine back with its database held (not started), so its
    /// saved position can be read; returns false, doing nothing, when the node runs.
    async fn hold(&self, stack: &Stack, node: &str) -> Result<bool>;
    /// The node's saved position: a running node's last committed transaction, a held
    /// node's from its data files.
    async fn saved_position(&self, stack: &Stack, node: &str) -> Result<Saved>;
    /// Forms a new primary component from `node`'s data; returns what it did.
    async fn bootstrap(&self, stack: &Stack, node: &str, saved: &Saved) -> Result<String>;
    /// Lets `node` join the component another node formed (a held node is started at its
    /// saved position; a running one rejoins by itself); returns what it did.
    async fn join(&self, stack: &Stack, node: &str, saved: &Saved) -> Result<String>;
}
