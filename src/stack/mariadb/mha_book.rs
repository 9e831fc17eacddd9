//! What MHA's driver (`mha.rs`) and its watcher (`mha_watch.rs`) share: the names of
//! MHA's containers, and where things are once every container runs (`Book`).
use std::collections::HashMap;
use std::net::SocketAddr;

/// The MHA manager's container (`masterha_manager`).
pub(super) const MANAGER: &str = "mha";
/// The forwarder from a published port to the virtual IP: the clients' entry.
pub(super) const VIP_SERVICE: &str = "vip";

/// Where things are, learnt once every container runs.
#[derive(Debug, Default)]
pub(super) struct Book {
    /// node -> drill-network IP, and back (MHA names servers by IP)
    pub ip_of: HashMap<String, String>,
    pub node_of_ip: HashMap<String, String>,
    /// node -> published address
    pub addr_of: HashMap<String, SocketAddr>,
    pub vip: String,
    pub prefix: u8,
}
