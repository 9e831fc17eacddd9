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
            Some(Counters { name: r.name, cpu_ns, peak_bytes })
        })
        .collect()
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
