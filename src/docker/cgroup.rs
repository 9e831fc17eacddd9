//! Each drill container's CPU time and peak memory, read from its cgroup on the host
//! (cgroup v1 `cpuacct` / `memory`, or v2, under the cgroupfs or systemd driver): what the
//! system under test, the monitoring and drdrill's proxies each spent beside drdrill.
use super::Docker;
use std::path::PathBuf;

/// One container's counters at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// The container's name (`drdrill-<run>-<node>`).
    pub name: String,
    /// Its id (where its cgroup is).
    pub id: String,
    /// CPU time since it started (user + system), ns.
    pub cpu_ns: u64,
    /// Its peak memory since it started, when the cgroup keeps one.
    pub peak_bytes: Option<u64>,
}

/// The counters of every running container of `run`; a container whose cgroup cannot be
/// read (another driver, a container gone) is left out.
pub async fn counters(docker: &Docker, run: &str) -> Vec<Counters> {
    let Ok(found) = super::cleanup::list(docker, Some(run)).await else { return Vec::new() };
    found
        .into_iter()
        .filter(|r| r.kind == super::cleanup::ResourceKind::Container)
        .filter_map(|r| {
            let (cpu_ns, peak_bytes) = read(&r.id)?;
            Some(Counters { name: r.name, id: r.id, cpu_ns, peak_bytes })
        })
        .collect()
}

/// How often `Sampler` reads the counters again.
const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the counters of the containers running at the start every `SAMPLE_EVERY` (files
/// only, no engine call), so a container a fault kills still counts: its cgroup goes with
/// it, and its last reading (at most `SAMPLE_EVERY` before it died) stands for its end.
pub struct Sampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Counters>>,
}

impl Sampler {
    pub fn start(at_start: &[Counters]) -> Sampler {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let mut last = at_start.to_vec();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => return last,
                    _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                }
                for c in last.iter_mut() {
                    if let Some((cpu_ns, peak_bytes)) = read(&c.id) {
                        (c.cpu_ns, c.peak_bytes) = (cpu_ns, peak_bytes);
                    }
                }
            }
        });
        Sampler { stop, task }
    }

    /// The counters at the end, `at_end` (read then), with the last reading of every
    /// container that was gone by then.
    pub async fn end(self, mut at_end: Vec<Counters>) -> Vec<Counters> {
        let _ = self.stop.send(true);
        let last = self.task.await.unwrap_or_default();
        at_end.extend(last.into_iter().filter(|l| !at_end.iter().any(|e| e.name == l.name)).collect::<Vec<_>>());
        at_end
    }
}

/// (CPU ns, peak bytes) of container `id`, from the first layout that has it.
fn read(id: &str) -> Option<(u64, Option<u64>)> {
    let root = PathBuf::from("/sys/fs/cgroup");
    let num = |p: PathBuf| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok();
    // v1, cgroupfs driver
    let v1 = root.join("cpuacct/docker").join(id).join("cpuacct.usage");
    if let Some(cpu) = num(v1) {
        return Some((cpu, num(root.join("memory/docker").join(id).join("memory.max_usage_in_bytes"))));
    }
    // v2: cgroupfs or systemd driver
    for dir in [root.join("docker").join(id), root.join("system.slice").join(format!("docker-{id}.scope"))] {
        let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok();
        let usec = stat.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok()));
        if let Some(u) = usec {
            return Some((u * 1000, num(dir.join("memory.peak"))));
        }
    }
    None
}
