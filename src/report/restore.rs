//! A restore recovery's RTO, step by step, and its loss beside what its settings allow:
//! every report shows the same rows.
use super::Results;
use super::terminal::ms;
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
    let fresh_from = rr.archived_ms.or(start);
    let mut points = vec![("detection (the trigger)", Some(r.rto_from_ms), start)];
    if rr.archived_ms.is_some() {
        points.push(("final archive of the old primary", start, rr.archived_ms));
    }
    points.extend([
        ("fresh node", fresh_from, rr.node_ms),
        ("restore (backup + archive fetched)", rr.node_ms, rr.fetched_ms),
        ("start", rr.fetched_ms, rr.started_ms),
    ]);
    match rr.replayed_ms {
        // drdrill replayed (a binlog), then opened the node
        Some(replayed) => points.extend([
            ("replay (by drdrill)", rr.started_ms, Some(replayed)),
            ("opened, until it takes writes", Some(replayed), rr.writable_ms),
        ]),
        None => points.push(("replay, until it takes writes", rr.started_ms, rr.writable_ms)),
    }
    points.push(("reroute (clients' first ack)", rr.writable_ms, r.recovered_at_ms));
    points
        .iter()
        .map(|(step, from, to)| {
            let duration = match (from, to) {
                // a write already in flight when the probe saw it writable was the first ack
                (Some(a), Some(b)) if b < a => "0 ms (a client's write got in first)".to_string(),
                (Some(a), Some(b)) => format!("{:.1} ms", b - a),
                _ => "-".into(),
            };
            RestoreStep { step: step.to_string(), span: format!("{} -> {}", ms(*from), ms(*to)), duration }
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
    let target_ms = r.failover.as_ref().and_then(|f| f.target_ms);
    let target = match target_ms {
        Some(t) => format!(
            " to t={t:.1} ms, just before the fault (point-in-time; {} writes acknowledged after it discarded by design)",
            r.discarded_writes.unwrap_or(0)
        ),
        None => " to the latest state it holds".into(),
    };
    let allowed = match target_ms {
        Some(_) => "every write acknowledged before the target must survive".to_string(),
        None => format!("the settings allow up to {} ms ({})", rr.allowed_loss_ms, rr.allowed_by),
    };
    Some(format!("Restore with {} onto {} from backup {}{target}: {lost}; {allowed}", rr.tool, rr.node, rr.backup))
}
