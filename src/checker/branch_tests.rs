//! Branches of the judgement the other tests did not reach, pinned as they behave: RTO
//! after an operator error or with nothing to recover from, failed actions, aborts,
//! relapses, convergence, the fault when none was answered, and phases the drill did not see.
use super::*;
use crate::history::{Event, EventKind, Op, Outcome};
use crate::scenario::{CheckSpec, Targets};
use crate::stack::{Budgets, ReadBack};

const MS: u64 = 1_000_000;

fn ev(t_ms: u64, kind: EventKind, fault: Option<usize>) -> Event {
    Event { service: None, t_ns: t_ms * MS, kind, fault, node: None, detail: String::new(), applied_ns: None, applied_from_ns: None }
}

fn failed(t_ms: u64, kind: EventKind, detail: &str) -> Event {
    Event { detail: detail.into(), ..ev(t_ms, kind, None) }
}

/// One writer every 10 ms from 0 to `end_ms`, each write taking 2 ms; those invoked in
/// [down.0, down.1) get `bad`. The read-back holds every ok write but `drop`.
fn writes(end_ms: u64, down: (u64, u64), bad: Outcome, drop: &[u64]) -> (Vec<Op>, ReadBack) {
    let mut rb = ReadBack::default();
    let ops: Vec<Op> = (0..end_ms)
        .step_by(10)
        .enumerate()
        .map(|(i, t)| {
            let outcome = if t >= down.0 && t < down.1 { bad } else { Outcome::Ok };
            Op {
                service: None,
                writer: 0,
                seq: i as u64 + 1,
                key: None,
                change: None,
                invoke_ns: t * MS,
                complete_ns: (t + 2) * MS,
                outcome,
                node: None,
                error: None,
            }
        })
        .collect();
    ops.iter().filter(|o| o.outcome == Outcome::Ok && !drop.contains(&o.seq)).for_each(|o| rb.push(0, o.seq));
    (ops, rb)
}

fn fault_at(fault_ms: u64, stop_ms: u64) -> Vec<Event> {
    vec![ev(0, EventKind::WorkloadStart, None), ev(fault_ms, EventKind::FaultInject, Some(0)), ev(stop_ms, EventKind::WorkloadStop, None)]
}

fn no_targets() -> Targets {
    Targets::none()
}

fn rto_target(limit: u64) -> Targets {
    Targets { rto_ms: Some(limit.into()), ..no_targets() }
}

struct Judge<'a> {
    answered: Option<usize>,
    read_back: Option<&'a ReadBack>,
    convergence: Option<&'a Convergence>,
    data_recovered_ns: Option<u64>,
}

const JUDGE: Judge = Judge { answered: Some(0), read_back: None, convergence: None, data_recovered_ns: None };

impl Judge<'_> {
    fn run(&self, ops: &[Op], events: &[Event], targets: &Targets) -> Analysis {
        let mut c = Checker::default();
        ops.iter().for_each(|o| c.add(o));
        c.data_recovered_ns = self.data_recovered_ns;
        c.finish(events, self.answered, self.read_back, self.convergence, &CheckSpec::default(), targets).unwrap()
    }
}

fn target<'a>(a: &'a Analysis, name: &str) -> &'a TargetResult {
    a.targets.iter().find(|t| t.target == name.into()).unwrap_or_else(|| panic!("no {name} target in {:?}", a.targets))
}

#[test]
fn after_an_operator_error_rto_runs_from_the_fault_to_correct_data() {
    // writes never stopped: the clients saw no outage, the data was correct again at 2.5 s
    let (ops, _) = writes(6000, (0, 0), Outcome::Fail, &[]);
    let judge = Judge { data_recovered_ns: Some(2500 * MS), ..JUDGE };
    let a = judge.run(&ops, &fault_at(1000, 6000), &rto_target(1000));
    assert!(!a.rto.outage_observed);
    assert_eq!((a.rto.rto_ms, a.rto.recovered_at_ms, a.rto.from_ms), (Some(1500.0), Some(2500.0), 1000.0));
    assert_eq!(a.rto.no_rto_because, None);
    let t = target(&a, "rto_ms");
    assert_eq!(
        (t.actual, t.verdict, t.note.as_str()),
        (Some(1500.0), Verdict::Fail, "no outage observed: no write failed after the fault")
    );
    // without a fault event, correct data still ends the RTO, counted from 0
    let evs = vec![ev(0, EventKind::WorkloadStart, None), ev(6000, EventKind::WorkloadStop, None)];
    let a = judge.run(&ops, &evs, &rto_target(3000));
    assert_eq!((a.rto.rto_ms, a.rto.from_ms, a.rto.no_rto_because.as_deref()), (Some(2500.0), 0.0, None));
    assert_eq!(target(&a, "rto_ms").verdict, Verdict::Pass);
}

#[test]
fn a_service_no_fault_hit_and_whose_clients_saw_no_outage_has_no_rto_and_passes() {
    let (ops, _) = writes(3000, (0, 0), Outcome::Fail, &[]);
    let evs = vec![ev(0, EventKind::WorkloadStart, None), ev(3000, EventKind::WorkloadStop, None)];
    let a = JUDGE.run(&ops, &evs, &rto_target(1000));
    let why = "no fault hit this service and its clients saw no outage: nothing to recover from";
    assert_eq!((a.rto.rto_ms, a.rto.no_rto_because.as_deref()), (None, Some(why)));
    let t = target(&a, "rto_ms");
    assert_eq!((t.limit, t.actual, t.verdict, t.note.as_str()), (Some(1000.0), None, Verdict::Pass, why));
    // without a fault, the baseline is every acknowledged write
    let b = target(&a, "baseline_writes");
    assert_eq!((b.actual, b.verdict), (Some(300.0), Verdict::Pass));
    assert_eq!(a.verdict, Verdict::Pass);
    // a fault that could not be injected is still a fault here: RTO stays 0
    let evs =
        vec![ev(0, EventKind::WorkloadStart, None), ev(1000, EventKind::FaultFailed, Some(0)), ev(3000, EventKind::WorkloadStop, None)];
    let a = JUDGE.run(&ops, &evs, &rto_target(1000));
    assert_eq!((a.rto.rto_ms, a.rto.no_rto_because.as_deref(), a.fault_ms), (Some(0.0), None, None));
    // no write at all: nothing acknowledged, RTO stays 0 and nothing was measured
    let a = JUDGE.run(&[], &fault_at(1000, 3000)[..1], &rto_target(1000));
    assert_eq!((a.rto.rto_ms, a.rto.no_rto_because.as_deref()), (Some(0.0), None));
    let b = target(&a, "baseline_writes");
    assert_eq!((b.actual, b.verdict), (Some(0.0), Verdict::Unknown));
    assert_eq!(b.note, "no write was acknowledged before the fault: nothing was measured");
}

#[test]
fn failed_actions_leave_the_drill_undecided_and_an_abort_fails_it() {
    let (ops, _) = writes(3000, (0, 0), Outcome::Fail, &[]);
    let mut evs = fault_at(1000, 3000);
    evs.push(failed(1500, EventKind::ActionFailed, "hook a failed"));
    let a = JUDGE.run(&ops, &evs, &no_targets());
    let t = target(&a, "actions");
    assert_eq!((t.limit, t.actual, t.verdict, t.note.as_str()), (None, Some(1.0), Verdict::Unknown, "hook a failed"));
    assert_eq!(a.verdict, Verdict::Unknown);
    evs.push(failed(1600, EventKind::ActionFailed, "check b failed"));
    evs.push(failed(1700, EventKind::Aborted, "abort_when: lag"));
    let a = JUDGE.run(&ops, &evs, &no_targets());
    let names: Vec<String> = a.targets.iter().map(|t| t.target.name()).collect();
    assert_eq!(names, ["baseline_writes", "actions", "aborted"]);
    let t = target(&a, "actions");
    assert_eq!((t.actual, t.note.as_str()), (Some(2.0), "hook a failed; check b failed"));
    let t = target(&a, "aborted");
    assert_eq!((t.limit, t.actual, t.verdict, t.note.as_str()), (None, Some(1700.0), Verdict::Fail, "abort_when: lag"));
    assert_eq!(a.verdict, Verdict::Fail);
}

#[test]
fn writes_failing_again_after_recovery_are_relapses_in_the_rto_note() {
    let (mut ops, _) = writes(6000, (1000, 2000), Outcome::Fail, &[]);
    ops[400].outcome = Outcome::Unknown; // invoked at 4000
    ops[450].outcome = Outcome::Unknown; // invoked at 4500
    let a = JUDGE.run(&ops, &fault_at(1000, 6000), &rto_target(5000));
    assert_eq!((a.rto.rto_ms, a.rto.relapses), (Some(1000.0), 2));
    let t = target(&a, "rto_ms");
    assert_eq!((t.verdict, t.note.as_str()), (Verdict::Pass, "2 writes failed again after recovery"));
    // recovered with no relapse: no note
    let (ops, _) = writes(6000, (1000, 2000), Outcome::Fail, &[]);
    assert_eq!(target(&JUDGE.run(&ops, &fault_at(1000, 6000), &rto_target(5000)), "rto_ms").note, "");
}

#[test]
fn an_outage_with_no_acknowledgement_before_it_counts_from_its_first_failed_write() {
    // every write fails until 2000; the fault at 500
    let (ops, _) = writes(6000, (0, 2000), Outcome::Fail, &[]);
    let a = JUDGE.run(&ops, &fault_at(500, 6000), &no_targets());
    assert_eq!((a.rto.outage_start_ms, a.rto.last_ack_before_outage_ms), (Some(500.0), None));
    assert_eq!((a.rto.rto_ms, a.rto.outage_ms), (Some(1500.0), Some(1500.0)));
    assert_eq!((a.acked_before_fault, target(&a, "baseline_writes").verdict), (0, Verdict::Unknown));
}

#[test]
fn without_a_workload_stop_the_last_invoke_ends_the_workload() {
    let start_and_fault = &fault_at(1000, 0)[..2];
    // writes back at 3000, but the last one was invoked at 3390: no full stable window
    let (ops, _) = writes(3400, (1000, 3000), Outcome::Fail, &[]);
    assert_eq!(JUDGE.run(&ops, start_and_fault, &no_targets()).rto.rto_ms, None);
    let (ops, _) = writes(6000, (1000, 3000), Outcome::Fail, &[]);
    assert_eq!(JUDGE.run(&ops, start_and_fault, &no_targets()).rto.rto_ms, Some(2000.0));
}

#[test]
fn without_an_answered_fault_the_first_injected_one_is_the_fault() {
    let (ops, _) = writes(3000, (0, 0), Outcome::Fail, &[]);
    let mut evs = fault_at(1000, 3000);
    evs.insert(2, ev(2000, EventKind::FaultInject, Some(1)));
    evs[2].applied_ns = Some(2010 * MS);
    let fault = |answered| {
        let a = Judge { answered, ..JUDGE }.run(&ops, &evs, &no_targets());
        (a.fault_ms, a.fault_applied_ms, a.answered_fault, a.acked_before_fault)
    };
    assert_eq!(fault(None), (Some(1000.0), None, Some(0), 100));
    assert_eq!(fault(Some(5)), (Some(1000.0), None, Some(0), 100));
    assert_eq!(fault(Some(1)), (Some(2000.0), Some(2010.0), Some(1), 200));
}

#[test]
fn rpo_and_lost_writes_notes() {
    let drop: Vec<u64> = (95..=100).collect();
    let (ops, rb) = writes(3000, (1000, 1500), Outcome::Fail, &drop);
    let targets = Targets { rpo_ms: Some(100u64.into()), max_lost_writes: Some(0u64.into()), ..no_targets() };
    let a = Judge { read_back: Some(&rb), ..JUDGE }.run(&ops, &fault_at(1000, 3000), &targets);
    let (rpo, lost) = (target(&a, "rpo_ms"), target(&a, "max_lost_writes"));
    assert_eq!((rpo.actual, rpo.verdict, rpo.note.as_str()), (Some(60.0), Verdict::Pass, ""));
    assert_eq!((lost.limit, lost.actual, lost.verdict), (Some(0.0), Some(6.0), Verdict::Fail));
    assert_eq!(lost.note, "6 acknowledged writes missing, 0 recovered");
    // nothing read back: both undecided
    let a = JUDGE.run(&ops, &fault_at(1000, 3000), &targets);
    let (rpo, lost) = (target(&a, "rpo_ms"), target(&a, "max_lost_writes"));
    assert_eq!((rpo.actual, rpo.verdict, rpo.note.as_str()), (None, Verdict::Unknown, "surviving data could not be read back"));
    assert_eq!((lost.actual, lost.verdict, lost.note.as_str()), (None, Verdict::Unknown, ""));
}

#[test]
fn convergence_passes_only_when_every_replica_holds_the_primarys_records() {
    let (ops, _) = writes(3000, (0, 0), Outcome::Fail, &[]);
    let targets = Targets { converge: true, ..no_targets() };
    let node = NodeConvergence { node: "pg-2".into(), records: Some(300), missing: 0, extra: 0, converged: true, error: None };
    let conv = |converged| Convergence { converged, waited_ms: 1.0, nodes: vec![node.clone()], excluded: vec![] };
    let judged = |c: Option<&Convergence>| {
        let t = target(&Judge { convergence: c, ..JUDGE }.run(&ops, &fault_at(1000, 3000), &targets), "converged").clone();
        (t.limit, t.actual, t.verdict, t.note)
    };
    assert_eq!(judged(Some(&conv(Some(true)))), (None, Some(1.0), Verdict::Pass, "pg-2: 0 missing, 0 extra".into()));
    assert_eq!(judged(Some(&conv(None))), (None, None, Verdict::Unknown, "pg-2: 0 missing, 0 extra".into()));
    assert_eq!(judged(None), (None, None, Verdict::Unknown, "not checked".into()));
    let two = Convergence {
        nodes: vec![node.clone(), NodeConvergence { node: "pg-3".into(), missing: 2, extra: 1, ..node.clone() }],
        ..conv(Some(false))
    };
    assert_eq!(judged(Some(&two)), (None, Some(0.0), Verdict::Fail, "pg-2: 0 missing, 0 extra; pg-3: 2 missing, 1 extra".into()));
}

fn on(node: &str, e: Event) -> Event {
    Event { node: Some(node.into()), ..e }
}

fn acked_on(node: &str, t_ms: u64) -> Op {
    Op {
        service: None,
        writer: 0,
        seq: t_ms,
        key: None,
        change: None,
        invoke_ns: t_ms * MS - MS / 2,
        complete_ns: t_ms * MS,
        outcome: Outcome::Ok,
        node: Some(node.into()),
        error: None,
    }
}

/// pg-1 fails over to `new`; the fault at 1.0 s took effect at 1.05 s.
fn phases_of(events: &[Event], fault: Option<usize>, new: Option<&str>, recovered_ms: Option<f64>, steps: PhaseSteps) -> Phases {
    let mut runs = AckRuns::default();
    runs.add(&acked_on("pg-2", 3100));
    let (old, new) = (Some("pg-1".to_string()), new.map(str::to_string));
    let failover =
        Failover { orchestrator: "o", planned: false, fault, old_primary: old, new_primary: new, budgets: Budgets::default(), steps };
    orchestrator_phases(failover, events, &runs, (1050.0, recovered_ms))
}

fn failover_events() -> Vec<Event> {
    vec![
        on("pg-1", ev(1000, EventKind::FaultInject, Some(0))),
        ev(2000, EventKind::OrchestratorDetected, Some(0)),
        on("pg-2", ev(3000, EventKind::OrchestratorPromoted, Some(0))),
        on("pg-2", ev(2500, EventKind::OrchestratorMoved, Some(0))),
    ]
}

#[test]
fn phases_without_the_answered_faults_event_are_all_null() {
    for fault in [None, Some(3)] {
        let p = phases_of(&failover_events(), fault, Some("pg-2"), Some(3100.0), PhaseSteps::Orchestrator);
        assert_eq!((p.fault_ms, p.detected_ms, p.promoted_ms, p.promoted_by.as_deref()), (None, None, None, None));
        assert_eq!((p.moved_ms, p.rerouted_ms, p.rerouted_ack_ms, p.recovered_ms), (None, None, None, Some(3100.0)));
        assert_eq!((p.detection_ms, p.promotion_ms, p.reroute_ms, p.stabilization_ms), (None, None, None, None));
    }
}

#[test]
fn phases_count_detection_from_rtos_start_and_follow_the_moved_endpoint() {
    let p = phases_of(&failover_events(), Some(0), Some("pg-2"), None, PhaseSteps::Orchestrator);
    assert_eq!((p.fault_ms, p.detected_ms, p.detection_ms), (Some(1050.0), Some(2000.0), Some(950.0)));
    assert_eq!((p.promoted_ms, p.promoted_by.as_deref(), p.promotion_ms), (Some(3000.0), Some("watcher"), Some(1000.0)));
    assert_eq!((p.moved_ms, p.dns_moved_ms), (Some(2500.0), None));
    assert_eq!((p.rerouted_ms, p.rerouted_ack_ms), (Some(3099.5), Some(3100.0)));
    // never recovered: no stabilization
    assert_eq!((p.recovered_ms, p.stabilization_ms), (None, None));
    // another node's endpoint is not the new primary's
    let evs = [&failover_events()[..3], &[on("pg-3", ev(2500, EventKind::OrchestratorMoved, Some(0)))]].concat();
    assert_eq!(phases_of(&evs, Some(0), Some("pg-2"), None, PhaseSteps::Orchestrator).moved_ms, None);
    // no new primary: detected, nothing after
    let p = phases_of(&failover_events(), Some(0), None, Some(3100.0), PhaseSteps::Orchestrator);
    assert_eq!((p.detection_ms, p.promoted_ms, p.moved_ms, p.rerouted_ms), (Some(950.0), None, None, None));
    assert_eq!((p.promotion_ms, p.reroute_ms, p.stabilization_ms), (None, None, None));
}

#[test]
fn scripted_phases_show_no_moved_endpoint_and_dns_only_when_the_record_moved() {
    let evs = vec![
        on("pg-1", ev(1000, EventKind::FaultInject, Some(0))),
        ev(2000, EventKind::FailoverStart, Some(0)),
        on("pg-2", ev(3000, EventKind::FailoverPromote, Some(0))),
        on("pg-2", ev(3050, EventKind::FailoverRepointClients, Some(0))),
    ];
    let p = phases_of(&evs, Some(0), Some("pg-2"), Some(3100.0), PhaseSteps::Scripted { dns: None });
    assert_eq!((p.detection_ms, p.promotion_ms, p.moved_ms, p.dns_moved_ms), (Some(950.0), Some(1000.0), None, None));
    assert!((p.reroute_ms.unwrap() - 99.5).abs() < 1e-9 && (p.stabilization_ms.unwrap() - 0.5).abs() < 1e-9, "{p:?}");
    // with the drill's DNS but no record moved: no DNS phase, the reroute from the promotion
    let p = phases_of(
        &evs[..3],
        Some(0),
        Some("pg-2"),
        Some(3100.0),
        PhaseSteps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: false }) },
    );
    assert_eq!((p.dns_moved_ms, p.first_cache_expired_ms, p.caches_expired_ms), (None, None, None));
    assert_eq!((p.dns_update_ms, p.ttl_wait_ms, p.moved_ms), (None, None, None));
    assert!((p.reroute_ms.unwrap() - 99.5).abs() < 1e-9, "{p:?}");
    // the record moved with no client caching the old address: the caches ran out at the move
    let p =
        phases_of(&evs, Some(0), Some("pg-2"), Some(3100.0), PhaseSteps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: false }) });
    assert_eq!((p.dns_moved_ms, p.first_cache_expired_ms, p.caches_expired_ms), (Some(3050.0), Some(3050.0), Some(3050.0)));
    assert_eq!((p.dns_update_ms, p.ttl_wait_ms, p.moved_ms), (Some(50.0), Some(0.0), None));
    assert!((p.reroute_ms.unwrap() - 49.5).abs() < 1e-9, "{p:?}");
    // clients that resolved once never wait for a TTL: the record moved, no cache runs out
    let once = PhaseSteps::Scripted { dns: Some(ClientDns { ttl_ms: 5000, once: true }) };
    let p = phases_of(&evs, Some(0), Some("pg-2"), Some(3100.0), once);
    assert_eq!((p.dns_moved_ms, p.first_cache_expired_ms, p.caches_expired_ms, p.ttl_wait_ms), (Some(3050.0), None, None, None));
}

#[test]
fn a_service_that_stops_acknowledging_for_good_has_its_longest_gap_to_the_end_of_the_workload() {
    // the shard-lost Redis Cluster: writes acknowledged until 5 s, then every one refused
    // until the workload stopped at 35 s; the last one, a timeout, completed at 35.5 s
    let (mut ops, _) = writes(35_000, (5000, 35_000), Outcome::Fail, &[]);
    let last = ops.last().cloned().unwrap();
    ops.push(Op { seq: last.seq + 1, invoke_ns: 34_995 * MS, complete_ns: 35_500 * MS, outcome: Outcome::Unknown, ..last });
    let a = JUDGE.run(&ops, &fault_at(5000, 35_000), &no_targets());
    // the last acknowledgement came at 4.992 s; the gaps between acknowledgements were 10 ms
    assert_eq!((a.rto.longest_gap_ms, a.rto.longest_gap_start_ms, a.rto.longest_gap_to_end), (30_508.0, 4992.0, true));
    assert_eq!(a.rto.rto_ms, None, "never recovered");
    // without the late completion, the workload ends at its stop
    ops.pop();
    let a = JUDGE.run(&ops, &fault_at(5000, 35_000), &no_targets());
    assert_eq!((a.rto.longest_gap_ms, a.rto.longest_gap_to_end), (30_008.0, true));
    // an outage in the middle longer than the tail is the longest, and not to the end
    let (ops, _) = writes(6000, (1000, 3500), Outcome::Fail, &[]);
    let a = JUDGE.run(&ops, &fault_at(1000, 6000), &no_targets());
    assert_eq!((a.rto.longest_gap_ms, a.rto.longest_gap_start_ms, a.rto.longest_gap_to_end), (2510.0, 992.0, false));
    // nothing ever acknowledged: the whole workload, from its start
    let (ops, _) = writes(3000, (0, 3000), Outcome::Fail, &[]);
    let a = JUDGE.run(&ops, &fault_at(0, 3000), &no_targets());
    assert_eq!((a.rto.longest_gap_ms, a.rto.longest_gap_start_ms, a.rto.longest_gap_to_end), (3000.0, 0.0, true));
}
