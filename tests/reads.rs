//! The read path drilled (`workload.readers`), in real containers: readers on the
//! replicas keep reading while the primary is killed; readers on an async primary that
//! dies ahead of its replica read writes the failover loses, and go back in time; the
//! calibration. The counts are re-derived from history.jsonl.zst and our own read of the
//! survivors (`reads_checks`). Seed 001's split under Patroni and readers through Sentinel
//! run in the slow group (tests/seed_settings.rs), with the seed's settings.
use crate::common;
use crate::reads_checks;

use common::*;
use reads_checks::{back_in_time, ok_reads, reads_of_lost};

#[test]
fn readers_on_the_replicas_keep_reading_while_the_primary_is_killed_and_read_nothing_that_is_lost() {
    let c = drill_cross_checked("scenarios/reads-replicas-primary-kill.yaml", read_postgres, &[]);
    let r = &c.d.results;
    assert_eq!(c.d.code, 0, "{}", c.d.stdout);
    let x = &r["reads"];
    assert_eq!(x["from"], "replicas");
    let total = x["total"].as_u64().unwrap();
    // 4 readers at 50/s for the drill's ~11 s of workload
    assert!(total > 1000, "{x}");
    // the replicas were never down: the reads' RTO stays below the writes'
    let (read_rto, write_rto) = (x["rto"]["rto_ms"].as_f64().unwrap(), r["rto_ms"].as_f64().unwrap());
    assert!(read_rto < write_rto, "reads {read_rto} ms, writes {write_rto} ms");
    let nodes: Vec<&str> = x["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["pg-2", "pg-3"], "{x}");
    // most-advanced promoted and readers on replicas: nobody read what is gone
    let reads = ok_reads(&c.d);
    assert_eq!(reads.len() as u64, x["ok"].as_u64().unwrap());
    assert_eq!(reads_of_lost(&reads, &c.survivors), (0, 0));
    assert_eq!(x["of_lost_writes"]["reads"], 0, "{x}");
    assert_eq!((x["back_in_time"]["reads"].as_u64().unwrap(), x["back_in_time"]["largest_step"].as_u64().unwrap()), back_in_time(&reads));
    // the staleness by phase is on the writes' phases
    let phases: Vec<&str> = x["staleness_by_phase"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(phases.first(), Some(&"before_fault"), "{phases:?}");
    assert!(c.d.stdout.contains("Reads: 4 readers from replicas"), "{}", c.d.stdout);
    reads_checks::availability_row(&c.d);
}

#[test]
fn readers_on_an_async_primary_read_writes_the_failover_loses_and_the_drill_fails_on_them() {
    let c = drill_cross_checked("scenarios/reads-lost-writes.yaml", read_postgres, &[]);
    let r = &c.d.results;
    // fails on purpose: max_reads_of_lost_writes: 0
    assert_eq!(c.d.code, 1, "{}", c.d.stdout);
    let t = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "max_reads_of_lost_writes").unwrap();
    assert_eq!(t["verdict"], "fail", "{t}");
    let x = &r["reads"];
    let reads = ok_reads(&c.d);
    let (n, distinct) = reads_of_lost(&reads, &c.survivors);
    assert!(n > 0, "no read of a lost write: {x}");
    assert_eq!(
        (x["of_lost_writes"]["reads"].as_u64().unwrap(), x["of_lost_writes"]["distinct_writes"].as_u64().unwrap()),
        (n, distinct as u64)
    );
    // each on the old primary, before it died, of a write it acknowledged in those 2 s
    let first = &x["of_lost_writes"]["first"][0];
    assert_eq!(first["node"], "pg-1", "{first}");
    let (b, step) = back_in_time(&reads);
    assert!(b > 0, "no read went back in time: {x}");
    assert_eq!((x["back_in_time"]["reads"].as_u64().unwrap(), x["back_in_time"]["largest_step"].as_u64().unwrap()), (b, step));
    assert_eq!(x["back_in_time"]["first"][0]["after_node"], "pg-2");
    // the readers followed the clients: their reads stopped with the primary and came back
    // on pg-2 after the failover
    assert!(x["rto"]["outage_observed"].as_bool().unwrap(), "{x}");
    let findings = r["questions"]["unexpected"]["findings"].as_array().unwrap();
    for kind in ["reads_of_lost_writes", "reads_back_in_time"] {
        assert!(findings.iter().any(|f| f["kind"] == kind), "no {kind} finding: {findings:?}");
    }
    assert!(c.d.stdout.contains("read of a lost write t="), "{}", c.d.stdout);
    // report.html's timeline has the readers' lane under the writes
    let svg = std::fs::read_to_string(c.d.dir.join("timeline.svg")).unwrap();
    assert!(svg.contains("reads per 100 ms by outcome; staleness of the successful reads"), "no reads lane");
}

#[test]
fn calibration_reads_staleness_and_read_rto_match_a_known_delay_and_a_known_outage() {
    let d = run_drill("scenarios/calibration-reads.yaml", &[]);
    assert_eq!(d.code, 0, "{}", d.stdout);
    let x = &d.results["reads"];
    // the replica applies 200 ms late; a writer writes every 10 ms: the oldest write a
    // read misses was acknowledged between 190 and 200 ms before it
    let p50 = x["staleness"]["p50_ms"].as_f64().unwrap();
    assert!((185.0..=205.0).contains(&p50), "staleness p50 {p50} ms for a 200 ms apply delay: {x}");
    assert!(x["staleness"]["max_ms"].as_f64().unwrap() < 260.0, "{x}");
    // the readers' path was down for 2000 ms
    let rto = x["rto"]["rto_ms"].as_f64().unwrap();
    assert!((rto - 2000.0).abs() <= 50.0, "read RTO {rto} ms for a 2000 ms outage: {x}");
    // the writers, on the primary, never saw it
    assert_eq!(d.results["outage_observed"], false, "{}", d.stdout);
}

#[test]
fn readers_in_the_dr_site_lose_the_replica_across_the_cut_and_read_on_stale_from_their_own() {
    let c = drill_cross_checked("scenarios/reads-dr-site.yaml", read_postgres, &[]);
    let r = &c.d.results;
    assert_eq!(c.d.code, 0, "{}", c.d.stdout);
    // the writers stand in dc1 with the primary: the cut never reaches them
    assert_eq!(r["rto_ms"].as_f64().unwrap(), 0.0, "{}", c.d.stdout);
    let x = &r["reads"];
    let node = |n: &str| x["nodes"].as_array().unwrap().iter().find(|v| v["node"] == n).cloned().unwrap();
    let (far, near) = (node("pg-2"), node("pg-3"));
    // pg-2 is across the cut from the readers in dc2: its reads fail from the cut (t=4 s)
    // to the heal (t=12 s); pg-3, their own site's, answers throughout
    let (from, to) = (far["failed_from_ms"].as_f64().unwrap(), far["failed_to_ms"].as_f64().unwrap());
    assert!((3000.0..4700.0).contains(&from) && (10_500.0..12_700.0).contains(&to), "{far}");
    assert_eq!((near["fail"].as_u64(), near["unknown"].as_u64()), (Some(0), Some(0)), "{near}");
    let rto = x["rto"]["rto_ms"].as_f64().unwrap();
    assert!((7500.0..10_000.0).contains(&rto), "read RTO {rto} ms for an 8 s cut: {x}");
    // what pg-3 served during the cut stopped at the cut: it grew stale by seconds
    let phase = |p: &str| x["staleness_by_phase"].as_array().unwrap().iter().find(|v| v["phase"] == p).cloned().unwrap();
    let cut = phase("during_fault");
    assert!(cut["reads"].as_u64().unwrap() > 0 && cut["max_ms"].as_f64().unwrap() > 5000.0, "{cut}");
    // before the cut half the reads crossed the WAN (30 ms round trip) to pg-2
    let lat = x["latency"].as_array().unwrap().iter().find(|v| v["phase"] == "before_fault").cloned().unwrap();
    assert!(lat["p95_ms"].as_f64().unwrap() >= 28.0, "{lat}");
    // the counts re-derived from the history and the survivors
    let reads = ok_reads(&c.d);
    assert_eq!(reads_of_lost(&reads, &c.survivors), (0, 0));
    assert_eq!((x["back_in_time"]["reads"].as_u64().unwrap(), x["back_in_time"]["largest_step"].as_u64().unwrap()), back_in_time(&reads));
}

/// Every read in the history: (invoke ms, outcome, node).
fn all_reads(d: &Drill) -> Vec<(f64, String, String)> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "read")
        .map(|v| (v["invoke_ns"].as_f64().unwrap() / 1e6, v["outcome"].as_str().unwrap().into(), v["node"].as_str().unwrap_or("?").into()))
        .collect()
}

#[test]
fn a_static_pool_that_keeps_the_dead_primary_never_recovers_and_its_read_rto_is_not_the_earlier_blip() {
    let d = run_drill("scenarios/reads-dead-pool-member.yaml", &[]);
    // fails on purpose: read_rto_ms
    assert_eq!(d.code, 1, "{}", d.stdout);
    let (r, x) = (&d.results, &d.results["reads"]);
    let kill_ms = r["fault_ms"].as_f64().unwrap();
    assert!(kill_ms >= 5900.0, "the writes' RTO answers the kill at 6 s, not the pause at 2 s: {kill_ms}");
    // counted from the outage the kill caused, never from the pause's blip 4 s before
    let rto = &x["rto"];
    assert!(rto["rto_ms"].is_null(), "reads never recovered: {rto}");
    let from = rto["from_ms"].as_f64().unwrap();
    assert!(from >= kill_ms, "read RTO counted from t={from} ms, before the kill at {kill_ms} ms: {rto}");
    assert!(["fault", "reads_outage"].contains(&rto["basis"].as_str().unwrap()), "{rto}");
    // the pool's dead member failed about a third of the reads to the end, recounted
    let u = &x["unrecovered"];
    assert_eq!(u["nodes"], serde_json::json!(["pg-1"]), "{u}");
    let stop = u["to_ms"].as_f64().unwrap();
    let reads = all_reads(&d);
    let after: Vec<_> = reads.iter().filter(|x| x.0 >= from && x.0 < stop).collect();
    let not_ok = after.iter().filter(|x| x.1 != "ok").count() as u64;
    assert_eq!((u["reads"].as_u64().unwrap(), u["not_ok"].as_u64().unwrap()), (after.len() as u64, not_ok), "{u}");
    let share = not_ok as f64 / after.len() as f64;
    assert!((0.25..0.45).contains(&share), "{not_ok} of {} reads failed after the kill: {u}", after.len());
    assert!(after.iter().filter(|x| x.2 == "pg-1" && x.0 > kill_ms + 1000.0).all(|x| x.1 != "ok"), "pg-1 answered after the kill");
    let node = |n: &str| x["nodes"].as_array().unwrap().iter().find(|v| v["node"] == n).cloned().unwrap();
    assert!(node("pg-1")["back_at_ms"].is_null() && node("pg-1")["failed_from_ms"].as_f64().unwrap() >= kill_ms, "{}", node("pg-1"));
    // the target fails and says why, in results.json and on the scorecard
    let t = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "read_rto_ms").unwrap();
    assert_eq!(t["verdict"], "fail", "{t}");
    let note = t["note"].as_str().unwrap();
    assert!(note.contains("reads never recovered") && note.contains("on pg-1 to the end"), "{note}");
    assert!(d.stdout.contains("pg-1 to the end"), "{}", d.stdout);
}
