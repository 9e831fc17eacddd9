//! A reader of one cluster node (`workload.readers` on `redis-cluster`): a `READONLY`
//! connection, as a cluster client reading from replicas opens one, asking only for the
//! keys of the node's own shard (a replica serves its primary's slots and answers MOVED for
//! the others). What a read saw is the writer's newest record in that shard: the checker
//! weighs it against the writes that shard acknowledged (`checker::Acks::by_parts`).
use super::super::conn::{Login, RedisConn};
use super::topology::slot_of;
use crate::stack::{WriteClient, WriteError};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct ClusterReader {
    conn: RedisConn,
    /// Each slot's shard (u8::MAX: none), as the cluster was when it became healthy.
    slots: Arc<Vec<u8>>,
    /// The shard of the node read.
    shard: u8,
    node: Arc<str>,
}

impl ClusterReader {
    /// A `READONLY` connection to `addr` (node `node` of shard `shard`), within `timeout`.
    pub async fn connect(
        addr: SocketAddr,
        (node, shard): (Arc<str>, u8),
        slots: Arc<Vec<u8>>,
        (prefix, login): (&str, Login<'_>),
        timeout: Duration,
    ) -> Result<ClusterReader, String> {
        let open = async {
            let mut conn = RedisConn::connect(addr, timeout, prefix, login).await.map_err(|e| e.to_string())?;
            conn.request(&redis::cmd("READONLY")).await.map_err(|e| format!("READONLY on {node}: {e}"))?;
            Ok::<_, String>(conn)
        };
        let conn = tokio::time::timeout(timeout, open).await.map_err(|_| "connect timed out".to_string())??;
        Ok(ClusterReader { conn, slots, shard, node })
    }
}

#[async_trait]
impl WriteClient for ClusterReader {
    async fn write(&mut self, _writer: u32, _seq: u64, _payload: &str) -> Result<(), WriteError> {
        Err(WriteError::Fail("a cluster reader's connection is READONLY: it takes no writes (a bug)".into()))
    }

    async fn read_newest(&mut self, writer: u32, invoked: u64) -> Result<Option<u64>, WriteError> {
        let (slots, shard) = (self.slots.clone(), self.shard);
        let held = move |key: &[u8]| slots.get(usize::from(slot_of(key))) == Some(&shard);
        self.conn.newest_held(writer, invoked, &held).await
    }

    fn node(&self) -> Option<Arc<str>> {
        Some(self.node.clone())
    }
}
