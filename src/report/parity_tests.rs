//! The reporters kept in step: one `Results` holding every optional section, rendered by
//! the terminal, report.md and report.html; each section's own words must appear in each,
//! and a test fails naming the reporter and the section it lacks. Also: a multi-active
//! stack shows what each site saw (no single primary), and "unknown ms" appears nowhere.
use super::*;
use crate::checker::sample::sample;
#[allow(unused_imports)]
use crate::checker::{
    Answer, Comparison, FaultInjected, Figure, Finding, FindingKind, Interruption, IsolatedPrimary, NodeInfo, Questions, Results,
    SCHEMA_VERSION, StackInfo, SteadyStateReport,
};
use crate::checker::{CutReport, LostUpdate, MultiActiveReport, Rejoin, SiteWrites, UpdatesReport, update_value};
use serde_json::json;

/// Every section and the words that mark it in every reporter (terminal, markdown, html).
/// `events` is left to report.md and report.html: the terminal printed each as it happened.
const SECTIONS: &[(&str, &str)] = &[
    ("questions", "The four questions"),
    ("claims", "Claims beside what was measured: 0 of 1 held"),
    ("claim row", "RTO < 30 s (the runbook)"),
    ("entry holder", "t=9000.0 ms files-2 took the VIP 10.0.0.250 (Keepalived on files-2: Entering MASTER STATE)"),
    ("split brain", "files-1 and files-2 both held the VIP 10.0.0.250 from t=9000.0 ms to t=20000.0 ms (11.0 s)"),
    ("split sides", "files-2 acknowledged 210 writes (210 lost)"),
    ("side read", "548 records once the workload stopped; of the split's writes: 3 taken by files-1"),
    ("promotion", "t=7000.0 ms the orchestrator promoted files-2 in place of files-1 (Entering MASTER STATE)"),
    ("second primary", "files-1 went on acknowledging 12 writes (5 lost) for 2.0 s after it; files-2 acknowledged 4 (0 lost) meanwhile"),
    ("changes", "7 rewrites and 5 deletes acknowledged: 1 rewrites lost, 2 deletes undone"),
    ("records recreated", "4 records found absent by a rewrite"),
    ("targets", "too slow"),
    ("interruption", "SIGTERM during reading back"),
    ("rto", "from when the fault took effect for the clients"),
    ("outage", "last acknowledgement before it to the recovery point"),
    ("rpo", "12.5 ms"),
    ("fault", "requested t=5000.0 ms, applied t=5003.0 ms"),
    ("longest gap", "260.0 ms (from t=4999.0 ms)"),
    ("writes", "100 total: 90 ok, 8 fail, 2 unknown"),
    ("read back", "90 records: 1 lost, 1 recovered"),
    ("discarded writes", "acknowledged writes after the recovery target"),
    ("failover", "pg-1 -> pg-2, t=5100.0 -> 5240.0 ms"),
    ("convergence", "after waiting 1500 ms"),
    ("isolated primary", "last read as a primary from t=5010.0 ms"),
    ("lost writes", "4987.5"),
    ("problems", "replica pg-3 unreadable"),
    ("cleanup", "removed 3 containers"),
    ("steady state", "health endpoint 503"),
    ("harness", "peak memory 42.0 MB"),
    ("host CPU", "saturated t=5.2–8.0 s (99 %)"),
    ("host disk", "stalled t=4.5–6.0 s (62 %)"),
    ("pacing slip", "max 3.2 ms over 2400 paced operations (worst: writer 2 at t=6.1 s)"),
    ("comparison", "Compared with 2 baseline runs"),
    ("undecided", "rto_ms undecided: host saturated t=5.2–8.0 s"),
    ("alerts", "PostgresDown"),
    ("phases", "RTO by phase"),
    ("restore", "Restore with pgbackrest"),
    ("shards", "5461-10922"),
    ("tables", "users (in publication main_pub): 1234 acknowledged, 0 lost"),
    ("table not replicated", "audit_log (not in publication main_pub): 1200 acknowledged, 1180 lost"),
    ("table none reached", "none of its 1180 acknowledged writes before the failover reached the DR region"),
    ("refused after the failover", "412 × 23505: duplicate key value violates unique constraint \"users_pkey\" …"),
    ("latency", "before_fault"),
    ("wan", "WAN dc1-dc2"),
    ("replica lag", "Replica lag: acknowledged heartbeat"),
    ("reads", "Reads: 4 readers from replicas"),
    ("read RTO", "650.0 ms (t=5000.0 ms to the recovery point t=5650.0 ms)"),
    ("node that stopped answering", "pg-1: 100 ok, 15 fail, 5 unknown; reads failed from t=5001.0 to t=5640.0 ms"),
    ("staleness", "p50 0.0 ms, p99 812.5 ms, max 900.0 ms; at most 360 acknowledged writes not shown"),
    ("staleness by phase", "590.0"),
    ("reads of lost writes", "3 reads showed 2 writes the final read-back does not hold"),
    ("read of a lost write", "t=4995.5 ms reader 2 on pg-1: writer 1 seq 499"),
    ("reads back in time", "largest step 5 records"),
    ("went back in time", "writer 1: seq 494 on pg-2 after seq 499 on pg-1"),
    ("replication at start", "subscriber (row) / provider (column)"),
    ("replication matrix cell", "replicating, 7 B"),
    ("multi-active sites", "By site"),
    ("multi-active site row", "710.0 (from t=290.0), to the end of the workload"),
    ("cuts with their sides", "[dc1] | [dc2]"),
    ("conflicts", "4 updates discarded in conflicts, on 3 keys"),
    ("overwritten", "9 updates overwritten in order"),
    ("lost updates", "writer 2 seq 17"),
    ("lost update proof", "writer 1 seq 5 done t=4.0 ms"),
    ("diverged keys", "keys 42 (tie)"),
    ("diverged key explained", "committed at the same instant; held: pgl-1 writer 1 seq 2 (committed 2026-11-26 07:18:33.011808+00)"),
    ("convergence after the heal", "after the heal: every node held the same keys"),
    ("engine's conflict counts", "update_update 4"),
    ("rejoins", "rejoin (gal-3)"),
    ("rejoin method", "by IST"),
    ("unread nodes", "gal-2: refused"),
    ("availability", "availability 99.99 % a month"),
    ("false pages", "1 false page: PostgresDown for pg-3 (delivered t=18.5 s; pg-3 answering the clients from t=9.6 s to t=20.3 s)"),
    ("read node back", "never back"),
    ("reads never recovered", "reads never recovered: 66 of 198 reads from t=5020.0 ms"),
    ("lost writes found", "1 of 90 acknowledged writes were lost (no target judges data loss)"),
    ("title", "pg<kill>"),
    ("primary", "pg-1 -> pg-2"),
];

/// Where each field of `Results` shows: the sections (of `SECTIONS`) whose words mark it in
/// every reporter, or why it has none. `fields()` lists the fields from the type itself.
enum Shown {
    In(&'static [&'static str]),
    Not(&'static str),
}

/// Every field of `Results` and where it shows (a field not here fails
/// `every_field_of_the_results_is_a_section_every_reporter_shows`).
const FIELDS: &[(&str, Shown)] = &[
    ("schema_version", Shown::Not("results.json's own format version, for its readers")),
    ("scenario", Shown::In(&["title"])),
    ("run_id", Shown::Not("the evidence folder's name says it")),
    ("started_at", Shown::Not("wall-clock times: the evidence folder's name and manifest.json")),
    ("finished_at", Shown::Not("wall-clock times: the evidence folder's name and manifest.json")),
    ("verdict", Shown::In(&["targets"])),
    ("rto_ms", Shown::In(&["rto"])),
    ("no_rto_because", Shown::In(&["rto"])),
    ("rto_from_ms", Shown::In(&["rto", "fault"])),
    ("rto_basis", Shown::In(&["rto"])),
    ("outage_ms", Shown::In(&["outage"])),
    ("last_ack_before_outage_ms", Shown::In(&["outage"])),
    ("outage_observed", Shown::In(&["rto"])),
    ("outage_start_ms", Shown::In(&["rto"])),
    ("recovered_at_ms", Shown::In(&["rto"])),
    ("relapses", Shown::In(&["questions"])),
    ("rpo_ms", Shown::In(&["rpo"])),
    ("rpo_recovery_point_ms", Shown::In(&["rpo"])),
    ("rpo_failure_point_ms", Shown::In(&["rpo"])),
    ("longest_gap_ms", Shown::In(&["longest gap"])),
    ("longest_gap_start_ms", Shown::In(&["longest gap"])),
    ("longest_gap_to_end", Shown::In(&["longest gap"])),
    ("total_writes", Shown::In(&["writes"])),
    ("acked_writes", Shown::In(&["writes"])),
    ("failed_writes", Shown::In(&["writes"])),
    ("unknown_writes", Shown::In(&["writes"])),
    ("acked_before_fault", Shown::Not("the baseline_writes target's actual")),
    ("lost_writes", Shown::In(&["read back", "lost writes found"])),
    ("recovered_writes", Shown::In(&["read back"])),
    ("recovered_failed_writes", Shown::In(&["read back"])),
    ("duplicate_writes", Shown::In(&["read back"])),
    ("unexpected_writes", Shown::In(&["read back"])),
    ("discarded_writes", Shown::In(&["discarded writes"])),
    ("changes", Shown::In(&["changes", "records recreated"])),
    ("records_read", Shown::In(&["read back"])),
    ("converged", Shown::In(&["convergence"])),
    ("fault_ms", Shown::In(&["fault"])),
    ("fault_applied_ms", Shown::In(&["fault"])),
    ("answered_fault", Shown::Not("an index into the events, which show the fault")),
    ("targets", Shown::In(&["targets"])),
    ("latency", Shown::In(&["latency"])),
    ("wan", Shown::In(&["wan"])),
    ("replica_lag", Shown::In(&["replica lag"])),
    ("reads", Shown::In(&["reads", "read RTO", "node that stopped answering", "read node back", "reads never recovered", "staleness"])),
    ("availability", Shown::In(&["availability"])),
    ("rpo_not_promised", Shown::In(&["questions"])),
    ("claims", Shown::In(&["claims", "claim row"])),
    ("holders", Shown::In(&["entry holder", "split brain", "split sides", "side read"])),
    ("promotions", Shown::In(&["promotion", "second primary"])),
    ("stack", Shown::In(&["primary", "replication at start"])),
    ("engine", Shown::Not("the Docker engine, in manifest.json and results.json for the record")),
    ("failover", Shown::In(&["failover", "restore"])),
    ("phases", Shown::In(&["phases"])),
    ("isolated_primary", Shown::In(&["isolated primary"])),
    ("shards", Shown::In(&["shards"])),
    ("groups", Shown::In(&["tables", "table not replicated", "table none reached"])),
    ("refused_after_failover", Shown::In(&["refused after the failover"])),
    ("multi_active", Shown::In(&["multi-active sites", "conflicts", "lost updates", "diverged keys", "rejoins"])),
    ("convergence", Shown::In(&["convergence"])),
    ("lost", Shown::In(&["lost writes"])),
    ("events", Shown::Not("report.md and report.html list them; the terminal printed each as it happened")),
    ("errors", Shown::In(&["problems"])),
    ("interrupted", Shown::In(&["interruption"])),
    ("interruption", Shown::In(&["interruption"])),
    ("alerts", Shown::In(&["alerts", "false pages"])),
    ("undecided", Shown::In(&["undecided"])),
    ("comparison", Shown::In(&["comparison"])),
    ("steady_state", Shown::In(&["steady state"])),
    ("cleanup", Shown::In(&["cleanup"])),
    ("harness", Shown::In(&["harness", "host CPU", "host disk", "pacing slip"])),
    ("questions", Shown::In(&["questions", "lost writes found", "false pages", "availability"])),
    ("services", Shown::Not("a drill of several: each service's own results, rendered by the same sections")),
];

/// Every field of `Results`, from the type: the pattern names each one and has no `..`, so
/// a field added to `Results` does not compile here until it is named.
macro_rules! fields_of {
    ($($f:ident),* $(,)?) => {
        fn fields(r: &Results) -> Vec<&'static str> {
            let Results { $($f: _),* } = r;
            vec![$(stringify!($f)),*]
        }
    };
}

fields_of!(
    schema_version,
    scenario,
    run_id,
    started_at,
    finished_at,
    verdict,
    rto_ms,
    no_rto_because,
    rto_from_ms,
    rto_basis,
    outage_ms,
    last_ack_before_outage_ms,
    outage_observed,
    outage_start_ms,
    recovered_at_ms,
    relapses,
    rpo_ms,
    rpo_recovery_point_ms,
    rpo_failure_point_ms,
    longest_gap_ms,
    longest_gap_start_ms,
    longest_gap_to_end,
    total_writes,
    acked_writes,
    failed_writes,
    unknown_writes,
    acked_before_fault,
    lost_writes,
    recovered_writes,
    recovered_failed_writes,
    duplicate_writes,
    unexpected_writes,
    discarded_writes,
    changes,
    records_read,
    converged,
    fault_ms,
    fault_applied_ms,
    answered_fault,
    targets,
    latency,
    wan,
    replica_lag,
    reads,
    availability,
    rpo_not_promised,
    claims,
    holders,
    promotions,
    stack,
    engine,
    failover,
    phases,
    isolated_primary,
    shards,
    groups,
    refused_after_failover,
    multi_active,
    convergence,
    lost,
    events,
    errors,
    interrupted,
    interruption,
    alerts,
    undecided,
    comparison,
    steady_state,
    cleanup,
    harness,
    questions,
    services,
);

/// What the table of fields lacks: fields it does not place, and sections it names that
/// `SECTIONS` does not mark.
fn unplaced(fields: &[&str], table: &[(&str, Shown)], sections: &[(&str, &str)]) -> Vec<String> {
    let mut out: Vec<String> =
        fields.iter().filter(|f| !table.iter().any(|t| t.0 == **f)).map(|f| format!("field `{f}` has no entry in FIELDS")).collect();
    for (field, shown) in table {
        match shown {
            Shown::In(names) => {
                let unmarked = names.iter().filter(|n| !sections.iter().any(|s| s.0 == **n));
                out.extend(unmarked.map(|n| format!("field `{field}`: no section `{n}` in SECTIONS")));
            }
            Shown::Not(why) if why.trim().is_empty() => out.push(format!("field `{field}` shows nowhere and says not why")),
            Shown::Not(_) => {}
        }
    }
    out
}

/// A multi-active report with every part: two sites, a cut, conflicts, a lost update, a
/// diverged key, the engine's counts, a rejoin by IST, an unread node.
fn mesh() -> MultiActiveReport {
    let lost = LostUpdate {
        key: 7,
        value: update_value(2, 17),
        site: "dc2".into(),
        invoked_ms: 5.0,
        survivor: update_value(1, 5),
        survivor_site: "dc1".into(),
        survivor_completed_ms: 4.0,
    };
    let gap = SiteWrites { acked: 40, failed: 2, unknown: 1, longest_without_ack_ms: 710.0, longest_from_ms: 290.0, longest_to_end: true };
    MultiActiveReport {
        updates: UpdatesReport {
            acked_updates: 30,
            conflict_keys: 3,
            conflicts: 4,
            overwritten: 9,
            lost_updates: vec![lost],
            diverged_keys: vec![super::tests_support::tie_key(42)],
            unaccounted: 0,
        },
        sites: [("dc1".to_string(), SiteWrites::default()), ("dc2".to_string(), gap)].into(),
        engine: [("pgl-1".to_string(), [("update_update".to_string(), 4)].into())].into(),
        cuts: vec![CutReport { from_ms: 1000.0, to_ms: 3000.0, sides: vec![vec!["dc1".into()], vec!["dc2".into()]] }],
        unread: vec!["gal-2: refused".into()],
        converged_after_heal_ms: Some(850.0),
        agreement_waited_ms: Some(900.0),
        agreement_started_ms: Some(3100.0),
        rejoins: vec![Rejoin {
            node: "gal-3".into(),
            left_ms: 1200.0,
            synced_ms: Some(4000.0),
            after_heal_ms: Some(1000.0),
            states: vec!["Initialized, non-Primary".into()],
            method: Some("IST".into()),
        }],
    }
}

/// The sections built from JSON, as results.json holds them.
fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("a section of results.json")
}

/// The parts a files stack adds: the VIP's holders and a split brain, the claims, the
/// rewrites and deletes.
fn with_files_parts(r: &mut Results) {
    r.holders = Some(from_json(json!({"entry": "the VIP 10.0.0.250",
        "changes": [{"at_ms": 9000.0, "node": "files-2", "holds": true, "detail": "Keepalived on files-2: Entering MASTER STATE"}],
        "splits": [{"from_ms": 9000.0, "to_ms": 20000.0, "duration_ms": 11000.0, "nodes": ["files-1", "files-2"],
            "acked": {"files-1": 3, "files-2": 210}, "lost": {"files-2": 210}}],
        "final_holders": ["files-1"],
        "sides": [{"node": "files-1", "records": 548, "split_writes": {"files-1": 3}}]})));
    r.promotions = Some(from_json(json!({"nodes_recorded": true, "promotions": [{"at_ms": 7000.0, "old": "files-1", "new": "files-2",
        "by": "orchestrator", "detail": "Entering MASTER STATE", "old_acked": 12, "old_lost": 5, "old_first_ack_ms": 7100.0,
        "old_last_ack_ms": 9000.0, "new_acked": 4, "new_lost": 0}]})));
    r.claims = [("rto_ms".to_string(), "RTO < 30 s (the runbook)".to_string())].into();
    r.changes = Some(crate::checker::ChangesJudged {
        rewrites_acked: 7,
        deletes_acked: 5,
        rewrites_lost: 1,
        deletes_undone: 2,
        deleted_absent: 3,
        recreated: 4,
    });
}

/// `sample()` with every optional section filled in.
fn everything() -> Results {
    let mut r = sample();
    r.interruption = Some(Interruption { signal: "SIGTERM".into(), phase: "reading back".into(), at_ms: Some(6000.0) });
    r.discarded_writes = Some(3);
    with_files_parts(&mut r);
    r.failover = Some(from_json(json!({"started_ms": 5100.0, "done_ms": 5240.0, "old_primary": "pg-1", "new_primary": "pg-2",
        "candidates": [], "repointed": ["pg-3"], "rejoined": null, "error": null, "answered_fault": 0,
        "restore": {"tool": "pgbackrest", "backup": "full-1", "node": "pg-4", "fetched": "", "replayed": "", "allowed_loss_ms": 0, "allowed_by": "archive_timeout"}})));
    r.convergence = Some(from_json(json!({"converged": true, "waited_ms": 1500.0, "nodes": [], "excluded": ["pg-1"]})));
    r.isolated_primary = Some(IsolatedPrimary {
        node: "pg-1".into(),
        isolated_by_fault: 0,
        read_started_ms: 5010.0,
        records: Some(80),
        lost_found_here: Some(1),
        lost_acked_after_read: Some(0),
        error: None,
    });
    r.errors = vec!["replica pg-3 unreadable".into()];
    r.cleanup = Some("removed 3 containers".into());
    r.steady_state = Some(from_json(json!({"before": [], "after": [{"probe": "health", "ok": false, "detail": "health endpoint 503"}]})));
    r.harness = Some(from_json(json!({"workload_s": 20.0, "workload_cpu_ms": 900.0, "writes_per_s": 50.0, "peak_rss_mb": 42.0,
        "stack": {"containers": 3, "cpu_s": 12.0},
        "host": {"cores": 2, "interval_ms": 250.0, "samples": 80, "busy_p50": 0.41, "busy_max": 1.0,
            "saturated": [{"from_ms": 5200.0, "to_ms": 8000.0, "busy": 0.99}],
            "disk": {"stall_p50": 0.05, "stall_max": 0.7, "stalled": [{"from_ms": 4500.0, "to_ms": 6000.0, "share": 0.62}]}},
        "slip": {"ops": 2400, "p50_ms": 0.4, "p99_ms": 1.1, "max_ms": 3.2, "worst_at_ms": 6100.0, "worst_client": "writer 2"}})));
    r.undecided = vec![from_json(json!({"target": "rto_ms", "window": "RTO window", "from_ms": 1000.0, "to_ms": 1250.0,
        "disturbed": [{"what": "host saturated", "from_ms": 5200.0, "to_ms": 8000.0, "measured": "every core 99 % busy on average"}]}))];
    r.comparison = Some(Comparison { baseline_runs: vec!["a".into(), "b".into()], checks: Vec::new() });
    r.alerts = Some(from_json(json!({"rules_file": "rules.yml", "rules": [{"alert": "PostgresDown"}]})));
    r.questions = Some(Questions::default());
    r.phases = Some(crate::checker::Phases { orchestrator: "Patroni".into(), ..Default::default() });
    r.shards = Some(from_json(json!({"shards": [{"shard": "shard-2", "slots": "5461-10922", "share": 0.33, "primary": "rc-2",
        "acked": 1, "failed": 0, "unknown": 0, "lost": 0, "rpo_ms": 0.0, "outage_ms": null, "outage_start_ms": null,
        "recovered_at_ms": null, "hit": false, "rto_ms": null}], "bucket_ms": 100, "writable": [], "whole_down": [], "whole_down_ms": 0.0})));
    r.groups = Some(from_json(json!({"what": "table", "failover_done_ms": 5240.0, "groups": [
        {"name": "users", "replicated": true, "how": "in publication main_pub", "acked": 1234, "failed": 0, "unknown": 0,
         "lost": 0, "rpo_ms": 0.0, "acked_before_failover": 1000, "lost_before_failover": 0, "none_reached": false},
        {"name": "audit_log", "replicated": false, "how": "not in publication main_pub", "acked": 1200, "failed": 0, "unknown": 0,
         "lost": 1180, "rpo_ms": 5230.2, "acked_before_failover": 1180, "lost_before_failover": 1180, "none_reached": true}]})));
    r.refused_after_failover = Some(from_json(json!({"failover_done_ms": 5240.0, "done_by": "failover-done", "refused": 412,
        "causes": [{"cause": "23505: duplicate key value violates unique constraint \"users_pkey\"",
            "example": "23505: duplicate key value violates unique constraint \"users_pkey\" (Key (id)=(7) already exists.)",
            "count": 412, "first_ms": 5301.2, "last_ms": 9800.0, "nodes": ["pg-dr-1"]}]})));
    r.multi_active = Some(mesh());
    r.wan = vec![from_json(json!({"between": ["dc1", "dc2"], "latency_ms": 30}))];
    r.replica_lag = Some(from_json(json!({"heartbeat_ms": 100, "poll_ms": 10, "engine_every_ms": 500, "reported_as": "replay_lag",
        "heartbeats_acked": 10, "heartbeats_failed": 0, "resolution_p50_ms": 5.0, "resolution_max_ms": 5.0, "replicas": []})));
    r.reads = Some(reads());
    with_judged_parts(&mut r);
    r.stack.replication_at_start = ["pgl-1 <- pgl-2", "pgl-2 <- pgl-1"]
        .iter()
        .map(|n| crate::stack::ReplicaHealth { node: n.to_string(), state: "replicating".into(), lag_bytes: 7 })
        .collect();
    r.questions = Some(crate::checker::answer_questions(&r, &[]));
    r
}

/// The parts the questions judge: an availability budget, a false page, lost writes no
/// target judges (the rpo_ms target dropped).
fn with_judged_parts(r: &mut Results) {
    r.availability = Some(from_json(json!({"percent": 99.99, "per": "month", "budget_ms": 262800.0, "write_outage_ms": 252.0,
        "outage_ms": 252.0, "open_ended": false, "used_percent": 0.1, "fit_per_period": 1042})));
    r.targets.retain(|t| t.target != crate::checker::Target::RpoMs);
    r.targets.push(crate::checker::TargetResult {
        target: "availability".into(),
        limit: Some(262800.0),
        actual: Some(252.0),
        verdict: crate::checker::Verdict::Pass,
        note: String::new(),
    });
    let alerts = r.alerts.as_mut().expect("alerts first");
    alerts.false_pages = vec![from_json(json!({"alert": "PostgresDown", "instance": "pg-3", "fired_ms": 17000.0, "notified_ms": 18500.0,
        "answered_from_ms": 9600.0, "answered_to_ms": 20300.0, "acks": 500, "max_gap_ms": 20.0}))];
}

/// Readers that stopped on pg-1, read a lost write and went back in time.
fn reads() -> crate::checker::ReadsReport {
    from_json(json!({"readers": 4, "from": "replicas", "total": 400, "ok": 380, "fail": 15, "unknown": 5,
        "rto": {"basis": "fault", "outage_ms": 700.0, "last_ack_before_outage_ms": 4990.0, "rto_ms": 650.0, "outage_observed": true,
            "recovered_at_ms": 5650.0, "outage_start_ms": 5001.0, "relapses": 0, "from_ms": 5000.0, "fault_requested_ms": 5000.0,
            "longest_gap_ms": 710.0, "longest_gap_start_ms": 4990.0},
        "nodes": [{"node": "pg-1", "ok": 100, "fail": 15, "unknown": 5, "failed_from_ms": 5001.0, "failed_to_ms": 5640.0},
            {"node": "pg-3", "ok": 50, "fail": 66, "unknown": 0, "failed_from_ms": 5020.0, "failed_to_ms": 7990.0}],
        "unrecovered": {"from_ms": 5020.0, "to_ms": 8000.0, "reads": 198, "not_ok": 66, "nodes": ["pg-3"]},
        "staleness": {"reads": 380, "fresh": 300, "p50_ms": 0.0, "p99_ms": 812.5, "max_ms": 900.0, "max_writes": 360},
        "staleness_by_phase": [{"phase": "during_fault", "from_ms": 5000.0, "to_ms": 5600.0, "reads": 80, "fresh": 0, "p50_ms": 300.0,
            "p99_ms": 590.0, "max_ms": 600.0, "max_writes": 240}],
        "latency": [], "of_lost_writes": {"reads": 3, "distinct_writes": 2,
            "first": [{"at_ms": 4995.5, "reader": 2, "node": "pg-1", "writer": 1, "seq": 499}]},
        "back_in_time": {"reads": 2, "largest_step": 5, "first": [{"at_ms": 5700.0, "reader": 2, "writer": 1, "before_seq": 499,
            "before_node": "pg-1", "after_seq": 494, "after_node": "pg-2"}]}}))
}

/// What an auditor reads of report.html: its text with the entities minijinja wrote undone.
fn html_text(r: &Results) -> String {
    let html = super::html::report_html(r, &["<svg></svg>".to_string()], "name: x\n");
    assert!(!html.contains("failed to render"), "{html}");
    html.replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// Each reporter's output, by name.
fn rendered(r: &Results) -> [(&'static str, String); 3] {
    [("terminal", scorecard(r)), ("report.md", markdown(r)), ("report.html", html_text(r))]
}

#[test]
fn every_reporter_renders_every_section() {
    let r = everything();
    let mut missing = Vec::new();
    for (reporter, text) in rendered(&r) {
        for (section, marker) in SECTIONS {
            if !text.contains(marker) {
                missing.push(format!("{reporter} lacks the section `{section}` (looked for {marker:?})"));
            }
        }
    }
    for (reporter, text) in &rendered(&r)[1..] {
        if !text.contains("kill pg-1") {
            missing.push(format!("{reporter} lacks the section `events` (looked for \"kill pg-1\")"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_field_of_the_results_is_a_section_every_reporter_shows() {
    let r = everything();
    assert_eq!(unplaced(&fields(&r), FIELDS, SECTIONS), Vec::<String>::new());
    // every field in the table is a field of the type (no stale entry)
    let names = fields(&r);
    assert!(FIELDS.iter().all(|f| names.contains(&f.0)), "FIELDS names a field `Results` no longer has");
    // planted: a section added without its entry, and an entry naming an unmarked section
    let mut planted = names.clone();
    planted.push("tuning_curve");
    let curve = [("tuning_curve", Shown::In(&["tuning curve"]))];
    assert_eq!(unplaced(&planted, FIELDS, SECTIONS), ["field `tuning_curve` has no entry in FIELDS"]);
    assert_eq!(unplaced(&[], &curve, SECTIONS), ["field `tuning_curve`: no section `tuning curve` in SECTIONS"]);
    assert_eq!(unplaced(&[], &[("tuning_curve", Shown::Not(""))], SECTIONS), ["field `tuning_curve` shows nowhere and says not why"]);
}

#[test]
fn a_multi_active_stack_shows_each_site_and_no_single_primary_or_unknown_outage() {
    let mut r = Results { multi_active: Some(mesh()), outage_ms: None, outage_observed: false, ..sample() };
    r.stack.initial_primary = "pgl-1".into();
    r.stack.final_primary = "pgl-1".into();
    for (reporter, text) in rendered(&r) {
        assert!(!text.contains("pgl-1 -> pgl-1") && !text.contains("pgl-1 → pgl-1"), "{reporter} shows a single primary:\n{text}");
        assert!(!text.contains("outage (clients)") && !text.contains("unknown ms"), "{reporter} shows the whole service's outage:\n{text}");
        assert!(text.contains("site dc2") && text.contains("longest without an acknowledgement 710.0 ms"), "{reporter}:\n{text}");
    }
}

#[test]
fn no_reporter_writes_unknown_ms_when_every_figure_is_missing() {
    let none = Results {
        rto_ms: None,
        outage_ms: None,
        outage_observed: true,
        last_ack_before_outage_ms: None,
        outage_start_ms: None,
        recovered_at_ms: None,
        rpo_ms: None,
        rpo_recovery_point_ms: None,
        rpo_failure_point_ms: None,
        lost_writes: None,
        recovered_writes: None,
        duplicate_writes: None,
        unexpected_writes: None,
        records_read: None,
        fault_applied_ms: None,
        targets: sample().targets.into_iter().map(|t| crate::checker::TargetResult { limit: None, actual: None, ..t }).collect(),
        ..everything()
    };
    let mut multi = none.clone();
    multi.multi_active.as_mut().unwrap().converged_after_heal_ms = None;
    multi.multi_active.as_mut().unwrap().agreement_waited_ms = None;
    for r in [none, Results { multi_active: None, shards: None, ..multi.clone() }, multi] {
        for (reporter, text) in rendered(&r) {
            assert!(!text.contains("unknown ms"), "{reporter} writes \"unknown ms\":\n{text}");
            assert!(!text.contains("t=- ms") && !text.contains("(unknown)"), "{reporter} leaves a figure unexplained:\n{text}");
        }
    }
}
