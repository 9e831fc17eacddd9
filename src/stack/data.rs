//! The data path: how drdrill reaches one engine's data (the workload's connections, the
//! table it writes into, read-back, replication state). Container and external stacks of
//! one engine share it; only the login and the scope of the rows differ.
use super::ReadBack;
use crate::error::Result;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a write did not succeed.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// Definitely not applied.
    Fail(String),
    /// May have been applied.
    Unknown(String),
}

/// A workload client connected to one node.
#[async_trait]
pub trait WriteClient: Send {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError>;
    /// The node this connection reached, when the client found it itself (through
    /// Sentinel, or behind HAProxy); None when it is the node the clients were pointed at.
    fn node(&self) -> Option<String> {
        None
    }
    /// After a write on this connection was abandoned at its timeout: waits until the
    /// server answers on it again (the abandoned write's reply comes first) and returns
    /// true; false when it never will, or when this client cannot reuse a connection with
    /// a request abandoned on it (the default).
    async fn answers_again(&mut self) -> bool {
        false
    }
}

/// How drdrill reaches an engine's data on any node.
#[async_trait]
pub trait DataPath: Send + Sync {
    /// The client-facing port of a node (inside its container, for a stack drdrill started).
    fn port(&self) -> u16;
    /// Opens a workload connection.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String>;
    /// Creates what the workload writes into.
    async fn prepare(&self, primary: SocketAddr) -> Result<()>;
    /// One orchestrator-style health probe: is this node up and the writable primary?
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool;
    /// How much of the primary's change stream this replica has received (higher is further).
    async fn position(&self, addr: SocketAddr) -> Result<u64>;
    /// Every workload record of this drill stored on the node.
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack>;
}

/// What drdrill asks of an external stack's database besides the data path.
#[async_trait]
pub trait ExternalData: DataPath {
    /// Whether the node is a writable primary, or why it could not tell.
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String>;
    /// The largest lag, in bytes, of the replicas this primary streams to.
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String>;
    /// Removes this run's rows (and the table once empty); returns what it did.
    async fn cleanup(&self, addr: SocketAddr) -> Result<String>;
}

/// Login and namespace on an external database.
#[derive(Clone, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    /// Table (Redis: key prefix) the workload writes into.
    pub table: String,
    /// This run's id: every row carries it, and only those rows are read back or removed.
    pub run: String,
}

/// Whose rows a data path writes and reads back.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// A stack drdrill started: the engine's drill table (`drdrill_writes`, Redis keys
    /// `drdrill:`), all of it this drill's. drdrill's own containers answer within 3 s.
    Drill,
    /// An external stack: a table (Redis: key prefix) other runs share; every row carries
    /// this run's id. Its servers may be further away: 5 s, and errors in the server's words.
    Run { table: String, run: String },
}

impl Scope {
    /// How long an administrative connection may take.
    pub fn admin_timeout(&self) -> Duration {
        match self {
            Scope::Drill => Duration::from_secs(3),
            Scope::Run { .. } => Duration::from_secs(5),
        }
    }

    /// The shared table and this run's id, for what only an external stack does.
    pub fn run(&self) -> Result<(&str, &str)> {
        match self {
            Scope::Run { table, run } => Ok((table, run)),
            Scope::Drill => Err(crate::error::Error::infra("only an external stack's rows are cleaned up (a bug)")),
        }
    }
}

impl Auth {
    pub fn scope(&self) -> Scope {
        Scope::Run { table: self.table.clone(), run: self.run.clone() }
    }
}
