//! PostgreSQL's data path, for the postgres and patroni stacks (user postgres, database
//! drdrill, table `drdrill_writes(writer, seq, payload, written_at)`) and for an external
//! PostgreSQL (the scenario's login; table `<table>(run, writer, seq, payload, written_at)`).
use crate::error::{Error, Result};
use crate::stack::ExternalData;
use crate::stack::ReadBack;
use crate::stack::data::{Auth, DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, Scope, WriteClient, WriteError};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// The drill table of a stack drdrill started.
const TABLE: &str = "drdrill_writes";
/// The replica-lag heartbeat: one row, id 1.
const HEARTBEAT: &str = "drdrill_heartbeat";

pub struct PgData {
    user: String,
    password: Option<String>,
    database: String,
    scope: Scope,
}

impl PgData {
    /// The drill's own nodes: user postgres, database drdrill.
    pub fn drill() -> PgData {
        PgData { user: "postgres".into(), password: None, database: "drdrill".into(), scope: Scope::Drill }
    }

    /// An external PostgreSQL: the scenario's login (user and database postgres by default).
    pub fn external(auth: &Auth) -> PgData {
        PgData {
            user: auth.user.clone().unwrap_or_else(|| "postgres".into()),
            password: auth.password.clone(),
            database: auth.database.clone().unwrap_or_else(|| "postgres".into()),
            scope: auth.scope(),
        }
    }

    /// A connection within `timeout`; on an external server it names itself drdrill.
    pub(super) async fn open(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Client, tokio_postgres::Error> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(addr.ip().to_string()).port(addr.port()).user(&self.user).dbname(&self.database);
        if let Scope::Run { .. } = self.scope {
            cfg.application_name("drdrill");
        }
        cfg.connect_timeout(timeout);
        if let Some(p) = &self.password {
            cfg.password(p);
        }
        let (client, conn) = cfg.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    pub(super) async fn admin(&self, addr: SocketAddr) -> Result<Client> {
        let e = match self.open(addr, self.scope.admin_timeout()).await {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        let err = Error::infra(format!("failed to connect to postgres at {addr}"));
        Err(match self.scope {
            Scope::Drill => err.cause(e),
            Scope::Run { .. } => err.cause_text(error_text(&e)),
        })
    }

    /// An error as a client reports it: an external server's own message.
    fn describe(&self, e: &tokio_postgres::Error) -> String {
        match self.scope {
            Scope::Drill => e.to_string(),
            Scope::Run { .. } => error_text(e),
        }
    }

    /// A workload connection with its prepared insert.
    pub(super) async fn client(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<PgClient, String> {
        let client = self.open(addr, timeout).await.map_err(|e| self.describe(&e))?;
        let sql = match &self.scope {
            Scope::Drill => format!("INSERT INTO {TABLE} (writer, seq, payload) VALUES ($1, $2, $3)"),
            Scope::Run { table, run } => format!("INSERT INTO {table} (run, writer, seq, payload) VALUES ('{run}', $1, $2, $3)"),
        };
        let stmt = client.prepare(&sql).await.map_err(|e| self.describe(&e))?;
        let newest = match &self.scope {
            Scope::Drill => format!("SELECT max(seq) FROM {TABLE} WHERE writer = $1"),
            Scope::Run { table, run } => format!("SELECT max(seq) FROM {table} WHERE run = '{run}' AND writer = $1"),
        };
        Ok(PgClient { client, stmt, upsert: None, node: None, newest: (newest, None), key_read: None })
    }
}

/// A connection as postgres to database `db` (Patroni's health checks use it too).
pub(super) async fn connect(addr: SocketAddr, db: &str, timeout: Duration) -> std::result::Result<Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(addr.ip().to_string()).port(addr.port()).user("postgres").dbname(db).connect_timeout(timeout);
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The server's own message when there is one (the driver's Display hides it).
pub(super) fn error_text(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map(|d| format!("{}: {}", d.code().code(), d.message())).unwrap_or_else(|| e.to_string())
}

/// Whether the server on this connection is a writable primary (not in recovery).
pub(super) async fn is_writable(c: &Client) -> std::result::Result<bool, tokio_postgres::Error> {
    Ok(c.query_one("SELECT NOT pg_is_in_recovery()", &[]).await?.get::<_, bool>(0))
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

pub(super) struct PgClient {
    pub client: Client,
    pub stmt: tokio_postgres::Statement,
    /// The update of a shared key (a multi-active stack's), prepared at its first use.
    pub upsert: Option<tokio_postgres::Statement>,
    /// The node, when the client found it behind HAProxy.
    pub node: Option<std::sync::Arc<str>>,
    /// A reader's query of a writer's newest record, prepared at its first use.
    pub newest: (String, Option<tokio_postgres::Statement>),
    /// A reader's query of a shared key, prepared at its first use.
    pub key_read: Option<tokio_postgres::Statement>,
}

/// The shared key space of a multi-active stack: each key's value is the (writer, seq) of
/// the update that set it.
pub(super) const KEYS: &str = "drdrill_keys";

#[async_trait]
impl WriteClient for PgClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        match self.client.execute(&self.stmt, &[&(writer as i32), &(seq as i64), &payload]).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
    async fn update(&mut self, key: u32, writer: u32, seq: u64) -> std::result::Result<(), WriteError> {
        if self.upsert.is_none() {
            let sql = format!(
                "INSERT INTO {KEYS} (k, writer, seq) VALUES ($1, $2, $3) \
                 ON CONFLICT (k) DO UPDATE SET writer = EXCLUDED.writer, seq = EXCLUDED.seq"
            );
            self.upsert = Some(self.client.prepare(&sql).await.map_err(|e| classify(&e))?);
        }
        let stmt = self.upsert.as_ref().expect("prepared");
        match self.client.execute(stmt, &[&(key as i32), &(writer as i32), &(seq as i64)]).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
    async fn read_newest(&mut self, writer: u32, _invoked: u64) -> std::result::Result<Option<u64>, WriteError> {
        if self.newest.1.is_none() {
            self.newest.1 = Some(self.client.prepare(&self.newest.0).await.map_err(|e| classify(&e))?);
        }
        let stmt = self.newest.1.as_ref().expect("prepared");
        let row = self.client.query_one(stmt, &[&(writer as i32)]).await.map_err(|e| classify(&e))?;
        let seq: Option<i64> = row.try_get(0).map_err(|e| WriteError::Fail(e.to_string()))?;
        Ok(seq.map(|s| s as u64))
    }
    async fn read_key(&mut self, key: u32) -> std::result::Result<Option<(u32, u64)>, WriteError> {
        if self.key_read.is_none() {
            let sql = format!("SELECT writer, seq FROM {KEYS} WHERE k = $1");
            self.key_read = Some(self.client.prepare(&sql).await.map_err(|e| classify(&e))?);
        }
        let stmt = self.key_read.as_ref().expect("prepared");
        let row = self.client.query_opt(stmt, &[&(key as i32)]).await.map_err(|e| classify(&e))?;
        let value = |r: tokio_postgres::Row| -> Result<(u32, u64), tokio_postgres::Error> {
            Ok((r.try_get::<_, i32>(0)? as u32, r.try_get::<_, i64>(1)? as u64))
        };
        row.map(value).transpose().map_err(|e| WriteError::Fail(e.to_string()))
    }
    fn node(&self) -> Option<std::sync::Arc<str>> {
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
    let text = error_text(e);
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
impl DataPath for PgData {
    fn port(&self) -> u16 {
        5432
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(self.client(addr, timeout).await?))
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        let (t, run_column, key, what) = match &self.scope {
            Scope::Drill => (TABLE, "", "", "create the workload table".to_string()),
            Scope::Run { table, .. } => (table.as_str(), "run text NOT NULL, ", "run, ", format!("create the workload table {table}")),
        };
        self.admin(primary)
            .await?
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {t} ({run_column}writer int NOT NULL, seq bigint NOT NULL, payload text NOT NULL, \
                 written_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
                 CREATE INDEX IF NOT EXISTS {t}_key ON {t} ({key}writer, seq);"
            ))
            .await
            .map_err(q(primary, &what))
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, self.writable(addr, timeout)).await, Ok(Ok(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let row = self
            .admin(addr)
            .await?
            .query_one(
                "SELECT greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0), \
                 coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0))::bigint",
                &[],
            )
            .await
            .map_err(q(addr, "read the WAL position"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let c = self.admin(addr).await?;
        let read = match &self.scope {
            Scope::Drill => read_rows(&c, &format!("SELECT writer, seq FROM {TABLE}"), &[]).await,
            Scope::Run { table, run } => read_rows(&c, &format!("SELECT writer, seq FROM {table} WHERE run = $1"), &[run.as_str()]).await,
        };
        read.map_err(q(addr, "read back the workload table"))
    }

    fn lag(&self) -> &dyn LagPath {
        self
    }

    /// The server's errors are written `SQLSTATE: message` (`error_text`).
    fn is_reply(&self, error: &str) -> bool {
        error
            .split_once(": ")
            .is_some_and(|(code, _)| code.len() == 5 && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    }

    async fn execute(&self, addr: SocketAddr, sql: &str) -> Result<String> {
        let c = self.admin(addr).await?;
        let answer = c.simple_query(sql).await.map_err(|e| Error::infra(format!("{addr}: {}", error_text(&e))))?;
        Ok(say_answer(&answer))
    }
}

/// What psql would print of a simple query's answer, on one line: each statement's
/// command tag, or its first row's values.
fn say_answer(answer: &[tokio_postgres::SimpleQueryMessage]) -> String {
    use tokio_postgres::SimpleQueryMessage::{CommandComplete, Row};
    let mut said = Vec::new();
    let mut row_said = false;
    for m in answer {
        match m {
            Row(r) if !row_said => {
                said.push((0..r.len()).map(|i| r.get(i).unwrap_or("null").to_string()).collect::<Vec<_>>().join(" | "));
                row_said = true;
            }
            CommandComplete(0) if !row_said => said.push("done".into()),
            CommandComplete(n) if !row_said => said.push(format!("{n} row(s)")),
            CommandComplete(_) => row_said = false,
            _ => {}
        }
    }
    said.join("; ")
}

#[async_trait]
impl LagPath for PgData {
    fn reported_as(&self) -> &'static str {
        "pg_stat_replication replay_lag (on the primary)"
    }

    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()> {
        self.admin(primary)
            .await?
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {HEARTBEAT} (id int PRIMARY KEY, seq bigint NOT NULL); \
                 INSERT INTO {HEARTBEAT} VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET seq = 0;"
            ))
            .await
            .map_err(q(primary, "create the heartbeat table"))
    }

    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String> {
        let client = self.open(addr, timeout).await.map_err(|e| self.describe(&e))?;
        let beat = client.prepare(&format!("UPDATE {HEARTBEAT} SET seq = $1 WHERE id = 1")).await.map_err(|e| self.describe(&e))?;
        let read = client.prepare(&format!("SELECT seq FROM {HEARTBEAT} WHERE id = 1")).await.map_err(|e| self.describe(&e))?;
        Ok(Box::new(PgHeartbeat { client, beat, read, engine: None }))
    }
}

/// `pg_stat_replication` (on the primary), for the replica's `application_name` (its node name).
const ENGINE_LAG: &str = "SELECT (extract(epoch FROM replay_lag) * 1000)::float8, \
     pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, replay_lsn::text \
     FROM pg_stat_replication WHERE application_name = $1 LIMIT 1";

/// The heartbeat row on one node, with its statements prepared (the engine's figure's at
/// its first sample): each poll is one query.
struct PgHeartbeat {
    client: Client,
    beat: tokio_postgres::Statement,
    read: tokio_postgres::Statement,
    engine: Option<tokio_postgres::Statement>,
}

#[async_trait]
impl Heartbeat for PgHeartbeat {
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String> {
        self.client.execute(&self.beat, &[&(seq as i64)]).await.map(|_| ()).map_err(|e| error_text(&e))
    }
    async fn read(&mut self) -> std::result::Result<u64, String> {
        let row = self.client.query_one(&self.read, &[]).await.map_err(|e| error_text(&e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
    /// `pg_stat_replication` (on the primary), for the replica's `application_name` (its node name).
    async fn engine_lag(&mut self, replica: &ReplicaAt) -> std::result::Result<EngineLag, String> {
        if self.engine.is_none() {
            self.engine = Some(self.client.prepare(ENGINE_LAG).await.map_err(|e| error_text(&e))?);
        }
        let stmt = self.engine.as_ref().expect("prepared above");
        let row = self
            .client
            .query_opt(stmt, &[&replica.name])
            .await
            .map_err(|e| error_text(&e))?
            .ok_or_else(|| format!("{} is not streaming from this primary", replica.name))?;
        Ok(EngineLag { reported_ms: row.get(0), behind_bytes: row.get(1), position: row.get(2) })
    }
}

#[async_trait]
impl ExternalData for PgData {
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let c = self.open(addr, timeout).await.map_err(|e| self.describe(&e))?;
        is_writable(&c).await.map_err(|e| self.describe(&e))
    }

    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        let c = self.open(addr, self.scope.admin_timeout()).await.map_err(|e| self.describe(&e))?;
        let row = c
            .query_one(
                "SELECT count(*), coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, '0/0'))), 0)::bigint \
                 FROM pg_stat_replication",
                &[],
            )
            .await
            .map_err(|e| self.describe(&e))?;
        if row.get::<_, i64>(0) == 0 {
            return Err("no replica is streaming from this node".into());
        }
        Ok(row.get::<_, i64>(1) as u64)
    }

    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let (t, run) = self.scope.run()?;
        let c = self.admin(addr).await?;
        let n = c.execute(&format!("DELETE FROM {t} WHERE run = $1"), &[&run]).await.map_err(q(addr, "delete this run's rows"))?;
        let left: i64 = c.query_one(&format!("SELECT count(*) FROM {t}"), &[]).await.map_err(q(addr, "count rows"))?.get(0);
        if left == 0 {
            c.batch_execute(&format!("DROP TABLE {t}")).await.map_err(q(addr, "drop the empty table"))?;
            return Ok(format!("deleted {n} rows of run {run}; dropped the empty table {t}"));
        }
        Ok(format!("deleted {n} rows of run {run}; {left} rows of other runs stay in {t}"))
    }
}
