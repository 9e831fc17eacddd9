//! What a recovery acts on and records into, and the clients' repoint every recovery that
//! moves them shares.
use crate::history::{EventKind, RecorderHandle};
use crate::stack::{Driver, Stack};
use crate::workload::ClientRoute;
use std::sync::Arc;

/// What a recovery acts on and records into.
pub struct Scene {
    pub stack: Arc<Stack>,
    pub driver: Arc<dyn Driver>,
    pub rec: RecorderHandle,
    /// Where the workload's clients write; a recovery that moves them repoints here.
    pub clients: ClientRoute,
}

/// Points the clients at `node` (the new primary) and records it; a repoint that failed is
/// a note, and the clients stay where they were.
pub(super) async fn repoint_clients(
    clients: &ClientRoute,
    rec: &RecorderHandle,
    fault: Option<usize>,
    node: &str,
    addr: std::net::SocketAddr,
) {
    match clients.repoint(node, addr).await {
        Ok(detail) => rec.event(EventKind::FailoverRepointClients, fault, Some(node), detail).await,
        Err(e) => rec.event(EventKind::Note, fault, Some(node), format!("repointing the clients failed: {}", e.one_line())).await,
    };
}
