//! A DR region fed by PostgreSQL's built-in logical replication, for real
//! (docs/logical-dr.md): the primary region isolated and the runbook run on the DR node,
//! with and without its sequence step; a table left out of the publication; a column added
//! on the primary mid-drill. Each outcome is checked against the history and our own read
//! of both regions (the DR node, and the isolated primary, still running), and nothing of
//! the drill may remain.
use crate::common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every workload row of each table on a node (the initial rows, writer -1, left out).
fn read_tables(port: u16, tables: &[&str]) -> BTreeMap<String, BTreeSet<(u64, u64)>> {
    block_on(async {
        let (client, conn) =
            tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user=postgres dbname=drdrill"), tokio_postgres::NoTls)
                .await
                .expect("connect");
        tokio::spawn(conn);
        let mut out = BTreeMap::new();
        for t in tables {
            let rows = client.query(&format!("SELECT writer::bigint, seq FROM {t} WHERE writer >= 0"), &[]).await.unwrap();
            out.insert(t.to_string(), rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)).collect());
        }
        out
    })
}

/// The workload's ops, from the history: (writer, seq, invoke ms, outcome, node, error).
fn ops(dir: &std::path::Path) -> Vec<Value> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(dir)).unwrap();
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "op").collect()
}

/// When fault `i` took effect (its `applied_ns`, else its request), in ms on the drill clock.
fn fault_applied_ms(dir: &std::path::Path, i: u64) -> f64 {
    let text = drdrill::history::read_text(&drdrill::history::path_in(dir)).unwrap();
    let e = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "event" && v["kind"] == "fault-inject" && v["fault"] == i)
        .unwrap_or_else(|| panic!("no fault-inject for fault {i}"));
    e["applied_ns"].as_f64().or_else(|| e["t_ns"].as_f64()).unwrap() / 1e6
}

/// When the failover was done (ms on the drill clock).
fn failover_done_ms(r: &Value) -> f64 {
    r["failover"]["done_ms"].as_f64().unwrap_or_else(|| panic!("no failover done: {}", r["failover"]))
}

/// A drill kept, both regions read with our own client, then collected: nothing remains.
struct Read {
    d: Drill,
    dr: BTreeMap<String, BTreeSet<(u64, u64)>>,
    primary: BTreeMap<String, BTreeSet<(u64, u64)>>,
}

fn drill_read(scenario: &str, tables: &[&str]) -> Read {
    let d = run_drill(scenario, &["--keep"]);
    let r = &d.results;
    assert_eq!(r["stack"]["final_primary"], "pg-3", "the DR node must take the writes");
    let dr = read_tables(host_port(r, "pg-3"), tables);
    let primary = read_tables(host_port(r, "pg-1"), tables);
    let run = run_id(r);
    let out = drdrill(&["gc", "--run", &run]);
    assert!(out.status.success(), "gc failed: {}", String::from_utf8_lossy(&out.stderr));
    let ((c, n), v) = (labelled(Some(&run)), labelled_volumes(&run));
    assert!(c.is_empty() && n.is_empty() && v.is_empty(), "left behind: {c:?} {n:?} {v:?}");
    Read { d, dr, primary }
}

impl Read {
    /// Every record on the DR node; drdrill's lost list and RPO must match it.
    fn survivors(&self) -> BTreeSet<(u64, u64)> {
        self.dr.values().flatten().copied().collect()
    }
    /// The acknowledged writes before the failover, all on the old primary (it kept them).
    fn assert_primary_kept_what_it_acknowledged(&self) {
        let done = failover_done_ms(&self.d.results);
        let on_primary: BTreeSet<(u64, u64)> = self.primary.values().flatten().copied().collect();
        let acked_before: Vec<(u64, u64)> =
            ack_times(&self.d.dir).into_iter().filter(|(_, (_, ack))| *ack < done).map(|(k, _)| k).collect();
        let missing = acked_before.iter().filter(|k| !on_primary.contains(k)).count();
        assert_eq!(missing, 0, "{missing} of {} writes acknowledged before the failover are not on pg-1", acked_before.len());
    }
}

/// Refused writes (an error reply) invoked after the failover was done, by error.
fn refused_after(d: &Drill) -> BTreeMap<String, usize> {
    let done = failover_done_ms(&d.results);
    let mut by = BTreeMap::new();
    for o in ops(&d.dir).iter().filter(|o| o["outcome"] == "fail" && o["invoke_ns"].as_f64().unwrap() / 1e6 > done) {
        let e = o["error"].as_str().unwrap_or("").to_string();
        if e.starts_with("23") || e.starts_with("42") || e.starts_with("25") {
            *by.entry(e).or_insert(0) += 1;
        }
    }
    by
}

#[test]
fn a_region_lost_with_the_runbooks_sequence_step_refuses_nothing_and_loses_only_the_apply_lag() {
    let tables = ["users", "ai_models", "model_configs"];
    let x = drill_read("scenarios/logical-dr-region-failure.yaml", &tables);
    let r = &x.d.results;
    let lost = cross_check_lost(&x.d, &x.survivors());
    x.assert_primary_kept_what_it_acknowledged();
    assert!(refused_after(&x.d).is_empty(), "writes refused after the failover: {:?}", refused_after(&x.d));
    assert_eq!(r["refused_after_failover"]["refused"], 0, "{}", r["refused_after_failover"]);
    for g in r["groups"]["groups"].as_array().expect("a group per table") {
        assert_eq!(g["replicated"], true, "{g}");
    }
    // what was lost never crossed the WAN before the cut: acknowledged within the apply lag
    // of the isolation (a few round trips), never earlier
    let fault = r["fault_ms"].as_f64().unwrap();
    let acks = ack_times(&x.d.dir);
    for k in &lost {
        assert!(acks[k].1 > fault - 1_000.0, "{k:?} acknowledged at {} ms, long before the cut at {fault} ms", acks[k].1);
    }
    assert_eq!(x.d.code, 0, "the runbook with its sequence step must meet the targets");
}

#[test]
fn without_the_sequence_step_the_dr_region_refuses_inserts_with_a_duplicate_key_naming_the_sequence() {
    let tables = ["users", "ai_models", "model_configs"];
    let x = drill_read("scenarios/logical-dr-sequences-forgotten.yaml", &tables);
    cross_check_lost(&x.d, &x.survivors());
    let refused = refused_after(&x.d);
    let reported = &x.d.results["refused_after_failover"];
    for t in tables {
        let dup =
            refused.iter().filter(|(e, _)| e.starts_with("23505") && e.contains(&format!("{t}_id_seq"))).map(|(_, n)| n).sum::<usize>();
        assert!(dup > 0, "no duplicate key naming {t}_id_seq after the failover: {refused:?}");
        // drdrill's count of the cause, its text naming the sequence, equals ours
        let cause = reported["causes"].as_array().unwrap().iter().find(|c| c["cause"].as_str().unwrap().contains(&format!("{t}_id_seq")));
        let cause = cause.unwrap_or_else(|| panic!("no cause naming {t}_id_seq: {reported}"));
        assert_eq!(cause["count"].as_u64().unwrap() as usize, dup, "{cause}");
    }
    assert_eq!(reported["refused"].as_u64().unwrap() as usize, refused.values().sum::<usize>(), "{reported}");
    assert!(x.d.stdout.contains("users_id_seq is behind the rows logical replication copied"), "the scorecard names the sequence");
    assert_eq!(x.d.code, 1, "refusals after the failover miss the target: the drill fails on purpose");
}

#[test]
fn a_table_left_out_of_the_publication_loses_every_write_acknowledged_before_the_failover() {
    let x = drill_read("scenarios/logical-dr-unpublished-table.yaml", &["users", "audit_log"]);
    let lost = cross_check_lost(&x.d, &x.survivors());
    let done = failover_done_ms(&x.d.results);
    let acks = ack_times(&x.d.dir);
    // record (writer, seq) goes to table seq mod 2: audit_log holds the odd ones
    let audit_before: BTreeSet<(u64, u64)> = acks.iter().filter(|(k, (_, a))| k.1 % 2 == 1 && *a < done).map(|(k, _)| *k).collect();
    assert!(!audit_before.is_empty());
    assert!(audit_before.iter().all(|k| lost.contains(k)), "an audit_log write acknowledged before the failover reached the DR region");
    assert!(x.dr["audit_log"].iter().all(|k| !audit_before.contains(k)));
    let users_lost = lost.iter().filter(|k| k.1 % 2 == 0).count();
    assert!(users_lost * 10 < audit_before.len(), "users lost {users_lost}: more than the apply lag's share");
    x.assert_primary_kept_what_it_acknowledged();
    // the report names the table that never reached the DR region
    let groups = x.d.results["groups"]["groups"].as_array().expect("a group per table").clone();
    let audit = groups.iter().find(|g| g["name"] == "audit_log").expect("audit_log");
    assert_eq!((audit["replicated"].as_bool(), audit["none_reached"].as_bool()), (Some(false), Some(true)), "{audit}");
    let audit_lost = lost.iter().filter(|k| k.1 % 2 == 1).count();
    assert_eq!(audit["lost"].as_u64().unwrap() as usize, audit_lost, "{audit}");
    let users = groups.iter().find(|g| g["name"] == "users").expect("users");
    assert_eq!(users["lost"].as_u64().unwrap() as usize, users_lost, "{users}");
    assert!(x.d.stdout.contains("audit_log (not in publication main_pub)"), "the scorecard names the table");
    assert_eq!(x.d.code, 1, "the unpublished table's loss misses the RPO target: the drill fails on purpose");
}

#[test]
fn a_column_added_on_the_primary_stops_the_apply_and_the_region_failure_loses_everything_since() {
    let tables = ["users", "ai_models", "model_configs"];
    let x = drill_read("scenarios/logical-dr-ddl-drift.yaml", &tables);
    let lost = cross_check_lost(&x.d, &x.survivors());
    x.assert_primary_kept_what_it_acknowledged();
    let (ddl, cut) = (fault_applied_ms(&x.d.dir, 0), fault_applied_ms(&x.d.dir, 1));
    let acks = ack_times(&x.d.dir);
    // every table stops with the apply: whatever was acknowledged a second past the DDL and
    // before the cut never reached the DR region
    let between: BTreeSet<(u64, u64)> = acks.iter().filter(|(_, (_, a))| *a > ddl + 1_000.0 && *a < cut).map(|(k, _)| *k).collect();
    assert!(between.len() > 100, "too few writes between the DDL and the cut: {}", between.len());
    let reached: Vec<&(u64, u64)> = between.iter().filter(|k| !lost.contains(k)).collect();
    assert!(
        reached.is_empty(),
        "{} writes acknowledged after the DDL reached the DR region: {:?}",
        reached.len(),
        &reached[..reached.len().min(5)]
    );
    assert!(x.dr["users"].len() < x.primary["users"].len(), "the DR node's users table kept up");
    // the report says when the apply stopped and why, in the subscriber's own words
    let text = drdrill::history::read_text(&drdrill::history::path_in(&x.d.dir)).unwrap();
    let stop = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["kind"] == "replication-stopped")
        .unwrap_or_else(|| panic!("no replication-stopped event"));
    let at = stop["t_ns"].as_f64().unwrap() / 1e6;
    assert!(stop["detail"].as_str().unwrap().contains("is missing replicated column: \"region\""), "{stop}");
    assert!(at >= ddl - 50.0 && at <= ddl + 2_000.0, "the apply stopped at {at} ms, the DDL took effect at {ddl} ms");
    let findings = x.d.results["questions"]["unexpected"]["findings"].as_array().unwrap();
    let f = findings.iter().find(|f| f["kind"] == "replication_stopped").unwrap_or_else(|| panic!("no finding: {findings:?}"));
    assert!(f["what"].as_str().unwrap().starts_with("pg-3 stopped replicating at t="), "{f}");
    assert!(f["evidence"].as_str().unwrap().contains("is missing replicated column"), "{f}");
    // the lag as clients see it grows while the primary keeps acknowledging: after the DDL
    // the DR node's median lag is seconds (before it, the WAN's tens of ms)
    let lag = x.d.results["replica_lag"]["replicas"].as_array().unwrap().iter().find(|r| r["node"] == "pg-3").cloned().unwrap();
    let p50 = |p: &str| lag["phases"].as_array().unwrap().iter().find(|x| x["phase"] == p).unwrap()["p50_ms"].as_f64().unwrap();
    assert!(p50("before_fault") < 200.0 && p50("during_fault") > 1_000.0, "{lag}");
    assert_eq!(x.d.code, 1, "the writes lost since the DDL miss the RPO target: the drill fails on purpose");
}

/// How the lag measurement reads the DR node: every 5 ms.
const POLL_MS: f64 = 5.0;

#[test]
fn the_dr_nodes_apply_lag_rises_by_the_delay_on_its_link_within_a_poll() {
    on_a_quiet_run("tests/fixtures/logical-dr-lag.yaml", &[], |d| {
        let (c, n) = labelled(Some(&run_id(&d.results)));
        assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
        let lag = &d.results["replica_lag"]["replicas"];
        let rep = lag.as_array().and_then(|l| l.iter().find(|x| x["node"] == "pg-2")).unwrap_or_else(|| panic!("no pg-2: {lag}"));
        let phase =
            |p: &str| rep["phases"].as_array().unwrap().iter().find(|x| x["phase"] == p).unwrap_or_else(|| panic!("no {p}: {rep}")).clone();
        let p50 = |p: &str| phase(p)["p50_ms"].as_f64().unwrap();
        let (before, during, after) = (p50("before_fault"), p50("during_fault"), p50("after_recovery"));
        let tol = POLL_MS + 2.0;
        assert!((during - before - 50.0).abs() <= tol, "pg-2 p50 rose by {} ms, expected 50 ± {tol}", during - before);
        assert!((after - before).abs() <= tol, "pg-2 p50 after the heal {after} ms vs {before} ms before");
        // the engine's own figure (replay_lag of the subscription's walsender) rose with it
        let engine = phase("during_fault")["engine"]["p50_ms"].as_f64().unwrap();
        assert!((engine - 50.0).abs() <= 20.0, "replay_lag p50 {engine} ms during the delay");
        assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
    });
}
