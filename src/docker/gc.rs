//! `drdrill gc`: removes what killed drills left, never a live drill's resources, and
//! saves the containers' logs into the run's evidence folder first.
use super::cleanup::{Resource, ResourceKind, list, remove};
use super::liveness::{Liveness, Owner, hostname, start_time};
use super::{Docker, LABEL_EVIDENCE, LABEL_NODE, LABEL_RUN};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct GcReport {
    pub runs: BTreeSet<String>,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Runs left alone because their drdrill process is (or may be) alive: run -> why.
    pub skipped_live: BTreeMap<String, String>,
    /// Evidence folders that received the removed containers' logs and a GC-NOTE.txt.
    pub evidence: Vec<PathBuf>,
}

/// Removes labelled containers, networks and volumes: of one run, or of every run. A run
/// whose owning process is alive (judged from the labels of all its resources) is left
/// alone unless `force`.
pub async fn gc(docker: &Docker, run: Option<&str>, force: bool) -> Result<GcReport> {
    let mut runs: BTreeMap<String, Vec<Resource>> = BTreeMap::new();
    for r in list(docker, run).await? {
        runs.entry(r.labels.get(LABEL_RUN).cloned().unwrap_or_default()).or_default().push(r);
    }
    let host = hostname();
    let mut report = GcReport::default();
    for (run_id, resources) in runs {
        let live = resources.iter().find_map(|r| match Owner::from_labels(&r.labels).liveness(&host, start_time) {
            Liveness::Live(why) => Some(why),
            Liveness::Dead => None,
        });
        if let (Some(why), false) = (&live, force) {
            report.skipped_live.insert(run_id, why.clone());
            continue;
        }
        let evidence = resources.iter().find_map(|r| r.labels.get(LABEL_EVIDENCE)).map(PathBuf::from).filter(|p| p.is_dir());
        let mut note = Vec::new();
        for r in &resources {
            let saved = match (&evidence, r.kind) {
                (Some(dir), ResourceKind::Container) => save_log(docker, r, &run_id, dir).await,
                _ => None,
            };
            remove(docker, r).await?;
            note.push(match saved {
                Some(file) => format!("{r} (logs saved to {file})"),
                None => r.to_string(),
            });
            match r.kind {
                ResourceKind::Container => report.containers.push(r.name.clone()),
                ResourceKind::Network => report.networks.push(r.name.clone()),
                ResourceKind::Volume => report.volumes.push(r.name.clone()),
            }
        }
        if let Some(dir) = evidence {
            let owner = resources.first().map(|r| Owner::from_labels(&r.labels)).unwrap_or_default();
            write_note(&dir, &note, &owner, live.as_deref())?;
            report.evidence.push(dir);
        }
        report.runs.insert(run_id);
    }
    Ok(report)
}

/// Node name from its label, else from the container name `drdrill-<run>-<node>`.
fn node_of(r: &Resource, run_id: &str) -> String {
    r.labels
        .get(LABEL_NODE)
        .cloned()
        .unwrap_or_else(|| r.name.strip_prefix(&format!("{}-", super::network_name(run_id))).unwrap_or(&r.name).to_string())
}

/// Saves a container's logs as `logs/<node>.log`, or `logs/<node>.gc.log` when the drill
/// saved that one already; returns the file written (relative to the evidence folder).
async fn save_log(docker: &Docker, r: &Resource, run_id: &str, dir: &Path) -> Option<String> {
    let text = docker.logs(&r.id).await.ok()?;
    let node = node_of(r, run_id);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).ok()?;
    let file = if logs.join(format!("{node}.log")).exists() { format!("{node}.gc.log") } else { format!("{node}.log") };
    std::fs::write(logs.join(&file), text).ok()?;
    Some(format!("logs/{file}"))
}

/// `GC-NOTE.txt`: what gc removed, when, and why the drill did not clean up itself.
fn write_note(dir: &Path, removed: &[String], owner: &Owner, live: Option<&str>) -> Result<()> {
    let mut text = format!("drdrill gc removed at {}:\n", chrono::Utc::now().to_rfc3339());
    for r in removed {
        let _ = writeln!(text, "  {r}");
    }
    let who = match (owner.pid, &owner.host) {
        (Some(p), Some(h)) => format!("drdrill process (pid {p} on {h})"),
        (Some(p), None) => format!("drdrill process (pid {p})"),
        _ => "drdrill process".to_string(),
    };
    let why = match live {
        Some(why) => format!("gc --force removed them although {why}; the drill did not finish its own teardown."),
        None if dir.join("results.json").exists() => {
            format!("The drill wrote results.json, then left its stack up (--keep); its {who} has ended.")
        }
        None => format!("The drill did not finish: its {who} was gone (killed?), so results.json may be missing."),
    };
    let _ = writeln!(text, "{why}");
    let path = dir.join("GC-NOTE.txt");
    let previous = std::fs::read_to_string(&path).map(|p| p + "\n").unwrap_or_default();
    std::fs::write(&path, previous + &text).map_err(|e| Error::infra(format!("failed to write {}", path.display())).cause(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn node_names_and_note() {
        let mut r = Resource { kind: ResourceKind::Container, id: "abc".into(), name: "drdrill-r1-pg-2".into(), labels: HashMap::new() };
        assert_eq!(node_of(&r, "r1"), "pg-2");
        r.labels.insert(LABEL_NODE.into(), "proxy".into());
        assert_eq!(node_of(&r, "r1"), "proxy");
        let dir = tempfile::tempdir().unwrap();
        let owner = Owner { pid: Some(7), pid_start: Some(1), host: Some("h".into()) };
        write_note(dir.path(), &["container drdrill-r1-pg-2".into()], &owner, None).unwrap();
        let note = std::fs::read_to_string(dir.path().join("GC-NOTE.txt")).unwrap();
        assert!(note.contains("container drdrill-r1-pg-2") && note.contains("did not finish") && note.contains("pid 7 on h"), "{note}");
    }
}
