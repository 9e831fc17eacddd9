//! Redis Cluster (`redis-cluster`): every node listens on the port it is published on and
//! announces the address drdrill's clients reach it on (127.0.0.1, or the engine's host) as
//! its hostname, so a client on the host follows MOVED to it, while
//! the nodes gossip and replicate over the drill network; `redis-cli --cluster create`
//! makes the first `masters` nodes the primaries. The cluster fails over by itself
//! (`watch.rs`); drdrill never promotes.
use super::client::Book;
use super::data::{ClusterData, topology};
use super::watch::Timing;
use crate::error::{Error, Result};
use crate::scenario::{CLUSTER_DEFAULTS, ClusterSpec, StackSpec};
use crate::stack::ExternalData;
use crate::stack::data::{Auth, DataPath};
use crate::stack::{Deployment, Driver, Orchestrator, ReplicaHealth, Shards, Stack, retry_until};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The highest port a node can listen on: its cluster bus takes the port 10000 above.
const MAX_PORT: u16 = 55_535;

pub struct RedisCluster {
    spec: ClusterSpec,
    /// Seed 001's settings, then the scenario's.
    settings: Vec<(String, String)>,
    data: ClusterData,
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
        let c = RedisCluster { spec: cluster, settings, data: ClusterData::drill(password) };
        let timing = Timing { node_timeout_ms: Some(c.node_timeout_ms()), replicas_per_master: c.spec.replicas_per_master };
        let _ = c.data.timing.set(timing);
        c
    }

    /// `cluster-node-timeout` in ms, as the nodes run it.
    pub fn node_timeout_ms(&self) -> u64 {
        self.settings.iter().rev().find(|(k, _)| k == "cluster-node-timeout").and_then(|(_, v)| v.parse().ok()).unwrap_or(15_000)
    }
}

#[async_trait]
impl Driver for RedisCluster {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    fn attach(&self, auth: &Auth) -> Option<Box<dyn ExternalData>> {
        Some(Box::new(ClusterData::external(auth)))
    }

    /// Every slot covered, every node known, every replica's link to its primary up.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let first = stack.node(&stack.nodes[0].name)?.addr();
        let want_replicas = stack.nodes.len() - usize::from(self.spec.masters);
        retry_until(timeout, Duration::from_millis(500), || async {
            let book = self.data.book()?;
            let mut health = self.data.check_health(book, &topology(book, first).await?, stack.nodes.len(), want_replicas).await?;
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
        self.data.shards()
    }

    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(self.data.watch()))
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

    /// redis_exporter 1.45 on the port the node listens on (its published one), with the
    /// run's password under `cluster.auth`. Its `CLUSTER INFO` comes out as
    /// `redis_cluster_state` (1 ok), `redis_cluster_slots_ok` / `_pfail` / `_fail`,
    /// `redis_cluster_known_nodes` and `redis_cluster_size`. None before the nodes are
    /// known (`started`), which monitoring never asks for.
    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        let (addr, _) = self.data.book.get()?.names.iter().find(|(_, name)| *name == node)?;
        Some(crate::stack::redis::driver::exporter(node, addr.port(), self.data.password.as_deref()))
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
        let mut book = self.data.new_book();
        let mut members = Vec::new();
        for n in &stack.nodes {
            book.names.insert(n.addr(), n.name.clone());
            book.seeds.push(n.addr());
            let ip = stack.docker.ip(&n.container, &stack.network).await?;
            members.push(format!("{ip}:{}", n.host_port));
        }
        let book = self.data.book.get_or_init(|| book);
        // each node announces the address drdrill's clients reach its published port on
        let host = stack.docker.client_ip.to_string();
        for n in &stack.nodes {
            let addr = n.addr();
            retry_until(Duration::from_secs(30), Duration::from_millis(100), || self.data.redis.command(addr, &["PING"])).await?;
            self.data.redis.command(addr, &["CONFIG", "SET", "cluster-announce-hostname", &host]).await?;
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
            let id = topology(book, primary.addr()).await?.myself().map(|m| m.id.clone());
            let id = id.ok_or_else(|| Error::infra(format!("{} names no node `myself` in CLUSTER NODES", primary.name)))?;
            let (ip, port) = members[(j - masters) % masters].rsplit_once(':').unwrap_or_default();
            let at = replica.addr();
            self.data.redis.command(at, &["CLUSTER", "MEET", ip, port]).await?;
            let follow = ["CLUSTER", "REPLICATE", id.as_str()];
            retry_until(Duration::from_secs(30), Duration::from_millis(200), || self.data.redis.command(at, &follow))
                .await
                .map_err(|e| e.hint(format!("{} could not follow {}", replica.name, primary.name)))?;
        }
        Ok(())
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

    fn cluster(stack: &str) -> RedisCluster {
        let yaml = format!("name: t\ntargets: {{}}\nstack: {{kind: redis-cluster{stack}}}\n");
        RedisCluster::new(&crate::scenario::parse(std::path::Path::new("t.yaml"), yaml).unwrap().scenario.stack)
    }

    /// The exporter reaches the node where it listens (its published port, not 6379), with
    /// the run's password in its environment only, and none when `cluster.auth` is off.
    #[test]
    fn the_exporter_reaches_the_node_on_its_own_port_with_the_runs_password() {
        for (stack, auth) in [("", true), (", cluster: {auth: false}", false)] {
            let c = cluster(stack);
            assert!(c.exporter("rc-1").is_none(), "no exporter before the nodes' ports are known");
            let mut book = c.data.new_book();
            book.names.insert("127.0.0.1:41234".parse().unwrap(), "rc-1".into());
            book.names.insert("127.0.0.1:41240".parse().unwrap(), "rc-2".into());
            let _ = c.data.book.set(book);
            let e = c.exporter("rc-2").unwrap();
            assert!(e.cmd.contains(&"--redis.addr=redis://rc-2:41240".to_string()), "{:?}", e.cmd);
            match &c.data.password {
                Some(p) => {
                    assert!(auth);
                    assert_eq!(e.env, vec![format!("REDIS_PASSWORD={p}")]);
                    assert!(!e.cmd.iter().any(|a| a.contains(p.as_str())), "the password is on no command line");
                }
                None => assert!(!auth && e.env.is_empty(), "{:?}", e.env),
            }
        }
    }
}
