//! What Patroni's driver (`patroni.rs`) and its watcher (`patroni_watch.rs`) share: the
//! cluster's scope (its keys in etcd live under `/service/<scope>/`), and where things
//! are once the containers run (`Book`).
use std::collections::HashMap;
use std::net::SocketAddr;

pub(super) const SCOPE: &str = "drdrill";

/// Where things are, learnt once the containers run.
#[derive(Debug, Default)]
pub(super) struct Book {
    /// drill-network IP -> node
    pub node_of: HashMap<String, String>,
    /// node -> published PostgreSQL address
    pub addr_of: HashMap<String, SocketAddr>,
    /// node -> container
    pub container_of: HashMap<String, String>,
    pub etcd: Vec<SocketAddr>,
}
