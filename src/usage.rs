//! drdrill's own footprint: the CPU this process spent while the workload ran and its peak
//! memory, from `getrusage`, so every drill says how hard the harness competed with the
//! stack it tested (on a small machine they share the cores).
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
    /// CPU per write attempt (null without writes).
    pub cpu_us_per_write: Option<f64>,
    /// Peak resident memory of the drdrill process, the check phase included.
    pub peak_rss_mb: f64,
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
        }
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
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
}
