//! The host's disk while the workload runs, from Linux's pressure stall information
//! (/proc/pressure/io): the share of each reading's time in which some task waited for
//! I/O, and the stretches the disk stalled. A commit waits for its fsync; when other work
//! (a neighbour's restore, a backup) holds the disk, commits stall with no fault, and the
//! timings in that window may be off. The types and the parsing; the host sampler reads it.
use serde::{Deserialize, Serialize};

/// At or above this share of a reading's time with some task waiting for I/O, the reading
/// counts as stalled (a drill alone here: 4–7 % while its writers commit; a loop of
/// synchronous 64 KiB writes beside it: 60–65 %) …
pub const STALLED_SHARE: f64 = 0.5;
/// … and this long a run of such readings is a stalled stretch.
pub const STALLED_MIN_MS: f64 = 1000.0;

/// What results.json reports under `harness.host.disk`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskStall {
    /// Share of each reading's time some task waited for I/O (0..=1): median and highest.
    pub stall_p50: f64,
    pub stall_max: f64,
    /// Each stretch of at least `STALLED_MIN_MS` at or above `STALLED_SHARE`.
    pub stalled: Vec<Stall>,
}

/// A stalled stretch, drill ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stall {
    pub from_ms: f64,
    pub to_ms: f64,
    /// Mean share of the stretch some task waited for I/O.
    pub share: f64,
}

/// The `some` line's `total` (µs some task waited for I/O since boot).
pub fn parse_io_some(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace().find_map(|f| f.strip_prefix("total="))?.parse().ok()
}

/// /proc/pressure/io's `some` total; None on a kernel without pressure stall information.
pub fn read_io_some() -> Option<u64> {
    parse_io_some(&std::fs::read_to_string("/proc/pressure/io").ok()?)
}

/// The share of `span_ns` in which some task waited for I/O, between two totals (µs).
pub fn share_between(a_us: u64, b_us: u64, span_ns: u64) -> Option<f64> {
    (span_ns > 0).then(|| (b_us.saturating_sub(a_us) as f64 * 1e3 / span_ns as f64).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_some_lines_total_reads_and_a_share_is_clamped_to_the_span() {
        let text = "some avg10=0.12 avg60=1.15 avg300=0.90 total=1785097981\nfull avg10=0.06 avg60=0.65 avg300=0.49 total=702641020\n";
        assert_eq!(parse_io_some(text), Some(1_785_097_981));
        assert_eq!(parse_io_some("full avg10=0 total=5\n"), None);
        assert_eq!(parse_io_some("some avg10=0 total=x\n"), None);
        // 125 ms of stall in 250 ms
        assert_eq!(share_between(1_000, 126_000, 250_000_000), Some(0.5));
        assert_eq!(share_between(0, 300_000, 250_000_000), Some(1.0), "a reading late by a few ms cannot pass 100 %");
        assert_eq!(share_between(5, 5, 0), None);
    }
}
