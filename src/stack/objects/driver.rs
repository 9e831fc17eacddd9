//! The objects kind: two Ceph clusters (drdrill/objects:1), each one zone of an RGW
//! multisite realm: `s3-1` the zonegroup's master (zone `a`, creating the S3 user and the
//! bucket), `s3-2` the secondary (zone `b`, pulling the realm from the master's gateway),
//! every object replicated zone to zone by radosgw itself. A promotion makes the
//! secondary's zone the master (`drdrill-objects promote`, with the master zone lost).
use super::data::{ObjectsData, PORT, READY};
use super::s3::{ACCESS_KEY, BUCKET, REGION, S3, SECRET_KEY, say};
use crate::error::{Error, Result};
use crate::scenario::StackSpec;
use crate::stack::data::DataPath;
use crate::stack::{Deployment, Driver, Promotion, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use std::time::Duration;

pub struct Objects {
    data: ObjectsData,
}

impl Objects {
    pub fn new(_spec: &StackSpec) -> Self {
        Objects { data: ObjectsData }
    }
}

/// A node's zone: `a` for the initial primary, then `b`, `c`… for the others in order.
fn zone(node: &str, replicas: &[String]) -> String {
    let i = replicas.iter().position(|r| r == node).map_or(0, |i| i + 1);
    char::from(b'a' + (i % 26) as u8).to_string()
}

#[async_trait]
impl Driver for Objects {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    /// The master zone's gateway serves the bucket, each other zone says it is ready
    /// (realm pulled, bucket seen, metadata caught up), and an object written on the master
    /// zone once both run is read on each other zone: replication works.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.primary();
        let addr = stack.node(&primary)?.addr();
        retry_until(timeout, Duration::from_millis(500), || async {
            match self.data.probe(addr, Duration::from_secs(2)).await {
                true => Ok(()),
                false => Err(Error::infra(format!("{primary}'s gateway does not serve the bucket {BUCKET} yet"))),
            }
        })
        .await?;
        let mut health = Vec::new();
        for r in stack.replicas() {
            let container = stack.node(&r)?.container.clone();
            retry_until(timeout, Duration::from_millis(500), || async {
                match stack.docker.exec(&container, &["drdrill-objects", "ready"]).await? {
                    (0, _) => Ok(()),
                    _ => Err(Error::infra(format!("{r}'s zone is not ready yet (realm pulled, bucket seen, metadata caught up)"))),
                }
            })
            .await?;
            replicated(stack, &primary, &r, timeout).await?;
            health.push(ReplicaHealth { node: r, state: "replicating (RGW multisite, asynchronous)".into(), lag_bytes: 0 });
        }
        Ok(health)
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn promotion(&self) -> Option<&dyn Promotion> {
        Some(self)
    }
}

/// The run's id written on `primary` as an object, then read on `replica` until it is there.
async fn replicated(stack: &Stack, primary: &str, replica: &str, timeout: Duration) -> Result<()> {
    let on = |node: &str| -> Result<std::net::SocketAddr> { Ok(stack.node(node)?.addr()) };
    let (from, to) = (on(primary)?, on(replica)?);
    let mut c = S3::open(from, Duration::from_secs(3)).await.map_err(Error::infra)?;
    let written = stack.run_id.clone().into_bytes();
    c.put(READY, written.clone()).await.map_err(|e| Error::infra(format!("write {READY} on {primary}: {}", say(&e))))?;
    retry_until(timeout, Duration::from_millis(200), || async {
        let mut c = S3::open(to, Duration::from_secs(2)).await.map_err(Error::infra)?;
        match c.get(READY).await {
            Ok(Some(b)) if b[..] == written[..] => Ok(()),
            Ok(_) => Err(Error::infra(format!("the object {READY} written on {primary} has not reached {replica}"))),
            Err(e) => Err(Error::infra(format!("{replica}: {}", say(&e)))),
        }
    })
    .await
}

#[async_trait]
impl Deployment for Objects {
    /// The master zone on the initial primary, a secondary zone pulling the realm from it
    /// on each other node; each zone's endpoint is its node's name on the drill's network.
    fn container(&self, node: &str, primary: &str, replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let role = if node == primary { "master" } else { "secondary" };
        let env = vec![
            format!("ROLE={role}"),
            format!("ZONE={}", zone(node, replicas)),
            format!("MASTER_URL=http://{primary}:{PORT}"),
            format!("ENDPOINT=http://{node}:{PORT}"),
            format!("BUCKET={BUCKET}"),
            format!("S3_AK={ACCESS_KEY}"),
            format!("S3_SK={SECRET_KEY}"),
        ];
        (env, Vec::new())
    }

    fn client_command(&self, host_port: u16) -> String {
        format!(
            "curl --aws-sigv4 aws:amz:{REGION}:s3 --user {ACCESS_KEY}:{SECRET_KEY} -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' 'http://127.0.0.1:{host_port}/{BUCKET}?list-type=2'"
        )
    }
}

#[async_trait]
impl Promotion for Objects {
    /// The node's zone becomes the zonegroup's master (a new period committed); it answers
    /// once a bucket and an object can be created through its gateway.
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let n = stack.node(node)?;
        stack.exec_ok(&n.container, &format!("make {node}'s zone the master"), &["drdrill-objects", "promote"]).await.map(drop)
    }

    async fn repoint(&self, _stack: &Stack, replica: &str, _primary: &str) -> Result<()> {
        Err(Error::infra(format!("{replica}: an objects stack has one other zone; there is none to repoint (a bug)")))
    }

    async fn rejoin(&self, _stack: &Stack, node: &str, _primary: &str) -> Result<()> {
        Err(Error::infra(format!("{node}: the old master zone does not rejoin (a bug: validation refuses it)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_primary_is_the_master_zone_and_the_other_pulls_the_realm_from_it() {
        let o = Objects { data: ObjectsData };
        let replicas = vec!["s3-2".to_string()];
        let (master, cmd) = o.container("s3-1", "s3-1", &replicas, ("s3-1", PORT));
        assert!(cmd.is_empty());
        for want in ["ROLE=master", "ZONE=a", "ENDPOINT=http://s3-1:8080", "BUCKET=drdrill"] {
            assert!(master.iter().any(|e| e == want), "{want}: {master:?}");
        }
        let (secondary, _) = o.container("s3-2", "s3-1", &replicas, ("s3-1", PORT));
        for want in ["ROLE=secondary", "ZONE=b", "MASTER_URL=http://s3-1:8080", "ENDPOINT=http://s3-2:8080"] {
            assert!(secondary.iter().any(|e| e == want), "{want}: {secondary:?}");
        }
    }
}
