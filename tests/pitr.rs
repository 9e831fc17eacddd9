//! Point-in-time recovery after an operator error, for real (docs/restore.md): a DELETE of
//! every record on the primary, then a pgBackRest restore to just before it. No write
//! acknowledged before the error may be missing on the restored node, read independently;
//! the writes acknowledged after it are discarded by design and counted apart, exactly.
use crate::common;
use common::*;
use std::collections::BTreeSet;

#[test]
fn point_in_time_recovery_keeps_every_write_acknowledged_before_the_error() {
    undone("scenarios/pg-pitr-operator-error.yaml", "pg-1", &|r, node| read_postgres(host_port(r, node)));
}

#[test]
fn a_delayed_replica_rolled_forward_keeps_every_write_acknowledged_before_the_error() {
    undone("scenarios/pg-delayed-replica-operator-error.yaml", "pg-2", &|r, node| read_postgres(host_port(r, node)));
}

#[test]
fn a_delayed_mariadb_replica_rolled_forward_keeps_every_write_acknowledged_before_the_error() {
    undone("scenarios/mariadb-delayed-replica-operator-error.yaml", "db-2", &read_mariadb);
}

#[test]
fn a_binlog_replayed_up_to_the_error_keeps_every_write_acknowledged_before_it() {
    let r = undone("scenarios/mariadb-pitr-operator-error.yaml", "db-1", &read_mariadb);
    let replayed = r["failover"]["restore"]["replayed"].as_str().unwrap();
    assert!(replayed.contains("stopped before the operator's error"), "{replayed}");
}

/// Runs an operator-error drill, reads the recovered node (`recovered`) ourselves with
/// `read`, and checks what was kept, what was discarded and the RTO; returns results.json.
fn undone(scenario: &str, recovered: &str, read: &ReadNode) -> serde_json::Value {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill(scenario, &["--keep"]);
    let r = d.results.clone();
    assert_eq!(r["stack"]["final_primary"], recovered);
    let survivors = read(&r, recovered);
    let run = run_id(&r);
    let out = drdrill(&["gc", "--run", &run]);
    assert!(out.status.success(), "gc failed: {}", String::from_utf8_lossy(&out.stderr));
    let (c, n) = labelled(Some(&run));
    assert!(c.is_empty() && n.is_empty() && labelled_volumes(&run).is_empty(), "left behind: {c:?} {n:?}");

    let target = r["failover"]["target_ms"].as_f64().expect("a point-in-time target");
    let fault = r["fault_ms"].as_f64().unwrap();
    assert!((target - fault).abs() < 1.0, "target {target} ms, the error at {fault} ms");
    // our own reading of the history: every write acknowledged before the target survived
    let acked: Vec<((u64, u64), f64)> = ack_times(&d.dir).into_iter().map(|(k, (_, done))| (k, done)).collect();
    let before: BTreeSet<(u64, u64)> = acked.iter().filter(|(_, t)| *t < target).map(|(k, _)| *k).collect();
    let after: BTreeSet<(u64, u64)> = acked.iter().filter(|(_, t)| *t >= target).map(|(k, _)| *k).collect();
    assert!(before.len() > 1000, "{} writes before the error", before.len());
    let missing_before: Vec<_> = before.difference(&survivors).collect();
    assert!(
        missing_before.is_empty(),
        "{} writes acknowledged before the error are missing: {:?}",
        missing_before.len(),
        &missing_before[..missing_before.len().min(5)]
    );
    assert_eq!(r["lost_writes"], 0);
    // the writes between the error and the restore are gone, and counted apart, exactly
    let discarded = after.difference(&survivors).count() as u64;
    assert!(discarded > 100, "3 s of writes after the error must be discarded, found {discarded}");
    assert_eq!(r["discarded_writes"].as_u64(), Some(discarded));
    // the RTO runs from the error until correct data took writes again, not until the
    // clients' outage ended (after a DELETE they had none)
    let rto = r["rto_ms"].as_f64().expect("an RTO");
    let first_good = r["recovered_at_ms"].as_f64().unwrap();
    assert!((rto - (first_good - fault)).abs() < 0.01 && rto > 3000.0, "RTO {rto} ms, error at {fault}, recovered at {first_good}");
    assert_eq!(r["verdict"], "pass", "{}", d.stdout);
    r
}
