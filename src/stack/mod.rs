//! One driver per database behind one trait. The runner, workload, faults, failover and
//! checker only ever talk to `dyn Driver` and `Stack`.
mod etcd;
mod external;
mod mariadb;
mod mha;
mod mha_watch;
mod nodes;
mod orchestrator;
mod patroni;
mod patroni_watch;
mod postgres;
mod proxy;
mod read_back;
mod redis;
mod redis_conn;
mod sentinel;

pub use external::{Auth, External, plan as external_plan};
pub use nodes::{Node, Stack, StackPlan};
pub use orchestrator::{Budgets, Observed, Orchestrator};
pub use proxy::{PROXY_NODE, ProxyRoutes};
pub use read_back::{ReadBack, Seqs};
pub use sentinel::RedisSentinel;

use crate::error::Result;
use crate::scenario::{StackKind, StackSpec};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Health of one replica as seen from the primary.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReplicaHealth {
    pub node: String,
    pub state: String,
    pub lag_bytes: i64,
}

/// Why a write did not succeed.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// Definitely not applied.
    Fail(String),
    /// May have been applied.
    Unknown(String),
}

/// A workload client connected to one node.
#[async_trait]
pub trait WriteClient: Send {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError>;
    /// The node this connection reached, when the client found it itself (through
    /// Sentinel, or behind HAProxy); None when it is the node the clients were pointed at.
    fn node(&self) -> Option<String> {
        None
    }
    /// After a write on this connection was abandoned at its timeout: waits until the
    /// server answers on it again (the abandoned write's reply comes first) and returns
    /// true; false when it never will, or when this client cannot reuse a connection with
    /// a request abandoned on it (the default).
    async fn answers_again(&mut self) -> bool {
        false
    }
}

/// A container the stack runs besides its database nodes (etcd, HAProxy, a Sentinel), on
/// the drill network under its own name, with `port` published.
#[derive(Debug, Clone, Default)]
pub struct Service {
    pub name: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub port: u16,
    /// Started before the database nodes (etcd), else after them.
    pub before_nodes: bool,
}

/// What a database must provide for drdrill to drill it.
#[async_trait]
pub trait Driver: Send + Sync {
    fn kind(&self) -> StackKind;
    /// The client-facing port inside the container.
    fn port(&self) -> u16;
    /// How a person reaches a node published on `host_port` (printed with `--keep`).
    fn client_command(&self, host_port: u16) -> String;
    /// Environment and command of each node; `nodes[0]` is the initial primary. A replica
    /// replicates from `upstream` (host, port): the primary, or the proxy's link to it.
    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>);
    /// Waits until the primary accepts writes and every replica replicates from it (for an
    /// orchestrated stack: until the orchestrator has a primary, which becomes the stack's).
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>>;
    /// Creates what the workload writes into.
    async fn prepare(&self, primary: SocketAddr) -> Result<()>;
    /// One orchestrator-style health probe: is this node up and the writable primary?
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool;
    /// How much of the primary's change stream this replica has received (higher is further).
    async fn position(&self, addr: SocketAddr) -> Result<u64>;
    /// Makes `node` a writable primary.
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()>;
    /// Points `replica` at `primary`.
    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()>;
    /// Called once replicas are repointed (e.g. re-enable synchronous replication).
    async fn after_failover(&self, _stack: &Stack, _primary: &str, _replicas: &[String]) -> Result<()> {
        Ok(())
    }
    /// Brings a stopped or killed old primary back as a replica of `primary`.
    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()>;
    /// Every workload record stored on the node.
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack>;
    /// Opens a workload connection.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String>;
    /// Containers the stack runs besides the database nodes.
    fn services(&self, _nodes: &[String]) -> Vec<Service> {
        Vec::new()
    }
    /// Called once every container runs (e.g. to learn the nodes' addresses).
    async fn started(&self, _stack: &Stack) -> Result<()> {
        Ok(())
    }
    /// The service clients connect to (HAProxy, a Sentinel), when they do not connect to
    /// the current primary directly.
    fn client_entry(&self) -> Option<&'static str> {
        None
    }
    /// The stack's own orchestrator, when it has one: drdrill then never promotes.
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        None
    }
}

pub fn driver_for(spec: &StackSpec) -> Box<dyn Driver> {
    match spec.kind {
        StackKind::Postgres => Box::new(postgres::Postgres::new(spec)),
        StackKind::Redis => Box::new(redis::Redis::new(spec)),
        StackKind::RedisSentinel => Box::new(sentinel::RedisSentinel::new(spec)),
        StackKind::Patroni => Box::new(patroni::Patroni::new(spec)),
        StackKind::Mariadb => Box::new(mariadb::MariaDb::new(spec)),
        StackKind::MariadbMha => Box::new(mha::Mha::new(spec)),
        StackKind::External => Box::new(External::new(spec, Auth::default())),
    }
}

/// Polls `f` until it returns Ok or `timeout` passes; returns the last error.
pub async fn retry_until<T, F, Fut>(timeout: Duration, every: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}
