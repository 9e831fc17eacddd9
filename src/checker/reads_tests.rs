//! The read path judged on synthetic histories: staleness, reads of lost writes, reads
//! back in time, the read RTO.
use super::reads::{Acks, ReadContext, judge_reads};
use super::rto::FaultTime;
use crate::history::{Event, EventKind, Outcome, Read};
use crate::scenario::{CheckSpec, ReadersSpec};
use crate::stack::ReadBack;

const MS: u64 = 1_000_000;

fn spec() -> ReadersSpec {
    serde_norway::from_str("{count: 2, from: replicas}").unwrap()
}

fn read(reader: u32, writer: u32, at_ms: u64, outcome: Outcome, seen: Option<u64>, node: &str) -> Read {
    let node = Some(node.into());
    Read { service: None, reader, writer, key: None, invoke_ns: at_ms * MS, complete_ns: at_ms * MS + MS, outcome, seen, node, error: None }
}

fn ev(t_ms: u64, kind: EventKind) -> Event {
    Event {
        service: None,
        t_ns: t_ms * MS,
        kind,
        fault: Some(0),
        node: None,
        detail: String::new(),
        applied_ns: None,
        applied_from_ns: None,
    }
}

/// Writer 0 acknowledged seq n at n × 10 ms, n = 1..=300 (to 3 s).
fn acks() -> Acks {
    let mut a = Acks::default();
    for n in 1..=300 {
        a.add(0, None, n, n * 10 * MS);
    }
    a.seal();
    a
}

fn context<'a>(events: &'a [Event], acks: &'a Acks, rb: Option<&'a ReadBack>, checks: &'a CheckSpec) -> ReadContext<'a> {
    let fault = Some(FaultTime { at_ns: 1000 * MS, applied_ns: Some(1000 * MS) });
    ReadContext { events, acks, read_back: rb, fault, injects: fault.into_iter().collect(), recovered_ns: Some(2000 * MS), checks }
}

fn checks() -> CheckSpec {
    serde_norway::from_str("{stable_window_ms: 100}").unwrap()
}

#[test]
fn a_replica_100_ms_behind_shows_reads_100_ms_stale_and_a_caught_up_one_fresh() {
    let (a, checks) = (acks(), checks());
    let events = [ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    // at t, the replica shows what was acknowledged by t - 100 ms: seq (t - 100) / 10
    let reads: Vec<Read> = (20..290).map(|i| read(0, 0, i * 10, Outcome::Ok, Some(i - 10), "pg-2")).collect();
    let r = judge_reads(&reads, &spec(), &context(&events, &a, None, &checks));
    // the earliest write it did not show, seq i - 9, was acknowledged 90 ms before the read
    assert_eq!((r.staleness.p50_ms, r.staleness.max_ms), (Some(90.0), Some(90.0)), "{:?}", r.staleness);
    assert_eq!(r.staleness.max_writes, 10);
    assert_eq!(r.staleness.fresh, 0);
    let fresh: Vec<Read> = (20..290).map(|i| read(0, 0, i * 10, Outcome::Ok, Some(i), "pg-2")).collect();
    let r = judge_reads(&fresh, &spec(), &context(&events, &a, None, &checks));
    assert_eq!((r.staleness.max_ms, r.staleness.fresh), (Some(0.0), 270));
    // per phase, on the writes' phases
    let phases: Vec<&str> = r.staleness_by_phase.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(phases, ["before_fault", "during_fault", "after_recovery"]);
}

#[test]
fn a_read_of_a_write_the_failover_lost_and_the_next_read_back_in_time_are_both_counted() {
    let (a, checks) = (acks(), checks());
    let events = [ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    let mut rb = ReadBack::default();
    for n in 1..=97 {
        rb.push(0, n);
    }
    for n in 101..=300 {
        rb.push(0, n);
    }
    let reads = vec![
        // on the old primary, just before it died: record 99, which pg-2 never had (98-100 lost)
        read(1, 0, 990, Outcome::Ok, Some(99), "pg-1"),
        // after the failover on the promoted pg-2: only 95, the same reader
        read(1, 0, 1500, Outcome::Ok, Some(95), "pg-2"),
        read(1, 0, 1600, Outcome::Ok, Some(97), "pg-2"),
        read(0, 0, 1700, Outcome::Ok, Some(150), "pg-2"),
    ];
    let r = judge_reads(&reads, &spec(), &context(&events, &a, Some(&rb), &checks));
    let lost = r.of_lost_writes.as_ref().unwrap();
    assert_eq!((lost.reads, lost.distinct_writes), (1, 1));
    assert_eq!((lost.first[0].node.as_str(), lost.first[0].seq, lost.first[0].at_ms), ("pg-1", 99, 990.0));
    // 99 -> 95 and 99 -> 97: both below what reader 1 saw; reader 0's first read is no step
    assert_eq!((r.back_in_time.reads, r.back_in_time.largest_step), (2, 4));
    let s = &r.back_in_time.first[0];
    assert_eq!((s.before_node.as_str(), s.before_seq, s.after_node.as_str(), s.after_seq), ("pg-1", 99, "pg-2", 95));
}

#[test]
fn reads_failing_from_the_fault_for_half_a_second_give_a_read_rto_of_half_a_second() {
    let (a, checks) = (acks(), checks());
    let events = [ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    let reads: Vec<Read> = (0..290)
        .map(|i| {
            let t = i * 10;
            let bad = (1000..1500).contains(&t);
            read(0, 0, t, if bad { Outcome::Fail } else { Outcome::Ok }, (!bad).then_some(t / 10), if bad { "pg-1" } else { "pg-2" })
        })
        .collect();
    let r = judge_reads(&reads, &spec(), &context(&events, &a, None, &checks));
    let rto = r.rto.as_ref().unwrap();
    assert_eq!(rto.rto_ms, Some(500.0), "{rto:?}");
    assert!(rto.outage_observed);
    let pg1 = r.nodes.iter().find(|n| n.node == "pg-1").unwrap();
    assert_eq!((pg1.fail, pg1.failed_from_ms, pg1.failed_to_ms), (50, Some(1000.0), Some(1490.0)));
    // reads that never stopped: RTO 0, no outage
    let ok: Vec<Read> = (0..290).map(|i| read(0, 0, i * 10, Outcome::Ok, Some(i), "pg-2")).collect();
    let r = judge_reads(&ok, &spec(), &context(&events, &a, None, &checks));
    let rto = r.rto.unwrap();
    assert_eq!((rto.rto_ms, rto.outage_observed), (Some(0.0), false));
}

#[test]
fn reads_served_through_the_outage_and_failing_later_count_from_their_own_first_failure() {
    let (a, checks) = (acks(), checks());
    let events = [ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    // the replicas serve on after the fault at 1 s; at 2.5 s the pool drops one for 40 ms
    let reads: Vec<Read> = (0..290)
        .map(|i| {
            let t = i * 10;
            let bad = (2500..2540).contains(&t);
            read(0, 0, t, if bad { Outcome::Unknown } else { Outcome::Ok }, (!bad).then_some(t / 10), "pg-2")
        })
        .collect();
    let r = judge_reads(&reads, &spec(), &context(&events, &a, None, &checks));
    let rto = r.rto.unwrap();
    assert_eq!((rto.basis, rto.from_ms, rto.rto_ms), (super::RtoBasis::ReadsOutage, 2500.0, Some(40.0)), "{rto:?}");
    assert_eq!(rto.fault_requested_ms, Some(1000.0));
}

/// Reads every 10 ms to pg-1, pg-2, pg-3 in turn (a static pool, `from: any`): pg-2 paused
/// 300-450 ms (a blip before the fault), pg-1 killed at 1 s and failing to the end.
fn blip_then_dead_member() -> Vec<Read> {
    (0..300)
        .map(|i| {
            let (t, node) = (i * 10, ["pg-1", "pg-2", "pg-3"][i as usize % 3]);
            let bad = (node == "pg-2" && (300..450).contains(&t)) || (node == "pg-1" && t >= 1000);
            read(0, 0, t, if bad { Outcome::Fail } else { Outcome::Ok }, (!bad).then_some(t / 10), node)
        })
        .collect()
}

#[test]
fn a_blip_before_the_fault_is_not_the_read_rto_and_a_dead_member_of_a_static_pool_never_recovers() {
    let (a, checks) = (acks(), checks());
    let events = [ev(300, EventKind::FaultInject), ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    let mut cx = context(&events, &a, None, &checks);
    cx.injects.insert(0, FaultTime { at_ns: 300 * MS, applied_ns: Some(300 * MS) });
    let r = judge_reads(&blip_then_dead_member(), &spec(), &cx);
    let rto = r.rto.as_ref().unwrap();
    // counted from pg-1's first failed read after the kill, never from pg-2's blip; and
    // a third of the reads failing to the end is no recovery
    assert_eq!((rto.basis, rto.from_ms, rto.rto_ms), (super::RtoBasis::ReadsOutage, 1020.0, None), "{rto:?}");
    let u = r.unrecovered.as_ref().expect("the reads never recovered");
    assert_eq!((u.from_ms, u.to_ms, u.nodes.as_slice()), (1020.0, 3000.0, ["pg-1".to_string()].as_slice()));
    assert_eq!((u.reads, u.not_ok), (198, 66), "{u:?}");
    assert!(
        u.text().contains("66 of 198 reads from t=1020.0 ms to the end (t=3000.0 ms) did not succeed (33 %), on pg-1 to the end"),
        "{}",
        u.text()
    );
    // per node: pg-1 never back; pg-2's blip came before the fault
    let node = |n: &str| r.nodes.iter().find(|x| x.node == n).unwrap().clone();
    assert_eq!((node("pg-1").failed_from_ms, node("pg-1").back_at_ms), (Some(1020.0), None));
    assert!(node("pg-1").never_back());
    assert_eq!((node("pg-2").fail, node("pg-2").failed_from_ms), (5, None));
    // the read_rto_ms target fails, naming the node
    let targets: crate::scenario::Targets = serde_norway::from_str("{read_rto_ms: 5000}").unwrap();
    let t = &super::judge_read_targets(&r, &targets)[0];
    assert_eq!((t.verdict, t.actual), (super::Verdict::Fail, None));
    assert!(t.note.contains("reads never recovered") && t.note.contains("pg-1"), "{}", t.note);
}

#[test]
fn a_node_whose_reads_failed_and_came_back_says_when() {
    let (a, checks) = (acks(), checks());
    let events = [ev(1000, EventKind::FaultInject), ev(3000, EventKind::WorkloadStop)];
    // pg-1 fails 1000-1500 ms, then answers again
    let reads: Vec<Read> = (0..290)
        .map(|i| {
            let (t, node) = (i * 10, ["pg-1", "pg-2"][i as usize % 2]);
            let bad = node == "pg-1" && (1000..1500).contains(&t);
            read(0, 0, t, if bad { Outcome::Fail } else { Outcome::Ok }, (!bad).then_some(t / 10), node)
        })
        .collect();
    let r = judge_reads(&reads, &spec(), &context(&events, &a, None, &checks));
    let pg1 = r.nodes.iter().find(|n| n.node == "pg-1").unwrap();
    assert_eq!((pg1.failed_from_ms, pg1.failed_to_ms, pg1.back_at_ms), (Some(1000.0), Some(1480.0), Some(1500.0)));
    assert!(!pg1.never_back());
    let rto = r.rto.unwrap();
    // no read invoked after the fault succeeded before pg-1 failed at it: counted from the fault
    assert_eq!((rto.basis, rto.rto_ms, r.unrecovered), (super::RtoBasis::Fault, Some(490.0), None), "{rto:?}");
}

#[test]
fn a_shards_reads_are_weighed_against_that_shards_writes_only() {
    // writer 0's odd records on shard 0 (rc-1, its replica rc-4), even ones on shard 1 (rc-2)
    let parts = [("rc-1", 0), ("rc-4", 0), ("rc-2", 1)].into_iter().map(|(n, i)| (n.to_string(), i)).collect();
    let mut a = Acks::by_parts(parts);
    for n in 1..=100u64 {
        a.add(0, Some(if n % 2 == 1 { "rc-1" } else { "rc-2" }), n, n * 10 * MS);
    }
    a.seal();
    // at 1 s the replica rc-4 shows 99, its shard's newest: fresh, though 100 (shard 1's) is newer
    let r = read(0, 0, 1000, Outcome::Ok, Some(99), "rc-4");
    assert_eq!(a.staleness(&r), (0, 0));
    // showing 95 it missed 97 and 99: stale since 97's acknowledgement
    let r = read(0, 0, 1000, Outcome::Ok, Some(95), "rc-4");
    assert_eq!(a.staleness(&r), (30 * MS, 2));
    // unsharded, the same read of 99 missed 100
    let mut flat = Acks::default();
    (1..=100u64).for_each(|n| flat.add(0, Some("rc-1"), n, n * 10 * MS));
    flat.seal();
    assert_eq!(flat.staleness(&read(0, 0, 1000, Outcome::Ok, Some(99), "rc-4")), (0, 1));
}

#[test]
fn a_read_of_a_key_is_as_stale_as_the_first_update_acknowledged_after_the_one_it_showed() {
    let mut a = Acks::default();
    // key 7: writer 1's seq 2 acknowledged at 100 ms, writer 2's seq 4 at 150, writer 1's seq 6 at 300;
    // writer 2's seq 8 never acknowledged (invoked at 400 ms)
    a.add_update(7, (1, 2), true, (90 * MS, 100 * MS));
    a.add_update(7, (2, 4), true, (140 * MS, 150 * MS));
    a.add_update(7, (1, 6), true, (290 * MS, 300 * MS));
    a.add_update(7, (2, 8), false, (400 * MS, 900 * MS));
    a.seal();
    let key_read = |at_ms: u64, shown: Option<(u32, u64)>| {
        let mut r = read(0, shown.map_or(0, |s| s.0), at_ms, Outcome::Ok, shown.map(|s| s.1), "gal-2");
        r.key = Some(7);
        r
    };
    // showing writer 2's seq 4 at 350 ms: seq 6 (invoked at 290, after seq 4's ack) was missed
    assert_eq!(a.staleness(&key_read(350, Some((2, 4)))), (50 * MS, 1));
    // showing writer 1's seq 2 at 350 ms: seq 4 and 6 came after it
    assert_eq!(a.staleness(&key_read(350, Some((1, 2)))), (200 * MS, 2));
    // showing the newest acknowledged one: fresh
    assert_eq!(a.staleness(&key_read(350, Some((1, 6)))), (0, 0));
    // showing nothing at 350 ms: stale since the first acknowledgement, three missed
    assert_eq!(a.staleness(&key_read(350, None)), (250 * MS, 3));
    // showing the unacknowledged update: it counts from its invoke (400 ms), after every ack
    assert_eq!(a.staleness(&key_read(950, Some((2, 8)))), (0, 0));
    // two updates in flight together: neither is newer than the other
    let mut b = Acks::default();
    b.add_update(5, (2, 168), true, (3345 * MS, 3347 * MS));
    b.add_update(5, (1, 168), true, (3346 * MS, 3348 * MS));
    b.seal();
    let mut r = read(1, 2, 4195, Outcome::Ok, Some(168), "pgl-2");
    r.key = Some(5);
    assert_eq!(b.staleness(&r), (0, 0), "last-write-wins kept the one acknowledged first");
}
