//! A multi-active service's writes by the site its clients sit in: how many each site's
//! writers had acknowledged, refused and left unanswered, and the longest time its writers
//! went without an acknowledgement (a site whose node refuses writes shows it here, while
//! the other sites go on).
use crate::history::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One op as the per-site count needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteOp {
    pub site: String,
    pub outcome: Outcome,
    pub invoke_ns: u64,
    pub complete_ns: u64,
}

/// One site's writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteWrites {
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    /// The longest span between two acknowledgements of the site's writes (from the
    /// workload's start to the first, and from the last to its end, included), in ms.
    pub longest_without_ack_ms: f64,
    /// When that span began (ms on the drill clock).
    pub longest_from_ms: f64,
    /// Whether it ran to the workload's end: no acknowledgement came after it began.
    #[serde(default)]
    pub longest_to_end: bool,
}

/// Every site's writes, over a workload that ran from `start_ns` to `end_ns`.
pub fn site_writes(ops: &[SiteOp], start_ns: u64, end_ns: u64) -> BTreeMap<String, SiteWrites> {
    let mut acks: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut out: BTreeMap<String, SiteWrites> = BTreeMap::new();
    for op in ops {
        let w = out.entry(op.site.clone()).or_default();
        match op.outcome {
            Outcome::Ok => {
                w.acked += 1;
                acks.entry(&op.site).or_default().push(op.complete_ns);
            }
            Outcome::Fail => w.failed += 1,
            Outcome::Unknown => w.unknown += 1,
        }
    }
    for (site, w) in out.iter_mut() {
        let mut times = acks.remove(site.as_str()).unwrap_or_default();
        times.sort_unstable();
        let end = end_ns.max(start_ns);
        let mut prev = start_ns;
        let mut best = (0u64, start_ns, false);
        for (t, last) in times.into_iter().map(|t| (t, false)).chain(std::iter::once((end, true))) {
            if t.saturating_sub(prev) > best.0 {
                best = (t - prev, prev, last);
            }
            prev = prev.max(t);
        }
        w.longest_without_ack_ms = best.0 as f64 / 1e6;
        w.longest_from_ms = best.1 as f64 / 1e6;
        w.longest_to_end = best.2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(site: &str, outcome: Outcome, t_ms: u64) -> SiteOp {
        SiteOp { site: site.into(), outcome, invoke_ns: t_ms * 1_000_000 - 500_000, complete_ns: t_ms * 1_000_000 }
    }

    #[test]
    fn a_site_that_stops_acknowledging_shows_its_gap_while_the_other_goes_on() {
        let mut ops = Vec::new();
        for t in (10..=1000).step_by(10) {
            ops.push(op("dc1", Outcome::Ok, t));
            let down = (300..700).contains(&t);
            ops.push(op("dc2", if down { Outcome::Fail } else { Outcome::Ok }, t));
        }
        let w = site_writes(&ops, 0, 1_000_000_000);
        assert_eq!((w["dc1"].acked, w["dc1"].failed), (100, 0));
        assert_eq!((w["dc2"].acked, w["dc2"].failed), (60, 40));
        assert!((w["dc1"].longest_without_ack_ms - 10.0).abs() < 1e-9, "{:?}", w["dc1"]);
        assert!((w["dc2"].longest_without_ack_ms - 410.0).abs() < 1e-9, "{:?}", w["dc2"]);
        assert!((w["dc2"].longest_from_ms - 290.0).abs() < 1e-9);
        assert!(!w["dc1"].longest_to_end && !w["dc2"].longest_to_end);
    }

    #[test]
    fn a_site_that_stops_acknowledging_for_good_is_without_one_to_the_end() {
        // dc2 refuses every write from 300 ms on; the workload ends at 1000 ms
        let mut ops = Vec::new();
        for t in (10..=1000).step_by(10) {
            ops.push(op("dc1", Outcome::Ok, t));
            ops.push(op("dc2", if t < 300 { Outcome::Ok } else { Outcome::Fail }, t));
        }
        let w = site_writes(&ops, 0, 1_000_000_000);
        assert!((w["dc2"].longest_without_ack_ms - 710.0).abs() < 1e-9, "{:?}", w["dc2"]);
        assert!((w["dc2"].longest_from_ms - 290.0).abs() < 1e-9 && w["dc2"].longest_to_end, "{:?}", w["dc2"]);
        assert!(!w["dc1"].longest_to_end, "{:?}", w["dc1"]);
    }

    #[test]
    fn a_site_that_never_acknowledges_is_down_the_whole_workload() {
        let w = site_writes(&[op("dc3", Outcome::Unknown, 5)], 0, 2_000_000_000);
        assert_eq!(w["dc3"].unknown, 1);
        assert!((w["dc3"].longest_without_ack_ms - 2000.0).abs() < 1e-9 && w["dc3"].longest_to_end);
    }
}
