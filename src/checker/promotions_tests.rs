use super::*;

fn event(t_ms: u64, kind: EventKind, node: &str) -> Event {
    Event::on(t_ms, kind, node)
}

/// Counts both passes over `ops`, as `judge_promotions` does over the history.
fn counted(mut r: PromotionsReport, ops: &[Op], read: Option<&ReadBack>) -> PromotionsReport {
    ops.iter().for_each(|op| r.count_old(op, read));
    ops.iter().for_each(|op| r.count_new(op, read));
    r.settle(read);
    r
}

#[test]
fn only_a_promotion_of_another_node_counts_and_each_replaces_the_primary_of_the_moment() {
    let events = [
        event(1000, EventKind::OrchestratorPromoted, "redis-1"), // the primary it already was
        event(7000, EventKind::OrchestratorPromoted, "redis-3"),
        event(7100, EventKind::OrchestratorMoved, "redis-3"),
        event(20_000, EventKind::FailoverPromote, "redis-1"),
    ];
    let r = PromotionsReport::from_events(&events, "redis-1");
    let seen: Vec<(f64, &str, &str, &str)> =
        r.promotions.iter().map(|p| (p.at_ms, p.old.as_str(), p.new.as_str(), p.by.as_str())).collect();
    assert_eq!(seen, [(7000.0, "redis-1", "redis-3", "orchestrator"), (20_000.0, "redis-3", "redis-1", "drdrill")]);
}

#[test]
fn writes_the_old_primary_acknowledged_after_the_promotion_are_a_split_counted_per_side() {
    let r = PromotionsReport::from_events(&[event(7000, EventKind::OrchestratorPromoted, "redis-3")], "redis-1");
    let ops = [
        Op::acked_by("redis-1", 1, 6000),  // before: no side
        Op::acked_by("redis-1", 2, 7500),  // the old primary, after: lost
        Op::acked_by("redis-3", 3, 8000),  // the new one, in the split
        Op::acked_by("redis-1", 4, 9000),  // the old one's last: kept
        Op::acked_by("redis-3", 5, 12000), // after the split
    ];
    let mut read = ReadBack::default();
    for seq in [1, 3, 4, 5] {
        read.push(0, seq);
    }
    let r = counted(r, &ops, Some(&read));
    let p = &r.promotions[0];
    assert!(r.nodes_recorded);
    assert_eq!((p.old_acked, p.old_lost, p.old_first_ack_ms, p.old_last_ack_ms), (2, Some(1), Some(7500.0), Some(9000.0)));
    assert_eq!((p.new_acked, p.new_lost), (1, Some(0)));
    assert_eq!(p.split_ms(), Some(2000.0));
    assert_eq!(r.splits().count(), 1);
}

#[test]
fn a_dead_old_primary_is_no_split_and_without_a_read_back_nothing_is_called_lost() {
    let r = PromotionsReport::from_events(&[event(7000, EventKind::FailoverPromote, "pg-2")], "pg-1");
    let r = counted(r, &[Op::acked_by("pg-1", 1, 5000), Op::acked_by("pg-2", 2, 8000)], None);
    let p = &r.promotions[0];
    assert_eq!((p.old_acked, p.old_lost, p.new_acked, p.new_lost, p.split_ms()), (0, None, 0, None, None));
    assert_eq!(r.splits().count(), 0);
}

#[test]
fn each_side_is_counted_against_the_promotion_of_its_span() {
    let events = [event(5000, EventKind::OrchestratorPromoted, "b"), event(10_000, EventKind::OrchestratorPromoted, "a")];
    let r = PromotionsReport::from_events(&events, "a");
    // a acks after the first promotion (split 1); after the second, b is the old one
    let ops = [Op::acked_by("a", 1, 6000), Op::acked_by("b", 2, 11_000), Op::acked_by("a", 3, 12_000)];
    let r = counted(r, &ops, Some(&ReadBack::default()));
    let (p1, p2) = (&r.promotions[0], &r.promotions[1]);
    assert_eq!((p1.old_acked, p1.old_lost, p1.new_acked), (1, Some(1), 0));
    assert_eq!((p2.old_acked, p2.old_lost, p2.new_acked, p2.new_lost), (1, Some(1), 0, Some(0)));
}

#[test]
fn a_promoted_node_that_let_the_vip_go_back_ends_the_split_there() {
    let mut r = PromotionsReport::from_events(&[event(8800, EventKind::OrchestratorPromoted, "n2")], "n1");
    let change = |t_ms: u64, node: &str, holds: bool| crate::checker::HolderChange {
        t_ns: t_ms * 1_000_000,
        node: node.into(),
        holds,
        detail: String::new(),
    };
    let changes = [change(0, "n1", true), change(8700, "n2", true), change(9700, "n2", false)];
    r.given_back(&crate::checker::HoldersReport::new("the VIP".into(), &changes, 40_000_000_000, vec!["n1".into()]));
    let ops = [
        Op::acked_by("n2", 1, 9000),   // the promoted node, in the split
        Op::acked_by("n1", 2, 9500),   // the old primary, in the split
        Op::acked_by("n1", 3, 12_000), // the primary again: no split
        Op::acked_by("n1", 4, 39_000),
    ];
    let r = counted(r, &ops, None);
    let p = &r.promotions[0];
    assert_eq!(p.given_back_ms, Some(9700.0));
    assert_eq!((p.old_acked, p.old_last_ack_ms, p.new_acked), (1, Some(9500.0), 1));
    assert_eq!(p.split_ms(), Some(700.0));
    // without the holders, the old primary's writes to the end are the split
    let mut all = PromotionsReport::from_events(&[event(8800, EventKind::OrchestratorPromoted, "n2")], "n1");
    all = counted(all, &ops, None);
    assert_eq!(all.promotions[0].old_acked, 3);
}
