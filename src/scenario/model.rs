//! The scenario file format. Every struct denies unknown keys; defaults are documented
//! on each field and in docs/scenarios.md, and exported by `drdrill schema`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A disaster-recovery drill: a stack, a workload, faults, a failover plan and targets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Drill name; used in report paths and container labels. [a-z0-9-]+
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    pub stack: StackSpec,
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Faults, each at an offset from the start of the workload.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// How the drill fails over. Omit for no failover (e.g. a restart drill).
    #[serde(default)]
    pub failover: Option<FailoverSpec>,
    pub targets: Targets,
    #[serde(default)]
    pub checks: CheckSpec,
    /// Route client and/or replication traffic through a Toxiproxy-compatible proxy, so
    /// link faults (latency, jitter, down, timeout, reset_peer, bandwidth) can act on it.
    #[serde(default)]
    pub proxy: Option<ProxySpec>,
    /// Commands or requests run before the workload and after the drill (always).
    #[serde(default)]
    pub hooks: super::actions::Hooks,
    /// Probes that must hold before the drill starts, checked again after recovery.
    #[serde(default)]
    pub steady_state: super::actions::SteadyState,
    /// Conditions that stop the drill early (faults healed, `after` hooks run).
    #[serde(default)]
    pub abort_when: Option<super::actions::AbortWhen>,
    /// Environment variables whose values are secrets: replaced by `[redacted]` in every
    /// evidence file and on the terminal (stack credentials are always redacted).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The drill's own DNS server: the clients find each service's primary by its name
    /// (docs/dns.md). Off by default.
    #[serde(default)]
    pub dns: Option<super::region::DnsSpec>,
    /// Sites, each a network of its own (docs/regions.md): nodes in a site talk directly;
    /// sites reach each other, and clients reach another site, only through `wan` links.
    #[serde(default)]
    pub sites: Vec<String>,
    /// The WAN links between sites, run by the chaos proxy.
    #[serde(default)]
    pub wan: Vec<super::region::LinkSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    /// Image of the proxy container. Default: drdrill/proxy, built from this drdrill binary
    /// (`drdrill proxy`). Any Toxiproxy 2.x server image works, e.g.
    /// ghcr.io/shopify/toxiproxy:2.12.0: its API must listen on 8474 on all interfaces.
    #[serde(default)]
    pub image: Option<String>,
    /// Workload -> node traffic goes through the proxy (link `client`). Default false.
    #[serde(default)]
    pub clients: bool,
    /// Replica -> primary traffic goes through the proxy (link `replication`). Default false.
    #[serde(default)]
    pub replication: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// PostgreSQL 15 primary + streaming replicas (pg_basebackup).
    Postgres,
    /// Redis 7 primary + replicas (replicaof).
    Redis,
    /// Redis 7 primary + replicas watched by Redis Sentinel, which fails over by itself;
    /// clients find the primary through Sentinel.
    #[serde(rename = "redis-sentinel")]
    RedisSentinel,
    /// PostgreSQL 15 under Patroni 3 with an etcd 3.4 cluster; clients go through HAProxy,
    /// which routes by Patroni's REST health check.
    Patroni,
    /// MariaDB 10.11 primary + replicas, binlog + GTID replication, async or semi-sync.
    Mariadb,
    /// MariaDB 10.11 under MHA 0.58, which moves a virtual IP to the master it promotes;
    /// clients reach the VIP through a forwarder.
    #[serde(rename = "mariadb-mha")]
    MariadbMha,
    /// A stack drdrill did not start and never starts, stops or removes: it reaches its
    /// `endpoint` (and `nodes`) and acts on it only through the scenario's actions.
    External,
}

/// The database behind an external stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Redis,
    Mariadb,
}

/// How drdrill logs in to an external stack. Values come from the environment or a file,
/// never from the scenario, and are redacted from all evidence.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User name. Default: postgres (PostgreSQL), root (MariaDB), none (Redis).
    #[serde(default)]
    pub user: Option<String>,
    /// Environment variable holding the user name.
    #[serde(default)]
    pub user_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File whose first line is the password.
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    #[default]
    Async,
    /// PostgreSQL: synchronous_standby_names = 'ANY 1 (replicas)'. Redis has no synchronous
    /// replication; use settings.min-replicas-to-write instead.
    Sync,
    /// MariaDB: semi-synchronous replication (a commit waits for one replica's ack, until
    /// `rpl_semi_sync_master_timeout`, then the master falls back to async).
    #[serde(rename = "semi-sync")]
    SemiSync,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackSpec {
    pub kind: StackKind,
    /// Number of replicas besides the primary (0–8). Default 2.
    #[serde(default = "default_replicas")]
    pub replicas: u8,
    #[serde(default)]
    pub replication: ReplicationMode,
    /// Image override; default drdrill/postgres:15, drdrill/redis:7, drdrill/patroni:3 or
    /// drdrill/mariadb:10.11.
    #[serde(default)]
    pub image: Option<String>,
    /// Server settings: postgresql.conf keys, redis-server options without the leading "--"
    /// (e.g. min-replicas-to-write: "1"), or MariaDB my.cnf keys (e.g.
    /// rpl_semi_sync_master_timeout: "2000"; `master_delay: "30"` delays MariaDB replicas
    /// through CHANGE MASTER TO MASTER_DELAY, having no my.cnf key).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// How long to wait for the stack to become healthy. Default 120000.
    #[serde(default = "default_healthy_timeout")]
    pub healthy_timeout_ms: u64,
    /// redis-sentinel: the Sentinels' settings.
    #[serde(default)]
    pub sentinel: Option<super::orchestrated::SentinelSpec>,
    /// patroni: Patroni's settings.
    #[serde(default)]
    pub patroni: Option<super::orchestrated::PatroniSpec>,
    /// patroni: HAProxy's health checks.
    #[serde(default)]
    pub haproxy: Option<super::orchestrated::HaproxySpec>,
    /// mariadb-mha: MHA's settings.
    #[serde(default)]
    pub mha: Option<super::mariadb::MhaSpec>,
    /// postgres, mariadb, redis: back the stack up, so that a `restore` failover can
    /// rebuild it (docs/restore.md).
    #[serde(default)]
    pub backup: Option<super::backup::BackupSpec>,
    /// With the scenario's `sites`: which nodes each site holds (`dc1: [pg-1, pg-2]`);
    /// every node in exactly one.
    #[serde(default)]
    pub sites: BTreeMap<String, Vec<String>>,
    /// external: postgres, redis or mariadb.
    #[serde(default)]
    pub engine: Option<Engine>,
    /// external: host:port the application's clients use (a VIP, a DNS name, HAProxy, a
    /// pooler). The workload writes through it; it is resolved once, at the start, unless
    /// `resolver` is given.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// external, with a DNS name as `endpoint`: the DNS server (ip:port) the clients ask.
    /// Each writer then looks the name up before every write through its own resolver,
    /// keeping each answer for the TTL it came with (or once, `workload.resolve: once`),
    /// so a DNS failover is followed as the application would. Needs `nodes`: the answers
    /// are mapped to them, and the read-back goes to the new primary.
    #[serde(default)]
    pub resolver: Option<String>,
    /// external: each node's own host:port, by name (optional): the failover steps and
    /// reports name them, the primary is found by probing them, and replicas are checked
    /// for convergence. Without them, read-back goes through the endpoint.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// external PostgreSQL / MariaDB: the database. Default postgres / drdrill.
    #[serde(default)]
    pub database: Option<String>,
    /// external: the table (Redis: key prefix) the workload writes into, created if
    /// missing; each run's rows carry its run id and only those are read back.
    /// Default drdrill_drill.
    #[serde(default)]
    pub table: Option<String>,
    /// external: delete this run's rows (and the table, once empty) after the drill.
    /// Default false: they stay for an auditor to look at.
    #[serde(default)]
    pub cleanup: bool,
}

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
    pub resolve: super::region::Resolve,
    /// With `sites`: the site the clients sit in; they reach other sites through its WAN
    /// links. Default: outside every site, reaching each one directly (and cut off from
    /// an isolated one).
    #[serde(default)]
    pub site: Option<String>,
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
    /// Spacing of fresh connection attempts across the whole workload while stalled. Default 5.
    #[serde(default = "default_hedge_every")]
    pub every_ms: u64,
    /// A fresh connection not established within this is dropped unrecorded. Default 50.
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// SIGKILL the node's server process (the container dies).
    Kill,
    /// Graceful stop (the image's stop signal, then SIGKILL after 10 s); with `duration_ms`,
    /// the node is started again after that long.
    Stop,
    /// Freeze every process of the node for `duration_ms`, then resume.
    Pause,
    /// Graceful stop then start again.
    Restart,
    /// Cut the network between `groups` of nodes (iptables DROP in each node's network
    /// namespace). A group may contain `clients` (the workload's side).
    Partition,
    /// Drop `percent` of the target's packets, both directions (iptables statistic).
    Loss,
    /// Limit the target's outgoing rate to `rate_kb_per_s` (tc tbf), or a proxied `link`'s.
    Bandwidth,
    /// Delay data on a proxied `link` by `latency_ms` (± `jitter_ms`).
    Latency,
    /// Vary the delay on a proxied `link` by ± `jitter_ms` (around `latency_ms`, default 0).
    Jitter,
    /// Take a proxied `link` hard down: connections are closed and refused.
    Down,
    /// A proxied `link` stops passing data; connections close after `timeout_ms` (0: never).
    Timeout,
    /// A proxied `link` resets connections (TCP RST) after `timeout_ms`.
    #[serde(rename = "reset_peer")]
    ResetPeer,
    /// SIGKILL the node and delete its container and data: nothing of it comes back (a
    /// restore recovery builds a fresh node in its place).
    Destroy,
    /// An operator error on the node (the primary): `how: delete` removes every workload
    /// record (DELETE; Redis FLUSHALL), `how: drop` the table itself. It replicates.
    #[serde(rename = "destroy_data")]
    DestroyData,
    /// Heal the earlier fault named in `heals`.
    Heal,
    /// A planned switchover of the primary: Patroni's REST `/switchover`, `SENTINEL
    /// FAILOVER`, or drdrill's scripted promotion for the plain stacks.
    Switchover,
    /// Run `action` (a command, HTTP request, manual step or wait); `undo` heals it.
    Action,
    /// The `target` site loses every WAN link, to other sites and to clients outside it;
    /// its nodes keep running and talk among themselves.
    #[serde(rename = "isolate_site")]
    IsolateSite,
    /// SIGKILL every node of the `target` site (with `duration_ms`, started again after).
    #[serde(rename = "kill_site")]
    KillSite,
    /// Set the WAN link `between` two sites to `latency_ms` ± `jitter_ms` and `rate_kb_per_s`
    /// (what is not given stays as the link has it); the heal puts the link back.
    #[serde(rename = "degrade_link")]
    DegradeLink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// The workload's connections to the target node.
    Client,
    /// The target replica's replication connection to the primary; on the primary, every
    /// replica's.
    Replication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum StreamSpec {
    /// Client -> server (replica -> primary for replication).
    Upstream,
    /// Server -> client. Toxiproxy's default.
    #[default]
    Downstream,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// No packet crosses between groups.
    #[default]
    Both,
    /// Packets from an earlier group to a later one are dropped; the other way flows.
    OneWay,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Offset from the start of the workload.
    pub at_ms: u64,
    pub kind: FaultKind,
    /// `primary` (the primary when the fault fires), `replica-N` (N-th replica, from 1),
    /// or a node name such as pg-2. Required except for partition and heal.
    #[serde(default)]
    pub target: Option<String>,
    /// In a scenario with `services`: the nodes of several services hit at the same
    /// instant (`[pg/primary, cache/primary]`), instead of one `target`.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// destroy_data: `delete` (default) or `drop`.
    #[serde(default)]
    pub how: Option<DataLoss>,
    /// pause: how long the node stays frozen (required). stop: start the node again after
    /// this long (optional). Network faults: heal after this long (optional; without it the
    /// fault lasts until a `heal` names it, or until the workload ends). Not allowed for
    /// kill, restart and heal.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// A name a later `heal` can refer to.
    #[serde(default)]
    pub name: Option<String>,
    /// heal: the name of the fault to heal.
    #[serde(default)]
    pub heals: Option<String>,
    /// partition: two or more groups of `primary`, `replica-N`, node names or `clients`.
    #[serde(default)]
    pub groups: Option<Vec<Vec<String>>>,
    /// partition: `both` (default) or `one-way`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The proxied path a link fault acts on (needs `proxy.clients` / `proxy.replication`).
    #[serde(default)]
    pub link: Option<LinkKind>,
    /// Link faults: which direction of the link (default downstream, as Toxiproxy).
    #[serde(default)]
    pub stream: Option<StreamSpec>,
    /// loss: share of packets dropped, in percent (0, 100]; degrade_link: the link's loss
    /// each way, 0 to 100.
    #[serde(default)]
    pub percent: Option<f64>,
    /// bandwidth: rate in KB/s (1 KB = 1024 bytes, as Toxiproxy's `rate`).
    #[serde(default)]
    pub rate_kb_per_s: Option<u64>,
    /// latency / jitter: added delay per chunk of data.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// timeout / reset_peer: Toxiproxy's `timeout` attribute.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Link faults: probability that the toxic applies to a connection. Default 1.
    #[serde(default)]
    pub toxicity: Option<f32>,
    /// action: what to run. `target` (optional) says which node it hits, so that the
    /// failover trigger and RPO know when the primary was hit.
    #[serde(default)]
    pub action: Option<super::actions::ActionSpec>,
    /// action: what heals it, run after `duration_ms`, at a `heal` naming it, or when the
    /// drill ends (also after an error or Ctrl-C).
    #[serde(default)]
    pub undo: Option<super::actions::ActionSpec>,
    /// degrade_link: the two sites the link joins.
    #[serde(default)]
    pub between: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// `scripted`: drdrill promotes (postgres, redis, mariadb). `orchestrator`: the stack's own
    /// orchestrator does, drdrill only watches (redis-sentinel, patroni, mariadb-mha). Default: the kind's.
    #[serde(default)]
    pub mode: Option<FailoverMode>,
    /// scripted: when failover starts.
    #[serde(default)]
    pub trigger: Trigger,
    /// `most-advanced` (the replica that received the most WAL / replication offset),
    /// or a node name. Default most-advanced.
    #[serde(default = "default_promote")]
    pub promote: String,
    /// Point the surviving replicas at the new primary. Default true.
    #[serde(default = "yes")]
    pub repoint_replicas: bool,
    /// Point the workload's clients at the new primary (a VIP or DNS move). Default true.
    #[serde(default = "yes")]
    pub repoint_clients: bool,
    /// After failover, bring the old primary back as a replica of the new one. Default false.
    #[serde(default)]
    pub rejoin_old_primary: bool,
    /// restore: `latest` (everything archived) or `before_fault` (point-in-time recovery to
    /// just before the fault answered, e.g. an operator error). Default latest.
    #[serde(default)]
    pub restore_to: RestoreTo,
    /// scripted: run these actions in order instead of drdrill's own promotion and
    /// repointing (required for an external stack). The new primary is then the node
    /// named in `promote`, or the first of `stack.nodes` that probes writable.
    #[serde(default)]
    pub steps: Vec<super::actions::ActionSpec>,
    /// scripted, with `sites`: promote only a replica in this site (the DR site).
    #[serde(default)]
    pub site: Option<String>,
    /// scripted: how long drdrill keeps looking for a node that answers (a replica to
    /// promote, a replica to repoint, a node a runbook step waits on), asking again every
    /// 250 ms, before the failover fails. Default 30000 (Patroni's ttl).
    #[serde(default = "default_promote_timeout_ms")]
    pub promote_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RestoreTo {
    #[default]
    Latest,
    BeforeFault,
}

/// What a `destroy_data` fault destroys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataLoss {
    /// Every workload record deleted (PostgreSQL / MariaDB DELETE, Redis FLUSHALL).
    #[default]
    Delete,
    /// The workload's table dropped (Redis: FLUSHALL).
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailoverMode {
    Scripted,
    Orchestrator,
    /// A fresh node in the destroyed primary's place, restored from the stack's backup
    /// (`stack.backup`), started, and given the clients.
    Restore,
}

/// When failover starts: give exactly one of `delay` or `probe`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// A fixed delay after the first fault that hits the primary.
    #[serde(default)]
    pub delay: Option<DelayTrigger>,
    /// Probe the primary like an orchestrator does.
    #[serde(default)]
    pub probe: Option<ProbeTrigger>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayTrigger {
    pub delay_ms: u64,
}

/// Every `interval_ms`, a probe with `timeout_ms`; `failures` consecutive failed probes
/// declare the primary down (like Sentinel's down-after-milliseconds or Patroni's ttl).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeTrigger {
    /// Default 500.
    #[serde(default = "default_probe_interval")]
    pub interval_ms: u64,
    /// Default 500.
    #[serde(default = "default_probe_timeout")]
    pub timeout_ms: u64,
    /// Default 3.
    #[serde(default = "default_probe_failures")]
    pub failures: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Longest acceptable write outage: a number (each run), or statistics over the runs
    /// (`{p95: 30000}`; min, median, p95, max).
    #[serde(default)]
    pub rto_ms: Option<super::limits::Limit>,
    /// Longest acceptable span of acknowledged writes lost (a number or statistics).
    #[serde(default)]
    pub rpo_ms: Option<super::limits::Limit>,
    /// Most acknowledged writes that may be lost (a number or statistics).
    #[serde(default)]
    pub max_lost_writes: Option<super::limits::Limit>,
    /// Surviving replicas must hold exactly the primary's records. Default true.
    #[serde(default = "yes")]
    pub converge: bool,
    /// Replica visibility lag each replica may show over the drill, in ms: any of p50,
    /// p95, p99 and max (`{p99: 1000}`). Turns the measurement on.
    #[serde(default)]
    pub replica_lag_ms: Option<LagLimit>,
}

/// Percentiles of a replica's visibility lag and their limits (ms).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LagLimit {
    #[serde(default)]
    pub p50: Option<u64>,
    #[serde(default)]
    pub p95: Option<u64>,
    #[serde(default)]
    pub p99: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
}

impl LagLimit {
    /// (statistic, limit) for each one given.
    pub fn each(&self) -> Vec<(&'static str, u64)> {
        [("p50", self.p50), ("p95", self.p95), ("p99", self.p99), ("max", self.max)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }
}

/// Parameters of the checker's definitions (see docs/measurement.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Window after a candidate recovery point in which writes must stay available. Default 1000.
    #[serde(default = "default_stable_window")]
    pub stable_window_ms: u64,
    /// Share of writes invoked in the window that must be ok (and none may be `fail`). Default 0.95.
    #[serde(default = "default_stable_ratio")]
    pub stable_ok_ratio: f64,
    /// How long replicas get to hold exactly the primary's records. Default 30000.
    #[serde(default = "default_converge_timeout")]
    pub convergence_timeout_ms: u64,
}

impl Default for CheckSpec {
    fn default() -> Self {
        CheckSpec {
            stable_window_ms: default_stable_window(),
            stable_ok_ratio: default_stable_ratio(),
            convergence_timeout_ms: default_converge_timeout(),
        }
    }
}

fn default_replicas() -> u8 {
    2
}
fn default_healthy_timeout() -> u64 {
    120_000
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
fn default_promote_timeout_ms() -> u64 {
    30_000
}
fn default_promote() -> String {
    "most-advanced".into()
}
fn yes() -> bool {
    true
}
fn default_probe_interval() -> u64 {
    500
}
fn default_probe_timeout() -> u64 {
    500
}
fn default_probe_failures() -> u32 {
    3
}
fn default_stable_window() -> u64 {
    1000
}
fn default_stable_ratio() -> f64 {
    0.95
}
fn default_converge_timeout() -> u64 {
    30_000
}
