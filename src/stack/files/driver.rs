//! The files kind: nginx taking uploads on the main server (`files-1`), its directory
//! mirrored to the backup (`files-2`) by the scenario's tool over ssh with a key made for
//! the run. drdrill starts it, then hands the main server its key and the sync's command;
//! a promotion makes the mirror take uploads (`drdrill-files promote`).
use super::data::{FilesData, READY};
use super::sync;
use crate::error::{Error, Result};
use crate::scenario::{FilesSpec, StackSpec};
use crate::stack::data::DataPath;
use crate::stack::{Deployment, Driver, Promotion, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use std::time::Duration;

pub struct Files {
    pub(super) spec: FilesSpec,
    pub(super) data: FilesData,
}

impl Files {
    pub fn new(spec: &StackSpec) -> Self {
        Files { spec: spec.files.clone().unwrap_or_default(), data: FilesData { via_vip: false } }
    }
}

#[async_trait]
impl Driver for Files {
    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    /// The main server takes uploads and the file written before the sync started has
    /// reached every mirror: the tool runs, and its key and host are right.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        retry_until(timeout, Duration::from_millis(200), || async {
            match self.data.probe(primary, Duration::from_secs(2)).await {
                true => Ok(()),
                false => Err(Error::infra(format!("{} takes no uploads yet", stack.primary()))),
            }
        })
        .await?;
        let mut health = Vec::new();
        for r in stack.replicas() {
            let addr = stack.node(&r)?.addr();
            retry_until(timeout, Duration::from_millis(200), || async {
                let mut c = crate::stack::blob::Conn::open(addr, Duration::from_secs(2)).await.map_err(Error::infra)?;
                match c.get(READY).await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(Error::infra(format!("the first sync ({}) has not reached {r}", self.spec.describe()))),
                    Err(e) => Err(Error::infra(format!("{r}: {e}"))),
                }
            })
            .await?;
            health.push(ReplicaHealth { node: r, state: format!("mirrored ({})", self.spec.describe()), lag_bytes: 0 });
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

#[async_trait]
impl Deployment for Files {
    fn container(&self, node: &str, primary: &str, _replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let role = if node == primary { "source" } else { "mirror" };
        (vec![format!("FILES_ROLE={role}"), format!("FILES_NODE={node}")], Vec::new())
    }

    /// The run's key made on the main server, authorised on each mirror, then the sync.
    async fn started(&self, stack: &Stack) -> Result<()> {
        sync::start(stack, &self.spec).await
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("curl -s http://127.0.0.1:{host_port}/files/")
    }

    fn destroy_data_command(&self, _how: crate::scenario::DataLoss) -> Vec<String> {
        vec!["sh".into(), "-c".into(), "rm -f /srv/files/drdrill-w*".into()]
    }
}

#[async_trait]
impl Promotion for Files {
    /// The mirror takes uploads from now on (its nginx reloaded without the read-only rule).
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let n = stack.node(node)?;
        stack.exec_ok(&n.container, &format!("make {node} the source"), &["drdrill-files", "promote"]).await.map(drop)
    }

    async fn repoint(&self, _stack: &Stack, replica: &str, _primary: &str) -> Result<()> {
        Err(Error::infra(format!("{replica}: a files stack has one mirror; there is none to repoint (a bug)")))
    }

    async fn rejoin(&self, _stack: &Stack, node: &str, _primary: &str) -> Result<()> {
        Err(Error::infra(format!("{node}: the old main server does not rejoin as a mirror (a bug: validation refuses it)")))
    }
}
