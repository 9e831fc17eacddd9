//! The provision phase: each service started in containers on the drill's network (one per
//! site, with sites) or attached to, as a `Service`; and the drill's DNS server.
use super::actions::StackProbe;
use super::state::{Drill, Service, say};
use crate::action::ActionEnv;
use crate::dns::DnsServer;
use crate::docker;
use crate::error::Result;
use crate::failover::recovery_for;
use crate::report::{DrillEvent, Reporters};
use crate::scenario::ServicePlan;
use crate::stack::{Driver, External, Stack, StackPlan, driver_for};
use std::sync::Arc;

/// Every service, started in containers on the drill's network (one per site, with
/// sites) or attached to.
pub(super) async fn provision(drill: &Drill<'_>, rep: &mut Reporters) -> Result<Vec<Service>> {
    if drill.auth.is_none() {
        // the servers' own network, when a Keepalived names it (`keepalived.subnet`)
        let subnet = drill.loaded.services.iter().find_map(|p| p.view.stack.keepalived.as_ref()?.subnet.clone());
        drill.docker.create_network_on(&docker::network_name(&drill.run_id), &drill.labels, subnet.as_deref()).await?;
        // networks of their own, unless every service's sites are groups on one
        let own = drill.loaded.services.iter().any(|p| !p.view.sites.is_empty() && !p.view.flat_sites());
        for site in drill.sc().sites.iter().filter(|_| own) {
            drill.docker.create_network(&crate::stack::Sites::network(&drill.run_id, site), &drill.labels).await?;
        }
    }
    let mut out = Vec::new();
    for (i, plan) in drill.loaded.services.iter().enumerate() {
        out.push(provision_one(drill, rep, plan, i).await?);
    }
    start_dns(drill, rep, &out).await?;
    Ok(out)
}

/// The drill's DNS server, when the scenario has `dns`: each such service's name
/// answers its primary's own address.
async fn start_dns(drill: &Drill<'_>, rep: &mut Reporters, svcs: &[Service]) -> Result<()> {
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
    drill.phase(rep, &format!("DNS: the drill's own server on {} (TTL {} s)", server.addr(), spec.ttl_s))?;
    for (name, ip) in &records {
        rep.emit(DrillEvent::Info(&format!("{name}.{} -> {ip}", crate::dns::ZONE)))?;
    }
    let _ = drill.dns.set(Arc::new(server));
    Ok(())
}

/// Starts the stack's containers, or attaches to the external stack; gives the
/// actions their environment (a probe of the clients' path among it).
async fn provision_one(drill: &Drill<'_>, rep: &mut Reporters, plan: &ServicePlan, index: usize) -> Result<Service> {
    let sc = &plan.view;
    let external = drill.auth.clone().map(|a| Arc::new(External::new(&sc.stack, a)));
    let driver: Arc<dyn Driver> = match &external {
        Some(e) => e.clone(),
        None => Arc::from(driver_for(&sc.stack)),
    };
    let stack = match external {
        Some(_) => attach_external(drill, rep, plan).await?,
        None => start_stack(drill, rep, plan, driver.as_ref(), index).await?,
    };
    drill.live.with(|l| l.stacks.push((plan.name.clone(), stack.clone())));
    let recovery = recovery_for(sc.failover_mode(), sc.failover.as_ref(), driver.as_ref())?;
    let probe = StackProbe { driver: driver.clone(), external: external.clone(), stack: Arc::downgrade(&stack) };
    let vars = vec![("DRDRILL_EVIDENCE".to_string(), drill.dir.display().to_string())];
    let env = ActionEnv { vars, run_id: drill.run_id.clone(), dir: drill.dir.clone(), db: Some(Arc::new(probe)), dbs: Vec::new() };
    let _ = stack.actions.set(env);
    Ok(Service { plan: plan.clone(), driver, external, stack, recovery, members: Default::default() })
}

async fn start_stack(drill: &Drill<'_>, rep: &mut Reporters, plan: &ServicePlan, driver: &dyn Driver, index: usize) -> Result<Arc<Stack>> {
    let sc = &plan.view;
    let names = sc.stack.node_names();
    let image = sc.stack.image();
    let proxy_spec = sc.effective_proxy();
    let proxy = match &proxy_spec {
        Some(p) => {
            let img = match &p.image {
                Some(i) => i.clone(),
                None => {
                    drill.phase(rep, "preparing the proxy image (drdrill proxy)")?;
                    docker::ensure_proxy_image(&drill.docker).await?
                }
            };
            Some((p, img))
        }
        None => None,
    };
    drill.phase(rep, &say(plan, &format!("starting {} nodes ({image}): {}", names.len(), names.join(", "))))?;
    let own_addresses = sc.dns.as_ref().map(|_| own_net(&drill.run_id, index));
    let (proxy_alias, sites) = (proxy_alias(plan), crate::stack::Sites::of(sc));
    let stack_plan =
        StackPlan { run_id: &drill.run_id, image: &image, names: &names, labels: &drill.labels, proxy, own_addresses, proxy_alias, sites };
    let stack = Arc::new(Stack::start(&drill.docker, driver, stack_plan).await?);
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
async fn attach_external(drill: &Drill<'_>, rep: &mut Reporters, plan: &ServicePlan) -> Result<Arc<Stack>> {
    let (nodes, services) = crate::stack::external_plan(&plan.view.stack).await?;
    let first = nodes[0].name.clone();
    drill.phase(rep, &format!("attaching to the external stack: clients via {}", services[0].addr()))?;
    for n in nodes.iter().chain(&services[1..]) {
        rep.emit(DrillEvent::Info(&format!("{} -> {}", n.name, n.addr())))?;
    }
    Ok(Arc::new(Stack::external(&drill.docker, &drill.run_id, nodes, services, &first)))
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
