//! MariaDB's kinds: binlog + GTID replicas drdrill promotes in (`mariadb`), MHA with a
//! virtual IP (`mariadb-mha`), with MHA's settings (MHA's own defaults) and their rules,
//! and every node writable in a Galera cluster (`galera`, `stack.galera`).
use super::BackupInfo;
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::Key;
use crate::scenario::model::*;

/// The container that streams a backed-up MariaDB's binlog (`mariadb-binlog --stop-never`).
pub const BINLOG_STREAMER: &str = "binlog";

/// Why a MariaDB stack takes no synchronous replication.
const NO_SYNC: &str = "MariaDB replication is async or semi-sync; use `replication: semi-sync` (a commit waits for one replica's ack)";

pub const MARIADB: KindInfo = KindInfo {
    server_promotes: true,
    engine: true,
    refuses: &[(ReplicationMode::Sync, NO_SYNC)],
    backup: Some(BackupInfo { tool: "mariabackup + binlog streaming", keys: &[], point_in_time: true }),
    delay_setting: Some("master_delay"),
    services: binlog_streamer,
    reads: true,
    ..KindInfo::bare(
        "mariadb",
        "MariaDB 10.11 primary + replicas, binlog + GTID replication, async or semi-sync.",
        "db",
        "drdrill/mariadb:10.11",
    )
};

pub const MARIADB_MHA: KindInfo = KindInfo {
    orchestrator: Some("MHA"),
    blocks: &["mha"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC)],
    services: mha_and_vip,
    delay_setting: Some("master_delay"),
    validate: validate_mha,
    reads: true,
    ..KindInfo::bare(
        "mariadb-mha",
        "MariaDB 10.11 under MHA 0.58, which moves a virtual IP to the master it promotes; clients reach the VIP through a forwarder.",
        "db",
        "drdrill/mariadb:10.11",
    )
};

/// A backed-up MariaDB streams its binlog into the backup volume from a container of its own.
fn binlog_streamer(st: &StackSpec) -> Vec<String> {
    st.backup.iter().map(|_| BINLOG_STREAMER.to_string()).collect()
}

fn mha_and_vip(_: &StackSpec) -> Vec<String> {
    vec!["mha".into(), "vip".into()]
}

pub const GALERA: KindInfo = KindInfo {
    blocks: &["galera"],
    refuses: &[(ReplicationMode::Sync, NO_MODE_GALERA), (ReplicationMode::SemiSync, NO_MODE_GALERA)],
    members_span_sites: true,
    multi_active: true,
    reads: true,
    node_count: Some(galera_nodes),
    topology: galera_topology,
    bootstrap: true,
    validate: validate_galera,
    ..KindInfo::bare(
        "galera",
        "MariaDB 10.11 nodes in a Galera 4 (26.4) cluster, every one writable: a commit is certified by every node of the primary component before it is acknowledged; a node cut off from the majority refuses queries until it rejoins (incremental or full state transfer).",
        "gal",
        "drdrill/mariadb:10.11",
    )
};

const NO_MODE_GALERA: &str = "Galera certifies every commit on every node of the primary component before acknowledging it; there is no replication mode to choose (wsrep settings go in `stack.settings`)";

fn galera_nodes(st: &StackSpec) -> usize {
    usize::from(st.galera.clone().unwrap_or_default().nodes)
}

/// Every node writable in one cluster, the primary component a majority of them; failure
/// detection as `wsrep_provider_options` sets it, else Galera's defaults.
fn galera_topology(st: &StackSpec) -> Vec<String> {
    let n = st.galera.clone().unwrap_or_default().nodes;
    let options = st.settings.get("wsrep_provider_options").map(String::as_str).unwrap_or_default();
    let option = |key: &str, default: &str| {
        let set = options.split(';').filter_map(|o| o.split_once('=')).find(|(k, _)| k.trim() == key);
        set.map_or(format!("{key} {default} (Galera's default)"), |(_, v)| format!("{key} {}", v.trim()))
    };
    vec![
        format!(
            "{n} writable nodes in one Galera 4 cluster: a commit is certified by every node of the primary component before it is acknowledged (no primary, no replicas)"
        ),
        format!("nodes: {}", super::topology::nodes_in_sites(st, &[(0, "bootstraps the cluster")])),
        format!(
            "primary component: more than half the nodes ({} of {n}); a node cut off from it refuses queries until it rejoins; failure detection: {}, {}",
            n / 2 + 1,
            option("evs.suspect_timeout", "PT5S"),
            option("evs.inactive_timeout", "PT15S")
        ),
    ]
}

fn validate_galera(s: &Scenario, p: &mut Vec<Problem>) {
    let n = s.stack.galera.clone().unwrap_or_default().nodes;
    crate::scenario::bounds::check(p, vec![Key("stack"), Key("galera"), Key("nodes")], "GaleraSpec.nodes", f64::from(n), "Galera nodes");
}

fn validate_mha(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let Some(m) = &st.mha else { return };
    let k = |f: &'static str| vec![Key("stack"), Key("mha"), Key(f)];
    crate::scenario::bounds::check(p, k("ping_interval_s"), "MhaSpec.ping_interval_s", f64::from(m.ping_interval_s), "seconds");
    let names = st.node_names();
    for c in &m.candidate_master {
        if !names.contains(c) {
            p.push((k("candidate_master"), format!("no node named `{c}`; the nodes are {}", names.join(", "))));
        }
    }
}
