//! `files-keepalived`: the files stack with Keepalived on both servers, as seed 004 fails
//! its main server over. VRRP (multicast on the drill's network) keeps a VIP on the main
//! server while it advertises and its health check (`track_script`: nginx answers) holds;
//! the backup takes the VIP when 3 advertisements are missed, and its `notify_master`
//! makes its mirror the source. The clients reach the VIP through a forwarder; drdrill
//! never promotes or repoints anything (`keepalived_watch.rs` watches).
use super::driver::Files;
use crate::error::{Error, Result};
use crate::scenario::{KeepalivedSpec, StackSpec, VIP_FORWARDER};
use crate::stack::data::DataPath;
use crate::stack::keepalived::holds_vip;
use crate::stack::keepalived::{KeepalivedWatch, Watched};
use crate::stack::{Deployment, Driver, Orchestrator, ReplicaHealth, Sidecar, Stack, retry_until};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub struct FilesKeepalived {
    files: Files,
    spec: KeepalivedSpec,
    vip: Arc<OnceLock<String>>,
}

impl FilesKeepalived {
    pub fn new(spec: &StackSpec) -> Self {
        let mut files = Files::new(spec);
        files.data.via_vip = true;
        FilesKeepalived { files, spec: spec.keepalived.clone().unwrap_or_default(), vip: Arc::default() }
    }
}

/// Keepalived's configuration on one server, from `keepalived.conf.in`: the main server
/// starts as MASTER (priority 100), the backup as BACKUP (50); Keepalived's default
/// preemption stays on.
pub fn config(spec: &KeepalivedSpec, main: bool, vip: &str, prefix: u8) -> String {
    let (state, priority) = if main { ("MASTER", "100") } else { ("BACKUP", "50") };
    [
        ("@STATE@", state.to_string()),
        ("@PRIORITY@", priority.to_string()),
        ("@ADVERT@", spec.advert_int_s.to_string()),
        ("@INTERVAL@", spec.check_interval_s.to_string()),
        ("@FALL@", spec.fall.to_string()),
        ("@VIP@", format!("{vip}/{prefix}")),
    ]
    .iter()
    .fold(include_str!("keepalived.conf.in").to_string(), |c, (k, v)| c.replace(k, v))
}

#[async_trait]
impl Driver for FilesKeepalived {
    fn data(&self) -> &dyn DataPath {
        &self.files.data
    }

    /// The files stack healthy, the VIP on the main server, and uploads through it taken.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let health = self.files.wait_healthy(stack, timeout).await?;
        let vip = self.vip.get().ok_or_else(|| Error::infra("the VIP was not placed yet (a bug)"))?;
        let main = stack.primary();
        let entry = stack.service(VIP_FORWARDER)?.addr();
        retry_until(timeout, Duration::from_millis(200), || async {
            if !holds_vip(stack, &main, vip).await? {
                return Err(Error::infra(format!("Keepalived has not put the VIP {vip} on {main}")));
            }
            match self.files.data.probe(entry, Duration::from_secs(2)).await {
                true => Ok(()),
                false => Err(Error::infra(format!("uploads through the VIP {vip} are not taken yet"))),
            }
        })
        .await?;
        Ok(health)
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn client_entry(&self) -> Option<&str> {
        Some(VIP_FORWARDER)
    }

    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(KeepalivedWatch { spec: self.spec.clone(), vip: self.vip.clone(), of: Watched::Files }))
    }

    fn entry_holders(&self) -> Option<Arc<dyn crate::stack::EntryHolders>> {
        Some(Arc::new(crate::stack::keepalived::KeepalivedHolders { vip: self.vip.clone() }))
    }
}

#[async_trait]
impl Deployment for FilesKeepalived {
    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        self.files.container(node, primary, replicas, upstream)
    }

    fn services(&self, _nodes: &[String]) -> Vec<Sidecar> {
        vec![Sidecar { name: VIP_FORWARDER.into(), env: vec!["FILES_ROLE=forward".into()], port: 8080, ..Default::default() }]
    }

    /// The sync, then the VIP picked, Keepalived configured and started on both servers,
    /// and the forwarder pointed at the VIP.
    async fn started(&self, stack: &Stack) -> Result<()> {
        self.files.started(stack).await?;
        let (vip, prefix) = crate::stack::vip::vip_for(self.spec.vip.as_deref(), &stack.docker.subnet(&stack.network).await?)?;
        let main = stack.primary();
        for n in &stack.nodes {
            let conf = config(&self.spec, n.name == main, &vip, prefix);
            stack.docker.upload_file(&n.container, "/etc/keepalived", "keepalived.conf", conf.as_bytes()).await?;
            stack.docker.upload_file(&n.container, "/run", "drdrill-keepalived", b"go\n").await?;
        }
        stack.docker.upload_file(&stack.service(VIP_FORWARDER)?.container, "/etc", "drdrill-vip", vip.as_bytes()).await?;
        self.vip.set(vip).map_err(|_| Error::infra("the stack was started twice (a bug)"))
    }

    fn client_command(&self, host_port: u16) -> String {
        self.files.client_command(host_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_server_starts_as_master_and_both_check_nginx() {
        let spec = KeepalivedSpec::default();
        let main = config(&spec, true, "172.20.0.250", 16);
        assert!(main.contains("state MASTER") && main.contains("priority 100"), "{main}");
        assert!(main.contains("172.20.0.250/16") && main.contains("advert_int 1"), "{main}");
        assert!(main.contains("interval 1\n  fall 3"), "{main}");
        let backup = config(&spec, false, "172.20.0.250", 16);
        assert!(backup.contains("state BACKUP") && backup.contains("priority 50"), "{backup}");
        assert!(backup.contains("notify_master \"/usr/local/bin/drdrill-files notify-master\""), "{backup}");
    }
}
