//! The host's CPU while the workload runs: every core's busy share from /proc/stat, read
//! every `EVERY` on a thread of its own (no runtime can hold it back), and the stretches
//! the host was saturated. A saturated host is the sign that a drill's timings may be off:
//! the clients, the proxies and the database all waited for a core. The same readings take
//! the disk's stall share (`pressure`): a stalled disk holds every commit's fsync back.
use super::pressure::{DiskStall, STALLED_MIN_MS, STALLED_SHARE, Stall, read_io_some, share_between};
use super::round::round;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the host's counters are read.
pub const EVERY: Duration = Duration::from_millis(250);
/// At or above this busy share a reading counts as saturated …
pub const SATURATED_BUSY: f64 = 0.95;
/// … and this long a run of such readings is a saturated stretch.
pub const SATURATED_MIN_MS: f64 = 1000.0;

/// One reading: the host's busy share between the previous reading and this one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub from_ns: u64,
    pub to_ns: u64,
    /// 0..=1, all cores together.
    pub busy: f64,
    /// 0..=1: the share of the reading's time some task waited for I/O (None without
    /// /proc/pressure/io).
    pub io: Option<f64>,
}

/// What results.json reports under `harness.host`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostLoad {
    pub cores: usize,
    pub interval_ms: f64,
    pub samples: usize,
    /// Busy share of all cores (0..=1) over the readings: median and highest.
    pub busy_p50: f64,
    pub busy_max: f64,
    /// Each stretch of at least `SATURATED_MIN_MS` at or above `SATURATED_BUSY` busy.
    pub saturated: Vec<Stretch>,
    /// The disk's stall share and stalled stretches (None on a kernel without pressure
    /// stall information).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskStall>,
}

/// A saturated stretch, drill ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stretch {
    pub from_ms: f64,
    pub to_ms: f64,
    /// Mean busy share over the stretch.
    pub busy: f64,
}

impl Stretch {
    pub fn ms(&self) -> f64 {
        self.to_ms - self.from_ms
    }
}

/// Idle and total jiffies of every core together (the `cpu` line of /proc/stat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jiffies {
    pub idle: u64,
    pub total: u64,
}

/// The `cpu` line of /proc/stat read: idle counts idle and iowait (a core waiting on a
/// disk is free for a runnable task); steal is busy (another guest had the core).
pub fn parse_stat(text: &str) -> Option<Jiffies> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).map(|x| x.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user)
    let total: u64 = f.iter().take(8).sum();
    Some(Jiffies { idle: f.get(3)? + f.get(4).copied().unwrap_or(0), total })
}

/// The busy share between two readings (None when no jiffy passed).
pub fn busy_between(a: Jiffies, b: Jiffies) -> Option<f64> {
    let total = b.total.checked_sub(a.total).filter(|t| *t > 0)?;
    let idle = b.idle.saturating_sub(a.idle).min(total);
    Some(1.0 - idle as f64 / total as f64)
}

fn read_stat() -> Option<Jiffies> {
    parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Reads the host's CPU every `EVERY` from `start` until `end`.
pub struct HostSampler {
    stop: Arc<AtomicBool>,
    readings: Arc<Mutex<Vec<Reading>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostSampler {
    /// Starts reading on its own thread; `now_ns` is the drill's clock.
    pub fn start(clock: crate::clock::Clock) -> HostSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let readings = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), readings.clone());
        let thread = std::thread::Builder::new()
            .name("drdrill-host".into())
            .spawn(move || {
                let read = || read_stat().map(|j| (clock.now_ns(), j, read_io_some()));
                let mut last = read();
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    let now = read();
                    if let (Some((from_ns, a, io_a)), Some((to_ns, b, io_b))) = (last, now)
                        && let Some(busy) = busy_between(a, b)
                    {
                        let io = io_a.zip(io_b).and_then(|(x, y)| share_between(x, y, to_ns - from_ns));
                        r.lock().unwrap_or_else(|p| p.into_inner()).push(Reading { from_ns, to_ns, busy, io });
                    }
                    last = now.or(last);
                }
            })
            .ok();
        HostSampler { stop, readings, thread }
    }

    /// Stops reading and summarises (None when /proc/stat could not be read).
    pub fn end(mut self) -> Option<HostLoad> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let readings = std::mem::take(&mut *self.readings.lock().unwrap_or_else(|p| p.into_inner()));
        (!readings.is_empty()).then(|| summarise(&readings, std::thread::available_parallelism().map_or(1, |n| n.get())))
    }
}

impl Drop for HostSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The readings summarised: the busy share's median and highest, and the saturated stretches.
pub fn summarise(readings: &[Reading], cores: usize) -> HostLoad {
    let mut busy: Vec<f64> = readings.iter().map(|r| r.busy).collect();
    busy.sort_by(f64::total_cmp);
    let spans: Vec<f64> = readings.iter().map(|r| (r.to_ns - r.from_ns) as f64 / 1e6).collect();
    HostLoad {
        cores,
        interval_ms: round(spans.iter().sum::<f64>() / spans.len().max(1) as f64, 1),
        samples: readings.len(),
        busy_p50: round(crate::stats::pct(&busy, 50.0).unwrap_or(0.0), 3),
        busy_max: round(busy.last().copied().unwrap_or(0.0), 3),
        saturated: runs(readings, |r| Some(r.busy), SATURATED_BUSY, SATURATED_MIN_MS)
            .into_iter()
            .map(|(from_ms, to_ms, busy)| Stretch { from_ms, to_ms, busy })
            .collect(),
        disk: disk(readings),
    }
}

/// The disk's stall over the readings, when every reading has it.
fn disk(readings: &[Reading]) -> Option<DiskStall> {
    let mut io: Vec<f64> = readings.iter().map(|r| r.io).collect::<Option<_>>()?;
    io.sort_by(f64::total_cmp);
    Some(DiskStall {
        stall_p50: round(crate::stats::pct(&io, 50.0).unwrap_or(0.0), 3),
        stall_max: round(io.last().copied().unwrap_or(0.0), 3),
        stalled: runs(readings, |r| r.io, STALLED_SHARE, STALLED_MIN_MS)
            .into_iter()
            .map(|(from_ms, to_ms, share)| Stall { from_ms, to_ms, share })
            .collect(),
    })
}

/// Runs of consecutive readings whose `value` is at least `at_least`, `min_ms` long or
/// more: `(from ms, to ms, the mean value weighted by each reading's span)`.
fn runs(readings: &[Reading], value: impl Fn(&Reading) -> Option<f64>, at_least: f64, min_ms: f64) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let mut run: Vec<(&Reading, f64)> = Vec::new();
    let mut close = |run: &mut Vec<(&Reading, f64)>| {
        if let (Some((a, _)), Some((b, _))) = (run.first(), run.last()) {
            let (from_ms, to_ms) = (a.from_ns as f64 / 1e6, b.to_ns as f64 / 1e6);
            let weight: f64 = run.iter().map(|(r, _)| (r.to_ns - r.from_ns) as f64).sum();
            let mean = run.iter().map(|(r, v)| v * (r.to_ns - r.from_ns) as f64).sum::<f64>() / weight.max(1.0);
            if to_ms - from_ms >= min_ms {
                out.push((round(from_ms, 1), round(to_ms, 1), round(mean, 3)));
            }
        }
        run.clear();
    };
    for r in readings {
        match value(r) {
            Some(v) if v >= at_least => run.push((r, v)),
            _ => close(&mut run),
        }
    }
    close(&mut run);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_line_counts_iowait_as_idle_and_steal_as_busy() {
        let text = "cpu  100 5 50 800 40 0 5 0 0 0\ncpu0 50 2 25 400 20 0 3 0 0 0\nintr 1\n";
        assert_eq!(parse_stat(text), Some(Jiffies { idle: 840, total: 1000 }));
        let b = Jiffies { idle: 840 + 10, total: 1000 + 100 };
        assert_eq!(busy_between(parse_stat(text).unwrap(), b), Some(0.9));
        assert_eq!(busy_between(b, b), None, "no time passed: no reading");
        assert_eq!(parse_stat("cpu0 1 2 3\n"), None);
        assert_eq!(parse_stat("cpu  1 x 3 4\n"), None);
    }

    #[test]
    fn the_real_proc_stat_reads() {
        let j = read_stat().expect("/proc/stat on Linux");
        assert!(j.total >= j.idle && j.total > 0, "{j:?}");
    }

    fn readings(busy: &[f64]) -> Vec<Reading> {
        let step = 250_000_000u64;
        busy.iter()
            .enumerate()
            .map(|(i, b)| Reading { from_ns: i as u64 * step, to_ns: (i as u64 + 1) * step, busy: *b, io: None })
            .collect()
    }

    #[test]
    fn a_second_or_more_at_95_percent_busy_is_a_stretch_and_shorter_runs_are_not() {
        // 0.75 s saturated (too short), then 1.25 s saturated, then 1 s saturated at the end
        let r = readings(&[0.2, 0.96, 0.99, 0.97, 0.5, 1.0, 0.95, 0.98, 1.0, 0.96, 0.3, 0.99, 0.99, 0.99, 0.99]);
        let h = summarise(&r, 2);
        assert_eq!(h.samples, 15);
        assert_eq!(h.interval_ms, 250.0);
        assert_eq!(h.busy_max, 1.0);
        assert_eq!(h.busy_p50, 0.98);
        let spans: Vec<(f64, f64)> = h.saturated.iter().map(|s| (s.from_ms, s.to_ms)).collect();
        assert_eq!(spans, [(1250.0, 2500.0), (2750.0, 3750.0)]);
        assert_eq!(h.saturated[1].busy, 0.99);
        assert_eq!(h.saturated[0].ms(), 1250.0);
    }

    #[test]
    fn a_second_or_more_of_the_disk_stalled_half_the_time_is_a_stall_and_no_pressure_file_is_no_figure() {
        let io = [0.05, 0.6, 0.62, 0.7, 0.58, 0.3, 0.9, 0.9, 0.9, 0.04];
        let mut r = readings(&[0.3; 10]);
        r.iter_mut().zip(io).for_each(|(r, io)| r.io = Some(io));
        let d = summarise(&r, 2).disk.expect("every reading has the disk's share");
        assert_eq!((d.stall_p50, d.stall_max), (0.6, 0.9));
        assert_eq!(d.stalled, [Stall { from_ms: 250.0, to_ms: 1250.0, share: 0.625 }], "0.75 s at 90 % is too short");
        assert!(summarise(&r, 2).saturated.is_empty());
        r[3].io = None;
        assert_eq!(summarise(&r, 2).disk, None, "a reading without the share: no figure rather than a partial one");
    }

    #[test]
    fn the_sampler_reads_the_disks_pressure_where_the_kernel_has_it() {
        let s = HostSampler::start(crate::clock::Clock::start());
        std::thread::sleep(EVERY * 3);
        let h = s.end().expect("readings");
        assert_eq!(h.disk.is_some(), read_io_some().is_some(), "{h:?}");
        assert!(h.disk.iter().all(|d| (0.0..=1.0).contains(&d.stall_max)), "{h:?}");
    }

    #[test]
    fn an_idle_host_has_no_stretch() {
        let h = summarise(&readings(&[0.1, 0.3, 0.94, 0.94, 0.94, 0.94, 0.94]), 2);
        assert!(h.saturated.is_empty(), "{h:?}");
        assert_eq!(h.busy_p50, 0.94);
    }

    #[test]
    fn the_sampler_reads_the_host_while_it_runs() {
        let s = HostSampler::start(crate::clock::Clock::start());
        std::thread::sleep(EVERY * 3);
        let h = s.end().expect("readings");
        assert!(h.samples >= 2 && h.cores >= 1, "{h:?}");
        assert!((0.0..=1.0).contains(&h.busy_max), "{h:?}");
    }
}
