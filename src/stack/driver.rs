//! What a stack must provide for drdrill to drill it, split by job: every stack has a
//! data path and a health check; a stack drdrill starts has a deployment; a stack drdrill
//! fails over itself has a promotion; a stack with its own orchestrator has that.
use super::bootstrap::Bootstrap;
use super::data::{Auth, DataPath};
use super::external_data::ExternalData;
use super::nodes::{Orchestrator, Stack};
use super::types::{CommitStamp, Exporter, RecordGroups, ReplicaHealth, ReplicationStop, ServerClock, Shards, Sidecar};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// One stack kind: its data path and health check, and the capabilities it has.
#[async_trait]
pub trait Driver: Send + Sync {
    /// How drdrill reaches the data on any node.
    fn data(&self) -> &dyn DataPath;
    /// Waits until the primary accepts writes and every replica replicates from it (for an
    /// orchestrated stack: until the orchestrator has a primary, which becomes the stack's).
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>>;
    /// The service clients connect to (HAProxy, a Sentinel, an external endpoint), when
    /// they do not connect to the current primary directly.
    fn client_entry(&self) -> Option<&str> {
        None
    }
    /// The kind's own read routing for readers `from: name`: the service readers connect
    /// to (`DataPath::connect_reader` reaches a replica through it), and the port it
    /// listens on for them inside, published beside its own (None: its own port).
    /// Patroni: `haproxy-replica`, HAProxy's replica listener; Sentinel: `replicas`, by
    /// the Sentinels' replica list.
    fn read_endpoint(&self, _name: &str) -> Option<(&'static str, Option<u16>)> {
        None
    }
    /// How drdrill starts the stack's containers; None for a stack it attaches to.
    fn deployment(&self) -> Option<&dyn Deployment> {
        None
    }
    /// How drdrill promotes a replica; None when it never does (an orchestrator or the
    /// scenario's steps do).
    fn promotion(&self) -> Option<&dyn Promotion> {
        None
    }
    /// The stack's own orchestrator, when it has one: drdrill then never promotes.
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        None
    }
    /// Who holds the clients' entry (a VIP), when the stack moves one: followed over the
    /// drill (two holders at once are a split brain), and its holder at the end is the
    /// primary read back.
    fn entry_holders(&self) -> Option<Arc<dyn super::EntryHolders>> {
        None
    }
    /// How drdrill backs the stack up and restores it onto a fresh node, when the scenario
    /// backs it up (`stack.backup`).
    fn restore(&self) -> Option<&dyn Restore> {
        None
    }
    /// A stack with one writable primary per shard (a Redis Cluster): its shards as they
    /// were when it became healthy, and which shard holds each record; None for a stack
    /// with one primary.
    fn shards(&self) -> Option<Shards> {
        None
    }
    /// A stack whose records go to places replicated differently (a DR region's published
    /// and unpublished tables): the places and which holds each record; None when every
    /// record is replicated alike.
    fn record_groups(&self) -> Option<RecordGroups> {
        None
    }
    /// Where a replica stopped applying the primary's changes during the drill, by its own
    /// log (a logical subscriber meeting DDL it lacks): read once the workload has stopped.
    async fn replication_stops(&self, _stack: &Stack) -> Vec<ReplicationStop> {
        Vec::new()
    }
    /// A stack whose every node is writable (multi-active): its shared key space and the
    /// engine's own conflict counts.
    fn multi_active(&self) -> Option<&dyn MultiActive> {
        None
    }
    /// For the kind that runs an engine bare: the engine's data path logged in with `auth`,
    /// for a stack of that engine drdrill did not start (`kind: external`).
    fn attach(&self, _auth: &Auth) -> Option<Box<dyn ExternalData>> {
        None
    }
}

impl dyn Driver + '_ {
    /// The deployment of a stack validation lets drdrill start.
    pub fn require_deployment(&self) -> Result<&dyn Deployment> {
        self.deployment().ok_or_else(|| missing("drdrill does not start"))
    }

    /// The promotion of a stack validation lets drdrill fail over.
    pub fn require_promotion(&self) -> Result<&dyn Promotion> {
        self.promotion().ok_or_else(|| missing("drdrill does not promote in"))
    }
}

fn missing(what: &str) -> Error {
    Error::infra(format!("{what} a stack of this kind (a bug: validation should have refused the scenario)"))
}

/// How drdrill runs a stack's containers.
#[async_trait]
pub trait Deployment: Send + Sync {
    /// Environment and command of each node; `nodes[0]` is the initial primary. A replica
    /// replicates from `upstream` (host, port): the primary, or the proxy's link to it.
    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>);
    /// The node's container when it listens inside on `port`, the port it is published on
    /// (a Redis Cluster node announces one port to its clients and its peers alike); None
    /// when nodes listen on the data path's port, published on any free port (`container`),
    /// or when the node cannot listen on `port` (then another free port is drawn).
    fn container_on_port(&self, _node: &str, _port: u16) -> Option<(Vec<String>, Vec<String>)> {
        None
    }
    /// Containers the stack runs besides the database nodes.
    fn services(&self, _nodes: &[String]) -> Vec<Sidecar> {
        Vec::new()
    }
    /// The command an operator would run on a node to destroy the workload's data (the
    /// `destroy_data` fault): every record deleted, or the table dropped.
    fn destroy_data_command(&self, _how: crate::scenario::DataLoss) -> Vec<String> {
        Vec::new()
    }
    /// Volumes every node mounts, as (name suffix, path): created once per drill, labelled,
    /// and outliving any node (a backup repository).
    fn volumes(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
    /// Called once every container runs (e.g. to learn the nodes' addresses).
    async fn started(&self, _stack: &Stack) -> Result<()> {
        Ok(())
    }
    /// How a person reaches a node published on `host_port` (printed with `--keep`).
    fn client_command(&self, host_port: u16) -> String;
    /// The Prometheus exporter that watches `node` from a container of its own beside it
    /// (`monitoring`), reaching it by its name on the drill's network.
    fn exporter(&self, _node: &str) -> Option<Exporter> {
        None
    }
    /// How a node's clock is set off and read, when its database server runs under
    /// libfaketime (the `clock_skew` fault).
    fn clock(&self) -> Option<Arc<dyn ServerClock>> {
        None
    }
    /// The shell command a server's own failover script runs to make replica `node` the
    /// primary, reaching it by its name on the drill's network (seed 004's Keepalived
    /// notify_master); None when the kind has none.
    fn promote_command(&self, _node: &str) -> Option<String> {
        None
    }
}

/// What drdrill reads of a stack whose every node is writable, besides the records.
#[async_trait]
pub trait MultiActive: Send + Sync {
    /// Every key of the shared key space on the node at `addr`, with the value (writer,
    /// seq) it holds.
    async fn read_keys(&self, addr: std::net::SocketAddr) -> Result<std::collections::BTreeMap<u32, (u32, u64)>>;
    /// What the engine itself counted on `node`, in its own words (pglogical: the conflicts
    /// it logged, by resolution), as (what, count).
    async fn engine_counts(&self, stack: &Stack, node: &str) -> Result<Vec<(String, u64)>>;
    /// The engine's commit stamp of the row version of each of `keys` on `node` (at
    /// `addr`), for the keys whose nodes disagree; empty when the engine keeps none.
    async fn commit_stamps(
        &self,
        _node: &str,
        _addr: std::net::SocketAddr,
        _keys: &[u32],
    ) -> Result<std::collections::BTreeMap<u32, CommitStamp>> {
        Ok(Default::default())
    }
    /// The node's membership as its engine reports it: whether it is in the cluster, taking
    /// writes (Galera: Synced, or a donor, in the primary component), and its state in the
    /// engine's words; or why it could not be read; None when the engine has no such state
    /// (every pglogical node is on its own). Watched through the drill.
    async fn member_state(&self, _addr: std::net::SocketAddr) -> Option<std::result::Result<(bool, String), String>> {
        None
    }
    /// How the node came back into the cluster after `since` (UTC), in the engine's words
    /// (Galera: an incremental or full state transfer), when its logs say.
    async fn rejoin_method(&self, _stack: &Stack, _node: &str, _since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        None
    }
    /// How an operator bootstraps it after it lost its primary component (quorum), when
    /// it has one (`failover: {mode: bootstrap}`).
    fn bootstrap(&self) -> Option<&dyn Bootstrap> {
        None
    }
}

/// How drdrill fails a stack over itself (scripted failover).
#[async_trait]
pub trait Promotion: Send + Sync {
    /// Makes `node` a writable primary.
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()>;
    /// Points `replica` at `primary`.
    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()>;
    /// Called once replicas are repointed (e.g. re-enable synchronous replication).
    async fn after_failover(&self, _stack: &Stack, _primary: &str, _replicas: &[String]) -> Result<()> {
        Ok(())
    }
    /// Makes `node` a writable primary holding everything committed up to `target` (UTC)
    /// and nothing after: a delayed replica rolled forward to just before an operator error.
    async fn promote_at(&self, _stack: &Stack, node: &str, _target: chrono::DateTime<chrono::Utc>) -> Result<()> {
        Err(Error::infra(format!("{node}: this stack cannot promote to a point in time")))
    }
    /// Brings a stopped or killed old primary back as a replica of `primary`.
    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()>;
}

/// How drdrill backs a stack up before the workload and rebuilds its primary from that
/// backup after a disaster (the `restore` failover; docs/restore.md).
#[async_trait]
pub trait Restore: Send + Sync {
    /// The tool, as reports name it ("pgBackRest 2.45").
    fn tool(&self) -> &'static str;
    /// The most acknowledged time the settings let a restore lose (ms), and the setting
    /// that says so.
    fn allowed_loss(&self) -> (u64, String);
    /// Takes the backup the restore will start from (the primary is healthy); returns what
    /// was backed up, in the tool's words.
    async fn backup(&self, stack: &Stack) -> Result<String>;
    /// Environment and command of a fresh, empty node that waits to be restored.
    fn fresh_node(&self, node: &str) -> (Vec<String>, Vec<String>);
    /// How a fresh node reaches the backup, as the restore's first step says it.
    fn reaches(&self) -> &'static str {
        "the repository mounted"
    }
    /// How it recovers to a point in time, when it can (`restore_to: before_fault`).
    fn point_in_time(&self) -> Option<&dyn PointInTime> {
        None
    }
    /// Restores the newest backup and everything archived since into the fresh node; with
    /// `target` (UTC), only what was committed up to that time.
    async fn fetch(&self, stack: &Stack, node: &str, target: Option<chrono::DateTime<chrono::Utc>>) -> Result<String>;
    /// Starts the database on the restored data (it replays, then takes writes).
    async fn start(&self, stack: &Stack, node: &str) -> Result<()>;
    /// Whether the database runs on the restored data, maybe still replaying. By default:
    /// it answers drdrill's data path.
    async fn running(&self, stack: &Stack, node: &str, data: &dyn DataPath) -> bool {
        match stack.node(node) {
            Ok(n) => data.position(n.addr()).await.is_ok(),
            Err(_) => false,
        }
    }
    /// Once it runs: replays what the backup does not hold (a streamed binlog), with
    /// `target` (UTC) only what was committed before it, and opens the node to its clients;
    /// returns what was replayed, in the tool's words. None when the database replays by
    /// itself (PostgreSQL's `restore_command`).
    async fn replay(&self, _stack: &Stack, _node: &str, _target: Option<chrono::DateTime<chrono::Utc>>) -> Result<Option<String>> {
        Ok(None)
    }
}

/// A backup that recovers to a point in time (`restore_to: before_fault`).
#[async_trait]
pub trait PointInTime: Send + Sync {
    /// On a node that still runs: archives what it has not archived yet (an operator's
    /// first step before a point-in-time recovery).
    async fn archive_now(&self, stack: &Stack, node: &str) -> Result<String>;
}
