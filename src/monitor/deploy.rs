//! The drill's monitoring, from `docker/monitoring`: an exporter container beside every
//! node (on the drill's network, its /metrics published on 127.0.0.1), and Prometheus and
//! Alertmanager on the host's network listening on 127.0.0.1 only, so Prometheus scrapes
//! the published ports and Alertmanager reaches the webhook drdrill runs there. Their
//! configuration is written into the evidence folder (`monitoring/`) and mounted
//! read-only, the users' rules file too.
use super::http::Http;
use crate::docker::{ContainerSpec, Docker, HOST_NETWORK, container_name};
use crate::error::{Error, Result};
use crate::scenario::{MonitoringSpec, Timing};
use crate::stack::{Exporter, free_port};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "drdrill/monitoring:1";
const PROMETHEUS: &str = "prometheus";
const ALERTMANAGER: &str = "alertmanager";

/// One exporter to start: the node it watches and its service.
pub struct Target {
    pub service: String,
    pub node: String,
    pub exporter: Exporter,
}

/// What runs, and where drdrill reaches it.
pub struct Deployed {
    pub prometheus_url: String,
    pub alertmanager_url: String,
    /// Each exporter, as the report names it (`postgres_exporter 0.11 -> pg-1`).
    pub exporters: Vec<String>,
}

/// Everything the drill's monitoring needs to start.
pub struct Plan<'a> {
    pub docker: &'a Docker,
    pub run_id: &'a str,
    pub labels: &'a HashMap<String, String>,
    pub network: String,
    pub dir: &'a Path,
    pub spec: &'a MonitoringSpec,
    /// The rules files, each mounted read-only.
    pub rules: &'a [(String, PathBuf)],
}

/// The node names of the monitoring containers (`<node>-exporter`, `prometheus`,
/// `alertmanager`), for their logs.
pub fn container_nodes(nodes: &[String]) -> Vec<String> {
    nodes.iter().map(|n| format!("{n}-exporter")).chain([PROMETHEUS.to_string(), ALERTMANAGER.to_string()]).collect()
}

pub async fn start(plan: &Plan<'_>, targets: &[Target], webhook_url: &str) -> Result<Deployed> {
    let dir =
        std::path::absolute(plan.dir.join("monitoring")).map_err(|e| Error::infra("failed to resolve the evidence folder").cause(e))?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::infra(format!("failed to create {}", dir.display())).cause(e))?;
    let mut scraped = Vec::new();
    for t in targets {
        let port = free_port()?;
        let node = format!("{}-exporter", t.node);
        let mounts = super::exporter_files::write(&dir, &node, &t.exporter.files)?;
        let spec = ContainerSpec {
            name: container_name(plan.run_id, &node),
            image: IMAGE.into(),
            network: plan.network.clone(),
            alias: node,
            env: t.exporter.env.clone(),
            cmd: t.exporter.cmd.clone(),
            labels: plan.labels.clone(),
            ports: vec![(t.exporter.port, port)],
            mounts,
            ..Default::default()
        };
        plan.docker.run(&spec).await?;
        scraped.push((t, port));
    }
    let (prom_port, am_port) = (free_port()?, free_port()?);
    let timing = plan.spec.timing();
    let am_file = write(&dir, "alertmanager.yml", &alertmanager_yml(&timing, &plan.spec.group_by(), webhook_url))?;
    let prom_file = write(&dir, "prometheus.yml", &prometheus_yml(&timing, am_port, &scraped))?;
    let mut mounts = vec![(prom_file, "/etc/drdrill/prometheus.yml".to_string())];
    for (i, (_, path)) in plan.rules.iter().enumerate() {
        let abs = std::path::absolute(path).map_err(|e| Error::infra(format!("failed to resolve {}", path.display())).cause(e))?;
        mounts.push((abs, format!("/etc/drdrill/rules/{i}.yml")));
    }
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
        exporters: scraped.iter().map(|(t, _)| format!("{} -> {}", t.exporter.name, t.node)).collect(),
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
        mounts: files.into_iter().map(|(f, to)| (f.display().to_string(), format!("{to}:ro"))).collect(),
        ..Default::default()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::infra(format!("failed to write {}", path.display())).cause(e))?;
    Ok(path)
}

/// Prometheus' configuration: the scenario's intervals, the rules file, Alertmanager, and
/// one job per exporter kind, each target labelled with its node (`instance`) and service.
pub fn prometheus_yml(t: &Timing, am_port: u16, scraped: &[(&Target, u16)]) -> String {
    let mut y = String::new();
    let timeout = t.scrape_interval_ms.min(10_000);
    let _ = writeln!(
        y,
        "global:\n  scrape_interval: {}ms\n  evaluation_interval: {}ms\n  scrape_timeout: {timeout}ms",
        t.scrape_interval_ms, t.evaluation_interval_ms
    );
    let _ = writeln!(y, "rule_files: [/etc/drdrill/rules/*.yml]");
    let _ = writeln!(y, "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]");
    let _ = writeln!(y, "scrape_configs:");
    let mut jobs: Vec<&str> = scraped.iter().map(|(t, _)| t.exporter.job).collect();
    jobs.sort();
    jobs.dedup();
    for job in jobs {
        let _ = writeln!(y, "  - job_name: {job}\n    static_configs:");
        for (t, port) in scraped.iter().filter(|(t, _)| t.exporter.job == job) {
            let _ = writeln!(y, "      - targets: ['127.0.0.1:{port}']\n        labels: {{instance: {}, service: {}}}", t.node, t.service);
        }
    }
    y
}

/// Alertmanager's configuration: one route to the drill's webhook, resolved alerts too.
pub fn alertmanager_yml(t: &Timing, group_by: &[String], webhook: &str) -> String {
    format!(
        "route:\n  receiver: drdrill\n  group_by: [{}]\n  group_wait: {}ms\n  group_interval: {}ms\n  repeat_interval: 4h\nreceivers:\n  - name: drdrill\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n",
        group_by.join(", "),
        t.group_wait_ms,
        t.group_interval_ms
    )
}

/// Waits until both answer and Prometheus has scraped every exporter once.
async fn ready(d: &Deployed, exporters: usize, t: &Timing) -> Result<()> {
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

async fn scraped_once(http: &Http, d: &Deployed, exporters: usize) -> Result<bool> {
    http.get_json(&format!("{}/api/v2/status", d.alertmanager_url)).await?;
    let targets = http.get_json(&format!("{}/api/v1/targets?state=active", d.prometheus_url)).await?;
    let active = targets.get("activeTargets").and_then(|a| a.as_array()).cloned().unwrap_or_default();
    let scraped = active.iter().filter(|t| t.get("health").and_then(|h| h.as_str()).is_some_and(|h| h != "unknown")).count();
    Ok(scraped >= exporters)
}
