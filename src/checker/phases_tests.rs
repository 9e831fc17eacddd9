//! The phases on hand-built steps and acknowledgements: each split of the RTO, and where a
//! first write that began before a step leaves the reroute.
use super::*;
use crate::checker::ClientDns;
use crate::history::{EventKind, Op, Outcome};

/// drdrill's own failover of pg-1 to pg-2, answering fault 0, the budgets left at
/// their defaults.
fn scripted(events: &[Event], runs: &AckRuns, rto: (f64, Option<f64>), steps: Steps) -> Phases {
    let failover = Failover {
        orchestrator: "scripted",
        planned: false,
        fault: Some(0),
        old_primary: Some("pg-1".into()),
        new_primary: Some("pg-2".into()),
        budgets: Budgets::default(),
        steps,
    };
    phases(failover, events, runs, rto)
}

/// An orchestrator's failover (or switchover) of `old` to `new`, answering fault 0, the
/// budgets left at their defaults.
fn orchestrated(switchover: bool, events: &[Event], (old, new): (&str, &str), runs: &AckRuns, rto: (f64, Option<f64>)) -> Phases {
    let failover = Failover {
        orchestrator: "orchestrator",
        planned: switchover,
        fault: Some(0),
        old_primary: Some(old.into()),
        new_primary: Some(new.into()),
        budgets: Budgets::default(),
        steps: Steps::Orchestrator,
    };
    phases(failover, events, runs, rto)
}

/// An event at `t_ms` (the answering tests build theirs here too).
pub(in crate::checker) fn ev(t_ms: u64, kind: EventKind, node: Option<&str>, fault: Option<usize>) -> Event {
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

/// An acknowledged write `node` answered at `t_ms`.
pub(in crate::checker) fn ok(node: &str, t_ms: u64) -> Op {
    Op {
        service: None,
        writer: 0,
        seq: t_ms,
        key: None,
        change: None,
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
    let events = vec![ev(1000, EventKind::FaultInject, Some("pg-1"), Some(0)), ev(9000, EventKind::OrchestratorDetected, None, Some(0))];
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
fn a_write_that_began_before_the_detection_was_seen_leaves_no_negative_promotion() {
    // files-keepalived-main-lost: a write began at 8445 ms, waited in the forwarder's
    // connect to the VIP, and was acknowledged by the backup after Keepalived's detection
    // (8683 ms) and its notify_master (8772 ms): the promotion was -239 ms
    let events = vec![
        ev(5009, EventKind::FaultInject, Some("files-1"), Some(0)),
        ev(8683, EventKind::OrchestratorDetected, None, Some(0)),
        ev(8772, EventKind::OrchestratorPromoted, Some("files-2"), Some(0)),
    ];
    let mut runs = AckRuns::default();
    runs.add(&Op { invoke_ns: 8_445_000_000, ..ok("files-2", 8790) });
    let p = orchestrated(false, &events, ("files-1", "files-2"), &runs, (5009.0, Some(9123.0)));
    assert_eq!((p.detected_ms, p.promoted_ms), (Some(8683.0), Some(8772.0)), "the steps' times stay the evidence");
    assert_eq!((p.detection_ms, p.promotion_ms, p.reroute_ms), (Some(8445.0 - 5009.0), Some(0.0), Some(0.0)), "{p:?}");
    let sum = p.detection_ms.unwrap() + p.promotion_ms.unwrap() + p.reroute_ms.unwrap() + p.stabilization_ms.unwrap();
    assert!((sum - (9123.0 - 5009.0)).abs() < 1e-6, "{p:?}");
    assert!((p.rerouted_early_ms.unwrap() - 327.0).abs() < 1e-6, "{p:?}");
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

/// The phases as they split the RTO: every one observed, in order.
fn sum(p: &Phases) -> f64 {
    [p.detection_ms, p.promotion_ms, p.dns_update_ms, p.ttl_wait_ms, p.reroute_ms, p.stabilization_ms].iter().flatten().sum()
}

/// The clients' first write to pg-2 invoked at `invoke_ms`, acknowledged 0.5 ms later, and
/// the recovery point there.
fn first_write(invoke_ms: f64) -> (AckRuns, (f64, Option<f64>)) {
    let mut runs = AckRuns::default();
    let invoke_ns = (invoke_ms * 1e6).round() as u64;
    runs.add(&Op { invoke_ns, complete_ns: invoke_ns + 500_000, ..ok("pg-2", 1) });
    (runs, (3000.0, Some(invoke_ms)))
}

#[test]
fn a_reroute_clamped_to_0_carries_how_long_the_write_waited_and_the_phases_still_add_up_to_the_rto() {
    let answer = |t| ev(t, EventKind::DnsAnswer, Some("pg-1"), None);
    let events = vec![
        answer(2000),
        ev(3000, EventKind::FaultInject, Some("pg-1"), Some(0)),
        ev(3600, EventKind::FailoverStart, Some("pg-1"), Some(0)),
        ev(3900, EventKind::FailoverPromote, Some("pg-2"), Some(0)),
        ev(3950, EventKind::FailoverRepointClients, Some("pg-2"), Some(0)),
    ];
    let ttl = Steps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: false }) };
    // the first write began at 5.0 s and waited; the first cache of the old address ran out
    // at 7.0 s: the TTL wait ends where the write began, the reroute is 0
    let (runs, rto) = first_write(5000.0);
    let p = scripted(&events, &runs, rto, ttl);
    assert_eq!(
        (p.first_cache_expired_ms, p.rerouted_ms, p.reroute_ms, p.rerouted_early_ms),
        (Some(7000.0), Some(5000.0), Some(0.0), Some(2000.0))
    );
    assert_eq!(
        (p.detection_ms, p.promotion_ms, p.dns_update_ms, p.ttl_wait_ms, p.stabilization_ms),
        (Some(600.0), Some(300.0), Some(50.0), Some(1050.0), Some(0.0))
    );
    assert_eq!(sum(&p), 2000.0, "{p:?}");
    // wherever the first write began, with or without the DNS: a reroute of 0 that hides a
    // wait says how long, none else does, and the phases add up to the RTO
    let steps =
        [Steps::Orchestrator, Steps::Scripted { dns: None }, ttl, Steps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: true }) }];
    let orchestrated_events: Vec<Event> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::FailoverStart => Event { kind: EventKind::OrchestratorDetected, ..e.clone() },
            EventKind::FailoverPromote => Event { kind: EventKind::OrchestratorPromoted, ..e.clone() },
            _ => e.clone(),
        })
        .collect();
    for invoke_ms in [3700.0, 3899.5, 3920.0, 3950.0, 5000.0, 6999.9, 7000.0, 7001.5] {
        for steps in steps {
            let (runs, rto) = first_write(invoke_ms);
            let evs = if steps == Steps::Orchestrator { &orchestrated_events } else { &events };
            let p = scripted(evs, &runs, rto, steps);
            let rto_ms = rto.1.unwrap() - rto.0;
            assert!((sum(&p) - rto_ms).abs() < 1e-6, "phases {} ms, RTO {rto_ms} ms: {p:?}", sum(&p));
            let reroute = p.reroute_ms.unwrap();
            let from = p.first_cache_expired_ms.or(p.dns_moved_ms).or(p.promoted_ms).unwrap();
            assert!(reroute >= 0.0, "{p:?}");
            match p.rerouted_early_ms {
                Some(early) => assert!(reroute == 0.0 && (early - (from - invoke_ms)).abs() < 1e-6, "{p:?}"),
                None => assert!(invoke_ms >= from && (reroute - (invoke_ms - from)).abs() < 1e-6, "{p:?}"),
            }
        }
    }
}
