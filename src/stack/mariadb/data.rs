//! MariaDB's data path, for the mariadb and mariadb-mha stacks (user drdrill with this
//! drill's password; table `drdrill.drdrill_writes(id, writer, seq, payload, written_at)`)
//! and for an external MariaDB (the scenario's login; `<database>.<table>` with a `run` column).
use crate::error::{Error, Result};
use crate::stack::ExternalData;
use crate::stack::ReadBack;
use crate::stack::data::{Auth, DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, Scope, WriteClient, WriteError};
use async_trait::async_trait;
use mysql_async::prelude::*;
use mysql_async::{Conn, OptsBuilder, Row};
use std::net::SocketAddr;
use std::time::Duration;

/// A multi-active stack's shared key space (`workload.keys`): key, and the (writer, seq)
/// of the update that set it.
pub(super) const KEYS: &str = "drdrill.drdrill_keys";

pub struct MariaData {
    user: String,
    /// The workload's own account, when not `user`: the drill's nodes give it the table's
    /// rows only, as an application has, so that `read_only` refuses its writes on a
    /// replica (the `drdrill` account, an administrator's, bypasses it).
    app_user: Option<&'static str>,
    password: Option<String>,
    database: String,
    scope: Scope,
}

impl MariaData {
    /// The drill's own nodes: the `drdrill` account with this drill's password.
    pub fn drill(password: &str) -> MariaData {
        let (user, app_user) = ("drdrill".into(), Some("drdrill_app"));
        MariaData { user, app_user, password: Some(password.into()), database: "drdrill".into(), scope: Scope::Drill }
    }

    /// An external MariaDB: the scenario's login (user root and database drdrill by default).
    pub fn external(auth: &Auth) -> MariaData {
        MariaData {
            user: auth.user.clone().unwrap_or_else(|| "root".into()),
            app_user: None,
            password: auth.password.clone(),
            database: auth.database.clone().unwrap_or_else(|| "drdrill".into()),
            scope: auth.scope(),
        }
    }

    /// `drdrill.drdrill_writes`, or an external stack's `<database>.<table>`.
    fn table(&self) -> String {
        match &self.scope {
            Scope::Drill => format!("{}.drdrill_writes", self.database),
            Scope::Run { table, .. } => format!("{}.{table}", self.database),
        }
    }

    async fn open(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Conn, String> {
        connect_as(addr, &self.user, self.password.clone(), timeout).await
    }

    pub(super) async fn admin(&self, addr: SocketAddr) -> Result<Conn> {
        self.open(addr, self.scope.admin_timeout())
            .await
            .map_err(|e| Error::infra(format!("failed to connect to mariadb at {addr}")).cause_text(e))
    }

    /// A workload connection with its prepared insert; `find_node`: it asks which node it
    /// reached (through the VIP).
    pub(super) async fn client(&self, addr: SocketAddr, timeout: Duration, find_node: bool) -> std::result::Result<MyClient, String> {
        let mut conn = connect_as(addr, self.app_user.unwrap_or(&self.user), self.password.clone(), timeout).await?;
        let node = match find_node {
            true => Some(role(&mut conn).await.map_err(|e| e.to_string())?.1),
            false => None,
        };
        let sql = match &self.scope {
            Scope::Drill => format!("INSERT INTO {} (writer, seq, payload) VALUES (?, ?, ?)", self.table()),
            Scope::Run { run, .. } => format!("INSERT INTO {} (run, writer, seq, payload) VALUES ('{run}', ?, ?, ?)", self.table()),
        };
        let stmt = conn.prep(sql).await.map_err(|e| e.to_string())?;
        let newest = match &self.scope {
            Scope::Drill => format!("SELECT max(seq) FROM {} WHERE writer = ?", self.table()),
            Scope::Run { run, .. } => format!("SELECT max(seq) FROM {} WHERE run = '{run}' AND writer = ?", self.table()),
        };
        Ok(MyClient { conn, stmt, node: node.map(Into::into), newest })
    }
}

/// A connection as the drill's `drdrill` account.
pub(super) async fn connect(addr: SocketAddr, password: &str, timeout: Duration) -> std::result::Result<Conn, String> {
    connect_as(addr, "drdrill", Some(password.to_string()), timeout).await
}

/// A connection as `user` (TCP, a small statement cache), or why there is none.
async fn connect_as(addr: SocketAddr, user: &str, password: Option<String>, timeout: Duration) -> std::result::Result<Conn, String> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(user))
        .pass(password)
        .prefer_socket(false)
        .stmt_cache_size(4);
    match tokio::time::timeout(timeout, Conn::new(opts)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("connect to {addr} timed out")),
    }
}

/// The (writer, seq) rows of a result, streamed into a read-back (never all rows at once).
async fn read_rows<P: mysql_async::prelude::Protocol>(
    rows: mysql_async::QueryResult<'_, '_, P>,
) -> std::result::Result<ReadBack, mysql_async::Error> {
    let mut rb = ReadBack::default();
    rows.for_each_and_drop(|row| {
        let (w, s): (u32, u64) = mysql_async::from_row(row);
        rb.push(w, s);
    })
    .await?;
    Ok(rb)
}

pub(super) fn q(addr: SocketAddr, what: &str) -> impl FnOnce(mysql_async::Error) -> Error {
    let msg = format!("failed to {what} on {addr}");
    move |e| Error::infra(msg).cause(e)
}

/// Whether the server on this connection takes writes (`read_only` off), and its name.
pub(super) async fn role(c: &mut Conn) -> std::result::Result<(bool, String), mysql_async::Error> {
    let r: Option<(i64, String)> = c.query_first("SELECT @@read_only, @@report_host").await?;
    Ok(r.map(|(ro, name)| (ro == 0, name)).unwrap_or((false, String::new())))
}

/// `SHOW SLAVE STATUS` of one node, when it replicates.
pub(super) async fn slave_status(c: &mut Conn) -> std::result::Result<Option<Row>, mysql_async::Error> {
    c.query_first("SHOW SLAVE STATUS").await
}

pub(super) fn col(r: &Row, name: &str) -> String {
    r.get_opt::<Option<String>, _>(name).and_then(|v| v.ok()).flatten().unwrap_or_default()
}

/// `server_id` from the node's number (`db-3` → 3).
pub(super) fn server_id(node: &str) -> u32 {
    node.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// The sequence number of domain 0 in a GTID list (`0-1-57,1-2-3` → 57).
fn gtid_seq(list: &str) -> u64 {
    list.split(',').filter_map(|g| g.trim().strip_prefix("0-")).filter_map(|g| g.rsplit('-').next()?.parse().ok()).max().unwrap_or(0)
}

/// The replica-lag heartbeat row (id 1), with both statements prepared.
struct MyHeartbeat {
    conn: Conn,
    beat: mysql_async::Statement,
    read: mysql_async::Statement,
}

#[async_trait]
impl Heartbeat for MyHeartbeat {
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String> {
        self.conn.exec_drop(&self.beat, (seq,)).await.map_err(|e| e.to_string())
    }
    async fn read(&mut self) -> std::result::Result<u64, String> {
        let v: Option<u64> = self.conn.exec_first(&self.read, ()).await.map_err(|e| e.to_string())?;
        v.ok_or_else(|| "no heartbeat row".to_string())
    }
    /// `SHOW SLAVE STATUS` on the replica: `Seconds_Behind_Master` (whole seconds; NULL
    /// while a thread is stopped) and the GTID it has applied.
    async fn engine_lag(&mut self, replica: &ReplicaAt) -> std::result::Result<EngineLag, String> {
        let c = &mut self.conn;
        let row = slave_status(c).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("{} does not replicate", replica.name))?;
        let behind = row.get_opt::<Option<i64>, _>("Seconds_Behind_Master").and_then(|v| v.ok()).flatten();
        let applied: Option<String> = c.query_first("SELECT @@gtid_slave_pos").await.map_err(|e| e.to_string())?;
        Ok(EngineLag { reported_ms: behind.map(|s| s as f64 * 1000.0), behind_bytes: None, position: applied })
    }
}

pub(super) struct MyClient {
    conn: Conn,
    stmt: mysql_async::Statement,
    /// The node, when the client reached it through the VIP.
    node: Option<std::sync::Arc<str>>,
    /// A reader's query of a writer's newest record.
    newest: String,
}

#[async_trait]
impl WriteClient for MyClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        match self.conn.exec_drop(&self.stmt, (writer, seq, payload)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
    async fn update(&mut self, key: u32, writer: u32, seq: u64) -> std::result::Result<(), WriteError> {
        let sql = format!(
            "INSERT INTO {KEYS} (k, writer, seq) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE writer = VALUES(writer), seq = VALUES(seq)"
        );
        self.conn.exec_drop(sql, (key, writer, seq)).await.map_err(|e| classify(&e))
    }
    async fn read_newest(&mut self, writer: u32, _invoked: u64) -> std::result::Result<Option<u64>, WriteError> {
        let row: Option<Option<u64>> = self.conn.exec_first(self.newest.as_str(), (writer,)).await.map_err(|e| classify(&e))?;
        Ok(row.flatten())
    }
    async fn read_key(&mut self, key: u32) -> std::result::Result<Option<(u32, u64)>, WriteError> {
        let sql = format!("SELECT writer, seq FROM {KEYS} WHERE k = ?");
        self.conn.exec_first(sql, (key,)).await.map_err(|e| classify(&e))
    }
    fn node(&self) -> Option<std::sync::Arc<str>> {
        self.node.clone()
    }
}

/// A server error means the insert was rolled back (read-only, a deadlock), except for
/// shutdown and killed connections; a lost connection may follow a durable commit.
fn classify(e: &mysql_async::Error) -> WriteError {
    match e {
        // 1053 server shutdown, 1927 connection killed, 2013 lost during query
        mysql_async::Error::Server(s) if ![1053, 1927, 2013].contains(&s.code) => WriteError::Fail(format!("{}: {}", s.code, s.message)),
        other => WriteError::Unknown(other.to_string()),
    }
}

#[async_trait]
impl DataPath for MariaData {
    fn port(&self) -> u16 {
        3306
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(self.client(addr, timeout, false).await?))
    }

    async fn connect_via(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(self.client(addr, timeout, true).await?))
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        let (run_column, key) = match self.scope {
            Scope::Drill => ("", "writer_seq ("),
            Scope::Run { .. } => ("run VARCHAR(32) NOT NULL, ", "run_writer_seq (run, "),
        };
        let mut c = self.admin(primary).await?;
        c.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             {run_column}writer INT NOT NULL, seq BIGINT NOT NULL, payload MEDIUMTEXT NOT NULL, \
             written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY {key}writer, seq)) ENGINE=InnoDB",
            self.database,
            self.table()
        ))
        .await
        .map_err(q(primary, "create the workload table"))
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, self.writable(addr, timeout)).await, Ok(Ok(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let mut c = self.admin(addr).await?;
        let current: Option<String> = c.query_first("SELECT @@gtid_current_pos").await.map_err(q(addr, "read the GTID position"))?;
        let received = slave_status(&mut c).await.map_err(q(addr, "read SHOW SLAVE STATUS"))?.map(|r| col(&r, "Gtid_IO_Pos"));
        Ok(gtid_seq(&current.unwrap_or_default()).max(gtid_seq(&received.unwrap_or_default())))
    }

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        const WHAT: &str = "read back the workload table";
        let mut c = self.admin(addr).await?;
        match &self.scope {
            Scope::Drill => {
                let rows = c.query_iter(format!("SELECT writer, seq FROM {}", self.table())).await.map_err(q(addr, WHAT))?;
                read_rows(rows).await.map_err(q(addr, WHAT))
            }
            Scope::Run { run, .. } => {
                let sql = format!("SELECT writer, seq FROM {} WHERE run = ?", self.table());
                let rows = c.exec_iter(sql, (run.as_str(),)).await.map_err(q(addr, WHAT))?;
                read_rows(rows).await.map_err(q(addr, WHAT))
            }
        }
    }

    fn lag(&self) -> &dyn LagPath {
        self
    }
}

#[async_trait]
impl LagPath for MariaData {
    fn reported_as(&self) -> &'static str {
        "SHOW SLAVE STATUS Seconds_Behind_Master (on the replica)"
    }

    fn lag_on_replica(&self) -> bool {
        true
    }

    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()> {
        let mut c = self.admin(primary).await?;
        c.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {db}; CREATE TABLE IF NOT EXISTS {db}.drdrill_heartbeat \
             (id INT PRIMARY KEY, seq BIGINT NOT NULL) ENGINE=InnoDB; \
             REPLACE INTO {db}.drdrill_heartbeat VALUES (1, 0)",
            db = self.database
        ))
        .await
        .map_err(q(primary, "create the heartbeat table"))
    }

    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String> {
        let mut conn = self.open(addr, timeout).await?;
        let t = format!("{}.drdrill_heartbeat", self.database);
        let beat = conn.prep(format!("UPDATE {t} SET seq = ? WHERE id = 1")).await.map_err(|e| e.to_string())?;
        let read = conn.prep(format!("SELECT seq FROM {t} WHERE id = 1")).await.map_err(|e| e.to_string())?;
        Ok(Box::new(MyHeartbeat { conn, beat, read }))
    }
}

#[async_trait]
impl ExternalData for MariaData {
    /// A stack drdrill started answers with its role; an external server with `read_only`.
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let mut c = self.open(addr, timeout).await?;
        match self.scope {
            Scope::Drill => role(&mut c).await.map(|r| r.0).map_err(|e| e.to_string()),
            Scope::Run { .. } => {
                let ro: Option<i64> = c.query_first("SELECT @@read_only").await.map_err(|e| e.to_string())?;
                Ok(ro == Some(0))
            }
        }
    }

    async fn max_lag(&self, _addr: SocketAddr) -> std::result::Result<u64, String> {
        Err("max_lag_bytes is not measured for MariaDB (GTID positions are not bytes); use a command probe".into())
    }

    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let (_, run) = self.scope.run()?;
        let mut c = self.admin(addr).await?;
        let t = self.table();
        c.exec_drop(format!("DELETE FROM {t} WHERE run = ?"), (run,)).await.map_err(q(addr, "delete this run's rows"))?;
        let n = c.affected_rows();
        let left: Option<i64> = c.query_first(format!("SELECT count(*) FROM {t}")).await.map_err(q(addr, "count rows"))?;
        if left == Some(0) {
            c.query_drop(format!("DROP TABLE {t}")).await.map_err(q(addr, "drop the empty table"))?;
            return Ok(format!("deleted {n} rows of run {run}; dropped the empty table {t}"));
        }
        Ok(format!("deleted {n} rows of run {run}; {} rows of other runs stay in {t}", left.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_positions_compare_by_domain_zero() {
        assert_eq!(gtid_seq("0-1-57"), 57);
        assert_eq!(gtid_seq("1-2-900,0-3-58"), 58);
        assert_eq!(gtid_seq(""), 0);
    }

    #[test]
    fn the_drill_table_is_the_one_evidence_names() {
        assert_eq!(MariaData::drill("pw").table(), "drdrill.drdrill_writes");
        let auth = Auth { table: "t".into(), run: "r".into(), ..Default::default() };
        assert_eq!(MariaData::external(&auth).table(), "drdrill.t");
    }

    #[test]
    fn server_ids_come_from_node_numbers() {
        assert_eq!(server_id("db-3"), 3);
    }
}
