//! The drill's shared state: the `Drill` every phase works on, and each `Service` as the
//! provision phase makes it (its plan, driver, stack and recovery). The phases (files
//! above this one) act on them; `drill.rs` sequences the phases.
use super::live::Shared;
use super::members::MemberWatch;
use crate::action::ActionEnv;
use crate::checker::Results;
use crate::dns::DnsServer;
use crate::docker::Docker;
use crate::error::Result;
use crate::failover::Recovery;
use crate::fault::FaultLedger;
use crate::report::{DrillEvent, Reporters};
use crate::scenario::{Loaded, Scenario, ServicePlan};
use crate::stack::{Driver, External, Stack};
use crate::workload::{ClientTarget, DnsTarget, ReadPlan, ReadPool};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// One drill as every phase sees it: the scenario, the engine, the run's identity and
/// evidence folder, and what the phases share while it runs.
pub(super) struct Drill<'a> {
    pub loaded: &'a Loaded,
    pub docker: Docker,
    pub run_id: String,
    pub dir: PathBuf,
    pub ledger: FaultLedger,
    pub labels: HashMap<String, String>,
    pub live: Shared,
    /// Earlier runs of this scenario to compare with (`--baseline`).
    pub baseline: Vec<Results>,
    /// An external stack's credentials and namespace.
    pub auth: Option<crate::stack::Auth>,
    /// The drill's own DNS server, when the scenario has `dns` (stopped at wrap-up).
    pub dns: std::sync::OnceLock<std::sync::Arc<crate::dns::DnsServer>>,
    /// The drill's monitoring, when the scenario has `monitoring` (its webhook closed at
    /// wrap-up, its containers torn down with the stack's).
    pub monitor: std::sync::OnceLock<std::sync::Arc<crate::monitor::Monitor>>,
}

impl Drill<'_> {
    pub(super) fn sc(&self) -> &Scenario {
        &self.loaded.scenario
    }

    pub(super) fn phase(&self, rep: &mut Reporters, text: &str) -> Result<()> {
        self.live.phase(text);
        rep.emit(DrillEvent::Phase(text))
    }
}

/// A service as the runner holds it once provisioned: its plan (a one-service view of the
/// scenario), its driver, its stack (started in containers, or an external one attached),
/// and how it recovers. The provision phase makes one per service; every later phase
/// works on each.
pub(super) struct Service {
    pub plan: ServicePlan,
    pub driver: Arc<dyn Driver>,
    /// An external stack's own handle (lag probes, cleanup, finding its primary).
    pub external: Option<Arc<External>>,
    pub stack: Arc<Stack>,
    /// None: nothing but the clients can tell when the service recovered.
    pub recovery: Option<Arc<dyn Recovery>>,
    /// A multi-active stack's membership, watched from the workload's start.
    pub members: MemberWatch,
}

impl Service {
    /// The service as a one-service scenario.
    pub fn sc(&self) -> &Scenario {
        &self.plan.view
    }

    /// `text` as the terminal says it: named after the service in a drill of several.
    pub fn say(&self, text: &str) -> String {
        say(&self.plan, text)
    }

    /// Where the clients write first: the stack's entry service, or its primary; with the
    /// drill's DNS, the service's name.
    pub fn client_target(&self, primary: &str, dns: Option<&Arc<DnsServer>>) -> Result<ClientTarget> {
        let nodes = || {
            let v4 = |n: &crate::stack::Node| match n.client_ip {
                std::net::IpAddr::V4(ip) => Some((ip, n.name.clone())),
                std::net::IpAddr::V6(_) => None,
            };
            self.stack.nodes.iter().filter_map(v4).collect()
        };
        let once = self.sc().workload.resolve == crate::scenario::Resolve::Once;
        if let (Some(server), Some(_)) = (dns, &self.sc().dns) {
            let first = self.stack.node(primary)?;
            let dns = DnsTarget { server: server.addr(), name: self.plan.name.clone(), nodes: nodes(), port: first.client_port, once };
            return Ok(ClientTarget { dns: Some(dns), ..ClientTarget::direct(primary, first.client_addr()) });
        }
        // an external endpoint that is a name, looked up through its resolver by its TTL
        if let (Some((server, name)), Some(entry)) = (crate::stack::named_endpoint(&self.sc().stack)?, self.driver.client_entry()) {
            let endpoint = self.stack.service(entry)?;
            let dns = DnsTarget { server, name, nodes: nodes(), port: endpoint.client_port, once };
            return Ok(ClientTarget { dns: Some(dns), ..ClientTarget::direct(entry, endpoint.client_addr()) });
        }
        Ok(match self.driver.client_entry() {
            Some(entry) => ClientTarget::direct(entry, self.stack.service(entry)?.client_addr()),
            None => ClientTarget::direct(primary, self.stack.node(primary)?.client_addr()),
        })
    }

    /// Where each writer writes on a stack whose every node is writable: every node, in
    /// start order (writer i to node i mod n, so each site's writers write to their own
    /// site's node, reached directly); empty for any other stack.
    pub fn writer_homes(&self) -> Result<Vec<ClientTarget>> {
        if !self.sc().stack.kind.info().multi_active {
            return Ok(Vec::new());
        }
        Ok(self.stack.nodes.iter().map(|n| ClientTarget::direct(&n.name, n.addr())).collect())
    }

    /// Where the readers read (`workload.readers`): wherever the writers write (`clients`),
    /// or the nodes `from` names, each reached as the clients reach it.
    pub fn read_plan(&self, primary: &str, clients: &watch::Receiver<ClientTarget>) -> Result<Option<ReadPlan>> {
        let Some(spec) = self.sc().workload.readers.clone() else { return Ok(None) };
        let from = spec.from.clone();
        // the kind's own read routing first (HAProxy's replica listener, Sentinel's replicas)
        if let Some((service, port)) = self.driver.read_endpoint(&from) {
            let svc = self.stack.service(service)?;
            let addr = match port {
                Some(p) => svc
                    .also_addr(p)
                    .ok_or_else(|| crate::error::Error::infra(format!("{service} does not publish port {p} for `from: {from}` (a bug)")))?,
                None => svc.client_addr(),
            };
            return Ok(Some(ReadPlan { spec, pool: ReadPool::Nodes(vec![ClientTarget::direct(&from, addr)]) }));
        }
        let names: Vec<String> = match from.as_str() {
            "primary" => return Ok(Some(ReadPlan { spec, pool: ReadPool::Follow(clients.clone()) })),
            // a cluster's replicas are its shards' (the other primaries are not)
            "replicas" => match self.driver.shards() {
                Some(s) => s.list.iter().flat_map(|x| x.replicas.iter().cloned()).collect(),
                None => self.stack.nodes.iter().map(|n| n.name.clone()).filter(|n| n != primary).collect(),
            },
            "any" => self.stack.nodes.iter().map(|n| n.name.clone()).collect(),
            // a site's database nodes only: etcd or a Sentinel placed there serves no reads
            site => crate::scenario::read_nodes_in(self.sc(), site),
        };
        // a multi-active stack's readers stand in each node's site, as its writers do
        // (`writer_homes`): a site cut off keeps its readers; others reach a node as the
        // clients do
        let multi = self.sc().stack.kind.info().multi_active;
        // readers in a site of their own reach each node by its read path
        let read_path = |n: &crate::stack::Node| self.stack.proxy.as_ref().and_then(|p| p.read_port(&n.name));
        let addr = |n: &crate::stack::Node| if multi { n.addr() } else { read_path(n).unwrap_or_else(|| n.client_addr()) };
        let nodes = names.iter().map(|n| Ok(ClientTarget::direct(n, addr(self.stack.node(n)?)))).collect::<Result<Vec<_>>>()?;
        if nodes.is_empty() {
            return Err(crate::error::Error::infra(format!("the readers have no node to read from (`from: {from}`)")));
        }
        Ok(Some(ReadPlan { spec, pool: ReadPool::Nodes(nodes) }))
    }

    /// The address records are read back from: the current primary.
    pub fn primary_addr(&self) -> Result<std::net::SocketAddr> {
        Ok(self.stack.node(&self.stack.primary())?.addr())
    }
}

/// The environment of the drill's own actions (hooks, steady state, `abort_when`): the
/// first service's, with every service's database for the probes that name one.
pub(super) fn drill_env(svcs: &[Service]) -> ActionEnv {
    let mut env = svcs[0].stack.action_env();
    env.dbs = svcs.iter().filter_map(|s| Some((s.plan.name.clone(), s.stack.action_env().db?))).collect();
    env
}

/// `text`, prefixed with the service's name in a drill of several.
pub(super) fn say(plan: &ServicePlan, text: &str) -> String {
    if plan.tagged { format!("{}: {text}", plan.name) } else { text.to_string() }
}
