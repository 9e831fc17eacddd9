//! MariaDB 10.11: primary + replicas over binlog with GTID (`MASTER_USE_GTID=slave_pos`),
//! async or semi-sync. Every node starts read-only; the primary is made writable.
use super::{Driver, ReadBack, ReplicaHealth, Stack, WriteClient, WriteError, retry_until};
use crate::error::{Error, Result};
use crate::scenario::{ReplicationMode, StackKind, StackSpec};
use async_trait::async_trait;
use mysql_async::prelude::*;
use mysql_async::{Conn, OptsBuilder, Row};
use std::net::SocketAddr;
use std::time::Duration;

const TABLE: &str = "drdrill.drdrill_writes";
const INSERT: &str = "INSERT INTO drdrill.drdrill_writes (writer, seq, payload) VALUES (?, ?, ?)";

pub struct MariaDb {
    semi_sync: bool,
    settings: Vec<String>,
    /// The `drdrill` account's password: made for this drill, never a fixed one.
    pub(super) password: String,
}

impl MariaDb {
    pub fn new(spec: &StackSpec) -> Self {
        MariaDb {
            semi_sync: spec.replication == ReplicationMode::SemiSync,
            settings: spec.settings.iter().map(|(k, v)| format!("{k} = {v}")).collect(),
            password: fresh_password(),
        }
    }
}

fn fresh_password() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("dd{:016x}", h.finish())
}

/// `server_id` from the node's number (`db-3` → 3).
fn server_id(node: &str) -> u32 {
    node.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1)
}

pub(super) async fn connect(addr: SocketAddr, password: &str, timeout: Duration) -> std::result::Result<Conn, String> {
    connect_as(addr, "drdrill", Some(password.to_string()), timeout).await
}

/// A connection as `user` (TCP, a small statement cache), or why there is none.
pub(super) async fn connect_as(
    addr: SocketAddr,
    user: &str,
    password: Option<String>,
    timeout: Duration,
) -> std::result::Result<Conn, String> {
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

pub(super) async fn admin(addr: SocketAddr, password: &str) -> Result<Conn> {
    connect(addr, password, Duration::from_secs(3))
        .await
        .map_err(|e| Error::infra(format!("failed to connect to mariadb at {addr}")).cause_text(e))
}

/// The (writer, seq) rows of a result, streamed into a read-back (never all rows at once).
pub(super) async fn read_rows<P: mysql_async::prelude::Protocol>(
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
async fn slave_status(c: &mut Conn) -> std::result::Result<Option<Row>, mysql_async::Error> {
    c.query_first("SHOW SLAVE STATUS").await
}

fn col(r: &Row, name: &str) -> String {
    r.get_opt::<Option<String>, _>(name).and_then(|v| v.ok()).flatten().unwrap_or_default()
}

/// The sequence number of domain 0 in a GTID list (`0-1-57,1-2-3` → 57).
pub(super) fn gtid_seq(list: &str) -> u64 {
    list.split(',').filter_map(|g| g.trim().strip_prefix("0-")).filter_map(|g| g.rsplit('-').next()?.parse().ok()).max().unwrap_or(0)
}

/// A workload connection with its prepared insert.
pub(super) async fn workload_client(
    addr: SocketAddr,
    password: &str,
    timeout: Duration,
    find_node: bool,
) -> std::result::Result<MyClient, String> {
    let mut conn = connect(addr, password, timeout).await?;
    let node = match find_node {
        true => Some(role(&mut conn).await.map_err(|e| e.to_string())?.1),
        false => None,
    };
    let stmt = conn.prep(INSERT).await.map_err(|e| e.to_string())?;
    Ok(MyClient { conn, stmt, node })
}

pub(super) struct MyClient {
    conn: Conn,
    stmt: mysql_async::Statement,
    /// The node, when the client reached it through the VIP.
    node: Option<String>,
}

#[async_trait]
impl WriteClient for MyClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        match self.conn.exec_drop(&self.stmt, (writer, seq, payload)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
    fn node(&self) -> Option<String> {
        self.node.clone()
    }
}

/// A server error means the insert was rolled back (read-only, a deadlock), except for
/// shutdown and killed connections; a lost connection may follow a durable commit.
pub(super) fn classify(e: &mysql_async::Error) -> WriteError {
    match e {
        // 1053 server shutdown, 1927 connection killed, 2013 lost during query
        mysql_async::Error::Server(s) if ![1053, 1927, 2013].contains(&s.code) => WriteError::Fail(format!("{}: {}", s.code, s.message)),
        other => WriteError::Unknown(other.to_string()),
    }
}

#[async_trait]
impl Driver for MariaDb {
    fn kind(&self) -> StackKind {
        StackKind::Mariadb
    }

    fn port(&self) -> u16 {
        3306
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("mariadb -h 127.0.0.1 -P {host_port} -u drdrill -p{} drdrill", self.password)
    }

    fn container(&self, node: &str, primary: &str, _replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut env = vec![
            format!("DRDRILL_NODE={node}"),
            format!("DRDRILL_SERVER_ID={}", server_id(node)),
            format!("DRDRILL_PASSWORD={}", self.password),
            format!("DRDRILL_SETTINGS={}", self.settings.join("\n")),
            format!("DRDRILL_SEMI_SYNC={}", u8::from(self.semi_sync)),
        ];
        if node == primary {
            env.push("DRDRILL_ROLE=primary".into());
        } else {
            env.push("DRDRILL_ROLE=replica".into());
            env.push(format!("DRDRILL_PRIMARY_HOST={}", upstream.0));
            env.push(format!("DRDRILL_PRIMARY_PORT={}", upstream.1));
        }
        (env, Vec::new())
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        let replicas = stack.replicas();
        retry_until(timeout, Duration::from_millis(500), || async {
            let mut p = admin(primary, &self.password).await?;
            if !role(&mut p).await.map_err(q(primary, "read read_only"))?.0 {
                return Err(Error::infra(format!("failed to see {} writable", stack.primary())));
            }
            let mut health = Vec::new();
            for r in &replicas {
                health.push(self.replica_health(stack, r).await?);
            }
            if self.semi_sync {
                let clients: Option<(String, u64)> =
                    p.query_first("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'").await.map_err(q(primary, "read semi-sync status"))?;
                let n = clients.map(|c| c.1).unwrap_or(0);
                if n < replicas.len() as u64 {
                    return Err(Error::infra(format!("failed to see every replica semi-sync ({n} of {})", replicas.len())));
                }
            }
            Ok(health)
        })
        .await
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        let mut c = admin(primary, &self.password).await?;
        c.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS drdrill; CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             writer INT NOT NULL, seq BIGINT NOT NULL, payload MEDIUMTEXT NOT NULL, \
             written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY writer_seq (writer, seq)) ENGINE=InnoDB"
        ))
        .await
        .map_err(q(primary, "create the workload table"))
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let check = async {
            let mut c = connect(addr, &self.password, timeout).await.ok()?;
            role(&mut c).await.ok().map(|r| r.0)
        };
        matches!(tokio::time::timeout(timeout, check).await, Ok(Some(true)))
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let mut c = admin(addr, &self.password).await?;
        let current: Option<String> = c.query_first("SELECT @@gtid_current_pos").await.map_err(q(addr, "read the GTID position"))?;
        let received = slave_status(&mut c).await.map_err(q(addr, "read SHOW SLAVE STATUS"))?.map(|r| col(&r, "Gtid_IO_Pos"));
        Ok(gtid_seq(&current.unwrap_or_default()).max(gtid_seq(&received.unwrap_or_default())))
    }

    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let mut c = admin(addr, &self.password).await?;
        // apply everything the node received before it stops being a replica
        c.query_drop("STOP SLAVE IO_THREAD").await.map_err(q(addr, "stop the replica's IO thread"))?;
        if let Some(r) = slave_status(&mut c).await.map_err(q(addr, "read SHOW SLAVE STATUS"))? {
            let io = col(&r, "Gtid_IO_Pos");
            let waited: Option<i64> =
                c.exec_first("SELECT MASTER_GTID_WAIT(?, 60)", (io.clone(),)).await.map_err(q(addr, "wait for the relay log"))?;
            if waited != Some(0) {
                return Err(Error::infra(format!("failed to apply {node}'s relay log up to {io} within 60 s")));
            }
        }
        let semi = if self.semi_sync { "SET GLOBAL rpl_semi_sync_master_enabled = ON; " } else { "" };
        c.query_drop(format!("STOP SLAVE; RESET SLAVE ALL; {semi}SET GLOBAL read_only = 0")).await.map_err(q(addr, "promote"))?;
        set_role(stack, node, "primary").await
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let addr = stack.node(replica)?.addr();
        let (host, port) = stack.upstream(replica, primary);
        let mut c = admin(addr, &self.password).await?;
        c.query_drop(format!(
            "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, MASTER_USE_GTID=slave_pos; START SLAVE"
        ))
        .await
        .map_err(q(addr, "repoint the replica"))
    }

    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()> {
        let n = stack.node(node)?;
        if stack.docker.is_running(&n.container).await {
            stack.docker.stop(&n.container, 10).await?;
        }
        let (host, port) = stack.upstream(node, primary);
        stack.docker.upload_file(&n.container, "/var/lib/mysql", "drdrill-follow", format!("{host} {port}").as_bytes()).await?;
        stack.docker.start(&n.container).await
    }

    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let mut c = admin(addr, &self.password).await?;
        let rows = c.query_iter(format!("SELECT writer, seq FROM {TABLE}")).await.map_err(q(addr, "read back the workload table"))?;
        read_rows(rows).await.map_err(q(addr, "read back the workload table"))
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(workload_client(addr, &self.password, timeout, false).await?))
    }
}

impl MariaDb {
    /// The seed's checklist: IO and SQL threads running, `Seconds_Behind_Master` reported.
    pub(super) async fn replica_health(&self, stack: &Stack, replica: &str) -> Result<ReplicaHealth> {
        let addr = stack.node(replica)?.addr();
        let mut c = admin(addr, &self.password).await?;
        let r = slave_status(&mut c)
            .await
            .map_err(q(addr, "read SHOW SLAVE STATUS"))?
            .ok_or_else(|| Error::infra(format!("failed to see {replica} replicating: no SHOW SLAVE STATUS")))?;
        let (io, sql, behind) = (col(&r, "Slave_IO_Running"), col(&r, "Slave_SQL_Running"), col(&r, "Seconds_Behind_Master"));
        if io != "Yes" || sql != "Yes" || behind.is_empty() {
            let err = [col(&r, "Last_IO_Error"), col(&r, "Last_SQL_Error")].join(" ");
            return Err(Error::infra(format!("failed to see {replica} replicating: IO {io}, SQL {sql} {err}")));
        }
        let gtid = if col(&r, "Using_Gtid").is_empty() { "file/pos" } else { "gtid" };
        let lag = col(&r, "Read_Master_Log_Pos").parse::<i64>().unwrap_or(0) - col(&r, "Exec_Master_Log_Pos").parse::<i64>().unwrap_or(0);
        Ok(ReplicaHealth {
            node: replica.to_string(),
            state: format!("IO Yes / SQL Yes, {behind} s behind, {gtid} {}", col(&r, "Using_Gtid")),
            lag_bytes: lag.max(0),
        })
    }
}

/// Records what the node is now in its data directory, so that a restart comes back as it.
pub(super) async fn set_role(stack: &Stack, node: &str, role: &str) -> Result<()> {
    let n = stack.node(node)?;
    stack.docker.upload_file(&n.container, "/var/lib/mysql", "drdrill-role", format!("{role}\n").as_bytes()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_positions_compare_by_domain_zero() {
        assert_eq!(gtid_seq("0-1-57"), 57);
        assert_eq!(gtid_seq("1-2-900,0-3-58"), 58);
        assert_eq!(gtid_seq(""), 0);
        assert_eq!(server_id("db-3"), 3);
    }
}
