//! A restore recovery's RTO, step by step, and its loss beside what its settings allow:
//! every report shows the same rows.
use super::Results;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct RestoreStep {
    #[tabled(rename = "step")]
    pub step: String,
    #[tabled(rename = "from -> to (drill ms)")]
    pub span: String,
    #[tabled(rename = "duration")]
    pub duration: String,
}

/// fault → restore started (the trigger) → fresh node → restored → started → writable →
/// the clients' recovery point; a step the drill did not reach is "-".
pub fn restore_steps(r: &Results) -> Vec<RestoreStep> {
    let Some(rr) = r.failover.as_ref().and_then(|f| f.restore.as_ref()) else { return Vec::new() };
    let start = r.failover.as_ref().and_then(|f| f.started_ms);
    let points = [
        ("detection (the trigger)", Some(r.rto_from_ms), start),
        ("fresh node", start, rr.node_ms),
        ("restore (backup + archive fetched)", rr.node_ms, rr.fetched_ms),
        ("start", rr.fetched_ms, rr.started_ms),
        ("replay, until it takes writes", rr.started_ms, rr.writable_ms),
        ("reroute (clients' first ack)", rr.writable_ms, r.recovered_at_ms),
    ];
    points
        .iter()
        .map(|(step, from, to)| {
            let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let duration = match (from, to) {
                // a write already in flight when the probe saw it writable was the first ack
                (Some(a), Some(b)) if b < a => "0 ms (a client's write got in first)".to_string(),
                (Some(a), Some(b)) => format!("{:.1} ms", b - a),
                _ => "-".into(),
            };
            RestoreStep { step: step.to_string(), span: format!("{} -> {}", f(*from), f(*to)), duration }
        })
        .collect()
}

/// One sentence: the tool, the backup, and the loss beside what the settings allow.
pub fn restore_caption(r: &Results) -> Option<String> {
    let rr = r.failover.as_ref()?.restore.as_ref()?;
    let lost = match (r.lost_writes, r.rpo_ms) {
        (Some(n), Some(ms)) => format!("{n} acknowledged writes lost, RPO {ms:.1} ms"),
        _ => "loss unknown (nothing read back)".into(),
    };
    Some(format!(
        "Restore with {} onto {} from backup {}: {lost}; the settings allow up to {} ms ({})",
        rr.tool, rr.node, rr.backup, rr.allowed_loss_ms, rr.allowed_by
    ))
}
