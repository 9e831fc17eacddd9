//! The settings blocks of the kinds the stack model names (`stack.patroni`, `stack.haproxy`,
//! `stack.mha`, `stack.galera`, `stack.multi_active`, `stack.logical`): plain data, below
//! the model. Each kind's rules stay in its own file (`postgres.rs`, `mariadb.rs`,
//! `postgres_logical.rs`), which reads them.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// MHA 0.58's manager (`stack.mha`). Defaults are MHA's own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MhaSpec {
    /// `ping_interval`: seconds between the manager's health checks of the master; MHA
    /// declares it dead after 4 failed checks. Default 3.
    pub ping_interval_s: u32,
    /// Nodes with `candidate_master=1` (MHA prefers them). Default: every node.
    pub candidate_master: Vec<String>,
    /// `check_repl_delay`: skip a replica more than 100 MB of relay log behind. Default true.
    pub check_repl_delay: bool,
    /// A `secondary_check_script` (`masterha_secondary_check` through the replicas): the
    /// master is declared dead only when the replicas cannot reach it either. Default false.
    pub secondary_check: bool,
}

impl Default for MhaSpec {
    fn default() -> Self {
        MhaSpec { ping_interval_s: 3, candidate_master: Vec::new(), check_repl_delay: true, secondary_check: false }
    }
}

/// A Galera cluster (`stack.kind: galera`): its nodes. Its wsrep and InnoDB settings
/// (`wsrep_provider_options`, `innodb_flush_log_at_trx_commit`, …) go in `stack.settings`;
/// `stack.replicas` does not apply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GaleraSpec {
    /// Writable nodes (2–9), `gal-1` (which bootstraps the cluster) … in start order; the
    /// primary component is the majority of them, so place them in `stack.sites` as the
    /// quorum should fall. Default 3.
    pub nodes: u8,
}

impl Default for GaleraSpec {
    fn default() -> Self {
        GaleraSpec { nodes: 3 }
    }
}

/// A stack of writable nodes (`stack.kind: pglogical`): how many, and how a conflict is
/// resolved. `stack.replicas` does not apply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MultiActiveSpec {
    /// Writable nodes (2–8), `pgl-1` … in start order; give each its own site in
    /// `stack.sites`. Default 2.
    pub nodes: u8,
    /// `pglogical.conflict_resolution` on every node: `last_update_wins` (the later commit
    /// timestamp wins; the default), `first_update_wins`, `apply_remote` or `keep_local`.
    pub conflict_resolution: ConflictResolution,
}

impl Default for MultiActiveSpec {
    fn default() -> Self {
        MultiActiveSpec { nodes: 2, conflict_resolution: ConflictResolution::LastUpdateWins }
    }
}

/// How a node resolves a change from another node that conflicts with its own row.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConflictResolution {
    /// The change with the later commit timestamp wins (seed 002's last-write-wins).
    #[default]
    LastUpdateWins,
    /// The change with the earlier commit timestamp wins.
    FirstUpdateWins,
    /// The incoming change always wins.
    ApplyRemote,
    /// The node's own row always wins.
    KeepLocal,
}

impl ConflictResolution {
    /// As pglogical's setting spells it.
    pub fn name(self) -> &'static str {
        match self {
            ConflictResolution::LastUpdateWins => "last_update_wins",
            ConflictResolution::FirstUpdateWins => "first_update_wins",
            ConflictResolution::ApplyRemote => "apply_remote",
            ConflictResolution::KeepLocal => "keep_local",
        }
    }
    /// What it does, in the words of the scenario format.
    pub fn meaning(self) -> &'static str {
        match self {
            ConflictResolution::LastUpdateWins => "the change with the later commit timestamp wins",
            ConflictResolution::FirstUpdateWins => "the change with the earlier commit timestamp wins",
            ConflictResolution::ApplyRemote => "the incoming change always wins",
            ConflictResolution::KeepLocal => "the node's own row always wins",
        }
    }
}

/// Patroni (`stack.kind: patroni`); times in seconds, as Patroni takes them. Defaults are
/// the seed's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PatroniSpec {
    /// Leader key TTL, s. Default 30.
    pub ttl: u32,
    /// Seconds between HA loops. Default 10.
    pub loop_wait: u32,
    /// Seconds DCS and PostgreSQL operations are retried. Default 10.
    pub retry_timeout: u32,
    /// Bytes a replica may lag and still be promoted. Default 1048576.
    pub maximum_lag_on_failover: u64,
    /// Patroni's synchronous_mode. Default false.
    pub synchronous_mode: bool,
    /// Default true.
    pub use_pg_rewind: bool,
    /// Default true.
    pub use_slots: bool,
    /// etcd members (1, 3 or 5). Default 3.
    pub etcd_members: u8,
}

impl Default for PatroniSpec {
    fn default() -> Self {
        PatroniSpec {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
            maximum_lag_on_failover: 1_048_576,
            synchronous_mode: false,
            use_pg_rewind: true,
            use_slots: true,
            etcd_members: 3,
        }
    }
}

/// HAProxy's health checks of Patroni's REST API (`/primary`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HaproxySpec {
    /// `inter`, ms. Default 3000.
    pub inter_ms: u64,
    /// `fastinter` (interval while a server is changing state), ms. Default: inter_ms.
    pub fastinter_ms: Option<u64>,
    /// Failed checks before a server is marked down. Default 3.
    pub fall: u8,
    /// Passed checks before a server is marked up. Default 2.
    pub rise: u8,
    /// `on-marked-down shutdown-sessions`. Default true.
    pub shutdown_sessions: bool,
}

impl Default for HaproxySpec {
    fn default() -> Self {
        HaproxySpec { inter_ms: 3000, fastinter_ms: None, fall: 3, rise: 2, shutdown_sessions: true }
    }
}

/// The DR region's logical replication (`stack.kind: postgres-logical`). The last node is
/// the subscriber; `stack.replicas` counts it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogicalSpec {
    /// Tables the workload writes, each record into the next in turn, every one with a
    /// `bigserial` id from its own sequence (`<table>_id_seq`). Default [users].
    pub tables: Vec<String>,
    /// Tables in the publication. Default: every table.
    pub published: Option<Vec<String>>,
    /// `CREATE PUBLICATION` name. Default main_pub.
    pub publication: String,
    /// `CREATE SUBSCRIPTION` name on the DR node. Default dr_sub.
    pub subscription: String,
    /// Rows each table holds before the subscription is made: its initial copy, checked
    /// on the DR node before the workload starts. Default 100.
    pub initial_rows: u32,
}

impl Default for LogicalSpec {
    fn default() -> Self {
        LogicalSpec {
            tables: vec!["users".into()],
            published: None,
            publication: "main_pub".into(),
            subscription: "dr_sub".into(),
            initial_rows: 100,
        }
    }
}

impl LogicalSpec {
    /// The published tables.
    pub fn published(&self) -> Vec<String> {
        self.published.clone().unwrap_or_else(|| self.tables.clone())
    }
    /// Each table's sequence, as PostgreSQL names a `bigserial` column's.
    pub fn sequences(&self) -> Vec<String> {
        self.tables.iter().map(|t| format!("{t}_id_seq")).collect()
    }
}
