//! `stack`: what drdrill starts (or attaches to): its kind, replicas, replication,
//! settings, each kind's own blocks, backup, sites, and an external stack's endpoint.
use crate::scenario::kinds::{
    ClusterSpec, Engine, FilesSpec, GaleraSpec, HaproxySpec, KeepalivedSpec, LogicalSpec, MhaSpec, MultiActiveSpec, PatroniSpec,
    SentinelSpec, StackKind,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

impl ReplicationMode {
    /// The mode as a scenario spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationMode::Async => "async",
            ReplicationMode::Sync => "sync",
            ReplicationMode::SemiSync => "semi-sync",
        }
    }
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
    /// Image override; default drdrill/postgres:15-2, drdrill/redis:7, drdrill/patroni:3 or
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
    pub sentinel: Option<SentinelSpec>,
    /// patroni: Patroni's settings.
    #[serde(default)]
    pub patroni: Option<PatroniSpec>,
    /// patroni: HAProxy's health checks.
    #[serde(default)]
    pub haproxy: Option<HaproxySpec>,
    /// mariadb-mha: MHA's settings.
    #[serde(default)]
    pub mha: Option<MhaSpec>,
    /// redis-cluster: its primaries and replicas per primary.
    #[serde(default)]
    pub cluster: Option<ClusterSpec>,
    /// pglogical: its writable nodes and how a conflict is resolved.
    #[serde(default)]
    pub multi_active: Option<MultiActiveSpec>,
    /// postgres-logical: the tables the workload writes, those published, and the
    /// publication's and subscription's names.
    #[serde(default)]
    pub logical: Option<LogicalSpec>,
    /// galera: its nodes (each one writable; quorum by the sites they sit in).
    #[serde(default)]
    pub galera: Option<GaleraSpec>,
    /// files: the tool that mirrors the main server's files to the backup, and its schedule.
    #[serde(default)]
    pub files: Option<FilesSpec>,
    /// files-keepalived: the VRRP instance on both servers and its health check.
    #[serde(default)]
    pub keepalived: Option<KeepalivedSpec>,
    /// postgres, mariadb, redis: back the stack up, so that a `restore` failover can
    /// rebuild it (docs/restore.md).
    #[serde(default)]
    pub backup: Option<crate::scenario::backup::BackupSpec>,
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
    /// external: host:port the application's reads go to (a read-only service balanced
    /// over the replicas, HAProxy's replica port, a reader endpoint): `workload.readers`
    /// read there with `from: read_endpoint`.
    #[serde(default)]
    pub read_endpoint: Option<String>,
    /// external: each node's own host:port, by name (optional): the failover steps and
    /// reports name them, the primary is found by probing them, and replicas are checked
    /// for convergence. Without them, read-back goes through the endpoint.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    /// external: how drdrill logs in, from the environment or a file. Default: the
    /// engine's own user (postgres, root; none for Redis) without a password.
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
    /// Not in the file: the prefix of its nodes' names when it is not the kind's (a service
    /// of a drill that has another service of its kind: `<service>-<kind's prefix>`).
    #[serde(skip)]
    #[schemars(skip)]
    pub node_prefix: Option<String>,
    /// Not in the file: the Keepalived that promotes this service, when another service's
    /// `keepalived.notify_master` names it.
    #[serde(skip)]
    #[schemars(skip)]
    pub carried_by: Option<crate::scenario::kinds::CarriedBy>,
    /// external: delete this run's rows (and the table, once empty) after the drill.
    /// Default false: they stay for an auditor to look at.
    #[serde(default)]
    pub cleanup: bool,
}

impl StackSpec {
    /// Which of `keys` this block sets (a value that is not null, false or empty), as the
    /// file spells them.
    pub fn keys_set(&self, keys: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
        let v = serde_json::to_value(self).unwrap_or_default();
        let set = |k: &str| match v.get(k) {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
            Some(serde_json::Value::Object(m)) => !m.is_empty(),
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        keys.into_iter().filter(|k| set(k)).collect()
    }
}

fn default_replicas() -> u8 {
    2
}
fn default_healthy_timeout() -> u64 {
    120_000
}
