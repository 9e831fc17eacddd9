//! Is the drdrill process that owns a run still alive? Decided from the owner labels every
//! resource carries: `drdrill.pid`, `drdrill.pid_start` (the process start time, field 22
//! of /proc/<pid>/stat, so a reused PID is not mistaken for the drill) and `drdrill.host`.
use super::{LABEL_EVIDENCE, LABEL_HOST, LABEL_PID, LABEL_PID_START, LABEL_RUN, LABEL_SCENARIO};
use std::collections::HashMap;
use std::path::Path;

/// The process that owns a run, as its labels say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owner {
    pub pid: Option<u32>,
    pub pid_start: Option<u64>,
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    /// The owner runs (or may run: another host); the reason says how we know.
    Live(String),
    Dead,
}

impl Owner {
    pub fn from_labels(labels: &HashMap<String, String>) -> Owner {
        Owner {
            pid: labels.get(LABEL_PID).and_then(|p| p.parse().ok()),
            pid_start: labels.get(LABEL_PID_START).and_then(|p| p.parse().ok()),
            host: labels.get(LABEL_HOST).cloned(),
        }
    }

    /// This process.
    pub fn me() -> Owner {
        let pid = std::process::id();
        Owner { pid: Some(pid), pid_start: start_time(pid), host: Some(hostname()) }
    }

    /// The rule: on another host, live (we cannot look; only `--force` removes it); on this
    /// host, live iff /proc/<pid> exists and started when the label says (a label without
    /// a start time, from an older drdrill, counts as live while the PID exists). `start_of`
    /// reads a PID's start time (None: no such process).
    pub fn liveness(&self, this_host: &str, start_of: impl Fn(u32) -> Option<u64>) -> Liveness {
        if let Some(h) = self.host.as_deref().filter(|h| *h != this_host) {
            return Liveness::Live(format!("its drdrill process runs on host {h}, which gc cannot check"));
        }
        let Some(pid) = self.pid else { return Liveness::Dead };
        match (start_of(pid), self.pid_start) {
            (None, _) => Liveness::Dead,
            (Some(now), Some(then)) if now != then => Liveness::Dead,
            _ => Liveness::Live(format!("its drdrill process (pid {pid}) is still running")),
        }
    }

    /// Labels that name this process as a run's owner.
    pub fn labels(&self) -> Vec<(String, String)> {
        let mut l = Vec::new();
        if let Some(p) = self.pid {
            l.push((LABEL_PID.to_string(), p.to_string()));
        }
        if let Some(s) = self.pid_start {
            l.push((LABEL_PID_START.to_string(), s.to_string()));
        }
        if let Some(h) = &self.host {
            l.push((LABEL_HOST.to_string(), h.clone()));
        }
        l
    }
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) is in parentheses and may hold spaces: count after it
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(22 - 3)?.parse().ok()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Every label a drill puts on its containers, networks and volumes: run, scenario, owner
/// and the evidence folder (absolute, so `gc` can save logs from anywhere).
pub fn run_labels(run_id: &str, scenario: &str, evidence: &Path) -> HashMap<String, String> {
    let evidence = std::path::absolute(evidence).unwrap_or_else(|_| evidence.to_path_buf());
    let mut l = HashMap::from([
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_SCENARIO.to_string(), scenario.to_string()),
        (LABEL_EVIDENCE.to_string(), evidence.display().to_string()),
    ]);
    l.extend(Owner::me().labels());
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(pid: u32, start: Option<u64>, host: &str) -> Owner {
        Owner { pid: Some(pid), pid_start: start, host: Some(host.into()) }
    }

    #[test]
    fn pid_reuse_and_other_hosts() {
        let running = |pid: u32| (pid == 42).then_some(1000);
        assert!(matches!(owner(42, Some(1000), "a").liveness("a", running), Liveness::Live(_)));
        // same PID, another start time: the PID was reused by an unrelated process
        assert_eq!(owner(42, Some(999), "a").liveness("a", running), Liveness::Dead);
        assert_eq!(owner(7, Some(1000), "a").liveness("a", running), Liveness::Dead);
        // another host: we cannot look, so it is live (only --force removes it)
        assert!(matches!(owner(7, Some(1000), "b").liveness("a", running), Liveness::Live(r) if r.contains("host b")));
        // an older drdrill labelled the PID only
        assert!(matches!(Owner { pid: Some(42), ..Default::default() }.liveness("a", running), Liveness::Live(_)));
        assert_eq!(Owner::default().liveness("a", running), Liveness::Dead);
    }

    #[test]
    fn this_process_is_live_and_labels_round_trip() {
        let me = Owner::me();
        assert!(me.pid_start.is_some());
        let labels: HashMap<String, String> = me.labels().into_iter().collect();
        assert_eq!(Owner::from_labels(&labels), me);
        assert!(matches!(me.liveness(&hostname(), start_time), Liveness::Live(_)));
        let l = run_labels("r1", "s", Path::new("reports/x"));
        assert!(Path::new(&l[LABEL_EVIDENCE]).is_absolute());
    }
}
