//! The running stack: containers on the drill's own network, ports published on
//! `DRDRILL_PUBLISH_IP` (127.0.0.1 by default), and which node is the primary now.
use super::proxy::{ProxyPlan, ProxyRoutes, start_proxy};
use super::{Driver, Sidecar};
use crate::docker::{self, ContainerSpec, Docker};
use crate::error::{Error, Result};
use crate::scenario::ProxySpec;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub container: String,
    /// Where host-side clients reach published ports (`DRDRILL_ENGINE_HOST`; 127.0.0.1
    /// for a local engine).
    pub host: IpAddr,
    /// Published port; fixed for the life of the drill, across restarts. drdrill's own
    /// control connections (health, promotion, read-back) use it.
    pub host_port: u16,
    /// Address and published port the workload uses: the node's client proxy when
    /// clients go through the proxy, else `host`:`host_port`.
    pub client_ip: IpAddr,
    pub client_port: u16,
}

impl Node {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.host, self.host_port))
    }
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from((self.client_ip, self.client_port))
    }
}

pub struct Stack {
    pub docker: Docker,
    pub run_id: String,
    pub network: String,
    pub nodes: Vec<Node>,
    /// The database's port inside each container.
    pub db_port: u16,
    pub proxy: Option<ProxyRoutes>,
    /// The containers besides the database nodes (etcd, HAProxy, Sentinels); `host_port`
    /// is the service's published port.
    pub services: Vec<Node>,
    /// The stack's own orchestrator, if any (planned switchovers go through it).
    pub orchestrator: Option<std::sync::Arc<dyn super::Orchestrator>>,
    /// What actions (hooks, action faults, failover steps) share; set once the evidence
    /// folder and the database probe exist.
    pub actions: std::sync::OnceLock<crate::action::ActionEnv>,
    /// A stack drdrill did not start (kind external): it never touches its nodes.
    pub external: bool,
    /// What a node's container is made of, to build a fresh one in a node's place.
    base: ContainerSpec,
    /// The backup taken before the workload, in the tool's words (a restore drill).
    pub backup: std::sync::OnceLock<String>,
    /// The commands an operator would run to delete the workload's records, or drop its
    /// table (the `destroy_data` fault).
    pub destroy_data: [Vec<String>; 2],
    /// How a node's clock is set off and read (the `clock_skew` fault), when its kind can be.
    pub clock: Option<std::sync::Arc<dyn super::ServerClock>>,
    /// The sites its nodes are in, when the scenario has sites.
    pub sites: Option<super::Sites>,
    primary: Mutex<String>,
    /// The primary when the workload started (an orchestrator elects its own first one).
    initial: Mutex<String>,
    /// Each shard's primary and replicas now, on a stack with one primary per shard.
    pub shards: super::ShardRoles,
}

/// What `Stack::start` needs besides the driver.
pub struct StackPlan<'a> {
    pub run_id: &'a str,
    pub image: &'a str,
    pub names: &'a [String],
    pub labels: &'a HashMap<String, String>,
    /// The proxy and its image, when the scenario routes traffic through one.
    pub proxy: Option<(&'a ProxySpec, String)>,
    /// Each node on an address of its own, `127.a.b.N` (N from 1 in start order), all on
    /// one port: the drill's DNS tells the nodes apart by address (docs/dns.md).
    pub own_addresses: Option<[u8; 2]>,
    /// The proxy's name on the drill's networks.
    pub proxy_alias: String,
    /// Where each node sits, when the scenario has sites.
    pub sites: Option<super::Sites>,
}

/// Node `i`'s own loopback address in `net`.
pub fn own_address(net: [u8; 2], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, net[0], net[1], u8::try_from(i + 1).unwrap_or(u8::MAX))
}

/// A port free on `ip` (bound then released; the engine binds it right after).
fn free_port_on(ip: Ipv4Addr) -> Result<u16> {
    let what = || format!("failed to find a free port on {ip}");
    let l = TcpListener::bind((ip, 0)).map_err(|e| Error::infra(what()).cause(e))?;
    Ok(l.local_addr().map_err(|e| Error::infra(what()).cause(e))?.port())
}

/// A free port on 127.0.0.1 (bound then released; the engine binds it right after).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?;
    Ok(l.local_addr().map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?.port())
}

impl Stack {
    /// Starts, on the drill's network, the proxy (if any), the services that must run first (etcd),
    /// every node's container (primary first), then the other services (HAProxy, Sentinels).
    /// The image exists: the runner made sure of it before the drill (`docker::ensure_images`).
    pub async fn start(docker: &Docker, driver: &dyn Driver, plan: StackPlan<'_>) -> Result<Stack> {
        let StackPlan { run_id, image, names, labels, proxy, own_addresses, proxy_alias, sites } = plan;
        let deploy = driver.require_deployment()?;
        let port = driver.data().port();
        if own_addresses.is_some() && !docker.client_ip.is_loopback() {
            return Err(Error::usage("the drill's DNS needs a local engine: it publishes each node on a loopback address of its own")
                .hint(format!("the engine's ports are reached at {} (DRDRILL_ENGINE_HOST)", docker.client_ip)));
        }
        let own = match own_addresses {
            Some(net) => {
                let ips: Vec<Ipv4Addr> = (0..names.len()).map(|i| own_address(net, i)).collect();
                let p = free_port_on(ips[0])?;
                Some((ips, p))
            }
            None => None,
        };
        // created by the runner: the drill's network, or one per site
        let network = docker::network_name(run_id);
        let net_of = |n: &str| sites.as_ref().and_then(|s| s.network_of(run_id, n)).unwrap_or_else(|| network.clone());
        let proxy = match proxy {
            Some((spec, img)) => {
                let networks = match &sites {
                    Some(s) => s.used().iter().map(|x| super::Sites::network(run_id, x)).collect(),
                    None => vec![network.clone()],
                };
                let own_addresses = own.clone().filter(|_| spec.clients);
                let plan = ProxyPlan {
                    spec,
                    image: &img,
                    run_id,
                    alias: &proxy_alias,
                    nodes: names,
                    db_port: port,
                    labels,
                    networks,
                    own_addresses,
                    sites: sites.clone(),
                };
                Some(start_proxy(docker, plan).await?)
            }
            None => None,
        };
        let mut mounts = Vec::new();
        for (suffix, path) in deploy.volumes() {
            let name = docker::volume_name(run_id, suffix);
            docker.create_volume(&name, labels).await?;
            mounts.push((name, path.to_string()));
        }
        let base = ContainerSpec {
            image: image.to_string(),
            network: net_of(&names[0]),
            cap_add: vec!["NET_ADMIN".into()],
            labels: labels.clone(),
            mounts,
            ..Default::default()
        };
        let services = deploy.services(names);
        let mut started_services = Vec::new();
        for svc in services.iter().filter(|s| s.before_nodes) {
            started_services.push(start_service(docker, &base, run_id, labels, svc).await?);
        }
        let mut nodes = Vec::new();
        // the nodes themselves take the own addresses unless the proxy's client paths do
        let direct_own = own.as_ref().filter(|_| !proxy.as_ref().is_some_and(|p| p.clients));
        for (i, name) in names.iter().enumerate() {
            let upstream = upstream_of(proxy.as_ref(), name, &names[0], port);
            let (env, cmd) = deploy.container(name, &names[0], &names[1..], (&upstream.0, upstream.1));
            let container = docker::container_name(run_id, name);
            let (env, cmd, labels, network) = (env, cmd, node_labels(labels, name), net_of(name));
            let spec = ContainerSpec { name: container.clone(), alias: name.clone(), env, cmd, labels, network, ..base.clone() };
            let (host, host_port) = match direct_own {
                Some((ips, p)) => {
                    docker.run(&ContainerSpec { ports: vec![(port, *p)], publish_on: Some(ips[i].into()), ..spec }).await?;
                    (IpAddr::V4(ips[i]), *p)
                }
                None if deploy.container_on_port(name, port).is_some() => (docker.client_ip, run_on_own_port(docker, spec, deploy).await?),
                None => (docker.client_ip, run_published(docker, spec, port).await?),
            };
            let (client_ip, client_port) = proxy.as_ref().and_then(|p| p.client_port(name)).unwrap_or((host, host_port));
            nodes.push(Node { name: name.clone(), container, host, host_port, client_ip, client_port });
        }
        for svc in services.iter().filter(|s| !s.before_nodes) {
            started_services.push(start_service(docker, &base, run_id, labels, svc).await?);
        }
        Ok(Stack {
            docker: docker.clone(),
            run_id: run_id.to_string(),
            network,
            primary: Mutex::new(names[0].clone()),
            initial: Mutex::new(names[0].clone()),
            nodes,
            services: started_services,
            orchestrator: driver.orchestrator(),
            db_port: port,
            proxy,
            actions: Default::default(),
            external: false,
            base,
            backup: Default::default(),
            destroy_data: [crate::scenario::DataLoss::Delete, crate::scenario::DataLoss::Drop].map(|h| deploy.destroy_data_command(h)),
            clock: deploy.clock(),
            sites,
            shards: Default::default(),
        })
    }

    /// An external stack: `nodes` (at least one) and the clients' `endpoint` service.
    pub fn external(docker: &Docker, run_id: &str, nodes: Vec<Node>, endpoint: Node, primary: &str) -> Stack {
        Stack {
            docker: docker.clone(),
            run_id: run_id.to_string(),
            network: String::new(),
            primary: Mutex::new(primary.to_string()),
            initial: Mutex::new(primary.to_string()),
            nodes,
            services: vec![endpoint],
            orchestrator: None,
            db_port: 0,
            proxy: None,
            actions: Default::default(),
            external: true,
            base: ContainerSpec::default(),
            backup: Default::default(),
            destroy_data: Default::default(),
            clock: None,
            sites: None,
            shards: Default::default(),
        }
    }

    /// The actions' environment with the drill's current facts: DRDRILL_PRIMARY (node
    /// name), DRDRILL_PRIMARY_ADDR (host:port), DRDRILL_PRIMARY_CONTAINER (container
    /// drills), DRDRILL_NETWORK, and DRDRILL_NODE_<NAME>_ADDR / _CONTAINER for every node.
    pub fn action_env(&self) -> crate::action::ActionEnv {
        let mut env = self.actions.get().cloned().unwrap_or_else(|| crate::action::ActionEnv {
            vars: Vec::new(),
            run_id: self.run_id.clone(),
            dir: std::env::temp_dir(),
            db: None,
            dbs: Vec::new(),
        });
        let primary = self.primary();
        let var = |n: &str| n.to_uppercase().replace('-', "_");
        env.vars.push(("DRDRILL_RUN_ID".into(), self.run_id.clone()));
        env.vars.push(("DRDRILL_PRIMARY".into(), primary.clone()));
        if !self.network.is_empty() {
            env.vars.push(("DRDRILL_NETWORK".into(), self.network.clone()));
        }
        for n in self.nodes.iter().chain(&self.services) {
            env.vars.push((format!("DRDRILL_NODE_{}_ADDR", var(&n.name)), n.addr().to_string()));
            if !n.container.is_empty() {
                env.vars.push((format!("DRDRILL_NODE_{}_CONTAINER", var(&n.name)), n.container.clone()));
            }
            if n.name == primary {
                env.vars.push(("DRDRILL_PRIMARY_ADDR".into(), n.addr().to_string()));
                if !n.container.is_empty() {
                    env.vars.push(("DRDRILL_PRIMARY_CONTAINER".into(), n.container.clone()));
                }
            }
        }
        env
    }

    /// Host and port `replica` connects to in order to replicate from `primary`: through
    /// the proxy's replication link when replication is proxied, else the primary itself.
    pub fn upstream(&self, replica: &str, primary: &str) -> (String, u16) {
        upstream_of(self.proxy.as_ref(), replica, primary, self.db_port)
    }

    pub fn node(&self, name: &str) -> Result<&Node> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| Error::usage(format!("no node named {name}")))
    }

    /// A node or a service by name.
    pub fn member(&self, name: &str) -> Result<&Node> {
        self.nodes
            .iter()
            .chain(&self.services)
            .find(|n| n.name == name)
            .ok_or_else(|| Error::usage(format!("no node or service named {name}")))
    }

    pub fn service(&self, name: &str) -> Result<&Node> {
        self.services.iter().find(|n| n.name == name).ok_or_else(|| Error::usage(format!("no service named {name}")))
    }

    pub fn primary(&self) -> String {
        self.primary.lock().expect("primary lock").clone()
    }

    /// Marks the current primary as the one the drill starts from.
    pub fn mark_initial(&self) {
        *self.initial.lock().expect("initial lock") = self.primary();
    }

    pub fn initial_primary(&self) -> String {
        self.initial.lock().expect("initial lock").clone()
    }

    /// `name` is the primary now (promoted); on a sharded stack, of its shard.
    pub fn set_primary(&self, name: &str) {
        self.shards.promoted(name);
        *self.primary.lock().expect("primary lock") = name.to_string();
    }

    /// A fault is about to hit `node`: on a sharded stack, when `node` leads a shard, that
    /// shard's primary becomes the one the drill's failover answers to.
    /// Its primary is then the initial one too (the scorecard's `primary A -> B`).
    pub fn focus(&self, node: &str) {
        if self.shards.leads(node) && self.primary() != node {
            *self.primary.lock().expect("primary lock") = node.to_string();
            *self.initial.lock().expect("initial lock") = node.to_string();
        }
    }

    /// Every node but the primary, in start order.
    pub fn replicas(&self) -> Vec<String> {
        let p = self.primary();
        self.nodes.iter().filter(|n| n.name != p).map(|n| n.name.clone()).collect()
    }

    /// `primary`, `replica-N` (N-th replica in start order, excluding the current primary),
    /// `shard-N/primary` or `shard-N/replica-K` on a sharded stack, or a node name.
    pub fn resolve(&self, target: &str) -> Result<String> {
        if let Some(r) = self.shards.resolve(target) {
            return r.map_err(Error::usage);
        }
        if target == "primary" {
            return Ok(self.primary());
        }
        if let Some(n) = target.strip_prefix("replica-").and_then(|n| n.parse::<usize>().ok()) {
            return self.replicas().get(n.wrapping_sub(1)).cloned().ok_or_else(|| Error::usage(format!("no {target}")));
        }
        Ok(self.node(target)?.name.clone())
    }

    /// A fresh container in node `name`'s place (any old one removed first): the same name,
    /// address and published port, the stack's volumes, nothing of the old one's data.
    pub async fn replace_node(&self, name: &str, env: Vec<String>, cmd: Vec<String>) -> Result<()> {
        let n = self.node(name)?;
        self.docker.remove(&n.container).await.ok();
        let spec = ContainerSpec {
            name: n.container.clone(),
            alias: name.to_string(),
            env,
            cmd,
            labels: node_labels(&self.base.labels, name),
            ports: vec![(self.db_port, n.host_port)],
            // a node with an address of its own keeps it, and a node in a site its site
            publish_on: (n.host != self.docker.client_ip).then_some(n.host),
            network: self.sites.as_ref().and_then(|s| s.network_of(&self.run_id, name)).unwrap_or_else(|| self.base.network.clone()),
            ..self.base.clone()
        };
        self.docker.run(&spec).await
    }

    /// Runs `cmd` in `container`; its output, or "failed to {what} (exit N)" with the
    /// output's last lines.
    pub async fn exec_ok(&self, container: &str, what: &str, cmd: &[&str]) -> Result<String> {
        let (code, out) = self.docker.exec(container, cmd).await?;
        if code != 0 {
            return Err(Error::infra(format!("failed to {what} (exit {code})")).cause_text(tail(&out)));
        }
        Ok(out)
    }

    pub async fn running(&self, name: &str) -> bool {
        match self.node(name) {
            // an external node is up when it accepts a connection
            Ok(n) if self.external => {
                let dial = tokio::net::TcpStream::connect(n.addr());
                tokio::time::timeout(std::time::Duration::from_secs(2), dial).await.is_ok_and(|r| r.is_ok())
            }
            Ok(n) => self.docker.is_running(&n.container).await,
            Err(_) => false,
        }
    }
}

/// The last 15 lines of a command's output, for an error message.
pub(super) fn tail(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The drill's labels and the node's name (`drdrill.node`).
fn node_labels(labels: &HashMap<String, String>, node: &str) -> HashMap<String, String> {
    let mut l = labels.clone();
    l.insert(docker::LABEL_NODE.into(), node.to_string());
    l
}

/// Runs `spec` with `port` published on a free host port. Returns the host port.
async fn run_published(docker: &Docker, spec: ContainerSpec, port: u16) -> Result<u16> {
    run_on_free_port(docker, &spec, |host_port| ContainerSpec { ports: vec![(port, host_port)], ..spec.clone() }).await
}

/// Runs node `spec.alias` listening inside on the free host port it is published on (the
/// deployment's `container_on_port`). Returns the port.
/// A deployment may refuse a port (a Redis Cluster node's bus listens 10000 above it): then
/// another free port is drawn.
async fn run_on_own_port(docker: &Docker, spec: ContainerSpec, deploy: &dyn super::Deployment) -> Result<u16> {
    let fits = |port: u16| deploy.container_on_port(&spec.alias, port).is_some();
    run_on_free_port_where(docker, &spec, fits, |port| {
        let (env, cmd) = deploy.container_on_port(&spec.alias, port).unwrap_or_default();
        ContainerSpec { ports: vec![(port, port)], env, cmd, ..spec.clone() }
    })
    .await
}

/// Runs `with(port)` on a free host port; retries when the port was taken between our
/// probe and the engine's bind. Returns the port.
async fn run_on_free_port(docker: &Docker, spec: &ContainerSpec, with: impl Fn(u16) -> ContainerSpec) -> Result<u16> {
    run_on_free_port_where(docker, spec, |_| true, with).await
}

/// A free port `fits` takes (at most 1000 drawn: the kernel's range is tens of thousands).
fn free_port_where(fits: impl Fn(u16) -> bool) -> Result<u16> {
    for _ in 0..1000 {
        let port = free_port()?;
        if fits(port) {
            return Ok(port);
        }
    }
    Err(Error::infra("failed to find a free port on 127.0.0.1 that the node can listen on"))
}

async fn run_on_free_port_where(
    docker: &Docker,
    spec: &ContainerSpec,
    fits: impl Fn(u16) -> bool,
    with: impl Fn(u16) -> ContainerSpec,
) -> Result<u16> {
    for _ in 0..5 {
        let port = free_port_where(&fits)?;
        match docker.run(&with(port)).await {
            Ok(()) => return Ok(port),
            Err(e) if e.causes.iter().any(|c| c.contains("address already in use") || c.contains("port is already allocated")) => {
                docker.remove(&spec.name).await.ok();
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::infra(format!("failed to publish a port for {}", spec.name)))
}

async fn start_service(
    docker: &Docker,
    base: &ContainerSpec,
    run_id: &str,
    labels: &HashMap<String, String>,
    svc: &Sidecar,
) -> Result<Node> {
    let container = docker::container_name(run_id, &svc.name);
    let spec = ContainerSpec {
        name: container.clone(),
        alias: svc.name.clone(),
        env: svc.env.clone(),
        cmd: svc.cmd.clone(),
        entrypoint: svc.entrypoint.clone(),
        labels: node_labels(labels, &svc.name),
        mounts: if svc.volumes { base.mounts.clone() } else { Vec::new() },
        ..base.clone()
    };
    let host_port = run_published(docker, spec, svc.port).await?;
    Ok(Node { name: svc.name.clone(), container, host: docker.client_ip, host_port, client_ip: docker.client_ip, client_port: host_port })
}

fn upstream_of(proxy: Option<&ProxyRoutes>, replica: &str, primary: &str, db_port: u16) -> (String, u16) {
    proxy.and_then(|p| p.replication_endpoint(replica, primary)).unwrap_or_else(|| (primary.to_string(), db_port))
}
