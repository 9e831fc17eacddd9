//! The words of the judged results that more than one place says: a reporter's section
//! and a finding, or a question's row. Each is written once, here.
use super::Results;
use crate::checker::{ReadsReport, Split};

/// A figure in ms with one decimal, or "-" when there is none.
pub fn ms_text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

/// The read RTO in words: its figure and span, "reads never stopped", or not recovered.
pub fn read_rto_text(x: &ReadsReport) -> String {
    match &x.rto {
        None => "no read was made".into(),
        Some(r) if !r.outage_observed => "0 ms: reads never stopped".into(),
        Some(r) => match (r.rto_ms, r.recovered_at_ms) {
            (Some(v), Some(_)) if v < 0.05 => format!(
                "0 ms: reads failed only in passing ({} not ok, the first at t={:.1} ms) while others succeeded at once",
                x.fail + x.unknown,
                r.outage_start_ms.unwrap_or(r.from_ms)
            ),
            (Some(v), Some(to)) if r.basis == crate::checker::RtoBasis::ReadsOutage => format!(
                "{v:.1} ms, from the reads' first failure after the fault (reads went on after it), t={:.1} ms, to the recovery point t={to:.1} ms",
                r.from_ms
            ),
            (Some(v), Some(to)) => format!("{v:.1} ms (t={:.1} ms to the recovery point t={to:.1} ms)", r.from_ms),
            _ => x.unrecovered.as_ref().map_or_else(
                || {
                    format!(
                        "not recovered within the drill's window (reads failing from t={:.1} ms)",
                        r.outage_start_ms.unwrap_or(r.from_ms)
                    )
                },
                |u| u.text(),
            ),
        },
    }
}

/// Reads of lost writes in words.
pub fn lost_text(x: &ReadsReport) -> String {
    match &x.of_lost_writes {
        None => "not known: the surviving data could not be read back".into(),
        Some(l) if l.reads == 0 => "none".into(),
        Some(l) => format!("{} reads showed {} writes the final read-back does not hold", l.reads, l.distinct_writes),
    }
}

/// Reads back in time in words.
pub fn back_text(x: &ReadsReport) -> String {
    match &x.back_in_time {
        b if b.reads == 0 => "none".into(),
        b => format!(
            "{} reads showed a writer's data older than the same reader had seen (largest step {} records)",
            b.reads, b.largest_step
        ),
    }
}

/// Writes that did not come back while the drill watched, as measured and no more: `not
/// recovered within the drill's window (no acknowledged write in the 85.0 s from the fault
/// to the workload's end, 80.0 s after the failover was done)`. The clients may have come
/// back later; nobody was writing then.
pub fn not_recovered_text(r: &Results) -> String {
    let end = (r.longest_gap_to_end && r.longest_gap_ms > 0.0).then_some(r.longest_gap_start_ms + r.longest_gap_ms);
    let Some(end) = end.filter(|e| *e > r.rto_from_ms) else { return "not recovered within the drill's window".into() };
    let done = r.failover.as_ref().and_then(|f| f.done_ms).filter(|d| *d < end);
    let after = done.map(|d| format!(", {:.1} s after the failover was done", (end - d) / 1000.0)).unwrap_or_default();
    format!(
        "not recovered within the drill's window (no acknowledged write in the {:.1} s from the fault to the workload's end{after})",
        (end - r.rto_from_ms) / 1000.0
    )
}

/// "files-1 and files-2 both held the VIP … from t=… to t=… (9.0 s):".
pub fn held_text(s: &Split, entry: &str) -> String {
    let until = s.to_ms.map(|t| format!("to t={t:.1} ms")).unwrap_or_else(|| "to the end of the watch".into());
    let who = if s.nodes.len() == 2 { format!("{} both", s.nodes.join(" and ")) } else { format!("{} all", s.nodes.join(", ")) };
    format!("{who} held {entry} from t={:.1} ms {until} ({:.1} s):", s.from_ms, s.duration_ms / 1000.0)
}

/// "files-1 acknowledged 3 writes (0 lost), files-2 acknowledged 210 (210 lost)".
pub fn sides_text(s: &Split) -> String {
    let sides: Vec<String> = s
        .nodes
        .iter()
        .map(|n| format!("{n} acknowledged {} writes ({} lost)", s.acked.get(n).copied().unwrap_or(0), s.lost.get(n).copied().unwrap_or(0)))
        .collect();
    sides.join(", ")
}
