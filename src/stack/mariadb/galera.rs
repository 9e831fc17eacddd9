//! MariaDB 10.11 nodes in a Galera 4 cluster, every one writable (`kind: galera`). `gal-1`
//! forms the cluster; the others join it by full state transfer (rsync). A commit is
//! certified by every node of the primary component before it is acknowledged; a node
//! cut off from the majority refuses queries (1047) until it rejoins. The data path is
//! MariaDB's (`data.rs`); the image's `galera` role does the starts and restarts.
//! Settings and pitfalls: ../shared/notes/probe-galera-redis-cluster.md.
use super::data::{KEYS, MariaData, q, server_id};
use super::driver::MariaDb;
use crate::error::{Error, Result};
use crate::scenario::StackSpec;
use crate::stack::data::DataPath;
use crate::stack::{Deployment, Driver, MultiActive, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use mysql_async::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

pub struct Galera {
    /// The account, settings, exporter and client command are plain MariaDB's.
    db: MariaDb,
    peers: Vec<String>,
}

impl Galera {
    pub fn new(spec: &StackSpec) -> Self {
        Galera { db: MariaDb::new(spec), peers: spec.node_names() }
    }

    /// `wsrep_cluster_name`: the nodes' prefix (`gal`, `flush0-gal`), unique in the drill.
    fn cluster_name(&self) -> String {
        self.peers.first().and_then(|n| n.rsplit_once('-')).map_or_else(|| "drdrill".to_string(), |(p, _)| p.to_string())
    }

    pub(super) fn data(&self) -> &MariaData {
        &self.db.data
    }

    /// The node's `wsrep_%` status, as Galera reports it (answered even without quorum).
    pub(super) async fn wsrep(&self, addr: SocketAddr) -> Result<HashMap<String, String>> {
        let mut c = self.data().admin(addr).await?;
        let rows: Vec<(String, String)> = c.query("SHOW GLOBAL STATUS LIKE 'wsrep_%'").await.map_err(q(addr, "read the wsrep status"))?;
        Ok(rows.into_iter().collect())
    }

    /// One node, Synced in a primary component of every node; an error until it is.
    async fn node_health(&self, stack: &Stack, node: &str) -> Result<ReplicaHealth> {
        let w = self.wsrep(stack.node(node)?.addr()).await?;
        let get = |k: &str| w.get(k).cloned().unwrap_or_default();
        let (state, status, size) = (get("wsrep_local_state_comment"), get("wsrep_cluster_status"), get("wsrep_cluster_size"));
        if state != "Synced" || status != "Primary" || size != self.peers.len().to_string() {
            return Err(Error::infra(format!(
                "{node} is {state} in a {status} component of {size} (waiting for Synced in all {})",
                self.peers.len()
            )));
        }
        let queue = get("wsrep_local_recv_queue");
        Ok(ReplicaHealth {
            node: node.to_string(),
            state: format!("Synced, primary component of {size}, receive queue {queue}"),
            lag_bytes: 0,
        })
    }
}

#[async_trait]
impl Driver for Galera {
    fn data(&self) -> &dyn DataPath {
        self.data()
    }

    /// Every node Synced in one primary component; then the shared key space is made
    /// (a DDL statement, replicated to every node before it returns).
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let health = retry_until(timeout, Duration::from_millis(500), || async {
            let mut v = Vec::new();
            for n in &stack.nodes {
                v.push(self.node_health(stack, &n.name).await?);
            }
            Ok(v)
        })
        .await?;
        let addr = stack.nodes[0].addr();
        let mut c = self.data().admin(addr).await?;
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS drdrill; CREATE TABLE IF NOT EXISTS {KEYS} (k INT PRIMARY KEY, writer INT NOT NULL, seq BIGINT NOT NULL) ENGINE=InnoDB"
        );
        c.query_drop(sql).await.map_err(q(addr, "create the shared key space"))?;
        c.query_drop(exporter_account(&self.db.password)).await.map_err(q(addr, "create the exporter's account"))?;
        Ok(health)
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn multi_active(&self) -> Option<&dyn MultiActive> {
        Some(self)
    }
}

#[async_trait]
impl Deployment for Galera {
    fn container(&self, node: &str, primary: &str, _replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let env = vec![
            "DRDRILL_ROLE=galera".to_string(),
            format!("DRDRILL_NODE={node}"),
            format!("DRDRILL_SERVER_ID={}", server_id(node)),
            format!("DRDRILL_PASSWORD={}", self.db.password),
            format!("DRDRILL_SETTINGS={}", self.db.settings.join("\n")),
            format!("DRDRILL_PEERS={}", self.peers.join(",")),
            format!("DRDRILL_CLUSTER={}", self.cluster_name()),
            format!("DRDRILL_BOOTSTRAP={}", u8::from(node == primary)),
        ];
        (env, Vec::new())
    }

    fn client_command(&self, host_port: u16) -> String {
        self.db.client_command(host_port)
    }

    /// mysqld_exporter 0.14, as plain MariaDB's, logged in as `exporter`: its
    /// `global_status` collector publishes every numeric `wsrep_%` status
    /// (`mysql_global_status_wsrep_cluster_size`, `…_wsrep_local_state` 4 Synced,
    /// `…_wsrep_ready`, `…_wsrep_cluster_status` 1 Primary, `…_wsrep_flow_control_paused`).
    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        let mut e = self.db.exporter(node)?;
        e.env = vec![format!("DATA_SOURCE_NAME={EXPORTER_USER}:{}@({node}:3306)/", self.db.password)];
        Some(e)
    }

    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        Deployment::destroy_data_command(&self.db, how)
    }
}

#[async_trait]
impl MultiActive for Galera {
    async fn read_keys(&self, addr: SocketAddr) -> Result<BTreeMap<u32, (u32, u64)>> {
        let mut c = self.data().admin(addr).await?;
        let rows: Vec<(u32, u32, u64)> =
            c.query(format!("SELECT k, writer, seq FROM {KEYS}")).await.map_err(q(addr, "read the shared keys"))?;
        Ok(rows.into_iter().map(|(k, w, s)| (k, (w, s))).collect())
    }

    /// Galera's own conflict counters on the node since its server started: commits that
    /// failed certification, and local transactions aborted by a replicated one.
    async fn engine_counts(&self, stack: &Stack, node: &str) -> Result<Vec<(String, u64)>> {
        let w = self.wsrep(stack.node(node)?.addr()).await?;
        let n = |k: &str| w.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(vec![
            ("wsrep_local_cert_failures".into(), n("wsrep_local_cert_failures")),
            ("wsrep_local_bf_aborts".into(), n("wsrep_local_bf_aborts")),
        ])
    }

    /// In the cluster when Synced (or a donor) in the primary component; the state and the
    /// component it is in (`Initialized, non-Primary`).
    async fn member_state(&self, addr: SocketAddr) -> Option<std::result::Result<(bool, String), String>> {
        let w = match self.wsrep(addr).await {
            Ok(w) => w,
            Err(_) => return Some(Err("unreachable".into())),
        };
        let get = |k: &str| w.get(k).cloned().unwrap_or_default();
        let (state, status) = (get("wsrep_local_state_comment"), get("wsrep_cluster_status"));
        let member = status == "Primary" && (state == "Synced" || state.starts_with("Donor"));
        Some(Ok((member, if state == "Synced" && status == "Primary" { state } else { format!("{state}, {status}") })))
    }

    /// The node's state transfer in its log since it left: incremental (IST), full (SST),
    /// or none (its view restored).
    async fn rejoin_method(&self, stack: &Stack, node: &str, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let log = stack.docker.logs(&stack.node(node).ok()?.container).await.ok()?;
        last_transfer(&lines_since(&log, since))
    }

    fn bootstrap(&self) -> Option<&dyn crate::stack::Bootstrap> {
        Some(self)
    }
}

/// The account mysqld_exporter logs in as, and the grants it needs on MariaDB 10.11:
/// mysqld_exporter's own list (PROCESS, REPLICATION CLIENT, SELECT), and SLAVE MONITOR,
/// which its `slave_status` collector needs since 10.5 split it from REPLICATION CLIENT.
const EXPORTER_USER: &str = "exporter";
const EXPORTER_GRANTS: &str = "PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR";

/// Creates the exporter's account on a node; Galera replicates it to every other (DDL in
/// total order).
fn exporter_account(password: &str) -> String {
    format!(
        "CREATE USER IF NOT EXISTS '{EXPORTER_USER}'@'%' IDENTIFIED BY '{password}'; GRANT {EXPORTER_GRANTS} ON *.* TO '{EXPORTER_USER}'@'%'"
    )
}

/// The lines of a log read with the engine's timestamps (`2026-11-25T19:08:08.66Z …`)
/// stamped at or after `since`; a line without one goes with the line before it.
fn lines_since(log: &str, since: chrono::DateTime<chrono::Utc>) -> String {
    let mut keep = false;
    let mut out = String::new();
    for l in log.lines() {
        if let Some(t) = l.split_whitespace().next().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
            keep = t >= since;
        }
        if keep {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// How a Galera log shows the node last came back, since its latest restart (the image's
/// `restarts at recovered position` line) when it was restarted: an incremental state
/// transfer (`Receiving IST: …`), a full one (`Prepared SST request: …`), or none: it
/// bootstrapped the primary component (the operator's choice), or restored it from the view
/// it saved (`Restored state OPEN -> …`).
fn last_transfer(log: &str) -> Option<String> {
    let since = log.rfind("restarts at recovered position").map_or(log, |i| &log[i..]);
    let transfer = since.lines().rev().find_map(|l| {
        if let Some(i) = l.find("Receiving IST") {
            Some(format!("IST ({})", l[i..].trim()))
        } else {
            l.find("Prepared SST request").map(|i| format!("SST ({})", l[i..].trim()))
        }
    });
    // the operator's bootstrap: pc.bootstrap=YES on a running node, --wsrep-new-cluster on
    // a restarted one
    let bootstrapped = || {
        since.lines().find(|l| l.contains("bootstrap = yes") || l.contains("gcomm: bootstrapping new group")).map(|_| {
            "no state transfer: it bootstrapped the new primary component from its own data (pc.bootstrap=YES or --wsrep-new-cluster)"
                .to_string()
        })
    };
    let restored = || {
        since.lines().find(|l| l.contains("Restored state OPEN")).map(|l| {
            let i = l.find("Restored state").unwrap_or(0);
            format!("no state transfer: the primary component restored from its saved view, pc.recovery ({})", l[i..].trim())
        })
    };
    transfer.or_else(bootstrapped).or_else(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exporter logs in with its own account, which holds the grants it needs and no
    /// more (the `drdrill` account has them all).
    #[test]
    fn the_exporter_logs_in_with_the_grants_it_needs_only() {
        let l = crate::scenario::parse(std::path::Path::new("t.yaml"), "name: t\ntargets: {}\nstack: {kind: galera}\n".into()).unwrap();
        let g = Galera::new(&l.scenario.stack);
        let e = Deployment::exporter(&g, "gal-2").unwrap();
        assert_eq!(e.env, vec![format!("DATA_SOURCE_NAME=exporter:{}@(gal-2:3306)/", g.db.password)]);
        let sql = exporter_account(&g.db.password);
        assert!(sql.contains("GRANT PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR ON *.* TO 'exporter'@'%'"), "{sql}");
        assert!(!sql.contains("ALL"), "{sql}");
    }

    #[test]
    fn the_last_state_transfer_in_the_log_is_the_rejoins() {
        let log = "2026-11-25 [Note] WSREP: Prepared SST request: rsync|gal-2:4444/rsync_sst\n\
                   2026-11-25 [Note] WSREP: Receiving IST: 196 writesets, seqnos 1021-1217\n\
                   2026-11-25 [Note] WSREP: IST received: 4f1c:1217\n";
        assert_eq!(last_transfer(log).unwrap(), "IST (Receiving IST: 196 writesets, seqnos 1021-1217)");
        assert!(last_transfer("[Note] WSREP: Prepared SST request: rsync|gal-3:4444/rsync_sst").unwrap().starts_with("SST"));
        assert_eq!(last_transfer("nothing"), None);
        // after a restart only what followed it counts
        let restarted =
            format!("{log}drdrill: gal-1 restarts at recovered position 4f1c:972\n[Note] WSREP: Restored state OPEN -> JOINED (973)\n");
        assert!(last_transfer(&restarted).unwrap().starts_with("no state transfer"), "{restarted}");
        // only the lines stamped since the node left
        let stamped = "2026-11-25T19:00:00.000Z [Note] WSREP: Receiving IST: 5 writesets\n2026-11-25T19:00:30.000Z [Note] WSREP: Prepared SST request: rsync\n";
        let since = chrono::DateTime::parse_from_rfc3339("2026-11-25T19:00:10Z").unwrap().with_timezone(&chrono::Utc);
        assert!(last_transfer(&lines_since(stamped, since)).unwrap().starts_with("SST"));
        // the node the operator bootstrapped
        let booted = "drdrill: gal-3 restarts at recovered position u:984\n[Note] WSREP: restore pc from disk successfully\n\
                      [Note] WSREP: gcomm: bootstrapping new group 'gal'\n[Note] WSREP: Restored state OPEN -> JOINED (985)\n";
        assert!(last_transfer(booted).unwrap().contains("bootstrapped the new primary component"), "{booted}");
        let running = "[Note] WSREP: New COMPONENT: primary = yes, bootstrap = yes, my_idx = 0, memb_num = 1\n";
        assert!(last_transfer(running).unwrap().contains("bootstrapped"));
        let later = since + chrono::Duration::minutes(1);
        assert_eq!(last_transfer(&lines_since(stamped, later)), None);
    }
}
