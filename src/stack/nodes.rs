//! The running stack: containers on the drill's own network, ports on 127.0.0.1, and
//! which node is the primary now.
use super::Driver;
use crate::docker::{self, ContainerSpec, Docker};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub container: String,
    /// Port on 127.0.0.1; fixed for the life of the drill, across restarts.
    pub host_port: u16,
}

impl Node {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.host_port))
    }
}

pub struct Stack {
    pub docker: Docker,
    pub run_id: String,
    pub nodes: Vec<Node>,
    primary: Mutex<String>,
}

/// A free port on 127.0.0.1 (bound then released; the engine binds it right after).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?;
    Ok(l.local_addr().map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?.port())
}

impl Stack {
    /// Creates the network and every node's container, primary first.
    pub async fn start(
        docker: &Docker,
        driver: &dyn Driver,
        run_id: &str,
        image: &str,
        names: &[String],
        labels: &HashMap<String, String>,
    ) -> Result<Stack> {
        if !docker.image_exists(image).await {
            return Err(Error::infra(format!("failed to find image {image}"))
                .hint("build the stack images with `scripts/setup.sh` or `drdrill images build`"));
        }
        let network = docker::network_name(run_id);
        docker.create_network(&network, labels).await?;
        let mut nodes = Vec::new();
        for name in names {
            let (env, cmd) = driver.container(name, &names[0], &names[1..]);
            let container = docker::container_name(run_id, name);
            let mut l = labels.clone();
            l.insert(docker::LABEL_NODE.into(), name.clone());
            let mut started = None;
            for _ in 0..5 {
                let host_port = free_port()?;
                let spec = ContainerSpec {
                    name: container.clone(),
                    image: image.to_string(),
                    network: network.clone(),
                    alias: name.clone(),
                    env: env.clone(),
                    cmd: cmd.clone(),
                    labels: l.clone(),
                    ports: vec![(driver.port(), host_port)],
                    cap_add: vec!["NET_ADMIN".into()],
                };
                match docker.run(&spec).await {
                    Ok(()) => {
                        started = Some(host_port);
                        break;
                    }
                    // the port was taken between our probe and the engine's bind: try another
                    Err(e) if e.causes.iter().any(|c| c.contains("address already in use") || c.contains("port is already allocated")) => {
                        docker.remove(&container).await.ok();
                    }
                    Err(e) => return Err(e),
                }
            }
            let host_port = started.ok_or_else(|| Error::infra(format!("failed to publish a port for {container}")))?;
            nodes.push(Node { name: name.clone(), container, host_port });
        }
        Ok(Stack { docker: docker.clone(), run_id: run_id.to_string(), primary: Mutex::new(names[0].clone()), nodes })
    }

    pub fn node(&self, name: &str) -> Result<&Node> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| Error::usage(format!("no node named {name}")))
    }

    pub fn primary(&self) -> String {
        self.primary.lock().expect("primary lock").clone()
    }

    pub fn set_primary(&self, name: &str) {
        *self.primary.lock().expect("primary lock") = name.to_string();
    }

    /// Every node but the primary, in start order.
    pub fn replicas(&self) -> Vec<String> {
        let p = self.primary();
        self.nodes.iter().filter(|n| n.name != p).map(|n| n.name.clone()).collect()
    }

    /// `primary`, `replica-N` (N-th replica in start order, excluding the current primary) or a node name.
    pub fn resolve(&self, target: &str) -> Result<String> {
        if target == "primary" {
            return Ok(self.primary());
        }
        if let Some(n) = target.strip_prefix("replica-").and_then(|n| n.parse::<usize>().ok()) {
            return self.replicas().get(n.wrapping_sub(1)).cloned().ok_or_else(|| Error::usage(format!("no {target}")));
        }
        Ok(self.node(target)?.name.clone())
    }

    pub async fn running(&self, name: &str) -> bool {
        match self.node(name) {
            Ok(n) => self.docker.is_running(&n.container).await,
            Err(_) => false,
        }
    }
}
