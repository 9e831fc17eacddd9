//! Redis 7: primary + replicas (replicaof); promotion with REPLICAOF NO ONE.
use super::redis_conn::RedisConn;
use super::{Driver, ReadBack, ReplicaHealth, Stack, WriteClient, WriteError, retry_until};
use crate::error::{Error, Result};
use crate::scenario::{StackKind, StackSpec};
use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use std::net::SocketAddr;
use std::time::Duration;

pub struct Redis {
    settings: Vec<(String, String)>,
}

impl Redis {
    pub fn new(spec: &StackSpec) -> Self {
        Redis { settings: spec.settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect() }
    }
}

pub(super) const KEY_PREFIX: &str = "drdrill:";

pub(super) async fn conn(addr: SocketAddr, timeout: Duration) -> std::result::Result<MultiplexedConnection, redis::RedisError> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))),
    }
}

/// SCAN over the keys that start with a prefix, a batch at a time (never every key at once).
pub(super) struct KeyScan {
    pattern: String,
    cursor: Option<u64>,
}

impl KeyScan {
    pub(super) fn new(prefix: &str) -> KeyScan {
        KeyScan { pattern: format!("{prefix}*"), cursor: Some(0) }
    }

    /// The next batch, or None when the scan is complete.
    pub(super) async fn next(&mut self, c: &mut MultiplexedConnection, addr: SocketAddr) -> Result<Option<Vec<String>>> {
        let Some(cursor) = self.cursor else { return Ok(None) };
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(c)
            .await
            .map_err(|e| Error::infra(format!("failed to scan keys on {addr}")).cause(e))?;
        self.cursor = (next != 0).then_some(next);
        Ok(Some(keys))
    }
}

/// Every `<prefix><writer>:<seq>` key, streamed into a read-back.
pub(super) async fn read_back(c: &mut MultiplexedConnection, addr: SocketAddr, prefix: &str) -> Result<ReadBack> {
    let (mut scan, mut rb) = (KeyScan::new(prefix), ReadBack::default());
    while let Some(keys) = scan.next(c, addr).await? {
        for k in keys {
            let parsed = k.strip_prefix(prefix).and_then(|r| r.split_once(':'));
            if let Some((w, s)) = parsed
                && let (Ok(w), Ok(s)) = (w.parse(), s.parse())
            {
                rb.push(w, s);
            }
        }
    }
    Ok(rb)
}

pub(super) async fn admin(addr: SocketAddr) -> Result<MultiplexedConnection> {
    conn(addr, Duration::from_secs(3)).await.map_err(|e| Error::infra(format!("failed to connect to redis at {addr}")).cause(e))
}

pub(super) async fn info_replication(addr: SocketAddr) -> Result<Vec<(String, String)>> {
    read_info_replication(&mut admin(addr).await?, addr).await
}

/// `INFO replication` on an open connection, as (field, value) pairs.
pub(super) async fn read_info_replication(c: &mut MultiplexedConnection, addr: SocketAddr) -> Result<Vec<(String, String)>> {
    let text: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(c)
        .await
        .map_err(|e| Error::infra(format!("failed to read INFO replication on {addr}")).cause(e))?;
    Ok(text.lines().filter_map(|l| l.trim().split_once(':')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

pub(super) fn field<'a>(info: &'a [(String, String)], key: &str) -> Option<&'a str> {
    info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(super) async fn command(addr: SocketAddr, args: &[&str]) -> Result<()> {
    let mut c = admin(addr).await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async::<()>(&mut c).await.map_err(|e| Error::infra(format!("failed to run {} on {addr}", args.join(" "))).cause(e))
}

/// `ROLE` on a connection: whether the node is a primary.
pub(super) async fn is_master(c: &mut MultiplexedConnection) -> std::result::Result<bool, redis::RedisError> {
    Ok(names_master(&redis::cmd("ROLE").query_async(c).await?))
}

/// Whether a reply to `ROLE` is a primary's.
pub(super) fn names_master(role: &redis::Value) -> bool {
    matches!(role, redis::Value::Array(r) if matches!(r.first(), Some(redis::Value::BulkString(b)) if b == b"master"))
}

/// The workload client of every Redis stack (replicas, Sentinel, external).
pub(super) struct RedisClient {
    pub conn: RedisConn,
    /// The node, when the client found it through Sentinel.
    pub node: Option<String>,
}

#[async_trait]
impl WriteClient for RedisClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        self.conn.set(writer, seq, payload).await
    }
    fn node(&self) -> Option<String> {
        self.node.clone()
    }
}

#[async_trait]
impl Driver for Redis {
    fn kind(&self) -> StackKind {
        StackKind::Redis
    }

    fn port(&self) -> u16 {
        6379
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("redis-cli -h 127.0.0.1 -p {host_port}")
    }

    fn container(&self, node: &str, primary: &str, _replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut cmd: Vec<String> = vec!["--appendonly".into(), "yes".into(), "--appendfsync".into(), "everysec".into()];
        for (k, v) in &self.settings {
            cmd.push(format!("--{k}"));
            cmd.extend(v.split_whitespace().map(str::to_string));
        }
        if node != primary {
            cmd.extend(["--replicaof".into(), upstream.0.to_string(), upstream.1.to_string()]);
        }
        (Vec::new(), cmd)
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        let want = stack.replicas();
        retry_until(timeout, Duration::from_millis(500), || async {
            let p = info_replication(primary).await?;
            let offset: i64 = field(&p, "master_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut health = Vec::new();
            for r in &want {
                let info = info_replication(stack.node(r)?.addr()).await?;
                let link = field(&info, "master_link_status").unwrap_or("unknown").to_string();
                let sync = field(&info, "master_sync_in_progress").unwrap_or("1");
                if link != "up" || sync != "0" {
                    return Err(Error::infra(format!("failed to see replica {r} in sync (link {link})")));
                }
                let at: i64 = field(&info, "slave_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
                health.push(ReplicaHealth { node: r.clone(), state: "online".into(), lag_bytes: offset - at });
            }
            Ok(health)
        })
        .await
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        command(primary, &["PING"]).await
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let check = async {
            let mut c = conn(addr, timeout).await.ok()?;
            is_master(&mut c).await.ok()
        };
        matches!(tokio::time::timeout(timeout, check).await, Ok(Some(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let info = info_replication(addr).await?;
        let v = field(&info, "slave_repl_offset").or_else(|| field(&info, "master_repl_offset"));
        v.and_then(|v| v.parse().ok()).ok_or_else(|| Error::infra(format!("failed to read the replication offset of {addr}")))
    }

    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        command(stack.node(node)?.addr(), &["REPLICAOF", "NO", "ONE"]).await
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let (host, port) = stack.upstream(replica, primary);
        command(stack.node(replica)?.addr(), &["REPLICAOF", &host, &port.to_string()]).await
    }

    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()> {
        let n = stack.node(node)?;
        if !stack.docker.is_running(&n.container).await {
            stack.docker.start(&n.container).await?;
        }
        let addr = n.addr();
        let (host, port) = stack.upstream(node, primary);
        let port = port.to_string();
        let args = ["REPLICAOF".to_string(), host, port];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        retry_until(Duration::from_secs(30), Duration::from_millis(200), || command(addr, &args)).await
    }

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        read_back(&mut admin(addr).await?, addr, KEY_PREFIX).await
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let conn = RedisConn::connect(addr, timeout, KEY_PREFIX, None).await.map_err(|e| e.to_string())?;
        Ok(Box::new(RedisClient { conn, node: None }))
    }
}
