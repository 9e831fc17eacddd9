//! What each stack kind is, in one place: its name, engine, node names, default image,
//! whether its own orchestrator fails it over, the containers it runs besides its nodes,
//! and the settings blocks it takes. Validation, the runner and the drivers ask this
//! table; nothing else matches on a kind's facts. A new engine is one entry here (and its
//! driver in `stack`).
use super::backup::BackupInfo;
use super::model::*;

/// The facts of one stack kind.
pub struct KindInfo {
    /// The kind as a scenario spells it (`redis-sentinel`).
    pub name: &'static str,
    /// The database its nodes run; None for external (the scenario's `engine` says).
    pub engine: Option<Engine>,
    /// Nodes are `<prefix>-1` (the initial primary), `<prefix>-2`, …; empty for external.
    pub node_prefix: &'static str,
    /// The image its nodes run unless `stack.image` overrides it; empty for external.
    pub default_image: &'static str,
    /// The orchestrator that fails the stack over by itself (drdrill then never promotes).
    pub orchestrator: Option<&'static str>,
    /// A stack drdrill attaches to and never starts: its nodes are `stack.nodes`.
    pub external: bool,
    /// The `stack` keys only some kinds take that this one accepts (`sentinel`, `patroni`…).
    pub blocks: &'static [&'static str],
    /// Why `replication: sync` is refused when the orchestrator runs replication.
    pub orchestrator_sync: Option<&'static str>,
    /// The containers it runs besides the database nodes, in start order.
    pub services: fn(&StackSpec) -> Vec<String>,
    /// How `stack.backup` backs it up; None when drdrill does not drill its backups.
    pub backup: Option<BackupInfo>,
    /// The setting that delays a replica, which drdrill's promotion can roll forward to
    /// just before an operator's error (`restore_to: before_fault`); None when it cannot.
    pub delay_setting: Option<&'static str>,
}

/// The container that streams a backed-up MariaDB's binlog (`mariadb-binlog --stop-never`).
pub const BINLOG_STREAMER: &str = "binlog";

/// The `stack` keys of an external stack.
const EXTERNAL_KEYS: &[&str] = &["engine", "endpoint", "resolver", "nodes", "credentials", "database", "table", "cleanup"];

const fn plain(name: &'static str, engine: Engine, node_prefix: &'static str, default_image: &'static str) -> KindInfo {
    KindInfo {
        name,
        engine: Some(engine),
        node_prefix,
        default_image,
        orchestrator: None,
        external: false,
        blocks: &[],
        orchestrator_sync: None,
        services: no_services,
        backup: None,
        delay_setting: None,
    }
}

const POSTGRES: KindInfo = KindInfo {
    backup: Some(BackupInfo { tool: "pgBackRest 2.45", keys: &["archive_timeout_s"], point_in_time: true }),
    delay_setting: Some("recovery_min_apply_delay"),
    ..plain("postgres", Engine::Postgres, "pg", "drdrill/postgres:15")
};
const REDIS: KindInfo = KindInfo {
    backup: Some(BackupInfo { tool: "AOF / RDB on a surviving volume", keys: &["appendfsync", "snapshot_s"], point_in_time: false }),
    ..plain("redis", Engine::Redis, "redis", "drdrill/redis:7")
};
const MARIADB: KindInfo = KindInfo {
    backup: Some(BackupInfo { tool: "mariabackup + binlog streaming", keys: &[], point_in_time: true }),
    delay_setting: Some("master_delay"),
    services: binlog_streamer,
    ..plain("mariadb", Engine::Mariadb, "db", "drdrill/mariadb:10.11")
};
const REDIS_SENTINEL: KindInfo = KindInfo {
    name: "redis-sentinel",
    orchestrator: Some("Redis Sentinel"),
    blocks: &["sentinel"],
    orchestrator_sync: Some("redis has no synchronous replication; use settings.min-replicas-to-write"),
    services: sentinels,
    backup: None,
    ..REDIS
};
const PATRONI: KindInfo = KindInfo {
    name: "patroni",
    default_image: "drdrill/patroni:3",
    orchestrator: Some("Patroni"),
    blocks: &["patroni", "haproxy"],
    orchestrator_sync: Some("use `patroni.synchronous_mode: true` (Patroni manages synchronous replication)"),
    services: etcd_and_haproxy,
    backup: None,
    ..POSTGRES
};
const MARIADB_MHA: KindInfo =
    KindInfo { name: "mariadb-mha", orchestrator: Some("MHA"), blocks: &["mha"], services: mha_and_vip, backup: None, ..MARIADB };
const EXTERNAL: KindInfo = KindInfo {
    name: "external",
    engine: None,
    node_prefix: "",
    default_image: "",
    external: true,
    blocks: EXTERNAL_KEYS,
    backup: None,
    ..POSTGRES
};

/// Every kind, in the order the scenario format lists them.
pub const KINDS: [StackKind; 7] = [
    StackKind::Postgres,
    StackKind::Redis,
    StackKind::RedisSentinel,
    StackKind::Patroni,
    StackKind::Mariadb,
    StackKind::MariadbMha,
    StackKind::External,
];

/// The names of the kinds `keep` takes, in the registry's order: for messages that list
/// kinds, so they can't go stale.
pub fn kind_names(keep: impl Fn(&StackKind) -> bool) -> Vec<&'static str> {
    KINDS.into_iter().filter(keep).map(StackKind::name).collect()
}

impl StackKind {
    pub fn info(self) -> &'static KindInfo {
        match self {
            StackKind::Postgres => &POSTGRES,
            StackKind::Redis => &REDIS,
            StackKind::RedisSentinel => &REDIS_SENTINEL,
            StackKind::Patroni => &PATRONI,
            StackKind::Mariadb => &MARIADB,
            StackKind::MariadbMha => &MARIADB_MHA,
            StackKind::External => &EXTERNAL,
        }
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn node_prefix(self) -> &'static str {
        self.info().node_prefix
    }
    pub fn default_image(self) -> &'static str {
        self.info().default_image
    }
    /// Whether the stack brings its own orchestrator (drdrill then never promotes).
    pub fn orchestrated(self) -> bool {
        self.info().orchestrator.is_some()
    }
    pub fn is_mariadb(self) -> bool {
        self.info().engine == Some(Engine::Mariadb)
    }
    pub fn is_external(self) -> bool {
        self.info().external
    }
    /// How a `failover` block without `mode` fails over: by the orchestrator when there
    /// is one, else by drdrill's scripted promotion (or the scenario's steps).
    pub fn default_failover(self) -> FailoverMode {
        if self.orchestrated() { FailoverMode::Orchestrator } else { FailoverMode::Scripted }
    }
    /// Whether this kind takes the `stack` key `key` that only some kinds take.
    pub fn accepts(self, key: &str) -> bool {
        self.info().blocks.contains(&key)
    }
    /// The kind that takes the `stack` key `key`, when only one does.
    pub fn owner_of(key: &str) -> Option<StackKind> {
        KINDS.into_iter().find(|k| k.accepts(key))
    }
}

impl StackSpec {
    /// Node names in start order: the first is the initial primary (`pg-1`), then replicas.
    pub fn node_names(&self) -> Vec<String> {
        if self.kind.is_external() {
            if self.nodes.is_empty() {
                return vec![super::ENDPOINT.to_string()];
            }
            return self.nodes.keys().cloned().collect();
        }
        (1..=self.replicas as usize + 1).map(|i| format!("{}-{i}", self.kind.node_prefix())).collect()
    }
    pub fn image(&self) -> String {
        self.image.clone().unwrap_or_else(|| self.kind.default_image().to_string())
    }
}

impl Scenario {
    /// How this drill fails over: the orchestrator's own way for orchestrated stacks,
    /// drdrill's scripted promotion when a plan is given for the others, or not at all.
    pub fn failover_mode(&self) -> Option<FailoverMode> {
        if self.stack.kind.orchestrated() {
            return Some(FailoverMode::Orchestrator);
        }
        self.failover.as_ref().map(|f| f.mode.unwrap_or(FailoverMode::Scripted))
    }

    /// How replica lag is measured, when it is: `workload.replica_lag`, or its defaults
    /// when only the `replica_lag_ms` target asks for it.
    pub fn replica_lag(&self) -> Option<LagSpec> {
        self.workload.replica_lag.clone().or_else(|| self.targets.replica_lag_ms.as_ref().map(|_| LagSpec::default()))
    }
}

/// The names of the non-database containers the stack runs (sentinel-1, etcd-1, haproxy),
/// which partition groups may name.
pub fn service_names(st: &StackSpec) -> Vec<String> {
    (st.kind.info().services)(st)
}

/// `sentinels` and `etcd` name every member of that service in a partition group.
pub fn expand_service_group(member: &str, services: &[String]) -> Option<Vec<String>> {
    let prefix = match member {
        "sentinels" => "sentinel-",
        "etcd" => "etcd-",
        _ => return None,
    };
    let v: Vec<String> = services.iter().filter(|s| s.starts_with(prefix)).cloned().collect();
    (!v.is_empty()).then_some(v)
}

fn no_services(_: &StackSpec) -> Vec<String> {
    Vec::new()
}

fn sentinels(st: &StackSpec) -> Vec<String> {
    let n = st.sentinel.clone().unwrap_or_default().sentinels;
    (1..=n).map(|i| format!("sentinel-{i}")).collect()
}

fn etcd_and_haproxy(st: &StackSpec) -> Vec<String> {
    let n = st.patroni.clone().unwrap_or_default().etcd_members;
    let mut v: Vec<String> = (1..=n).map(|i| format!("etcd-{i}")).collect();
    v.push("haproxy".into());
    v
}

/// A backed-up MariaDB streams its binlog into the backup volume from a container of its own.
fn binlog_streamer(st: &StackSpec) -> Vec<String> {
    st.backup.iter().map(|_| BINLOG_STREAMER.to_string()).collect()
}

fn mha_and_vip(_: &StackSpec) -> Vec<String> {
    vec!["mha".into(), "vip".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_as_the_scenario_spells_it() {
        for k in KINDS {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name(), "{k:?}");
        }
    }

    #[test]
    fn each_settings_block_belongs_to_one_kind() {
        for key in ["sentinel", "patroni", "haproxy", "mha", "engine", "endpoint", "nodes", "table"] {
            let owners: Vec<StackKind> = KINDS.into_iter().filter(|k| k.accepts(key)).collect();
            assert_eq!(owners.len(), 1, "{key}: {owners:?}");
        }
        assert_eq!(StackKind::owner_of("haproxy"), Some(StackKind::Patroni));
    }

    #[test]
    fn orchestrated_kinds_fail_over_by_themselves() {
        let orchestrated: Vec<&str> = KINDS.into_iter().filter(|k| k.orchestrated()).map(StackKind::name).collect();
        assert_eq!(orchestrated, ["redis-sentinel", "patroni", "mariadb-mha"]);
        assert_eq!(StackKind::Postgres.default_failover(), FailoverMode::Scripted);
        assert_eq!(StackKind::MariadbMha.default_failover(), FailoverMode::Orchestrator);
    }
}
