//! The plain values the traits and the running stack share: a replica's health, a
//! container besides the nodes (`Sidecar`), a sharded stack's shards, a node's exporter,
//! and the handle on a node's clock (`ServerClock`), which the stack keeps.
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Health of one replica as seen from the primary.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReplicaHealth {
    pub node: String,
    pub state: String,
    pub lag_bytes: i64,
}

/// A container the stack runs besides its database nodes (etcd, HAProxy, a Sentinel), on
/// the drill network under its own name, with `port` published.
#[derive(Debug, Clone, Default)]
pub struct Sidecar {
    pub name: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub port: u16,
    /// Other ports it publishes (HAProxy's replica listener).
    pub also: Vec<u16>,
    /// Started before the database nodes (etcd), else after them.
    pub before_nodes: bool,
    /// Mounts the stack's volumes (a binlog streamer writing into the backup volume).
    pub volumes: bool,
    /// The nodes connect to it on `port` (an archive host): in a site of its own, across
    /// sites through the proxy, with the WAN link's toxics (`Stack::reach`).
    pub reached: bool,
    /// Its own image, when not the stack's (a VIP forwarder beside a database).
    pub image: Option<String>,
}

/// A node clock drdrill can set off: its server reads the offset from `skew_file` inside
/// the container (libfaketime, at most a second late), and drdrill reads the server's own
/// wall clock back to check what it applied.
#[async_trait]
pub trait ServerClock: Send + Sync {
    /// Where the server's libfaketime reads its offset (`+0`, `-2.000`: seconds).
    fn skew_file(&self) -> &'static str;
    /// The server's wall clock now, in Unix seconds, as its own SQL reads it.
    async fn now(&self, addr: std::net::SocketAddr) -> Result<f64>;
}

/// The shards of a stack with one writable primary per shard.
#[derive(Clone)]
pub struct Shards {
    pub list: Vec<ShardInfo>,
    /// The shard (an index into `list`) that holds record (writer, seq).
    pub of: Arc<dyn Fn(u32, u64) -> Option<usize> + Send + Sync>,
}

/// One shard as the stack described it when it became healthy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardInfo {
    /// `shard-1`, … in the order of the records' key space (a cluster's first slot).
    pub name: String,
    pub primary: String,
    pub replicas: Vec<String>,
    /// Its part of the key space in the engine's words (`0-5460`), and its share of it.
    pub slots: String,
    pub share: f64,
}

/// The places a stack keeps its records in when they are replicated differently (a DR
/// region fed by logical replication: the tables, some published and some not): the
/// places, and which one holds each record. Checked and reported place by place.
#[derive(Clone)]
pub struct RecordGroups {
    /// What a place is, as the reports say it (`table`).
    pub what: &'static str,
    pub list: Vec<RecordGroup>,
    /// The place (an index into `list`) that holds record (writer, seq).
    pub of: Arc<dyn Fn(u32, u64) -> usize + Send + Sync>,
}

/// One place the records go to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordGroup {
    /// Its name in the engine (`users`).
    pub name: String,
    /// Whether its records are replicated to where the clients fail over (a published table).
    pub replicated: bool,
    /// How, in the engine's words (`in publication main_pub`, `not in publication main_pub`).
    pub how: String,
}

/// A replica that stopped applying the primary's changes, as its engine logged it: when
/// (the log's own time), why (the line), and how often it logged it since.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationStop {
    pub node: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub why: String,
    pub times: u64,
}

/// A Prometheus exporter for one node (from the drill's monitoring image).
#[derive(Debug, Clone, PartialEq)]
pub struct Exporter {
    /// Its name and version as the report says them (`postgres_exporter 0.11`).
    pub name: &'static str,
    /// The scrape job (`postgres`), and the prefix of the metrics it publishes (`pg_`).
    pub job: &'static str,
    pub prefix: &'static str,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// The port its /metrics listens on.
    pub port: u16,
    /// Files it reads, as (path in its container, contents): written under the evidence
    /// folder's `monitoring/` and mounted read-only (postgres_exporter's queries file).
    pub files: Vec<(String, String)>,
}

/// The engine's own stamp of the row version a node holds: when it was committed (at its
/// origin, in the engine's words, to the microsecond) and where (the node it was written on).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitStamp {
    pub committed: String,
    pub origin: String,
}
