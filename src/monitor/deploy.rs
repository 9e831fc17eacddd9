//! The drill's monitoring, from `docker/monitoring`: an exporter container beside every
//! node (on the drill's network, its /metrics published on 127.0.0.1), and Prometheus and
//! Alertmanager on the host's network listening on 127.0.0.1 only, so Prometheus scrapes
//! the published ports and Alertmanager reaches the webhook drdrill runs there. Their
//! configuration is written into the evidence folder (`monitoring/`) and mounted
//! read-only, the users' rules file too. (Monitoring placed in sites: `placed.rs`.)
use super::config::{Scrape, alertmanager_yml, prometheus_yml};
use super::http::Http;
use crate::docker::{ContainerSpec, Docker, HOST_NETWORK, container_name};
use crate::error::{Error, Result};
use crate::scenario::{MonitoringSpec, Timing};
use crate::stack::{Exporter, free_port};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "drdrill/monitoring:1";
pub(super) const PROMETHEUS: &str = "prometheus";
pub(super) const ALERTMANAGER: &str = "alertmanager";
/// The receiver's container when the monitoring stands in sites: the pager, outside them.
pub(super) const PAGER: &str = "pager";
/// A witness Prometheus (`prometheus-witness-<site>`): with the only monitoring in one site,
/// one in each other site, with the same rules, sending to no Alertmanager. It pages
/// nobody; after the drill it says which rules would have paged from there.
pub(super) const WITNESS: &str = "prometheus-witness";

/// The sites that get a witness Prometheus: with the monitoring in one site of a drill
/// with sites, every other site; otherwise none.
pub fn witness_sites(spec: &MonitoringSpec, sites: &[String]) -> Vec<String> {
    let placed = spec.placed_in();
    match placed.len() {
        1 => sites.iter().filter(|s| !placed.contains(s)).cloned().collect(),
        _ => Vec::new(),
    }
}

/// One exporter to start: the node it watches, its service, and where the node is.
pub struct Target {
    pub service: String,
    pub node: String,
    pub exporter: Exporter,
    /// The node's network (its site's, or the drill's) and its site, if any.
    pub network: String,
    pub site: Option<String>,
}

/// One monitoring container and the site it stands in (None: outside every site).
#[derive(Debug, Clone)]
pub struct Member {
    pub container: String,
    pub site: Option<String>,
}

/// What runs, and where drdrill reaches it.
pub struct Deployed {
    /// The first (or only) Prometheus and Alertmanager …
    pub prometheus_url: String,
    pub alertmanager_url: String,
    /// … and, when the monitoring stands in sites, each site's: (site, Prometheus, Alertmanager).
    pub sites: Vec<(String, String, String)>,
    /// Each exporter, as the report names it (`postgres_exporter 0.11 -> pg-1`).
    pub exporters: Vec<String>,
    /// The pager's `GET /received`, when the receiver runs in a container.
    pub pager_url: Option<String>,
    /// Every container, with its site (what a site fault cuts off or kills).
    pub members: Vec<Member>,
    /// Each witness Prometheus: (site, its URL).
    pub witnesses: Vec<(String, String)>,
}

impl Deployed {
    /// Every (site, Prometheus, Alertmanager): each site's, or the one pair (site "").
    pub fn pairs(&self) -> Vec<(String, String, String)> {
        match self.sites.is_empty() {
            true => vec![(String::new(), self.prometheus_url.clone(), self.alertmanager_url.clone())],
            false => self.sites.clone(),
        }
    }
}

/// Everything the drill's monitoring needs to start.
pub struct Plan<'a> {
    pub docker: &'a Docker,
    pub run_id: &'a str,
    pub labels: &'a HashMap<String, String>,
    pub network: String,
    /// With sites of their own: every site's network (a placed Prometheus joins them all).
    pub site_networks: Vec<String>,
    pub dir: &'a Path,
    pub spec: &'a MonitoringSpec,
    /// The rules files, each mounted read-only.
    pub rules: &'a [(String, PathBuf)],
    /// The image the pager runs (drdrill's own binary), when the monitoring stands in sites.
    pub pager_image: Option<String>,
    /// The sites that get a witness Prometheus (`witness_sites`).
    pub witness_sites: Vec<String>,
}

/// The node names of the monitoring containers (`<node>-exporter`, `prometheus`,
/// `alertmanager`, or one of each per site and the pager), for their logs.
pub fn container_nodes(nodes: &[String], spec: &MonitoringSpec, all_sites: &[String]) -> Vec<String> {
    let exporters = nodes.iter().map(|n| format!("{n}-exporter"));
    let sites = spec.placed_in();
    if sites.is_empty() {
        return exporters.chain([PROMETHEUS.to_string(), ALERTMANAGER.to_string()]).collect();
    }
    let placed = sites.iter().flat_map(|s| [format!("{PROMETHEUS}-{s}"), format!("{ALERTMANAGER}-{s}")]);
    let witnesses = witness_sites(spec, all_sites).into_iter().map(|s| format!("{WITNESS}-{s}"));
    exporters.chain(placed).chain(witnesses).chain([PAGER.to_string()]).collect()
}

/// The evidence folder's `monitoring/`, where the configuration files go.
pub(super) fn config_dir(plan: &Plan<'_>) -> Result<PathBuf> {
    let dir =
        std::path::absolute(plan.dir.join("monitoring")).map_err(|e| Error::infra("failed to resolve the evidence folder").cause(e))?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::infra(format!("failed to create {}", dir.display())).cause(e))?;
    Ok(dir)
}

/// The exporter beside a node, on the node's network, its /metrics published on a free port;
/// the files it reads written under `monitoring/` and mounted read-only.
pub(super) fn exporter_spec(plan: &Plan<'_>, t: &Target, host_port: u16) -> Result<ContainerSpec> {
    let node = format!("{}-exporter", t.node);
    let mounts = super::exporter_files::write(&config_dir(plan)?, &node, &t.exporter.files)?;
    Ok(ContainerSpec {
        name: container_name(plan.run_id, &node),
        image: IMAGE.into(),
        network: t.network.clone(),
        alias: node,
        env: t.exporter.env.clone(),
        cmd: t.exporter.cmd.clone(),
        labels: plan.labels.clone(),
        ports: vec![(t.exporter.port, host_port)],
        // a site cut off: iptables in each monitoring container (placed.rs)
        cap_add: vec!["NET_ADMIN".into()],
        mounts,
        ..Default::default()
    })
}

/// The rules files, each mounted read-only where Prometheus loads them.
pub(super) fn rules_mounts(plan: &Plan<'_>) -> Result<Vec<(PathBuf, String)>> {
    let mut mounts = Vec::new();
    for (i, (_, path)) in plan.rules.iter().enumerate() {
        let abs = std::path::absolute(path).map_err(|e| Error::infra(format!("failed to resolve {}", path.display())).cause(e))?;
        mounts.push((abs, format!("/etc/drdrill/rules/{i}.yml")));
    }
    Ok(mounts)
}

pub async fn start(plan: &Plan<'_>, targets: &[Target], webhook_url: &str) -> Result<Deployed> {
    let dir = config_dir(plan)?;
    let mut scraped = Vec::new();
    for t in targets {
        let port = free_port()?;
        plan.docker.run(&exporter_spec(plan, t, port)?).await?;
        scraped.push(Scrape { job: t.exporter.job, address: format!("127.0.0.1:{port}"), node: &t.node, service: &t.service });
    }
    let (prom_port, am_port) = (free_port()?, free_port()?);
    let timing = plan.spec.timing();
    let am_file = write(&dir, "alertmanager.yml", &alertmanager_yml(&timing, &plan.spec.group_by(), webhook_url))?;
    let prom_file = write(&dir, "prometheus.yml", &prometheus_yml(&timing, &[format!("127.0.0.1:{am_port}")], &scraped))?;
    let mut mounts = vec![(prom_file, "/etc/drdrill/prometheus.yml".to_string())];
    mounts.extend(rules_mounts(plan)?);
    let am = host_container(
        plan,
        ALERTMANAGER,
        vec![(am_file, "/etc/drdrill/alertmanager.yml".to_string())],
        vec![
            "prometheus-alertmanager".into(),
            "--config.file=/etc/drdrill/alertmanager.yml".into(),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
            "--storage.path=/tmp/alertmanager".into(),
        ],
    );
    plan.docker.run(&am).await?;
    let prom = host_container(
        plan,
        PROMETHEUS,
        mounts,
        vec![
            "prometheus".into(),
            "--config.file=/etc/drdrill/prometheus.yml".into(),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            "--storage.tsdb.path=/tmp/prometheus".into(),
        ],
    );
    plan.docker.run(&prom).await?;
    let deployed = Deployed {
        prometheus_url: format!("http://127.0.0.1:{prom_port}"),
        alertmanager_url: format!("http://127.0.0.1:{am_port}"),
        sites: Vec::new(),
        exporters: targets.iter().map(|t| format!("{} -> {}", t.exporter.name, t.node)).collect(),
        pager_url: None,
        members: Vec::new(),
        witnesses: Vec::new(),
    };
    ready(&deployed, targets.len(), &timing).await?;
    Ok(deployed)
}

fn host_container(plan: &Plan<'_>, node: &str, files: Vec<(PathBuf, String)>, cmd: Vec<String>) -> ContainerSpec {
    ContainerSpec {
        name: container_name(plan.run_id, node),
        image: IMAGE.into(),
        network: HOST_NETWORK.into(),
        alias: node.into(),
        cmd,
        labels: plan.labels.clone(),
        mounts: read_only(files),
        ..Default::default()
    }
}

pub(super) fn read_only(files: Vec<(PathBuf, String)>) -> Vec<(String, String)> {
    files.into_iter().map(|(f, to)| (f.display().to_string(), format!("{to}:ro"))).collect()
}

pub(super) fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::infra(format!("failed to write {}", path.display())).cause(e))?;
    Ok(path)
}

/// Waits until both answer and Prometheus has scraped every exporter once.
pub(super) async fn ready(d: &Deployed, exporters: usize, t: &Timing) -> Result<()> {
    let http = Http::new(Duration::from_secs(2))?;
    let bound = Duration::from_millis(30_000 + 2 * t.scrape_interval_ms);
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < bound {
        match scraped_once(&http, d, exporters).await {
            Ok(true) => return Ok(()),
            Ok(false) => last = "not every exporter scraped yet".into(),
            Err(e) => last = e.one_line(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Error::infra(format!("failed to start the drill's monitoring within {} s", bound.as_secs()))
        .cause_text(last)
        .hint("Prometheus' and Alertmanager's logs are in the evidence folder's logs/"))
}

/// Every Alertmanager answers (its cluster settled, when it has one) and every Prometheus
/// has scraped every exporter once.
async fn scraped_once(http: &Http, d: &Deployed, exporters: usize) -> Result<bool> {
    for (_, prom, am) in d.pairs() {
        let status = http.get_json(&format!("{am}/api/v2/status")).await?;
        let cluster = status.get("cluster").and_then(|c| c.get("status")).and_then(|s| s.as_str()).unwrap_or("disabled");
        let targets = http.get_json(&format!("{prom}/api/v1/targets?state=active")).await?;
        let active = targets.get("activeTargets").and_then(|a| a.as_array()).cloned().unwrap_or_default();
        let scraped = active.iter().filter(|t| t.get("health").and_then(|h| h.as_str()).is_some_and(|h| h != "unknown")).count();
        if !matches!(cluster, "ready" | "disabled") || scraped < exporters {
            return Ok(false);
        }
    }
    Ok(true)
}
