//! The read targets (`read_rto_ms`, `stale_read_ms`, `max_reads_of_lost_writes`,
//! `max_reads_back_in_time`) judged on what the readers got.
use super::read_words::{back_text, lost_text, read_rto_text};
use super::reads::ReadsReport;
use super::{Target, TargetResult, Verdict};
use crate::scenario::{Percentile, Targets};

/// One result per read target the scenario sets.
pub fn judge_read_targets(r: &ReadsReport, t: &Targets) -> Vec<TargetResult> {
    let mut out = Vec::new();
    if let Some(limit) = t.read_rto_ms {
        out.push(read_rto(r, limit));
    }
    for (stat, limit) in t.stale_read_ms.iter().flat_map(|l| l.each()) {
        out.push(stale(r, stat, limit));
    }
    if let Some(limit) = t.max_reads_of_lost_writes {
        let lost = r.of_lost_writes.as_ref().map(|l| l.reads);
        out.push(at_most(Target::MaxReadsOfLostWrites, limit, lost, lost_text(r)));
    }
    if let Some(limit) = t.max_reads_back_in_time {
        out.push(at_most(Target::MaxReadsBackInTime, limit, Some(r.back_in_time.reads), back_text(r)));
    }
    out
}

fn read_rto(r: &ReadsReport, limit: u64) -> TargetResult {
    let rto = r.rto.as_ref();
    let actual = rto.and_then(|x| x.rto_ms);
    let verdict = match (rto, actual) {
        (None, _) => Verdict::Unknown,
        (Some(_), Some(a)) => verdict(a <= limit as f64),
        (Some(_), None) => Verdict::Fail,
    };
    let note = read_rto_text(r);
    TargetResult { target: Target::ReadRtoMs, limit: Some(limit as f64), actual, verdict, note }
}

fn stale(r: &ReadsReport, stat: Percentile, limit: u64) -> TargetResult {
    let s = &r.staleness;
    let actual = match stat {
        Percentile::P50 => s.p50_ms,
        Percentile::P95 => s.p95_ms,
        Percentile::P99 => s.p99_ms,
        Percentile::Max => s.max_ms,
    };
    let (verdict, note) = match actual {
        Some(a) => (verdict(a <= limit as f64), format!("over {} successful reads", s.reads)),
        None => (Verdict::Unknown, "no read succeeded".into()),
    };
    TargetResult { target: Target::StaleReadMs(stat), limit: Some(limit as f64), actual, verdict, note }
}

fn at_most(target: Target, limit: u64, actual: Option<u64>, note: String) -> TargetResult {
    let verdict = actual.map_or(Verdict::Unknown, |a| verdict(a <= limit));
    TargetResult { target, limit: Some(limit as f64), actual: actual.map(|a| a as f64), verdict, note }
}

fn verdict(pass: bool) -> Verdict {
    if pass { Verdict::Pass } else { Verdict::Fail }
}
