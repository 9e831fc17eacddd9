//! The workload's cluster-aware client. It sends each write to its slot's owner in the
//! workload's shared slot map (`view.rs`), follows MOVED (updating the slot, and marking the
//! map stale) and ASK (`ASKING`, then the write, once), and marks the map stale after a
//! refusal or a connection error: the next write of any client refreshes it, as redis-rs'
//! and Jedis' cluster clients share one slot cache. It is drdrill's own, not the redis
//! crate's `ClusterConnection`, because the recorder needs what that client hides: the
//! owner the write went to, and each refusal (CLUSTERDOWN, a dead owner) as its own failed
//! op rather than retries inside one op.
use super::super::conn::{Login, RedisConn};
use super::topology::{ClusterNode, Topology, resolve, slot_of};
use super::view::{CONNECT_WITHIN, Map, SlotMap};
use crate::stack::{WriteClient, WriteError};
use async_trait::async_trait;
use redis::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
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

/// Redirects one write follows before it gives up (a map in motion).
const MAX_REDIRECTS: usize = 2;

pub struct ClusterClient {
    book: Book,
    prefix: String,
    /// The workload's map, and the generation of it this client writes by.
    shared: Arc<SlotMap>,
    generation: u64,
    /// This client's copy: the shared map, with the MOVED it followed since.
    map: Arc<Map>,
    conns: HashMap<SocketAddr, RedisConn>,
    /// The owner the last write was sent to.
    last: Option<SocketAddr>,
    /// The key of the last write (the prefix, then `writer:seq`), reused.
    key: Vec<u8>,
    /// The book's names, shared with every op that names the owner.
    names: HashMap<SocketAddr, Arc<str>>,
}

/// What one send came to.
enum Reply {
    Done(Result<(), WriteError>),
    Moved(SocketAddr),
    Ask(SocketAddr),
}

impl ClusterClient {
    /// A client writing by the workload's map `shared` (read from every node the book names
    /// when no client has read it yet).
    pub async fn connect(book: Book, shared: Arc<SlotMap>, prefix: &str, timeout: Duration) -> Result<ClusterClient, String> {
        let first = tokio::time::timeout(timeout, async {
            match shared.current() {
                (g, Some(map)) => Ok((g, map)),
                (g, None) => shared.refresh(g, &book.seeds, book.login()).await,
            }
        });
        let (generation, map) = first.await.map_err(|_| "no node answered CLUSTER NODES in time".to_string())??;
        let key = prefix.as_bytes().to_vec();
        let names = book.names.iter().map(|(a, n)| (*a, Arc::from(n.as_str()))).collect();
        Ok(ClusterClient { book, prefix: prefix.into(), shared, generation, map, conns: HashMap::new(), last: None, key, names })
    }

    /// The workload's map as it is now: another client's or the watch's newer one, or a read
    /// of every node when it is stale (shared, rate-limited: `SlotMap::refresh`).
    async fn follow_map(&mut self) -> Result<(), String> {
        if self.shared.is_stale() {
            (self.generation, self.map) = self.shared.refresh(self.generation, &self.book.seeds, self.book.login()).await?;
        } else if self.shared.generation() != self.generation
            && let (g, Some(map)) = self.shared.current()
        {
            (self.generation, self.map) = (g, map);
        }
        Ok(())
    }

    /// The slot of record (`writer`, `seq`)'s key, without allocating.
    fn slot(&mut self, writer: u32, seq: u64) -> u16 {
        let mut n = itoa::Buffer::new();
        self.key.truncate(self.prefix.len());
        self.key.extend_from_slice(n.format(writer).as_bytes());
        self.key.push(b':');
        self.key.extend_from_slice(n.format(seq).as_bytes());
        slot_of(&self.key)
    }

    async fn send(&mut self, to: SocketAddr, asking: bool, writer: u32, seq: u64, payload: &str) -> Reply {
        let conn = match self.conns.entry(to) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                match RedisConn::connect(to, CONNECT_WITHIN, &self.prefix, self.book.login()).await {
                    Ok(c) => v.insert(c),
                    Err(e) => {
                        self.shared.mark_stale();
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
                    if code == "CLUSTERDOWN" {
                        self.shared.mark_stale();
                    }
                    Reply::Done(Err(WriteError::Fail(format!("{code} {}", e.details().unwrap_or_default()))))
                }
            },
            Ok(other) => Reply::Done(Err(WriteError::Unknown(format!("unexpected reply to SET: {other:?}")))),
            Err(e) => {
                // the connection is gone or unreadable: the owner may have changed
                self.conns.remove(&to);
                self.shared.mark_stale();
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
    let mut c = RedisConn::connect(addr, CONNECT_WITHIN, "", login).await.map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("NODES");
    match tokio::time::timeout(CONNECT_WITHIN, c.request(&cmd)).await {
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
        self.follow_map().await.map_err(WriteError::Fail)?;
        let slot = self.slot(writer, seq);
        let Some(mut to) = self.map.owner(slot) else {
            self.shared.mark_stale();
            return Err(WriteError::Fail(format!("slot {slot} has no owner in the client's map")));
        };
        let mut asking = false;
        for _ in 0..=MAX_REDIRECTS {
            self.last = Some(to);
            match self.send(to, asking, writer, seq, payload).await {
                Reply::Done(r) => return r,
                Reply::Moved(next) => {
                    Arc::make_mut(&mut self.map).set(slot, next);
                    self.shared.mark_stale();
                    (to, asking) = (next, false);
                }
                Reply::Ask(next) => (to, asking) = (next, true),
            }
        }
        Err(WriteError::Fail(format!("slot {slot}: more than {MAX_REDIRECTS} redirects")))
    }

    /// A refusal came on a live connection, and a lost one is dropped inside: the client,
    /// with its connections to the other owners, serves the next write as a cluster
    /// client in an application would.
    fn keeps_after_failure(&self) -> bool {
        true
    }

    /// The owner the last write was sent to.
    fn node(&self) -> Option<Arc<str>> {
        self.last.map(|p| self.names.get(&p).cloned().unwrap_or_else(|| p.to_string().into()))
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
