//! The timeline's data: the writes of each 100 ms bucket of invoke time, counted by
//! outcome, with the latency of the acknowledged ones.
use crate::history::{Outcome, read_history};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) const BUCKET_NS: u64 = 100_000_000;
/// Latency samples kept per bucket (the max is exact whatever the count).
const SAMPLES: usize = 2000;

#[derive(Default)]
pub(super) struct Bucket {
    pub(super) ok: u32,
    pub(super) fail: u32,
    pub(super) unknown: u32,
    pub(super) lat_ms: Vec<f32>,
    pub(super) max_ms: f32,
}

/// The buckets of `service`'s writes (None: every write) in the history, by bucket number
/// (invoke time / 100 ms).
pub(super) fn read_buckets(history: &Path, service: Option<&str>) -> std::io::Result<BTreeMap<u64, Bucket>> {
    let mut b: BTreeMap<u64, Bucket> = BTreeMap::new();
    read_history(history, |op| {
        if !crate::history::belongs(op.service.as_ref(), service) {
            return;
        }
        let e = b.entry(op.invoke_ns / BUCKET_NS).or_default();
        match op.outcome {
            Outcome::Ok => {
                e.ok += 1;
                let ms = op.complete_ns.saturating_sub(op.invoke_ns) as f32 / 1e6;
                e.max_ms = e.max_ms.max(ms);
                if e.lat_ms.len() < SAMPLES {
                    e.lat_ms.push(ms);
                }
            }
            Outcome::Fail => e.fail += 1,
            Outcome::Unknown => e.unknown += 1,
        }
    })?;
    Ok(b)
}

/// The median of a bucket's latency samples (sorting them); None without samples.
pub(super) fn p50(v: &mut [f32]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(f64::from(v[v.len() / 2]))
}

/// Runs of consecutive buckets.
pub(super) fn contiguous(v: &[(u64, f64, f64)]) -> Vec<Vec<(u64, f64, f64)>> {
    let mut out: Vec<Vec<(u64, f64, f64)>> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| l.0 + 1 == x.0) => run.push(*x),
            _ => out.push(vec![*x]),
        }
    }
    out
}
