//! A DR region fed by PostgreSQL's built-in logical replication (`kind: postgres-logical`):
//! the primary (and its streaming replicas) publishes the scenario's tables; the last node,
//! a separate PostgreSQL in the DR site, subscribes to them over the path between the sites.
//! The initial copy is checked before the workload starts. A failover disables the
//! subscription (it needs no answer from the lost region); nothing else follows: not the
//! sequences, not DDL, not the tables outside the publication. Settings and pitfalls:
//! ../shared/notes/probe-logical-dr-alertmanager-ha.md.
use super::data::{PgData, q};
use super::logical_data::{INITIAL_WRITER, LogicalData};
use crate::error::{Error, Result};
use crate::scenario::StackSpec;
use crate::stack::data::DataPath;
use crate::stack::{Deployment, Driver, Promotion, RecordGroups, ReplicaHealth, ReplicationStop, Stack, retry_until};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;

pub struct PostgresLogical {
    settings: Vec<String>,
    data: LogicalData,
    subscription: String,
    initial_rows: u32,
}

/// How often the subscription is asked whether its initial copy is done.
const POLL: Duration = Duration::from_millis(300);

impl PostgresLogical {
    pub fn new(spec: &StackSpec) -> Self {
        let l = spec.logical.clone().unwrap_or_default();
        let logical = ["wal_level = logical".to_string()];
        let defaults = super::driver::DEFAULTS.iter().map(|s| s.to_string());
        PostgresLogical {
            settings: defaults.chain(logical).chain(super::driver::own_settings(spec)).collect(),
            data: LogicalData { pg: PgData::drill(), published: l.published(), tables: l.tables, publication: l.publication },
            subscription: l.subscription,
            initial_rows: l.initial_rows,
        }
    }

    /// The publishing side: the tables, their initial rows (once), and the publication of
    /// the published tables and drdrill's heartbeat (the lag measurement's).
    async fn publish(&self, addr: SocketAddr) -> Result<()> {
        let c = self.data.pg.admin(addr).await?;
        c.batch_execute(&self.data.schema()).await.map_err(q(addr, "create the tables"))?;
        for t in &self.data.tables {
            let sql = format!(
                "INSERT INTO {t} (writer, seq, payload) SELECT {INITIAL_WRITER}, g, 'initial' FROM generate_series(1, {}) g \
                 WHERE NOT EXISTS (SELECT 1 FROM {t})",
                self.initial_rows
            );
            c.batch_execute(&sql).await.map_err(q(addr, &format!("write {t}'s initial rows")))?;
        }
        let exists = c
            .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&self.data.publication])
            .await
            .map_err(q(addr, "read pg_publication"))?;
        if exists.is_none() {
            let tables = self.data.published.iter().map(String::as_str).chain(["drdrill_heartbeat"]).collect::<Vec<_>>().join(", ");
            let sql = format!("CREATE PUBLICATION {} FOR TABLE {tables}", self.data.publication);
            c.batch_execute(&sql).await.map_err(q(addr, "create the publication"))?;
        }
        Ok(())
    }

    /// The DR side: the same tables, empty, and the subscription through the path from its
    /// site to the primary's, named after the node (`application_name`), so the primary's
    /// `pg_stat_replication` shows it as the lag measurement looks it up.
    async fn subscribe(&self, stack: &Stack, me: &str, primary: &str) -> Result<()> {
        let addr = stack.node(me)?.addr();
        let c = self.data.pg.admin(addr).await?;
        c.batch_execute(&self.data.schema()).await.map_err(q(addr, "create the tables"))?;
        let exists = c
            .query_opt("SELECT 1 FROM pg_subscription WHERE subname = $1", &[&self.subscription])
            .await
            .map_err(q(addr, "read pg_subscription"))?;
        if exists.is_some() {
            return Ok(());
        }
        let (host, port) = stack.upstream(me, primary);
        let sql = format!(
            "CREATE SUBSCRIPTION {} CONNECTION 'host={host} port={port} user=postgres dbname=drdrill application_name={me} \
             connect_timeout=2' PUBLICATION {}",
            self.subscription, self.data.publication
        );
        c.batch_execute(&sql).await.map_err(q(addr, "create the subscription"))
    }

    /// Err until every published table's initial copy is done on the subscriber (its
    /// state `ready` in `pg_subscription_rel`, holding the primary's rows) and the apply
    /// worker runs; then the subscriber's health, with its slot's unconfirmed bytes.
    async fn copied(&self, primary: SocketAddr, me: &str, addr: SocketAddr) -> Result<ReplicaHealth> {
        let c = self.data.pg.admin(addr).await?;
        let not_ready: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid \
                 WHERE s.subname = $1 AND r.srsubstate <> 'r'",
                &[&self.subscription],
            )
            .await
            .map_err(q(addr, "read pg_subscription_rel"))?
            .get(0);
        let running: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL AND relid IS NULL",
                &[&self.subscription],
            )
            .await
            .map_err(q(addr, "read pg_stat_subscription"))?
            .get(0);
        if not_ready > 0 || running == 0 {
            return Err(Error::infra(format!("{me}'s subscription {}: {not_ready} table(s) still copying", self.subscription)));
        }
        let mut copied = Vec::new();
        for t in &self.data.published {
            let n: i64 = c.query_one(&format!("SELECT count(*) FROM {t}"), &[]).await.map_err(q(addr, "count the copy"))?.get(0);
            if n < i64::from(self.initial_rows) {
                return Err(Error::infra(format!("{me} holds {n} of {t}'s {} initial rows", self.initial_rows)));
            }
            copied.push(format!("{t} {n}"));
        }
        let lag = self.slot_lag(primary).await?;
        Ok(ReplicaHealth {
            node: me.to_string(),
            state: format!("logical/{} (copied: {})", self.subscription, copied.join(", ")),
            lag_bytes: lag,
        })
    }

    /// How many bytes of the primary's WAL the subscription's slot has not had confirmed.
    async fn slot_lag(&self, primary: SocketAddr) -> Result<i64> {
        let c = self.data.pg.admin(primary).await?;
        let row = c
            .query_opt(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.subscription],
            )
            .await
            .map_err(q(primary, "read the replication slot"))?;
        row.and_then(|r| r.get::<_, Option<i64>>(0))
            .ok_or_else(|| Error::infra(format!("the slot {} has confirmed no position yet", self.subscription)))
    }
}

#[async_trait]
impl Driver for PostgresLogical {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    /// Publishes, subscribes, and waits until the streaming replicas stream and the
    /// subscriber holds every published table's initial copy.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let primary_name = stack.primary();
        let primary = stack.node(&primary_name)?.addr();
        let replicas = stack.replicas();
        let (sub, local) = replicas.split_last().ok_or_else(|| Error::infra("a postgres-logical stack without its subscriber (a bug)"))?;
        let sub_addr = stack.node(sub)?.addr();
        for addr in [primary, sub_addr] {
            retry_until(left(), POLL, || async { self.data.pg.admin(addr).await.map(|_| ()) }).await?;
        }
        retry_until(left(), POLL, || self.publish(primary)).await?;
        retry_until(left(), POLL, || self.subscribe(stack, sub, &primary_name)).await?;
        retry_until(left(), POLL, || async {
            let all = super::driver::streaming(&self.data.pg, (&primary_name, primary), local, "streaming/async").await?;
            let mut health: Vec<ReplicaHealth> = all.into_iter().filter(|h| local.contains(&h.node)).collect();
            health.push(self.copied(primary, sub, sub_addr).await?);
            Ok(health)
        })
        .await
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn promotion(&self) -> Option<&dyn Promotion> {
        Some(self)
    }

    fn record_groups(&self) -> Option<RecordGroups> {
        Some(self.data.groups())
    }

    /// The subscriber's apply worker's first error, from its log: the apply stops there and
    /// retries (`wal_retrieve_retry_interval`), logging it again each time.
    async fn replication_stops(&self, stack: &Stack) -> Vec<ReplicationStop> {
        // the subscriber is the last node, the primary or not (after the failover it is)
        let Some(n) = stack.nodes.last() else { return Vec::new() };
        let Ok(log) = stack.docker.logs(&n.container).await else { return Vec::new() };
        apply_error(&log).map(|(at, why, times)| ReplicationStop { node: n.name.clone(), at, why, times }).into_iter().collect()
    }
}

/// The first `ERROR:` an apply worker logged (docker's time, the message), and how many
/// times that message was logged. An apply worker is a pid that logged `logical
/// replication apply worker … has started`.
fn apply_error(log: &str) -> Option<(chrono::DateTime<chrono::Utc>, String, u64)> {
    let pid = |l: &str| l.split_once(" [").and_then(|(_, r)| r.split_once(']')).map(|(p, _)| p.to_string());
    let mut workers = std::collections::BTreeSet::new();
    let mut first: Option<(chrono::DateTime<chrono::Utc>, String)> = None;
    let mut times = 0;
    for line in log.lines() {
        let Some((stamp, text)) = line.split_once(' ') else { continue };
        if text.contains("logical replication apply worker for subscription") && text.contains("has started") {
            workers.extend(pid(text));
        }
        let Some((_, msg)) = text.split_once("ERROR:") else { continue };
        let msg = msg.trim();
        match &first {
            Some((_, m)) if m == msg => times += 1,
            Some(_) => {}
            None if pid(text).is_some_and(|p| workers.contains(&p)) || msg.starts_with("logical replication") => {
                let at = chrono::DateTime::parse_from_rfc3339(stamp).ok()?.with_timezone(&chrono::Utc);
                first = Some((at, msg.to_string()));
                times = 1;
            }
            None => {}
        }
    }
    first.map(|(at, msg)| (at, msg, times))
}

#[async_trait]
impl Deployment for PostgresLogical {
    /// The primary publishes; the last replica is a database of its own (the subscriber);
    /// the others stream from the primary.
    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut env = vec![format!("DRDRILL_NODE={node}"), format!("DRDRILL_SETTINGS={}", self.settings.join("\n"))];
        if node == primary || replicas.last().is_some_and(|s| s == node) {
            env.push("DRDRILL_ROLE=primary".into());
        } else {
            env.push("DRDRILL_ROLE=replica".into());
            env.push(format!("DRDRILL_PRIMARY_HOST={}", upstream.0));
            env.push(format!("DRDRILL_PRIMARY_PORT={}", upstream.1));
        }
        (env, Vec::new())
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("psql -h 127.0.0.1 -p {host_port} -U postgres drdrill")
    }

    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(super::driver::exporter(node))
    }
}

#[async_trait]
impl Promotion for PostgresLogical {
    /// The DR node takes writes already; the failover stops it applying what may still
    /// arrive from the lost region: `ALTER SUBSCRIPTION … DISABLE`, which asks nothing of
    /// the publisher (`DROP SUBSCRIPTION` would wait on its slot there).
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let c = self.data.pg.admin(addr).await?;
        c.batch_execute(&format!("ALTER SUBSCRIPTION {} DISABLE", self.subscription)).await.map_err(q(addr, "disable the subscription"))
    }

    async fn repoint(&self, _stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        Err(Error::infra(format!("{replica} streams from the old primary's database; {primary} is a database of its own it cannot follow")))
    }

    async fn rejoin(&self, _stack: &Stack, node: &str, primary: &str) -> Result<()> {
        Err(Error::infra(format!(
            "{node} cannot rejoin {primary}: nothing flows back from the DR region (make a subscription the other way)"
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_apply_workers_first_error_is_read_with_its_time_and_repeats() {
        let log = "2026-11-27T03:27:33.1Z 2026-11-27 03:27:33.100 UTC [46]  LOG:  logical replication apply worker for subscription \"dr_sub\" has started\n\
                   2026-11-27T03:27:38.5Z 2026-11-27 03:27:38.500 UTC [9] app ERROR:  relation \"x\" does not exist\n\
                   2026-11-27T03:27:39.25Z 2026-11-27 03:27:39.250 UTC [46]  ERROR:  logical replication target relation \"public.users\" is missing replicated column: \"region\"\n\
                   2026-11-27T03:27:40.3Z 2026-11-27 03:27:40.300 UTC [47]  ERROR:  logical replication target relation \"public.users\" is missing replicated column: \"region\"\n";
        let (at, why, times) = super::apply_error(log).expect("an apply error");
        assert_eq!(at.to_rfc3339(), "2026-11-27T03:27:39.250+00:00");
        assert_eq!(why, "logical replication target relation \"public.users\" is missing replicated column: \"region\"");
        assert_eq!(times, 2);
        assert!(super::apply_error("2026-11-27T03:27:33.1Z x [1] LOG: fine\n").is_none());
    }
}
