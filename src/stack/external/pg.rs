//! An external PostgreSQL: table `<table>(run, writer, seq, payload, written_at)`.
use super::{Access, Auth};
use crate::error::{Error, Result};
use crate::stack::postgres::{PgClient, is_writable, q, read_rows};
use crate::stack::{ReadBack, WriteClient};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub struct Pg {
    auth: Auth,
}

impl Pg {
    pub fn new(auth: Auth) -> Pg {
        Pg { auth }
    }

    async fn connect_raw(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Client, tokio_postgres::Error> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(addr.ip().to_string())
            .port(addr.port())
            .user(self.auth.user.as_deref().unwrap_or("postgres"))
            .dbname(self.auth.database.as_deref().unwrap_or("postgres"))
            .application_name("drdrill")
            .connect_timeout(timeout);
        if let Some(p) = &self.auth.password {
            cfg.password(p);
        }
        let (client, conn) = cfg.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    async fn admin(&self, addr: SocketAddr) -> Result<Client> {
        self.connect_raw(addr, Duration::from_secs(5))
            .await
            .map_err(|e| Error::infra(format!("failed to connect to postgres at {addr}")).cause_text(error_text(&e)))
    }
}

/// The server's own message when there is one (the driver's Display hides it).
fn error_text(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map(|d| format!("{}: {}", d.code().code(), d.message())).unwrap_or_else(|| e.to_string())
}

#[async_trait]
impl Access for Pg {
    fn port(&self) -> u16 {
        5432
    }
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let client = self.connect_raw(addr, timeout).await.map_err(|e| error_text(&e))?;
        let (t, run) = (&self.auth.table, &self.auth.run);
        let sql = format!("INSERT INTO {t} (run, writer, seq, payload) VALUES ('{run}', $1, $2, $3)");
        let stmt = client.prepare(&sql).await.map_err(|e| error_text(&e))?;
        Ok(Box::new(PgClient { client, stmt, node: None }))
    }
    async fn prepare(&self, addr: SocketAddr) -> Result<()> {
        let t = &self.auth.table;
        self.admin(addr)
            .await?
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (run text NOT NULL, writer int NOT NULL, seq bigint NOT NULL, \
                 payload text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
                 CREATE INDEX IF NOT EXISTS {t}_key ON {t} (run, writer, seq);"
            ))
            .await
            .map_err(q(addr, &format!("create the workload table {t}")))
    }
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let c = self.connect_raw(addr, timeout).await.map_err(|e| error_text(&e))?;
        is_writable(&c).await.map_err(|e| error_text(&e))
    }
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let row = self
            .admin(addr)
            .await?
            .query_one(
                "SELECT (CASE WHEN pg_is_in_recovery() THEN greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0), \
                 coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)) ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END)::bigint",
                &[],
            )
            .await
            .map_err(q(addr, "read the WAL position"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        let c = self.connect_raw(addr, Duration::from_secs(5)).await.map_err(|e| error_text(&e))?;
        let row = c
            .query_one(
                "SELECT count(*), coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, '0/0'))), 0)::bigint \
                 FROM pg_stat_replication",
                &[],
            )
            .await
            .map_err(|e| error_text(&e))?;
        if row.get::<_, i64>(0) == 0 {
            return Err("no replica is streaming from this node".into());
        }
        Ok(row.get::<_, i64>(1) as u64)
    }
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let (t, run) = (&self.auth.table, &self.auth.run);
        let c = self.admin(addr).await?;
        read_rows(&c, &format!("SELECT writer, seq FROM {t} WHERE run = $1"), &[run.as_str()])
            .await
            .map_err(q(addr, "read back the workload table"))
    }
    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let (t, run) = (&self.auth.table, &self.auth.run);
        let c = self.admin(addr).await?;
        let n = c.execute(&format!("DELETE FROM {t} WHERE run = $1"), &[run]).await.map_err(q(addr, "delete this run's rows"))?;
        let left: i64 = c.query_one(&format!("SELECT count(*) FROM {t}"), &[]).await.map_err(q(addr, "count rows"))?.get(0);
        if left == 0 {
            c.batch_execute(&format!("DROP TABLE {t}")).await.map_err(q(addr, "drop the empty table"))?;
            return Ok(format!("deleted {n} rows of run {run}; dropped the empty table {t}"));
        }
        Ok(format!("deleted {n} rows of run {run}; {left} rows of other runs stay in {t}"))
    }
}
