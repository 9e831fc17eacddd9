//! Pacing slip: how late a paced client invoked an operation that was waiting only on the
//! clock (its due time came with nothing in its way). A client that slips is the one
//! direct sign that drdrill itself was late: its timer fired late, or its thread waited for
//! a core. An operation held back by the system under test (a write waiting for the one
//! before it, a backoff after a failure) is not a slip and is not counted.
use super::round::round;
use crate::stats::pct;
use serde::{Deserialize, Serialize};

/// One paced operation: when it was invoked (drill ns), how late, and which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlipSample {
    pub t_ns: u64,
    pub slip_ns: u64,
    /// The writer's or reader's number.
    pub client: u32,
    /// A reader's operation (`workload.readers`), not a writer's.
    pub reader: bool,
}

/// What results.json reports under `harness.slip`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PacingSlip {
    /// Operations that waited on the clock alone (0: no client was paced, e.g. unthrottled writers).
    pub ops: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The worst one: when it was invoked (drill ms) and by which client (`writer 3`).
    pub worst_at_ms: Option<f64>,
    pub worst_client: Option<String>,
    /// Above this a slip is a finding: 50 ms, or 1 % of the smallest RTO target when larger.
    pub finding_above_ms: f64,
    /// Each operation that slipped more than `finding_above_ms` (the first 20), drill ms.
    pub over: Vec<SlipOver>,
}

/// One operation that slipped past the finding's bound.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlipOver {
    pub at_ms: f64,
    pub slip_ms: f64,
    pub client: String,
}

/// The samples summarised against `bound_ms`.
pub fn summarise(samples: &[SlipSample], bound_ms: f64) -> PacingSlip {
    let mut ns: Vec<u64> = samples.iter().map(|s| s.slip_ns).collect();
    ns.sort_unstable();
    let ms = |n: u64| round(n as f64 / 1e6, 3);
    let worst = samples.iter().max_by_key(|s| (s.slip_ns, std::cmp::Reverse(s.t_ns)));
    let over = samples
        .iter()
        .filter(|s| s.slip_ns as f64 / 1e6 > bound_ms)
        .take(20)
        .map(|s| SlipOver { at_ms: round(s.t_ns as f64 / 1e6, 1), slip_ms: ms(s.slip_ns), client: client(s) })
        .collect();
    PacingSlip {
        ops: samples.len(),
        p50_ms: ms(pct(&ns, 50.0).unwrap_or(0)),
        p99_ms: ms(pct(&ns, 99.0).unwrap_or(0)),
        max_ms: ms(ns.last().copied().unwrap_or(0)),
        worst_at_ms: worst.map(|w| round(w.t_ns as f64 / 1e6, 1)),
        worst_client: worst.map(client),
        finding_above_ms: bound_ms,
        over,
    }
}

fn client(s: &SlipSample) -> String {
    format!("{} {}", if s.reader { "reader" } else { "writer" }, s.client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_ms: u64, slip_us: u64, client: u32) -> SlipSample {
        SlipSample { t_ns: t_ms * 1_000_000, slip_ns: slip_us * 1000, client, reader: false }
    }

    #[test]
    fn percentiles_the_worst_and_the_ones_over_the_bound() {
        let mut v: Vec<SlipSample> = (0..200).map(|i| s(i * 10, 300 + i % 7, (i % 4) as u32)).collect();
        v.push(s(2100, 80_000, 2));
        v.push(s(2110, 60_000, 1));
        let p = summarise(&v, 50.0);
        assert_eq!(p.ops, 202);
        assert_eq!(p.p50_ms, 0.303);
        assert_eq!(p.max_ms, 80.0);
        assert_eq!((p.worst_at_ms, p.worst_client.as_deref()), (Some(2100.0), Some("writer 2")));
        assert_eq!(p.over.len(), 2);
        assert_eq!((p.over[1].at_ms, p.over[1].slip_ms), (2110.0, 60.0));
        assert!(summarise(&v, 100.0).over.is_empty());
    }

    #[test]
    fn no_paced_client_is_zero_ops_not_a_zero_slip_claimed() {
        let p = summarise(&[], 50.0);
        assert_eq!((p.ops, p.worst_at_ms), (0, None));
    }
}
