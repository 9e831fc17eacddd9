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
    topology: cluster_topology,
    // a READONLY connection to a node reads its own shard's keys
    reads: true,
    primaries: |st| usize::from(st.cluster.clone().unwrap_or_default().masters),
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

    /// The slots each primary serves, inclusive, shard 1 first: the split drdrill's
    /// `redis-cli --cluster create` makes (redis-cli.c `clusterManagerCommandCreate`: 16384 /
    /// masters as a C `float`, a running sum of it, each range ending at that sum rounded,
    /// the last at 16383). A running cluster's own `CLUSTER NODES` says what it serves.
    pub fn slot_ranges(&self) -> Vec<(u16, u16)> {
        let masters = usize::from(self.masters);
        let per = 16384f32 / masters as f32;
        let (mut first, mut cursor, mut out) = (0i64, 0f32, Vec::new());
        for i in 0..masters {
            let mut last = (cursor + per - 1.0).round() as i64;
            if last > 16384 || i == masters - 1 {
                last = 16383;
            }
            last = last.max(first);
            out.push((first as u16, last as u16));
            first = last + 1;
            cursor += per;
        }
        out
    }
}

/// A stack setting: its value and where it comes from (the scenario, or `default`).
fn setting(st: &StackSpec, key: &str, default: (&str, &str)) -> (String, String) {
    match st.settings.get(key) {
        Some(v) => (v.clone(), String::new()),
        None => (default.0.to_string(), format!(" ({})", default.1)),
    }
}

/// The shards as they start: each primary with its slots, the replicas, and the settings
/// that decide when a shard fails over and what the others do meanwhile.
fn cluster_topology(st: &StackSpec) -> Vec<String> {
    let c = st.cluster.clone().unwrap_or_default();
    let (nodes, m, r) = (st.node_names(), usize::from(c.masters), c.replicas_per_master);
    let name = |i: usize| nodes.get(i).cloned().unwrap_or_default();
    let shards: Vec<String> =
        c.slot_ranges().iter().enumerate().map(|(i, (a, b))| format!("shard-{} {} slots {a}-{b}", i + 1, name(i))).collect();
    let replicas = match (r, st.sites.is_empty()) {
        (0, _) => "no replicas: a primary lost is its shard's slots lost until it is back".to_string(),
        (_, false) => {
            let of: Vec<String> = (m..nodes.len()).map(|j| format!("{} of {}", name(j), name((j - m) % m))).collect();
            format!("replicas (with sites, each given to a primary in start order): {}", of.join(", "))
        }
        (k, true) => {
            format!("replicas {}: {k} to each primary, as redis-cli --cluster create pairs them", nodes[m.min(nodes.len())..].join(", "))
        }
    };
    let timeout_default = CLUSTER_DEFAULTS.iter().find(|(k, _)| *k == "cluster-node-timeout").map_or("15000", |(_, v)| v);
    let (timeout, from) = setting(st, "cluster-node-timeout", (timeout_default, "drdrill's default, seed 001's"));
    let (coverage, coverage_from) = setting(st, "cluster-require-full-coverage", ("yes", "Redis' default"));
    let meaning = match coverage.as_str() {
        "no" => "only the slots of a shard without a primary refuse writes",
        _ => "while any shard has no primary, every slot refuses writes (CLUSTERDOWN)",
    };
    vec![
        format!(
            "{m} primaries, each serving its share of the 16384 slots with {r} replica{} ({} nodes), replication async",
            if r == 1 { "" } else { "s" },
            nodes.len()
        ),
        format!("shards (redis-cli --cluster create's split): {}", shards.join(", ")),
        replicas,
        format!("cluster-node-timeout {timeout} ms{from}; cluster-require-full-coverage {coverage}{coverage_from}: {meaning}"),
    ]
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
        assert!(
            problems(", cluster: {masters: 2}", "")
                .contains("masters must be between 3 and 9, found 2 (a cluster fails over by a majority of its primaries)")
        );
        assert!(problems(", cluster: {replicas_per_master: 4}", "").contains("replicas_per_master must be between 0 and 3, found 4"));
        assert!(problems(", settings: {port: '7000'}", "").contains("`port` is set by drdrill"));
        assert!(problems(", settings: {requirepass: x}", "").contains("`requirepass` is set by drdrill on every cluster node (a password"));
        assert!(
            problems(", settings: {cluster-node-timeout: '50'}", "")
                .contains("cluster-node-timeout must be between 100 and 600000, found 50 (ms)")
        );
        assert!(problems(", replication: sync", "").contains("asynchronous"));
        assert!(problems(", sentinel: {}", "").contains("`sentinel` settings apply to a redis-sentinel stack"));
        assert!(problems("", "proxy: {clients: true}\n").contains("follow MOVED"));
        assert!(!problems("", "monitoring: {rules: [r.yml]}\n").contains("monitoring"), "a cluster is monitored (redis_exporter per node)");
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

    /// redis-cli's own `Master[i] -> Slots a - b` lines for 3, 5 and 6 primaries; every
    /// count covers the slots once, in order.
    #[test]
    fn the_slots_split_as_redis_cli_splits_them() {
        let split = |masters: u8| super::ClusterSpec { masters, ..Default::default() }.slot_ranges();
        assert_eq!(split(3), [(0, 5460), (5461, 10922), (10923, 16383)]);
        assert_eq!(split(5), [(0, 3276), (3277, 6553), (6554, 9829), (9830, 13106), (13107, 16383)]);
        assert_eq!(split(6), [(0, 2730), (2731, 5460), (5461, 8191), (8192, 10922), (10923, 13652), (13653, 16383)]);
        for m in 3..=9 {
            let r = split(m);
            assert_eq!((r.len(), r[0].0, r[r.len() - 1].1), (usize::from(m), 0, 16383));
            assert!(r.windows(2).all(|w| w[1].0 == w[0].1 + 1), "{r:?}");
        }
    }

    #[test]
    fn the_plan_names_each_shard_its_replicas_and_the_settings_that_time_it() {
        let topology = |stack: serde_json::Value| {
            let mut spec = serde_json::json!({"kind": "redis-cluster"});
            spec.as_object_mut().unwrap().extend(stack.as_object().unwrap().clone());
            let st: crate::scenario::StackSpec = serde_json::from_value(spec).unwrap();
            (st.kind.info().topology)(&st).join("\n")
        };
        let t = topology(serde_json::json!({}));
        assert!(t.contains("3 primaries, each serving its share of the 16384 slots with 1 replica (6 nodes)"), "{t}");
        assert!(t.contains("shard-1 rc-1 slots 0-5460, shard-2 rc-2 slots 5461-10922, shard-3 rc-3 slots 10923-16383"), "{t}");
        assert!(
            t.contains("cluster-node-timeout 5000 ms (drdrill's default, seed 001's); cluster-require-full-coverage yes (Redis' default)"),
            "{t}"
        );
        let t = topology(serde_json::json!({"settings": {"cluster-require-full-coverage": "no", "cluster-node-timeout": "2000"}}));
        assert!(t.contains("cluster-node-timeout 2000 ms; cluster-require-full-coverage no: only the slots"), "{t}");
        let t = topology(serde_json::json!({"sites": {"a": ["rc-1", "rc-6"], "b": ["rc-2", "rc-4"], "c": ["rc-3", "rc-5"]}}));
        assert!(t.contains("rc-4 of rc-1, rc-5 of rc-2, rc-6 of rc-3"), "{t}");
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
