//! A restore recovery's RTO, step by step, and its loss beside what its settings allow;
//! an operator's bootstrap, step by step, and the positions it chose by: every report
//! shows the same rows.
use super::Results;
use super::format::ms;
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
    // it took writes when drdrill's probe saw it writable, or when a client's write that
    // it acknowledged began, if that came first: no step ends after the one it precedes
    let (took, client_first) = match (rr.writable_ms, r.recovered_at_ms) {
        (Some(w), Some(c)) if c < w => (Some(c), true),
        (w, _) => (w, false),
    };
    match rr.replayed_ms {
        // drdrill replayed (a binlog), then opened the node
        Some(replayed) => {
            points.extend([("replay (by drdrill)", rr.started_ms, Some(replayed)), ("opened, until it takes writes", Some(replayed), took)])
        }
        None => points.push(("replay, until it takes writes", rr.started_ms, took)),
    }
    let mut rows: Vec<RestoreStep> = points.iter().map(|(step, from, to)| step_row(step, *from, *to)).collect();
    rows.push(match client_first {
        true => step_row(
            &format!("reroute (a client's write got in first; drdrill's probe saw it writable at {})", ms(rr.writable_ms)),
            took,
            r.recovered_at_ms,
        ),
        false => step_row("reroute (clients' first ack)", took, r.recovered_at_ms),
    });
    rows
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

/// An operator's bootstrap, step by step: fault → the operator paged (the trigger) →
/// machines back, databases held → saved positions read → a primary component from the
/// chosen node → every other node a member; and the clients' recovery point.
pub fn bootstrap_steps(r: &Results) -> Vec<RestoreStep> {
    let Some(b) = r.failover.as_ref().and_then(|f| f.bootstrap.as_ref()) else { return Vec::new() };
    let start = r.failover.as_ref().and_then(|f| f.started_ms);
    // a client's write may get in before the operator's command returns
    let booted = match (b.bootstrapped_ms, r.recovered_at_ms) {
        (Some(bt), Some(c)) if c < bt => Some(c),
        (bt, _) => bt,
    };
    let points = [
        ("detection (the operator paged)", Some(r.rto_from_ms), start),
        ("machines back, databases held", start, b.held_ms),
        ("saved positions read", b.held_ms, b.read_ms),
        ("bootstrap: a primary component", b.read_ms, booted),
        ("every other node a member", b.bootstrapped_ms, b.joined_ms),
        ("the clients' recovery point", booted, r.recovered_at_ms),
    ];
    points.iter().map(|(step, from, to)| step_row(step, *from, *to)).collect()
}

/// One sentence: the node chosen and why, every position read, the loss.
pub fn bootstrap_caption(r: &Results) -> Option<String> {
    let b = r.failover.as_ref()?.bootstrap.as_ref()?;
    let read: Vec<String> = b.positions.iter().map(|p| format!("{} seqno {} ({})", p.node, p.seqno, p.how)).collect();
    let lost = match r.lost_writes {
        Some(n) => format!("{n} acknowledged writes lost"),
        None => "loss unknown (nothing read back)".into(),
    };
    Some(format!("Operator's bootstrap from {}; positions read: {}; {lost}", b.chosen, read.join("; ")))
}

/// The recovery's own section, when it has one: its title, caption and steps.
pub fn recovery_section(r: &Results) -> Option<(&'static str, String, Vec<RestoreStep>)> {
    if let Some(c) = restore_caption(r) {
        return Some(("Restore", c, restore_steps(r)));
    }
    bootstrap_caption(r).map(|c| ("Operator's bootstrap", c, bootstrap_steps(r)))
}

fn step_row(step: &str, from: Option<f64>, to: Option<f64>) -> RestoreStep {
    let duration = match (from, to) {
        (Some(a), Some(b)) => format!("{:.1} ms", b - a),
        _ => "-".into(),
    };
    RestoreStep { step: step.to_string(), span: format!("{} -> {}", ms(from), ms(to)), duration }
}

#[cfg(test)]
mod tests {
    use crate::failover::{FailoverReport, RestoreReport};

    /// A pgBackRest restore whose first client write began 32.4 ms before drdrill's probe
    /// saw the node writable (the 20807.3 -> 20774.9).
    #[test]
    fn a_client_write_before_the_probe_ends_the_replay_and_no_step_runs_backwards() {
        let mut r = crate::report::tests_support::results();
        let restore = RestoreReport {
            node_ms: Some(16_100.0),
            fetched_ms: Some(18_000.0),
            started_ms: Some(19_000.0),
            writable_ms: Some(20_807.3),
            ..Default::default()
        };
        r.failover = Some(FailoverReport { started_ms: Some(16_000.0), restore: Some(restore), ..Default::default() });
        r.rto_from_ms = 15_000.0;
        r.recovered_at_ms = Some(20_774.9);
        let steps = super::restore_steps(&r);
        let last = steps.last().unwrap();
        assert!(last.step.contains("a client's write got in first") && last.step.contains("20807.3"), "{}", last.step);
        assert_eq!(last.duration, "0.0 ms");
        let replay = &steps[steps.len() - 2];
        assert_eq!((replay.span.as_str(), replay.duration.as_str()), ("19000.0 -> 20774.9", "1774.9 ms"));
        assert!(steps.iter().all(|s| !s.duration.starts_with('-')), "{steps:?}");
    }
}
