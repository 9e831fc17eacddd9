//! Teardown tied to ownership, plus `drdrill gc` for what a killed run left behind.
//! Both select strictly by the `drdrill.run` label: nothing else is ever touched.
use super::{Docker, LABEL_PID, LABEL_RUN};
use crate::error::{Error, Result};
use bollard::container::ListContainersOptions;
use bollard::network::ListNetworksOptions;
use bollard::volume::{ListVolumesOptions, RemoveVolumeOptions};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default, Clone)]
pub struct GcReport {
    pub runs: BTreeSet<String>,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Runs left alone because their drdrill process is still alive.
    pub skipped_live: BTreeSet<String>,
}

fn pid_alive(pid: &str) -> bool {
    pid.parse::<u32>().is_ok_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
}

/// Removes labelled containers, networks and volumes: of one run, or of every run whose
/// owning process is gone (all of them with `force`).
pub async fn gc(docker: &Docker, run: Option<&str>, force: bool) -> Result<GcReport> {
    let label = match run {
        Some(r) => format!("{LABEL_RUN}={r}"),
        None => LABEL_RUN.to_string(),
    };
    let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), vec![label.clone()])]);
    let api = &docker.api;
    let mut report = GcReport::default();
    let containers = api
        .list_containers(Some(ListContainersOptions { all: true, filters: filters.clone(), ..Default::default() }))
        .await
        .map_err(|e| Error::infra("failed to list drill containers").cause(e))?;
    let mut live_runs = BTreeSet::new();
    for c in &containers {
        let labels = c.labels.clone().unwrap_or_default();
        let run_id = labels.get(LABEL_RUN).cloned().unwrap_or_default();
        if run.is_none() && !force && labels.get(LABEL_PID).is_some_and(|p| pid_alive(p)) {
            live_runs.insert(run_id);
        }
    }
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        let run_id = labels.get(LABEL_RUN).cloned().unwrap_or_default();
        if live_runs.contains(&run_id) {
            continue;
        }
        let name = c.names.unwrap_or_default().first().cloned().unwrap_or_default().trim_start_matches('/').to_string();
        let id = c.id.unwrap_or_default();
        docker.remove(&id).await?;
        report.runs.insert(run_id);
        report.containers.push(name);
    }
    let networks = api
        .list_networks(Some(ListNetworksOptions { filters: filters.clone() }))
        .await
        .map_err(|e| Error::infra("failed to list drill networks").cause(e))?;
    for n in networks {
        let run_id = n.labels.unwrap_or_default().get(LABEL_RUN).cloned().unwrap_or_default();
        if live_runs.contains(&run_id) {
            continue;
        }
        let name = n.name.unwrap_or_default();
        api.remove_network(&name).await.map_err(|e| Error::infra(format!("failed to remove network {name}")).cause(e))?;
        report.runs.insert(run_id);
        report.networks.push(name);
    }
    let volumes =
        api.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(|e| Error::infra("failed to list drill volumes").cause(e))?;
    for v in volumes.volumes.unwrap_or_default() {
        let run_id = v.labels.get(LABEL_RUN).cloned().unwrap_or_default();
        if live_runs.contains(&run_id) {
            continue;
        }
        api.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true }))
            .await
            .map_err(|e| Error::infra(format!("failed to remove volume {}", v.name)).cause(e))?;
        report.runs.insert(run_id);
        report.volumes.push(v.name);
    }
    report.skipped_live = live_runs;
    Ok(report)
}

/// Owns a run's resources. `teardown` removes them; if the guard is dropped without
/// teardown (a panic unwinding, an early return), Drop removes them on a fresh runtime.
pub struct RunGuard {
    pub run_id: String,
    docker: Docker,
    armed: bool,
}

impl RunGuard {
    pub fn new(docker: Docker, run_id: &str) -> Self {
        RunGuard { run_id: run_id.to_string(), docker, armed: true }
    }
    pub async fn teardown(&mut self) -> Result<GcReport> {
        let r = gc(&self.docker, Some(&self.run_id), true).await;
        if r.is_ok() {
            self.armed = false;
        }
        r
    }
    /// `--keep`: leave the stack up on purpose.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let run = self.run_id.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let d = Docker::connect().await.ok()?;
                gc(&d, Some(&run), true).await.ok()
            })
        })
        .join();
    }
}
