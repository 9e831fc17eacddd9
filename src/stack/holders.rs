//! Who holds the clients' entry over the drill (a VIP that Keepalived moves): each node's
//! take and release as the stack says it, and who holds it at the end. Two holders at once
//! are a split brain: both servers take writes, and what one of them acknowledged is lost
//! when the other's data wins.
use super::Stack;
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// A node took (`holds`) or gave up the entry, in the stack's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub node: String,
    pub holds: bool,
    pub detail: String,
}

/// How drdrill follows who holds a stack's entry.
#[async_trait]
pub trait EntryHolders: Send + Sync {
    /// What the entry is, as reports name it ("the VIP 172.20.0.250").
    fn entry(&self) -> String;
    /// Sends every take and release, as it happens, until `tx` is closed or the task is
    /// aborted; a node whose container stops holds nothing from then.
    async fn watch(&self, stack: Arc<Stack>, tx: UnboundedSender<Held>) -> Result<()>;
    /// The nodes that hold the entry now, read from the nodes themselves.
    async fn holders_now(&self, stack: &Stack) -> Vec<String>;
}
