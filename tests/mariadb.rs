//! MariaDB drills run for real in Docker: GTID replication async and semi-sync with
//! drdrill's scripted failover, semi-sync's fallback to async, and a planned MHA
//! switchover with its VIP. Every count is cross-checked against an independent read of
//! the nodes with MariaDB's own client, inside the containers.
use crate::common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// Acknowledged writes from history.jsonl.zst: key -> (ack time ms, node).
fn acked(d: &Drill) -> Vec<((u64, u64), f64, String)> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "op" && v["outcome"] == "ok")
        .map(|v| {
            let key = (v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap());
            (key, v["complete_ns"].as_f64().unwrap() / 1e6, v["node"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn fault_at(r: &Value, i: u64) -> f64 {
    events(r).iter().find(|e| e["kind"] == "fault-inject" && e["fault"] == i).unwrap()["t_ns"].as_f64().unwrap() / 1e6
}

#[test]
fn async_kill_fails_over_by_gtid_and_the_old_primary_rejoins_rebuilt() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, survivors, others } =
        drill_cross_checked_by("scenarios/mariadb-async-primary-kill.yaml", &read_mariadb, &["db-1", "db-3"]);
    let r = &d.results;
    let kinds: Vec<String> = events(r).iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    for step in ["failover-promote", "failover-repoint-replicas", "rejoin"] {
        assert!(kinds.iter().any(|k| k == step), "{step} missing: {kinds:?}");
    }
    // the rejoined old primary and the other replica hold exactly the new primary's rows
    assert_eq!(others["db-1"], survivors, "the rejoined old primary differs from the new primary");
    assert_eq!(others["db-3"], survivors, "the repointed replica differs from the new primary");
    assert_eq!(r["converged"], true);
    assert_eq!(r["lost_writes"].as_u64().unwrap(), lost.len() as u64);
    assert!(r["rto_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn semi_sync_kill_loses_no_acknowledged_write() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked_by("scenarios/mariadb-semisync-primary-kill.yaml", &read_mariadb, &[]);
    let r = &d.results;
    assert!(lost.is_empty(), "semi-sync lost acknowledged writes: {lost:?}");
    assert!(r["acked_writes"].as_u64().unwrap() > 1000);
    // the health check saw every replica semi-sync before the workload started
    let health = r["stack"]["replication_at_start"].as_array().unwrap();
    assert_eq!(health.len(), 2, "{health:?}");
    assert!(health.iter().all(|h| h["state"].as_str().unwrap().starts_with("IO Yes / SQL Yes")), "{health:?}");
    assert_eq!(r["verdict"], "pass");
    assert_eq!(d.code, 0, "{}", d.stdout);
}

#[test]
fn semi_sync_fallback_loses_exactly_what_was_acknowledged_after_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/mariadb-semisync-fallback.yaml", &["--keep"]);
    let r = d.results.clone();
    let new_primary = read_mariadb(&r, "db-2");
    // the killed old primary still holds every write it committed: start it and read it
    docker(&["start", &container_of(&r, "db-1")]);
    let mut old_primary = BTreeSet::new();
    for _ in 0..120 {
        if docker(&["exec", &container_of(&r, "db-1"), "mariadb-admin", "ping"]).contains("alive") {
            old_primary = read_mariadb(&r, "db-1");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let fell_back = docker(&["logs", &container_of(&r, "db-1")]).contains("Semi-sync replication switched OFF");
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    let (c, n) = labelled(Some(&run_id(&r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    assert!(fell_back, "the primary's log does not show the fallback to async");
    let lost = cross_check_lost(&d, &new_primary);
    let acks = acked(&d);
    let by_old: BTreeSet<(u64, u64)> = acks.iter().filter(|a| a.2 == "db-1").map(|a| a.0).collect();
    assert!(by_old.is_subset(&old_primary), "the old primary lacks writes it acknowledged (sync_binlog=1, flush at commit)");
    let acked_keys: BTreeSet<(u64, u64)> = acks.iter().map(|a| a.0).collect();
    let truth: BTreeSet<(u64, u64)> = old_primary.difference(&new_primary).filter(|k| acked_keys.contains(k)).copied().collect();
    assert_eq!(lost, truth, "drdrill's lost writes are not exactly the acknowledged writes the replica never received");
    assert!(lost.len() > 100, "a 4 s cut at 400 writes/s must lose writes after the fallback, lost {}", lost.len());
    // semi-sync held for its 1 s timeout: nothing lost was acknowledged before the fallback
    let cut = fault_at(&r, 0);
    let ack_of: std::collections::HashMap<(u64, u64), f64> = acks.iter().map(|a| (a.0, a.1)).collect();
    let early: Vec<_> = lost.iter().filter(|k| ack_of[k] < cut + 1000.0 - 50.0).collect();
    assert!(early.is_empty(), "writes acknowledged within semi-sync's timeout were lost: {early:?}");
    assert_eq!(r["verdict"], "fail");
    assert_eq!(d.code, 1);
}

#[test]
fn mha_switchover_moves_the_vip_and_loses_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/mariadb-mha-switchover.yaml", &["--keep"]);
    let r = d.results.clone();
    let new = r["phases"]["new_primary"].as_str().unwrap_or_else(|| panic!("no new primary: {}", d.stderr)).to_string();
    let vip_holders = vip_holders(&r);
    let survivors = read_mariadb(&r, &new);
    let old = read_mariadb(&r, "db-1");
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    assert_clean_run(&r);
    assert_orchestrator_failed_over(&d);
    assert_eq!(vip_holders, vec![new.clone()], "the VIP must be on the new master only");
    let lost = cross_check_lost(&d, &survivors);
    assert!(lost.is_empty(), "a planned switchover lost {lost:?}");
    assert_eq!(old, survivors, "the old master (now a replica) differs from the new one");
    let p = &r["phases"];
    assert!(p["detected_ms"].is_null(), "a switchover is not a detection: {p}");
    let (moved, promoted) = (p["moved_ms"].as_f64().unwrap(), p["promoted_ms"].as_f64().unwrap());
    // MHA moves the VIP, then makes the new master writable
    assert!(p["fault_ms"].as_f64().unwrap() <= moved && moved <= promoted, "{p}");
    assert_eq!(d.code, 0, "{}", d.stdout);
}

fn assert_clean_run(r: &Value) {
    let (c, n) = labelled(Some(&run_id(r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}
