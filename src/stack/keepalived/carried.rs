//! A service the files stack's Keepalived promotes (`keepalived.notify_master`), as seed
//! 004 runs one Keepalived for the whole server: its node N runs on server N (`files-N`).
//! Its driver is its kind's, with three differences:
//! - its clients reach it through the VIP: a forwarder of its own (`vip-<service>`, the
//!   files image) to the VIP, where the VIP's holder forwards to its own server's node;
//! - each server's notify_master runs its kind's promote command (`Deployment::
//!   promote_command`) for the node on that server, after making its own mirror the source;
//! - drdrill promotes nothing: Keepalived's log on both servers is watched.
use super::watch::{KeepalivedWatch, Watched};
use crate::error::{Error, Result};
use crate::scenario::{CarriedBy, DataLoss};
use crate::stack::data::{DataPath, ThroughEntry, WriteClient};
use crate::stack::driver::{MultiActive, Promotion, Restore};
use crate::stack::{Deployment, Driver, Exporter, Orchestrator, ReplicaHealth, ServerClock, Sidecar, Stack, retry_until};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub struct Carried {
    inner: Box<dyn Driver>,
    by: CarriedBy,
    /// The forwarder's name: `vip-<service>`.
    entry: String,
    vip: Arc<OnceLock<String>>,
}

impl Carried {
    pub fn new(inner: Box<dyn Driver>, by: CarriedBy) -> Self {
        let entry = format!("vip-{}", by.service);
        Carried { inner, by, entry, vip: Arc::default() }
    }

    /// The script server `host` runs in its notify_master to promote `node`, and says
    /// what came of it on Keepalived's own output.
    fn notify_script(&self, host: &str, node: &str, promote: &str) -> String {
        let service = &self.by.service;
        format!(
            "#!/bin/sh\n# {service}: {node} promoted by Keepalived's notify_master on {host}\nsay() {{ echo \"drdrill: $*\" >/proc/1/fd/1; }}\n\
             if out=$( {{ {promote}; }} 2>&1 ); then say \"promoted {service} on {node}\"; \
             else say \"promote of {service} on {node} failed: $(echo \"$out\" | tr '\\n' ' ' | head -c 300)\"; exit 1; fi\n"
        )
    }

    /// On each server: the VIP's port forwarded to the node on that server, and the
    /// notify_master step that promotes it.
    async fn hand_to_servers(&self, stack: &Stack, port: u16) -> Result<()> {
        let deploy = self.inner.require_deployment()?;
        for (host, node) in self.by.hosts.iter().zip(&stack.nodes) {
            let container = crate::docker::container_name(&stack.run_id, host);
            let promote = deploy
                .promote_command(&node.name)
                .ok_or_else(|| Error::infra(format!("a {} stack has no command a server can promote it with", self.by.service)))?;
            let script = self.notify_script(host, &node.name, &promote);
            let step = format!("{:02}-{}", self.by.order, self.by.service);
            stack.docker.upload_file(&container, "/etc/drdrill/notify.d", &step, script.as_bytes()).await?;
            let forward = format!("{port} {} {port}\n", node.name);
            stack.docker.upload_file(&container, "/run/drdrill-forward.d", &self.by.service, forward.as_bytes()).await?;
        }
        Ok(())
    }
}

/// Its kind's data path, except that a client goes through the VIP and says which node it
/// reached.
#[async_trait]
impl ThroughEntry for Carried {
    fn engine(&self) -> &dyn DataPath {
        self.inner.data()
    }

    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        self.inner.data().connect_via(addr, timeout).await
    }
}

#[async_trait]
impl Driver for Carried {
    fn data(&self) -> &dyn DataPath {
        self
    }

    /// Its kind's health, then a client's connection through the VIP reaching it.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let health = self.inner.wait_healthy(stack, timeout).await?;
        let entry = stack.service(&self.entry)?.addr();
        retry_until(timeout, Duration::from_millis(200), || async {
            match self.data().probe(entry, Duration::from_secs(2)).await {
                true => Ok(()),
                false => Err(Error::infra(format!("{} does not answer through the VIP of {}", self.by.service, self.by.carrier))),
            }
        })
        .await?;
        Ok(health)
    }

    fn client_entry(&self) -> Option<&str> {
        Some(&self.entry)
    }
    fn read_endpoint(&self, name: &str) -> Option<(&'static str, Option<u16>)> {
        self.inner.read_endpoint(name)
    }
    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }
    fn promotion(&self) -> Option<&dyn Promotion> {
        self.inner.promotion()
    }
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        let of = Watched::Carried { service: self.by.service.clone(), hosts: self.by.hosts.clone() };
        Some(Arc::new(KeepalivedWatch { spec: self.by.keepalived.clone(), vip: self.vip.clone(), of }))
    }
    fn restore(&self) -> Option<&dyn Restore> {
        self.inner.restore()
    }
    fn shards(&self) -> Option<crate::stack::Shards> {
        self.inner.shards()
    }
    fn record_groups(&self) -> Option<crate::stack::RecordGroups> {
        self.inner.record_groups()
    }
    async fn replication_stops(&self, stack: &Stack) -> Vec<crate::stack::ReplicationStop> {
        self.inner.replication_stops(stack).await
    }
    fn multi_active(&self) -> Option<&dyn MultiActive> {
        self.inner.multi_active()
    }
}

#[async_trait]
impl Deployment for Carried {
    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        self.inner.deployment().map(|d| d.container(node, primary, replicas, upstream)).unwrap_or_default()
    }
    fn container_on_port(&self, node: &str, port: u16) -> Option<(Vec<String>, Vec<String>)> {
        self.inner.deployment()?.container_on_port(node, port)
    }

    /// Its kind's, and the forwarder to the VIP.
    fn services(&self, nodes: &[String]) -> Vec<Sidecar> {
        let mut out = self.inner.deployment().map(|d| d.services(nodes)).unwrap_or_default();
        let port = self.inner.data().port();
        let env = vec!["FILES_ROLE=forward".to_string(), format!("FORWARD_PORT={port}")];
        out.push(Sidecar { name: self.entry.clone(), env, port, image: Some(self.by.image.clone()), ..Default::default() });
        out
    }
    fn destroy_data_command(&self, how: DataLoss) -> Vec<String> {
        self.inner.deployment().map(|d| d.destroy_data_command(how)).unwrap_or_default()
    }
    fn volumes(&self) -> Vec<(&'static str, &'static str)> {
        self.inner.deployment().map(|d| d.volumes()).unwrap_or_default()
    }

    /// Its kind's start, then the servers told of it and the forwarder of the VIP.
    async fn started(&self, stack: &Stack) -> Result<()> {
        self.inner.require_deployment()?.started(stack).await?;
        self.hand_to_servers(stack, self.data().port()).await?;
        let (vip, _) = crate::stack::vip::vip_for(self.by.keepalived.vip.as_deref(), &stack.docker.subnet(&stack.network).await?)?;
        stack.docker.upload_file(&stack.service(&self.entry)?.container, "/etc", "drdrill-vip", vip.as_bytes()).await?;
        self.vip.set(vip).map_err(|_| Error::infra("the stack was started twice (a bug)"))
    }

    fn client_command(&self, host_port: u16) -> String {
        self.inner.deployment().map(|d| d.client_command(host_port)).unwrap_or_default()
    }
    fn exporter(&self, node: &str) -> Option<Exporter> {
        self.inner.deployment()?.exporter(node)
    }
    fn clock(&self) -> Option<Arc<dyn ServerClock>> {
        self.inner.deployment()?.clock()
    }
    fn promote_command(&self, node: &str) -> Option<String> {
        self.inner.deployment()?.promote_command(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::KeepalivedSpec;

    #[test]
    fn the_notify_step_says_what_came_of_the_promotion() {
        let by = CarriedBy {
            carrier: "web".into(),
            service: "mysql".into(),
            image: "drdrill/files:1".into(),
            hosts: vec!["files-1".into(), "files-2".into()],
            order: 0,
            keepalived: KeepalivedSpec::default(),
        };
        let spec: crate::scenario::StackSpec = serde_norway::from_str("kind: redis\nreplicas: 1").unwrap();
        let c = Carried::new(crate::stack::driver_for(&spec), by);
        assert_eq!(c.client_entry(), Some("vip-mysql"));
        let s = c.notify_script("files-2", "db-2", "false");
        assert!(s.contains("say \"promoted mysql on db-2\"") && s.contains("promote of mysql on db-2 failed"), "{s}");
        let sidecars = c.services(&["redis-1".into(), "redis-2".into()]);
        let fwd = sidecars.iter().find(|s| s.name == "vip-mysql").expect("the forwarder");
        assert_eq!((fwd.port, fwd.image.as_deref()), (6379, Some("drdrill/files:1")));
    }
}
