//! Where the clients write, and how a recovery moves them: by handing the writers the new
//! primary's address (a proxy or a VIP would), or, with the drill's DNS, by moving the
//! service's A record and leaving each writer's resolver to notice once its TTL runs out.
use crate::dns::DnsServer;
use crate::error::Result;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::watch;

/// Where clients send writes: the node a VIP / DNS name / proxy would point at.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTarget {
    /// Shared, not copied, by every write and connection that names it.
    pub node: std::sync::Arc<str>,
    pub addr: SocketAddr,
    /// With the drill's DNS, the name each writer looks up before it writes (`node` and
    /// `addr` are then only where the writers start).
    pub dns: Option<DnsTarget>,
}

impl ClientTarget {
    pub fn direct(node: &str, addr: SocketAddr) -> ClientTarget {
        ClientTarget { node: node.into(), addr, dns: None }
    }
}

/// A service's name in the drill's DNS, as its clients look it up.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsTarget {
    /// The drill's DNS server.
    pub server: SocketAddr,
    /// The service's name (`postgres`, for `postgres.drill.`).
    pub name: String,
    /// Every node's own address, and the port they all listen on.
    pub nodes: Vec<(Ipv4Addr, String)>,
    pub port: u16,
    /// Looked up once, never again (`workload.resolve: once`).
    pub once: bool,
}

impl DnsTarget {
    /// The name as asked: a name in the drill's zone, or an external endpoint's own (with
    /// its trailing dot).
    pub fn fqdn(&self) -> String {
        if self.name.ends_with('.') { self.name.clone() } else { format!("{}.{}", self.name, crate::dns::ZONE) }
    }

    /// The node behind `ip`, as a target.
    pub fn target(&self, ip: Ipv4Addr) -> ClientTarget {
        let node = self.nodes.iter().find(|(a, _)| *a == ip).map_or_else(|| ip.to_string().into(), |(_, n)| n.as_str().into());
        ClientTarget { node, addr: SocketAddr::from((ip, self.port)), dns: Some(self.clone()) }
    }
}

/// How a recovery repoints a service's clients.
#[derive(Clone)]
pub struct ClientRoute {
    tx: watch::Sender<ClientTarget>,
    dns: Option<Arc<DnsServer>>,
}

impl ClientRoute {
    /// The writers read `first`; with `dns`, a repoint moves the record `first.dns` names.
    pub fn new(first: ClientTarget, dns: Option<Arc<DnsServer>>) -> (ClientRoute, watch::Receiver<ClientTarget>) {
        let (tx, rx) = watch::channel(first);
        (ClientRoute { tx, dns }, rx)
    }

    /// Points the clients at `node` (reached at `addr`); says what it did. With the drill's
    /// DNS the record moves and nothing is told to the writers: they follow when their
    /// resolvers ask again.
    pub async fn repoint(&self, node: &str, addr: SocketAddr) -> Result<String> {
        let name = self.tx.borrow().dns.as_ref().map(|d| d.name.clone());
        match (&self.dns, name, addr.ip()) {
            (Some(server), Some(name), IpAddr::V4(ip)) => {
                server.set(&name, ip).await?;
                Ok(format!("DNS: {name}.{} now answers {ip} ({node}), TTL {} s", crate::dns::ZONE, server.ttl_s()))
            }
            // a name in someone else's DNS: the runbook moves it, the clients follow it
            (None, Some(name), _) => Ok(format!("the clients follow {name} by its TTL; drdrill moves no record of it")),
            _ => {
                let _ = self.tx.send(ClientTarget::direct(node, addr));
                Ok(format!("clients now write to {node} at {addr}"))
            }
        }
    }
}
