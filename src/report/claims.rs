//! The claims table (`targets.claims`): each claim of the document a drill tests (a
//! runbook, a design's "measured" table, an SLA) in its own words, beside the target it
//! became, what the drill measured, and whether it held. One row per claim and service,
//! in every report; a drill of several services gathers them all in one table (seed 004's
//! table, one row per link and claim).
use super::Results;
use super::format::ms;
use crate::checker::{Target, TargetResult, Verdict};
use serde::Serialize;

/// One claim, already formatted.
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct ClaimLine {
    #[tabled(rename = "service")]
    pub service: String,
    #[tabled(rename = "claim")]
    pub claim: String,
    #[tabled(rename = "target")]
    pub target: String,
    #[tabled(rename = "measured")]
    pub measured: String,
    #[tabled(rename = "held")]
    pub held: String,
}

/// The caption ("Claims beside what was measured: 7 of 9 held") and the rows; None when no
/// target carries a claim.
pub fn claims_section(r: &Results) -> Option<(String, Vec<ClaimLine>)> {
    let rows: Vec<ClaimLine> = r.each_service().into_iter().flat_map(|(name, sr)| service_lines(name, sr)).collect();
    if rows.is_empty() {
        return None;
    }
    let held = rows.iter().filter(|l| l.held == "yes").count();
    Some((format!("Claims beside what was measured: {held} of {} held", rows.len()), rows))
}

/// A service's claims, in the order its targets were judged; a claim on a target with
/// several results (`replica_lag_ms.p50`, `.p99`) stands beside each.
fn service_lines(name: &str, sr: &Results) -> Vec<ClaimLine> {
    let claim_of = |t: &TargetResult| sr.claims.get(&t.target.key()).cloned();
    sr.targets
        .iter()
        .filter_map(|t| {
            let claim = claim_of(t)?;
            let held = match t.verdict {
                Verdict::Pass => "yes",
                Verdict::Fail => "no",
                Verdict::Unknown => "unknown",
                Verdict::Undecided => "undecided (the host was disturbed)",
            };
            Some(ClaimLine { service: name.to_string(), claim, target: limit_text(t), measured: measured_text(sr, t), held: held.into() })
        })
        .collect()
}

/// "rto_ms ≤ 30000", "max_lost_pct ≤ 1 %".
fn limit_text(t: &TargetResult) -> String {
    match (&t.target, t.limit) {
        (Target::MaxLostPct, Some(l)) => format!("lost ≤ {l} % of acknowledged"),
        (Target::Converged, _) => "replicas converged".into(),
        (name, Some(l)) => format!("{name} ≤ {l}"),
        (name, None) => name.to_string(),
    }
}

/// What was measured, with the figures a reader needs beside the one judged: the lag's
/// p50 / p99 / max on the worst replica, the writes behind an RPO or a share lost.
fn measured_text(sr: &Results, t: &TargetResult) -> String {
    let lost = || match (sr.lost_writes, sr.acked_writes) {
        (Some(l), a) => format!("{l} of {a} acknowledged writes lost"),
        (None, _) => "not read back".to_string(),
    };
    match t.target {
        Target::ReplicaLagMs(_) => lag_text(sr).unwrap_or_else(|| ms(t.actual)),
        Target::RpoMs => format!("{} ms: {}", ms(t.actual), lost()),
        Target::MaxLostWrites => lost(),
        Target::MaxLostPct => match t.actual {
            Some(pct) => format!("{pct:.2} %: {}", lost()),
            None => lost(),
        },
        Target::RtoMs => {
            let through = sr.phases.as_ref().map(|p| format!(" (through {})", p.orchestrator)).unwrap_or_default();
            format!("{} ms{through}", ms(t.actual))
        }
        _ if t.note.is_empty() => ms(t.actual),
        _ => format!("{}: {}", ms(t.actual), t.note),
    }
}

/// "p50 0.2 / p99 7.0 / max 8.7 ms" on the replica with the highest p99.
fn lag_text(sr: &Results) -> Option<String> {
    let lag = sr.replica_lag.as_ref()?;
    let worst = lag.replicas.iter().max_by(|a, b| a.overall.p99_ms.unwrap_or(0.0).total_cmp(&b.overall.p99_ms.unwrap_or(0.0)))?;
    let o = &worst.overall;
    let on = if lag.replicas.len() > 1 { format!(" on {}", worst.node) } else { String::new() };
    Some(format!("p50 {} / p99 {} / max {} ms{on}", ms(o.p50_ms), ms(o.p99_ms), ms(o.max_ms)))
}
