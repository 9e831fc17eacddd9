//! The timelines' data, read from the history once the drill is judged: the writes of each
//! 100 ms bucket of invoke time, counted by outcome, with the latency of the acknowledged
//! ones; and the readers' reads of each bucket with the staleness of the ok ones, by the
//! checker's own rule. The reporters only draw them.
use super::reads::read_acks;
use crate::history::{Outcome, read_history};
use std::collections::BTreeMap;
use std::path::Path;

pub const BUCKET_NS: u64 = 100_000_000;
/// Latency samples kept per bucket (the max is exact whatever the count).
const SAMPLES: usize = 2000;

#[derive(Default)]
pub struct Bucket {
    pub ok: u32,
    pub fail: u32,
    pub unknown: u32,
    pub lat_ms: Vec<f32>,
    pub max_ms: f32,
}

/// The buckets of `service`'s writes (None: every write) in the history, by bucket number
/// (invoke time / 100 ms).
pub fn write_buckets(history: &Path, service: Option<&str>) -> std::io::Result<BTreeMap<u64, Bucket>> {
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

/// One 100 ms bucket of reads: by outcome, and the largest staleness of its ok reads.
#[derive(Default, Clone, Copy)]
pub struct ReadBucket {
    pub ok: u32,
    pub fail: u32,
    pub unknown: u32,
    pub stale_ms: Option<f64>,
}

/// `service`'s reads (None: every read) by bucket, each ok read's staleness computed
/// against the writes' acknowledgements, as the checker does.
pub fn read_buckets(history: &Path, service: Option<&str>, parts: BTreeMap<String, usize>) -> std::io::Result<BTreeMap<u64, ReadBucket>> {
    let (acks, h) = read_acks(history, service, parts)?;
    let mut out: BTreeMap<u64, ReadBucket> = BTreeMap::new();
    for r in h.reads.iter().filter(|r| crate::history::belongs(r.service.as_ref(), service)) {
        let b = out.entry(r.invoke_ns / BUCKET_NS).or_default();
        match r.outcome {
            Outcome::Ok => {
                b.ok += 1;
                let ms = acks.staleness(r).0 as f64 / 1e6;
                b.stale_ms = Some(b.stale_ms.map_or(ms, |s| s.max(ms)));
            }
            Outcome::Fail => b.fail += 1,
            Outcome::Unknown => b.unknown += 1,
        }
    }
    Ok(out)
}
