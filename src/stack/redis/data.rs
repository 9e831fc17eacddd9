//! Redis's data path, for the redis and redis-sentinel stacks (keys `drdrill:<writer>:<seq>`)
//! and for an external Redis (the scenario's login; keys `<table>:<run>:<writer>:<seq>`).
use super::conn::{RedisConn, names_master};
use crate::error::{Error, Result};
use crate::stack::ExternalData;
use crate::stack::ReadBack;
use crate::stack::data::{Auth, DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, Scope, WriteClient, WriteError};
use async_trait::async_trait;
use redis::Value;
use redis::aio::MultiplexedConnection;
use std::net::SocketAddr;
use std::time::Duration;

/// The key prefix of a stack drdrill started.
pub(super) const KEY_PREFIX: &str = "drdrill:";
/// The replica-lag heartbeat (outside the prefix, so read-back never sees it).
const HEARTBEAT: &str = "drdrill-heartbeat";

pub struct RedisData {
    user: Option<String>,
    password: Option<String>,
    scope: Scope,
}

impl RedisData {
    /// The drill's own nodes: no login.
    pub fn drill() -> RedisData {
        RedisData { user: None, password: None, scope: Scope::Drill }
    }

    /// The drill's own nodes, which ask for `password` (`requirepass`).
    pub fn drill_with_password(password: Option<String>) -> RedisData {
        RedisData { user: None, password, scope: Scope::Drill }
    }

    /// Whether connections log in.
    fn logs_in(&self) -> bool {
        self.user.is_some() || self.password.is_some()
    }

    /// `INFO replication` on node `addr`, as (field, value) pairs.
    pub(super) async fn info_replication(&self, addr: SocketAddr) -> Result<Vec<(String, String)>> {
        read_info_replication(&mut self.admin(addr).await?, addr).await
    }

    /// An administrative command on node `addr` (`CLUSTER FAILOVER`), its reply ignored.
    pub(super) async fn command(&self, addr: SocketAddr, args: &[&str]) -> Result<()> {
        run_command(&mut self.admin(addr).await?, addr, args).await
    }

    /// `CONFIG GET key` on node `addr`: its value, None when the node has no such key.
    pub(super) async fn config_get(&self, addr: SocketAddr, key: &str) -> Result<Option<String>> {
        let mut c = self.admin(addr).await?;
        let pairs: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(|e| Error::infra(format!("failed to run CONFIG GET {key} on {addr}")).cause(e))?;
        Ok(pairs.get(1).cloned())
    }

    pub fn external(auth: &Auth) -> RedisData {
        RedisData { user: auth.user.clone(), password: auth.password.clone(), scope: auth.scope() }
    }

    /// The keys' prefix: `drdrill:`, or an external stack's `<table>:<run>:`.
    pub(super) fn prefix(&self) -> String {
        match &self.scope {
            Scope::Drill => KEY_PREFIX.to_string(),
            Scope::Run { table, run } => format!("{table}:{run}:"),
        }
    }

    /// An administrative connection within `timeout`, or why there is none.
    async fn open(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<MultiplexedConnection, String> {
        match self.logs_in() {
            false => conn(addr, timeout).await.map_err(|e| e.to_string()),
            true => self.conn_as(addr, timeout).await,
        }
    }

    /// A connection with the scenario's login.
    async fn conn_as(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<MultiplexedConnection, String> {
        use redis::IntoConnectionInfo;
        let base = redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()).into_connection_info().map_err(|e| e.to_string())?;
        let mut settings = redis::RedisConnectionInfo::default();
        if let Some(u) = &self.user {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.password {
            settings = settings.set_password(p);
        }
        let info = base.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("connect timed out".into()),
        }
    }

    async fn admin(&self, addr: SocketAddr) -> Result<MultiplexedConnection> {
        match self.logs_in() {
            false => admin(addr).await,
            true => self
                .conn_as(addr, self.scope.admin_timeout())
                .await
                .map_err(|e| Error::infra(format!("failed to connect to redis at {addr}")).cause_text(e)),
        }
    }
}

pub(super) async fn conn(addr: SocketAddr, timeout: Duration) -> std::result::Result<MultiplexedConnection, redis::RedisError> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))),
    }
}

/// An administrative connection to a node or a Sentinel drdrill started.
pub(super) async fn admin(addr: SocketAddr) -> Result<MultiplexedConnection> {
    conn(addr, Duration::from_secs(3)).await.map_err(|e| Error::infra(format!("failed to connect to redis at {addr}")).cause(e))
}

/// SCAN over the keys that start with a prefix, a batch at a time (never every key at once).
struct KeyScan {
    pattern: String,
    cursor: Option<u64>,
}

impl KeyScan {
    fn new(prefix: &str) -> KeyScan {
        KeyScan { pattern: format!("{prefix}*"), cursor: Some(0) }
    }

    /// The next batch, or None when the scan is complete.
    async fn next(&mut self, c: &mut MultiplexedConnection, addr: SocketAddr) -> Result<Option<Vec<String>>> {
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
async fn read_keys(c: &mut MultiplexedConnection, addr: SocketAddr, prefix: &str) -> Result<ReadBack> {
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

pub(super) async fn info_replication(addr: SocketAddr) -> Result<Vec<(String, String)>> {
    read_info_replication(&mut admin(addr).await?, addr).await
}

/// `INFO replication` on an open connection, as (field, value) pairs.
async fn read_info_replication(c: &mut MultiplexedConnection, addr: SocketAddr) -> Result<Vec<(String, String)>> {
    let text: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(c)
        .await
        .map_err(|e| Error::infra(format!("failed to read INFO replication on {addr}")).cause(e))?;
    Ok(parse_info(&text))
}

/// `INFO` text as (field, value) pairs.
fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.trim().split_once(':')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A primary's replica lines (`slaveN:ip=…,port=…,state=online,offset=123,lag=0`).
fn replica_lines(info: &[(String, String)]) -> impl Iterator<Item = &str> {
    info.iter().filter(|(k, _)| k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit())).map(|(_, v)| v.as_str())
}

/// One `key=value` of a replica line, as a number.
fn line_field(line: &str, key: &str) -> Option<i64> {
    line.split(',').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')).and_then(|v| v.parse().ok())
}

pub(super) fn field<'a>(info: &'a [(String, String)], key: &str) -> Option<&'a str> {
    info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(super) async fn command(addr: SocketAddr, args: &[&str]) -> Result<()> {
    run_command(&mut admin(addr).await?, addr, args).await
}

async fn run_command(c: &mut MultiplexedConnection, addr: SocketAddr, args: &[&str]) -> Result<()> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async::<()>(c).await.map_err(|e| Error::infra(format!("failed to run {} on {addr}", args.join(" "))).cause(e))
}

/// `ROLE` on a connection: whether the node is a primary.
async fn is_master(c: &mut MultiplexedConnection) -> std::result::Result<bool, redis::RedisError> {
    Ok(names_master(&redis::cmd("ROLE").query_async(c).await?))
}

/// The workload client of every Redis stack (replicas, Sentinel, external).
pub(super) struct RedisClient {
    pub conn: RedisConn,
    /// The node, when the client found it through Sentinel.
    pub node: Option<std::sync::Arc<str>>,
}

#[async_trait]
impl WriteClient for RedisClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        self.conn.set(writer, seq, payload).await
    }
    async fn read_newest(&mut self, writer: u32, invoked: u64) -> std::result::Result<Option<u64>, WriteError> {
        self.conn.newest(writer, invoked).await
    }
    fn node(&self) -> Option<std::sync::Arc<str>> {
        self.node.clone()
    }
}

#[async_trait]
impl DataPath for RedisData {
    fn port(&self) -> u16 {
        6379
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(RedisClient { conn: self.workload_conn(addr, timeout).await?, node: None }))
    }

    /// The node it reached names itself: the drill's nodes announce their names
    /// (`replica-announce-ip`).
    async fn connect_via(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let mut conn = self.workload_conn(addr, timeout).await?;
        let asked = conn.request(redis::cmd("CONFIG").arg("GET").arg("replica-announce-ip")).await;
        let node = match asked.map_err(|e| e.to_string())? {
            redis::Value::Array(v) => v.get(1).and_then(|n| redis::from_redis_value::<String>(n.clone()).ok()).filter(|n| !n.is_empty()),
            _ => None,
        };
        Ok(Box::new(RedisClient { conn, node: node.map(Into::into) }))
    }

    /// Redis needs no table: a stack drdrill started is asked for a PING, an external one
    /// for nothing.
    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        match self.scope {
            Scope::Drill => self.command(primary, &["PING"]).await,
            Scope::Run { .. } => Ok(()),
        }
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, self.writable(addr, timeout)).await, Ok(Ok(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let info = read_info_replication(&mut self.admin(addr).await?, addr).await?;
        let v = field(&info, "slave_repl_offset").or_else(|| field(&info, "master_repl_offset"));
        v.and_then(|v| v.parse().ok()).ok_or_else(|| Error::infra(format!("failed to read the replication offset of {addr}")))
    }

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        read_keys(&mut self.admin(addr).await?, addr, &self.prefix()).await
    }

    fn lag(&self) -> &dyn LagPath {
        self
    }
}

#[async_trait]
impl LagPath for RedisData {
    fn reported_as(&self) -> &'static str {
        "INFO replication lag and offset (on the primary)"
    }

    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()> {
        let mut c = self.admin(primary).await?;
        redis::cmd("SET")
            .arg(HEARTBEAT)
            .arg(0)
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| Error::infra(format!("failed to set the heartbeat on {primary}")).cause(e))
    }

    /// On a stream of its own, as the workload's writes (`RedisConn`): the multiplexed
    /// connection's task and channel per request cost more than the request.
    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String> {
        let login = self.password.as_deref().map(|p| (self.user.as_deref(), p));
        let conn = RedisConn::connect(addr, timeout, "", login).await.map_err(|e| e.to_string())?;
        let mut read = redis::cmd("GET");
        read.arg(HEARTBEAT);
        Ok(Box::new(RedisHeartbeat { conn, beat: redis::Cmd::new(), read }))
    }
}

/// The heartbeat key on one node; the read's command made once, the beat's reused.
struct RedisHeartbeat {
    conn: RedisConn,
    beat: redis::Cmd,
    read: redis::Cmd,
}

#[async_trait]
impl Heartbeat for RedisHeartbeat {
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String> {
        self.beat.clear();
        self.beat.arg("SET").arg(HEARTBEAT).arg(seq);
        match self.conn.request(&self.beat).await.map_err(|e| e.to_string())? {
            Value::Okay => Ok(()),
            other => Err(format!("unexpected reply to SET: {other:?}")),
        }
    }
    async fn read(&mut self) -> std::result::Result<u64, String> {
        match self.conn.request(&self.read).await.map_err(|e| e.to_string())? {
            Value::Nil => Ok(0),
            Value::BulkString(b) => {
                std::str::from_utf8(&b).ok().and_then(|t| t.parse().ok()).ok_or_else(|| "the heartbeat is not a number".into())
            }
            other => Err(format!("unexpected reply to GET: {other:?}")),
        }
    }
    /// The primary's `INFO replication` line for the replica (found by the name it announces,
    /// or its drill-network address): its acknowledged offset and `lag` (whole seconds).
    async fn engine_lag(&mut self, replica: &ReplicaAt) -> std::result::Result<EngineLag, String> {
        // listed by the name it announces (stack kind redis), else by its drill-network address
        let names = [Some(replica.name.as_str()), replica.ip.as_deref()];
        let text = match self.conn.request(redis::cmd("INFO").arg("replication")).await.map_err(|e| e.to_string())? {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::VerbatimString { text, .. } => text,
            other => return Err(format!("unexpected reply to INFO: {other:?}")),
        };
        let info = parse_info(&text);
        let top: i64 = field(&info, "master_repl_offset").and_then(|v| v.parse().ok()).ok_or("not a primary")?;
        let line = replica_lines(&info)
            .find(|v| v.split(',').any(|kv| names.iter().flatten().any(|n| kv.strip_prefix("ip=") == Some(n))))
            .ok_or_else(|| format!("{} is not connected to this primary", replica.name))?;
        let offset = line_field(line, "offset");
        Ok(EngineLag {
            reported_ms: line_field(line, "lag").map(|s| s as f64 * 1000.0),
            behind_bytes: offset.map(|o| top - o),
            position: offset.map(|o| o.to_string()),
        })
    }
}

#[async_trait]
impl ExternalData for RedisData {
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let mut c = self.open(addr, timeout).await?;
        is_master(&mut c).await.map_err(|e| e.to_string())
    }

    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        let mut c = self.admin(addr).await.map_err(|e| e.one_line())?;
        let info = read_info_replication(&mut c, addr).await.map_err(|e| e.one_line())?;
        let top: u64 = field(&info, "master_repl_offset").and_then(|v| v.parse().ok()).ok_or("not a primary")?;
        let offsets: Vec<u64> = replica_lines(&info).filter_map(|l| line_field(l, "offset")).map(|o| o.max(0) as u64).collect();
        offsets.iter().map(|o| top.saturating_sub(*o)).max().ok_or_else(|| "no replica is connected to this node".into())
    }

    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let deleted = self.delete_run_keys(addr).await?;
        Ok(format!("deleted {deleted} keys {}*", self.prefix()))
    }
}

impl RedisData {
    /// A workload connection to `addr`: the scenario's login, the drill's key prefix.
    async fn workload_conn(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<RedisConn, String> {
        let login = self.password.as_deref().map(|p| (self.user.as_deref(), p));
        RedisConn::connect(addr, timeout, &self.prefix(), login).await.map_err(|e| e.to_string())
    }

    /// Deletes this run's keys on node `addr`; returns how many.
    pub(super) async fn delete_run_keys(&self, addr: SocketAddr) -> Result<usize> {
        self.scope.run()?;
        let mut c = self.admin(addr).await?;
        let (mut scan, mut deleted) = (KeyScan::new(&self.prefix()), 0usize);
        // deleting keys while SCAN goes on is safe: it still returns every key that stays
        while let Some(keys) = scan.next(&mut c, addr).await? {
            for chunk in keys.chunks(500) {
                // one DEL per key, pipelined: a cluster node refuses a DEL of keys in two slots
                let mut pipe = redis::pipe();
                for k in chunk {
                    pipe.cmd("DEL").arg(k).ignore();
                }
                pipe.query_async::<()>(&mut c).await.map_err(|e| Error::infra(format!("failed to delete keys on {addr}")).cause(e))?;
            }
            deleted += keys.len();
        }
        Ok(deleted)
    }
}
