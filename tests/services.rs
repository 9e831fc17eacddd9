//! Drills of several services, run for real: each service judged on its own against an
//! independent read of its own data; the drill's verdict is the worst service's; a fault
//! on one service leaves the other's outage at zero. Evidence from before services
//! (schema 1) still renders, verifies and compares.
use crate::common;
use common::*;
use serde_json::Value;

#[test]
fn each_service_is_judged_on_its_own_and_a_fault_on_one_leaves_the_other_untouched() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/two-services-one-fault.yaml", &["--keep"]);
    let r = d.results.clone();
    let (pg, cache) = (service_drill(&d, "pg"), service_drill(&d, "cache"));
    let pg_primary = pg.results["stack"]["final_primary"].as_str().unwrap().to_string();
    let cache_primary = cache.results["stack"]["final_primary"].as_str().unwrap().to_string();
    let pg_rows = read_postgres(host_port(&pg.results, &pg_primary));
    let cache_rows = read_redis(host_port(&cache.results, &cache_primary));
    // (before gc, which notes in the evidence what it removed)
    assert!(drdrill(&["verify", d.dir.to_str().unwrap()]).status.success(), "the evidence matches its manifest");
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    let (c, n) = labelled(Some(&run_id(&r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");

    // per-service lost writes equal an independent read of each service
    let pg_lost = service_lost_checked(&d, "pg", &pg_rows);
    let cache_lost = service_lost_checked(&d, "cache", &cache_rows);
    assert!(!pg_lost.is_empty(), "the async primary died holding unreplicated writes: {}", d.stdout);
    assert!(cache_lost.is_empty(), "the untouched service lost {cache_lost:?}");
    let (_, all_tagged) = acked_of(&d, "pg");
    assert!(all_tagged, "every op of a drill of several services carries its service");

    // the drill's verdict (and exit code) is the worst service's
    assert_eq!(pg.results["verdict"], "fail", "pg misses its RPO target of 0 on purpose");
    assert_eq!(cache.results["verdict"], "pass", "{}", d.stdout);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert_eq!(r["schema_version"], 2);
    assert!(r.get("rto_ms").is_none() && r.get("lost_writes").is_none(), "no one service's figures at the top level");

    // the untouched service: no outage, no RTO, and why
    let c = &cache.results;
    assert_eq!((c["failed_writes"].as_u64(), c["unknown_writes"].as_u64()), (Some(0), Some(0)), "{}", d.stdout);
    assert_eq!(c["outage_observed"], false);
    assert!(c["rto_ms"].is_null() && c["outage_ms"].is_null(), "{c}");
    assert!(c["no_rto_because"].as_str().unwrap().contains("no fault hit this service"), "{c}");
    // the touched one: an outage from when the kill took effect, and the history's events
    // carry the service they happened to
    assert!(pg.results["rto_ms"].as_f64().unwrap() > 0.0);
    let kills: Vec<Value> = events(&r).into_iter().filter(|e| e["kind"] == "fault-inject" && e["fault"] == 2).collect();
    assert_eq!(kills.len(), 1);
    assert_eq!(kills[0]["service"], "pg");

    // the reports: a block per service, a test suite per service, a timeline per service
    for name in ["pg", "cache"] {
        assert!(d.stdout.contains(&format!("── service {name} (")), "{}", d.stdout);
        assert!(d.dir.join(format!("timeline-{name}.svg")).exists());
    }
    assert!(d.stdout.contains("verdict: FAIL: a target was missed (the worst of cache PASS, pg FAIL)"), "{}", d.stdout);
    let junit = std::fs::read_to_string(d.dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"two-services-one-fault/pg\"")
            && junit.contains("<testsuite name=\"two-services-one-fault/cache\"")
    );
    let html = std::fs::read_to_string(d.dir.join("report.html")).unwrap();
    assert!(html.contains("Service pg (postgres)") && html.contains("Service cache (redis)") && html.matches("<svg").count() >= 2);
}

/// Evidence written by drdrill before drills had services (schema 1, committed as run).
fn v1_dir() -> std::path::PathBuf {
    let base = root().join("tests/fixtures/v1-evidence/fixture-single-node");
    std::fs::read_dir(&base).unwrap().flatten().next().expect("a v1 evidence folder").path()
}

#[test]
fn evidence_from_before_services_still_renders_verifies_and_compares() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fixture-single-node").join(v1_dir().file_name().unwrap());
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let status = std::process::Command::new("cp").args(["-a", v1_dir().to_str().unwrap(), dir.to_str().unwrap()]).status().unwrap();
    assert!(status.success());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["schema_version"], 1, "the fixture is schema 1 evidence");
    let verify = drdrill(&["verify", dir.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let report = drdrill(&["report", dir.to_str().unwrap()]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    assert!(drdrill(&["verify", dir.to_str().unwrap()]).status.success(), "re-rendered evidence verifies");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("# Drill fixture-single-node: PASS") && md.contains("](timeline.svg)"), "{md}");
    // a v1 baseline compares with a v2 run of the same single service
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let v2 = run_drill("tests/fixtures/single-node.yaml", &[]);
    assert_eq!(v2.results["schema_version"], 2);
    assert_eq!(v2.results["services"]["postgres"]["acked_writes"], v2.results["acked_writes"], "one service: the same figures");
    let compare = drdrill(&["compare", dir.to_str().unwrap(), v2.dir.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&compare.stdout).to_string() + &String::from_utf8_lossy(&compare.stderr);
    assert_eq!(compare.status.code(), Some(0), "{out}");
    assert!(out.contains("lost_writes") && !out.contains("REGRESSION"), "{out}");
}
