//! The data path of a DR region fed by logical replication (`postgres-logical`): the
//! workload writes several tables, record (writer, seq) into table `seq mod n`, each row's
//! id from the table's own `bigserial` sequence, so a DR node whose sequences were left
//! behind refuses inserts with a duplicate key, as the application's would. The rest
//! (probes, positions, the heartbeat) is PostgreSQL's data path.
use super::data::{PgData, classify, error_text, q, read_rows};
use crate::error::Result;
use crate::stack::data::{DataPath, LagPath, WriteClient, WriteError};
use crate::stack::{ReadBack, RecordGroup, RecordGroups};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, Statement};

/// Rows a table holds before the subscription (its initial copy) carry writer -1: no
/// workload writer has that number, and read-back leaves them out.
pub(super) const INITIAL_WRITER: i32 = -1;

pub(super) struct LogicalData {
    pub pg: PgData,
    pub tables: Vec<String>,
    pub published: Vec<String>,
    pub publication: String,
}

impl LogicalData {
    /// The table that holds record (writer, seq).
    pub fn table_of(n: usize, seq: u64) -> usize {
        (seq % n as u64) as usize
    }

    /// `CREATE TABLE` of every table and of the heartbeat, as both regions have them.
    pub fn schema(&self) -> String {
        let mut sql: String = self
            .tables
            .iter()
            .map(|t| {
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (id bigserial PRIMARY KEY, writer int NOT NULL, seq bigint NOT NULL, \
                     payload text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
                     CREATE INDEX IF NOT EXISTS {t}_writer_seq ON {t} (writer, seq); "
                )
            })
            .collect();
        sql.push_str("CREATE TABLE IF NOT EXISTS drdrill_heartbeat (id int PRIMARY KEY, seq bigint NOT NULL);");
        sql
    }

    /// Each table and whether it is published.
    pub fn groups(&self) -> RecordGroups {
        let list = self
            .tables
            .iter()
            .map(|t| {
                let replicated = self.published.contains(t);
                let how = if replicated { "in" } else { "not in" };
                RecordGroup { name: t.clone(), replicated, how: format!("{how} publication {}", self.publication) }
            })
            .collect();
        let n = self.tables.len();
        RecordGroups { what: "table", list, of: Arc::new(move |_, seq| Self::table_of(n, seq)) }
    }
}

/// A workload connection with each table's insert, prepared at its first use: a fresh
/// connection costs the server no more than a connection does (the probes of a stalled
/// workload open many).
struct LogicalClient {
    client: Client,
    inserts: Vec<Option<Statement>>,
    tables: Arc<[String]>,
}

impl LogicalClient {
    async fn insert(&mut self, i: usize) -> std::result::Result<Statement, tokio_postgres::Error> {
        if let Some(s) = &self.inserts[i] {
            return Ok(s.clone());
        }
        let sql = format!("INSERT INTO {} (writer, seq, payload) VALUES ($1, $2, $3)", self.tables[i]);
        let s = self.client.prepare(&sql).await?;
        self.inserts[i] = Some(s.clone());
        Ok(s)
    }
}

#[async_trait]
impl WriteClient for LogicalClient {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        let i = LogicalData::table_of(self.inserts.len(), seq);
        let done = match self.insert(i).await {
            Ok(stmt) => self.client.execute(&stmt, &[&(writer as i32), &(seq as i64), &payload]).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(_) => Ok(()),
            Err(e) => Err(explain(classify(&e), &e, &self.tables[i])),
        }
    }
    async fn answers_again(&mut self) -> bool {
        self.client.simple_query("").await.is_ok()
    }
}

/// A duplicate id on a table's primary key, on a node the rows were copied to, comes from
/// its sequence: logical replication copies rows, never sequences. Said beside the
/// server's own words.
fn explain(w: WriteError, e: &tokio_postgres::Error, table: &str) -> WriteError {
    let dup = e.as_db_error().is_some_and(|d| d.code().code() == "23505" && d.constraint() == Some(&format!("{table}_pkey")));
    match w {
        WriteError::Fail(_) if dup => {
            WriteError::Fail(format!("{}: the sequence {table}_id_seq is behind the rows logical replication copied", error_text(e)))
        }
        other => other,
    }
}

#[async_trait]
impl DataPath for LogicalData {
    fn port(&self) -> u16 {
        5432
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let client = self.pg.open(addr, timeout).await.map_err(|e| e.to_string())?;
        Ok(Box::new(LogicalClient { client, inserts: vec![None; self.tables.len()], tables: self.tables.clone().into() }))
    }

    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        self.pg.admin(primary).await?.batch_execute(&self.schema()).await.map_err(q(primary, "create the workload's tables"))
    }

    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        self.pg.probe(addr, timeout).await
    }

    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        self.pg.position(addr).await
    }

    /// Every table's workload rows (the initial rows left out).
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let c = self.pg.admin(addr).await?;
        let mut all = ReadBack::default();
        for t in &self.tables {
            let sql = format!("SELECT writer, seq FROM {t} WHERE writer <> {INITIAL_WRITER}");
            all.extend(&read_rows(&c, &sql, &[]).await.map_err(q(addr, &format!("read back table {t}")))?);
        }
        Ok(all)
    }

    fn lag(&self) -> &dyn LagPath {
        &self.pg
    }

    async fn execute(&self, addr: SocketAddr, sql: &str) -> Result<String> {
        self.pg.execute(addr, sql).await
    }

    fn is_reply(&self, error: &str) -> bool {
        self.pg.is_reply(error)
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::data::DataPath;

    #[test]
    fn only_the_servers_own_replies_are_refusals() {
        let d = super::super::data::PgData::drill();
        assert!(d.is_reply("23505: duplicate key value violates unique constraint \"users_pkey\": the sequence users_id_seq is behind"));
        assert!(d.is_reply("25006: cannot execute INSERT in a read-only transaction"));
        for not in
            ["connect timed out", "error connecting to server: Connection refused (os error 111)", "db error", "no answer within 1000 ms"]
        {
            assert!(!d.is_reply(not), "{not}");
        }
        assert_eq!(super::LogicalData::table_of(3, 7), 1);
    }
}
