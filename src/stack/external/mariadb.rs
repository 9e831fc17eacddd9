//! An external MariaDB: table `<database>.<table>(run, writer, seq, payload, written_at)`.
use super::{Access, Auth};
use crate::error::{Error, Result};
use crate::stack::mariadb::{classify, gtid_seq, read_rows};
use crate::stack::{ReadBack, WriteClient, WriteError};
use async_trait::async_trait;
use mysql_async::Conn;
use mysql_async::prelude::*;
use std::net::SocketAddr;
use std::time::Duration;

pub struct MariaDb {
    auth: Auth,
}

impl MariaDb {
    pub fn new(auth: Auth) -> MariaDb {
        MariaDb { auth }
    }

    fn table(&self) -> String {
        format!("{}.{}", self.db(), self.auth.table)
    }

    fn db(&self) -> &str {
        self.auth.database.as_deref().unwrap_or("drdrill")
    }

    async fn conn(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Conn, String> {
        let user = self.auth.user.as_deref().unwrap_or("root");
        crate::stack::mariadb::connect_as(addr, user, self.auth.password.clone(), timeout).await
    }

    async fn admin(&self, addr: SocketAddr) -> Result<Conn> {
        self.conn(addr, Duration::from_secs(5))
            .await
            .map_err(|e| Error::infra(format!("failed to connect to mariadb at {addr}")).cause_text(e))
    }
}

fn q(addr: SocketAddr, what: &str) -> impl FnOnce(mysql_async::Error) -> Error {
    let msg = format!("failed to {what} on {addr}");
    move |e| Error::infra(msg).cause(e)
}

struct Client {
    conn: Conn,
    stmt: mysql_async::Statement,
}

#[async_trait]
impl WriteClient for Client {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        self.conn.exec_drop(&self.stmt, (writer, seq, payload)).await.map_err(|e| classify(&e))
    }
}

#[async_trait]
impl Access for MariaDb {
    fn port(&self) -> u16 {
        3306
    }
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let mut conn = self.conn(addr, timeout).await?;
        let sql = format!("INSERT INTO {} (run, writer, seq, payload) VALUES ('{}', ?, ?, ?)", self.table(), self.auth.run);
        let stmt = conn.prep(sql).await.map_err(|e| e.to_string())?;
        Ok(Box::new(Client { conn, stmt }))
    }
    async fn prepare(&self, addr: SocketAddr) -> Result<()> {
        let mut c = self.admin(addr).await?;
        c.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             run VARCHAR(32) NOT NULL, writer INT NOT NULL, seq BIGINT NOT NULL, payload MEDIUMTEXT NOT NULL, \
             written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY run_writer_seq (run, writer, seq)) ENGINE=InnoDB",
            self.db(),
            self.table()
        ))
        .await
        .map_err(q(addr, "create the workload table"))
    }
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let mut c = self.conn(addr, timeout).await?;
        let ro: Option<i64> = c.query_first("SELECT @@read_only").await.map_err(|e| e.to_string())?;
        Ok(ro == Some(0))
    }
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let mut c = self.admin(addr).await?;
        let pos: Option<String> = c.query_first("SELECT @@gtid_current_pos").await.map_err(q(addr, "read the GTID position"))?;
        Ok(gtid_seq(&pos.unwrap_or_default()))
    }
    async fn max_lag(&self, _addr: SocketAddr) -> std::result::Result<u64, String> {
        Err("max_lag_bytes is not measured for MariaDB (GTID positions are not bytes); use a command probe".into())
    }
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let mut c = self.admin(addr).await?;
        let rows = c
            .exec_iter(format!("SELECT writer, seq FROM {} WHERE run = ?", self.table()), (self.auth.run.as_str(),))
            .await
            .map_err(q(addr, "read back the workload table"))?;
        read_rows(rows).await.map_err(q(addr, "read back the workload table"))
    }
    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let mut c = self.admin(addr).await?;
        let t = self.table();
        c.exec_drop(format!("DELETE FROM {t} WHERE run = ?"), (self.auth.run.as_str(),))
            .await
            .map_err(q(addr, "delete this run's rows"))?;
        let n = c.affected_rows();
        let left: Option<i64> = c.query_first(format!("SELECT count(*) FROM {t}")).await.map_err(q(addr, "count rows"))?;
        if left == Some(0) {
            c.query_drop(format!("DROP TABLE {t}")).await.map_err(q(addr, "drop the empty table"))?;
            return Ok(format!("deleted {n} rows of run {}; dropped the empty table {t}", self.auth.run));
        }
        Ok(format!("deleted {n} rows of run {}; {} rows of other runs stay in {t}", self.auth.run, left.unwrap_or(0)))
    }
}
