//! A service with one writable primary per shard (a Redis Cluster): each shard judged on
//! the writes to its own records, and the share of the key space that took writes over time.
//!
//! A shard's `outage_ms` is what its clients saw (last acknowledgement before the outage ->
//! the recovery point, as for a service); its `rto_ms` counts from the fault, and is given
//! only for a shard the fault hit (a fault named its primary, or the cluster promoted one of
//! its replicas): a shard that kept writing for seconds after the fault and then stopped
//! because the whole cluster did has an outage, not an RTO.
//!
//! Writability is counted per `bucket_ms` of invoke time: a shard took writes in a bucket
//! when a write to it invoked then was acknowledged, refused them when writes were invoked
//! and none was; a bucket with no write to a shard keeps the shard's last state. The share
//! is the sum of the writable shards' shares of the key space.
use super::{Checker, Convergence};
use crate::history::{Event, EventKind, Op, Outcome};
use crate::scenario::CheckSpec;
use crate::stack::{ReadBack, Shards};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The width of a writability bucket.
pub const BUCKET_MS: u64 = 100;

/// One shard, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    pub shard: String,
    /// Its slots, as the cluster gave them (`0-5460`), and their share of the key space.
    pub slots: String,
    pub share: f64,
    /// Its primary when the workload started, and its replicas.
    pub primary: String,
    #[serde(default)]
    pub replicas: Vec<String>,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Acknowledged writes to it that no shard holds at the end.
    pub lost: Option<u64>,
    pub rpo_ms: Option<f64>,
    /// Its clients' outage: the last acknowledgement before it -> the recovery point.
    pub outage_ms: Option<f64>,
    pub outage_start_ms: Option<f64>,
    pub recovered_at_ms: Option<f64>,
    /// Whether a fault hit it: named its primary, or the cluster promoted one of its replicas.
    #[serde(default)]
    pub hit: bool,
    /// From the fault to its recovery point, for a shard the fault hit (None when it never
    /// recovered).
    pub rto_ms: Option<f64>,
}

/// Every shard, and the key space's writability over time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardsReport {
    pub shards: Vec<ShardResult>,
    pub bucket_ms: u64,
    /// `[t_ms, share]` each time the writable share changed (the bucket's start).
    pub writable: Vec<[f64; 2]>,
    /// Windows `[from_ms, to_ms]` in which no shard took a write (the whole cluster down),
    /// after the first acknowledged write.
    pub whole_down: Vec<[f64; 2]>,
    pub whole_down_ms: f64,
}

/// Each node's part of the records, for reads weighed shard by shard (`Acks::by_parts`):
/// each shard's (primary, replicas), its index the part.
pub fn shard_parts<'a>(shards: impl Iterator<Item = (&'a String, &'a Vec<String>)>) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (i, (primary, replicas)) in shards.enumerate() {
        for n in std::iter::once(primary).chain(replicas) {
            out.insert(n.clone(), i);
        }
    }
    out
}

impl ShardsReport {
    /// When the last shard a fault hit recovered (drill ns): `Some(None)` when one never
    /// did, None when no shard with an outage was hit.
    pub fn hit_recovered_ns(&self) -> Option<Option<u64>> {
        let hit: Vec<&ShardResult> = self.shards.iter().filter(|s| s.hit && (s.failed + s.unknown) > 0).collect();
        if hit.is_empty() {
            return None;
        }
        let recovered: Option<Vec<f64>> = hit.iter().map(|s| s.recovered_at_ms).collect();
        Some(recovered.map(|r| (r.into_iter().fold(0.0, f64::max) * 1e6).round() as u64))
    }
}

/// Judges every shard of `shards` on the ops of `service` (None: every op) in `history`.
pub fn judge_shards(
    history: &Path,
    service: Option<&str>,
    shards: &Shards,
    events: &[Event],
    answered_fault: Option<usize>,
    read_back: Option<&ReadBack>,
    checks: &CheckSpec,
) -> std::io::Result<ShardsReport> {
    let mut out = ShardsReport { bucket_ms: BUCKET_MS, ..Default::default() };
    let faulted: Vec<&str> = events.iter().filter(|e| e.kind == EventKind::FaultInject).filter_map(|e| e.node.as_deref()).collect();
    let promoted: Vec<&str> =
        events.iter().filter(|e| e.kind == EventKind::OrchestratorPromoted).filter_map(|e| e.node.as_deref()).collect();
    for (i, info) in shards.list.iter().enumerate() {
        let mine = |op: &Op| crate::history::belongs(op.service.as_ref(), service) && (shards.of)(op.writer, op.seq) == Some(i);
        let (checker, _) = Checker::from_history_where(history, mine)?;
        let rb = read_back.map(|rb| only(rb, |w, s| (shards.of)(w, s) == Some(i)));
        let a = checker.finish(events, answered_fault, rb.as_ref(), None::<&Convergence>, checks, &crate::scenario::Targets::none())?;
        // hit: a fault named its primary, or the cluster promoted one of its replicas
        let was_hit = faulted.contains(&info.primary.as_str()) || info.replicas.iter().any(|r| promoted.contains(&r.as_str()));
        out.shards.push(ShardResult {
            shard: info.name.clone(),
            slots: info.slots.clone(),
            share: info.share,
            primary: info.primary.clone(),
            replicas: info.replicas.clone(),
            acked: a.acked_writes,
            failed: a.failed_writes,
            unknown: a.unknown_writes,
            lost: a.rpo.as_ref().map(|r| r.lost_writes),
            rpo_ms: a.rpo.as_ref().map(|r| r.rpo_ms),
            outage_ms: a.rto.outage_ms,
            outage_start_ms: a.rto.outage_start_ms,
            recovered_at_ms: a.rto.recovered_at_ms,
            hit: was_hit,
            rto_ms: if was_hit { a.rto.rto_ms } else { None },
        });
    }
    let mut w = Writability::new(shards.list.iter().map(|s| s.share).collect());
    crate::history::read_history(history, |op| {
        if crate::history::belongs(op.service.as_ref(), service)
            && let Some(i) = (shards.of)(op.writer, op.seq)
        {
            w.add(i, op.invoke_ns, op.outcome == Outcome::Ok);
        }
    })?;
    (out.writable, out.whole_down) = w.finish();
    out.whole_down_ms = total_ms(&out.whole_down);
    Ok(out)
}

/// The windows' total length; 0, not -0 (a float `sum` of nothing), when there is none.
fn total_ms(windows: &[[f64; 2]]) -> f64 {
    windows.iter().fold(0.0, |sum, [a, b]| sum + (b - a))
}

/// The records of `rb` that `keep` keeps (also each record group's, `groups.rs`).
pub(super) fn only(rb: &ReadBack, keep: impl Fn(u32, u64) -> bool) -> ReadBack {
    let mut out = ReadBack::default();
    for (w, seqs) in &rb.records {
        for s in seqs.iter().filter(|s| keep(*w, *s)) {
            out.push(*w, s);
        }
    }
    out
}

/// Per bucket and shard: 0 no write, 1 writes and none acknowledged, 2 one acknowledged.
pub(super) struct Writability {
    shares: Vec<f64>,
    buckets: Vec<Vec<u8>>,
}

impl Writability {
    pub(super) fn new(shares: Vec<f64>) -> Self {
        Writability { shares, buckets: Vec::new() }
    }

    pub(super) fn add(&mut self, shard: usize, invoke_ns: u64, ok: bool) {
        let b = usize::try_from(invoke_ns / (BUCKET_MS * 1_000_000)).unwrap_or(usize::MAX);
        if b >= self.buckets.len() {
            // a bound a drill never reaches: a day of 100 ms buckets
            if b > 864_000 {
                return;
            }
            self.buckets.resize(b + 1, vec![0; self.shares.len()]);
        }
        if let Some(x) = self.buckets[b].get_mut(shard) {
            *x = (*x).max(if ok { 2 } else { 1 });
        }
    }

    /// The share's changes, and the windows with no writable shard after the first write
    /// was acknowledged.
    pub(super) fn finish(self) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let mut state: Vec<Option<bool>> = vec![None; self.shares.len()];
        let (mut changes, mut down, mut open): (Vec<[f64; 2]>, Vec<[f64; 2]>, Option<f64>) = (Vec::new(), Vec::new(), None);
        let mut started = false;
        for (b, row) in self.buckets.iter().enumerate() {
            for (s, &x) in row.iter().enumerate() {
                if x > 0 {
                    state[s] = Some(x == 2);
                }
            }
            started |= state.contains(&Some(true));
            if !started {
                continue;
            }
            let t = (b as u64 * BUCKET_MS) as f64;
            let share: f64 = state.iter().zip(&self.shares).filter(|(s, _)| **s == Some(true)).map(|(_, w)| w).sum();
            // (+ 0.0: a sum of no share is -0.0)
            let share = (share * 1e4).round() / 1e4 + 0.0;
            if changes.last().is_none_or(|c| c[1] != share) {
                changes.push([t, share]);
            }
            match (share == 0.0, open) {
                (true, None) => open = Some(t),
                (false, Some(from)) => {
                    down.push([from, t]);
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(from) = open {
            down.push([from, (self.buckets.len() as u64 * BUCKET_MS) as f64]);
        }
        (changes, down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn shard(hit: bool, failed: u64, recovered_at_ms: Option<f64>) -> ShardResult {
        ShardResult {
            shard: "s".into(),
            slots: String::new(),
            share: 0.5,
            primary: "p".into(),
            replicas: Vec::new(),
            acked: 10,
            failed,
            unknown: 0,
            lost: None,
            rpo_ms: None,
            outage_ms: None,
            outage_start_ms: None,
            recovered_at_ms,
            hit,
            rto_ms: None,
        }
    }

    #[test]
    fn a_sharded_service_recovers_with_its_last_hit_shard() {
        let report = |shards| ShardsReport { shards, ..Default::default() };
        // a shard the fault did not hit recovering later (the whole cluster stopped) counts
        // for its own outage, not for the RTO; a shard without failures neither
        let r = report(vec![shard(true, 5, Some(13_753.0)), shard(false, 5, Some(14_000.0)), shard(true, 0, None)]);
        assert_eq!(r.hit_recovered_ns(), Some(Some(13_753_000_000)));
        let r = report(vec![shard(true, 5, Some(13_753.0)), shard(true, 9, None)]);
        assert_eq!(r.hit_recovered_ns(), Some(None), "a hit shard that never recovered");
        assert_eq!(report(vec![shard(false, 5, Some(1.0))]).hit_recovered_ns(), None);
    }

    #[test]
    fn the_share_follows_the_shards_and_a_whole_outage_is_a_window() {
        let mut w = Writability::new(vec![0.5, 0.5]);
        // both write until 1 s; shard 0 refuses from 1 s; both refuse 2.0-2.3 s; both back
        for t in (0..3000).step_by(10) {
            let t_ns = t * MS;
            let zero_ok = !(1000..2300).contains(&t);
            let one_ok = !(2000..2300).contains(&t);
            w.add(0, t_ns, zero_ok);
            w.add(1, t_ns + MS, one_ok);
        }
        let (changes, down) = w.finish();
        assert_eq!(changes, [[0.0, 1.0], [1000.0, 0.5], [2000.0, 0.0], [2300.0, 1.0]]);
        assert_eq!(down, [[2000.0, 2300.0]]);
    }

    #[test]
    fn no_window_is_zero_ms_not_negative_zero() {
        let none = total_ms(&[]);
        assert!(none == 0.0 && none.is_sign_positive(), "{none:?}");
        let report = ShardsReport { whole_down_ms: none, ..Default::default() };
        assert!(serde_json::to_string(&report).unwrap().contains("\"whole_down_ms\":0.0"), "{report:?}");
        assert_eq!(total_ms(&[[2000.0, 2300.0], [2500.0, 2600.0]]), 400.0);
    }

    #[test]
    fn a_bucket_without_writes_keeps_the_last_state_and_nothing_counts_before_the_first_ack() {
        let mut w = Writability::new(vec![1.0]);
        w.add(0, 50 * MS, false); // refused before anything was acknowledged: not a window
        w.add(0, 450 * MS, true);
        w.add(0, 900 * MS, false);
        w.add(0, 1500 * MS, true);
        let (changes, down) = w.finish();
        assert_eq!(changes, [[400.0, 1.0], [900.0, 0.0], [1500.0, 1.0]]);
        assert_eq!(down, [[900.0, 1500.0]]);
    }
}
