//! The cluster's data path: writes through the cluster client, records read from every
//! shard's primary, the cluster's health and shards. A cluster drdrill started and an
//! external one (`engine: redis-cluster`) share it; only the login, the key prefix and
//! where the nodes' addresses come from differ.
use super::client::{Book, ClusterClient};
use super::reader::ClusterReader;
use super::topology::{SLOTS, Topology, slot_of};
use super::view::SlotMap;
use super::watch::{ClusterWatch, Timing};
use crate::error::{Error, Result};
use crate::scenario::ENDPOINT;
use crate::stack::ExternalData;
use crate::stack::data::{Auth, DataPath, LagPath, WriteClient};
use crate::stack::redis::data::{RedisData, field};
use crate::stack::{Orchestrator, ReadBack, ReplicaHealth, ShardInfo, Shards, Stack, retry_until};
use async_trait::async_trait;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub struct ClusterData {
    pub(super) book: Arc<OnceLock<Book>>,
    pub(super) redis: RedisData,
    /// The nodes' `requirepass` (with `cluster.auth`, or an external cluster's password).
    pub(super) password: Option<String>,
    /// An external cluster's ACL user, if the scenario names one.
    user: Option<String>,
    /// The shards when the cluster became healthy, and each slot's shard (u8::MAX: none).
    shards: OnceLock<(Vec<ShardInfo>, Arc<Vec<u8>>)>,
    /// What the failover budgets come from.
    pub(super) timing: Arc<OnceLock<Timing>>,
    /// The workload's slot map: every client's, and the watch's.
    slots: Arc<SlotMap>,
}

impl ClusterData {
    /// A cluster drdrill starts; its book is filled in once its nodes run.
    pub fn drill(password: Option<String>) -> ClusterData {
        let redis = RedisData::drill_with_password(password.clone());
        ClusterData {
            book: Arc::default(),
            redis,
            password,
            user: None,
            shards: OnceLock::new(),
            timing: Arc::default(),
            slots: Arc::default(),
        }
    }

    /// A cluster drdrill did not start, logged in with the scenario's credentials; its keys
    /// are this run's (`<table>:<run>:`).
    pub fn external(auth: &Auth) -> ClusterData {
        let redis = RedisData::external(auth);
        let (password, user) = (auth.password.clone(), auth.user.clone());
        ClusterData { book: Arc::default(), redis, password, user, shards: OnceLock::new(), timing: Arc::default(), slots: Arc::default() }
    }

    /// The cluster's own failover, watched from outside.
    pub(super) fn watch(&self) -> ClusterWatch {
        ClusterWatch { book: self.book.clone(), timing: self.timing.clone(), slots: self.slots.clone() }
    }

    /// An external cluster's timing: `cluster-node-timeout` as node `addr` runs it (None
    /// when it refuses CONFIG GET), and the most replicas of one shard.
    async fn learn_timing(&self, addr: SocketAddr) -> Timing {
        let nt = self.redis.config_get(addr, "cluster-node-timeout").await.ok().flatten().and_then(|v| v.parse().ok());
        let most = self.shards.get().and_then(|(list, _)| list.iter().map(|s| s.replicas.len()).max()).unwrap_or(1);
        Timing { node_timeout_ms: nt, replicas_per_master: u8::try_from(most).unwrap_or(u8::MAX) }
    }

    pub(super) fn book(&self) -> Result<&Book> {
        self.book.get().ok_or_else(|| Error::infra("the cluster's addresses are not known yet (a bug)"))
    }

    /// An empty book with this cluster's login.
    pub(super) fn new_book(&self) -> Book {
        Book { password: self.password.clone(), user: self.user.clone(), ..Book::default() }
    }

    /// The book once the nodes are known, else one with the login alone (an external
    /// cluster asked before it is healthy).
    fn known_book(&self) -> Cow<'_, Book> {
        self.book.get().map_or_else(|| Cow::Owned(self.new_book()), Cow::Borrowed)
    }

    /// Every slot covered, at least `want_nodes` nodes known and every replica linked to its
    /// primary (at least `want_replicas`), as `t` (one node's view) says. Once so, the shards
    /// are learnt; returns each replica's health.
    pub(super) async fn check_health(
        &self,
        book: &Book,
        t: &Topology,
        want_nodes: usize,
        want_replicas: usize,
    ) -> Result<Vec<ReplicaHealth>> {
        let covered = t.covered();
        if covered < u32::from(SLOTS) || t.nodes.len() < want_nodes {
            return Err(Error::infra(format!("the cluster covers {covered} of {SLOTS} slots with {} nodes known", t.nodes.len())));
        }
        let mut health = Vec::new();
        for n in t.nodes.iter().filter(|n| !n.is_master()) {
            let name = book.name_of(n);
            let addr = n.addr.ok_or_else(|| Error::infra(format!("replica {name} announces no address a client can reach")))?;
            let info = self.redis.info_replication(addr).await?;
            let link = field(&info, "master_link_status").unwrap_or("unknown");
            if link != "up" {
                return Err(Error::infra(format!("replica {name}'s link to its primary is {link}")));
            }
            let master = n.master.as_deref().and_then(|m| t.by_id(m)).map(|m| book.name_of(m)).unwrap_or_default();
            health.push(ReplicaHealth { node: name, state: format!("replica of {master}"), lag_bytes: 0 });
        }
        if health.len() < want_replicas {
            return Err(Error::infra(format!("{} of {want_replicas} replicas are linked", health.len())));
        }
        let _ = self.shards.set(shards_of(t, book));
        Ok(health)
    }

    /// The shards as they were when the cluster became healthy; a record's shard is its
    /// key's slot's.
    pub(super) fn shards(&self) -> Option<Shards> {
        let (list, map) = self.shards.get()?.clone();
        let prefix = self.redis.prefix();
        let of = move |writer: u32, seq: u64| {
            let slot = slot_of(format!("{prefix}{writer}:{seq}").as_bytes());
            map.get(usize::from(slot)).map(|&i| usize::from(i)).filter(|&i| i != usize::from(u8::MAX))
        };
        Some(Shards { list, of: Arc::new(of) })
    }

    /// An external cluster's book: the scenario's nodes by their names, then every node the
    /// cluster announces to `entry` (named by its address); and the cluster as `entry` sees it.
    async fn learn_book(&self, stack: &Stack, entry: SocketAddr) -> Result<(Book, Topology)> {
        let mut book = self.new_book();
        for n in &stack.nodes {
            if n.name != ENDPOINT {
                book.names.insert(n.addr(), n.name.clone());
            }
            book.seeds.push(n.addr());
        }
        let t = topology(&book, entry).await?;
        for a in t.nodes.iter().filter(|n| !n.has("noaddr")).filter_map(|n| n.addr) {
            if !book.seeds.contains(&a) {
                book.seeds.push(a);
            }
        }
        Ok((book, t))
    }

    /// The primaries serving slots as node `addr` sees them, each with its address; an
    /// error names the first that announces none.
    async fn primaries(&self, addr: SocketAddr) -> Result<Vec<(String, Option<SocketAddr>, bool)>> {
        let book = self.known_book();
        let t = topology(&book, addr).await?;
        Ok(t.masters().into_iter().map(|m| (book.name_of(m), m.addr, m.failing() == Some("FAIL"))).collect())
    }
}

/// The shards of a healthy cluster, `shard-1` the one serving slot 0, and each slot's shard
/// (u8::MAX: none).
fn shards_of(t: &Topology, book: &Book) -> (Vec<ShardInfo>, Arc<Vec<u8>>) {
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
            primary: book.name_of(m),
            replicas: t.replicas_of(&m.id).iter().map(|r| book.name_of(r)).collect(),
            slots: m.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect::<Vec<_>>().join(","),
            share: f64::from(count) / f64::from(SLOTS),
        });
    }
    (list, Arc::new(map))
}

/// The cluster as node `addr` sees it, or why not.
pub(super) async fn topology(book: &Book, addr: SocketAddr) -> Result<Topology> {
    book.topology(addr).await.map_err(|e| Error::infra(format!("failed to read CLUSTER NODES on {addr}")).cause_text(e))
}

#[async_trait]
impl DataPath for ClusterData {
    fn port(&self) -> u16 {
        6379
    }

    async fn connect(&self, _addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.known_book().into_owned();
        Ok(Box::new(ClusterClient::connect(book, self.slots.clone(), &self.redis.prefix(), timeout).await?))
    }

    /// A `READONLY` connection to `addr`, reading its own shard's keys.
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.known_book();
        let Some((list, map)) = self.shards.get() else { return Err("the cluster's shards are not known yet".into()) };
        let name = book.name(addr);
        let shard = list.iter().position(|s| s.primary == name || s.replicas.contains(&name));
        let shard = shard.and_then(|i| u8::try_from(i).ok()).ok_or_else(|| format!("{name} is in no shard of the cluster"))?;
        let slots = map.clone();
        let who = (Arc::from(name.as_str()), shard);
        Ok(Box::new(ClusterReader::connect(addr, who, slots, (&self.redis.prefix(), book.login()), timeout).await?))
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        self.redis.prepare(primary).await
    }

    /// Up, and a primary serving slots as it sees itself.
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(self.writable(addr, timeout).await, Ok(true))
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
        let book = self.known_book();
        let t = topology(&book, addr).await?;
        let mine = t.myself().and_then(|m| m.master.clone());
        let mut all = ReadBack::default();
        for m in t.masters() {
            let slots: Vec<String> = m.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            let name = book.name_of(m);
            if m.failing() == Some("FAIL") {
                all.unreadable.push(format!(
                    "slots {} could not be read: their primary {name} failed and no replica took its place (the shard is lost; its records count as lost)",
                    slots.join(",")
                ));
                continue;
            }
            let from = if mine.as_deref() == Some(m.id.as_str()) { Some(addr) } else { m.addr };
            let from = from.ok_or_else(|| Error::infra(format!("the primary {name} of slots {} announces no address", slots.join(","))))?;
            all.extend(&self.redis.read_back(from).await?);
        }
        Ok(all)
    }

    fn lag(&self) -> &dyn LagPath {
        self.redis.lag()
    }
}

#[async_trait]
impl ExternalData for ClusterData {
    /// A primary serving slots, as it sees itself.
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let book = self.known_book();
        let me = tokio::time::timeout(timeout, book.topology(addr)).await.map_err(|_| "no answer to CLUSTER NODES".to_string())??;
        Ok(me.myself().is_some_and(|m| m.is_master() && !m.slots.is_empty()))
    }

    /// The largest lag of any replica behind its primary, over every shard.
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        let mut worst = 0;
        for (name, at, failed) in self.primaries(addr).await.map_err(|e| e.one_line())? {
            let at = at.filter(|_| !failed).ok_or_else(|| format!("the primary {name} cannot be asked"))?;
            worst = worst.max(self.redis.max_lag(at).await.map_err(|e| format!("{name}: {e}"))?);
        }
        Ok(worst)
    }

    /// This run's keys deleted on every shard's primary; a shard that cannot be reached is
    /// named, its keys left.
    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let (mut deleted, mut left) = (0, Vec::new());
        for (name, at, failed) in self.primaries(addr).await? {
            match at.filter(|_| !failed) {
                Some(at) => deleted += self.redis.delete_run_keys(at).await.map_err(|e| e.hint(format!("on {name}")))?,
                None => left.push(name),
            }
        }
        let mut text = format!("deleted {deleted} keys {}* on every shard's primary", self.redis.prefix());
        if !left.is_empty() {
            text = format!("{text} but {}: they could not be reached, their keys are left", left.join(", "));
        }
        Ok(text)
    }

    /// Every slot served and every replica linked, as the clients' endpoint sees the
    /// cluster: the nodes the scenario names, and every node the cluster announces.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let entry = stack.service(ENDPOINT)?.addr();
        let health = retry_until(timeout, Duration::from_millis(500), || async {
            let (book, t) = self.learn_book(stack, entry).await?;
            let health = self.check_health(&book, &t, 0, 0).await?;
            let _ = self.book.set(book);
            Ok(health)
        })
        .await?;
        let _ = self.timing.set(self.learn_timing(entry).await);
        // the node drdrill reads back from and cleans up through: any primary serving slots
        if let Some(p) = crate::stack::external_data::first_writable(self, stack, Duration::from_secs(3)).await {
            stack.set_primary(&p);
        }
        Ok(health)
    }

    fn shards(&self) -> Option<Shards> {
        ClusterData::shards(self)
    }

    /// The cluster fails a shard over by itself: every node's `CLUSTER NODES`, read.
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(self.watch()))
    }
}
