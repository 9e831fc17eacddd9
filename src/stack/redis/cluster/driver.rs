//! Redis Cluster (`redis-cluster`): every node listens on the port it is published on and
//! announces 127.0.0.1 as its hostname, so a client on the host follows MOVED to it, while
//! the nodes gossip and replicate over the drill network; `redis-cli --cluster create`
//! makes the first `masters` nodes the primaries. The cluster fails over by itself
//! (`watch.rs`); drdrill never promotes.
use super::client::{Book, ClusterClient};
use super::topology::{SLOTS, Topology, slot_of};
use super::watch::ClusterWatch;
use crate::error::{Error, Result};
use crate::scenario::{CLUSTER_DEFAULTS, ClusterSpec, StackSpec};
use crate::stack::data::{DataPath, LagPath, WriteClient};
use crate::stack::redis::data::{KEY_PREFIX, RedisData, field};
use crate::stack::{Deployment, Driver, Orchestrator, ReadBack, ReplicaHealth, ShardInfo, Shards, Stack, retry_until};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The highest port a node can listen on: its cluster bus takes the port 10000 above.
const MAX_PORT: u16 = 55_535;

pub struct RedisCluster {
    spec: ClusterSpec,
    /// The shards when the cluster became healthy, and each slot's shard.
    shards: OnceLock<(Vec<ShardInfo>, Vec<u8>)>,
    /// Seed 001's settings, then the scenario's.
    settings: Vec<(String, String)>,
    data: ClusterData,
}

/// The cluster's data path: writes through the cluster client, records read from every
/// shard's primary.
pub struct ClusterData {
    book: Arc<OnceLock<Book>>,
    redis: RedisData,
    /// The nodes' `requirepass`, when `cluster.auth`.
    password: Option<String>,
}

/// A password for one run's nodes: 32 hex digits from the kernel's random source.
fn new_password() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // never a fixed password: the clock's nanoseconds and the process id instead
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        bytes = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisCluster {
    pub fn new(spec: &StackSpec) -> Self {
        let mut settings: Vec<(String, String)> =
            CLUSTER_DEFAULTS.iter().filter(|(k, _)| !spec.settings.contains_key(*k)).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        settings.extend(spec.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
        let cluster = spec.cluster.clone().unwrap_or_default();
        let password = cluster.auth.then(new_password);
        if let Some(p) = &password {
            crate::secrets::add_secrets([p.clone()]);
            settings.extend(["requirepass", "masterauth"].map(|k| (k.to_string(), p.clone())));
        }
        RedisCluster {
            spec: cluster,
            shards: OnceLock::new(),
            settings,
            data: ClusterData { book: Arc::default(), redis: RedisData::drill_with_password(password.clone()), password },
        }
    }

    /// `cluster-node-timeout` in ms, as the nodes run it.
    pub fn node_timeout_ms(&self) -> u64 {
        self.settings.iter().rev().find(|(k, _)| k == "cluster-node-timeout").and_then(|(_, v)| v.parse().ok()).unwrap_or(15_000)
    }
}

/// The shards of a healthy cluster, `shard-1` the one serving slot 0, and each slot's shard
/// (u8::MAX: none).
fn shards_of(t: &Topology, book: &Book) -> (Vec<ShardInfo>, Vec<u8>) {
    let mut map = vec![u8::MAX; usize::from(SLOTS)];
    let mut list = Vec::new();
    for (i, m) in t.masters().into_iter().enumerate() {
        let mut count = 0u32;
        for &(a, b) in &m.slots {
            for slot in a..=b.min(SLOTS - 1) {
                map[usize::from(slot)] = u8::try_from(i).unwrap_or(u8::MAX);
            }
            count += u32::from(b.min(SLOTS - 1) - a) + 1;
        }
        list.push(ShardInfo {
            name: format!("shard-{}", i + 1),
            primary: book.name(m.port),
            replicas: t.replicas_of(&m.id).iter().map(|r| book.name(r.port)).collect(),
            slots: m.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect::<Vec<_>>().join(","),
            share: f64::from(count) / f64::from(SLOTS),
        });
    }
    (list, map)
}

/// The cluster as node `addr` sees it, or why not.
async fn topology(book: &Book, addr: SocketAddr) -> Result<Topology> {
    book.topology(addr).await.map_err(|e| Error::infra(format!("failed to read CLUSTER NODES on {addr}")).cause_text(e))
}

#[async_trait]
impl Driver for RedisCluster {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    /// Every slot covered, every replica's link to its primary up.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let first = stack.node(&stack.nodes[0].name)?.addr();
        let want_replicas = stack.nodes.len() - usize::from(self.spec.masters);
        retry_until(timeout, Duration::from_millis(500), || async {
            let t = topology(self.book()?, first).await?;
            let covered = t.covered();
            if covered < u32::from(SLOTS) || t.nodes.len() < stack.nodes.len() {
                return Err(Error::infra(format!("the cluster covers {covered} of {SLOTS} slots with {} nodes known", t.nodes.len())));
            }
            let mut health = Vec::new();
            for n in t.nodes.iter().filter(|n| !n.is_master()) {
                let name = self.book()?.name(n.port);
                let info = self.data.redis.info_replication(self.book()?.addr(n.port)).await?;
                let link = field(&info, "master_link_status").unwrap_or("unknown");
                if link != "up" {
                    return Err(Error::infra(format!("replica {name}'s link to its primary is {link}")));
                }
                let master = n.master.as_deref().and_then(|m| t.by_id(m)).map(|m| self.book().map(|b| b.name(m.port))).transpose()?;
                health.push(ReplicaHealth { node: name, state: format!("replica of {}", master.unwrap_or_default()), lag_bytes: 0 });
            }
            if health.len() < want_replicas {
                return Err(Error::infra(format!("{} of {want_replicas} replicas are linked", health.len())));
            }
            let _ = self.shards.set(shards_of(&t, self.book()?));
            // in start order, not CLUSTER NODES' order
            health.sort_by_key(|h| stack.nodes.iter().position(|n| n.name == h.node));
            Ok(health)
        })
        .await
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn shards(&self) -> Option<Shards> {
        let (list, map) = self.shards.get()?.clone();
        let of = move |writer: u32, seq: u64| {
            let slot = slot_of(format!("{KEY_PREFIX}{writer}:{seq}").as_bytes());
            map.get(usize::from(slot)).map(|&i| usize::from(i)).filter(|&i| i != usize::from(u8::MAX))
        };
        Some(Shards { list, of: Arc::new(of) })
    }

    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(ClusterWatch { book: self.data.book.clone(), node_timeout_ms: self.node_timeout_ms(), spec: self.spec.clone() }))
    }
}

impl RedisCluster {
    /// `redis-cli`, logged in when the nodes ask for a password (its value is redacted
    /// from every text drdrill writes).
    fn cli(&self) -> Vec<String> {
        let mut cmd = vec!["redis-cli".to_string()];
        if let Some(p) = &self.data.password {
            cmd.extend(["--no-auth-warning".into(), "-a".into(), p.clone()]);
        }
        cmd
    }

    fn book(&self) -> Result<&Book> {
        self.data.book.get().ok_or_else(|| Error::infra("the cluster's addresses are not known yet (a bug)"))
    }
}

#[async_trait]
impl Deployment for RedisCluster {
    fn container(&self, node: &str, _primary: &str, _replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        self.container_on_port(node, 6379).unwrap_or_default()
    }

    /// None above 55535: the node's cluster bus listens 10000 above its port, and Redis
    /// exits at start when that passes 65535 (the kernel hands out free ports up to 60999).
    fn container_on_port(&self, _node: &str, port: u16) -> Option<(Vec<String>, Vec<String>)> {
        if port > MAX_PORT {
            return None;
        }
        let mut cmd: Vec<String> = [
            "--port",
            &port.to_string(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-announce-hostname",
            "127.0.0.1",
            "--cluster-preferred-endpoint-type",
            "hostname",
        ]
        .map(str::to_string)
        .to_vec();
        for (k, v) in &self.settings {
            cmd.push(format!("--{k}"));
            cmd.extend(v.split_whitespace().map(str::to_string));
        }
        Some((Vec::new(), cmd))
    }

    /// With `cluster.auth`, redis-cli asks for the password (it is on each node's command
    /// line: `docker inspect`).
    fn client_command(&self, host_port: u16) -> String {
        let ask = if self.data.password.is_some() { " --askpass" } else { "" };
        format!("redis-cli -c -h 127.0.0.1 -p {host_port}{ask}")
    }

    /// FLUSHALL on the node: its shard's keys.
    fn destroy_data_command(&self, _how: crate::scenario::DataLoss) -> Vec<String> {
        let mut cmd = self.cli();
        cmd.push("FLUSHALL".into());
        cmd
    }

    /// Learns every node's port and drill-network address, then creates the cluster with
    /// `redis-cli --cluster create` from inside the first node (the nodes must MEET on the
    /// addresses they reach each other on).
    async fn started(&self, stack: &Stack) -> Result<()> {
        let mut book = Book { host: Some(stack.docker.client_ip), ..Book::default() };
        let mut members = Vec::new();
        for n in &stack.nodes {
            book.names.insert(n.host_port, n.name.clone());
            book.seeds.push(n.host_port);
            let ip = stack.docker.ip(&n.container, &stack.network).await?;
            members.push(format!("{ip}:{}", n.host_port));
        }
        book.password = self.data.password.clone();
        let book = self.data.book.get_or_init(|| book);
        for n in &stack.nodes {
            let addr = book.addr(n.host_port);
            retry_until(Duration::from_secs(30), Duration::from_millis(100), || self.data.redis.command(addr, &["PING"])).await?;
        }
        // with sites the primaries alone, then each replica given to its primary by order
        // (redis-cli places replicas by address, not by site)
        let sited = stack.sites.is_some();
        let masters = usize::from(self.spec.masters);
        let replicas = if sited { "0".to_string() } else { self.spec.replicas_per_master.to_string() };
        let cli = self.cli();
        let mut cmd: Vec<&str> = cli.iter().map(String::as_str).collect();
        cmd.extend(["--cluster", "create"]);
        cmd.extend(members[..if sited { masters } else { members.len() }].iter().map(String::as_str));
        cmd.extend(["--cluster-replicas", &replicas, "--cluster-yes"]);
        let first = &stack.nodes[0].container;
        let created = tokio::time::timeout(Duration::from_secs(60), stack.exec_ok(first, "create the cluster", &cmd)).await;
        created.map_err(|_| Error::infra("redis-cli --cluster create did not finish within 60 s"))??;
        if sited {
            self.place_replicas(stack, book, &members).await?;
        }
        Ok(())
    }
}

impl RedisCluster {
    /// Replica `rc-(M+i)` (M primaries) follows primary `rc-(((i-1) mod M)+1)`: it meets the
    /// primary, then `CLUSTER REPLICATE`s it once it knows it.
    async fn place_replicas(&self, stack: &Stack, book: &Book, members: &[String]) -> Result<()> {
        let masters = usize::from(self.spec.masters);
        for (j, replica) in stack.nodes.iter().enumerate().skip(masters) {
            let primary = &stack.nodes[(j - masters) % masters];
            let id = topology(book, book.addr(primary.host_port)).await?.myself().map(|m| m.id.clone());
            let id = id.ok_or_else(|| Error::infra(format!("{} names no node `myself` in CLUSTER NODES", primary.name)))?;
            let (ip, port) = members[(j - masters) % masters].rsplit_once(':').unwrap_or_default();
            let at = book.addr(replica.host_port);
            self.data.redis.command(at, &["CLUSTER", "MEET", ip, port]).await?;
            let follow = ["CLUSTER", "REPLICATE", id.as_str()];
            retry_until(Duration::from_secs(30), Duration::from_millis(200), || self.data.redis.command(at, &follow))
                .await
                .map_err(|e| e.hint(format!("{} could not follow {}", replica.name, primary.name)))?;
        }
        Ok(())
    }
}

#[async_trait]
impl DataPath for ClusterData {
    fn port(&self) -> u16 {
        6379
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.book.get().cloned().unwrap_or_default();
        Ok(Box::new(ClusterClient::connect(book, addr, KEY_PREFIX, timeout).await?))
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        self.redis.prepare(primary).await
    }

    /// Up, a primary serving slots, and the cluster's state ok as it sees it.
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let book = self.book.get().cloned().unwrap_or_default();
        let serving = async { book.topology(addr).await.ok().and_then(|t| t.myself().map(|m| m.is_master() && !m.slots.is_empty())) };
        matches!(tokio::time::timeout(timeout, serving).await, Ok(Some(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        self.redis.position(addr).await
    }

    /// The records the cluster holds as node `addr` sees it: for every shard, the keys of
    /// its primary, except the shard `addr` replicates, whose keys are `addr`'s own. From a
    /// primary that is the whole key space; from a replica, what it would serve if promoted.
    ///
    /// A shard whose primary the cluster agrees has failed, with no replica promoted in its
    /// place (every node of the shard down), cannot be read: it is named in `unreadable`
    /// and its records count as lost.
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let book = self.book.get().cloned().unwrap_or_default();
        let t = topology(&book, addr).await?;
        let me = t.myself().cloned();
        let mine = me.as_ref().and_then(|m| m.master.clone());
        let mut all = ReadBack::default();
        for m in t.masters() {
            if m.failing() == Some("FAIL") {
                let name = self.book.get().map(|b| b.name(m.port)).unwrap_or_else(|| format!("port {}", m.port));
                let slots: Vec<String> = m.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                all.unreadable.push(format!(
                    "slots {} could not be read: their primary {name} failed and no replica took its place (the shard is lost; its records count as lost)",
                    slots.join(",")
                ));
                continue;
            }
            let from = if mine.as_deref() == Some(m.id.as_str()) { addr } else { SocketAddr::new(addr.ip(), m.port) };
            let rb = self.redis.read_back(from).await?;
            all.extend(&rb);
        }
        Ok(all)
    }

    fn lag(&self) -> &dyn LagPath {
        self.redis.lag()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_never_listens_where_its_bus_would_pass_65535() {
        let l = crate::scenario::parse(std::path::Path::new("t.yaml"), "name: t\ntargets: {}\nstack: {kind: redis-cluster}\n".into());
        let c = RedisCluster::new(&l.unwrap().scenario.stack);
        assert!(c.container_on_port("rc-1", 55_535).is_some_and(|(_, cmd)| cmd.contains(&"55535".to_string())));
        assert!(c.container_on_port("rc-1", 55_536).is_none());
    }
}
