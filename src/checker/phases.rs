//! RTO split into what the orchestrator and the clients did: fault → detected → promoted →
//! rerouted → recovered, each phase with its duration and the budget the settings imply.
//! A phase the drill did not observe is null, never guessed.
use super::steps::Observed;
use crate::clock::ms;
use crate::history::{Event, EventKind, Op, Outcome};
use crate::stack::Budgets;
use serde::Serialize;
use std::collections::HashMap;

/// A new run of acknowledgements on a node starts when its previous ack is this old.
const RUN_GAP_NS: u64 = 100_000_000;

/// Per node, when runs of acknowledged writes began: the invoke time of a run's first write
/// (as RTO's recovery point counts) and the run's first acknowledgement. A few numbers per
/// node, whatever the number of writes.
#[derive(Debug, Default)]
pub struct AckRuns {
    nodes: HashMap<String, (u64, Vec<RunStart>)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RunStart {
    pub(crate) invoke_ns: u64,
    pub(crate) ack_ns: u64,
}

impl AckRuns {
    pub fn add(&mut self, op: &Op) {
        let Some(node) = op.node.as_deref().filter(|_| op.outcome == Outcome::Ok) else { return };
        let e = match self.nodes.get_mut(node) {
            Some(e) => e,
            None => self.nodes.entry(node.to_string()).or_insert((0, Vec::new())),
        };
        if e.1.is_empty() || op.complete_ns >= e.0.saturating_add(RUN_GAP_NS) {
            e.1.push(RunStart { invoke_ns: op.invoke_ns, ack_ns: op.complete_ns });
        } else if let Some(start) = e.1.last_mut() {
            // ops arrive in completion order: one invoked earlier may complete later
            start.invoke_ns = start.invoke_ns.min(op.invoke_ns);
            start.ack_ns = start.ack_ns.min(op.complete_ns);
        }
        e.0 = e.0.max(op.complete_ns);
    }

    /// The first acknowledged write `node` took that was invoked at or after `from_ns`,
    /// when it begins a run.
    pub(crate) fn first_after(&self, node: &str, from_ns: u64) -> Option<RunStart> {
        let (_, starts) = self.nodes.get(node)?;
        starts.iter().copied().filter(|r| r.invoke_ns >= from_ns).min_by_key(|r| r.invoke_ns)
    }
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Phases {
    pub orchestrator: String,
    pub old_primary: Option<String>,
    pub new_primary: Option<String>,
    /// Drill times (ms) of each step; the fault's is when it took effect for the clients
    /// (RTO's start), so that the phases add up to the RTO.
    pub fault_ms: Option<f64>,
    pub detected_ms: Option<f64>,
    /// The earliest evidence that the new primary took writes: the watcher seeing it
    /// writable, or its first acknowledgement if that came first (`promoted_by`).
    pub promoted_ms: Option<f64>,
    pub promoted_by: Option<String>,
    /// When the clients got in first: how much later the watcher saw the promotion (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher_late_ms: Option<f64>,
    /// When the clients' first write to the new primary began before the step the reroute
    /// starts from (the promotion seen, or the first cache run out) and waited for it: how
    /// long before (ms). The reroute is then 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerouted_early_ms: Option<f64>,
    /// When the clients' endpoint (MHA's VIP) first reached the new primary; null for
    /// stacks without one. MHA moves the VIP before it makes the new master writable.
    pub moved_ms: Option<f64>,
    /// Invoke time of the first write the new primary acknowledged (RTO counts invokes), and
    /// when it was acknowledged: a write queued by the proxy may be invoked before the
    /// promotion, but is acknowledged after it.
    pub rerouted_ms: Option<f64>,
    pub rerouted_ack_ms: Option<f64>,
    pub recovered_ms: Option<f64>,
    /// Durations (ms): fault → detected, detected → promoted, promoted → rerouted,
    /// rerouted → recovered (RTO's recovery point).
    pub detection_ms: Option<f64>,
    pub promotion_ms: Option<f64>,
    pub reroute_ms: Option<f64>,
    pub stabilization_ms: Option<f64>,
    /// With the drill's DNS: when the service's record moved to the new primary; when the
    /// first client's cache holding the old address ran out (each client's latest answer of
    /// the old address before the move, plus the TTL; the move itself when none was still
    /// cached), the first client that could follow; and when the last one's did, every
    /// client following.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_moved_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_cache_expired_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caches_expired_ms: Option<f64>,
    /// promoted → DNS moved, DNS moved → the first cache expired (the reroute is then that
    /// → the first acknowledged write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_update_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_wait_ms: Option<f64>,
    pub budgets: Budgets,
}

/// The drill's DNS as the clients use it: the record's TTL (ms), and whether they resolve
/// once and never ask again (`workload.resolve: once`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientDns {
    pub ttl_ms: u64,
    pub once: bool,
}

/// Whose steps the phases follow: the orchestrator's (its watcher's events), or drdrill's
/// scripted recovery (failover start, promotion, the clients repointed), with the DNS
/// record's TTL when the clients find the primary through the drill's DNS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steps {
    Orchestrator,
    Scripted { dns: Option<ClientDns> },
}

impl Steps {
    /// The events that mark, for these steps, the failure detected, the new primary
    /// promoted and the clients' endpoint moved to it.
    pub(super) fn event_kinds(self) -> (EventKind, EventKind, EventKind) {
        match self {
            Steps::Orchestrator => (EventKind::OrchestratorDetected, EventKind::OrchestratorPromoted, EventKind::OrchestratorMoved),
            Steps::Scripted { .. } => (EventKind::FailoverStart, EventKind::FailoverPromote, EventKind::FailoverRepointClients),
        }
    }
}

/// `fault` is the fault the orchestrator answered; `new_primary` the node it promoted;
/// `rto` is RTO's span: when the fault took effect for the clients, and the recovery point.
/// After a `planned` switchover nothing is detected: the old leader releasing its key is
/// part of the handover, so that phase is null.
#[allow(clippy::too_many_arguments)]
pub fn phases(
    orchestrator: &str,
    planned: bool,
    events: &[Event],
    fault: Option<usize>,
    old_primary: Option<String>,
    new_primary: Option<String>,
    runs: &AckRuns,
    rto: (f64, Option<f64>),
    budgets: Budgets,
    steps: Steps,
) -> Phases {
    let seen = Observed::in_history(planned, events, fault, new_primary.as_deref(), runs, steps);
    phases_between(seen, orchestrator, old_primary, new_primary, rto, budgets)
}

/// The phases between the steps the drill observed, in drill ms: the fault's time is RTO's
/// start and the recovery RTO's recovery point (`rto`), so that the phases add up to the RTO.
fn phases_between(
    seen: Observed,
    orchestrator: &str,
    old: Option<String>,
    new: Option<String>,
    rto: (f64, Option<f64>),
    budgets: Budgets,
) -> Phases {
    let (from_ms, recovered_ms) = rto;
    let span = |a: Option<u64>, b: Option<u64>| Some(ms(b?) - ms(a?));
    let rerouted = seen.first.map(|r| r.invoke_ns);
    // the phases split RTO's span, which ends at a write's start: when the clients' first
    // write to the new primary began before the promotion was seen (it waited for it), the
    // promotion phase ends there and the reroute is 0; `promoted_ms` stays the evidence
    let promotion_end = match (seen.promoted, rerouted) {
        (Some(p), Some(r)) if r < p => Some(r),
        (p, _) => p,
    };
    Phases {
        orchestrator: orchestrator.to_string(),
        old_primary: old,
        new_primary: new,
        fault_ms: seen.fault_ns.map(|_| from_ms),
        detected_ms: seen.detected.map(ms),
        promoted_ms: seen.promoted.map(ms),
        promoted_by: seen.promoted_by,
        watcher_late_ms: seen.watcher_late.map(|ns| ns as f64 / 1e6),
        moved_ms: seen.moved.map(ms),
        rerouted_ms: rerouted.map(ms),
        rerouted_ack_ms: seen.first.map(|r| ms(r.ack_ns)),
        recovered_ms,
        detection_ms: seen.fault_ns.and(seen.detected).map(|d| ms(d) - from_ms),
        promotion_ms: span(seen.detected, promotion_end),
        // a first write that began before the step the reroute starts from waited for it:
        // the reroute took nothing, and `rerouted_early_ms` says how long it waited
        reroute_ms: span(seen.first_expired.or(promotion_end), rerouted).map(|r| r.max(0.0)),
        rerouted_early_ms: span(rerouted, seen.first_expired.or(seen.promoted)).filter(|w| *w > 0.0),
        stabilization_ms: rerouted.and_then(|r| Some(recovered_ms? - ms(r))),
        dns_moved_ms: seen.dns_moved.map(ms),
        first_cache_expired_ms: seen.first_expired.map(ms),
        caches_expired_ms: seen.expired.map(ms),
        dns_update_ms: span(seen.promoted, seen.dns_moved),
        ttl_wait_ms: span(seen.dns_moved, seen.first_expired),
        budgets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// drdrill's own failover of pg-1 to pg-2, answering fault 0, the budgets left at
    /// their defaults.
    fn scripted(events: &[Event], runs: &AckRuns, rto: (f64, Option<f64>), steps: Steps) -> Phases {
        phases("scripted", false, events, Some(0), Some("pg-1".into()), Some("pg-2".into()), runs, rto, Budgets::default(), steps)
    }

    /// An orchestrator's failover (or switchover) of `old` to `new`, answering fault 0, the
    /// budgets left at their defaults.
    fn orchestrated(switchover: bool, events: &[Event], (old, new): (&str, &str), runs: &AckRuns, rto: (f64, Option<f64>)) -> Phases {
        phases(
            "orchestrator",
            switchover,
            events,
            Some(0),
            Some(old.into()),
            Some(new.into()),
            runs,
            rto,
            Budgets::default(),
            Steps::Orchestrator,
        )
    }

    fn ev(t_ms: u64, kind: EventKind, node: Option<&str>, fault: Option<usize>) -> Event {
        Event {
            service: None,
            t_ns: t_ms * 1_000_000,
            kind,
            fault,
            node: node.map(str::to_string),
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    fn ok(node: &str, t_ms: u64) -> Op {
        Op {
            service: None,
            writer: 0,
            seq: t_ms,
            key: None,
            invoke_ns: t_ms * 1_000_000 - 500_000,
            complete_ns: t_ms * 1_000_000,
            outcome: Outcome::Ok,
            node: Some(node.into()),
            error: None,
        }
    }

    #[test]
    fn phases_follow_the_orchestrator_and_the_clients() {
        let events = vec![
            ev(1000, EventKind::FaultInject, Some("redis-1"), Some(0)),
            ev(6100, EventKind::OrchestratorDetected, Some("redis-1"), Some(0)),
            ev(7200, EventKind::OrchestratorNote, None, Some(0)),
            ev(7400, EventKind::OrchestratorPromoted, Some("redis-2"), Some(0)),
        ];
        let mut runs = AckRuns::default();
        for t in (100..1000).step_by(10) {
            runs.add(&ok("redis-1", t));
        }
        for t in (7450..9000).step_by(10) {
            runs.add(&ok("redis-2", t));
        }
        // invoked before the first one that completed: the run starts with it
        runs.add(&Op { invoke_ns: 7_449_200_000, ..ok("redis-2", 7460) });
        let p = orchestrated(false, &events, ("redis-1", "redis-2"), &runs, (1000.0, Some(7460.0)));
        assert_eq!(p.detection_ms, Some(5100.0));
        assert_eq!(p.promotion_ms, Some(1300.0));
        assert_eq!(p.rerouted_ms, Some(7449.2));
        assert!((p.reroute_ms.unwrap() - 49.2).abs() < 1e-6);
        assert!((p.stabilization_ms.unwrap() - 10.8).abs() < 1e-6);
        assert_eq!((p.promoted_by.as_deref(), p.rerouted_ack_ms), (Some("watcher"), Some(7450.0)));
    }

    #[test]
    fn an_acknowledgement_before_the_watcher_saw_the_promotion_moves_it_earlier() {
        // the watcher's poll ran late (a busy machine): the new primary's first ack is the
        // earlier evidence that it was promoted
        let events =
            vec![ev(1000, EventKind::FaultInject, Some("pg-1"), Some(0)), ev(9000, EventKind::OrchestratorDetected, None, Some(0))];
        let late = [events.clone(), vec![ev(9340, EventKind::OrchestratorPromoted, Some("pg-2"), Some(0))]].concat();
        let mut runs = AckRuns::default();
        runs.add(&Op { invoke_ns: 9_290_000_000, ..ok("pg-2", 9320) });
        let p = |events: &[Event]| orchestrated(false, events, ("pg-1", "pg-2"), &runs, (1000.0, Some(9290.0)));
        // promoted at the acknowledgement, the watcher 20 ms late; the write began 30 ms
        // before it and waited: the promotion phase ends where the write began, the reroute
        // is 0, not -30, and the phases still add up to the RTO
        let p1 = p(&late);
        assert_eq!((p1.promoted_ms, p1.promoted_by.as_deref()), (Some(9320.0), Some("first acknowledged write")));
        assert_eq!((p1.rerouted_ms, p1.rerouted_ack_ms, p1.reroute_ms), (Some(9290.0), Some(9320.0), Some(0.0)));
        let sum = p1.detection_ms.unwrap() + p1.promotion_ms.unwrap() + p1.reroute_ms.unwrap() + p1.stabilization_ms.unwrap();
        assert!((sum - (9290.0 - 1000.0)).abs() < 1e-6, "{p1:?}");
        assert_eq!((p1.watcher_late_ms, p1.rerouted_early_ms), (Some(20.0), Some(30.0)));
        // the watcher never saw it: the acknowledgement alone is the evidence
        let p2 = p(&events);
        assert_eq!((p2.promoted_ms, p2.promoted_by.as_deref(), p2.watcher_late_ms), (Some(9320.0), Some("first acknowledged write"), None));
    }

    #[test]
    fn a_write_that_began_before_the_watcher_saw_the_promotion_leaves_no_negative_reroute() {
        // redis-sentinel-primary-kill: the write began 4.9 ms before the watcher saw the
        // promotion and was acknowledged after it; the reroute was -4.9 ms
        let events = vec![
            ev(1000, EventKind::FaultInject, Some("r-1"), Some(0)),
            ev(9000, EventKind::OrchestratorDetected, None, Some(0)),
            ev(11_254, EventKind::OrchestratorPromoted, Some("r-2"), Some(0)),
        ];
        let mut runs = AckRuns::default();
        runs.add(&Op { invoke_ns: 11_249_100_000, ..ok("r-2", 11_260) });
        let p = orchestrated(false, &events, ("r-1", "r-2"), &runs, (1000.0, Some(11_249.1)));
        // the watcher's sighting is the evidence (the acknowledgement came after it); the
        // write waited 4.9 ms for it, and the reroute is 0
        assert_eq!((p.promoted_ms, p.reroute_ms, p.promoted_by.as_deref()), (Some(11_254.0), Some(0.0), Some("watcher")));
        assert!((p.rerouted_early_ms.unwrap() - 4.9).abs() < 1e-6 && p.watcher_late_ms.is_none(), "{p:?}");
        assert!(p.promotion_ms.unwrap() >= 0.0 && p.stabilization_ms.unwrap() >= 0.0, "{p:?}");
    }

    #[test]
    fn unobserved_phases_are_null() {
        // a switchover: no detection, a promotion, and no write ever reached the new primary
        let events =
            vec![ev(1000, EventKind::FaultInject, Some("pg-1"), Some(0)), ev(1500, EventKind::OrchestratorPromoted, Some("pg-2"), Some(0))];
        let p = orchestrated(true, &events, ("pg-1", "pg-2"), &AckRuns::default(), (1000.0, None));
        assert_eq!((p.detected_ms, p.detection_ms, p.promotion_ms), (None, None, None));
        assert_eq!(p.promoted_ms, Some(1500.0));
        assert_eq!((p.rerouted_ms, p.reroute_ms, p.stabilization_ms), (None, None, None));
    }

    #[test]
    fn with_dns_the_reroute_waits_for_the_last_cache_holding_the_old_address() {
        let answer = |t, node| ev(t, EventKind::DnsAnswer, Some(node), None);
        let events = vec![
            answer(100, "pg-1"),
            answer(2000, "pg-1"),
            ev(3000, EventKind::FaultInject, Some("pg-1"), Some(0)),
            ev(3600, EventKind::FailoverStart, Some("pg-1"), Some(0)),
            ev(3900, EventKind::FailoverPromote, Some("pg-2"), Some(0)),
            ev(3950, EventKind::FailoverRepointClients, Some("pg-2"), Some(0)),
            answer(7000, "pg-2"),
        ];
        let mut runs = AckRuns::default();
        runs.add(&ok("pg-2", 7002));
        let steps = Steps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: false }) };
        let p = scripted(&events, &runs, (3000.0, Some(7001.5)), steps);
        assert_eq!((p.detection_ms, p.promotion_ms, p.dns_update_ms), (Some(600.0), Some(300.0), Some(50.0)));
        // the answer cached at 2.0 s lasts until 7.0 s
        assert_eq!((p.caches_expired_ms, p.ttl_wait_ms), (Some(7000.0), Some(3050.0)));
        assert!((p.reroute_ms.unwrap() - 1.5).abs() < 1e-6);
        // only the answer of 0.1 s was cached: it ran out at 5.1 s
        let early = [&events[..1], &events[2..]].concat();
        let p = scripted(&early, &runs, (3000.0, Some(7001.5)), steps);
        assert_eq!(p.ttl_wait_ms, Some(1150.0));
        // no cache held the old address at the move: no wait
        let early = events[2..].to_vec();
        let p = scripted(&early, &runs, (3000.0, Some(7001.5)), steps);
        assert_eq!(p.ttl_wait_ms, Some(0.0));
    }

    #[test]
    fn with_dns_the_ttl_wait_ends_at_the_first_client_cache_and_every_cache_is_shown_beside() {
        let answer =
            |t, who: &str| Event { detail: format!("{who}: postgres.drill. -> pg-1"), ..ev(t, EventKind::DnsAnswer, Some("pg-1"), None) };
        let events = vec![
            answer(100, "writer 0"),
            answer(2000, "writer 1"),
            ev(3000, EventKind::FaultInject, Some("pg-1"), Some(0)),
            ev(3600, EventKind::FailoverStart, Some("pg-1"), Some(0)),
            ev(3900, EventKind::FailoverPromote, Some("pg-2"), Some(0)),
            ev(3950, EventKind::FailoverRepointClients, Some("pg-2"), Some(0)),
        ];
        let mut runs = AckRuns::default();
        runs.add(&ok("pg-2", 5110));
        let steps = Steps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: false }) };
        let p = scripted(&events, &runs, (3000.0, Some(5110.5)), steps);
        // writer 0's answer of 0.1 s ran out at 5.1 s, writer 1's of 2.0 s at 7.0 s
        assert_eq!((p.first_cache_expired_ms, p.caches_expired_ms), (Some(5100.0), Some(7000.0)));
        assert_eq!(p.ttl_wait_ms, Some(1150.0));
        assert!(p.reroute_ms.unwrap() >= 0.0, "{:?}", p.reroute_ms);
    }
}
