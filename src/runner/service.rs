//! A service as the runner holds it once provisioned: its plan (a one-service view of the
//! scenario), its driver, its stack (started in containers, or an external one attached),
//! and how it recovers. The provision phase makes one per service; every later phase
//! works on each.
use super::actions::StackProbe;
use super::drill::Drill;
use crate::action::ActionEnv;
use crate::dns::DnsServer;
use crate::docker;
use crate::error::Result;
use crate::failover::{Recovery, recovery_for};
use crate::report::{DrillEvent, Reporters};
use crate::scenario::{Scenario, ServicePlan};
use crate::stack::{Driver, External, Stack, StackPlan, driver_for};
use crate::workload::{ClientTarget, DnsTarget};
use std::sync::Arc;

pub(super) struct Service {
    pub plan: ServicePlan,
    pub driver: Arc<dyn Driver>,
    /// An external stack's own handle (lag probes, cleanup, finding its primary).
    pub external: Option<Arc<External>>,
    pub stack: Arc<Stack>,
    /// None: nothing but the clients can tell when the service recovered.
    pub recovery: Option<Arc<dyn Recovery>>,
    /// A multi-active stack's membership, watched from the workload's start.
    pub members: super::members::MemberWatch,
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

    /// The address records are read back from: the current primary.
    pub fn primary_addr(&self) -> Result<std::net::SocketAddr> {
        Ok(self.stack.node(&self.stack.primary())?.addr())
    }
}

/// The loopback net `127.a.b.0/24` of service `index`'s nodes: drawn from the run id, so
/// that drills running side by side use different addresses.
fn own_net(run_id: &str, index: usize) -> [u8; 2] {
    let h = run_id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    // 127.0.x.y stays clear of the addresses other tools use on loopback
    [16 + (h % 200) as u8, ((h >> 8) as usize).wrapping_add(index * 7) as u8]
}

/// The proxy's name on the drill's networks: `proxy`, or `proxy-<service>` in a drill of
/// several (each service has its own, and they share the site networks).
pub(super) fn proxy_alias(plan: &ServicePlan) -> String {
    if plan.tagged { format!("{}-{}", crate::stack::PROXY_NODE, plan.name) } else { crate::stack::PROXY_NODE.to_string() }
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

impl Drill<'_> {
    /// Every service, started in containers on the drill's network (one per site, with
    /// sites) or attached to.
    pub(super) async fn provision(&self, rep: &mut Reporters) -> Result<Vec<Service>> {
        if self.auth.is_none() {
            self.docker.create_network(&docker::network_name(&self.run_id), &self.labels).await?;
            // networks of their own, unless every service's sites are groups on one
            let own = self.loaded.services.iter().any(|p| !p.view.sites.is_empty() && !p.view.flat_sites());
            for site in self.sc().sites.iter().filter(|_| own) {
                self.docker.create_network(&crate::stack::Sites::network(&self.run_id, site), &self.labels).await?;
            }
        }
        let mut out = Vec::new();
        for (i, plan) in self.loaded.services.iter().enumerate() {
            out.push(self.provision_one(rep, plan, i).await?);
        }
        self.start_dns(rep, &out).await?;
        Ok(out)
    }

    /// The drill's DNS server, when the scenario has `dns`: each such service's name
    /// answers its primary's own address.
    async fn start_dns(&self, rep: &mut Reporters, svcs: &[Service]) -> Result<()> {
        // a drill's DNS is one server; `dns.services` leaves some services out of it
        let Some(spec) = svcs.iter().find_map(|s| s.sc().dns.as_ref()) else { return Ok(()) };
        let mut records = Vec::new();
        for svc in svcs.iter().filter(|s| s.sc().dns.is_some()) {
            let primary = svc.stack.node(&svc.stack.primary())?;
            if let std::net::IpAddr::V4(ip) = primary.client_ip {
                records.push((svc.plan.name.clone(), ip));
            }
        }
        let server = DnsServer::start(&records, spec.ttl_s).await?;
        self.phase(rep, &format!("DNS: the drill's own server on {} (TTL {} s)", server.addr(), spec.ttl_s))?;
        for (name, ip) in &records {
            rep.emit(DrillEvent::Info(&format!("{name}.{} -> {ip}", crate::dns::ZONE)))?;
        }
        let _ = self.dns.set(Arc::new(server));
        Ok(())
    }

    /// Starts the stack's containers, or attaches to the external stack; gives the
    /// actions their environment (a probe of the clients' path among it).
    async fn provision_one(&self, rep: &mut Reporters, plan: &ServicePlan, index: usize) -> Result<Service> {
        let sc = &plan.view;
        let external = self.auth.clone().map(|a| Arc::new(External::new(&sc.stack, a)));
        let driver: Arc<dyn Driver> = match &external {
            Some(e) => e.clone(),
            None => Arc::from(driver_for(&sc.stack)),
        };
        let stack = match external {
            Some(_) => self.attach_external(rep, plan).await?,
            None => self.start_stack(rep, plan, driver.as_ref(), index).await?,
        };
        self.live.with(|l| l.stacks.push((plan.name.clone(), stack.clone())));
        let recovery = recovery_for(sc.failover_mode(), sc.failover.as_ref(), driver.as_ref())?;
        let probe = StackProbe { driver: driver.clone(), external: external.clone(), stack: Arc::downgrade(&stack) };
        let vars = vec![("DRDRILL_EVIDENCE".to_string(), self.dir.display().to_string())];
        let env = ActionEnv { vars, run_id: self.run_id.clone(), dir: self.dir.clone(), db: Some(Arc::new(probe)), dbs: Vec::new() };
        let _ = stack.actions.set(env);
        Ok(Service { plan: plan.clone(), driver, external, stack, recovery, members: Default::default() })
    }

    async fn start_stack(&self, rep: &mut Reporters, plan: &ServicePlan, driver: &dyn Driver, index: usize) -> Result<Arc<Stack>> {
        let sc = &plan.view;
        let names = sc.stack.node_names();
        let image = sc.stack.image();
        let proxy_spec = sc.effective_proxy();
        let proxy = match &proxy_spec {
            Some(p) => {
                let img = match &p.image {
                    Some(i) => i.clone(),
                    None => {
                        self.phase(rep, "preparing the proxy image (drdrill proxy)")?;
                        docker::ensure_proxy_image(&self.docker).await?
                    }
                };
                Some((p, img))
            }
            None => None,
        };
        self.phase(rep, &say(plan, &format!("starting {} nodes ({image}): {}", names.len(), names.join(", "))))?;
        let own_addresses = sc.dns.as_ref().map(|_| own_net(&self.run_id, index));
        let (proxy_alias, sites) = (proxy_alias(plan), crate::stack::Sites::of(sc));
        let stack_plan = StackPlan {
            run_id: &self.run_id,
            image: &image,
            names: &names,
            labels: &self.labels,
            proxy,
            own_addresses,
            proxy_alias,
            sites,
        };
        let stack = Arc::new(Stack::start(&self.docker, driver, stack_plan).await?);
        driver.require_deployment()?.started(&stack).await?;
        if let Some(p) = &stack.proxy {
            let what = [("clients", p.clients), ("replication", p.replication)].iter().filter(|x| x.1).map(|x| x.0).collect::<Vec<_>>();
            rep.emit(DrillEvent::Info(&format!("proxy API -> {} ({} through the proxy)", p.api, what.join(" and "))))?;
        }
        for n in stack.nodes.iter().chain(&stack.services) {
            let via = if n.client_port != n.host_port { format!(", clients via {}", n.client_addr()) } else { String::new() };
            rep.emit(DrillEvent::Info(&format!("{} -> {}{via}", n.name, n.addr())))?;
        }
        Ok(stack)
    }

    /// An external stack: its endpoint and nodes, resolved; nothing is started.
    async fn attach_external(&self, rep: &mut Reporters, plan: &ServicePlan) -> Result<Arc<Stack>> {
        let (nodes, endpoint) = crate::stack::external_plan(&plan.view.stack).await?;
        let first = nodes[0].name.clone();
        self.phase(rep, &format!("attaching to the external stack: clients via {}", endpoint.addr()))?;
        for n in &nodes {
            rep.emit(DrillEvent::Info(&format!("{} -> {}", n.name, n.addr())))?;
        }
        Ok(Arc::new(Stack::external(&self.docker, &self.run_id, nodes, endpoint, &first)))
    }
}
