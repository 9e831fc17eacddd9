//! The files kind's data path: each write is an upload (`PUT /files/drdrill-w<writer>-s<seq>`,
//! acknowledged once nginx has renamed the whole body into place), read back by listing a
//! node's directory and checking each file is whole. The replica-lag heartbeat is one more
//! file (`drdrill-heartbeat`) the mirror receives like any other.
use crate::error::{Error, Result};
use crate::history::Change;
use crate::stack::blob::{Conn, Failed, REPLIED, content, file_name, parse_name, read_whole};
use crate::stack::data::{DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, WriteClient, WriteError};
use crate::stack::read_back::ReadBack;
use async_trait::async_trait;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;

/// The port nginx listens on inside a node.
pub const PORT: u16 = 8080;
/// The heartbeat of the replica-lag measurement.
const HEARTBEAT: &str = "drdrill-heartbeat";
/// Written on the source before the sync starts: the mirror has it once the sync works.
pub const READY: &str = "drdrill-ready";

/// The data path; `via_vip`: the clients reach the servers through the VIP, each answer
/// naming the server that took it.
pub struct FilesData {
    pub via_vip: bool,
}

/// A workload connection to one node (or to the VIP).
struct Client(Conn, bool);

fn write_error(e: Failed) -> WriteError {
    match e {
        // nginx answered: the upload was refused whole (a mirror is read-only); or the
        // connection was closed before it was sent
        r @ (Failed::Reply(..) | Failed::NotSent(_)) => WriteError::Fail(r.to_string()),
        // the body may have reached nginx and been renamed into place
        b @ Failed::Broken(_) => WriteError::Unknown(b.to_string()),
    }
}

#[async_trait]
impl WriteClient for Client {
    async fn write(&mut self, writer: u32, seq: u64, payload: &str) -> std::result::Result<(), WriteError> {
        self.0.put(&file_name(writer, seq), content(writer, seq, 0, payload)).await.map_err(write_error)
    }

    async fn change(&mut self, writer: u32, change: Change, payload: &str) -> std::result::Result<(), WriteError> {
        self.change_seen(writer, change, payload).await.map(drop)
    }

    /// A rewrite uploads the file whole again (nginx renames the new body over the old),
    /// and nginx's 201 says the file was not there (it created it); a delete is answered
    /// once nginx has unlinked it (a 404: nothing was deleted).
    async fn change_seen(&mut self, writer: u32, change: Change, payload: &str) -> std::result::Result<bool, WriteError> {
        let name = file_name(writer, change.of());
        match change {
            Change::Rewrite { of, rev, .. } => self.0.put_new(&name, content(writer, of, rev, payload)).await,
            Change::Delete { .. } => self.0.delete(&name).await.map(|()| false),
        }
        .map_err(write_error)
    }

    fn node(&self) -> Option<std::sync::Arc<str>> {
        self.0.node.clone().filter(|_| self.1)
    }
}

#[async_trait]
impl DataPath for FilesData {
    fn port(&self) -> u16 {
        PORT
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(Client(Conn::open(addr, timeout).await?, self.via_vip)))
    }

    /// The upload directory exists in every node's image.
    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        match self.probe(primary, Duration::from_secs(3)).await {
            true => Ok(()),
            false => Err(Error::infra(format!("the file store at {primary} does not take uploads"))),
        }
    }

    /// Takes uploads: a DELETE of a file nobody wrote is answered 404 by the source, 403 by
    /// a read-only mirror (nothing is written either way).
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let path = format!("{}drdrill-probe-absent", crate::stack::blob::DIR);
        let ask = async { Conn::open(addr, timeout).await.ok()?.send(Method::DELETE, &path, Bytes::new()).await.err() };
        matches!(tokio::time::timeout(timeout, ask).await, Ok(Some(Failed::Reply(StatusCode::NOT_FOUND, _))))
    }

    /// How many workload files the node holds.
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let mut c = Conn::open(addr, Duration::from_secs(3)).await.map_err(Error::infra)?;
        let names = c.list().await.map_err(|e| Error::infra(format!("list the files on {addr}: {e}")))?;
        Ok(names.iter().filter(|(n, _)| parse_name(n).is_some()).count() as u64)
    }

    /// Every workload file on the node that is whole; a torn one is named, not counted.
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let open = || async { Conn::open(addr, Duration::from_secs(3)).await.map_err(Error::infra) };
        let mut c = open().await?;
        let fail = |e: Failed| Error::infra(format!("read the files back from {addr}: {e}"));
        let names: Vec<String> = c.list().await.map_err(fail)?.into_iter().map(|(n, _)| n).collect();
        read_whole(c, open, names, fail).await
    }

    fn lag(&self) -> &dyn LagPath {
        self
    }

    fn is_reply(&self, error: &str) -> bool {
        error.starts_with(REPLIED)
    }
}

#[async_trait]
impl LagPath for FilesData {
    fn reported_as(&self) -> &'static str {
        "none (rsync and lsyncd report no lag)"
    }

    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()> {
        let mut c = Conn::open(primary, Duration::from_secs(3)).await.map_err(Error::infra)?;
        c.put(HEARTBEAT, b"0".to_vec()).await.map_err(|e| Error::infra(format!("write the heartbeat file: {e}")))
    }

    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String> {
        Ok(Box::new(Client(Conn::open(addr, timeout).await?, false)))
    }
}

#[async_trait]
impl Heartbeat for Client {
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String> {
        self.0.put(HEARTBEAT, seq.to_string().into_bytes()).await.map_err(|e| e.to_string())
    }

    async fn read(&mut self) -> std::result::Result<u64, String> {
        match self.0.get(HEARTBEAT).await.map_err(|e| e.to_string())? {
            Some(b) => String::from_utf8_lossy(&b).trim().parse().map_err(|e| format!("heartbeat file: {e}")),
            None => Ok(0),
        }
    }

    async fn engine_lag(&mut self, _replica: &ReplicaAt) -> std::result::Result<EngineLag, String> {
        Ok(EngineLag::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_workload_files_are_records() {
        assert_eq!(parse_name(&file_name(2, 1234)), Some((2, 1234)));
        for other in [HEARTBEAT, READY, "drdrill-w2", "drdrill-wx-s1", "notes.txt"] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
