//! The running stack: containers on the drill's own network, ports published on
//! `DRDRILL_PUBLISH_IP` (127.0.0.1 by default), and which node is the primary now. The
//! `Orchestrator` trait sits here too: the stack keeps its orchestrator and the
//! orchestrator watches the stack, so each names the other. Starting a stack is start.rs's.
use super::orchestrator::{Budgets, Observed};
use super::routes::ProxyRoutes;
use super::shard_roles::ShardRoles;
use super::sites::Sites;
use super::types::ServerClock;
use crate::docker::{self, ContainerSpec, Docker};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

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
    /// Other ports the container publishes, as (port inside, published port): HAProxy's
    /// replica listener beside its primary one.
    pub also: Vec<(u16, u16)>,
}

impl Node {
    /// Where port `inside` is published, when the container publishes it besides its own.
    pub fn also_addr(&self, inside: u16) -> Option<SocketAddr> {
        self.also.iter().find(|p| p.0 == inside).map(|p| SocketAddr::from((self.host, p.1)))
    }
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
    pub orchestrator: Option<Arc<dyn Orchestrator>>,
    /// What actions (hooks, action faults, failover steps) share; set once the evidence
    /// folder and the database probe exist.
    pub actions: std::sync::OnceLock<crate::action::ActionEnv>,
    /// A stack drdrill did not start (kind external): it never touches its nodes.
    pub external: bool,
    /// What a node's container is made of, to build a fresh one in a node's place.
    pub(super) base: ContainerSpec,
    /// The backup taken before the workload, in the tool's words (a restore drill).
    pub backup: std::sync::OnceLock<String>,
    /// The commands an operator would run to delete the workload's records, or drop its
    /// table (the `destroy_data` fault).
    pub destroy_data: [Vec<String>; 2],
    /// How a node's clock is set off and read (the `clock_skew` fault), when its kind can be.
    pub clock: Option<Arc<dyn ServerClock>>,
    /// The sites its nodes are in, when the scenario has sites.
    pub sites: Option<Sites>,
    /// Nodes rebuilt in another site than the scenario placed them in (a restore in the DR
    /// site), with that site.
    pub(super) moved: Mutex<HashMap<String, String>>,
    pub(super) primary: Mutex<String>,
    /// The primary when the workload started (an orchestrator elects its own first one).
    pub(super) initial: Mutex<String>,
    /// Each shard's primary and replicas now, on a stack with one primary per shard.
    pub shards: ShardRoles,
}

/// A stack's own failover machinery, seen from outside.
#[async_trait]
pub trait Orchestrator: Send + Sync {
    /// "Redis Sentinel", "Patroni".
    fn name(&self) -> &'static str;
    /// Watches the orchestrator and sends what it does until `tx` is closed or the task
    /// is aborted. Returns an error only when it cannot watch at all.
    async fn watch(&self, stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()>;
    /// The phase budgets the settings imply.
    fn budgets(&self) -> Budgets;
    /// Whether it announces moving the clients' endpoint (`Observed::Moved`) around its
    /// promotion: the watch then keeps reading a little after the promotion for it.
    fn announces_move(&self) -> bool {
        false
    }
    /// Asks the orchestrator for a planned switchover away from the current primary;
    /// returns what it was asked.
    async fn switchover(&self, stack: &Stack) -> Result<String>;
}

impl Stack {
    /// An external stack: `nodes` (at least one) and the clients' `endpoint` service.
    pub fn external(docker: &Docker, run_id: &str, nodes: Vec<Node>, services: Vec<Node>, primary: &str) -> Stack {
        Stack {
            docker: docker.clone(),
            run_id: run_id.to_string(),
            network: String::new(),
            primary: Mutex::new(primary.to_string()),
            initial: Mutex::new(primary.to_string()),
            nodes,
            services,
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
            moved: Default::default(),
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

    /// The site `node` is in now: where the scenario placed it, or where it was rebuilt.
    pub fn site_of(&self, node: &str) -> Option<String> {
        let moved = self.moved.lock().expect("moved lock").get(node).cloned();
        moved.or_else(|| self.sites.as_ref().and_then(|s| s.site(node)).map(str::to_string))
    }

    /// Where `node` connects to reach `service` on `port` (an archive host): the service
    /// itself within a site, else its path through the proxy (with the WAN link's toxics).
    pub fn reach(&self, node: &str, service: &str, port: u16) -> (String, u16) {
        let from = self.site_of(node);
        self.proxy.as_ref().and_then(|p| p.reach_endpoint(node, from.as_deref(), service)).unwrap_or((service.to_string(), port))
    }

    /// A fresh container in node `name`'s place (any old one removed first): the same name,
    /// address and published port, the stack's volumes, nothing of the old one's data; in
    /// `site` when given (a restore in the DR site), else in the node's own.
    pub async fn replace_node(&self, name: &str, site: Option<&str>, env: Vec<String>, cmd: Vec<String>) -> Result<()> {
        let n = self.node(name)?;
        if let Some(site) = site {
            self.moved.lock().expect("moved lock").insert(name.to_string(), site.to_string());
        }
        let network = match (&self.sites, site) {
            (Some(s), Some(site)) if !s.flat => Sites::network(&self.run_id, site),
            _ => self.sites.as_ref().and_then(|s| s.network_of(&self.run_id, name)).unwrap_or_else(|| self.base.network.clone()),
        };
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
            network,
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
pub(super) fn node_labels(labels: &HashMap<String, String>, node: &str) -> HashMap<String, String> {
    let mut l = labels.clone();
    l.insert(docker::LABEL_NODE.into(), node.to_string());
    l
}

pub(super) fn upstream_of(proxy: Option<&ProxyRoutes>, replica: &str, primary: &str, db_port: u16) -> (String, u16) {
    proxy.and_then(|p| p.replication_endpoint(replica, primary)).unwrap_or_else(|| (primary.to_string(), db_port))
}
