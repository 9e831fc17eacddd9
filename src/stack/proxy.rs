//! The chaos proxy in the topology: one container on the drill network, speaking the
//! Toxiproxy API. Each node gets a client proxy (`client-<node>`, published like the nodes)
//! when clients are routed through it, and each ordered pair of nodes a replication proxy
//! (`repl-<replica>-<primary>`) when replication is.
use super::nodes::free_port;
use super::sites::{Sites, wan_loss_rules, wan_toxics};
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

#[derive(Debug, Clone)]
pub struct ProxyRoutes {
    pub container: String,
    /// Its name on the drill's networks (`proxy`; `proxy-<service>` in a drill of several).
    pub alias: String,
    /// The Toxiproxy API, published like the nodes' ports.
    pub api: SocketAddr,
    pub clients: bool,
    pub replication: bool,
    /// Node names in start order (their index numbers the listen ports).
    nodes: Vec<String>,
    /// node -> host address and port of its client proxy.
    client_ports: BTreeMap<String, (IpAddr, u16)>,
    /// With sites: replication within a site goes direct, across sites through here.
    sites: Option<Sites>,
}

impl ProxyRoutes {
    pub fn client(&self) -> ProxyClient {
        ProxyClient::new(self.api)
    }

    pub fn client_proxy(node: &str) -> String {
        format!("client-{node}")
    }

    pub fn replication_proxy(replica: &str, primary: &str) -> String {
        format!("repl-{replica}-{primary}")
    }

    fn index(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap_or(0)
    }

    /// Port inside the proxy container where the client path to `node` listens.
    pub fn client_listen_of(&self, node: &str) -> u16 {
        Self::client_listen(self.index(node))
    }

    /// Port inside the proxy container where `replica`'s path to `primary` listens.
    pub fn replication_listen_of(&self, replica: &str, primary: &str) -> u16 {
        Self::replication_listen(self.index(replica), self.index(primary))
    }

    fn client_listen(i: usize) -> u16 {
        20000 + i as u16
    }

    fn replication_listen(r: usize, p: usize) -> u16 {
        21000 + (r * 16 + p) as u16
    }

    /// Where `replica` connects to reach `primary`: through the proxy, or None (direct;
    /// always within a site).
    pub fn replication_endpoint(&self, replica: &str, primary: &str) -> Option<(String, u16)> {
        let same_site = self.sites.as_ref().is_some_and(|s| s.site(replica) == s.site(primary));
        (self.replication && !same_site).then(|| (self.alias.clone(), Self::replication_listen(self.index(replica), self.index(primary))))
    }

    /// Host address and port the workload uses for `node`, when clients go through the proxy.
    pub fn client_port(&self, node: &str) -> Option<(IpAddr, u16)> {
        self.client_ports.get(node).copied()
    }

    /// The nodes it has paths to, in start order.
    pub fn node_names(&self) -> &[String] {
        &self.nodes
    }

    /// Every replication proxy into `primary`, with its replica.
    pub fn replication_links_into(&self, primary: &str) -> Vec<(String, String)> {
        self.nodes.iter().filter(|n| *n != primary).map(|r| (r.clone(), Self::replication_proxy(r, primary))).collect()
    }
}

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
}

/// Starts the proxy container and creates every proxy, before any node starts (replicas
/// clone through it); with sites, puts each WAN link's toxics on the paths that cross it.
/// Upstreams are names on the drill's networks, resolved per connection.
pub async fn start_proxy(docker: &Docker, plan: ProxyPlan<'_>) -> Result<ProxyRoutes> {
    let ProxyPlan { spec, image, run_id, alias, nodes, db_port, labels, networks, own_addresses, sites } = plan;
    let container = docker::container_name(run_id, alias);
    let mut l = labels.clone();
    l.insert(docker::LABEL_NODE.into(), alias.into());
    let api_port = free_port()?;
    let mut ports = vec![(API_PORT, api_port)];
    let mut ports_on = Vec::new();
    let mut client_ports = BTreeMap::new();
    if spec.clients {
        for (i, n) in nodes.iter().enumerate() {
            match &own_addresses {
                Some((ips, port)) => {
                    ports_on.push((ProxyRoutes::client_listen(i), IpAddr::V4(ips[i]), *port));
                    client_ports.insert(n.clone(), (IpAddr::V4(ips[i]), *port));
                }
                None => {
                    let p = free_port()?;
                    ports.push((ProxyRoutes::client_listen(i), p));
                    client_ports.insert(n.clone(), (docker.client_ip, p));
                }
            }
        }
    }
    let cs = ContainerSpec {
        name: container.clone(),
        image: image.to_string(),
        network: networks[0].clone(),
        more_networks: networks[1..].to_vec(),
        alias: alias.into(),
        labels: l,
        ports,
        ports_on,
        // a WAN link's loss: iptables in its own network namespace
        cap_add: if sites.is_some() { vec!["NET_ADMIN".into()] } else { Vec::new() },
        ..Default::default()
    };
    docker.run(&cs).await?;
    let routes = ProxyRoutes {
        container,
        alias: alias.to_string(),
        sites,
        api: SocketAddr::from((docker.client_ip, api_port)),
        clients: spec.clients,
        replication: spec.replication,
        nodes: nodes.to_vec(),
        client_ports,
    };
    let api = routes.client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // each attempt on a fresh connection with a short timeout: a first SYN lost while the
    // container's network comes up must not hold the whole wait (one call may take 30 s)
    let attempt = || async {
        match tokio::time::timeout(Duration::from_secs(1), api.version()).await {
            Ok(r) => r,
            Err(_) => Err(Error::infra(format!("proxy API at {}: no answer within 1 s", routes.api))),
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
    api.populate(&proxies).await?;
    if let Some(sites) = &routes.sites {
        let mut lossy = Vec::new();
        for c in sites.crossings(&routes) {
            let Some(link) = sites.link(c.ends[0].as_deref(), c.ends[1].as_deref()) else { continue };
            for t in wan_toxics(link) {
                api.add_toxic(&c.proxy, &t).await?;
            }
            lossy.extend(wan_loss_rules(&[c.listen], link.loss_percent));
        }
        set_loss(docker, &routes.container, "-I", &lossy).await?;
    }
    Ok(routes)
}

/// Inserts (`-I`) or deletes (`-D`) a WAN link's loss rules in the proxy container.
pub async fn set_loss(docker: &Docker, container: &str, op: &str, rules: &[String]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let script = super::sites::iptables_script(op, rules);
    let (code, out) = docker.exec(container, &["sh", "-c", &script]).await?;
    if code != 0 {
        return Err(Error::infra(format!("failed to set the WAN links' loss in {container} (exit {code})"))
            .cause_text(out.trim())
            .hint("the proxy image needs iptables (drdrill's own, drdrill/proxy-base, has it)"));
    }
    Ok(())
}
