//! The measured figures in words, the same in the scorecard and report.md: RTO and what
//! it counts from, the longest time without an acknowledgement, the WAN links that shape
//! the latency.
use super::Results;
use crate::checker::{RtoBasis, not_recovered_text};
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
        RtoBasis::ReadsOutage => "from the reads' first failure after the fault",
    };
    if let (None, Some(why)) = (r.rto_ms, &r.no_rto_because) {
        return format!("none ({why})");
    }
    match (r.rto_ms, r.outage_observed) {
        (_, false) => "0 ms (no outage observed)".to_string(),
        (Some(v), true) => format!("{v:.1} ms ({basis})"),
        (None, true) => not_recovered_text(r),
    }
}

/// The links that add anything (sites that are groups on one network have plain ones).
pub(super) fn shaped(r: &Results) -> impl Iterator<Item = &LinkSpec> {
    r.wan.iter().filter(|l| !l.is_plain())
}

/// Latency of acknowledged writes per phase, as report.md and report.html show it (ms; "-"
/// where a phase had no acknowledged write); nothing when no phase was measured.
pub(super) fn latency_grid(r: &Results) -> Option<super::format::Grid> {
    if r.latency.is_empty() {
        return None;
    }
    let header = ["phase", "from (s)", "to (s)", "ok ops", "p50", "p95", "p99", "max", "mean"].map(String::from).to_vec();
    let ms = super::format::ms;
    let rows = r
        .latency
        .iter()
        .map(|l| {
            let figures = [l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms].map(ms);
            let head = [l.phase.to_string(), format!("{:.3}", l.from_ms / 1e3), format!("{:.3}", l.to_ms / 1e3), l.ok_ops.to_string()];
            head.into_iter().chain(figures).collect()
        })
        .collect();
    Some(super::format::Grid { header, rows })
}

/// The WAN links as set, a sentence each: `WAN dc1-dc2: round trip 30 ms (its setting)`.
pub(super) fn wan_texts(r: &Results) -> Vec<String> {
    shaped(r).map(|l| format!("WAN {}: {}", l.between.join("-"), super::format::link_setting(l))).collect()
}
