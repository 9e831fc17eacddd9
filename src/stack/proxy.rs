//! The chaos proxy in the topology: one container on the drill network, speaking the
//! Toxiproxy API. Each node gets a client proxy (`client-<node>`, published like the nodes)
//! when clients are routed through it, and each ordered pair of nodes a replication proxy
//! (`repl-<replica>-<primary>`) when replication is (routes.rs: where each path listens).
use super::ports::free_port;
use super::routes::ProxyRoutes;
use super::sites::{Sites, iptables_script, wan_loss_rules, wan_toxics};
use crate::docker::{self, ContainerSpec, Docker};
use crate::error::{Error, Result};
use crate::proxy::{ProxyClient, ProxyConfig};
use crate::scenario::ProxySpec;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Node name of the proxy container (its DNS alias on the drill network) in a drill of one
/// service; `proxy-<service>` in a drill of several.
pub const PROXY_NODE: &str = "proxy";
const API_PORT: u16 = 8474;

/// What `start_proxy` needs besides the engine.
pub struct ProxyPlan<'a> {
    pub spec: &'a ProxySpec,
    pub image: &'a str,
    pub run_id: &'a str,
    pub alias: &'a str,
    pub nodes: &'a [String],
    pub db_port: u16,
    pub labels: &'a HashMap<String, String>,
    /// The networks it sits on: the drill's, or every site's.
    pub networks: Vec<String>,
    /// The clients' paths published each on its node's own address, on one port (the
    /// drill's DNS); else each on a free port of the engine's publish address.
    pub own_addresses: Option<(Vec<Ipv4Addr>, u16)>,
    pub sites: Option<Sites>,
    /// The services the nodes reach (name, port): a path from each node to each, when the
    /// sites are networks of their own.
    pub reached: Vec<(String, u16)>,
}

/// Starts the proxy container and creates every proxy, before any node starts (replicas
/// clone through it); with sites, puts each WAN link's toxics on the paths that cross it.
/// Upstreams are names on the drill's networks, resolved per connection.
pub async fn start_proxy(docker: &Docker, plan: ProxyPlan<'_>) -> Result<ProxyRoutes> {
    let api_port = free_port()?;
    let published = publish(docker, &plan, api_port)?;
    let container = docker::container_name(plan.run_id, plan.alias);
    docker.run(&container_spec(&plan, &container, published.ports, published.ports_on)).await?;
    let ProxyPlan { spec, image, alias, nodes, db_port, sites, reached, .. } = plan;
    let reached = if sites.as_ref().is_some_and(|s| !s.flat) { reached } else { Vec::new() };
    let routes = ProxyRoutes {
        container,
        alias: alias.to_string(),
        sites,
        api: SocketAddr::from((docker.client_ip, api_port)),
        clients: spec.clients,
        replication: spec.replication,
        nodes: nodes.to_vec(),
        client_ports: published.client_ports,
        read_ports: published.read_ports,
        reached,
    };
    let api = routes.client();
    wait_for_api(&api, routes.api, image).await?;
    let mut all = paths(spec, nodes, db_port);
    all.extend(read_paths(&routes, db_port));
    all.extend(reach_paths(&routes));
    api.populate(&all).await?;
    if let Some(sites) = &routes.sites {
        put_wan_links(docker, &api, &routes, sites).await?;
    }
    Ok(routes)
}

/// What the proxy container publishes: its API on `api_port`, and each client path
/// (when clients go through it) on its node's own address or a free port.
struct Published {
    ports: Vec<(u16, u16)>,
    ports_on: Vec<(u16, IpAddr, u16)>,
    /// node -> host address and port of its client path.
    client_ports: BTreeMap<String, (IpAddr, u16)>,
    /// node -> host address and port of its read path (readers in a site of their own).
    read_ports: BTreeMap<String, (IpAddr, u16)>,
}

fn publish(docker: &Docker, plan: &ProxyPlan<'_>, api_port: u16) -> Result<Published> {
    let mut out =
        Published { ports: vec![(API_PORT, api_port)], ports_on: Vec::new(), client_ports: BTreeMap::new(), read_ports: BTreeMap::new() };
    if plan.sites.as_ref().is_some_and(|s| s.readers.is_some()) {
        for (i, n) in plan.nodes.iter().enumerate() {
            let p = free_port()?;
            out.ports.push((ProxyRoutes::read_listen(i), p));
            out.read_ports.insert(n.clone(), (docker.client_ip, p));
        }
    }
    if !plan.spec.clients {
        return Ok(out);
    }
    for (i, n) in plan.nodes.iter().enumerate() {
        match &plan.own_addresses {
            Some((ips, port)) => {
                out.ports_on.push((ProxyRoutes::client_listen(i), IpAddr::V4(ips[i]), *port));
                out.client_ports.insert(n.clone(), (IpAddr::V4(ips[i]), *port));
            }
            None => {
                let p = free_port()?;
                out.ports.push((ProxyRoutes::client_listen(i), p));
                out.client_ports.insert(n.clone(), (docker.client_ip, p));
            }
        }
    }
    Ok(out)
}

/// The proxy's container, on every network of `plan`, named `container`.
fn container_spec(plan: &ProxyPlan<'_>, container: &str, ports: Vec<(u16, u16)>, ports_on: Vec<(u16, IpAddr, u16)>) -> ContainerSpec {
    let mut labels = plan.labels.clone();
    labels.insert(docker::LABEL_NODE.into(), plan.alias.into());
    ContainerSpec {
        name: container.to_string(),
        image: plan.image.to_string(),
        network: plan.networks[0].clone(),
        more_networks: plan.networks[1..].to_vec(),
        alias: plan.alias.into(),
        labels,
        ports,
        ports_on,
        // a WAN link's loss: iptables in its own network namespace
        cap_add: if plan.sites.is_some() { vec!["NET_ADMIN".into()] } else { Vec::new() },
        ..Default::default()
    }
}

/// Waits (30 s at most) until the proxy's API at `at` answers.
async fn wait_for_api(api: &ProxyClient, at: SocketAddr, image: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // each attempt on a fresh connection with a short timeout: a first SYN lost while the
    // container's network comes up must not hold the whole wait (one call may take 30 s)
    let attempt = || async {
        match tokio::time::timeout(Duration::from_secs(1), api.version()).await {
            Ok(r) => r,
            Err(_) => Err(Error::infra(format!("proxy API at {at}: no answer within 1 s"))),
        }
    };
    while let Err(e) = attempt().await {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::infra(format!("failed to reach the proxy API of {image}"))
                .cause_text(e.one_line())
                .hint("the proxy image must serve the Toxiproxy API on port 8474 on all interfaces"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Every path the proxy carries: each node's client path, each replica's path to it.
fn paths(spec: &ProxySpec, nodes: &[String], db_port: u16) -> Vec<ProxyConfig> {
    let mut proxies = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if spec.clients {
            let listen = format!("0.0.0.0:{}", ProxyRoutes::client_listen(i));
            proxies.push(ProxyConfig::new(ProxyRoutes::client_proxy(n), listen, format!("{n}:{db_port}")));
        }
        if spec.replication {
            for (j, r) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
                let listen = format!("0.0.0.0:{}", ProxyRoutes::replication_listen(j, i));
                proxies.push(ProxyConfig::new(ProxyRoutes::replication_proxy(r, n), listen, format!("{n}:{db_port}")));
            }
        }
    }
    proxies
}

/// Each node's read path, when the readers stand in a site of their own.
fn read_paths(routes: &ProxyRoutes, db_port: u16) -> Vec<ProxyConfig> {
    if routes.sites.as_ref().is_none_or(|s| s.readers.is_none()) {
        return Vec::new();
    }
    let node = |n: &String| {
        ProxyConfig::new(ProxyRoutes::read_proxy(n), format!("0.0.0.0:{}", routes.read_listen_of(n)), format!("{n}:{db_port}"))
    };
    routes.node_names().iter().map(node).collect()
}

/// A path from each node to each service the nodes reach (an archive host in the DR site).
fn reach_paths(routes: &ProxyRoutes) -> Vec<ProxyConfig> {
    let mut out = Vec::new();
    for n in routes.node_names() {
        for (svc, port) in &routes.reached {
            let listen = format!("0.0.0.0:{}", routes.reach_listen_of(n, svc));
            out.push(ProxyConfig::new(ProxyRoutes::reach_proxy(n, svc), listen, format!("{svc}:{port}")));
        }
    }
    out
}

/// Each WAN link's toxics on the paths that cross it, and its loss in the proxy container.
async fn put_wan_links(docker: &Docker, api: &ProxyClient, routes: &ProxyRoutes, sites: &Sites) -> Result<()> {
    let mut lossy = Vec::new();
    for c in sites.crossings(routes) {
        let Some(link) = sites.link(c.ends[0].as_deref(), c.ends[1].as_deref()) else { continue };
        for t in wan_toxics(link) {
            api.add_toxic(&c.proxy, &t).await?;
        }
        lossy.extend(wan_loss_rules(&[c.listen], link.loss_percent));
    }
    set_loss(docker, &routes.container, "-I", &lossy).await
}

/// Inserts (`-I`) or deletes (`-D`) a WAN link's loss rules in the proxy container.
pub async fn set_loss(docker: &Docker, container: &str, op: &str, rules: &[String]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let script = iptables_script(op, rules);
    let (code, out) = docker.exec(container, &["sh", "-c", &script]).await?;
    if code != 0 {
        return Err(Error::infra(format!("failed to set the WAN links' loss in {container} (exit {code})"))
            .cause_text(out.trim())
            .hint("the proxy image needs iptables (drdrill's own, drdrill/proxy-base, has it)"));
    }
    Ok(())
}
