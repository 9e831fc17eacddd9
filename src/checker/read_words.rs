//! The readers' figures in words, written once: the read RTO, the reads of lost writes,
//! the reads back in time. The read targets' notes, the questions' read rows, the
//! findings and every report's read section all say them with these.
use super::reads::ReadsReport;

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
            (Some(v), Some(to)) if r.basis == super::RtoBasis::ReadsOutage => format!(
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
