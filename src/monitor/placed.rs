//! The drill's monitoring placed in sites (`monitoring.site`, `monitoring.sites`): in each
//! of its sites a Prometheus and an Alertmanager, the Alertmanagers clustered when there
//! are several; an exporter beside every node, on the node's own network; and the
//! receiver, the pager, in a container of its own outside every site (drdrill's binary,
//! `drdrill pager`), which drdrill reads back on a published port. Each Prometheus joins
//! every site's network and scrapes the exporters by name; what a site fault does to the
//! monitoring is `cuts.rs`'s.
use super::config::{Scrape, alertmanager_yml, prometheus_yml};
use super::deploy::{
    ALERTMANAGER, Deployed, IMAGE, Member, PAGER, PROMETHEUS, Plan, Target, WITNESS, config_dir, exporter_spec, read_only, ready,
    rules_mounts, write,
};
use crate::docker::{ContainerSpec, container_name};
use crate::error::{Error, Result};
use crate::stack::free_port;

const PAGER_PORT: u16 = 9095;
const PROMETHEUS_PORT: u16 = 9090;
const ALERTMANAGER_PORT: u16 = 9093;
const GOSSIP_PORT: u16 = 9094;

/// Starts the pager, the exporters, and each site's Alertmanager and Prometheus; returns
/// once every Prometheus has scraped every exporter and the Alertmanagers' cluster settled.
pub async fn start(plan: &Plan<'_>, targets: &[Target]) -> Result<Deployed> {
    let sites = plan.spec.placed_in();
    let dir = config_dir(plan)?;
    let mut members = Vec::new();
    let pager_port = free_port()?;
    plan.docker.run(&pager_spec(plan, pager_port)?).await?;
    members.push(Member { container: container_name(plan.run_id, PAGER), site: None });
    for t in targets {
        plan.docker.run(&exporter_spec(plan, t, free_port()?)?).await?;
        members.push(Member { container: container_name(plan.run_id, &format!("{}-exporter", t.node)), site: t.site.clone() });
    }
    let timing = plan.spec.timing();
    let webhook = format!("http://{PAGER}:{PAGER_PORT}/alerts");
    let am_file = write(&dir, "alertmanager.yml", &alertmanager_yml(&timing, &plan.spec.group_by(), &webhook))?;
    let alertmanagers: Vec<String> = sites.iter().map(|s| format!("{ALERTMANAGER}-{s}:{ALERTMANAGER_PORT}")).collect();
    let scraped: Vec<Scrape> = targets
        .iter()
        .map(|t| Scrape {
            job: t.exporter.job,
            address: format!("{}-exporter:{}", t.node, t.exporter.port),
            node: &t.node,
            service: &t.service,
        })
        .collect();
    let host = plan.docker.client_ip;
    let mut placed = Vec::new();
    for site in &sites {
        let am_port = free_port()?;
        plan.docker.run(&alertmanager_spec(plan, site, &sites, am_file.clone(), am_port)).await?;
        let prom_file = write(&dir, &format!("prometheus-{site}.yml"), &prometheus_yml(&timing, &alertmanagers, &scraped))?;
        let prom_port = free_port()?;
        plan.docker.run(&prometheus_spec(plan, &format!("{PROMETHEUS}-{site}"), prom_file, prom_port)?).await?;
        for node in [PROMETHEUS, ALERTMANAGER] {
            members.push(Member { container: container_name(plan.run_id, &format!("{node}-{site}")), site: Some(site.clone()) });
        }
        placed.push((site.clone(), format!("http://{host}:{prom_port}"), format!("http://{host}:{am_port}")));
    }
    let mut witnesses = Vec::new();
    for site in &plan.witness_sites {
        let node = format!("{WITNESS}-{site}");
        let file = write(&dir, &format!("{node}.yml"), &prometheus_yml(&timing, &[], &scraped))?;
        let port = free_port()?;
        plan.docker.run(&prometheus_spec(plan, &node, file, port)?).await?;
        members.push(Member { container: container_name(plan.run_id, &node), site: Some(site.clone()) });
        witnesses.push((site.clone(), format!("http://{host}:{port}")));
    }
    let deployed = Deployed {
        prometheus_url: placed[0].1.clone(),
        alertmanager_url: placed[0].2.clone(),
        sites: placed,
        exporters: targets.iter().map(|t| format!("{} -> {}", t.exporter.name, t.node)).collect(),
        pager_url: Some(format!("http://{host}:{pager_port}/received")),
        members,
        witnesses,
    };
    ready(&deployed, targets.len(), &timing).await?;
    Ok(deployed)
}

/// The pager: drdrill's own binary (the proxy's image) on the drill's network, outside
/// every site.
fn pager_spec(plan: &Plan<'_>, host_port: u16) -> Result<ContainerSpec> {
    let image = plan.pager_image.clone().ok_or_else(|| Error::infra("the pager needs drdrill's own image (a bug)"))?;
    Ok(ContainerSpec {
        name: container_name(plan.run_id, PAGER),
        image,
        network: plan.network.clone(),
        alias: PAGER.into(),
        entrypoint: Some(vec!["/usr/local/bin/drdrill".into(), "pager".into(), "--listen".into(), format!("0.0.0.0:{PAGER_PORT}")]),
        labels: plan.labels.clone(),
        ports: vec![(PAGER_PORT, host_port)],
        cap_add: vec!["NET_ADMIN".into()],
        ..Default::default()
    })
}

/// A site's Alertmanager on the drill's network; with several sites, gossiping with
/// every other site's (`--cluster.peer`), Alertmanager's own cluster timing.
fn alertmanager_spec(plan: &Plan<'_>, site: &str, sites: &[String], config: std::path::PathBuf, host_port: u16) -> ContainerSpec {
    let mut cmd = vec![
        "prometheus-alertmanager".to_string(),
        "--config.file=/etc/drdrill/alertmanager.yml".into(),
        format!("--web.listen-address=0.0.0.0:{ALERTMANAGER_PORT}"),
        "--storage.path=/tmp/alertmanager".into(),
    ];
    if sites.len() > 1 {
        cmd.push(format!("--cluster.listen-address=0.0.0.0:{GOSSIP_PORT}"));
        cmd.extend(sites.iter().filter(|s| *s != site).map(|s| format!("--cluster.peer={ALERTMANAGER}-{s}:{GOSSIP_PORT}")));
        let peer_timeout = plan.spec.peer_timeout_ms.unwrap_or(crate::scenario::PEER_TIMEOUT_MS);
        cmd.push(format!("--cluster.peer-timeout={peer_timeout}ms"));
    } else {
        cmd.push("--cluster.listen-address=".into());
    }
    let node = format!("{ALERTMANAGER}-{site}");
    ContainerSpec {
        name: container_name(plan.run_id, &node),
        image: IMAGE.into(),
        network: plan.network.clone(),
        alias: node,
        cmd,
        labels: plan.labels.clone(),
        ports: vec![(ALERTMANAGER_PORT, host_port)],
        mounts: read_only(vec![(config, "/etc/drdrill/alertmanager.yml".into())]),
        cap_add: vec!["NET_ADMIN".into()],
        ..Default::default()
    }
}

/// A site's Prometheus (or witness, `node`): on the drill's network (its Alertmanagers)
/// and every site's (the exporters).
fn prometheus_spec(plan: &Plan<'_>, node: &str, config: std::path::PathBuf, host_port: u16) -> Result<ContainerSpec> {
    let mut files = vec![(config, "/etc/drdrill/prometheus.yml".to_string())];
    files.extend(rules_mounts(plan)?);
    let node = node.to_string();
    Ok(ContainerSpec {
        name: container_name(plan.run_id, &node),
        image: IMAGE.into(),
        network: plan.network.clone(),
        more_networks: plan.site_networks.clone(),
        alias: node,
        cmd: vec![
            "prometheus".into(),
            "--config.file=/etc/drdrill/prometheus.yml".into(),
            format!("--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}"),
            "--storage.tsdb.path=/tmp/prometheus".into(),
        ],
        labels: plan.labels.clone(),
        ports: vec![(PROMETHEUS_PORT, host_port)],
        mounts: read_only(files),
        cap_add: vec!["NET_ADMIN".into()],
        ..Default::default()
    })
}
