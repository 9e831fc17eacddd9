//! Replica visibility lag from `replica-lag.jsonl.zst` (docs/measurement.md, "Replica lag").
//!
//! For replica R and heartbeat i acknowledged at `ack` (written on a node other than R):
//! the first read of R showing heartbeat i or a later one was answered at `recv`; the read
//! before it (sent at `after`) did not show it, and i could not be visible before it was
//! invoked. So i became visible on R inside (max(after, invoke), recv]; its lag is the
//! middle of that window minus `ack`, never below 0, and half the window is the
//! measurement's resolution for it.
//!
//! A heartbeat R never showed although R answered a read sent after it was acknowledged
//! counts with a lower bound, the last such read's answer minus `ack` (`censored`): a
//! client reading R saw data at least that stale. One R never answered after is not timed
//! (`untimed`). Heartbeats belong to the phase their acknowledgement falls in (the phases
//! of `latency.rs`); engine samples to the phase of their time.
use super::latency::LatencyPhase;
use crate::lag::LagRow;
use crate::scenario::Percentile;
use crate::stats::pct;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The measurement of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagReport {
    pub heartbeat_ms: u64,
    pub poll_ms: u64,
    pub engine_every_ms: u64,
    /// The engine's own figure beside drdrill's (e.g. `pg_stat_replication replay_lag`).
    pub reported_as: String,
    pub heartbeats_acked: u64,
    pub heartbeats_failed: u64,
    /// Half the window each timed visibility fell in: median and largest (ms).
    pub resolution_p50_ms: Option<f64>,
    pub resolution_max_ms: Option<f64>,
    pub replicas: Vec<ReplicaLag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaLag {
    pub node: String,
    /// The whole drill, then each phase.
    pub overall: LagStats,
    pub phases: Vec<LagStats>,
    pub reads: u64,
    pub read_errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Lag percentiles over a span of the drill, drdrill's beside the engine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagStats {
    /// None: the whole drill.
    pub phase: Option<LatencyPhase>,
    pub from_ms: f64,
    pub to_ms: f64,
    /// Heartbeats timed (censored ones included).
    pub heartbeats: u64,
    pub censored: u64,
    pub untimed: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub engine: EngineStats,
}

/// What the engine reported over the same span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    pub samples: u64,
    /// Samples whose lag figure was null (replay_lag on an idle server).
    pub nulls: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub behind_bytes_p50: Option<i64>,
    pub behind_bytes_max: Option<i64>,
}

/// One timed heartbeat on one replica.
struct Timed {
    ack_ns: u64,
    lag_ns: u64,
    half_window_ns: Option<u64>,
}

/// Judges the rows of one service; `phases` as `latency::phases` gives them, `end_ns`
/// the workload's stop. None when the service measured no lag.
pub fn lag_report(rows: &[LagRow], phases: &[(LatencyPhase, u64, u64)], end_ns: u64) -> Option<LagReport> {
    let (heartbeat_ms, poll_ms, engine_every_ms, reported_as) = rows.iter().find_map(|r| match r {
        LagRow::Start { heartbeat_ms, poll_ms, engine_every_ms, reported_as, .. } => {
            Some((*heartbeat_ms, *poll_ms, *engine_every_ms, reported_as.clone()))
        }
        _ => None,
    })?;
    // (seq, node written on, invoke, ack) of the acknowledged heartbeats, by seq
    let mut beats: Vec<(u64, &str, u64, u64)> = Vec::new();
    let mut failed = 0;
    let mut nodes: BTreeMap<&str, ()> = BTreeMap::new();
    for r in rows {
        match r {
            LagRow::Beat { seq, node, invoke_ns, ack_ns: Some(ack), .. } => beats.push((*seq, node, *invoke_ns, *ack)),
            LagRow::Beat { .. } => failed += 1,
            // a node counts once it was read as a replica (the primary's reader reads nothing)
            LagRow::Seen { node, .. } | LagRow::Engine { node, .. } => {
                nodes.insert(node, ());
            }
            LagRow::Polls { node, polls, errors, .. } if polls + errors > 0 => {
                nodes.insert(node, ());
            }
            _ => {}
        }
    }
    beats.sort_unstable_by_key(|b| b.0);
    let mut halves = Vec::new();
    let replicas = nodes
        .keys()
        .map(|node| {
            let (timed, untimed) = time_replica(rows, node, &beats);
            halves.extend(timed.iter().filter_map(|t| t.half_window_ns));
            replica_lag(rows, node, &timed, &untimed, phases, end_ns)
        })
        .collect();
    halves.sort_unstable();
    Some(LagReport {
        heartbeat_ms,
        poll_ms,
        engine_every_ms,
        reported_as,
        heartbeats_acked: beats.len() as u64,
        heartbeats_failed: failed,
        resolution_p50_ms: pct(&halves, 50.0).map(ms),
        resolution_max_ms: halves.last().copied().map(ms),
        replicas,
    })
}

/// Each heartbeat written elsewhere, timed on `node` (censored ones with no window), and
/// the acknowledgement times of those it cannot time.
fn time_replica(rows: &[LagRow], node: &str, beats: &[(u64, &str, u64, u64)]) -> (Vec<Timed>, Vec<u64>) {
    // reads that showed something new, in answer order, with the highest seq shown so far;
    // not a read showing a heartbeat written on the node itself (once it is the primary):
    // the heartbeats written before on the old primary did not reach it by that
    let own: std::collections::HashSet<u64> = beats.iter().filter(|b| b.1 == node).map(|b| b.0).collect();
    let mut seen: Vec<(u64, Option<u64>, u64)> = Vec::new(); // (running max seq, after, recv)
    let mut last_ok_recv = None;
    for r in rows {
        match r {
            LagRow::Seen { node: n, seq, after_ns, recv_ns, .. } if n == node && !own.contains(seq) => {
                let top = seen.last().map_or(*seq, |s| s.0.max(*seq));
                seen.push((top, *after_ns, *recv_ns));
            }
            LagRow::Polls { node: n, last_ok: Some((_, recv, _)), .. } if n == node => last_ok_recv = Some(*recv),
            _ => {}
        }
    }
    let last_ok_recv = last_ok_recv.or(seen.last().map(|s| s.2));
    // once it takes heartbeats itself its reads stop (and would show its own): a heartbeat
    // it never showed was missing until then, not until its last answer
    let first_own = beats.iter().filter(|b| b.1 == node).map(|b| b.2).min();
    let last_ok_recv = match (last_ok_recv, first_own) {
        (Some(r), Some(own)) => Some(r.min(own)),
        (r, _) => r,
    };
    let (mut timed, mut untimed) = (Vec::new(), Vec::new());
    for &(seq, written_on, invoke, ack) in beats.iter().filter(|b| b.1 != node) {
        let _ = written_on;
        let first = seen.partition_point(|s| s.0 < seq);
        match seen.get(first) {
            Some(&(_, Some(after), recv)) => {
                let lo = after.max(invoke).min(recv);
                let mid = lo + (recv - lo) / 2;
                timed.push(Timed { ack_ns: ack, lag_ns: mid.saturating_sub(ack), half_window_ns: Some((recv - lo) / 2) });
            }
            // the first read already showed it: when it became visible is unknown
            Some(&(_, None, _)) => untimed.push(ack),
            None => match last_ok_recv.filter(|&r| r > ack) {
                Some(r) => timed.push(Timed { ack_ns: ack, lag_ns: r - ack, half_window_ns: None }),
                None => untimed.push(ack),
            },
        }
    }
    (timed, untimed)
}

fn replica_lag(
    rows: &[LagRow],
    node: &str,
    timed: &[Timed],
    untimed: &[u64],
    phases: &[(LatencyPhase, u64, u64)],
    end_ns: u64,
) -> ReplicaLag {
    let engine: Vec<(u64, &LagRow)> = rows
        .iter()
        .filter_map(|r| match r {
            LagRow::Engine { node: n, t_ns, .. } if n == node => Some((*t_ns, r)),
            _ => None,
        })
        .collect();
    let span = |phase: Option<LatencyPhase>, from: u64, to: u64| {
        let inside = |t: u64| from <= t && (t < to || phase.is_none());
        let mut lags: Vec<u64> = timed.iter().filter(|t| inside(t.ack_ns)).map(|t| t.lag_ns).collect();
        lags.sort_unstable();
        let censored = timed.iter().filter(|t| inside(t.ack_ns) && t.half_window_ns.is_none()).count() as u64;
        LagStats {
            phase,
            from_ms: ms(from),
            to_ms: ms(to),
            heartbeats: lags.len() as u64,
            censored,
            untimed: untimed.iter().filter(|&&a| inside(a)).count() as u64,
            p50_ms: pct(&lags, 50.0).map(ms),
            p95_ms: pct(&lags, 95.0).map(ms),
            p99_ms: pct(&lags, 99.0).map(ms),
            max_ms: lags.last().copied().map(ms),
            engine: engine_stats(engine.iter().filter(|(t, _)| inside(*t)).map(|(_, r)| *r)),
        }
    };
    let (reads, read_errors, last_error) = rows
        .iter()
        .find_map(|r| match r {
            LagRow::Polls { node: n, polls, errors, last_error, .. } if n == node => Some((*polls, *errors, last_error.clone())),
            _ => None,
        })
        .unwrap_or_default();
    ReplicaLag {
        node: node.to_string(),
        overall: span(None, 0, end_ns),
        phases: phases.iter().map(|&(p, from, to)| span(Some(p), from, to)).collect(),
        reads,
        read_errors,
        last_error,
    }
}

fn engine_stats<'a>(rows: impl Iterator<Item = &'a LagRow>) -> EngineStats {
    let mut e = EngineStats::default();
    let (mut lags, mut bytes) = (Vec::new(), Vec::new());
    for r in rows {
        let LagRow::Engine { lag, error, .. } = r else { continue };
        if error.is_some() {
            e.errors += 1;
            continue;
        }
        e.samples += 1;
        match lag.reported_ms {
            Some(v) => lags.push((v * 1e6).round().max(0.0) as u64),
            None => e.nulls += 1,
        }
        bytes.extend(lag.behind_bytes);
    }
    lags.sort_unstable();
    bytes.sort_unstable();
    e.p50_ms = pct(&lags, 50.0).map(ms);
    e.p99_ms = pct(&lags, 99.0).map(ms);
    e.max_ms = lags.last().copied().map(ms);
    e.behind_bytes_p50 = pct(&bytes, 50.0);
    e.behind_bytes_max = bytes.last().copied();
    e
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

impl LagReport {
    /// The worst replica's value of `stat` (p50, p95, p99, max) over the whole drill, with
    /// every replica's, for the `replica_lag_ms` target.
    pub fn worst(&self, stat: Percentile) -> (Option<f64>, Vec<(String, Option<f64>)>) {
        let each: Vec<(String, Option<f64>)> = self
            .replicas
            .iter()
            .map(|r| {
                let s = &r.overall;
                let v = match stat {
                    Percentile::P50 => s.p50_ms,
                    Percentile::P95 => s.p95_ms,
                    Percentile::P99 => s.p99_ms,
                    Percentile::Max => s.max_ms,
                };
                (r.node.clone(), v)
            })
            .collect();
        // a replica with nothing timed (killed before its first read) cannot be judged
        (each.iter().filter_map(|(_, v)| *v).reduce(f64::max), each)
    }
}

#[cfg(test)]
#[path = "lag_tests.rs"]
mod tests;

/// One service's lag judged from the drill's lag file (None: it measured none), and the
/// `replica_lag_ms` target's results, one per statistic.
pub fn judge_lag(
    path: &std::path::Path,
    service: Option<&str>,
    events: &[crate::history::Event],
    a: &super::Analysis,
    limit: Option<&crate::scenario::LagLimit>,
) -> std::io::Result<(Option<LagReport>, Vec<super::TargetResult>)> {
    if !path.exists() {
        return Ok((None, Vec::new()));
    }
    let rows = crate::lag::read(path, service)?;
    let stop_ns = events.iter().find(|e| e.kind == crate::history::EventKind::WorkloadStop).map(|e| e.t_ns);
    let end_ns = stop_ns.unwrap_or_else(|| rows.iter().filter_map(row_time).max().unwrap_or(0));
    let recovered_ns = a.rto.recovered_at_ms.map(|ms| (ms * 1e6).round() as u64);
    let phases = super::latency::phases(events, recovered_ns, end_ns);
    let report = lag_report(&rows, &phases, end_ns);
    let targets = match (&report, limit) {
        (Some(r), Some(l)) => l.each().into_iter().map(|(stat, v)| lag_target(r, stat, v)).collect(),
        _ => Vec::new(),
    };
    Ok((report, targets))
}

fn row_time(r: &LagRow) -> Option<u64> {
    match r {
        LagRow::Beat { invoke_ns, .. } => Some(*invoke_ns),
        LagRow::Seen { recv_ns, .. } => Some(*recv_ns),
        LagRow::Engine { t_ns, .. } => Some(*t_ns),
        _ => None,
    }
}

fn lag_target(r: &LagReport, stat: Percentile, limit: u64) -> super::TargetResult {
    use super::Verdict;
    let (worst, each) = r.worst(stat);
    let verdict = match worst {
        Some(w) if w <= limit as f64 => Verdict::Pass,
        Some(_) => Verdict::Fail,
        None => Verdict::Unknown,
    };
    let show = |v: &Option<f64>| v.map_or("nothing timed".to_string(), |v| format!("{v:.1} ms"));
    let mut note: Vec<String> = each.iter().map(|(n, v)| format!("{n}: {}", show(v))).collect();
    let censored: u64 = r.replicas.iter().map(|x| x.overall.censored).sum();
    if censored > 0 {
        note.push(format!("{censored} heartbeats a replica never showed count at their lower bound"));
    }
    super::TargetResult {
        target: super::Target::ReplicaLagMs(stat),
        limit: Some(limit as f64),
        actual: worst,
        verdict,
        note: note.join("; "),
    }
}
