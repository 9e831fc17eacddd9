//! The read targets (`read_rto_ms`, `stale_read_ms`, `max_reads_of_lost_writes`,
//! `max_reads_back_in_time`) judged on what the readers got.
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
        let lost = r.of_lost_writes.as_ref();
        let note = match lost {
            Some(l) => format!("{} successful reads showed {} writes the final read-back does not hold", l.reads, l.distinct_writes),
            None => "surviving data could not be read back".into(),
        };
        out.push(at_most(Target::MaxReadsOfLostWrites, limit, lost.map(|l| l.reads), note));
    }
    if let Some(limit) = t.max_reads_back_in_time {
        let b = &r.back_in_time;
        let note =
            format!("{} reads showed a writer's data older than the same reader saw before (largest step {})", b.reads, b.largest_step);
        out.push(at_most(Target::MaxReadsBackInTime, limit, Some(b.reads), note));
    }
    out
}

fn read_rto(r: &ReadsReport, limit: u64) -> TargetResult {
    let rto = r.rto.as_ref();
    let actual = rto.and_then(|x| x.rto_ms);
    let (verdict, note) = match (rto, actual) {
        (None, _) => (Verdict::Unknown, "no read was made".to_string()),
        (Some(x), Some(a)) if !x.outage_observed => (verdict(a <= limit as f64), "reads never stopped".into()),
        (Some(_), Some(a)) => (verdict(a <= limit as f64), String::new()),
        (Some(_), None) => {
            let why = r.unrecovered.as_ref().map_or("reads never became available again before the workload stopped".into(), |u| u.text());
            (Verdict::Fail, why)
        }
    };
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
