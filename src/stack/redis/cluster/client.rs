//! The workload's cluster-aware client. It keeps the slot map, sends each write to the
//! slot's owner, follows MOVED (updating the slot, and refreshing the whole map before
//! its next write) and ASK (`ASKING`, then the write, once), and refreshes the map from
//! any node after a connection error: what redis-rs' and Lettuce's cluster clients do by
//! default. It is drdrill's own, not the redis crate's `ClusterConnection`, because the
//! recorder needs what that client hides: the owner the write went to, and each refusal
//! (CLUSTERDOWN, a dead owner) as its own failed op rather than retries inside one op.
use super::super::conn::{Login, RedisConn};
use super::topology::{Topology, slot_of};
use crate::stack::{WriteClient, WriteError};
use async_trait::async_trait;
use redis::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where the nodes are: each listens on its own published port.
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// The address their ports are published on.
    pub host: Option<IpAddr>,
    /// port -> node name
    pub names: HashMap<u16, String>,
    /// Every node's port, in start order: the seeds a client learns the map from.
    pub seeds: Vec<u16>,
    /// The nodes' `requirepass`, when they ask for one.
    pub password: Option<String>,
}

impl Book {
    pub fn name(&self, port: u16) -> String {
        self.names.get(&port).cloned().unwrap_or_else(|| format!("port {port}"))
    }
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.host.unwrap_or(IpAddr::from([127, 0, 0, 1])), port)
    }
    /// What a connection to a node logs in with.
    pub fn login(&self) -> Login<'_> {
        self.password.as_deref().map(|p| (None, p))
    }
    /// `CLUSTER NODES` on node `addr`.
    pub async fn topology(&self, addr: SocketAddr) -> Result<Topology, String> {
        read_topology(addr, self.login()).await
    }
}

/// How long a connection to a node may take to open.
const SEED_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long each node may take to answer a refresh's `CLUSTER NODES`.
const REFRESH_WITHIN: Duration = Duration::from_millis(200);
/// A client refreshes its map at most this often (redis-py waits 250 ms after a
/// CLUSTERDOWN before it refreshes; Lettuce rate-limits its adaptive refreshes).
const REFRESH_EVERY: Duration = Duration::from_millis(100);
/// Redirects one write follows before it gives up (a map in motion).
const MAX_REDIRECTS: usize = 2;

pub struct ClusterClient {
    book: Book,
    prefix: String,
    /// slot -> port of its owner
    map: Vec<Option<u16>>,
    stale: bool,
    conns: HashMap<u16, RedisConn>,
    /// The owner the last write was sent to.
    last: Option<u16>,
    /// When the map was last refreshed.
    refreshed: Option<tokio::time::Instant>,
}

/// What one send came to.
enum Reply {
    Done(Result<(), WriteError>),
    Moved(u16),
    Ask(u16),
}

impl ClusterClient {
    /// Learns the slot map from every node (`first`, the clients' entry, is one of them).
    pub async fn connect(book: Book, first: SocketAddr, prefix: &str, timeout: Duration) -> Result<ClusterClient, String> {
        let _ = first;
        let mut c =
            ClusterClient { book, prefix: prefix.into(), map: Vec::new(), stale: true, conns: HashMap::new(), last: None, refreshed: None };
        tokio::time::timeout(timeout, c.refresh()).await.map_err(|_| "no node answered CLUSTER NODES in time".to_string())??;
        Ok(c)
    }

    /// Reads the slot map from every node at once (each within REFRESH_WITHIN), the claim
    /// with the highest config epoch winning each slot; at most once per REFRESH_EVERY.
    async fn refresh(&mut self) -> Result<(), String> {
        if self.refreshed.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
            return Ok(());
        }
        self.refreshed = Some(tokio::time::Instant::now());
        let book = &self.book;
        let asks = book.seeds.iter().map(|&p| async move { tokio::time::timeout(REFRESH_WITHIN, book.topology(book.addr(p))).await });
        let views: Vec<Topology> = futures_util::future::join_all(asks).await.into_iter().filter_map(|r| r.ok()?.ok()).collect();
        let map = Topology::merged_slot_map(&views);
        if map.iter().all(Option::is_none) {
            return Err(format!("failed to read the slot map from any of {} nodes", book.seeds.len()));
        }
        self.map = map;
        self.stale = false;
        Ok(())
    }

    async fn send(&mut self, port: u16, asking: bool, writer: u32, seq: u64, payload: &str) -> Reply {
        let conn = match self.conns.entry(port) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                match RedisConn::connect(self.book.addr(port), SEED_TIMEOUT, &self.prefix, self.book.login()).await {
                    Ok(c) => v.insert(c),
                    Err(e) => {
                        self.stale = true;
                        return Reply::Done(Err(WriteError::Fail(format!("{}: {e}", self.book.name(port)))));
                    }
                }
            }
        };
        if asking && let Err(e) = conn.request(&redis::cmd("ASKING")).await {
            self.conns.remove(&port);
            return Reply::Done(Err(WriteError::Fail(format!("ASKING on {}: {e}", self.book.name(port)))));
        }
        match conn.set_reply(writer, seq, payload).await {
            Ok(Value::Okay) => Reply::Done(Ok(())),
            Ok(Value::ServerError(e)) => match (e.code(), e.details().and_then(redirect_port)) {
                ("MOVED", Some(to)) => Reply::Moved(to),
                ("ASK", Some(to)) => Reply::Ask(to),
                // in the server's words (`CLUSTERDOWN The cluster is down`); a node that
                // says the cluster is down may be cut off from it: refresh, as redis-py does
                (code, _) => {
                    self.stale |= code == "CLUSTERDOWN";
                    Reply::Done(Err(WriteError::Fail(format!("{code} {}", e.details().unwrap_or_default()))))
                }
            },
            Ok(other) => Reply::Done(Err(WriteError::Unknown(format!("unexpected reply to SET: {other:?}")))),
            Err(e) => {
                // the connection is gone or unreadable: the owner may have changed
                self.conns.remove(&port);
                self.stale = true;
                Reply::Done(Err(WriteError::Unknown(format!("{}: {e}", self.book.name(port)))))
            }
        }
    }
}

/// The port of a redirect's target (`3999 127.0.0.1:30002`).
fn redirect_port(details: &str) -> Option<u16> {
    details.split_whitespace().nth(1)?.rsplit_once(':')?.1.parse().ok()
}

/// `CLUSTER NODES` on one node.
async fn read_topology(addr: SocketAddr, login: Login<'_>) -> Result<Topology, String> {
    let mut c = RedisConn::connect(addr, SEED_TIMEOUT, "", login).await.map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("NODES");
    match tokio::time::timeout(SEED_TIMEOUT, c.request(&cmd)).await {
        Ok(Ok(Value::BulkString(b))) => Ok(Topology::parse(&String::from_utf8_lossy(&b))),
        Ok(Ok(Value::VerbatimString { text, .. })) => Ok(Topology::parse(&text)),
        Ok(Ok(other)) => Err(format!("unexpected reply to CLUSTER NODES: {other:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer to CLUSTER NODES".into()),
    }
}

#[async_trait]
impl WriteClient for ClusterClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> Result<(), WriteError> {
        if self.stale {
            self.refresh().await.map_err(WriteError::Fail)?;
        }
        let key = format!("{}{writer}:{seq}", self.prefix);
        let slot = slot_of(key.as_bytes());
        let Some(mut port) = self.map.get(usize::from(slot)).copied().flatten() else {
            self.stale = true;
            return Err(WriteError::Fail(format!("slot {slot} has no owner in the client's map")));
        };
        let mut asking = false;
        for _ in 0..=MAX_REDIRECTS {
            self.last = Some(port);
            match self.send(port, asking, writer, seq, payload).await {
                Reply::Done(r) => return r,
                Reply::Moved(to) => {
                    self.map[usize::from(slot)] = Some(to);
                    self.stale = true;
                    (port, asking) = (to, false);
                }
                Reply::Ask(to) => (port, asking) = (to, true),
            }
        }
        Err(WriteError::Fail(format!("slot {slot}: more than {MAX_REDIRECTS} redirects")))
    }

    /// The owner the last write was sent to.
    fn node(&self) -> Option<String> {
        self.last.map(|p| self.book.name(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_name_the_owner_by_its_port() {
        assert_eq!(redirect_port("3999 127.0.0.1:30002"), Some(30002));
        assert_eq!(redirect_port("3999 :30002"), Some(30002));
        assert_eq!(redirect_port("3999"), None);
    }
}
