//! PostgreSQL 15: primary + streaming replicas (pg_basebackup), async or synchronous.
use super::{Driver, ReadBack, ReplicaHealth, Stack, WriteClient, WriteError, retry_until};
use crate::error::{Error, Result};
use crate::scenario::{ReplicationMode, StackKind, StackSpec};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub struct Postgres {
    sync: bool,
    pub(super) settings: Vec<String>,
}

const TABLE: &str = "drdrill_writes";
/// postgresql.conf lines every node gets before the scenario's `settings` (README).
const DEFAULTS: [&str; 2] = ["authentication_timeout = '2s'", "max_connections = '300'"];

impl Postgres {
    pub fn new(spec: &StackSpec) -> Self {
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
                .chain(spec.settings.iter().map(|(k, v)| format!("{k} = '{}'", v.replace('\'', "''"))))
                .collect(),
        }
    }
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

pub(super) async fn connect(addr: SocketAddr, db: &str, timeout: Duration) -> std::result::Result<Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(addr.ip().to_string()).port(addr.port()).user("postgres").dbname(db).connect_timeout(timeout);
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Whether the server on this connection is a writable primary (not in recovery).
pub(super) async fn is_writable(c: &Client) -> std::result::Result<bool, tokio_postgres::Error> {
    Ok(c.query_one("SELECT NOT pg_is_in_recovery()", &[]).await?.get::<_, bool>(0))
}

pub(super) async fn admin(addr: SocketAddr) -> Result<Client> {
    connect(addr, "drdrill", Duration::from_secs(3))
        .await
        .map_err(|e| Error::infra(format!("failed to connect to postgres at {addr}")).cause(e))
}

/// The (writer, seq) rows `sql` returns, streamed into a read-back (never all rows at once).
pub(super) async fn read_rows(c: &Client, sql: &str, params: &[&str]) -> std::result::Result<ReadBack, tokio_postgres::Error> {
    use futures_util::TryStreamExt;
    let rows = c.query_raw(sql, params).await?;
    let mut rows = std::pin::pin!(rows);
    let mut rb = ReadBack::default();
    while let Some(r) = rows.try_next().await? {
        rb.push(r.try_get::<_, i32>(0)? as u32, r.try_get::<_, i64>(1)? as u64);
    }
    Ok(rb)
}

pub(super) fn q(addr: SocketAddr, what: &str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let msg = format!("failed to {what} on {addr}");
    move |e| Error::infra(msg).cause(e)
}

/// A workload connection with its prepared insert.
pub(super) async fn workload_client(addr: SocketAddr, timeout: Duration) -> std::result::Result<PgClient, String> {
    let client = connect(addr, "drdrill", timeout).await.map_err(|e| e.to_string())?;
    let stmt =
        client.prepare(&format!("INSERT INTO {TABLE} (writer, seq, payload) VALUES ($1, $2, $3)")).await.map_err(|e| e.to_string())?;
    Ok(PgClient { client, stmt, node: None })
}

pub(super) struct PgClient {
    pub client: Client,
    pub stmt: tokio_postgres::Statement,
    /// The node, when the client found it behind HAProxy.
    pub node: Option<String>,
}

#[async_trait]
impl WriteClient for PgClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        match self.client.execute(&self.stmt, &[&(writer as i32), &(seq as i64), &payload]).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
    fn node(&self) -> Option<String> {
        self.node.clone()
    }
    /// tokio-postgres pipelines requests and drops the replies nobody waits for, so an empty
    /// query queued behind the abandoned write is answered once the server is back.
    async fn answers_again(&mut self) -> bool {
        self.client.simple_query("").await.is_ok()
    }
}

/// An error the server sent while the statement ran means it was rolled back, except for
/// shutdown and connection errors, after which the commit may already be durable.
pub(super) fn classify(e: &tokio_postgres::Error) -> WriteError {
    let text = e.as_db_error().map(|d| format!("{}: {}", d.code().code(), d.message())).unwrap_or_else(|| e.to_string());
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            if code.starts_with("57P") || code.starts_with("08") || code == "XX000" {
                WriteError::Unknown(text)
            } else {
                WriteError::Fail(text)
            }
        }
        None => WriteError::Unknown(text),
    }
}

#[async_trait]
impl Driver for Postgres {
    fn kind(&self) -> StackKind {
        StackKind::Postgres
    }

    fn port(&self) -> u16 {
        5432
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("psql -h 127.0.0.1 -p {host_port} -U postgres drdrill")
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

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        let want = stack.replicas();
        retry_until(timeout, Duration::from_millis(500), || async {
            let c = admin(primary).await?;
            let rows = c
                .query(
                    "SELECT application_name, state || '/' || sync_state, \
                     coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint \
                     FROM pg_stat_replication",
                    &[],
                )
                .await
                .map_err(q(primary, "read pg_stat_replication"))?;
            let health: Vec<ReplicaHealth> =
                rows.iter().map(|r| ReplicaHealth { node: r.get(0), state: r.get(1), lag_bytes: r.get(2) }).collect();
            // streaming, and has replayed something (lag -1: no replay position yet); in sync
            // mode each replica must be a synchronous candidate, or a "sync" drill proves nothing
            let expected = if self.sync { "streaming/quorum" } else { "streaming/async" };
            for w in &want {
                if !health.iter().any(|h| &h.node == w && h.state == expected && h.lag_bytes >= 0) {
                    return Err(Error::infra(format!("failed to see replica {w} {expected} from {}", stack.primary())));
                }
            }
            Ok(health)
        })
        .await
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        let c = admin(primary).await?;
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (writer int NOT NULL, seq bigint NOT NULL, payload text NOT NULL, \
             written_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
             CREATE INDEX IF NOT EXISTS {TABLE}_key ON {TABLE} (writer, seq);"
        ))
        .await
        .map_err(q(primary, "create the workload table"))
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let check = async {
            let c = connect(addr, "drdrill", timeout).await.ok()?;
            is_writable(&c).await.ok()
        };
        matches!(tokio::time::timeout(timeout, check).await, Ok(Some(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let c = admin(addr).await?;
        let row = c
            .query_one(
                "SELECT greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0), \
                 coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0))::bigint",
                &[],
            )
            .await
            .map_err(q(addr, "read the WAL position"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let c = admin(addr).await?;
        let ok: bool = c.query_one("SELECT pg_promote(true, 60)", &[]).await.map_err(q(addr, "promote"))?.get(0);
        if !ok {
            return Err(Error::infra(format!("failed to promote {node}: pg_promote returned false")));
        }
        Ok(())
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let addr = stack.node(replica)?.addr();
        let c = admin(addr).await?;
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
        let c = admin(addr).await?;
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

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let c = admin(addr).await?;
        read_rows(&c, &format!("SELECT writer, seq FROM {TABLE}"), &[]).await.map_err(q(addr, "read back the workload table"))
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(workload_client(addr, timeout).await?))
    }
}
