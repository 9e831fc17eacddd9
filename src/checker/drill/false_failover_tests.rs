use super::*;
use crate::checker::PromotionsReport;
use crate::history::Event;

fn event(t_ms: u64, kind: EventKind, fault: usize) -> Event {
    Event {
        service: None,
        t_ns: t_ms * 1_000_000,
        kind,
        fault: Some(fault),
        node: Some("redis-1".into()),
        detail: String::new(),
        applied_ns: None,
        applied_from_ns: None,
    }
}

fn fault(index: usize, kind: &str, node: &str, at_ms: f64) -> FaultInjected {
    FaultInjected {
        index,
        kind: kind.into(),
        target: node.into(),
        at_ms,
        nodes: vec![node.into()],
        services: vec!["cache".into()],
        planned: kind == "switchover",
    }
}

/// The drill: Sentinel promoted redis-3 at t=7.0 s; `old_acked` writes by redis-1
/// after it, half of them lost; the fault healed at `healed_ms`.
fn drill(healed_ms: Option<u64>, old_acked: u64) -> Results {
    let mut r = crate::checker::sample::sample();
    r.stack.initial_primary = "redis-1".into();
    r.events = vec![event(5000, EventKind::FaultInject, 0)];
    r.events.extend(healed_ms.map(|h| event(h, EventKind::FaultHeal, 0)));
    r.rto_ms = None;
    r.outage_ms = None;
    r.recovered_at_ms = None;
    r.lost_writes = Some(4364);
    let p = Promotion {
        at_ms: 7000.0,
        old: "redis-1".into(),
        new: "redis-3".into(),
        by: "orchestrator".into(),
        old_acked,
        old_lost: Some(old_acked / 2),
        old_first_ack_ms: (old_acked > 0).then_some(7010.0),
        old_last_ack_ms: (old_acked > 0).then_some(12_700.0),
        new_acked: 3,
        new_lost: Some(0),
        ..Promotion::default()
    };
    r.promotions = Some(PromotionsReport { promotions: vec![p], nodes_recorded: true });
    r
}

fn kinds(f: &[Finding]) -> Vec<FindingKind> {
    f.iter().map(|f| f.kind).collect()
}

#[test]
fn a_pause_that_ended_before_the_promotion_is_a_false_failover_and_the_writes_after_it_a_split_brain() {
    let r = drill(Some(6500), 8372);
    let f = found(&r, &[fault(0, "pause", "redis-1", 5000.0)]);
    assert_eq!(kinds(&f), [FindingKind::FalseFailover, FindingKind::SplitBrain], "{f:?}");
    assert!(
        f[0].what.contains("promoted redis-3 at t=7.0 s while redis-1 was alive (back at t=6.5 s, 0.5 s before the promotion)"),
        "{}",
        f[0].what
    );
    assert!(f[0].evidence.contains("pause of redis-1 at t=5.0 s, healed t=6.5 s"), "{}", f[0].evidence);
    assert!(
        f[0].evidence.contains("4364 acknowledged writes lost (4186 of them among the 8372 redis-1 acknowledged after the promotion)"),
        "{}",
        f[0].evidence
    );
    assert!(f[1].what.contains("redis-1 went on acknowledging writes for 5.7 s after the orchestrator promoted redis-3"), "{}", f[1].what);
    assert_eq!(
        f[1].evidence,
        "from t=7000.0 to t=12700.0 ms: redis-1 acknowledged 8372 writes (4186 lost), redis-3 acknowledged 3 (0 lost)"
    );
}

#[test]
fn a_primary_answering_the_clients_while_cut_off_from_the_orchestrator_was_alive() {
    // the partition heals at 9 s, after the promotion: redis-1 acknowledged writes before that
    let r = drill(Some(9000), 40);
    let f = found(&r, &[fault(0, "partition", "redis-1", 5000.0)]);
    assert_eq!(f[0].kind, FindingKind::FalseFailover);
    assert!(
        f[0].what
            .contains("it acknowledged 40 client writes after the promotion, the first at t=7.0 s while the fault was still in effect"),
        "{}",
        f[0].what
    );
}

#[test]
fn a_long_pause_the_failover_cut_short_or_a_kill_is_no_false_failover() {
    // paused until 25 s; the clients recovered through redis-3 at 8 s: the failover helped
    let mut r = drill(Some(25_000), 0);
    r.recovered_at_ms = Some(8000.0);
    r.rto_ms = Some(3000.0);
    assert!(found(&r, &[fault(0, "pause", "redis-1", 5000.0)]).is_empty());
    // the same pause, the clients back only at 26 s: waiting would have done as well
    r.recovered_at_ms = Some(26_000.0);
    assert_eq!(kinds(&found(&r, &[fault(0, "pause", "redis-1", 5000.0)])), [FindingKind::FalseFailover]);
    // a kill, even if the node is started again before the promotion
    let r = drill(Some(6500), 0);
    assert!(found(&r, &[fault(0, "kill", "redis-1", 5000.0)]).is_empty());
    // a switchover is planned
    assert!(found(&r, &[fault(0, "switchover", "redis-1", 5000.0)]).is_empty());
    // no fault before the promotion: early.rs says so
    assert!(found(&r, &[fault(0, "pause", "redis-1", 8000.0)]).is_empty());
}

#[test]
fn a_fault_on_another_node_judges_by_the_service_faults_and_a_never_healed_cut_is_no_false_failover() {
    let r = drill(None, 0);
    assert!(found(&r, &[fault(0, "partition", "redis-1", 5000.0)]).is_empty());
    // a pause of a replica, healed before the promotion: nothing was wrong with redis-1
    let r = drill(Some(6000), 0);
    let f = found(&r, &[fault(0, "pause", "redis-2", 5000.0)]);
    assert_eq!(kinds(&f), [FindingKind::FalseFailover]);
}

#[test]
fn a_split_already_seen_on_the_vip_is_not_said_twice() {
    let mut r = drill(Some(6500), 10);
    r.holders = Some(crate::checker::HoldersReport {
        splits: vec![crate::checker::Split {
            from_ms: 7000.0,
            to_ms: Some(8000.0),
            duration_ms: 1000.0,
            nodes: vec!["redis-1".into(), "redis-3".into()],
            acked: Default::default(),
            lost: Default::default(),
        }],
        ..Default::default()
    });
    assert_eq!(kinds(&found(&r, &[fault(0, "pause", "redis-1", 5000.0)])), [FindingKind::FalseFailover]);
}

#[test]
fn writes_from_clients_inside_a_cut_off_site_prove_nothing_about_the_others() {
    // the site is cut off until 9 s; redis-1 took writes from the clients in its own site
    let r = drill(Some(9000), 40);
    assert!(found(&r, &[fault(0, "isolate_site", "redis-1", 5000.0)]).iter().all(|f| f.kind != FindingKind::FalseFailover));
    let mut cut = fault(0, "partition", "redis-1", 5000.0);
    cut.target = "[[redis-1], [redis-2, redis-3, sentinels, clients]]".into();
    assert!(found(&r, &[cut.clone()]).iter().all(|f| f.kind != FindingKind::FalseFailover));
    cut.target = "[[redis-1, clients], [redis-2, redis-3, sentinels]]".into();
    assert_eq!(found(&r, &[cut])[0].kind, FindingKind::FalseFailover);
}
