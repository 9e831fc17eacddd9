//! The words of the judged results that more than one place says: a reporter's section
//! and a finding, or a question's row. Each is written once, here.
use super::Results;
use crate::checker::Split;

/// A figure in ms with one decimal, or "-" when there is none.
pub fn ms_text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
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
