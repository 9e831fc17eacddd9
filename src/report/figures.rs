//! The measured figures in words, the same in the scorecard and report.md: RTO and what
//! it counts from, the longest time without an acknowledgement, the WAN links that shape
//! the latency.
use super::Results;
use crate::checker::RtoBasis;
use crate::scenario::LinkSpec;

/// The longest time without an acknowledgement and when it began: `23.6 ms (from t=5012.3
/// ms)`, and `, to the end of the workload` when none came after it began.
pub(super) fn gap_text(r: &Results) -> String {
    let end = if r.longest_gap_to_end { ", to the end of the workload" } else { "" };
    format!("{:.1} ms (from t={:.1} ms){end}", r.longest_gap_ms, r.longest_gap_start_ms)
}

/// RTO in words: its value and what it counts from.
pub(super) fn rto_text(r: &Results) -> String {
    let basis = match r.rto_basis {
        RtoBasis::Fault => "from when the fault took effect for the clients",
        RtoBasis::OutageStart => "no fault injected: from the outage's start as clients saw it",
    };
    if let (None, Some(why)) = (r.rto_ms, &r.no_rto_because) {
        return format!("none ({why})");
    }
    match (r.rto_ms, r.outage_observed) {
        (_, false) => "0 ms (no outage observed)".to_string(),
        (Some(v), true) => format!("{v:.1} ms ({basis})"),
        (None, true) => "never recovered".to_string(),
    }
}

/// The links that add anything (sites that are groups on one network have plain ones).
pub(super) fn shaped(r: &Results) -> impl Iterator<Item = &LinkSpec> {
    r.wan.iter().filter(|l| !l.is_plain())
}
