use super::*;
use crate::stack::EngineLag;

const MS: u64 = 1_000_000;

fn start() -> LagRow {
    LagRow::Start { service: None, heartbeat_ms: 10, poll_ms: 5, engine_every_ms: 100, reported_as: "x".into() }
}

fn beat(seq: u64, node: &str, invoke: u64, ack: Option<u64>) -> LagRow {
    LagRow::Beat { service: None, seq, node: node.into(), invoke_ns: invoke, ack_ns: ack, error: None }
}

fn seen(node: &str, seq: u64, after: Option<u64>, sent: u64, recv: u64) -> LagRow {
    LagRow::Seen { service: None, node: node.into(), seq, after_ns: after, sent_ns: sent, recv_ns: recv }
}

fn whole(end: u64) -> Vec<(LatencyPhase, u64, u64)> {
    vec![(LatencyPhase::WholeDrill, 0, end)]
}

/// A replica that applies every heartbeat exactly `delay` after its acknowledgement, read
/// every `poll` (each read answered 1 ms after it is sent): the measured lag stays within
/// half the read interval plus the read's own time of the truth.
#[test]
fn a_known_delay_is_measured_within_half_a_read_interval() {
    for (delay, poll) in [(0u64, 5u64), (3, 5), (200, 5), (1000, 20)] {
        let mut rows = vec![start()];
        let beats: Vec<(u64, u64)> = (1..=200).map(|i| (i, 100 * MS + i * 10 * MS)).collect();
        for &(i, t) in &beats {
            rows.push(beat(i, "pg-1", t - MS, Some(t)));
        }
        // the replica shows seq i from ack(i) + delay on
        let shown_at = |t: u64| beats.iter().filter(|b| b.1 + delay * MS <= t).map(|b| b.0).max().unwrap_or(0);
        let (mut prev, mut last) = (None, None);
        let mut t = 50 * MS;
        while t < 4000 * MS {
            let s = shown_at(t + MS / 2); // the read happens mid-request
            if last != Some(s) {
                rows.push(seen("pg-2", s, prev, t, t + MS));
            }
            (prev, last) = (Some(t), Some(s));
            t += poll * MS;
        }
        let r = lag_report(&rows, &whole(5000 * MS), 5000 * MS).unwrap();
        let st = &r.replicas[0].overall;
        assert_eq!(r.replicas.len(), 1);
        assert_eq!(st.heartbeats, 200, "delay {delay}");
        let tol = (poll as f64 + 1.0) / 2.0;
        for v in [st.p50_ms, st.p99_ms, st.max_ms] {
            let v = v.unwrap();
            assert!((v - delay as f64).abs() <= tol, "delay {delay} poll {poll}: measured {v}, tolerance {tol}");
        }
        assert!(r.resolution_max_ms.unwrap() <= tol);
    }
}

#[test]
fn heartbeats_written_on_a_node_are_not_its_lag_and_failed_ones_are_counted() {
    let rows = vec![
        start(),
        beat(1, "pg-1", 0, Some(10 * MS)),
        beat(2, "pg-2", 20 * MS, Some(30 * MS)),
        beat(3, "pg-2", 40 * MS, None),
        seen("pg-2", 0, None, 10 * MS, 11 * MS),
        seen("pg-2", 1, Some(10 * MS), 15 * MS, 16 * MS),
        seen("pg-1", 2, Some(25 * MS), 35 * MS, 36 * MS),
    ];
    let r = lag_report(&rows, &whole(100 * MS), 100 * MS).unwrap();
    assert_eq!((r.heartbeats_acked, r.heartbeats_failed), (2, 1));
    let by = |n: &str| r.replicas.iter().find(|x| x.node == n).unwrap().overall.clone();
    assert_eq!(by("pg-2").heartbeats, 1, "only heartbeat 1 was written elsewhere");
    assert_eq!(by("pg-1").heartbeats, 1, "only heartbeat 2 was written elsewhere");
    // pg-2 saw 1 in (10 ms, 16 ms]: 13 ms, lag 3 ms
    assert_eq!(by("pg-2").p50_ms, Some(3.0));
}

/// A replica that answers reads but never shows a heartbeat is as stale as its last
/// answer says, at least: counted with that lower bound, never left out.
#[test]
fn a_heartbeat_a_live_replica_never_shows_counts_as_a_lower_bound() {
    let rows = vec![
        start(),
        beat(1, "pg-1", 0, Some(10 * MS)),
        beat(2, "pg-1", 20 * MS, Some(30 * MS)),
        seen("pg-2", 0, None, 0, MS),
        seen("pg-2", 1, Some(5 * MS), 12 * MS, 13 * MS),
        LagRow::Polls {
            service: None,
            node: "pg-2".into(),
            polls: 100,
            errors: 0,
            last_ok: Some((529 * MS, 530 * MS, 1)),
            last_error: None,
        },
        // a replica killed before it answered after heartbeat 1
        seen("pg-3", 0, None, 0, MS),
        LagRow::Polls {
            service: None,
            node: "pg-3".into(),
            polls: 1,
            errors: 50,
            last_ok: Some((0, MS, 0)),
            last_error: Some("refused".into()),
        },
    ];
    let r = lag_report(&rows, &whole(600 * MS), 600 * MS).unwrap();
    let pg2 = &r.replicas.iter().find(|x| x.node == "pg-2").unwrap().overall;
    assert_eq!((pg2.heartbeats, pg2.censored), (2, 1));
    assert_eq!(pg2.max_ms, Some(500.0), "heartbeat 2 was still missing 500 ms after its ack");
    let pg3 = r.replicas.iter().find(|x| x.node == "pg-3").unwrap();
    assert_eq!((pg3.overall.heartbeats, pg3.overall.untimed, pg3.read_errors), (0, 2, 50));
    let (worst, each) = r.worst(crate::scenario::Percentile::Max);
    assert_eq!(worst, Some(500.0));
    assert_eq!(each.len(), 2);
}

#[test]
fn phases_split_by_acknowledgement_and_engine_samples_by_time() {
    let mut rows = vec![start()];
    for i in 1..=10u64 {
        rows.push(beat(i, "pg-1", i * 100 * MS, Some(i * 100 * MS + MS)));
        rows.push(seen("pg-2", i, Some(i * 100 * MS), i * 100 * MS + 4 * MS, i * 100 * MS + 5 * MS));
    }
    for (t, v) in [(150, Some(2.0)), (250, None), (750, Some(40.0))] {
        let lag = EngineLag { reported_ms: v, behind_bytes: Some(t as i64), position: None };
        rows.push(LagRow::Engine { service: None, node: "pg-2".into(), t_ns: t * MS, lag, error: None });
    }
    let phases = vec![(LatencyPhase::BeforeFault, 0, 500 * MS), (LatencyPhase::DuringFault, 500 * MS, 1100 * MS)];
    let r = lag_report(&rows, &phases, 1100 * MS).unwrap();
    let rep = &r.replicas[0];
    assert_eq!(rep.phases.iter().map(|p| p.heartbeats).collect::<Vec<_>>(), [4, 6]);
    assert_eq!(rep.phases[0].engine.samples, 2);
    assert_eq!(rep.phases[0].engine.nulls, 1);
    assert_eq!(rep.phases[1].engine.max_ms, Some(40.0));
    assert_eq!(rep.overall.engine.behind_bytes_max, Some(750));
    assert_eq!(rep.overall.heartbeats, 10);
}

#[test]
fn no_start_row_means_no_measurement() {
    assert!(lag_report(&[beat(1, "a", 0, Some(1))], &whole(10), 10).is_none());
}

/// A mirror that never received a heartbeat before it was promoted, then took heartbeats
/// itself: a read showing its own heartbeat says nothing of the old primary's. Those stay
/// unseen, counted at their lower bound up to its first own heartbeat, never "visible"
/// when its own heartbeat appeared (lsyncd at its 15 s delay, killed 5 s in).
#[test]
fn a_promoted_nodes_own_heartbeats_do_not_time_the_ones_it_never_received() {
    let mut rows = vec![start(), seen("files-2", 0, None, 0, MS)];
    for i in 1..=10 {
        rows.push(beat(i, "files-1", i * 100 * MS - MS, Some(i * 100 * MS)));
    }
    // promoted at 1500 ms: the heartbeat moves to it, and a read shows heartbeat 11
    rows.push(beat(11, "files-2", 1500 * MS, Some(1501 * MS)));
    rows.push(seen("files-2", 11, Some(1490 * MS), 1502 * MS, 1503 * MS));
    rows.push(LagRow::Polls {
        service: None,
        node: "files-2".into(),
        polls: 70,
        errors: 0,
        last_ok: Some((1502 * MS, 1503 * MS, 11)),
        last_error: None,
    });
    let r = lag_report(&rows, &whole(2000 * MS), 2000 * MS).unwrap();
    let m = &r.replicas.iter().find(|x| x.node == "files-2").unwrap().overall;
    assert_eq!((m.heartbeats, m.censored), (10, 10), "none of heartbeats 1-10 reached files-2");
    // heartbeat 1, acknowledged at 100 ms, still missing when files-2 took its own at 1500 ms
    assert_eq!(m.max_ms, Some(1400.0));
}
