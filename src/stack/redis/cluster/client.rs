//! The workload's cluster-aware client. It keeps the slot map, sends each write to the
//! slot's owner, follows MOVED (updating the slot, and refreshing the whole map before
//! its next write) and ASK (`ASKING`, then the write, once), and refreshes the map from
//! any node after a connection error: what redis-rs' and Lettuce's cluster clients do by
//! default. It is drdrill's own, not the redis crate's `ClusterConnection`, because the
//! recorder needs what that client hides: the owner the write went to, and each refusal
//! (CLUSTERDOWN, a dead owner) as its own failed op rather than retries inside one op.
use super::super::conn::{Login, RedisConn};
use super::topology::{ClusterNode, Topology, resolve, slot_of};
use crate::stack::{WriteClient, WriteError};
use async_trait::async_trait;
use redis::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Where the nodes are, and what they are called: each by the address clients reach it at
/// (a drill node: its published port on 127.0.0.1; an external node: what it announces).
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// address -> node name
    pub names: HashMap<SocketAddr, String>,
    /// The nodes a client learns the map from: every node drdrill knows, in start order.
    pub seeds: Vec<SocketAddr>,
    /// The nodes' `requirepass`, when they ask for one.
    pub password: Option<String>,
    /// The ACL user to log in as (an external cluster's, with `credentials.user`).
    pub user: Option<String>,
}

impl Book {
    pub fn name(&self, addr: SocketAddr) -> String {
        self.names.get(&addr).cloned().unwrap_or_else(|| addr.to_string())
    }
    /// A node of `CLUSTER NODES` by its name, else by the endpoint it announces.
    pub fn name_of(&self, n: &ClusterNode) -> String {
        n.addr.map_or_else(|| format!("{}:{}", n.host, n.port), |a| self.name(a))
    }
    /// What a connection to a node logs in with.
    pub fn login(&self) -> Login<'_> {
        self.password.as_deref().map(|p| (self.user.as_deref(), p))
    }
    /// `CLUSTER NODES` on node `addr`, the announced names looked up.
    pub async fn topology(&self, addr: SocketAddr) -> Result<Topology, String> {
        let mut t = read_topology(addr, self.login()).await?;
        t.resolve_names().await;
        Ok(t)
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
    /// slot -> its owner
    map: Vec<Option<SocketAddr>>,
    stale: bool,
    conns: HashMap<SocketAddr, RedisConn>,
    /// The owner the last write was sent to.
    last: Option<SocketAddr>,
    /// When the map was last refreshed.
    refreshed: Option<tokio::time::Instant>,
}

/// What one send came to.
enum Reply {
    Done(Result<(), WriteError>),
    Moved(SocketAddr),
    Ask(SocketAddr),
}

impl ClusterClient {
    /// Learns the slot map from every node the book names.
    pub async fn connect(book: Book, prefix: &str, timeout: Duration) -> Result<ClusterClient, String> {
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
        let asks = book.seeds.iter().map(|&a| async move { tokio::time::timeout(REFRESH_WITHIN, book.topology(a)).await });
        let views: Vec<Topology> = futures_util::future::join_all(asks).await.into_iter().filter_map(|r| r.ok()?.ok()).collect();
        let map = Topology::merged_slot_map(&views);
        if map.iter().all(Option::is_none) {
            return Err(format!("failed to read the slot map from any of {} nodes", book.seeds.len()));
        }
        self.map = map;
        self.stale = false;
        Ok(())
    }

    async fn send(&mut self, to: SocketAddr, asking: bool, writer: u32, seq: u64, payload: &str) -> Reply {
        let conn = match self.conns.entry(to) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                match RedisConn::connect(to, SEED_TIMEOUT, &self.prefix, self.book.login()).await {
                    Ok(c) => v.insert(c),
                    Err(e) => {
                        self.stale = true;
                        return Reply::Done(Err(WriteError::Fail(format!("{}: {e}", self.book.name(to)))));
                    }
                }
            }
        };
        if asking && let Err(e) = conn.request(&redis::cmd("ASKING")).await {
            self.conns.remove(&to);
            return Reply::Done(Err(WriteError::Fail(format!("ASKING on {}: {e}", self.book.name(to)))));
        }
        match conn.set_reply(writer, seq, payload).await {
            Ok(Value::Okay) => Reply::Done(Ok(())),
            Ok(Value::ServerError(e)) => match (e.code(), redirect_to(e.details().unwrap_or_default(), to).await) {
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
                self.conns.remove(&to);
                self.stale = true;
                Reply::Done(Err(WriteError::Unknown(format!("{}: {e}", self.book.name(to)))))
            }
        }
    }
}

/// Where a redirect (`3999 127.0.0.1:30002`, `3999 redis-2.example:6379`) sends the write;
/// an unknown endpoint (`3999 :30002`) is the host the write went to, on the port given.
async fn redirect_to(details: &str, from: SocketAddr) -> Option<SocketAddr> {
    let (host, port) = details.split_whitespace().nth(1)?.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    match host {
        "" | "?" => Some(SocketAddr::new(from.ip(), port)),
        _ => resolve(host.trim_start_matches('[').trim_end_matches(']'), port).await,
    }
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
        let Some(mut to) = self.map.get(usize::from(slot)).copied().flatten() else {
            self.stale = true;
            return Err(WriteError::Fail(format!("slot {slot} has no owner in the client's map")));
        };
        let mut asking = false;
        for _ in 0..=MAX_REDIRECTS {
            self.last = Some(to);
            match self.send(to, asking, writer, seq, payload).await {
                Reply::Done(r) => return r,
                Reply::Moved(next) => {
                    self.map[usize::from(slot)] = Some(next);
                    self.stale = true;
                    (to, asking) = (next, false);
                }
                Reply::Ask(next) => (to, asking) = (next, true),
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

    #[tokio::test]
    async fn redirects_name_the_owner_by_its_address() {
        let from = SocketAddr::from(([10, 0, 0, 7], 6379));
        let at = |a: [u8; 4], p: u16| Some(SocketAddr::from((a, p)));
        assert_eq!(redirect_to("3999 127.0.0.1:30002", from).await, at([127, 0, 0, 1], 30002));
        assert_eq!(redirect_to("3999 10.0.0.8:6379", from).await, at([10, 0, 0, 8], 6379));
        assert_eq!(redirect_to("3999 :30002", from).await, at([10, 0, 0, 7], 30002), "an unknown endpoint: the same host");
        assert_eq!(redirect_to("3999", from).await, None);
    }
}
