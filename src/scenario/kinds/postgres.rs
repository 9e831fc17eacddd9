//! PostgreSQL's kinds: streaming replicas drdrill promotes in (`postgres`), Patroni
//! with etcd and HAProxy (`patroni`), with Patroni's and HAProxy's settings (the seed's
//! values as defaults) and their rules, and every node writable through pglogical
//! (`pglogical`, `stack.multi_active`).
use super::BackupInfo;
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::Key;
use crate::scenario::model::*;

/// Why a PostgreSQL stack takes no semi-sync.
const NO_SEMI_SYNC: &str = "semi-sync is MariaDB's; use `replication: sync` for postgres";

/// The archive host of seed 001's rsync archive (`stack.backup.tool: rsync`).
pub const ARCHIVE_HOST: &str = "dr-storage";

pub const POSTGRES: KindInfo = KindInfo {
    engine: true,
    refuses: &[(ReplicationMode::SemiSync, NO_SEMI_SYNC)],
    backup: Some(BackupInfo { tool: "pgBackRest 2.45", keys: &["tool", "archive_timeout_s"], point_in_time: true }),
    services: archive_host,
    placed_services: archive_host,
    delay_setting: Some("recovery_min_apply_delay"),
    clock_skew: true,
    sql: true,
    reads: true,
    ..KindInfo::bare("postgres", "PostgreSQL 15 primary + streaming replicas (pg_basebackup).", "pg", "drdrill/postgres:15-2")
};

/// An rsync archive runs its archive host beside the nodes, placed in a site of its own
/// choosing (the DR site) when the scenario has sites.
fn archive_host(st: &StackSpec) -> Vec<String> {
    st.backup.iter().filter(|b| b.tool() == crate::scenario::backup::BackupTool::Rsync).map(|_| ARCHIVE_HOST.to_string()).collect()
}

pub const PGLOGICAL: KindInfo = KindInfo {
    blocks: &["multi_active"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC_MESH), (ReplicationMode::SemiSync, NO_SEMI_SYNC)],
    validate: validate_mesh,
    clock_skew: true,
    multi_active: true,
    reads: true,
    node_count: Some(mesh_nodes),
    sql: true,
    topology: mesh_topology,
    ..KindInfo::bare(
        "pglogical",
        "PostgreSQL 15 nodes, every one writable, each applying every other's changes through pglogical 2.4.2 (a full mesh of subscriptions, forward_origins '{}'); a conflict is resolved by `multi_active.conflict_resolution` on commit timestamps.",
        "pgl",
        "drdrill/postgres:15-2",
    )
};

const NO_SYNC_MESH: &str = "pglogical applies every other node's changes asynchronously; there is no synchronous mode to choose";

fn mesh_nodes(st: &StackSpec) -> usize {
    usize::from(st.multi_active.clone().unwrap_or_default().nodes)
}

/// Every node writable, each subscribed to every other: no primary, no replicas.
fn mesh_topology(st: &StackSpec) -> Vec<String> {
    let ma = st.multi_active.clone().unwrap_or_default();
    vec![
        format!(
            "{} writable nodes, a full mesh of pglogical subscriptions: each node applies every other's changes, asynchronously (no primary, no replicas)",
            ma.nodes
        ),
        format!("nodes: {}", super::topology::nodes_in_sites(st, &[])),
        format!(
            "conflicts: {} ({}), each logged by the node that resolves it",
            ma.conflict_resolution.name(),
            ma.conflict_resolution.meaning()
        ),
    ]
}

fn validate_mesh(s: &Scenario, p: &mut Vec<Problem>) {
    let n = s.stack.multi_active.clone().unwrap_or_default().nodes;
    crate::scenario::bounds::check(
        p,
        vec![Key("stack"), Key("multi_active"), Key("nodes")],
        "MultiActiveSpec.nodes",
        f64::from(n),
        "writable nodes",
    );
}

pub const PATRONI: KindInfo = KindInfo {
    orchestrator: Some("Patroni"),
    blocks: &["patroni", "haproxy"],
    refuses: &[
        (ReplicationMode::Sync, "use `patroni.synchronous_mode: true` (Patroni manages synchronous replication)"),
        (ReplicationMode::SemiSync, NO_SEMI_SYNC),
    ],
    services: etcd_and_haproxy,
    delay_setting: Some("recovery_min_apply_delay"),
    groups: &[("etcd", "etcd-")],
    members_span_sites: true,
    validate: validate_patroni,
    sql: true,
    reads: true,
    read_endpoints: &["haproxy-replica"],
    ..KindInfo::bare(
        "patroni",
        "PostgreSQL 15 under Patroni 3 with an etcd 3.4 cluster; clients go through HAProxy, which routes by Patroni's REST health check.",
        "pg",
        "drdrill/patroni:3",
    )
};

fn etcd_and_haproxy(st: &StackSpec) -> Vec<String> {
    let n = st.patroni.clone().unwrap_or_default().etcd_members;
    let mut v: Vec<String> = (1..=n).map(|i| format!("etcd-{i}")).collect();
    v.push("haproxy".into());
    v
}

fn validate_patroni(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    if let Some(pa) = &st.patroni {
        let k = |f: &'static str| vec![Key("stack"), Key("patroni"), Key(f)];
        for (f, key, v) in [
            ("ttl", "PatroniSpec.ttl", pa.ttl),
            ("loop_wait", "PatroniSpec.loop_wait", pa.loop_wait),
            ("retry_timeout", "PatroniSpec.retry_timeout", pa.retry_timeout),
        ] {
            crate::scenario::bounds::check(p, k(f), key, f64::from(v), "seconds");
        }
        // Patroni's documented rule (loop_wait + 2 × retry_timeout <= ttl)
        let need = u64::from(pa.loop_wait) + 2 * u64::from(pa.retry_timeout);
        if u64::from(pa.ttl) < need {
            p.push((k("ttl"), format!("Patroni needs ttl >= loop_wait + 2 × retry_timeout ({need}), found {}", pa.ttl)));
        }
        if ![1, 3, 5].contains(&pa.etcd_members) {
            p.push((k("etcd_members"), format!("expected 1, 3 or 5 etcd members, found {}", pa.etcd_members)));
        }
    }
    if let Some(h) = &st.haproxy {
        let k = |f: &'static str| vec![Key("stack"), Key("haproxy"), Key(f)];
        for (f, key, v) in
            [("inter_ms", "HaproxySpec.inter_ms", Some(h.inter_ms)), ("fastinter_ms", "HaproxySpec.fastinter_ms", h.fastinter_ms)]
        {
            crate::scenario::bounds::check_opt(p, k(f), key, v.map(|v| v as f64));
        }
        for (f, key, v) in [("fall", "HaproxySpec.fall", h.fall), ("rise", "HaproxySpec.rise", h.rise)] {
            crate::scenario::bounds::check(p, k(f), key, f64::from(v), "");
        }
    }
}
