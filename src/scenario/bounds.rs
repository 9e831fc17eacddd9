//! Every bound the validator puts on a number, in one table, keyed by the JSON Schema's
//! `Definition.property`: each check reads its bounds here (`check`), and the list of every
//! key in docs/scenarios.md prints them (`drdrill schema --keys`; tests/docs.rs compares the
//! two, and tests/layers.rs finds no range check outside this file).
use super::locate::{Problem, Seg};

const HOUR: f64 = 3_600_000.0;
const DAY: f64 = 86_400_000.0;

/// `lo` to `hi` inclusive; `above`: `lo` itself is refused. An infinite `hi`: no upper bound.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub key: &'static str,
    pub lo: f64,
    pub hi: f64,
    pub above: bool,
}

const fn b(key: &'static str, lo: f64, hi: f64) -> Bound {
    Bound { key, lo, hi, above: false }
}

const fn above(key: &'static str, lo: f64, hi: f64) -> Bound {
    Bound { key, lo, hi, above: true }
}

pub const BOUNDS: &[Bound] = &[
    b("StackSpec.replicas", 0.0, 8.0),
    b("StackSpec.healthy_timeout_ms", 1.0, HOUR),
    b("SentinelSpec.sentinels", 1.0, 7.0),
    b("SentinelSpec.down_after_ms", 100.0, HOUR),
    b("SentinelSpec.failover_timeout_ms", 1000.0, HOUR),
    b("SentinelSpec.parallel_syncs", 1.0, f64::INFINITY),
    b("PatroniSpec.ttl", 5.0, 3600.0),
    b("PatroniSpec.loop_wait", 1.0, 3600.0),
    b("PatroniSpec.retry_timeout", 1.0, 3600.0),
    b("HaproxySpec.inter_ms", 10.0, 600_000.0),
    b("HaproxySpec.fastinter_ms", 10.0, 600_000.0),
    b("HaproxySpec.fall", 1.0, 100.0),
    b("HaproxySpec.rise", 1.0, 100.0),
    b("MhaSpec.ping_interval_s", 1.0, 3600.0),
    b("ClusterSpec.masters", 3.0, 9.0),
    b("ClusterSpec.replicas_per_master", 0.0, 3.0),
    b("GaleraSpec.nodes", 2.0, 9.0),
    b("MultiActiveSpec.nodes", 2.0, 8.0),
    b("LogicalSpec.initial_rows", 0.0, 100000.0),
    b("FilesSpec.every_s", 1.0, 86_400.0),
    b("KeepalivedSpec.advert_int_s", 1.0, 255.0),
    b("KeepalivedSpec.check_interval_s", 1.0, 3600.0),
    b("KeepalivedSpec.fall", 1.0, 100.0),
    b("KeepalivedSpec.subnet:the subnet's prefix length", 16.0, 26.0),
    b("FilesSpec.delay_s", 0.0, 3600.0),
    b("BackupSpec.archive_timeout_s", 1.0, 3600.0),
    b("BackupSpec.snapshot_s", 1.0, 3600.0),
    b("WorkloadSpec.writers", 1.0, 256.0),
    above("WorkloadSpec.rate_per_s", 0.0, 100_000.0),
    b("WorkloadSpec.op_timeout_ms", 1.0, 600_000.0),
    b("WorkloadSpec.fail_backoff_ms", 0.0, 60_000.0),
    b("WorkloadSpec.payload_bytes", 0.0, 65_536.0),
    // a shared key space read back from every node at the end
    b("WorkloadSpec.keys", 1.0, 1_000_000.0),
    b("WorkloadSpec.after_recovery_ms", 0.0, HOUR),
    b("Targets.max_lost_pct", 0.0, 100.0),
    b("ChangesSpec.delete_every", 0.0, 1_000_000.0),
    b("ChangesSpec.rewrite_every", 0.0, 1_000_000.0),
    b("ChangesSpec.after_ms", 0.0, HOUR),
    b("WorkloadSpec.max_duration_ms", 1.0, HOUR),
    b("ReadersSpec.count", 1.0, 256.0),
    above("ReadersSpec.rate_per_s", 0.0, 10_000.0),
    b("ReadersSpec.op_timeout_ms", 1.0, 600_000.0),
    b("HedgeSpec.after_ms", 0.0, 600_000.0),
    b("HedgeSpec.every_ms", 1.0, 1000.0),
    b("HedgeSpec.connect_timeout_ms", 1.0, 60_000.0),
    b("HedgeSpec.max_in_flight", 1.0, 256.0),
    b("LagSpec.heartbeat_ms", 1.0, 10_000.0),
    b("LagSpec.poll_ms", 1.0, 10_000.0),
    b("LagSpec.engine_every_ms", 10.0, 60_000.0),
    b("FaultSpec.duration_ms", 1.0, HOUR),
    b("FaultSpec.rate_kb_per_s", 1.0, 10_485_760.0),
    b("FaultSpec.latency_ms", 0.0, 600_000.0),
    b("FaultSpec.jitter_ms", 0.0, 600_000.0),
    b("FaultSpec.timeout_ms", 0.0, HOUR),
    b("FaultSpec.toxicity", 0.0, 1.0),
    above("FaultSpec.percent", 0.0, 100.0),
    b("FaultSpec.offset_ms", -DAY, DAY),
    b("LinkSpec.latency_ms", 0.0, 600_000.0),
    b("LinkSpec.jitter_ms", 0.0, 600_000.0),
    b("LinkSpec.bandwidth_kb_per_s", 1.0, 10_485_760.0),
    b("LinkSpec.loss_percent", 0.0, 100.0),
    b("DnsSpec.ttl_s", 0.0, 86_400.0),
    b("DelayTrigger.delay_ms", 0.0, HOUR),
    b("ProbeTrigger.interval_ms", 1.0, 600_000.0),
    b("ProbeTrigger.timeout_ms", 1.0, 600_000.0),
    b("ProbeTrigger.failures", 1.0, 1000.0),
    b("FailoverSpec.promote_timeout_ms", 1.0, HOUR),
    b("Targets.rto_ms", 0.0, DAY),
    b("Targets.rpo_ms", 0.0, DAY),
    b("Targets.replica_lag_ms", 0.0, DAY),
    b("Targets.read_rto_ms", 0.0, DAY),
    b("Targets.stale_read_ms", 0.0, DAY),
    b("CheckSpec.stable_window_ms", 1.0, 600_000.0),
    above("CheckSpec.stable_ok_ratio", 0.0, 1.0),
    b("CheckSpec.convergence_timeout_ms", 0.0, HOUR),
    b("MonitoringSpec.scrape_interval_ms", 100.0, HOUR),
    b("MonitoringSpec.evaluation_interval_ms", 100.0, HOUR),
    b("MonitoringSpec.group_wait_ms", 0.0, HOUR),
    b("MonitoringSpec.group_interval_ms", 100.0, HOUR),
    b("MonitoringSpec.settle_ms", 0.0, HOUR),
    b("MonitoringSpec.peer_timeout_ms", 0.0, HOUR),
    b("ActionSpec.timeout_ms", 1.0, HOUR),
    b("ProbeSpec.attempt_timeout_ms", 1.0, HOUR),
    b("ProbeSpec.every_ms", 1.0, HOUR),
    b("AbortWhen.outage_ms", 1.0, HOUR),
    b("AbortWhen.probe_failures", 1.0, 1000.0),
    b("HttpSpec.status", 100.0, 599.0),
    // a setting's value (`Definition.property:setting`)
    b("StackSpec.settings:cluster-node-timeout", 100.0, 600_000.0),
];

/// The bound of `key`. Every key a check names is in the table: a missing one is a bug,
/// which every test that validates a scenario would hit.
pub fn bound(key: &str) -> &'static Bound {
    BOUNDS.iter().find(|b| b.key == key).unwrap_or_else(|| panic!("no bound for {key} in scenario/bounds.rs"))
}

/// A number as the scenario would write it: integers without a fraction.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

impl Bound {
    pub fn holds(&self, v: f64) -> bool {
        !v.is_nan() && (if self.above { v > self.lo } else { v >= self.lo }) && v <= self.hi
    }

    /// The range in words, as the docs and the errors say it.
    pub fn text(&self) -> String {
        match (self.above, self.hi.is_infinite()) {
            (false, true) => format!("at least {}", num(self.lo)),
            (true, true) => format!("above {}", num(self.lo)),
            (false, false) => format!("{} to {}", num(self.lo), num(self.hi)),
            (true, false) => format!("above {}, at most {}", num(self.lo), num(self.hi)),
        }
    }
}

/// A problem at `path` when `v` is outside `key`'s bound; `why` (may be empty) follows it.
pub fn check(p: &mut Vec<Problem>, path: Vec<Seg>, key: &str, v: f64, why: &str) {
    let b = bound(key);
    if !b.holds(v) {
        // the key as the file has it (a fault's `percent` may be bound as a link's loss), or
        // the setting's name
        let last = path.iter().rev().find_map(|s| if let Seg::Key(k) = s { Some(*k) } else { None });
        let name = match key.split_once(':') {
            Some((_, setting)) => setting,
            None => last.unwrap_or_else(|| key.rsplit('.').next().unwrap_or(key)),
        };
        let range = match (b.above, b.hi.is_infinite()) {
            (false, false) => format!("between {} and {}", num(b.lo), num(b.hi)),
            (true, false) => format!("above {} and at most {}", num(b.lo), num(b.hi)),
            _ => b.text(),
        };
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        p.push((path, format!("{name} must be {range}, found {}{why}", num(v))));
    }
}

/// `check` for a value that may be absent.
pub fn check_opt(p: &mut Vec<Problem>, path: Vec<Seg>, key: &str, v: Option<f64>) {
    if let Some(v) = v {
        check(p, path, key, v, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_read_as_they_are_written_and_refuse_what_lies_outside() {
        assert_eq!(bound("WorkloadSpec.writers").text(), "1 to 256");
        assert_eq!(bound("CheckSpec.stable_ok_ratio").text(), "above 0, at most 1");
        assert_eq!(bound("SentinelSpec.parallel_syncs").text(), "at least 1");
        assert!(!bound("FaultSpec.percent").holds(0.0) && bound("FaultSpec.percent").holds(100.0));
        assert!(!bound("FaultSpec.toxicity").holds(f64::NAN));
        let mut p = Vec::new();
        check(&mut p, vec![Seg::Key("delay_ms")], "DelayTrigger.delay_ms", 18_446_744_073_710.0, "");
        assert_eq!(p[0].1, "delay_ms must be between 0 and 3600000, found 18446744073710");
        let keys: std::collections::HashSet<&str> = BOUNDS.iter().map(|b| b.key).collect();
        assert_eq!(keys.len(), BOUNDS.len(), "a key twice");
    }
}
