//! `kind: external`: a stack drdrill did not start. The driver reaches its endpoint and
//! nodes with the scenario's credentials and never touches them otherwise: promote,
//! repoint and rejoin are the scenario's failover steps, not drdrill's.
mod mariadb;
mod pg;
mod redis;

use super::{Driver, Node, ReadBack, ReplicaHealth, Stack, WriteClient};
use crate::error::{Error, Result};
use crate::scenario::{ENDPOINT, Engine, StackKind, StackSpec};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;

/// Login and namespace on an external database.
#[derive(Clone, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    /// Table (Redis: key prefix) the workload writes into.
    pub table: String,
    /// This run's id: every row carries it, and only those rows are read back or removed.
    pub run: String,
}

/// What drdrill does on one engine of an external stack.
#[async_trait]
pub(super) trait Access: Send + Sync {
    fn port(&self) -> u16;
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String>;
    /// Creates the table if missing.
    async fn prepare(&self, addr: SocketAddr) -> Result<()>;
    /// Whether the node is a writable primary.
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String>;
    /// How far the node has received the change stream (a primary: how far it wrote).
    async fn position(&self, addr: SocketAddr) -> Result<u64>;
    /// The largest lag, in bytes, of the replicas this primary streams to.
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String>;
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack>;
    /// Removes this run's rows (and the table once empty); returns what it did.
    async fn cleanup(&self, addr: SocketAddr) -> Result<String>;
}

pub struct External {
    engine: Engine,
    access: Box<dyn Access>,
}

impl External {
    pub fn new(spec: &StackSpec, auth: Auth) -> External {
        let engine = spec.engine.unwrap_or(Engine::Postgres);
        let access: Box<dyn Access> = match engine {
            Engine::Postgres => Box::new(pg::Pg::new(auth)),
            Engine::Mariadb => Box::new(mariadb::MariaDb::new(auth)),
            Engine::Redis => Box::new(redis::Redis::new(auth)),
        };
        External { engine, access }
    }

    pub async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        self.access.max_lag(addr).await
    }

    pub async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        self.access.cleanup(addr).await
    }

    /// Which node is the writable primary now (the first that probes so), if any.
    pub async fn find_primary(&self, stack: &Stack, timeout: Duration) -> Option<String> {
        for n in &stack.nodes {
            if matches!(self.access.writable(n.addr(), timeout).await, Ok(true)) {
                return Some(n.name.clone());
            }
        }
        None
    }
}

/// Resolves `host:port` once (a DNS name is not looked up again during the drill).
pub async fn resolve(addr: &str) -> Result<SocketAddr> {
    let mut found = tokio::net::lookup_host(addr).await.map_err(|e| Error::usage(format!("failed to resolve {addr}")).cause(e))?;
    found.next().ok_or_else(|| Error::usage(format!("failed to resolve {addr}: no address")))
}

/// The nodes and the endpoint of an external stack, resolved.
pub async fn plan(spec: &StackSpec) -> Result<(Vec<Node>, Node)> {
    let node = |name: &str, a: SocketAddr| Node {
        name: name.to_string(),
        container: String::new(),
        host: a.ip(),
        host_port: a.port(),
        client_port: a.port(),
    };
    let endpoint = resolve(spec.endpoint.as_deref().unwrap_or_default()).await?;
    let mut nodes = Vec::new();
    for (name, addr) in &spec.nodes {
        nodes.push(node(name, resolve(addr).await?));
    }
    if nodes.is_empty() {
        nodes.push(node(ENDPOINT, endpoint));
    }
    Ok((nodes, node(ENDPOINT, endpoint)))
}

#[async_trait]
impl Driver for External {
    fn kind(&self) -> StackKind {
        StackKind::External
    }
    fn port(&self) -> u16 {
        self.access.port()
    }
    fn client_command(&self, host_port: u16) -> String {
        format!("{} on port {host_port}", self.engine.name())
    }
    fn container(&self, _: &str, _: &str, _: &[String], _: (&str, u16)) -> (Vec<String>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
    /// The endpoint must accept a connection and be a writable primary; every declared
    /// node is reported with its role and position.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let ep = stack.service(ENDPOINT)?.addr();
        let ask = Duration::from_secs(3);
        super::retry_until(timeout, Duration::from_millis(500), || async {
            match self.access.writable(ep, ask).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Error::infra(format!("the endpoint {ep} reaches a node that is not a writable primary"))),
                Err(e) => Err(Error::infra(format!("failed to reach the endpoint {ep}")).cause_text(e)),
            }
        })
        .await?;
        if let Some(p) = self.find_primary(stack, ask).await {
            stack.set_primary(&p);
        }
        let mut health = Vec::new();
        for n in stack.nodes.iter().filter(|n| n.name != stack.primary()) {
            let state = match self.access.writable(n.addr(), ask).await {
                Ok(false) => "replica",
                Ok(true) => "writable (a second primary?)",
                Err(_) => "unreachable",
            };
            let lag = -1; // not comparable across an external stack's nodes from here
            health.push(ReplicaHealth { node: n.name.clone(), state: state.into(), lag_bytes: lag });
        }
        Ok(health)
    }
    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        self.access.prepare(primary).await
    }
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, self.access.writable(addr, timeout)).await, Ok(Ok(true)))
    }
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        self.access.position(addr).await
    }
    async fn promote(&self, _: &Stack, node: &str) -> Result<()> {
        Err(external_only(node))
    }
    async fn repoint(&self, _: &Stack, replica: &str, _: &str) -> Result<()> {
        Err(external_only(replica))
    }
    async fn rejoin(&self, _: &Stack, node: &str, _: &str) -> Result<()> {
        Err(external_only(node))
    }
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        self.access.read_back(addr).await
    }
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        self.access.connect(addr, timeout).await
    }
    fn client_entry(&self) -> Option<&'static str> {
        Some(ENDPOINT)
    }
}

fn external_only(node: &str) -> Error {
    Error::usage(format!("drdrill does not change external node {node}: give failover `steps`"))
}
