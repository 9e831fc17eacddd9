//! The failover's steps as the drill observed them: each one's first evidence at or after
//! the answered fault, in the events and in the new primary's acknowledgements.
use super::ack_runs::{AckRuns, RunStart};
use crate::history::{Event, EventKind};
use crate::stack::{ClientDns, PhaseSteps as Steps};

/// The events that mark, for these steps, the failure detected, the new primary
/// promoted and the clients' endpoint moved to it.
fn event_kinds(steps: Steps) -> (EventKind, EventKind, EventKind) {
    match steps {
        Steps::Orchestrator => (EventKind::OrchestratorDetected, EventKind::OrchestratorPromoted, EventKind::OrchestratorMoved),
        Steps::Scripted { .. } => (EventKind::FailoverStart, EventKind::FailoverPromote, EventKind::FailoverRepointClients),
    }
}

/// Drill times (ns) of the failover's steps as the drill observed them; None for a step it
/// did not observe.
pub(super) struct Observed {
    /// When the answered fault was injected.
    pub(super) fault_ns: Option<u64>,
    pub(super) detected: Option<u64>,
    pub(super) promoted: Option<u64>,
    pub(super) promoted_by: Option<String>,
    /// How long after the new primary's first acknowledgement the watcher saw it promoted
    /// (ns), when the clients got in first.
    pub(super) watcher_late: Option<u64>,
    /// The clients' endpoint (an orchestrator's VIP) reached the new primary.
    pub(super) moved: Option<u64>,
    /// The new primary's first run of acknowledged writes after the fault.
    pub(super) first: Option<RunStart>,
    /// With the drill's DNS: the record moved; the first and the last client cache ran out.
    pub(super) dns_moved: Option<u64>,
    pub(super) first_expired: Option<u64>,
    pub(super) expired: Option<u64>,
}

impl Observed {
    /// Each step's first evidence at or after the answered fault, in the events and in the
    /// new primary's acknowledgements.
    pub(super) fn in_history(
        planned: bool,
        events: &[Event],
        fault: Option<usize>,
        new: Option<&str>,
        runs: &AckRuns,
        steps: Steps,
    ) -> Self {
        let fault_ns = answered_fault_ns(events, fault);
        let after = |kind: EventKind, node: Option<&str>| first_after_fault(events, fault_ns, kind, node);
        let (detect, promote, moves) = event_kinds(steps);
        let first = match (new, fault_ns) {
            (Some(n), Some(f)) => runs.first_after(n, f),
            _ => None,
        };
        let watched = new.and_then(|n| after(promote, Some(n)));
        let (promoted, promoted_by) = promotion(watched, first.map(|r| r.ack_ns));
        let moved = new.and_then(|n| after(moves, Some(n)));
        let (dns_moved, first_expired, expired) = dns_move(events, steps, moved, new);
        Observed {
            fault_ns,
            detected: if planned { None } else { after(detect, None) },
            promoted,
            watcher_late: watched.zip(promoted).map(|(w, p)| w.saturating_sub(p)).filter(|late| *late > 0),
            promoted_by,
            moved: if dns_moved.is_some() { None } else { moved.filter(|_| steps == Steps::Orchestrator) },
            first,
            dns_moved,
            first_expired,
            expired,
        }
    }
}

/// When the answered fault was injected; None when no fault was answered or it has no
/// `fault-inject` event.
fn answered_fault_ns(events: &[Event], fault: Option<usize>) -> Option<u64> {
    fault.and_then(|i| events.iter().find(|e| e.kind == EventKind::FaultInject && e.fault == Some(i))).map(|e| e.t_ns)
}

/// The first `kind` event at or after the fault (on `node` when given); None without a fault.
fn first_after_fault(events: &[Event], fault_ns: Option<u64>, kind: EventKind, node: Option<&str>) -> Option<u64> {
    let from = fault_ns?;
    events.iter().find(|e| e.kind == kind && e.t_ns >= from && (node.is_none() || e.node.as_deref() == node)).map(|e| e.t_ns)
}

/// The earliest evidence that the new primary took writes, and what it was: the watcher
/// seeing it promoted (`watched`), or its first acknowledgement if that came first. (Not
/// that write's start: a write may begin before the promotion and wait for it, in a
/// proxy's queue or a connection's retries; only its acknowledgement proves it.)
fn promotion(watched: Option<u64>, first_ack: Option<u64>) -> (Option<u64>, Option<String>) {
    match (watched, first_ack) {
        (Some(w), Some(a)) if a < w => (Some(a), Some("first acknowledged write".to_string())),
        (None, Some(a)) => (Some(a), Some("first acknowledged write".to_string())),
        (Some(w), _) => (Some(w), Some("watcher".to_string())),
        (None, None) => (None, None),
    }
}

/// With the drill's DNS (drdrill's scripted recovery with a TTL) and the record `moved`:
/// when it moved, and when the first and the last client cache of the old address ran out.
fn dns_move(events: &[Event], steps: Steps, moved: Option<u64>, new: Option<&str>) -> (Option<u64>, Option<u64>, Option<u64>) {
    match (steps, moved) {
        // clients that never ask again never see it move: no cache runs out
        (Steps::Scripted { dns: Some(ClientDns { once: true, .. }) }, Some(_)) => (moved, None, None),
        (Steps::Scripted { dns: Some(ClientDns { ttl_ms, .. }) }, Some(m)) => {
            let (first, last) = caches_expired(events, m, new, ttl_ms);
            (moved, Some(first), Some(last))
        }
        _ => (None, None, None),
    }
}

/// When the first and the last client cache holding an address other than `new`'s ran
/// out: per client (a `dns-answer`'s detail names it before its ':'), its latest such answer
/// at or before the record moved (`moved_ns`), plus the TTL; the move itself for a client
/// whose cache had already run out.
fn caches_expired(events: &[Event], moved_ns: u64, new: Option<&str>, ttl_ms: u64) -> (u64, u64) {
    let mut last_old = std::collections::BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::DnsAnswer && e.t_ns <= moved_ns && e.node.as_deref() != new) {
        let client = e.detail.split(':').next().unwrap_or_default();
        let t = last_old.entry(client).or_insert(e.t_ns);
        *t = (*t).max(e.t_ns);
    }
    let expiry = |t: &u64| t.saturating_add(crate::clock::ms_to_ns(ttl_ms)).max(moved_ns);
    let first = last_old.values().map(expiry).min().unwrap_or(moved_ns);
    (first, last_old.values().map(expiry).max().unwrap_or(moved_ns))
}
