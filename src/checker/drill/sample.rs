//! A complete, hand-built Results for unit tests of the checker and the reporters.
use super::{Results, SCHEMA_VERSION, StackInfo};
use crate::checker::{LatencyPhase, LostWrite, PhaseLatency, TargetResult, Verdict};
use crate::history::{Event, EventKind};

fn target(name: &str, verdict: Verdict, note: &str) -> TargetResult {
    TargetResult { target: name.into(), limit: Some(100.0), actual: Some(250.0), verdict, note: note.into() }
}

/// A failed drill of a PostgreSQL stack: one kill, one lost write, two latency phases;
/// every field not listed at its default (none, empty, false).
pub(crate) fn sample() -> Results {
    Results {
        schema_version: SCHEMA_VERSION,
        scenario: "pg<kill>".into(),
        run_id: "r1".into(),
        started_at: "2026-11-21T00:00:00Z".into(),
        finished_at: "2026-11-21T00:00:20Z".into(),
        verdict: Verdict::Fail,
        rto_ms: Some(250.0),
        rto_from_ms: 1000.0,
        rto_basis: crate::checker::RtoBasis::Fault,
        outage_ms: Some(252.0),
        last_ack_before_outage_ms: Some(4998.0),
        outage_observed: true,
        outage_start_ms: Some(5001.0),
        recovered_at_ms: Some(5250.0),
        relapses: 0,
        rpo_ms: Some(12.5),
        rpo_recovery_point_ms: Some(4987.0),
        rpo_failure_point_ms: Some(5000.0),
        longest_gap_ms: 260.0,
        longest_gap_start_ms: 4999.0,
        total_writes: 100,
        acked_writes: 90,
        failed_writes: 8,
        unknown_writes: 2,
        acked_before_fault: 50,
        lost_writes: Some(1),
        recovered_writes: Some(1),
        duplicate_writes: Some(0),
        unexpected_writes: Some(0),
        records_read: Some(90),
        converged: None,
        fault_ms: Some(5000.0),
        fault_applied_ms: Some(5003.0),
        answered_fault: Some(0),
        targets: vec![
            target("rto_ms", Verdict::Fail, "too slow & late"),
            target("rpo_ms", Verdict::Pass, ""),
            target("converged", Verdict::Unknown, "replica unreadable"),
        ],
        latency: latency_before_fault_and_in_failover(),
        stack: postgres_stack(),
        engine: crate::docker::EngineInfo { host: "unix:///var/run/docker.sock".into(), version: "24.0".into(), local: true },
        lost: vec![LostWrite { writer: 3, seq: 41, ack_ms: 4987.5, node: None, change: None }],
        events: vec![kill_pg1()],
        ..Default::default()
    }
}

/// Latency before the fault (50 acknowledged writes) and in the failover (none).
pub(crate) fn latency_before_fault_and_in_failover() -> Vec<PhaseLatency> {
    vec![
        PhaseLatency {
            phase: LatencyPhase::BeforeFault,
            from_ms: 0.0,
            to_ms: 5000.0,
            ok_ops: 50,
            p50_ms: Some(2.003),
            p95_ms: Some(4.5),
            p99_ms: Some(9.87),
            max_ms: Some(12.25),
            mean_ms: Some(2.5),
        },
        PhaseLatency {
            phase: LatencyPhase::Failover,
            from_ms: 5100.0,
            to_ms: 5250.0,
            ok_ops: 0,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            mean_ms: None,
        },
    ]
}

/// The first kind's stack (PostgreSQL, async), its primary moved from pg-1 to pg-2.
pub(crate) fn postgres_stack() -> StackInfo {
    StackInfo {
        kind: crate::scenario::KINDS[0].name().into(),
        replication: "async".into(),
        image: "drdrill/postgres:15".into(),
        initial_primary: "pg-1".into(),
        final_primary: "pg-2".into(),
        nodes: vec![],
        replication_at_start: vec![],
    }
}

/// The fault: pg-1 killed at t=5 s, applied 3 ms later.
pub(crate) fn kill_pg1() -> Event {
    Event {
        service: None,
        t_ns: 5_000_000_000,
        kind: EventKind::FaultInject,
        fault: Some(0),
        node: Some("pg-1".into()),
        detail: "kill pg-1".into(),
        applied_ns: Some(5_003_000_000),
        applied_from_ns: None,
    }
}
