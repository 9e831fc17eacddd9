//! PostgreSQL 15 nodes, every one writable (`kind: pglogical`): each node applies every
//! other node's changes through pglogical 2.4.2, a full mesh of subscriptions with
//! `forward_origins '{}'` (a change travels one hop, from the node it was written on).
//! Records go through the `default_insert_only` set, the shared key space through
//! `default`; a conflict is resolved by `pglogical.conflict_resolution` on commit
//! timestamps and logged. Settings and pitfalls: ../shared/notes/probe-faketime-pglogical.md.
use super::data::{KEYS, PgData, q};
use crate::error::{Error, Result};
use crate::scenario::StackSpec;
use crate::stack::data::DataPath;
use crate::stack::{Deployment, Driver, MultiActive, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

pub struct Pglogical {
    settings: Vec<String>,
    data: PgData,
}

/// How often the mesh is asked whether every subscription replicates.
const POLL: Duration = Duration::from_millis(500);

impl Pglogical {
    pub fn new(spec: &StackSpec) -> Self {
        let ma = spec.multi_active.clone().unwrap_or_default();
        let n = usize::from(ma.nodes);
        // the notes' settings; `output_plugin_libraries` must name pglogical's plugin on
        // 15.19 and later, or no subscription can make its slot
        let mesh = [
            "wal_level = logical".to_string(),
            "shared_preload_libraries = 'pglogical'".into(),
            "track_commit_timestamp = on".into(),
            format!("pglogical.conflict_resolution = '{}'", ma.conflict_resolution.name()),
            "pglogical.conflict_log_level = 'LOG'".into(),
            format!("max_worker_processes = {}", 8 + 2 * n),
            format!("max_replication_slots = {}", 4 + 2 * n),
            "output_plugin_libraries = 'pgoutput, test_decoding, pglogical_output'".into(),
        ];
        let defaults = super::driver::DEFAULTS.iter().map(|s| s.to_string());
        Pglogical { settings: defaults.chain(mesh).chain(super::driver::own_settings(spec)).collect(), data: PgData::drill() }
    }

    /// The node's own half of the mesh: the extension, the tables, the pglogical node,
    /// and the tables in their replication sets.
    async fn make_node(&self, addr: SocketAddr, node: &str) -> Result<()> {
        self.data.prepare(addr).await?;
        let c = self.data.admin(addr).await?;
        let sql = format!(
            "CREATE EXTENSION IF NOT EXISTS pglogical; \
             CREATE TABLE IF NOT EXISTS {KEYS} (k int PRIMARY KEY, writer int NOT NULL, seq bigint NOT NULL); \
             SELECT pglogical.create_node(node_name := '{}', dsn := '{}'); \
             SELECT pglogical.replication_set_add_table('default_insert_only', 'drdrill_writes'); \
             SELECT pglogical.replication_set_add_table('default', '{KEYS}');",
            pgl_name(node),
            dsn(node, 5432)
        );
        c.batch_execute(&sql).await.map_err(q(addr, "make the pglogical node"))
    }

    /// `me` subscribes to `peer`'s changes, through the path between their sites.
    async fn subscribe(&self, stack: &Stack, me: &str, peer: &str) -> Result<()> {
        let addr = stack.node(me)?.addr();
        let (host, port) = stack.upstream(me, peer);
        let sql = format!(
            "SELECT pglogical.create_subscription(subscription_name := '{}', provider_dsn := '{} connect_timeout=2', \
             replication_sets := ARRAY['default', 'default_insert_only'], synchronize_structure := false, \
             synchronize_data := false, forward_origins := '{{}}')",
            subscription(me, peer),
            dsn(&host, port)
        );
        self.data.admin(addr).await?.batch_execute(&sql).await.map_err(q(addr, &format!("subscribe {me} to {peer}")))
    }

    /// Every subscription of every node, with how far its provider's slot is behind; an
    /// error until each one replicates.
    async fn mesh_health(&self, stack: &Stack) -> Result<Vec<ReplicaHealth>> {
        let mut out = Vec::new();
        for me in &stack.nodes {
            let c = self.data.admin(me.addr()).await?;
            let rows = c
                .query("SELECT subscription_name::text, status::text, slot_name::text FROM pglogical.show_subscription_status()", &[])
                .await
                .map_err(q(me.addr(), "read the subscriptions"))?;
            for peer in stack.nodes.iter().filter(|p| p.name != me.name) {
                let name = subscription(&me.name, &peer.name);
                let row = rows.iter().find(|r| r.get::<_, String>(0) == name);
                let (status, slot): (String, String) =
                    row.map(|r| (r.get(1), r.get(2))).unwrap_or_else(|| ("missing".into(), String::new()));
                if status != "replicating" {
                    return Err(Error::infra(format!("{}'s subscription to {} is {status}, not replicating", me.name, peer.name)));
                }
                let lag = self.slot_lag(peer.addr(), &slot).await?;
                out.push(ReplicaHealth { node: format!("{} <- {}", me.name, peer.name), state: status, lag_bytes: lag });
            }
        }
        Ok(out)
    }

    /// How many bytes of its WAL the provider's slot `slot` has not had confirmed.
    async fn slot_lag(&self, provider: SocketAddr, slot: &str) -> Result<i64> {
        let c = self.data.admin(provider).await?;
        let row = c
            .query_opt(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .map_err(q(provider, "read the replication slot"))?;
        row.and_then(|r| r.get::<_, Option<i64>>(0))
            .ok_or_else(|| Error::infra(format!("no slot {slot} on {provider} has confirmed a position")))
    }
}

/// How a node reaches a node's drill database, as the superuser.
fn dsn(host: &str, port: u16) -> String {
    format!("host={host} port={port} dbname=drdrill user={SUPERUSER}")
}

/// The drill's nodes trust their networks for the superuser.
const SUPERUSER: &str = "postgres";

/// A node's name as pglogical takes it (no `-`: it goes into slot names).
fn pgl_name(node: &str) -> String {
    node.replace('-', "_")
}

/// The subscription on `me` to `peer`'s changes: unique across the mesh.
fn subscription(me: &str, peer: &str) -> String {
    format!("{}_from_{}", pgl_name(me), pgl_name(peer))
}

/// The node a change came from, by the replication origin pglogical applied it through
/// (named after the subscription: `…_<me>_from_<peer>`); the origin's own name otherwise.
fn provider(origin: &str) -> String {
    origin.rsplit_once("_from_").map_or_else(|| format!("origin {origin}"), |(_, peer)| peer.replace('_', "-"))
}

#[async_trait]
impl Driver for Pglogical {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    /// Makes the mesh (each node, then each node's subscription to every other) and waits
    /// until every subscription replicates.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        for n in &stack.nodes {
            retry_until(left(), POLL, || async { self.data.admin(n.addr()).await.map(|_| ()) }).await?;
            self.make_node(n.addr(), &n.name).await?;
        }
        for me in &stack.nodes {
            for peer in stack.nodes.iter().filter(|p| p.name != me.name) {
                self.subscribe(stack, &me.name, &peer.name).await?;
            }
        }
        retry_until(left(), POLL, || self.mesh_health(stack)).await
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn multi_active(&self) -> Option<&dyn MultiActive> {
        Some(self)
    }
}

#[async_trait]
impl Deployment for Pglogical {
    fn container(&self, node: &str, _primary: &str, _replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        // every node starts as a primary of its own; the mesh is made once all run
        let env =
            vec![format!("DRDRILL_NODE={node}"), "DRDRILL_ROLE=primary".into(), format!("DRDRILL_SETTINGS={}", self.settings.join("\n"))];
        (env, Vec::new())
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("psql -h 127.0.0.1 -p {host_port} -U postgres drdrill")
    }

    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(super::pglogical_exporter::exporter(node))
    }

    fn clock(&self) -> Option<std::sync::Arc<dyn crate::stack::ServerClock>> {
        Some(std::sync::Arc::new(super::clock::PgClock))
    }
}

#[async_trait]
impl MultiActive for Pglogical {
    async fn read_keys(&self, addr: SocketAddr) -> Result<BTreeMap<u32, (u32, u64)>> {
        let c = self.data.admin(addr).await?;
        let rows = c.query(&format!("SELECT k, writer, seq FROM {KEYS}"), &[]).await.map_err(q(addr, "read the shared keys"))?;
        Ok(rows.iter().map(|r| (r.get::<_, i32>(0) as u32, (r.get::<_, i32>(1) as u32, r.get::<_, i64>(2) as u64))).collect())
    }

    /// Each key's row version as `track_commit_timestamp` recorded it: the commit time at its
    /// origin (pglogical's apply keeps the origin's) and the replication origin it came
    /// through (none: written on this node).
    async fn commit_stamps(&self, node: &str, addr: SocketAddr, keys: &[u32]) -> Result<BTreeMap<u32, crate::stack::CommitStamp>> {
        let c = self.data.admin(addr).await?;
        let keys: Vec<i32> = keys.iter().map(|k| *k as i32).collect();
        let sql = format!(
            "SELECT t.k, pg_xact_commit_timestamp(t.xmin)::text, o.roname \
             FROM {KEYS} t LEFT JOIN pg_replication_origin o ON o.roident = (pg_xact_commit_timestamp_origin(t.xmin)).roident \
             WHERE t.k = ANY($1)"
        );
        let rows = c.query(&sql, &[&keys]).await.map_err(q(addr, "read the commit timestamps of the diverged keys"))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let committed: Option<String> = r.get(1);
                let origin = r.get::<_, Option<String>>(2).map_or_else(|| node.to_string(), |o| provider(&o));
                Some((r.get::<_, i32>(0) as u32, crate::stack::CommitStamp { committed: committed?, origin }))
            })
            .collect())
    }

    /// The conflicts pglogical logged on the node (`conflict_log_level = LOG`), by resolution.
    async fn engine_counts(&self, stack: &Stack, node: &str) -> Result<Vec<(String, u64)>> {
        let log = stack.docker.logs(&stack.node(node)?.container).await?;
        Ok(conflict_counts(&log))
    }
}

/// pglogical's conflict lines (`CONFLICT: remote UPDATE on relation … Resolution:
/// apply_remote.`), counted in all and by resolution.
fn conflict_counts(log: &str) -> Vec<(String, u64)> {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("CONFLICT: remote")).collect();
    let by = |r: &str| lines.iter().filter(|l| l.contains(&format!("Resolution: {r}"))).count() as u64;
    vec![
        ("conflicts logged".into(), lines.len() as u64),
        ("resolved apply_remote".into(), by("apply_remote")),
        ("resolved keep_local".into(), by("keep_local")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_pglogical_and_each_subscription_is_unique() {
        assert_eq!(pgl_name("pgl-1"), "pgl_1");
        assert_eq!(subscription("pgl-1", "pgl-2"), "pgl_1_from_pgl_2");
        assert_ne!(subscription("pgl-1", "pgl-2"), subscription("pgl-3", "pgl-2"));
        assert_eq!(provider(&format!("pgl_drdrill_pgl_2_{}", subscription("pgl-1", "pgl-2"))), "pgl-2");
        assert_eq!(provider("other"), "origin other");
    }

    #[test]
    fn conflict_lines_are_counted_by_resolution() {
        let log = "2026-11-25 LOG:  CONFLICT: remote UPDATE on relation public.drdrill_keys (local index drdrill_keys_pkey). Resolution: apply_remote.\n\
                   2026-11-25 DETAIL:  remote tuple …\n\
                   2026-11-25 LOG:  CONFLICT: remote INSERT on relation public.drdrill_keys originating at node pgl_2. Resolution: keep_local.\n\
                   2026-11-25 LOG:  checkpoint complete\n";
        let c = conflict_counts(log);
        assert_eq!(c[0], ("conflicts logged".into(), 2));
        assert_eq!(c[1].1, 1);
        assert_eq!(c[2].1, 1);
    }
}
