//! Redis Cluster (`redis-cluster`): `cluster.masters` primaries, each owning a share of the
//! 16384 hash slots, each with `cluster.replicas_per_master` replicas; the cluster fails a
//! shard over by itself (its own orchestrator). Seed 001's settings are the defaults.
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::{Index, Key};
use crate::scenario::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const NO_SYNC: &str = "redis cluster replication is asynchronous; use settings.min-replicas-to-write";

pub const REDIS_CLUSTER: KindInfo = KindInfo {
    orchestrator: Some("Redis Cluster"),
    // an external stack may be a Redis Cluster: `engine: redis-cluster`
    engine: true,
    blocks: &["cluster"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    validate: validate_cluster,
    // the nodes gossip with every other node on the address they announce: one network,
    // sites as groups on it, cut off by iptables
    members_span_sites: true,
    ..KindInfo::bare(
        "redis-cluster",
        "Redis 7 Cluster: `cluster.masters` primaries, each owning a share of the 16384 slots with `cluster.replicas_per_master` replicas, created by `redis-cli --cluster create`; the cluster fails a shard over by itself and clients follow MOVED.",
        "rc",
        "drdrill/redis:7",
    )
};

/// The settings every node gets unless `stack.settings` says otherwise: seed 001's.
pub const CLUSTER_DEFAULTS: [(&str, &str); 3] = [("cluster-node-timeout", "5000"), ("appendonly", "yes"), ("appendfsync", "everysec")];

/// `stack.settings` keys drdrill sets itself on a cluster node.
const OWN_SETTINGS: [&str; 9] = [
    "port",
    "requirepass",
    "masterauth",
    "cluster-enabled",
    "cluster-config-file",
    "cluster-announce-hostname",
    "cluster-announce-ip",
    "cluster-preferred-endpoint-type",
    "replicaof",
];

/// The shape of a Redis Cluster (`stack.kind: redis-cluster`); `stack.replicas` does not
/// apply. Server settings (`cluster-node-timeout`, `cluster-require-full-coverage`,
/// `cluster-replica-validity-factor`, any redis.conf key) go in `stack.settings`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSpec {
    /// Primaries, each owning an equal share of the slots (3–9). Default 3, as seed 001.
    pub masters: u8,
    /// Replicas of each primary (0–3). Default 1 (`--cluster-replicas 1`).
    pub replicas_per_master: u8,
    /// Every node asks for a password (`requirepass`, and `masterauth` for its replication),
    /// as seed 001's nodes do: one drdrill makes for each run, redacted from the evidence.
    /// Default true; false for nodes without one.
    pub auth: bool,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec { masters: 3, replicas_per_master: 1, auth: true }
    }
}

impl ClusterSpec {
    /// Every node of the cluster: the primaries first, then the replicas.
    pub fn nodes(&self) -> usize {
        usize::from(self.masters) * (1 + usize::from(self.replicas_per_master))
    }
}

fn validate_cluster(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let c = st.cluster.clone().unwrap_or_default();
    let k = |f: &'static str| vec![Key("stack"), Key("cluster"), Key(f)];
    let why = "a cluster fails over by a majority of its primaries";
    crate::scenario::bounds::check(p, k("masters"), "ClusterSpec.masters", f64::from(c.masters), why);
    crate::scenario::bounds::check(p, k("replicas_per_master"), "ClusterSpec.replicas_per_master", f64::from(c.replicas_per_master), "");
    for key in st.settings.keys().filter(|key| OWN_SETTINGS.contains(&key.as_str())) {
        let how = if key.ends_with("pass") || key.ends_with("auth") { " (a password of its own for each run: `cluster.auth`)" } else { "" };
        p.push((vec![Key("stack"), Key("settings")], format!("`{key}` is set by drdrill on every cluster node{how}")));
    }
    if let Some(v) = st.settings.get("cluster-node-timeout") {
        let key = "StackSpec.settings:cluster-node-timeout";
        match v.parse::<u64>() {
            Ok(ms) => crate::scenario::bounds::check(p, vec![Key("stack"), Key("settings")], key, ms as f64, "ms"),
            Err(_) => p.push((vec![Key("stack"), Key("settings")], format!("cluster-node-timeout: expected a number of ms, found {v:?}"))),
        }
    }
    let unsupported = [
        (s.proxy.is_some(), "proxy", "a cluster's clients follow MOVED to each node's own port; drdrill's proxy routes one primary"),
        (st.backup.is_some(), "backup", "restore drills are not yet supported for redis-cluster"),
        (s.dns.is_some(), "dns", "a cluster's clients find each shard by MOVED, not by a DNS name"),
        (s.monitoring.is_some(), "monitoring", "monitoring is not yet supported for redis-cluster"),
        (s.replica_lag().is_some(), "workload", "replica lag is not yet measured on redis-cluster (workload.replica_lag)"),
    ];
    for (i, _) in s.faults.iter().enumerate().filter(|(_, f)| f.kind == FaultKind::Destroy) {
        let why = "destroying a cluster node is not yet supported (kill, stop, pause, restart or destroy_data it)";
        p.push((vec![Key("faults"), Index(i), Key("kind")], why.into()));
    }
    for (hit, key, why) in unsupported {
        if hit {
            p.push((vec![Key(key)], why.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn problems(stack: &str, rest: &str) -> String {
        let yaml = format!("name: t\ntargets: {{}}\nstack: {{kind: redis-cluster{stack}}}\n{rest}");
        match parse(std::path::Path::new("t.yaml"), yaml) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_seed_shape_is_the_default_and_runs_six_nodes() {
        let l = parse(std::path::Path::new("t.yaml"), "name: t\ntargets: {}\nstack: {kind: redis-cluster}\n".into()).unwrap();
        let names = l.scenario.stack.node_names();
        assert_eq!(names, ["rc-1", "rc-2", "rc-3", "rc-4", "rc-5", "rc-6"]);
        let l = parse(
            std::path::Path::new("t.yaml"),
            "name: t\ntargets: {}\nstack: {kind: redis-cluster, cluster: {masters: 4, replicas_per_master: 2}}\n".into(),
        )
        .unwrap();
        assert_eq!(l.scenario.stack.node_names().len(), 12);
    }

    #[test]
    fn a_cluster_that_cannot_fail_over_or_settings_drdrill_owns_are_refused() {
        assert!(problems(", cluster: {masters: 2}", "").contains("masters must be between 3 and 9, found 2 (a cluster fails over by a majority of its primaries)"));
        assert!(problems(", cluster: {replicas_per_master: 4}", "").contains("replicas_per_master must be between 0 and 3, found 4"));
        assert!(problems(", settings: {port: '7000'}", "").contains("`port` is set by drdrill"));
        assert!(problems(", settings: {requirepass: x}", "").contains("`requirepass` is set by drdrill on every cluster node (a password"));
        assert!(problems(", settings: {cluster-node-timeout: '50'}", "").contains("cluster-node-timeout must be between 100 and 600000, found 50 (ms)"));
        assert!(problems(", replication: sync", "").contains("asynchronous"));
        assert!(problems(", sentinel: {}", "").contains("`sentinel` settings apply to a redis-sentinel stack"));
        assert!(problems("", "proxy: {clients: true}\n").contains("follow MOVED"));
        assert!(problems("", "monitoring: {}\n").contains("not yet supported for redis-cluster"));
        assert!(problems("", "faults: [{at_ms: 1, kind: destroy, target: primary}]\n").contains("destroying a cluster node"));
        assert_eq!(problems(", settings: {cluster-require-full-coverage: 'no', cluster-node-timeout: '2000'}", ""), "");
    }

    /// A user's own cluster fails over by itself and is watched, unless the scenario's steps
    /// fail it over; a one-primary engine's orchestrator is the user's to watch.
    #[test]
    fn an_external_cluster_is_watched_unless_steps_fail_it_over() {
        use crate::scenario::FailoverMode;
        let external = |engine: &str, rest: &str| {
            let yaml = format!("name: t\ntargets: {{}}\nstack: {{kind: external, engine: {engine}, endpoint: '127.0.0.1:7000'}}\n{rest}");
            parse(std::path::Path::new("t.yaml"), yaml).map(|l| l.scenario.failover_mode()).map_err(|e| e.to_string())
        };
        assert_eq!(external("redis-cluster", ""), Ok(Some(FailoverMode::Orchestrator)));
        assert_eq!(external("redis-cluster", "failover: {mode: orchestrator}\n"), Ok(Some(FailoverMode::Orchestrator)));
        let fault = "faults: [{at_ms: 1000, kind: action, action: {command: 'true'}}]\n";
        let steps = format!("{fault}failover: {{trigger: {{delay: {{delay_ms: 500}}}}, steps: [{{name: force, command: 'true'}}]}}\n");
        let steps = steps.as_str();
        assert_eq!(external("redis-cluster", steps), Ok(Some(FailoverMode::Scripted)));
        let one_primary = crate::scenario::KINDS.into_iter().find(|k| k.info().engine && !k.orchestrated()).unwrap().name();
        assert_eq!(external(one_primary, ""), Ok(None));
        let refused = external(one_primary, "failover: {mode: orchestrator}\n").unwrap_err();
        assert!(refused.contains("no external stack but a redis-cluster"), "{refused}");
    }

    #[test]
    fn faults_name_a_shard_by_its_role() {
        let kill = |t: &str| format!("faults: [{{at_ms: 1, kind: kill, target: {t}}}]\n");
        assert_eq!(problems("", &kill("shard-3/primary")), "");
        assert_eq!(problems("", &kill("shard-2/replica-1")), "");
        assert!(problems("", &kill("shard-4/primary")).contains("this stack has shard-1 to shard-3"));
        assert!(problems("", &kill("shard-1/replica-2")).contains("expected shard-1/primary or shard-1/replica-1 to replica-1"));
        assert!(problems(", cluster: {replicas_per_master: 0}", &kill("shard-1/replica-1")).contains("the shards have no replicas"));
        assert!(problems("", &kill("shard-1")).contains("`shard-N/primary`, `shard-N/replica-K` or a node"));
        let part = "faults: [{at_ms: 1, kind: partition, duration_ms: 5, groups: [[shard-1/primary], [primary]]}]\n";
        assert!(problems("", part).contains("`primary` and `shard-1/primary` are the same node (rc-1)"));
        let part = "faults: [{at_ms: 1, kind: partition, duration_ms: 5, groups: [[shard-2/primary, shard-2/replica-1], [primary]]}]\n";
        assert_eq!(problems("", part), "");
    }
}
