//! Teardown tied to ownership: `RunGuard` removes a run's resources and checks that none
//! is left. Selection is strictly by the `drdrill.run` label: nothing else is ever touched.
use super::{Docker, LABEL_RUN};
use crate::error::{Error, Result};
use bollard::container::{ListContainersOptions, RemoveContainerOptions};
use bollard::network::ListNetworksOptions;
use bollard::volume::{ListVolumesOptions, RemoveVolumeOptions};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Container,
    Network,
    Volume,
}

/// One labelled container, network or volume.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: ResourceKind,
    /// Id for containers; the name for networks and volumes.
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ResourceKind::Container => "container",
            ResourceKind::Network => "network",
            ResourceKind::Volume => "volume",
        };
        write!(f, "{kind} {}", self.name)
    }
}

/// Every resource labelled with `run` (any run when None): containers in any state, then
/// networks, then volumes (the order they can be removed in).
pub async fn list(docker: &Docker, run: Option<&str>) -> Result<Vec<Resource>> {
    let label = match run {
        Some(r) => format!("{LABEL_RUN}={r}"),
        None => LABEL_RUN.to_string(),
    };
    let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), vec![label])]);
    let api = &docker.api;
    let mut found = Vec::new();
    let containers = api
        .list_containers(Some(ListContainersOptions { all: true, filters: filters.clone(), ..Default::default() }))
        .await
        .map_err(|e| Error::infra("failed to list drill containers").cause(e))?;
    for c in containers {
        let name = c.names.unwrap_or_default().first().cloned().unwrap_or_default().trim_start_matches('/').to_string();
        let id = c.id.unwrap_or_default();
        found.push(Resource { kind: ResourceKind::Container, id, name, labels: c.labels.unwrap_or_default() });
    }
    let networks = api
        .list_networks(Some(ListNetworksOptions { filters: filters.clone() }))
        .await
        .map_err(|e| Error::infra("failed to list drill networks").cause(e))?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        found.push(Resource { kind: ResourceKind::Network, id: name.clone(), name, labels: n.labels.unwrap_or_default() });
    }
    let volumes =
        api.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(|e| Error::infra("failed to list drill volumes").cause(e))?;
    for v in volumes.volumes.unwrap_or_default() {
        found.push(Resource { kind: ResourceKind::Volume, id: v.name.clone(), name: v.name, labels: v.labels });
    }
    Ok(found)
}

/// Removes one resource; one that is already gone counts as removed.
pub async fn remove(docker: &Docker, r: &Resource) -> Result<()> {
    let api = &docker.api;
    let result = match r.kind {
        ResourceKind::Container => {
            api.remove_container(&r.id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await
        }
        ResourceKind::Network => api.remove_network(&r.id).await,
        ResourceKind::Volume => api.remove_volume(&r.id, Some(RemoveVolumeOptions { force: true })).await,
    };
    match result {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
        Err(e) => Err(Error::infra(format!("failed to remove {r}")).cause(e)),
    }
}

/// Calls still in flight when a drill was interrupted (a create whose client future was
/// dropped) can land after the first sweep: teardown only counts as verified once listings
/// have stayed empty this long.
const QUIET: Duration = Duration::from_millis(1000);
const EVERY: Duration = Duration::from_millis(300);
const BOUND: Duration = Duration::from_secs(10);

/// What teardown removed and whether a final check found nothing left.
#[derive(Debug, Clone, Default)]
pub struct TeardownReport {
    /// `container drdrill-…`, `network drdrill-…`.
    pub removed: Vec<String>,
    /// Listings stayed empty for `QUIET` after the last removal.
    pub verified: bool,
    /// What the last listing still found (when not verified).
    pub leftovers: Vec<String>,
    /// Removals or listings that failed on the way.
    pub errors: Vec<String>,
}

/// Removes `found` kind by kind, each kind's resources concurrently (containers first,
/// then the networks they were on, then volumes), as one `docker rm -f a b c` would.
async fn remove_all(docker: &Docker, found: &[Resource], report: &mut TeardownReport) {
    for kind in [ResourceKind::Container, ResourceKind::Network, ResourceKind::Volume] {
        let batch: Vec<&Resource> = found.iter().filter(|r| r.kind == kind).collect();
        let done = futures_util::future::join_all(batch.iter().map(|r| remove(docker, r))).await;
        for (r, res) in batch.into_iter().zip(done) {
            match res {
                Ok(()) => report.removed.push(r.to_string()),
                Err(e) => report.errors.push(e.one_line()),
            }
        }
    }
}

/// Sweeps `run` by label until listings stay empty for `quiet`, within `BOUND`.
async fn sweep_until_empty(docker: &Docker, run: &str, quiet: Duration) -> TeardownReport {
    let started = Instant::now();
    let mut report = TeardownReport::default();
    let mut quiet_since: Option<Instant> = None;
    loop {
        match list(docker, Some(run)).await {
            Ok(found) if found.is_empty() => {
                report.leftovers.clear();
                if quiet_since.get_or_insert_with(Instant::now).elapsed() >= quiet {
                    report.verified = true;
                    return report;
                }
            }
            Ok(found) => {
                quiet_since = None;
                report.leftovers = found.iter().map(ToString::to_string).collect();
                let errors = report.errors.len();
                remove_all(docker, &found, &mut report).await;
                if report.errors.len() == errors && started.elapsed() < BOUND {
                    continue; // all removed: list again at once, the check that nothing is left
                }
            }
            Err(e) => {
                quiet_since = None;
                report.errors.push(e.one_line());
            }
        }
        if started.elapsed() >= BOUND {
            return report;
        }
        tokio::time::sleep(EVERY).await;
    }
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

    /// Removes everything labelled with this run (whatever its owner: this is the owner),
    /// repeatedly, until a check finds nothing; the report says whether it did. After a
    /// drill that ended cleanly no call is in flight, so one empty listing is the check;
    /// after an error or an interruption listings must stay empty for `QUIET`.
    pub async fn teardown(&mut self, clean: bool) -> TeardownReport {
        let quiet = if clean { Duration::ZERO } else { QUIET };
        // a create still in flight lands first, then is listed and removed
        let settled = self.docker.inflight.settled(BOUND).await;
        let mut report = sweep_until_empty(&self.docker, &self.run_id, quiet).await;
        if !settled {
            report.errors.push(format!(
                "{} engine calls creating a resource were still in flight after {} s",
                self.docker.inflight.count(),
                BOUND.as_secs()
            ));
        }
        self.armed = false;
        report
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
                Some(sweep_until_empty(&d, &run, QUIET).await)
            })
        })
        .join();
    }
}
