//! The objects kind's data path: each write is an S3 PUT of object
//! `drdrill-w<writer>-s<seq>` into the drill's bucket, acknowledged once the zone's gateway
//! has stored it whole, with the files kind's content (a header naming the upload and its
//! length, the payload, a trailer); read back by listing the bucket and reading each
//! object. The replica-lag heartbeat is one more object (`drdrill-heartbeat`) the other zone
//! receives like any other.
use super::s3::{REPLIED, S3, say};
use crate::error::{Error, Result};
use crate::history::Change;
use crate::stack::blob::{Failed, content, file_name, parse_name, read_whole};
use crate::stack::data::{DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, WriteClient, WriteError};
use crate::stack::read_back::ReadBack;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;

/// The port radosgw listens on inside a node.
pub const PORT: u16 = 8080;
/// The heartbeat of the replica-lag measurement.
const HEARTBEAT: &str = "drdrill-heartbeat";
/// Written on the master zone once both run: the other zone has it once replication works.
pub const READY: &str = "drdrill-ready";
/// How every workload object's key starts.
const PREFIX: &str = "drdrill-w";
/// How long drdrill's own reads and writes outside the workload may take.
const ADMIN: Duration = Duration::from_secs(3);

/// The data path.
pub struct ObjectsData;

/// A workload (or heartbeat) connection to one zone's gateway.
struct Client(S3);

fn write_error(e: Failed) -> WriteError {
    match e {
        // the gateway answered: it refused the request whole; or nothing was sent
        Failed::Reply(..) | Failed::NotSent(_) => WriteError::Fail(say(&e)),
        // the request may have reached the gateway and been stored
        Failed::Broken(_) => WriteError::Unknown(say(&e)),
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

    /// S3 answers a PUT alike whether the object was there or not, and a DELETE with 204
    /// either way: a HEAD first says whether the zone holds the object. A rewrite of an
    /// object it lacks is made (and says so: created anew); a delete of one is not sent and
    /// fails, as files' 404 does: an acknowledged delete of an object the failover lost
    /// would hide that loss.
    async fn change_seen(&mut self, writer: u32, change: Change, payload: &str) -> std::result::Result<bool, WriteError> {
        let key = file_name(writer, change.of());
        let held = self.0.exists(&key).await.map_err(write_error)?;
        match change {
            Change::Rewrite { of, rev, .. } => self.0.put(&key, content(writer, of, rev, payload)).await.map(|()| !held),
            Change::Delete { .. } if !held => {
                return Err(WriteError::Fail(format!("{REPLIED} 404 Not Found to a HEAD: no {key} to delete")));
            }
            Change::Delete { .. } => self.0.delete(&key).await.map(|()| false),
        }
        .map_err(write_error)
    }
}

#[async_trait]
impl DataPath for ObjectsData {
    fn port(&self) -> u16 {
        PORT
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(Client(S3::open(addr, timeout).await?)))
    }

    /// The bucket exists: the master zone's image created it.
    async fn prepare(&self, primary: SocketAddr) -> Result<()> {
        match self.probe(primary, ADMIN).await {
            true => Ok(()),
            false => Err(Error::infra(format!("the object store at {primary} does not serve the bucket {}", super::s3::BUCKET))),
        }
    }

    /// Takes uploads: a signed HEAD of the bucket answered 200 within `timeout`.
    async fn probe(&self, addr: SocketAddr, timeout: Duration) -> bool {
        let ask = async { S3::open(addr, timeout).await.ok()?.head_bucket().await.ok() };
        matches!(tokio::time::timeout(timeout, ask).await, Ok(Some(())))
    }

    /// How many workload objects the zone lists.
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let mut c = S3::open(addr, ADMIN).await.map_err(Error::infra)?;
        let keys = c.list(PREFIX).await.map_err(|e| Error::infra(format!("list the objects on {addr}: {}", say(&e))))?;
        Ok(keys.iter().filter(|k| parse_name(k).is_some()).count() as u64)
    }

    /// Every workload object the zone lists that reads whole; a torn one is named, not
    /// counted (one listed, then deleted before its GET, is not there: the workload has
    /// stopped).
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        let open = || async { S3::open(addr, ADMIN).await.map_err(Error::infra) };
        let mut c = open().await?;
        let fail = |e: Failed| Error::infra(format!("read the objects back from {addr}: {}", say(&e)));
        let keys = c.list(PREFIX).await.map_err(fail)?;
        read_whole(c, open, keys, fail).await
    }

    fn lag(&self) -> &dyn LagPath {
        self
    }

    fn is_reply(&self, error: &str) -> bool {
        error.starts_with(REPLIED)
    }
}

#[async_trait]
impl LagPath for ObjectsData {
    fn reported_as(&self) -> &'static str {
        "none (RGW multisite reports no per-object lag)"
    }

    async fn prepare_heartbeat(&self, primary: SocketAddr) -> Result<()> {
        let mut c = S3::open(primary, ADMIN).await.map_err(Error::infra)?;
        c.put(HEARTBEAT, b"0".to_vec()).await.map_err(|e| Error::infra(format!("write the heartbeat object: {}", say(&e))))
    }

    async fn heartbeat(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn Heartbeat>, String> {
        Ok(Box::new(Client(S3::open(addr, timeout).await?)))
    }
}

#[async_trait]
impl Heartbeat for Client {
    async fn beat(&mut self, seq: u64) -> std::result::Result<(), String> {
        self.0.put(HEARTBEAT, seq.to_string().into_bytes()).await.map_err(|e| say(&e))
    }

    async fn read(&mut self) -> std::result::Result<u64, String> {
        match self.0.get(HEARTBEAT).await.map_err(|e| say(&e))? {
            Some(b) => String::from_utf8_lossy(&b).trim().parse().map_err(|e| format!("heartbeat object: {e}")),
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
    use hyper::StatusCode;

    #[test]
    fn a_refused_upload_failed_and_a_broken_one_is_unknown() {
        let refused = write_error(Failed::Reply(StatusCode::INTERNAL_SERVER_ERROR, "<Error><Code>UnknownError</Code></Error>".into()));
        assert!(matches!(&refused, WriteError::Fail(e) if e == "the object store answered 500 Internal Server Error: UnknownError"));
        assert!(matches!(write_error(Failed::NotSent("closed".into())), WriteError::Fail(_)));
        assert!(matches!(write_error(Failed::Broken("reset".into())), WriteError::Unknown(e) if e == "reset"));
        let refused = match refused {
            WriteError::Fail(e) => e,
            WriteError::Unknown(e) => e,
        };
        assert!(ObjectsData.is_reply(&refused) && !ObjectsData.is_reply("reset"));
    }

    #[test]
    fn only_workload_objects_are_records() {
        for other in [HEARTBEAT, READY] {
            assert!(!other.starts_with(PREFIX) && parse_name(other).is_none(), "{other}");
        }
        assert!(file_name(3, 7).starts_with(PREFIX));
    }
}
