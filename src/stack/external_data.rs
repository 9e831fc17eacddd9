//! What drdrill asks of a database it did not start (an external stack's, through its
//! engine's data path with the scenario's login), and the health check every such stack of
//! one primary shares: a writable primary at the endpoint.
use super::data::DataPath;
use super::nodes::{Orchestrator, Stack};
use super::retry_until;
use super::types::{ReplicaHealth, Shards};
use crate::error::{Error, Result};
use crate::scenario::ENDPOINT;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What drdrill asks of an external stack's database besides the data path.
#[async_trait]
pub trait ExternalData: DataPath {
    /// Whether the node is a writable primary, or why it could not tell.
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String>;
    /// The largest lag, in bytes, of the replicas this primary streams to.
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String>;
    /// Removes this run's rows (and the table once empty); returns what it did.
    async fn cleanup(&self, addr: SocketAddr) -> Result<String>;
    /// Waits until the stack is healthy as its engine judges it; says how every node is.
    /// By default: one writable primary at the endpoint (`one_primary`).
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        one_primary(self, stack, timeout).await
    }
    /// An engine with one primary per shard: its shards, once healthy.
    fn shards(&self) -> Option<Shards> {
        None
    }
    /// An engine that fails over by itself (a Redis Cluster): its own view, watched
    /// read-only.
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        None
    }
}

/// The first node that says it is a writable primary.
pub async fn first_writable<D: ExternalData + ?Sized>(data: &D, stack: &Stack, timeout: Duration) -> Option<String> {
    for n in &stack.nodes {
        if matches!(data.writable(n.addr(), timeout).await, Ok(true)) {
            return Some(n.name.clone());
        }
    }
    None
}

/// A stack of one primary is healthy when its endpoint accepts a connection and is a
/// writable primary; every declared node is reported with its role.
pub async fn one_primary<D: ExternalData + ?Sized>(data: &D, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
    let ep = stack.service(ENDPOINT)?.addr();
    let ask = Duration::from_secs(3);
    retry_until(timeout, Duration::from_millis(500), || async {
        match data.writable(ep, ask).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::infra(format!("the endpoint {ep} reaches a node that is not a writable primary"))),
            Err(e) => Err(Error::infra(format!("failed to reach the endpoint {ep}")).cause_text(e)),
        }
    })
    .await?;
    if let Some(p) = first_writable(data, stack, ask).await {
        stack.set_primary(&p);
    }
    let mut health = Vec::new();
    for n in stack.nodes.iter().filter(|n| n.name != stack.primary()) {
        let state = match data.writable(n.addr(), ask).await {
            Ok(false) => "replica",
            Ok(true) => "writable (a second primary?)",
            Err(_) => "unreachable",
        };
        let lag = -1; // not comparable across an external stack's nodes from here
        health.push(ReplicaHealth { node: n.name.clone(), state: state.into(), lag_bytes: lag });
    }
    Ok(health)
}
