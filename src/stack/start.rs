//! Starting a stack (`Stack::start`): on the drill's network, the proxy (if any), the
//! services that run first (etcd), every node's container (primary first), then the other
//! services (HAProxy, Sentinels).
use super::driver::{Deployment, Driver};
use super::nodes::{Node, Stack, node_labels, upstream_of};
use super::ports::{free_port_on, own_address, run_on_free_port_where, run_published};
use super::proxy::{ProxyPlan, start_proxy};
use super::routes::ProxyRoutes;
use super::sites::Sites;
use super::types::Sidecar;
use crate::docker::{self, ContainerSpec, Docker};
use crate::error::{Error, Result};
use crate::scenario::{DataLoss, ProxySpec};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

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
    pub sites: Option<Sites>,
}

/// The nodes' own addresses (`StackPlan::own_addresses`) and the one port they share.
type OwnAddresses = (Vec<Ipv4Addr>, u16);

impl Stack {
    /// Starts, on the drill's network, the proxy (if any), the services that must run first (etcd),
    /// every node's container (primary first), then the other services (HAProxy, Sentinels).
    /// The image exists: the runner made sure of it before the drill (`docker::ensure_images`).
    pub async fn start(docker: &Docker, driver: &dyn Driver, plan: StackPlan<'_>) -> Result<Stack> {
        let deploy = driver.require_deployment()?;
        let port = driver.data().port();
        let own = own_addresses(docker, plan.own_addresses, plan.names.len())?;
        // created by the runner: the drill's network, or one per site
        let network = docker::network_name(plan.run_id);
        let services = deploy.services(plan.names);
        let reached: Vec<(String, u16)> = services.iter().filter(|s| s.reached).map(|s| (s.name.clone(), s.port)).collect();
        let proxy = match &plan.proxy {
            Some((spec, img)) => Some(start_proxy(docker, proxy_plan(&plan, spec, img, &network, port, own.clone(), reached)).await?),
            None => None,
        };
        let mounts = create_volumes(docker, deploy, &plan).await?;
        let launch = Launch { docker, deploy, plan: &plan, network: &network, db_port: port, base: base_spec(&plan, &network, mounts) };
        let mut started = launch.services(services.iter().filter(|s| s.before_nodes)).await?;
        // the nodes themselves take the own addresses unless the proxy's client paths do
        let direct_own = own.as_ref().filter(|_| !proxy.as_ref().is_some_and(|p| p.clients));
        let nodes = launch.nodes(proxy.as_ref(), direct_own).await?;
        started.extend(launch.services(services.iter().filter(|s| !s.before_nodes)).await?);
        let base = launch.base;
        let StackPlan { run_id, names, sites, .. } = plan;
        Ok(Stack {
            docker: docker.clone(),
            run_id: run_id.to_string(),
            network,
            primary: Mutex::new(names[0].clone()),
            initial: Mutex::new(names[0].clone()),
            nodes,
            services: started,
            orchestrator: driver.orchestrator(),
            db_port: port,
            proxy,
            actions: Default::default(),
            external: false,
            base,
            backup: Default::default(),
            destroy_data: [DataLoss::Delete, DataLoss::Drop].map(|h| deploy.destroy_data_command(h)),
            clock: deploy.clock(),
            sites,
            moved: Default::default(),
            shards: Default::default(),
        })
    }
}

/// Each node's own loopback address and the free port they share, when the scenario gives
/// the nodes addresses of their own (only a local engine can publish on them).
fn own_addresses(docker: &Docker, net: Option<[u8; 2]>, nodes: usize) -> Result<Option<OwnAddresses>> {
    let Some(net) = net else { return Ok(None) };
    if !docker.client_ip.is_loopback() {
        return Err(Error::usage("the drill's DNS needs a local engine: it publishes each node on a loopback address of its own")
            .hint(format!("the engine's ports are reached at {} (DRDRILL_ENGINE_HOST)", docker.client_ip)));
    }
    let ips: Vec<Ipv4Addr> = (0..nodes).map(|i| own_address(net, i)).collect();
    let p = free_port_on(ips[0])?;
    Ok(Some((ips, p)))
}

/// The proxy's part of `plan`: on the drill's network or every site's, its client paths
/// on the own addresses when clients go through it, a path from each node to each service
/// the nodes reach (`reached`: name, port).
fn proxy_plan<'a>(
    plan: &'a StackPlan<'a>,
    spec: &'a ProxySpec,
    image: &'a str,
    network: &str,
    db_port: u16,
    own: Option<OwnAddresses>,
    reached: Vec<(String, u16)>,
) -> ProxyPlan<'a> {
    let networks = match &plan.sites {
        Some(s) => s.used().iter().map(|x| Sites::network(plan.run_id, x)).collect(),
        None => vec![network.to_string()],
    };
    ProxyPlan {
        spec,
        image,
        run_id: plan.run_id,
        alias: &plan.proxy_alias,
        nodes: plan.names,
        db_port,
        labels: plan.labels,
        networks,
        own_addresses: own.filter(|_| spec.clients),
        sites: plan.sites.clone(),
        reached,
    }
}

/// The deployment's volumes, created for this drill, as (volume, path) mounts.
async fn create_volumes(docker: &Docker, deploy: &dyn Deployment, plan: &StackPlan<'_>) -> Result<Vec<(String, String)>> {
    let mut mounts = Vec::new();
    for (suffix, path) in deploy.volumes() {
        let name = docker::volume_name(plan.run_id, suffix);
        docker.create_volume(&name, plan.labels).await?;
        mounts.push((name, path.to_string()));
    }
    Ok(mounts)
}

/// What every node's container is made of: the image, the first node's network, the
/// drill's labels, the volumes.
fn base_spec(plan: &StackPlan<'_>, network: &str, mounts: Vec<(String, String)>) -> ContainerSpec {
    ContainerSpec {
        image: plan.image.to_string(),
        network: network_of(plan, network, &plan.names[0]),
        cap_add: vec!["NET_ADMIN".into()],
        labels: plan.labels.clone(),
        mounts,
        ..Default::default()
    }
}

/// The network `node` runs on: its site's, or the drill's.
fn network_of(plan: &StackPlan<'_>, network: &str, node: &str) -> String {
    plan.sites.as_ref().and_then(|s| s.network_of(plan.run_id, node)).unwrap_or_else(|| network.to_string())
}

/// What starting the nodes and the services shares, once the proxy and the volumes exist.
struct Launch<'a> {
    docker: &'a Docker,
    deploy: &'a dyn Deployment,
    plan: &'a StackPlan<'a>,
    /// The drill's network (each node in a site runs on its site's instead).
    network: &'a str,
    db_port: u16,
    base: ContainerSpec,
}

impl Launch<'_> {
    /// Starts `services`, in order.
    async fn services(&self, services: impl Iterator<Item = &Sidecar>) -> Result<Vec<Node>> {
        let mut out = Vec::new();
        for svc in services {
            out.push(self.service(svc).await?);
        }
        Ok(out)
    }

    async fn service(&self, svc: &Sidecar) -> Result<Node> {
        let container = docker::container_name(self.plan.run_id, &svc.name);
        let spec = ContainerSpec {
            name: container.clone(),
            alias: svc.name.clone(),
            // a service placed in a site runs on its site's network (an archive host)
            network: network_of(self.plan, &self.base.network, &svc.name),
            env: svc.env.clone(),
            cmd: svc.cmd.clone(),
            entrypoint: svc.entrypoint.clone(),
            labels: node_labels(self.plan.labels, &svc.name),
            mounts: if svc.volumes { self.base.mounts.clone() } else { Vec::new() },
            image: svc.image.clone().unwrap_or_else(|| self.base.image.clone()),
            ..self.base.clone()
        };
        let also: Vec<(u16, u16)> = svc.also.iter().map(|&p| Ok((p, super::ports::free_port()?))).collect::<Result<_>>()?;
        let extra: Vec<(u16, u16)> = also.clone();
        let host_port = super::ports::run_on_free_port(self.docker, &spec, |host_port| ContainerSpec {
            ports: std::iter::once((svc.port, host_port)).chain(extra.iter().copied()).collect(),
            ..spec.clone()
        })
        .await?;
        let ip = self.docker.client_ip;
        Ok(Node { name: svc.name.clone(), container, host: ip, host_port, client_ip: ip, client_port: host_port, also })
    }

    /// Starts every node, primary first: on its own address when it has one (`direct_own`),
    /// else on a free port; its clients reach it through the proxy when they go through it.
    async fn nodes(&self, proxy: Option<&ProxyRoutes>, direct_own: Option<&OwnAddresses>) -> Result<Vec<Node>> {
        let (names, port) = (self.plan.names, self.db_port);
        let mut nodes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let upstream = upstream_of(proxy, name, &names[0], port);
            let (env, cmd) = self.deploy.container(name, &names[0], &names[1..], (&upstream.0, upstream.1));
            let container = docker::container_name(self.plan.run_id, name);
            let (labels, network) = (node_labels(self.plan.labels, name), network_of(self.plan, self.network, name));
            let spec = ContainerSpec { name: container.clone(), alias: name.clone(), env, cmd, labels, network, ..self.base.clone() };
            let (host, host_port) = self.run_node(spec, direct_own.map(|(ips, p)| (ips[i], *p))).await?;
            let (client_ip, client_port) = proxy.and_then(|p| p.client_port(name)).unwrap_or((host, host_port));
            nodes.push(Node { name: name.clone(), container, host, host_port, client_ip, client_port, also: Vec::new() });
        }
        Ok(nodes)
    }

    /// Runs one node's container: published on its own address and port, else on the
    /// port it listens on inside (`container_on_port`), else on a free port. Returns where.
    async fn run_node(&self, spec: ContainerSpec, own: Option<(Ipv4Addr, u16)>) -> Result<(IpAddr, u16)> {
        let (docker, port) = (self.docker, self.db_port);
        match own {
            Some((ip, p)) => {
                docker.run(&ContainerSpec { ports: vec![(port, p)], publish_on: Some(ip.into()), ..spec }).await?;
                Ok((IpAddr::V4(ip), p))
            }
            None if self.deploy.container_on_port(&spec.alias, port).is_some() => {
                Ok((docker.client_ip, run_on_own_port(docker, spec, self.deploy).await?))
            }
            None => Ok((docker.client_ip, run_published(docker, spec, port).await?)),
        }
    }
}

/// Runs node `spec.alias` listening inside on the free host port it is published on (the
/// deployment's `container_on_port`). Returns the port.
/// A deployment may refuse a port (a Redis Cluster node's bus listens 10000 above it): then
/// another free port is drawn.
async fn run_on_own_port(docker: &Docker, spec: ContainerSpec, deploy: &dyn Deployment) -> Result<u16> {
    let fits = |port: u16| deploy.container_on_port(&spec.alias, port).is_some();
    run_on_free_port_where(docker, &spec, fits, |port| {
        let (env, cmd) = deploy.container_on_port(&spec.alias, port).unwrap_or_default();
        ContainerSpec { ports: vec![(port, port)], env, cmd, ..spec.clone() }
    })
    .await
}
