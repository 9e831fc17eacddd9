//! drdrill's own footprint: the CPU this process spent while the workload ran and its peak
//! memory, from `getrusage`, beside the containers' (information: a client that sends one
//! request per round trip costs about what the server does, docs/accuracy.md).
use super::round::round;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Process CPU (user + system, every thread) and wall time at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    cpu_us: u64,
    at: Instant,
}

fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; `who` is RUSAGE_SELF or _CHILDREN.
    let rc = unsafe { libc::getrusage(who, u.as_mut_ptr()) };
    // SAFETY: rc == 0 means the struct was written.
    (rc == 0).then(|| unsafe { u.assume_init() })
}

fn micros(t: libc::timeval) -> u64 {
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
}

fn cpu_us(who: libc::c_int) -> u64 {
    rusage(who).map(|u| micros(u.ru_utime) + micros(u.ru_stime)).unwrap_or(0)
}

impl Sample {
    pub fn now() -> Sample {
        Sample { cpu_us: cpu_us(libc::RUSAGE_SELF), at: Instant::now() }
    }
}

/// CPU (µs, user + system) of the child processes this process has waited for.
pub fn children_cpu_us() -> u64 {
    cpu_us(libc::RUSAGE_CHILDREN)
}

/// Peak resident memory of this process so far, in bytes (Linux reports KiB).
pub fn peak_rss_bytes() -> u64 {
    rusage(libc::RUSAGE_SELF).map(|u| u64::try_from(u.ru_maxrss).unwrap_or(0) * 1024).unwrap_or(0)
}

/// What results.json reports under `harness`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarnessUsage {
    /// Wall time from the workload's start to the last writer's end.
    pub workload_s: f64,
    /// CPU drdrill spent in that time (all threads: writers, recorder, faults, failover).
    pub workload_cpu_ms: f64,
    /// Write attempts per second over that time.
    pub writes_per_s: f64,
    /// CPU per write attempt (null without writes, and with readers: their reads share it).
    pub cpu_us_per_write: Option<f64>,
    /// Reads per second over the workload (`workload.readers`; null without readers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads_per_s: Option<f64>,
    /// With readers: CPU per operation, writes and reads together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_op: Option<f64>,
    /// Peak resident memory of the drdrill process, the check phase included.
    pub peak_rss_mb: f64,
    /// Over the same time, from their cgroups: the system under test's containers (its
    /// nodes, orchestrators, entries) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Footprint>,
    /// … the monitoring's (exporters, Prometheus, Alertmanager, the pager) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Footprint>,
    /// … and drdrill's own proxies (the WAN and the fault paths), part of the observer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxies: Option<Footprint>,
    /// drdrill's CPU (its process and its proxies) over the stack's: how much of the
    /// machine the observer took beside what it measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer_share: Option<f64>,
    /// The monitoring's CPU over the stack's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_share: Option<f64>,
    /// drdrill was built without optimisations (the tests' build), which costs several
    /// times the CPU of a release build: its share says little about a release's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub debug_build: bool,
    /// The host's CPU while the workload ran (all cores, /proc/stat): could the timings be
    /// off because the host was short of CPU?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<super::host::HostLoad>,
    /// How late the paced clients invoked what was due: was drdrill itself late?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slip: Option<super::slip::PacingSlip>,
}

/// CPU and peak memory of a group of containers while the workload ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    pub containers: usize,
    /// CPU seconds between the workload's start and end, summed.
    pub cpu_s: f64,
    /// The sum of each container's peak memory (MB; null when no cgroup keeps one).
    pub peak_memory_mb: Option<f64>,
}

/// Whose a drill container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Stack,
    Monitoring,
    Proxy,
}

/// Each role's footprint from the containers' counters at the workload's start and end
/// (a container started in between counts from zero).
pub fn footprints(
    before: &[crate::docker::cgroup::Counters],
    after: &[crate::docker::cgroup::Counters],
    role: impl Fn(&str) -> Role,
) -> [(Role, Option<Footprint>); 3] {
    [Role::Stack, Role::Monitoring, Role::Proxy].map(|want| {
        let mine: Vec<_> = after.iter().filter(|c| role(&c.name) == want).collect();
        if mine.is_empty() {
            return (want, None);
        }
        let cpu_ns: u64 =
            mine.iter().map(|c| c.cpu_ns.saturating_sub(before.iter().find(|b| b.name == c.name).map_or(0, |b| b.cpu_ns))).sum();
        let peaks: Vec<u64> = mine.iter().filter_map(|c| c.peak_bytes).collect();
        let peak = (!peaks.is_empty()).then(|| round(peaks.iter().sum::<u64>() as f64 / 1_048_576.0, 1));
        (want, Some(Footprint { containers: mine.len(), cpu_s: round(cpu_ns as f64 / 1e9, 3), peak_memory_mb: peak }))
    })
}

impl HarnessUsage {
    /// Usage between `start` and `end`, over `writes` attempts; the peak is read now (after
    /// the check phase, when the drill's results are assembled).
    pub fn between(start: Sample, end: Sample, writes: u64) -> HarnessUsage {
        let secs = end.at.saturating_duration_since(start.at).as_secs_f64();
        let cpu_us = end.cpu_us.saturating_sub(start.cpu_us) as f64;
        HarnessUsage {
            workload_s: round(secs, 3),
            workload_cpu_ms: round(cpu_us / 1000.0, 1),
            writes_per_s: if secs > 0.0 { round(writes as f64 / secs, 1) } else { 0.0 },
            cpu_us_per_write: (writes > 0).then(|| round(cpu_us / writes as f64, 2)),
            peak_rss_mb: round(peak_rss_bytes() as f64 / 1_048_576.0, 1),
            stack: None,
            monitoring: None,
            proxies: None,
            observer_share: None,
            monitoring_share: None,
            debug_build: cfg!(debug_assertions),
            host: None,
            slip: None,
            reads_per_s: None,
            cpu_us_per_op: None,
        }
    }

    /// With `reads` reads beside the `writes`: their rate, and the CPU per operation in
    /// place of the CPU per write (the readers' share of the CPU is not the writes').
    pub fn with_reads(mut self, writes: u64, reads: u64) -> HarnessUsage {
        if reads == 0 {
            return self;
        }
        let ops = (writes + reads) as f64;
        self.reads_per_s = (self.workload_s > 0.0).then(|| round(reads as f64 / self.workload_s, 1));
        self.cpu_us_per_op = (ops > 0.0).then(|| round(self.workload_cpu_ms * 1000.0 / ops, 2));
        self.cpu_us_per_write = None;
        self
    }

    /// Nothing spent, nothing written (tests build on it).
    #[cfg(test)]
    pub fn between_nothing() -> HarnessUsage {
        let now = Sample::now();
        HarnessUsage::between(now, now, 0)
    }

    /// With the containers' footprints: the observer's and the monitoring's shares of the
    /// stack's CPU.
    pub fn with_containers(mut self, f: [(Role, Option<Footprint>); 3]) -> HarnessUsage {
        for (role, fp) in f {
            match role {
                Role::Stack => self.stack = fp,
                Role::Monitoring => self.monitoring = fp,
                Role::Proxy => self.proxies = fp,
            }
        }
        let stack = self.stack.as_ref().map(|s| s.cpu_s).filter(|s| *s > 0.0);
        let observer = self.workload_cpu_ms / 1000.0 + self.proxies.as_ref().map_or(0.0, |p| p.cpu_s);
        self.observer_share = stack.map(|s| round(observer / s, 3));
        self.monitoring_share = stack.and_then(|s| Some(round(self.monitoring.as_ref()?.cpu_s / s, 3)));
        self
    }
}

#[cfg(test)]
mod read_tests {
    use super::HarnessUsage;

    #[test]
    fn with_readers_the_cpu_is_given_per_operation_not_per_write() {
        let h = HarnessUsage {
            workload_s: 10.0,
            workload_cpu_ms: 300.0,
            writes_per_s: 200.0,
            cpu_us_per_write: Some(150.0),
            ..HarnessUsage::between_nothing()
        };
        let r = h.clone().with_reads(2000, 1000);
        assert_eq!((r.cpu_us_per_write, r.cpu_us_per_op, r.reads_per_s), (None, Some(100.0), Some(100.0)));
        assert_eq!(h.clone().with_reads(2000, 0).cpu_us_per_write, Some(150.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_spent_between_two_samples_is_counted_per_write() {
        let start = Sample::now();
        // burn some CPU so the difference is measurable
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i * i));
        }
        let end = Sample::now();
        let u = HarnessUsage::between(start, end, 1000);
        assert!(u.workload_cpu_ms > 0.0, "{u:?} {x}");
        assert!(u.cpu_us_per_write.unwrap() > 0.0 && u.writes_per_s > 0.0);
        assert!(u.peak_rss_mb > 1.0, "a running process has some memory: {u:?}");
        assert_eq!(HarnessUsage::between(start, end, 0).cpu_us_per_write, None);
    }

    #[test]
    fn each_role_spends_what_its_containers_did_between_the_samples_and_the_shares_follow() {
        use crate::docker::cgroup::Counters;
        let c = |name: &str, cpu_s: f64, peak_mb: u64| Counters {
            name: name.into(),
            id: format!("id-{name}"),
            cpu_ns: (cpu_s * 1e9) as u64,
            peak_bytes: Some(peak_mb * 1_048_576),
        };
        let before = [c("d-pg-1", 10.0, 50), c("d-pg-1-exporter", 1.0, 10), c("d-proxy", 0.5, 5)];
        let after = [c("d-pg-1", 30.0, 80), c("d-pg-2", 5.0, 40), c("d-pg-1-exporter", 3.0, 12), c("d-proxy", 1.5, 6)];
        let role = |n: &str| match n {
            n if n.ends_with("-exporter") => Role::Monitoring,
            n if n.contains("proxy") => Role::Proxy,
            _ => Role::Stack,
        };
        let f = footprints(&before, &after, role);
        let stack = f[0].1.clone().unwrap();
        assert_eq!((stack.containers, stack.cpu_s, stack.peak_memory_mb), (2, 25.0, Some(120.0)), "pg-2 started in between counts from 0");
        assert_eq!(f[1].1.as_ref().unwrap().cpu_s, 2.0);
        let mut u = HarnessUsage::between(Sample::now(), Sample::now(), 0);
        u.workload_cpu_ms = 4000.0;
        let u = u.with_containers(f);
        // drdrill 4 s + its proxy 1 s over the stack's 25 s; the monitoring's 2 s
        assert_eq!((u.observer_share, u.monitoring_share), (Some(0.2), Some(0.08)));
        assert_eq!(HarnessUsage::between(Sample::now(), Sample::now(), 0).with_containers(footprints(&[], &[], role)).observer_share, None);
    }
}
