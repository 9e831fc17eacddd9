//! An outage drdrill did not inject (a firewall rule set from outside, for 2 s): RTO counts
//! from the outage's start as the clients saw it, never from the workload's start, and
//! `outage_ms` reports what the clients lived through.
use crate::common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::Duration;

/// Runs a script in the container; returns the node's wall clock (ns) right after it.
fn exec_stamped(container: &str, script: &str) -> i128 {
    let out = Command::new("docker").args(["exec", container, "sh", "-c", &format!("{script} && date +%s%N")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap().parse().unwrap()
}

#[test]
fn an_outage_from_outside_is_measured_from_its_start() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let mut child = spawn_drill("tests/fixtures/outside-outage.yaml", reports.path());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok);
    let run = lines.by_ref().find_map(|l| l.split("(run ").nth(1).map(|r| r.split(')').next().unwrap().to_string())).expect("run id");
    lines.by_ref().find(|l| l.contains("== workload")).expect("workload started");
    let drain = std::thread::spawn(move || lines.count());
    std::thread::sleep(Duration::from_secs(2));
    let container = format!("drdrill-{run}-pg-1");
    let gw = Command::new("docker")
        .args(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", &container])
        .output()
        .unwrap();
    let gw = String::from_utf8_lossy(&gw.stdout).trim().to_string();
    let rules = format!("INPUT -s {gw} -j DROP\n-I OUTPUT -d {gw} -j DROP");
    let cut = exec_stamped(&container, &format!("printf '*filter\\n-I {rules}\\nCOMMIT\\n' | iptables-restore -w --noflush"));
    std::thread::sleep(Duration::from_secs(2));
    let del = rules.replace("-I ", "-D ");
    let healed = exec_stamped(&container, &format!("printf '*filter\\n-D {del}\\nCOMMIT\\n' | iptables-restore -w --noflush"));
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drain.join().unwrap();
    let d = find_drill(reports.path());
    let r = &d.results;
    let truth = (healed - cut) as f64 / 1e6;
    assert_eq!(r["rto_basis"], "outage_start", "no fault was injected");
    let rto = r["rto_ms"].as_f64().unwrap();
    let from = r["rto_from_ms"].as_f64().unwrap();
    assert!(from > 1500.0, "RTO counted from t = {from} ms, not from the outage");
    assert!((rto - truth).abs() < 100.0, "RTO {rto} ms for an outage of {truth:.1} ms");
    let outage = r["outage_ms"].as_f64().unwrap();
    assert!(outage >= rto && outage < rto + 50.0, "outage_ms {outage} vs RTO {rto}");
    assert_eq!(r["lost_writes"], 0);
}
