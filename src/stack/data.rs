//! The data path: how drdrill reaches one engine's data (the workload's connections, the
//! table it writes into, read-back, replication state). Container and external stacks of
//! one engine share it; only the login and the scope of the rows differ.
use super::read_back::ReadBack;
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
    /// Sets key `key` of the shared key space (`workload.keys`) to the value (writer, seq),
    /// creating it if no node has it yet. Only a multi-active stack's clients take it.
    async fn update(&mut self, _key: u32, _writer: u32, _seq: u64) -> std::result::Result<(), WriteError> {
        Err(WriteError::Fail("this stack's clients take no updates (a bug: validation should have refused `workload.keys`)".into()))
    }
    /// Makes `change` to record (writer, `change.of()`), one of this writer's own
    /// (`workload.changes`): rewrites it whole with `payload` at the change's revision, or
    /// deletes it. Only a kind whose clients change records takes it (files).
    async fn change(&mut self, _writer: u32, _change: crate::history::Change, _payload: &str) -> std::result::Result<(), WriteError> {
        Err(WriteError::Fail("this stack's clients change no records (a bug: validation should have refused `workload.changes`)".into()))
    }
    /// As `change`, and whether the record was absent before it, as the server's answer
    /// says (a rewrite that created the record anew): by default never known.
    async fn change_seen(&mut self, writer: u32, change: crate::history::Change, payload: &str) -> std::result::Result<bool, WriteError> {
        self.change(writer, change, payload).await.map(|()| false)
    }
    /// Writer `writer`'s newest record on this node (its highest sequence number), None
    /// when the node holds none of its records yet: what a reader sees (`workload.readers`).
    /// `invoked`: the highest sequence number the writer had invoked when the read began
    /// (an engine without a query for the newest record looks down from it).
    async fn read_newest(&mut self, _writer: u32, _invoked: u64) -> std::result::Result<Option<u64>, WriteError> {
        Err(WriteError::Fail("this stack's clients take no reads (a bug: validation should have refused `workload.readers`)".into()))
    }
    /// Key `key` of the shared key space (`workload.keys`) on this node: the (writer, seq)
    /// of the update it holds, None when the node has no value for it yet.
    async fn read_key(&mut self, _key: u32) -> std::result::Result<Option<(u32, u64)>, WriteError> {
        Err(WriteError::Fail("this stack's clients read no keys (a bug: validation should have refused `workload.keys`)".into()))
    }
    /// The node this connection reached, when the client found it itself (through
    /// Sentinel, or behind HAProxy); None when it is the node the clients were pointed at.
    fn node(&self) -> Option<std::sync::Arc<str>> {
        None
    }
    /// After a write on this connection was abandoned at its timeout: waits until the
    /// server answers on it again (the abandoned write's reply comes first) and returns
    /// true; false when it never will, or when this client cannot reuse a connection with
    /// a request abandoned on it (the default).
    async fn answers_again(&mut self) -> bool {
        false
    }
    /// Whether the client serves the next write after one of its writes failed or was left
    /// unknown (not timed out): a routing client that keeps a connection per node and drops
    /// a broken one itself (Redis Cluster). By default a connection is kept only after a
    /// success.
    fn keeps_after_failure(&self) -> bool {
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
    /// Opens a workload connection through an entry that forwards to one node (another
    /// service's VIP), the connection saying which node it reached when the engine can
    /// ask (MariaDB's `report_host`, Redis's announced name); by default as `connect`.
    async fn connect_via(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        self.connect(addr, timeout).await
    }
    /// Opens a reader's connection (`workload.readers`) to the node or read endpoint at
    /// `addr`: by default as a writer's.
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        self.connect(addr, timeout).await
    }
    /// Creates what the workload writes into.
    async fn prepare(&self, primary: SocketAddr) -> Result<()>;
    /// One orchestrator-style health probe: is this node up and the writable primary?
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool;
    /// How much of the primary's change stream this replica has received (higher is further).
    async fn position(&self, addr: SocketAddr) -> Result<u64>;
    /// Every workload record of this drill stored on the node.
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack>;
    /// How the replica-lag measurement reaches the engine.
    fn lag(&self) -> &dyn LagPath;
    /// Whether a failed write's error text is the server's own reply (it received the write
    /// and refused it), not a connection that failed: the refusals after a failover count
    /// only those. False unless the engine says.
    fn is_reply(&self, _error: &str) -> bool {
        false
    }
    /// Runs an operator's SQL on the node at `addr` as the superuser (`sql` actions): the
    /// server's answer in its words (command tags, the first row's values).
    async fn execute(&self, _addr: SocketAddr, _sql: &str) -> Result<String> {
        Err(crate::error::Error::infra("this engine runs no SQL (a bug: validation should have refused the `sql` action)"))
    }
}

/// The data path of a stack whose clients reach the primary through the orchestrator's
/// entry (HAProxy, Sentinel, a virtual IP): its engine's, except how a client connects,
/// each connection saying which node it reached. Every such stack is a `DataPath` by this.
#[async_trait]
pub trait ThroughEntry: Send + Sync {
    /// The engine's data path, for everything but the workload's connections.
    fn engine(&self) -> &dyn DataPath;
    /// Opens a workload connection through the entry at `addr`.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String>;
    /// Opens a reader's connection: by default straight to the node at `addr`, as the
    /// engine's clients connect (a read pool listing the replicas); a kind with its own
    /// read routing (Sentinel's replica list, HAProxy's replica listener) says otherwise.
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        self.engine().connect(addr, timeout).await
    }
}

#[async_trait]
impl<T: ThroughEntry> DataPath for T {
    fn port(&self) -> u16 {
        self.engine().port()
    }
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        ThroughEntry::connect(self, addr, timeout).await
    }
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        ThroughEntry::connect_reader(self, addr, timeout).await
    }
    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        self.engine().prepare(primary).await
    }
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        self.engine().probe(addr, timeout).await
    }
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        self.engine().position(addr).await
    }
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        self.engine().read_back(addr).await
    }
    fn lag(&self) -> &dyn LagPath {
        self.engine().lag()
    }
    async fn execute(&self, addr: SocketAddr, sql: &str) -> Result<String> {
        self.engine().execute(addr, sql).await
    }
    fn is_reply(&self, error: &str) -> bool {
        self.engine().is_reply(error)
    }
}

/// What the replica-lag measurement needs of an engine (the replica-lag monitor).
#[async_trait]
pub trait LagPath: Send + Sync {
    /// The engine's own lag figure, as `engine_lag` reports it.
    fn reported_as(&self) -> &'static str;
    /// Creates the heartbeat record (sequence 0) the replica-lag measurement writes.
    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()>;
    /// A connection that writes or reads the heartbeat, within `timeout`.
    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String>;
    /// Whether the engine keeps its lag figure on the replica (MariaDB), not on the primary:
    /// `Heartbeat::engine_lag` is then asked on a connection to the replica itself.
    fn lag_on_replica(&self) -> bool {
        false
    }
}

/// The heartbeat of the replica-lag measurement: one record holding a sequence number,
/// outside the workload's table or keys (read-back never sees it).
#[async_trait]
pub trait Heartbeat: Send {
    /// Sets the heartbeat to `seq` (on the primary); Ok once the write is acknowledged.
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String>;
    /// The heartbeat sequence this node shows now.
    async fn read(&mut self) -> std::result::Result<u64, String>;
    /// What the engine reports about `replica`'s lag, on this connection (to the primary,
    /// or to the replica when `LagPath::lag_on_replica`).
    async fn engine_lag(&mut self, replica: &ReplicaAt) -> std::result::Result<EngineLag, String>;
}

/// A replica as the engine-lag queries find it.
#[derive(Debug, Clone)]
pub struct ReplicaAt {
    pub name: String,
    /// Its published address (drdrill's own connections).
    pub addr: SocketAddr,
    /// Its address on the drill network, as the primary sees it connect (Redis lists
    /// replicas by it).
    pub ip: Option<String>,
}

/// One sample of what the engine says about a replica's lag.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineLag {
    /// The engine's own lag figure in ms (PostgreSQL `replay_lag`, MariaDB
    /// `Seconds_Behind_Master` × 1000, Redis `lag` × 1000); null when the engine shows none
    /// (replay_lag on an idle server, Seconds_Behind_Master while replication is stopped).
    pub reported_ms: Option<f64>,
    /// How far behind the primary the replica is, in bytes of the change stream
    /// (PostgreSQL WAL, Redis replication offsets); null where the engine has no such figure.
    pub behind_bytes: Option<i64>,
    /// The replica's position in the engine's terms (replay LSN, GTID, offset).
    pub position: Option<String>,
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
