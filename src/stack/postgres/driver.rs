//! PostgreSQL 15: primary + streaming replicas (pg_basebackup), async or synchronous.
//! drdrill starts it and promotes in it; its data path is `data.rs`.
use super::data::{PgData, q};
use crate::error::{Error, Result};
use crate::scenario::{BackupSpec, BackupTool, ReplicationMode, StackSpec};
use crate::stack::ExternalData;
use crate::stack::data::{Auth, DataPath};
use crate::stack::{Deployment, Driver, Promotion, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use std::time::Duration;

pub struct Postgres {
    sync: bool,
    /// pgBackRest or the rsync archive, when the scenario backs the stack up.
    backup: Option<Backup>,
    pub(super) settings: Vec<String>,
    pub(super) data: PgData,
}
/// postgresql.conf lines every node gets before the scenario's `settings` (docs/measurement.md,
/// "Run semantics").
pub(super) const DEFAULTS: [&str; 2] = ["authentication_timeout = '2s'", "max_connections = '300'"];

/// How a backed-up stack is backed up (`stack.backup.tool`).
enum Backup {
    PgBackRest(super::backup::PgBackRest),
    Rsync(super::rsync_archive::RsyncArchive),
}

impl Backup {
    fn new(spec: BackupSpec) -> Backup {
        match spec.tool() {
            BackupTool::Pgbackrest => Backup::PgBackRest(super::backup::PgBackRest { spec }),
            BackupTool::Rsync => Backup::Rsync(super::rsync_archive::RsyncArchive::new(spec)),
        }
    }

    fn settings(&self) -> Vec<String> {
        match self {
            Backup::PgBackRest(b) => b.settings(),
            Backup::Rsync(b) => b.settings(),
        }
    }

    fn restore(&self) -> &dyn crate::stack::Restore {
        match self {
            Backup::PgBackRest(b) => b,
            Backup::Rsync(b) => b,
        }
    }
}

impl Postgres {
    pub fn new(spec: &StackSpec) -> Self {
        let backup = spec.backup.clone().map(Backup::new);
        Postgres {
            sync: spec.replication == ReplicationMode::Sync,
            // defaults first: a scenario's own settings come later and win. A connection that
            // never sends its startup packet (a client behind a blackholed proxy, drdrill's
            // stall probes among them) holds a postmaster child for authentication_timeout;
            // at PostgreSQL's 60 s default, a 10 s blackhole left the server refusing
            // connections long after it ended
            settings: DEFAULTS
                .iter()
                .map(|s| s.to_string())
                .chain(backup.iter().flat_map(|b| b.settings()))
                .chain(own_settings(spec))
                .collect(),
            backup,
            data: PgData::drill(),
        }
    }
}

/// The scenario's `settings` as postgresql.conf lines, each value quoted.
pub(super) fn own_settings(spec: &StackSpec) -> impl Iterator<Item = String> + '_ {
    spec.settings.iter().map(|(k, v)| format!("{k} = '{}'", v.replace('\'', "''")))
}

/// `ANY 1 ("pg-2", "pg-3")`: any one listed standby must confirm each commit.
fn sync_names(replicas: &[String]) -> String {
    if replicas.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = replicas.iter().map(|r| format!("\"{r}\"")).collect();
    format!("ANY 1 ({})", quoted.join(", "))
}

fn conninfo((host, port): (String, u16), me: &str) -> String {
    format!("host={host} port={port} user=postgres application_name={me} connect_timeout=2")
}

#[async_trait]
impl Driver for Postgres {
    fn attach(&self, auth: &Auth) -> Option<Box<dyn ExternalData>> {
        Some(Box::new(PgData::external(auth)))
    }

    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let name = stack.primary();
        let primary = stack.node(&name)?.addr();
        let want = stack.replicas();
        // in sync mode each replica must be a synchronous candidate, or a "sync" drill proves nothing
        let expected = if self.sync { "streaming/quorum" } else { "streaming/async" };
        retry_until(timeout, Duration::from_millis(500), || streaming(&self.data, (&name, primary), &want, expected)).await
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn promotion(&self) -> Option<&dyn Promotion> {
        Some(self)
    }

    fn restore(&self) -> Option<&dyn crate::stack::Restore> {
        self.backup.as_ref().map(Backup::restore)
    }
}

#[async_trait]
impl Deployment for Postgres {
    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        let sql = match how {
            crate::scenario::DataLoss::Delete => "DELETE FROM drdrill_writes",
            crate::scenario::DataLoss::Drop => "DROP TABLE drdrill_writes",
        };
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", "drdrill", "-c", sql].map(String::from).to_vec()
    }

    fn volumes(&self) -> Vec<(&'static str, &'static str)> {
        self.backup.iter().filter(|b| matches!(b, Backup::PgBackRest(_))).map(|_| super::backup::VOLUME).collect()
    }

    /// The rsync archive's host, `dr-storage`.
    fn services(&self, _nodes: &[String]) -> Vec<crate::stack::Sidecar> {
        match &self.backup {
            Some(Backup::Rsync(b)) => vec![b.sidecar()],
            _ => Vec::new(),
        }
    }

    /// The rsync archive's key, made for the run and given to the nodes.
    async fn started(&self, stack: &Stack) -> Result<()> {
        match &self.backup {
            Some(Backup::Rsync(b)) => b.started(stack).await,
            _ => Ok(()),
        }
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("psql -h 127.0.0.1 -p {host_port} -U postgres drdrill")
    }

    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(exporter(node))
    }

    fn clock(&self) -> Option<std::sync::Arc<dyn crate::stack::ServerClock>> {
        Some(std::sync::Arc::new(super::clock::PgClock))
    }

    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut env = vec![format!("DRDRILL_NODE={node}"), format!("DRDRILL_SETTINGS={}", self.settings.join("\n"))];
        if node == primary {
            env.push("DRDRILL_ROLE=primary".into());
            if self.sync {
                env.push(format!("DRDRILL_SYNC_NAMES={}", sync_names(replicas)));
            }
        } else {
            env.push("DRDRILL_ROLE=replica".into());
            env.push(format!("DRDRILL_PRIMARY_HOST={}", upstream.0));
            env.push(format!("DRDRILL_PRIMARY_PORT={}", upstream.1));
        }
        (env, Vec::new())
    }
}

#[async_trait]
impl Promotion for Postgres {
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let c = self.data.admin(addr).await?;
        let ok: bool = c.query_one("SELECT pg_promote(true, 60)", &[]).await.map_err(q(addr, "promote"))?.get(0);
        if !ok {
            return Err(Error::infra(format!("failed to promote {node}: pg_promote returned false")));
        }
        Ok(())
    }

    /// Replay paused at once (the error must never be applied), then restarted with
    /// `recovery_target_time` and no apply delay: it replays up to the target, stops before
    /// the first commit after it, and promotes itself.
    async fn promote_at(&self, stack: &Stack, node: &str, target: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let n = stack.node(node)?;
        let c = self.data.admin(n.addr()).await?;
        c.batch_execute("SELECT pg_wal_replay_pause()").await.map_err(q(n.addr(), "pause replay"))?;
        let time = target.format("%Y-%m-%d %H:%M:%S%.6f+00");
        for set in [
            "ALTER SYSTEM SET recovery_min_apply_delay = 0".to_string(),
            format!("ALTER SYSTEM SET recovery_target_time = '{time}'"),
            "ALTER SYSTEM SET recovery_target_action = 'promote'".to_string(),
        ] {
            c.batch_execute(&set).await.map_err(q(n.addr(), "set the recovery target"))?;
        }
        drop(c);
        stack.docker.restart(&n.container, 10).await?;
        let addr = n.addr();
        retry_until(Duration::from_secs(300), Duration::from_millis(50), || async {
            let c = self.data.admin(addr).await?;
            match super::data::is_writable(&c).await {
                Ok(true) => Ok(()),
                _ => Err(Error::infra(format!("{node} has not reached the recovery target and promoted"))),
            }
        })
        .await
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let addr = stack.node(replica)?.addr();
        let c = self.data.admin(addr).await?;
        // ALTER SYSTEM refuses to run inside the implicit transaction of a multi-statement batch
        c.batch_execute(&format!("ALTER SYSTEM SET primary_conninfo = '{}'", conninfo(stack.upstream(replica, primary), replica)))
            .await
            .map_err(q(addr, "repoint the replica"))?;
        c.batch_execute("SELECT pg_reload_conf()").await.map_err(q(addr, "reload the replica's configuration"))
    }

    async fn after_failover(&self, stack: &Stack, primary: &str, replicas: &[String]) -> Result<()> {
        if !self.sync || replicas.is_empty() {
            return Ok(());
        }
        let addr = stack.node(primary)?.addr();
        let c = self.data.admin(addr).await?;
        c.batch_execute(&format!("ALTER SYSTEM SET synchronous_standby_names = '{}'", sync_names(replicas).replace('\'', "''")))
            .await
            .map_err(q(addr, "re-enable synchronous replication"))?;
        c.batch_execute("SELECT pg_reload_conf()").await.map_err(q(addr, "reload the primary's configuration"))
    }

    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()> {
        let n = stack.node(node)?;
        if stack.docker.is_running(&n.container).await {
            stack.docker.stop(&n.container, 10).await?;
        }
        let (host, port) = stack.upstream(node, primary);
        stack.docker.upload_file(&n.container, "/var/lib/postgresql", "drdrill-follow", format!("{host} {port}").as_bytes()).await?;
        stack.docker.start(&n.container).await
    }
}

/// Every replica the primary (`name`, at `addr`) streams to, as `pg_stat_replication` shows
/// it; Err until each of `want` is `expected` (`streaming/async`) and has replayed something
/// (lag -1: no replay position yet).
pub(super) async fn streaming(
    data: &PgData,
    (name, addr): (&str, std::net::SocketAddr),
    want: &[String],
    expected: &str,
) -> Result<Vec<ReplicaHealth>> {
    let c = data.admin(addr).await?;
    let rows = c
        .query(
            "SELECT application_name, state || '/' || sync_state, \
             coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint \
             FROM pg_stat_replication",
            &[],
        )
        .await
        .map_err(q(addr, "read pg_stat_replication"))?;
    let health: Vec<ReplicaHealth> = rows.iter().map(|r| ReplicaHealth { node: r.get(0), state: r.get(1), lag_bytes: r.get(2) }).collect();
    for w in want {
        if !health.iter().any(|h| &h.node == w && h.state == expected && h.lag_bytes >= 0) {
            return Err(Error::infra(format!("failed to see replica {w} {expected} from {name}")));
        }
    }
    Ok(health)
}

/// postgres_exporter 0.11 beside `node`, as the `postgres` superuser (the drill's nodes
/// trust the drill's network).
pub(super) fn exporter(node: &str) -> crate::stack::Exporter {
    crate::stack::Exporter {
        name: "postgres_exporter 0.11",
        job: "postgres",
        prefix: "pg_",
        cmd: vec!["prometheus-postgres-exporter".into(), "--web.listen-address=:9187".into()],
        env: vec![format!("DATA_SOURCE_NAME=postgresql://postgres:drdrill@{node}:5432/drdrill?sslmode=disable")],
        port: 9187,
        files: Vec::new(),
    }
}
