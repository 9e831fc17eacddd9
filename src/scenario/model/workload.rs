//! `workload`: the clients that write sequenced records, their pace, timeouts, stall
//! hedging and the replica-lag measurement.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Concurrent writers. Default 4.
    #[serde(default = "default_writers")]
    pub writers: u16,
    /// Writes per second per writer; omit for unthrottled.
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// A write not answered within this is recorded `unknown`. Default 1000.
    #[serde(default = "default_op_timeout")]
    pub op_timeout_ms: u64,
    /// Pause after a write that did not succeed, so a down node is not hammered. Default 10.
    #[serde(default = "default_fail_backoff")]
    pub fail_backoff_ms: u64,
    /// Bytes of payload per record. Default 64.
    #[serde(default = "default_payload")]
    pub payload_bytes: usize,
    /// Keep writing this long after recovery (failover done, or last fault healed). Default 5000.
    #[serde(default = "default_after_recovery")]
    pub after_recovery_ms: u64,
    /// Hard bound on the workload, whatever happens. Default 120000.
    #[serde(default = "default_max_duration")]
    pub max_duration_ms: u64,
    /// Stall hedging: fresh attempts spread through a stalled write's timeout, so that
    /// the end of a packet-dropping outage is seen within a few ms (docs/measurement.md, "Resolution").
    #[serde(default)]
    pub hedge: HedgeSpec,
    /// Measure how long an acknowledged write takes to become readable on each replica
    /// (docs/measurement.md, "Replica lag"). On when present, or when `targets.replica_lag_ms`
    /// is set; off by default.
    #[serde(default)]
    pub replica_lag: Option<LagSpec>,
    /// With `dns`: `ttl` (default), the clients' resolver keeps each answer for its TTL;
    /// `once`, they look the name up once and never again.
    #[serde(default)]
    pub resolve: super::Resolve,
    /// With `sites`: the site the clients sit in; they reach other sites through its WAN
    /// links. Default: outside every site, reaching each one directly (and cut off from
    /// an isolated one).
    #[serde(default)]
    pub site: Option<String>,
    /// Multi-active stacks: a shared key space of this many keys. Every second write of
    /// each writer then updates one of them (to a value unique to the write) instead of
    /// inserting a record, and the drill judges the updates (docs/multi-active.md).
    #[serde(default)]
    pub keys: Option<u32>,
    /// Readers beside the writers: each asks a node for a writer's newest record on its
    /// own schedule, and the drill measures what they got (docs/reads.md). Off by default.
    #[serde(default)]
    pub readers: Option<ReadersSpec>,
    /// Besides writing new records, each writer rewrites and deletes some of its own
    /// acknowledged ones (a file store's uploads: `files`), each an op on the drill's clock;
    /// the drill counts rewrites lost and deletes undone (docs/stacks.md, "Files"). Off by
    /// default.
    #[serde(default)]
    pub changes: Option<ChangesSpec>,
}

/// `workload.changes`: every `delete_every`-th op of a writer deletes one of its records,
/// every `rewrite_every`-th rewrites one whole at a new revision (an op due both deletes).
/// The record changed is the writer's oldest one acknowledged (written or last rewritten)
/// at least `after_ms` before, not yet deleted; while none is that old, the op writes a new
/// record instead.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChangesSpec {
    /// Every n-th op of a writer deletes one of its records; 0: none. Default 4.
    #[serde(default = "default_delete_every")]
    pub delete_every: u32,
    /// Every n-th op of a writer rewrites one of its records; 0: none. Default 3.
    #[serde(default = "default_rewrite_every")]
    pub rewrite_every: u32,
    /// How long after its acknowledgement a record may be changed. Default 3000.
    #[serde(default = "default_change_after")]
    pub after_ms: u64,
}

fn default_delete_every() -> u32 {
    4
}
fn default_rewrite_every() -> u32 {
    3
}
fn default_change_after() -> u64 {
    3000
}

/// `workload.readers`: the read path drilled. Each read asks one node for the newest
/// record of one writer (the writers in turn), and records invoke / ok / fail / unknown,
/// the node that answered and the sequence number it saw.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReadersSpec {
    /// Concurrent readers. Default 4.
    #[serde(default = "default_writers")]
    pub count: u16,
    /// Reads per second per reader. Default 50.
    #[serde(default = "default_read_rate")]
    pub rate_per_s: f64,
    /// Where they read: `primary` (wherever the writers write), `replicas` (the stack's
    /// replicas as it started, each read to the next, as a read pool balances; on
    /// redis-sentinel by the Sentinels' replica list), `any` (every node), a site's name
    /// (that site's nodes), or the kind's read endpoint (`haproxy-replica`, Patroni's
    /// HAProxy replica listener; `read_endpoint`, an external stack's). Default `replicas`.
    #[serde(default = "default_read_from")]
    pub from: String,
    /// A read not answered within this is recorded `unknown`. Default 500.
    #[serde(default = "default_read_timeout")]
    pub op_timeout_ms: u64,
    /// With `sites`: the site the readers stand in, when it is not the writers'
    /// (`workload.site`); their reads cross that site's WAN links, and an isolated site
    /// cuts them off as it cuts the writers. Default: where the writers stand.
    #[serde(default)]
    pub site: Option<String>,
}

fn default_read_rate() -> f64 {
    50.0
}
fn default_read_from() -> String {
    "replicas".into()
}
fn default_read_timeout() -> u64 {
    500
}

/// A heartbeat written on the primary every `heartbeat_ms`, each replica read every
/// `poll_ms`, and the engine's own lag figures every `engine_every_ms`, all on the drill clock.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LagSpec {
    /// Interval of the heartbeat writes on the primary. Default 10.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// Interval of the reads on each replica: the measurement's resolution. Default 5.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
    /// Interval of the samples of what the engine reports (replay_lag,
    /// Seconds_Behind_Master, INFO offsets). Default 100.
    #[serde(default = "default_engine_every")]
    pub engine_every_ms: u64,
}

impl Default for LagSpec {
    fn default() -> Self {
        LagSpec { heartbeat_ms: default_heartbeat(), poll_ms: default_poll(), engine_every_ms: default_engine_every() }
    }
}

fn default_heartbeat() -> u64 {
    10
}
fn default_poll() -> u64 {
    5
}
fn default_engine_every() -> u64 {
    100
}

/// While every write of a writer has been waiting longer than `after_ms`, the writer
/// opens a fresh connection every `every_ms` (across all writers) and writes on the first
/// that connects within `connect_timeout_ms`. Connections that never complete are not
/// writes and are not recorded; a write sent on one is recorded like any other.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    /// A write waiting longer than this is stalled. Default 250; 0 turns hedging off.
    #[serde(default = "default_hedge_after")]
    pub after_ms: u64,
    /// Spacing of fresh connection attempts across the whole workload while stalled; past
    /// `every_ms` × 1000 of stall, 0.1 % of the stall so far. Default 5.
    #[serde(default = "default_hedge_every")]
    pub every_ms: u64,
    /// A fresh connection not established within this is dropped unrecorded (for
    /// PostgreSQL: its socket; the handshake after may take until `op_timeout_ms`). Default 50.
    #[serde(default = "default_hedge_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Writes one writer may have waiting at once (stalled ones included). Default 16.
    #[serde(default = "default_hedge_max_in_flight")]
    pub max_in_flight: u16,
}

impl Default for HedgeSpec {
    fn default() -> Self {
        HedgeSpec {
            after_ms: default_hedge_after(),
            every_ms: default_hedge_every(),
            connect_timeout_ms: default_hedge_connect_timeout(),
            max_in_flight: default_hedge_max_in_flight(),
        }
    }
}

fn default_hedge_after() -> u64 {
    250
}
fn default_hedge_every() -> u64 {
    5
}
fn default_hedge_connect_timeout() -> u64 {
    50
}
fn default_hedge_max_in_flight() -> u16 {
    16
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            writers: default_writers(),
            rate_per_s: None,
            op_timeout_ms: default_op_timeout(),
            fail_backoff_ms: default_fail_backoff(),
            payload_bytes: default_payload(),
            after_recovery_ms: default_after_recovery(),
            max_duration_ms: default_max_duration(),
            hedge: HedgeSpec::default(),
            replica_lag: None,
            resolve: Default::default(),
            site: None,
            keys: None,
            readers: None,
            changes: None,
        }
    }
}

fn default_writers() -> u16 {
    4
}
fn default_op_timeout() -> u64 {
    1000
}
fn default_fail_backoff() -> u64 {
    10
}
fn default_payload() -> usize {
    64
}
fn default_after_recovery() -> u64 {
    5000
}
fn default_max_duration() -> u64 {
    120_000
}
