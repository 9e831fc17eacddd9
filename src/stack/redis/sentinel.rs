//! Redis 7 under Redis Sentinel: the nodes are plain Redis (the `redis` driver's), plus
//! `sentinels` Sentinel containers monitoring the primary as `drdrill`. Clients find the
//! primary through Sentinel on every reconnect (`SENTINEL get-master-addr-by-name`, then
//! `ROLE` on the node, as Sentinel-aware clients do); drdrill never repoints them. Sentinel
//! announces nodes by their drill-network address; drdrill translates it to the node's
//! port published on 127.0.0.1.
use super::conn::RedisConn;
use super::data::{KEY_PREFIX, RedisClient, admin, conn};
use super::driver::Redis;
use crate::error::{Error, Result};
use crate::scenario::{SentinelSpec, StackSpec};
use crate::stack::data::{DataPath, ThroughEntry, WriteClient};
use crate::stack::{Budgets, Observed, Orchestrator};
use crate::stack::{Deployment, Driver, ReplicaHealth, Sidecar, Stack, retry_until};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// The monitored primary's name in Sentinel.
const MASTER: &str = "drdrill";
const SENTINEL_PORT: u16 = 26379;

/// Where things are: node names by every address Sentinel may announce, and the
/// published addresses drdrill reaches them on.
#[derive(Debug, Default)]
struct Book {
    /// announced host (drill-network IP or name) -> node
    node_of: HashMap<String, String>,
    /// node -> published address
    addr_of: HashMap<String, SocketAddr>,
    /// the Sentinels' published addresses, in order
    sentinels: Vec<(String, SocketAddr)>,
}

pub struct RedisSentinel {
    /// Which replica the next reader's connection takes.
    next_replica: std::sync::atomic::AtomicUsize,
    redis: Redis,
    spec: SentinelSpec,
    book: Arc<OnceLock<Book>>,
}

impl RedisSentinel {
    pub fn new(spec: &StackSpec) -> Self {
        RedisSentinel {
            next_replica: Default::default(),
            redis: Redis::new(spec).announcing_addresses(),
            spec: spec.sentinel.clone().unwrap_or_default(),
            book: Arc::default(),
        }
    }

    fn book(&self) -> std::result::Result<&Book, String> {
        self.book.get().ok_or_else(|| "the stack's addresses are not known yet".to_string())
    }
}

/// `SENTINEL get-master-addr-by-name` on one Sentinel: the announced (host, port).
async fn master_addr(sentinel: SocketAddr, timeout: Duration) -> std::result::Result<(String, u16), String> {
    let mut c = conn(sentinel, timeout).await.map_err(|e| e.to_string())?;
    let reply: Option<(String, u16)> =
        tokio::time::timeout(timeout, redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(MASTER).query_async(&mut c))
            .await
            .map_err(|_| format!("sentinel {sentinel} did not answer"))?
            .map_err(|e| e.to_string())?;
    reply.ok_or_else(|| format!("sentinel {sentinel} knows no primary {MASTER}"))
}

/// `SENTINEL master drdrill` as a map.
async fn master_info(sentinel: SocketAddr) -> Result<HashMap<String, String>> {
    let mut c = admin(sentinel).await?;
    let flat: Vec<String> = redis::cmd("SENTINEL")
        .arg("master")
        .arg(MASTER)
        .query_async(&mut c)
        .await
        .map_err(|e| Error::infra(format!("failed to ask sentinel {sentinel} about {MASTER}")).cause(e))?;
    Ok(flat.chunks(2).filter(|kv| kv.len() == 2).map(|kv| (kv[0].clone(), kv[1].clone())).collect())
}

impl Book {
    fn node(&self, host: &str) -> Option<&String> {
        self.node_of.get(host)
    }
}

#[async_trait]
impl Deployment for RedisSentinel {
    fn client_command(&self, host_port: u16) -> String {
        self.redis.client_command(host_port)
    }
    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(super::driver::exporter(node, 6379, None))
    }
    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        Deployment::destroy_data_command(&self.redis, how)
    }

    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        self.redis.container(node, primary, replicas, upstream)
    }

    fn services(&self, nodes: &[String]) -> Vec<Sidecar> {
        let s = &self.spec;
        let conf = format!(
            "port {SENTINEL_PORT}\nbind 0.0.0.0\nprotected-mode no\ndir /data\nsentinel resolve-hostnames yes\n\
             sentinel monitor {MASTER} {primary} 6379 {q}\nsentinel down-after-milliseconds {MASTER} {da}\n\
             sentinel failover-timeout {MASTER} {ft}\nsentinel parallel-syncs {MASTER} {ps}\n",
            primary = nodes[0],
            q = s.quorum,
            da = s.down_after_ms,
            ft = s.failover_timeout_ms,
            ps = s.parallel_syncs,
        );
        // Sentinel rewrites its config file: it must be a writable file of its own
        let script = format!("printf '%s' '{conf}' > /data/sentinel.conf && exec redis-sentinel /data/sentinel.conf");
        (1..=s.sentinels)
            .map(|i| Sidecar {
                name: format!("sentinel-{i}"),
                entrypoint: Some(vec!["sh".into(), "-c".into(), script.clone()]),
                port: SENTINEL_PORT,
                ..Default::default()
            })
            .collect()
    }

    async fn started(&self, stack: &Stack) -> Result<()> {
        let mut book = Book::default();
        for n in &stack.nodes {
            let ip = stack.docker.ip(&n.container, &stack.network).await?;
            book.node_of.insert(ip, n.name.clone());
            book.node_of.insert(n.name.clone(), n.name.clone());
            book.addr_of.insert(n.name.clone(), n.addr());
        }
        book.sentinels = stack.services.iter().map(|s| (s.name.clone(), s.addr())).collect();
        self.book.set(book).map_err(|_| Error::infra("the stack was started twice (a bug)"))
    }
}

#[async_trait]
impl Driver for RedisSentinel {
    fn data(&self) -> &dyn DataPath {
        self
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn client_entry(&self) -> Option<&str> {
        Some("sentinel-1")
    }

    /// Readers on the replicas find them as a Sentinel-aware client does: by the
    /// Sentinels' replica list, asked again at each new connection.
    fn read_endpoint(&self, name: &str) -> Option<(&'static str, Option<u16>)> {
        (name == "replicas").then_some(("sentinel-1", None))
    }

    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(SentinelWatch { spec: self.spec.clone(), book: self.book.clone() }))
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let started = tokio::time::Instant::now();
        let health = self.redis.wait_healthy(stack, timeout).await?;
        let left = timeout.saturating_sub(started.elapsed());
        let (want_replicas, want_others) = (stack.nodes.len() - 1, stack.services.len() - 1);
        // every Sentinel must see the primary, all its replicas and the other Sentinels
        retry_until(left, Duration::from_millis(500), || async {
            for s in &stack.services {
                let m = master_info(s.addr()).await?;
                let num = |k: &str| m.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                let flags = m.get("flags").cloned().unwrap_or_default();
                if flags != "master" || num("num-slaves") < want_replicas || num("num-other-sentinels") < want_others {
                    return Err(Error::infra(format!(
                        "failed to see {} ready: flags {flags}, {} replicas, {} other sentinels",
                        s.name,
                        num("num-slaves"),
                        num("num-other-sentinels")
                    )));
                }
            }
            Ok(())
        })
        .await?;
        Ok(health)
    }
}

/// Redis's data path, except that a client finds the primary through Sentinel.
#[async_trait]
impl ThroughEntry for RedisSentinel {
    fn engine(&self) -> &dyn DataPath {
        &self.redis.data
    }

    /// A Sentinel-aware client: ask the Sentinels (the entry first, then the others, each
    /// with its share of the time left) for the primary, connect to it, and check with
    /// ROLE that it is one.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.book()?;
        let ((host, _port), deadline) = ask_sentinels(book, addr, timeout, master_addr).await?;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let node = book.node(&host).ok_or_else(|| format!("sentinel names an unknown primary {host}"))?.clone();
        let target = book.addr_of[&node];
        let mut c = RedisConn::connect(target, left(), KEY_PREFIX, None).await.map_err(|e| format!("{node}: {e}"))?;
        let master = tokio::time::timeout(left(), c.is_master())
            .await
            .map_err(|_| format!("{node} did not answer ROLE"))?
            .map_err(|e| e.to_string())?;
        if !master {
            return Err(format!("{node}, named primary by sentinel, is not a primary (ROLE)"));
        }
        Ok(Box::new(RedisClient { conn: c, node: Some(node.into()) }))
    }

    /// A reader's connection to a replica: the Sentinels (the entry first) asked for
    /// their replica list (`SENTINEL replicas`), a healthy one taken in turn (flags
    /// `slave`: not down, not disconnected), and connected to.
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.book()?;
        let (hosts, deadline) = ask_sentinels(book, addr, timeout, replica_hosts).await?;
        let pick = self.next_replica.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % hosts.len();
        let node = book.node(&hosts[pick]).ok_or_else(|| format!("sentinel names an unknown replica {}", hosts[pick]))?.clone();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let c = RedisConn::connect(book.addr_of[&node], left, KEY_PREFIX, None).await.map_err(|e| format!("{node}: {e}"))?;
        Ok(Box::new(RedisClient { conn: c, node: Some(node.into()) }))
    }
}

/// Asks the Sentinels, the one at `entry` first, then the others, each with its share of
/// what is left of `timeout`, as a client's per-Sentinel timeout does (one that never
/// answers, cut off with its site, must not hold the others): the first answer, and the
/// deadline the rest of the connection keeps to; the last refusal when none answered.
async fn ask_sentinels<T, F, Fut>(
    book: &Book,
    entry: SocketAddr,
    timeout: Duration,
    ask: F,
) -> std::result::Result<(T, tokio::time::Instant), String>
where
    F: Fn(SocketAddr, Duration) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut order: Vec<SocketAddr> = vec![entry];
    order.extend(book.sentinels.iter().map(|s| s.1).filter(|a| *a != entry));
    let (n, mut last) = (order.len(), String::from("no sentinel answered"));
    for (k, s) in order.into_iter().enumerate() {
        let share = deadline.saturating_duration_since(tokio::time::Instant::now()) / (n - k) as u32;
        match ask(s, share).await {
            Ok(v) => return Ok((v, deadline)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `SENTINEL replicas drdrill` on one Sentinel: the announced hosts of the replicas it
/// holds healthy (flags exactly `slave`); none is a refusal (the next Sentinel is asked).
async fn replica_hosts(sentinel: SocketAddr, timeout: Duration) -> std::result::Result<Vec<String>, String> {
    let mut c = conn(sentinel, timeout).await.map_err(|e| e.to_string())?;
    let reply: Vec<Vec<String>> = tokio::time::timeout(timeout, redis::cmd("SENTINEL").arg("replicas").arg(MASTER).query_async(&mut c))
        .await
        .map_err(|_| format!("sentinel {sentinel} did not answer"))?
        .map_err(|e| e.to_string())?;
    let field = |r: &[String], k: &str| r.chunks(2).find(|kv| kv.len() == 2 && kv[0] == k).map(|kv| kv[1].clone());
    let hosts: Vec<String> =
        reply.iter().filter(|r| field(r, "flags").as_deref() == Some("slave")).filter_map(|r| field(r, "ip")).collect();
    match hosts.is_empty() {
        true => Err(format!("sentinel {sentinel} lists no healthy replica of {MASTER}")),
        false => Ok(hosts),
    }
}

/// Sentinel's side of a failover, from its pub/sub events on every Sentinel.
struct SentinelWatch {
    spec: SentinelSpec,
    book: Arc<OnceLock<Book>>,
}

/// What one Sentinel event means for the drill.
fn interpret(sentinel: &str, channel: &str, payload: &str, book: &Book) -> Option<Observed> {
    let words: Vec<&str> = payload.split_whitespace().collect();
    let detail = format!("{sentinel}: {channel} {payload}");
    match channel {
        "+sdown" | "+odown" if words.first() == Some(&"master") => {
            Some(if channel == "+sdown" { Observed::Detected { detail } } else { Observed::Note { detail } })
        }
        // "+promoted-slave slave <ip>:<port> <ip> <port> @ drdrill <old ip> <old port>":
        // Sentinel saw the replica report itself primary
        "+promoted-slave" => match words.get(2).and_then(|h| book.node(h)) {
            Some(node) => Some(Observed::Promoted { node: node.clone(), detail }),
            None => Some(Observed::Note { detail }),
        },
        "+switch-master" => match words.get(3).and_then(|h| book.node(h)) {
            Some(node) => Some(Observed::Promoted { node: node.clone(), detail }),
            None => Some(Observed::Note { detail }),
        },
        "+try-failover"
        | "+elected-leader"
        | "+failover-state-select-slave"
        | "+selected-slave"
        | "+failover-end"
        | "-odown"
        | "-sdown"
        | "+convert-to-slave"
        | "+failover-end-for-timeout"
        | "-failover-abort-not-elected"
        | "-failover-abort-no-good-slave" => Some(Observed::Note { detail }),
        _ => None,
    }
}

#[async_trait]
impl Orchestrator for SentinelWatch {
    fn name(&self) -> &'static str {
        "Redis Sentinel"
    }

    async fn watch(&self, _stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()> {
        let book = self.book.get().ok_or_else(|| Error::infra("the stack's addresses are not known yet (a bug)"))?;
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<(String, String, String)>();
        let mut tasks = tokio::task::JoinSet::new();
        for (name, addr) in &book.sentinels {
            let client =
                redis::Client::open(format!("redis://{addr}/")).map_err(|e| Error::infra("failed to open a sentinel client").cause(e))?;
            let mut ps = client.get_async_pubsub().await.map_err(|e| Error::infra(format!("failed to subscribe to {name}")).cause(e))?;
            ps.psubscribe("*").await.map_err(|e| Error::infra(format!("failed to subscribe to {name}")).cause(e))?;
            let (name, ev_tx) = (name.clone(), ev_tx.clone());
            tasks.spawn(async move {
                let mut stream = ps.into_on_message();
                while let Some(m) = stream.next().await {
                    let payload: String = m.get_payload().unwrap_or_default();
                    if ev_tx.send((name.clone(), m.get_channel_name().to_string(), payload)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(ev_tx);
        // the first +sdown is the detection; the others, and every +promoted-slave /
        // +switch-master after the first promotion, are notes
        let (mut detected, mut promoted): (bool, Option<String>) = (false, None);
        while let Some((sentinel, channel, payload)) = ev_rx.recv().await {
            let Some(o) = interpret(&sentinel, &channel, &payload, book) else { continue };
            let o = match o {
                Observed::Detected { detail } if detected => Observed::Note { detail },
                Observed::Promoted { node, detail } if promoted.as_ref() == Some(&node) => {
                    Observed::Note { detail: format!("{detail} ({node})") }
                }
                o => o,
            };
            match &o {
                Observed::Detected { .. } => detected = true,
                Observed::Promoted { node, .. } => {
                    promoted = Some(node.clone());
                    detected = false;
                }
                Observed::Note { .. } | Observed::Moved { .. } | Observed::Said { .. } => {}
            }
            if tx.send(o).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn budgets(&self) -> Budgets {
        let s = &self.spec;
        Budgets {
            // counted from the first PING left unanswered, sent within a second of the fault
            detection_ms: Some(s.down_after_ms as f64 + 1000.0),
            detection_from: format!("down-after-milliseconds {} + Sentinel's 1 s PING period", s.down_after_ms),
            promotion_ms: Some(s.failover_timeout_ms as f64),
            promotion_from: format!("failover-timeout {} (quorum {} of {})", s.failover_timeout_ms, s.quorum, s.sentinels),
            reroute_ms: None,
            reroute_from: "clients ask Sentinel again on their next connection (no setting)".into(),
            ttl_ms: None,
            ttl_from: String::new(),
            dns_from: String::new(),
            claim: Some("seed 001 (Redis Sentinel): RTO < 1 min".into()),
        }
    }

    async fn switchover(&self, _stack: &Stack) -> Result<String> {
        let book = self.book.get().ok_or_else(|| Error::infra("the stack's addresses are not known yet (a bug)"))?;
        let (name, addr) = book.sentinels.first().ok_or_else(|| Error::infra("no sentinel to ask"))?;
        let mut c = admin(*addr).await?;
        redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(MASTER)
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| Error::infra(format!("{name} refused SENTINEL FAILOVER {MASTER}")).cause(e))?;
        Ok(format!("SENTINEL FAILOVER {MASTER} on {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Book {
        let mut b = Book::default();
        b.node_of.insert("172.20.0.3".into(), "redis-1".into());
        b.node_of.insert("172.20.0.4".into(), "redis-2".into());
        b
    }

    #[test]
    fn sentinel_events_map_to_phases() {
        let b = book();
        assert!(matches!(interpret("s1", "+sdown", "master drdrill 172.20.0.3 6379", &b), Some(Observed::Detected { .. })));
        assert!(interpret("s1", "+sdown", "slave 172.20.0.4:6379 172.20.0.4 6379 @ drdrill 172.20.0.3 6379", &b).is_none());
        let p = interpret("s1", "+promoted-slave", "slave 172.20.0.4:6379 172.20.0.4 6379 @ drdrill 172.20.0.3 6379", &b);
        assert!(matches!(p, Some(Observed::Promoted { ref node, .. }) if node == "redis-2"), "{p:?}");
        let p = interpret("s1", "+switch-master", "drdrill 172.20.0.3 6379 172.20.0.4 6379", &b);
        assert!(matches!(p, Some(Observed::Promoted { ref node, .. }) if node == "redis-2"), "{p:?}");
        assert!(matches!(interpret("s1", "+switch-master", "drdrill 172.20.0.3 6379 10.9.9.9 6379", &b), Some(Observed::Note { .. })));
        assert!(interpret("s1", "__sentinel__:hello", "x", &b).is_none());
    }
}
