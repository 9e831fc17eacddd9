//! `kind: external`: a stack drdrill did not start. The driver reaches its endpoint and
//! nodes through its engine's data path with the scenario's credentials and never touches
//! them otherwise: it has no deployment and no promotion (the scenario's failover steps
//! promote, repoint and rejoin).
use super::data::{Auth, DataPath};
use super::driver::Driver;
use super::external_data::{ExternalData, first_writable};
use super::nodes::{Node, Orchestrator, Stack};
use super::types::{ReplicaHealth, Shards};
use crate::error::{Error, Result};
use crate::scenario::{ENDPOINT, Engine, KINDS, READ_ENDPOINT, StackSpec};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct External {
    data: Box<dyn ExternalData>,
}

impl External {
    pub fn new(spec: &StackSpec, auth: Auth) -> External {
        // validation gives every external stack an engine; KINDS starts with one
        let engine = spec.engine.map_or(KINDS[0], Engine::kind);
        let bare = StackSpec { kind: engine, ..spec.clone() };
        let data = super::driver_for(&bare).attach(&auth).expect("the kind that runs an engine bare attaches (tested in stack)");
        External { data }
    }

    pub async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        self.data.max_lag(addr).await
    }

    pub async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        self.data.cleanup(addr).await
    }

    /// Which node is the writable primary now: the one drdrill calls the primary while it
    /// still probes so (the one an orchestrator promoted), else the first that probes so.
    pub async fn find_primary(&self, stack: &Stack, timeout: Duration) -> Option<String> {
        let current = stack.primary();
        if let Ok(n) = stack.node(&current)
            && matches!(self.data.writable(n.addr(), timeout).await, Ok(true))
        {
            return Some(current);
        }
        first_writable(self.data.as_ref(), stack, timeout).await
    }
}

/// Resolves `host:port` once (a DNS name is not looked up again during the drill).
pub async fn resolve(addr: &str) -> Result<SocketAddr> {
    let mut found = tokio::net::lookup_host(addr).await.map_err(|e| Error::usage(format!("failed to resolve {addr}")).cause(e))?;
    found.next().ok_or_else(|| Error::usage(format!("failed to resolve {addr}: no address")))
}

/// An external endpoint that is a name looked up through `resolver`: the DNS server the
/// clients ask, and the name as they ask it (fully qualified). None without `resolver`.
pub fn named_endpoint(spec: &StackSpec) -> Result<Option<(SocketAddr, String)>> {
    let Some(resolver) = &spec.resolver else { return Ok(None) };
    let server = resolver.parse().map_err(|_| Error::usage(format!("expected the resolver's ip:port, found {resolver}")))?;
    let host = spec.endpoint.as_deref().and_then(|e| e.rsplit_once(':')).map(|(h, _)| h).unwrap_or_default();
    let fqdn = if host.ends_with('.') { host.to_string() } else { format!("{host}.") };
    Ok(Some((server, fqdn)))
}

/// The endpoint looked up as its clients do: through `resolver` when it names one.
async fn resolve_endpoint(spec: &StackSpec) -> Result<SocketAddr> {
    let endpoint = spec.endpoint.as_deref().unwrap_or_default();
    let Some((server, name)) = named_endpoint(spec)? else { return resolve(endpoint).await };
    let port = endpoint.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
    let port = port.ok_or_else(|| Error::usage(format!("expected host:port, found {endpoint}")))?;
    let found = crate::dns::StubResolver::new(server)?.resolve(&name).await.map_err(|e| e.hint(format!("the clients ask {server}")))?;
    Ok(SocketAddr::from((found.ip, port)))
}

/// The nodes and the services of an external stack, resolved: its endpoint first, then
/// its read endpoint when it has one.
pub async fn plan(spec: &StackSpec) -> Result<(Vec<Node>, Vec<Node>)> {
    let node = |name: &str, a: SocketAddr| Node {
        name: name.to_string(),
        container: String::new(),
        host: a.ip(),
        host_port: a.port(),
        client_ip: a.ip(),
        client_port: a.port(),
        also: Vec::new(),
    };
    let endpoint = resolve_endpoint(spec).await?;
    let mut nodes = Vec::new();
    for (name, addr) in &spec.nodes {
        nodes.push(node(name, resolve(addr).await?));
    }
    if nodes.is_empty() {
        nodes.push(node(ENDPOINT, endpoint));
    }
    let mut services = vec![node(ENDPOINT, endpoint)];
    if let Some(r) = &spec.read_endpoint {
        services.push(node(READ_ENDPOINT, resolve(r).await?));
    }
    Ok((nodes, services))
}

#[async_trait]
impl Driver for External {
    fn data(&self) -> &dyn DataPath {
        self.data.as_ref()
    }
    /// Healthy as the engine judges it: one writable primary at the endpoint, or (a
    /// cluster) every slot served.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        self.data.wait_healthy(stack, timeout).await
    }
    fn shards(&self) -> Option<Shards> {
        self.data.shards()
    }
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        self.data.orchestrator()
    }
    fn client_entry(&self) -> Option<&str> {
        Some(ENDPOINT)
    }
    /// The application's read endpoint (`stack.read_endpoint`), read as a node.
    fn read_endpoint(&self, name: &str) -> Option<(&'static str, Option<u16>)> {
        (name == READ_ENDPOINT).then_some((READ_ENDPOINT, None))
    }
}
