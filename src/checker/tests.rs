//! The checker on hand-built histories.
use super::*;
use crate::history::{Event, EventKind, Op, Outcome};
use crate::scenario::{CheckSpec, Targets};
use crate::stack::ReadBack;

const MS: u64 = 1_000_000;

fn op(writer: u32, seq: u64, invoke_ms: u64, dur_ms: u64, outcome: Outcome) -> Op {
    Op {
        service: None,
        writer,
        seq,
        key: None,
        change: None,
        invoke_ns: invoke_ms * MS,
        complete_ns: (invoke_ms + dur_ms) * MS,
        outcome,
        node: None,
        error: None,
    }
}

fn ev(t_ms: u64, kind: EventKind, fault: Option<usize>) -> Event {
    Event { service: None, t_ns: t_ms * MS, kind, fault, node: None, detail: String::new(), applied_ns: None, applied_from_ns: None }
}

fn targets(rto: u64, rpo: u64, lost: u64) -> Targets {
    Targets { rto_ms: Some(rto.into()), rpo_ms: Some(rpo.into()), max_lost_writes: Some(lost.into()), ..Targets::none() }
}

/// One writer writing every 10 ms from t=0 to `end_ms`; ops invoked in [down_from, down_to)
/// get `bad`; returns the ops and the read-back holding every ok op (minus `drop`).
fn scenario(end_ms: u64, down: (u64, u64), bad: Outcome, drop: &[u64]) -> (Vec<Op>, ReadBack) {
    let mut ops = Vec::new();
    let mut rb = ReadBack::default();
    for (i, t) in (0..end_ms).step_by(10).enumerate() {
        let seq = i as u64 + 1;
        let o = if t >= down.0 && t < down.1 { bad } else { Outcome::Ok };
        ops.push(op(0, seq, t, 2, o));
        if o == Outcome::Ok && !drop.contains(&seq) {
            rb.push(0, seq);
        }
    }
    (ops, rb)
}

fn run(ops: &[Op], events: &[Event], rb: Option<&ReadBack>, t: &Targets) -> Analysis {
    judge(ops, events, 0, rb, t)
}

/// Runs the checker as the runner does, with fault #`answered` as the one the failover answered.
fn judge(ops: &[Op], events: &[Event], answered: usize, rb: Option<&ReadBack>, t: &Targets) -> Analysis {
    let mut c = Checker::default();
    for o in ops {
        c.add(o);
    }
    c.finish(events, Some(answered), rb, None, &CheckSpec::default(), t).unwrap()
}

fn events(fault_ms: u64, stop_ms: u64) -> Vec<Event> {
    vec![ev(0, EventKind::WorkloadStart, None), ev(fault_ms, EventKind::FaultInject, Some(0)), ev(stop_ms, EventKind::WorkloadStop, None)]
}

#[test]
fn outage_measured_from_fault_to_first_stable_ok() {
    // fault at 1000, writes fail from 1000 to 3500, stable afterwards
    let (ops, rb) = scenario(6000, (1000, 3500), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(3000, 0, 0));
    assert!(a.rto.outage_observed);
    assert_eq!(a.rto.rto_ms, Some(2500.0));
    assert_eq!(a.rto.outage_start_ms, Some(1000.0));
    assert_eq!(a.failed_writes, 250);
    assert_eq!(a.verdict, Verdict::Pass);
    // longest gap between acks: ack at 992 .. ack at 3502
    assert_eq!(a.rto.longest_gap_ms, 2510.0);
}

#[test]
fn rto_over_target_fails() {
    let (ops, rb) = scenario(6000, (1000, 3500), Outcome::Unknown, &[]);
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(2000, 0, 0));
    assert_eq!(a.rto.rto_ms, Some(2500.0));
    assert_eq!(a.unknown_writes, 250);
    assert_eq!(a.targets.iter().find(|t| t.target == crate::checker::Target::RtoMs).unwrap().verdict, Verdict::Fail);
    assert_eq!(a.verdict, Verdict::Fail);
}

#[test]
fn no_failed_write_means_no_outage() {
    let (ops, rb) = scenario(3000, (0, 0), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 3000), Some(&rb), &targets(0, 0, 0));
    assert!(!a.rto.outage_observed);
    assert_eq!(a.rto.rto_ms, Some(0.0));
    assert_eq!(a.verdict, Verdict::Pass);
}

#[test]
fn writes_that_never_recover_fail_the_rto_target() {
    let (ops, rb) = scenario(5000, (1000, 5000), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 5000), Some(&rb), &targets(60_000, 0, 0));
    assert_eq!(a.rto.rto_ms, None);
    let t = a.targets.iter().find(|t| t.target == crate::checker::Target::RtoMs).unwrap();
    assert_eq!(t.verdict, Verdict::Fail);
    assert!(t.note.contains("never"));
}

#[test]
fn recovery_needs_a_full_stable_window() {
    // one ok write at 2000 between failures does not count as recovery
    let (mut ops, rb) = scenario(6000, (1000, 3000), Outcome::Fail, &[]);
    ops[200].outcome = Outcome::Ok; // invoked at 2000
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(5000, 0, 0));
    assert_eq!(a.rto.rto_ms, Some(2000.0));
    // a window that would run past the workload's end does not count either
    let (ops, rb) = scenario(3400, (1000, 3000), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 3400), Some(&rb), &targets(5000, 0, 0));
    assert_eq!(a.rto.rto_ms, None);
}

#[test]
fn lost_acknowledged_writes_and_rpo_span() {
    // seqs 95..=100 (acked at 942..992 ms) missing after a fault at 1000
    let drop: Vec<u64> = (95..=100).collect();
    let (ops, rb) = scenario(3000, (1000, 1500), Outcome::Fail, &drop);
    let a = run(&ops, &events(1000, 3000), Some(&rb), &targets(5000, 100, 0));
    let r = a.rpo.as_ref().unwrap();
    assert_eq!(r.lost_writes, 6);
    assert_eq!(r.lost.iter().map(|l| l.seq).collect::<Vec<_>>(), drop);
    // from the earliest lost write's invoke (940) to the fault (1000, after the last lost ack)
    assert_eq!(r.rpo_ms, 1000.0 - 940.0);
    assert_eq!((r.recovery_point_ms, r.failure_point_ms), (Some(940.0), Some(1000.0)));
    assert_eq!(a.targets.iter().find(|t| t.target == crate::checker::Target::MaxLostWrites).unwrap().verdict, Verdict::Fail);
    assert_eq!(a.targets.iter().find(|t| t.target == crate::checker::Target::RpoMs).unwrap().verdict, Verdict::Pass);
}

#[test]
fn writes_lost_after_the_fault_event_never_show_rpo_zero() {
    // the kill took time to land: writes acknowledged 20-30 ms after the fault event are lost
    let (mut ops, mut rb) = scenario(3000, (1100, 1500), Outcome::Unknown, &[]);
    ops[101].complete_ns = 1029 * MS; // seq 102 invoked at 1010 (and 103 at 1020) acked after the fault
    rb.remove(0, 102);
    rb.remove(0, 103);
    let a = run(&ops, &events(1000, 3000), Some(&rb), &targets(5000, 0, 0));
    let r = a.rpo.as_ref().unwrap();
    assert_eq!(r.lost_writes, 2);
    assert!(r.rpo_ms > 0.0, "lost writes with rpo_ms {}", r.rpo_ms);
    // from seq 102's invoke (1010) to the last lost ack (1029)
    assert_eq!(r.rpo_ms, 19.0);
    assert_eq!(a.targets.iter().find(|t| t.target == crate::checker::Target::RpoMs).unwrap().verdict, Verdict::Fail);
    // a single lost write acknowledged exactly at the fault: still above zero
    let (ops, rb) = scenario(3000, (1100, 1500), Outcome::Unknown, &[100]);
    let a = run(&ops, &events(992, 3000), Some(&rb), &targets(5000, 0, 0));
    assert!(a.rpo.as_ref().unwrap().rpo_ms > 0.0);
}

/// A split brain: the isolated old primary acknowledges writes its successor never gets.
/// Those acknowledgements are no availability: RTO runs to the clients' recovery on the new
/// primary, not to the first write the isolated one acknowledged (which gave 20 ms here).
#[test]
fn acknowledgements_the_read_back_proves_lost_are_no_recovery() {
    // the new primary refuses nothing from 4000 on; writes fail from 3000 (the old one demoted)
    let (mut ops, mut rb) = scenario(8000, (3000, 4000), Outcome::Fail, &[]);
    // the cut: the write invoked at 1010 fails as it lands; the isolated primary then
    // acknowledges every write invoked from 1020 to 2990, and none of them survives
    ops[101].outcome = Outcome::Fail;
    for seq in 102..=300 {
        rb.remove(0, seq);
    }
    let a = run(&ops, &events(1000, 8000), Some(&rb), &targets(5000, 60000, 1000));
    assert_eq!(a.rpo.as_ref().unwrap().lost_writes, 198);
    assert_eq!(a.rto.outage_start_ms, Some(1010.0));
    assert_eq!(a.rto.recovered_at_ms, Some(4000.0), "{:?}", a.rto);
    assert_eq!(a.rto.rto_ms, Some(3000.0));
    assert_eq!(a.rto.relapses, 0);
    // the clients' own view is unchanged: the longest time without an acknowledgement is
    // the demotion's (the last lost ack at 2992 to the first new one at 4002)
    assert_eq!(a.rto.longest_gap_ms, 1010.0);
    // writes lost from before the fault (an async replica behind) are the RPO's alone:
    // the outage still starts at the fault's first failed write
    let (ops, rb) = scenario(6000, (1000, 3500), Outcome::Fail, &[95, 96, 97, 98, 99, 100]);
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(3000, 100, 10));
    assert_eq!(a.rpo.as_ref().unwrap().lost_writes, 6);
    assert_eq!((a.rto.outage_start_ms, a.rto.rto_ms), (Some(1000.0), Some(2500.0)));
}

#[test]
fn without_a_fault_rto_counts_from_the_outage_start_not_from_zero() {
    // an outage from outside the drill: writes fail from 3000 to 5000, no fault event
    let (ops, rb) = scenario(8000, (3000, 5000), Outcome::Fail, &[]);
    let ev = vec![ev(0, EventKind::WorkloadStart, None), ev(8000, EventKind::WorkloadStop, None)];
    let a = run(&ops, &ev, Some(&rb), &targets(3000, 0, 0));
    assert_eq!(a.rto.basis, RtoBasis::OutageStart);
    assert_eq!(a.rto.from_ms, 3000.0);
    assert_eq!(a.rto.rto_ms, Some(2000.0));
    // last ack before the outage: seq invoked at 2990, acked at 2992
    assert_eq!(a.rto.last_ack_before_outage_ms, Some(2992.0));
    assert_eq!(a.rto.outage_ms, Some(5000.0 - 2992.0));
}

#[test]
fn outage_ms_is_reported_with_a_fault_too() {
    let (ops, rb) = scenario(6000, (1000, 3500), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(3000, 0, 0));
    assert_eq!(a.rto.basis, RtoBasis::Fault);
    assert_eq!(a.rto.outage_ms, Some(3500.0 - 992.0));
}

#[test]
fn unknown_and_failed_writes_present_are_recovered_not_lost() {
    let (ops, mut rb) = scenario(3000, (1000, 1200), Outcome::Unknown, &[]);
    rb.push(0, 101); // invoked at 1000, outcome unknown, applied anyway
    rb.push(0, 102);
    rb.push(0, 102); // a duplicate
    rb.push(0, 9999); // never written
    rb.push(7, 1); // writer that never existed
    let a = run(&ops, &events(1000, 3000), Some(&rb), &targets(5000, 0, 0));
    let r = a.rpo.as_ref().unwrap();
    assert_eq!(r.lost_writes, 0);
    assert_eq!(r.recovered_writes, 2);
    assert_eq!(r.duplicate_writes, 1);
    assert_eq!(r.unexpected_writes, 2);
    assert_eq!(r.rpo_ms, 0.0);
}

#[test]
fn missing_read_back_is_unknown_never_pass() {
    let (ops, _) = scenario(3000, (1000, 1200), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 3000), None, &targets(5000, 0, 0));
    assert_eq!(a.targets.iter().find(|t| t.target == crate::checker::Target::RpoMs).unwrap().verdict, Verdict::Unknown);
    assert_eq!(a.verdict, Verdict::Unknown);
}

#[test]
fn no_baseline_writes_is_unknown() {
    let (ops, rb) = scenario(3000, (0, 3000), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 3000), Some(&rb), &Targets::none());
    assert_eq!(a.verdict, Verdict::Unknown);
}

#[test]
fn unconverged_replica_fails() {
    let (ops, rb) = scenario(3000, (1000, 1200), Outcome::Fail, &[]);
    let mut replica = ReadBack::default();
    replica.push(0, 1);
    replica.push(0, 5000);
    let (missing, extra) = compare(&rb, &replica);
    assert_eq!((missing, extra), (rb.len() as u64 - 1, 1));
    let conv = Convergence {
        converged: Some(false),
        waited_ms: 10.0,
        nodes: vec![NodeConvergence { node: "pg-3".into(), records: Some(2), missing, extra, converged: false, error: None }],
        excluded: vec![],
    };
    let mut c = Checker::default();
    ops.iter().for_each(|o| c.add(o));
    let t = Targets { converge: true, ..Targets::none() };
    let a = c.finish(&events(1000, 3000), Some(0), Some(&rb), Some(&conv), &CheckSpec::default(), &t).unwrap();
    assert_eq!(a.verdict, Verdict::Fail);
}

#[test]
fn verdicts_merge_to_the_worst() {
    use Verdict::*;
    assert_eq!(Pass.merge(Unknown), Unknown);
    assert_eq!(Unknown.merge(Fail), Fail);
    assert_eq!(Pass.merge(Pass), Pass);
}

#[test]
fn a_fault_that_could_not_be_injected_leaves_the_drill_undecided() {
    let (ops, rb) = scenario(3000, (0, 0), Outcome::Fail, &[]);
    let mut evs = events(1000, 3000);
    evs[1].kind = EventKind::FaultFailed;
    evs[1].detail = "kill pg-1 failed: no such container".into();
    let a = run(&ops, &evs, Some(&rb), &targets(5000, 0, 0));
    let t = a.targets.iter().find(|t| t.target == crate::checker::Target::FaultsInjected).unwrap();
    assert_eq!(t.verdict, Verdict::Unknown);
    assert!(t.note.contains("no such container"));
    assert_eq!(a.verdict, Verdict::Unknown);
}

#[test]
fn a_failover_begun_before_any_fault_leaves_the_drill_undecided_and_one_after_does_not() {
    // the probe tripped at 500 ms, the fault came at 1000: no write failed, RTO 0, yet no pass
    let (ops, rb) = scenario(3000, (0, 0), Outcome::Fail, &[]);
    let mut evs = events(1000, 3000);
    let mut start = ev(500, EventKind::FailoverStart, None);
    start.detail = "3 consecutive failed probes (500 ms apart, 500 ms timeout)".into();
    evs.insert(1, start.clone());
    let a = run(&ops, &evs, Some(&rb), &targets(5000, 0, 0));
    let t = a.targets.iter().find(|t| t.target == crate::checker::Target::FailoverAfterFault).expect("a failover_after_fault row");
    assert_eq!((t.verdict, t.actual), (Verdict::Unknown, Some(500.0)));
    assert!(t.note.contains("t=500.0 ms (3 consecutive failed probes") && t.note.contains("500.0 ms before the first fault"), "{}", t.note);
    assert_eq!(a.verdict, Verdict::Unknown);
    // the same failover after the fault's request answers it
    evs.remove(1);
    start.t_ns = 1000 * MS;
    evs.insert(2, start);
    let a = run(&ops, &evs, Some(&rb), &targets(5000, 0, 0));
    assert!(a.targets.iter().all(|t| t.target != crate::checker::Target::FailoverAfterFault), "{:?}", a.targets);
    assert_eq!(a.verdict, Verdict::Pass);
}

/// `got` is `want` to HDR precision (3 significant digits) plus the µs the histogram drops.
fn near(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= want * 1e-3 + 1e-3)
}

fn phase(a: &Analysis, p: LatencyPhase) -> &PhaseLatency {
    a.latency.iter().find(|l| l.phase == p).unwrap_or_else(|| panic!("no {p} phase in {:?}", a.latency))
}

fn spans(events: &[Event], recovered_ms: Option<u64>, stop_ms: u64) -> Vec<(&'static str, u64, u64)> {
    phases(events, recovered_ms.map(|t| t * MS), stop_ms * MS).into_iter().map(|(p, f, t)| (p.as_str(), f / MS, t / MS)).collect()
}

#[test]
fn latency_percentiles_per_phase_with_failover() {
    // before the fault at 1000: 100 ok writes taking 1..=100 ms
    let mut ops: Vec<Op> = (0..100).map(|i| op(0, i + 1, i * 10, 1 + i % 100, Outcome::Ok)).collect();
    // during the fault: every other write fails fast, the others are acknowledged in 300 ms
    for i in 0..100 {
        let o = if i % 2 == 0 { Outcome::Fail } else { Outcome::Ok };
        ops.push(op(0, 101 + i, 1000 + i * 10, if o == Outcome::Ok { 300 } else { 1 }, o));
    }
    // failover from 2000: everything fails until 3000, then 5 ms writes until the stop at 6000
    for i in 0..400 {
        let t = 2000 + i * 10;
        let o = if t < 3000 { Outcome::Fail } else { Outcome::Ok };
        ops.push(op(0, 201 + i, t, 5, o));
    }
    let mut evs = events(1000, 6000);
    evs.insert(2, ev(2000, EventKind::FailoverStart, None));
    let a = run(&ops, &evs, None, &Targets::none());
    assert_eq!(a.rto.recovered_at_ms, Some(3000.0));
    let got: Vec<_> = a.latency.iter().map(|l| (l.phase.as_str(), l.from_ms, l.to_ms, l.ok_ops)).collect();
    assert_eq!(
        got,
        [
            ("before_fault", 0.0, 1000.0, 100),
            ("during_fault", 1000.0, 2000.0, 50),
            ("failover", 2000.0, 3000.0, 0),
            ("after_recovery", 3000.0, 6000.0, 300)
        ]
    );
    let b = phase(&a, LatencyPhase::BeforeFault);
    assert!(near(b.p50_ms, 50.0) && near(b.p95_ms, 95.0) && near(b.p99_ms, 99.0), "{b:?}");
    assert_eq!((b.max_ms, b.mean_ms), (Some(100.0), Some(50.5)));
    // failed writes do not count; percentiles never exceed the exact maximum
    let d = phase(&a, LatencyPhase::DuringFault);
    assert_eq!((d.p50_ms, d.p99_ms, d.max_ms, d.mean_ms), (Some(300.0), Some(300.0), Some(300.0), Some(300.0)));
    let f = phase(&a, LatencyPhase::Failover);
    assert_eq!((f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms, f.mean_ms), (None, None, None, None, None));
    let r = phase(&a, LatencyPhase::AfterRecovery);
    assert!(near(r.p50_ms, 5.0) && near(r.p99_ms, 5.0) && r.max_ms == Some(5.0), "{r:?}");
}

#[test]
fn latency_phase_is_chosen_by_invoke_time() {
    let mut ops: Vec<Op> = (0..99).map(|i| op(0, i + 1, i * 10, 2, Outcome::Ok)).collect();
    ops.push(op(0, 100, 999, 501, Outcome::Ok)); // invoked before the fault, acknowledged during it
    ops.push(op(0, 101, 1000, 7, Outcome::Ok)); // invoked at the fault
    let a = run(&ops, &events(1000, 3000), None, &Targets::none());
    let b = phase(&a, LatencyPhase::BeforeFault);
    assert_eq!((b.ok_ops, b.max_ms), (100, Some(501.0)));
    let d = phase(&a, LatencyPhase::DuringFault);
    assert_eq!((d.ok_ops, d.max_ms, d.p50_ms), (1, Some(7.0), Some(7.0)));
    // no write failed: recovered at once, nothing healed, no failover
    assert!(a.latency.iter().all(|l| l.phase != LatencyPhase::Failover));
}

#[test]
fn a_drill_without_a_fault_has_one_whole_drill_phase() {
    let (ops, _) = scenario(3000, (0, 0), Outcome::Fail, &[]);
    let evs = vec![ev(0, EventKind::WorkloadStart, None), ev(3000, EventKind::WorkloadStop, None)];
    let a = run(&ops, &evs, None, &Targets::none());
    assert_eq!(a.latency.len(), 1);
    let w = &a.latency[0];
    assert_eq!((w.phase, w.from_ms, w.to_ms, w.ok_ops, w.max_ms), (LatencyPhase::WholeDrill, 0.0, 3000.0, 300, Some(2.0)));
    // a fault that could not be injected is no fault either
    let evs = vec![ev(1000, EventKind::FaultFailed, Some(0)), ev(3000, EventKind::WorkloadStop, None)];
    assert_eq!(spans(&evs, None, 3000), [("whole_drill", 0, 3000)]);
}

#[test]
fn latency_phase_boundaries() {
    let inject = |t| ev(t, EventKind::FaultInject, Some(0));
    let heal = |t| ev(t, EventKind::FaultHeal, Some(0));
    let failover = |t| ev(t, EventKind::FailoverStart, None);
    // healed at 2500 (the last heal), recovered at 3000: the heal ends the fault
    let evs = [inject(1000), inject(1500), heal(2000), heal(2500)];
    assert_eq!(spans(&evs, Some(3000), 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 2500), ("after_recovery", 3000, 6000)]);
    // recovered before the heal: after_recovery starts at the heal
    assert_eq!(spans(&evs, Some(1800), 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 2500), ("after_recovery", 2500, 6000)]);
    // never healed: the recovery point ends the fault
    assert_eq!(
        spans(&[inject(1000)], Some(3000), 6000),
        [("before_fault", 0, 1000), ("during_fault", 1000, 3000), ("after_recovery", 3000, 6000)]
    );
    // never healed, never recovered: the fault lasts to the stop, after_recovery is empty and left out
    assert_eq!(spans(&[inject(1000)], None, 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 6000)]);
    // failover: it ends the fault even if a heal comes later, and lasts until the recovery point
    let evs = [inject(1000), failover(2000), heal(4000)];
    assert_eq!(
        spans(&evs, Some(3000), 6000),
        [("before_fault", 0, 1000), ("during_fault", 1000, 2000), ("failover", 2000, 3000), ("after_recovery", 3000, 6000)]
    );
    // a failover that never brought writes back lasts to the stop; nothing comes after it
    assert_eq!(spans(&evs, None, 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 2000), ("failover", 2000, 6000)]);
    // writes recovered before the failover started: the failover phase is empty
    assert_eq!(spans(&evs, Some(1500), 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 2000), ("after_recovery", 2000, 6000)]);
    // empty phases are left out: fault at 0, failover at the fault
    assert_eq!(spans(&[inject(0), failover(0)], Some(3000), 6000), [("failover", 0, 3000), ("after_recovery", 3000, 6000)]);
    // a heal after the workload stopped is clamped to the stop
    assert_eq!(spans(&[inject(1000), heal(9000)], None, 6000), [("before_fault", 0, 1000), ("during_fault", 1000, 6000)]);
}

/// Fault #0 at `first_ms`, fault #1 (the one the failover answers) at `kill_ms`; judged.
fn two_faults(ops: &[Op], first_ms: u64, kill_ms: u64, stop_ms: u64) -> Analysis {
    let evs = vec![
        ev(0, EventKind::WorkloadStart, None),
        ev(first_ms, EventKind::FaultInject, Some(0)),
        ev(kill_ms, EventKind::FaultInject, Some(1)),
        ev(stop_ms, EventKind::WorkloadStop, None),
    ];
    judge(ops, &evs, 1, None, &targets(10_000, 0, 0))
}

#[test]
fn rto_counts_from_an_earlier_fault_when_writes_were_already_down() {
    // a replication cut at 1000 stalls writes (unknown) until failover at 3500; the kill
    // the failover answers comes at 2000, while writes were already unavailable
    let (ops, _) = scenario(8000, (1000, 3500), Outcome::Unknown, &[]);
    let a = two_faults(&ops, 1000, 2000, 8000);
    assert_eq!(a.rto.from_ms, 1000.0);
    assert_eq!(a.rto.rto_ms, Some(2500.0));
}

#[test]
fn rto_ignores_an_earlier_fault_after_which_writes_stayed_available() {
    // an async replication cut at 1000 changes nothing for clients; the kill at 2000 does
    let (ops, _) = scenario(8000, (2000, 3500), Outcome::Fail, &[]);
    let a = two_faults(&ops, 1000, 2000, 8000);
    assert_eq!(a.rto.from_ms, 2000.0);
    assert_eq!(a.rto.rto_ms, Some(1500.0));
    // even when the earlier fault comes less than a stable window before the kill
    assert_eq!(two_faults(&ops, 1700, 2000, 8000).rto.from_ms, 2000.0);
}

/// The fault's events with its applied time.
fn events_applied(fault_ms: u64, applied_ms: u64, stop_ms: u64) -> Vec<Event> {
    let mut evs = events(fault_ms, stop_ms);
    evs[1].applied_ns = Some(applied_ms * MS);
    evs
}

#[test]
fn rto_counts_from_when_the_fault_took_effect_for_the_clients() {
    // asked for at 1000, applied at 1070 (a docker exec of iptables): writes fail from 1050
    let (ops, rb) = scenario(6000, (1050, 4000), Outcome::Unknown, &[]);
    let a = run(&ops, &events_applied(1000, 1070, 6000), Some(&rb), &targets(5000, 0, 0));
    assert_eq!((a.rto.from_ms, a.rto.fault_requested_ms), (1050.0, Some(1000.0)));
    assert_eq!(a.rto.rto_ms, Some(4000.0 - 1050.0));
    assert_eq!((a.fault_ms, a.fault_applied_ms), (Some(1000.0), Some(1070.0)));
    // the first failed write came after the engine said applied: RTO counts from applied
    let (ops, rb) = scenario(6000, (1100, 4000), Outcome::Unknown, &[]);
    assert_eq!(run(&ops, &events_applied(1000, 1070, 6000), Some(&rb), &targets(5000, 0, 0)).rto.from_ms, 1070.0);
    // a write in flight at the request that failed: never earlier than the request
    let (ops, rb) = scenario(6000, (990, 4000), Outcome::Unknown, &[]);
    assert_eq!(run(&ops, &events_applied(1000, 1070, 6000), Some(&rb), &targets(5000, 0, 0)).rto.from_ms, 1000.0);
}

#[test]
fn without_an_applied_time_rto_counts_from_the_request() {
    // evidence written before applied times were recorded: as before
    let (ops, rb) = scenario(6000, (1050, 4000), Outcome::Fail, &[]);
    let a = run(&ops, &events(1000, 6000), Some(&rb), &targets(5000, 0, 0));
    assert_eq!((a.rto.from_ms, a.rto.rto_ms), (1000.0, Some(3000.0)));
}

#[test]
fn an_earlier_fault_already_in_effect_counts_from_its_own_effect() {
    // a replication cut asked for at 1000, applied at 1040, stalls writes from 1030; the
    // answered kill comes at 2000
    let (ops, _) = scenario(8000, (1030, 3500), Outcome::Unknown, &[]);
    let mut evs = vec![
        ev(0, EventKind::WorkloadStart, None),
        ev(1000, EventKind::FaultInject, Some(0)),
        ev(2000, EventKind::FaultInject, Some(1)),
        ev(8000, EventKind::WorkloadStop, None),
    ];
    evs[1].applied_ns = Some(1040 * MS);
    evs[2].applied_ns = Some(2020 * MS);
    let a = judge(&ops, &evs, 1, None, &targets(10_000, 0, 0));
    assert_eq!((a.rto.from_ms, a.rto.fault_requested_ms, a.rto.rto_ms), (1030.0, Some(1000.0), Some(2470.0)));
}
