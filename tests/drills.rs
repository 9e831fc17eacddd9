//! The shipped scenarios, run for real in Docker. Each result is cross-checked against an
//! independent read of the new primary and of history.jsonl.zst, then the kept stack is
//! garbage-collected and nothing labelled drdrill.run may remain.
use crate::common;
use common::*;

fn assert_outage_measured(d: &Drill) {
    let r = &d.results;
    let bad = r["failed_writes"].as_u64().unwrap() + r["unknown_writes"].as_u64().unwrap();
    assert!(bad > 0, "killing the primary must fail or strand some writes\n{}", d.stderr);
    assert_eq!(r["outage_observed"], true);
    let rto = r["rto_ms"].as_f64().expect("writes recovered");
    assert!(rto > 0.0);
    // recovery cannot precede the promotion that made it possible: the clients are repointed
    // only once it returned, so no write to the new primary can begin before its event.
    // (The failover's done stamp comes after the repoint, and a client may begin its first
    // write between the two: CI saw one 1.8 ms before it.)
    assert_rto_counts_from_effect(r, r["answered_fault"].as_u64().expect("the fault the failover answered"));
    let promoted = events(r).iter().find(|e| e["kind"] == "failover-promote").expect("a promotion")["t_ns"].as_f64().unwrap() / 1e6;
    let recovered = r["recovered_at_ms"].as_f64().unwrap();
    assert!(recovered >= promoted, "the clients' first lasting write began at {recovered} ms, before the promotion ({promoted} ms)");
    assert!(r["failover"]["done_ms"].as_f64().is_some(), "the failover finished");
    assert!(r["acked_before_fault"].as_u64().unwrap() > 0);
    assert_ne!(r["stack"]["final_primary"], r["stack"]["initial_primary"]);
}

#[test]
fn postgres_sync_primary_kill_loses_no_acknowledged_write() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked("scenarios/postgres-sync-primary-kill.yaml", read_postgres, &[]);
    let r = &d.results;
    // replication really was synchronous when the workload started
    for h in r["stack"]["replication_at_start"].as_array().unwrap() {
        assert_eq!(h["state"], "streaming/quorum", "{h}");
    }
    assert!(lost.is_empty(), "synchronous replication lost acknowledged writes: {lost:?}");
    assert_eq!(r["rpo_ms"].as_f64(), Some(0.0));
    assert_outage_measured(&d);
    assert_eq!(r["converged"], true);
    assert_eq!(d.code, 0, "targets should hold\n{}{}", d.stdout, d.stderr);
    // every piece of evidence is there
    for f in ["scenario.yaml", drdrill::history::FILE, "junit.xml", "report.md", "logs/pg-1.log", "logs/pg-2.log"] {
        assert!(d.dir.join(f).exists(), "missing {f}");
    }
    let junit = std::fs::read_to_string(d.dir.join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"0\" errors=\"0\""), "{junit}");
    assert_eq!(r["verdict"], "pass");
}

#[test]
fn postgres_async_primary_kill_measures_outage_and_lost_writes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, .. } = drill_cross_checked("scenarios/postgres-async-primary-kill.yaml", read_postgres, &[]);
    let r = &d.results;
    assert_outage_measured(&d);
    // no monitoring in this drill: alerting was not drilled, whatever else held
    assert_eq!(r["questions"]["alerting"]["answer"], "not drilled", "{}", r["questions"]);
    // the exit code agrees with the verdict (lost writes and RPO were cross-checked above)
    let expect = if r["verdict"] == "pass" { 0 } else { 1 };
    assert_eq!(d.code, expect, "{}", d.stdout);
}

#[test]
fn redis_primary_kill_measures_outage_and_lost_writes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, .. } = drill_cross_checked("scenarios/redis-primary-kill.yaml", read_redis, &[]);
    let r = &d.results;
    assert_outage_measured(&d);
    let expect = if r["verdict"] == "pass" { 0 } else { 1 };
    assert_eq!(d.code, expect, "{}", d.stdout);
}

#[test]
fn postgres_stop_then_scripted_promotion_rejoins_the_old_primary() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, survivors, others, .. } = drill_cross_checked("scenarios/postgres-primary-stop-rejoin.yaml", read_postgres, &["pg-1"]);
    let r = &d.results;
    assert_eq!(r["stack"]["final_primary"], "pg-3");
    let rejoined = &others["pg-1"];
    assert_outage_measured(&d);
    // the scripted promotion waits its delay: writes cannot be back before it
    assert!(r["rto_ms"].as_f64().unwrap() >= 2000.0);
    assert_eq!(r["failover"]["rejoined"], "pg-1");
    assert_eq!(rejoined, &survivors, "the rewound old primary must hold exactly the new primary's records");
    let nodes: Vec<&str> = r["convergence"]["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert!(nodes.contains(&"pg-1"), "the rejoined node must be part of the convergence check: {nodes:?}");
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}

#[test]
fn stopped_async_replicas_lose_exactly_the_writes_acknowledged_while_down() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked("scenarios/postgres-async-lagging-replicas-kill.yaml", read_postgres, &[]);
    let r = &d.results;
    assert_outage_measured(&d);
    // the replicas stopped at fault #0, the kill is fault #2: every lost write was
    // acknowledged between the stop asked and the kill applied (the engine's call returned:
    // a write acknowledged while `docker kill` was under way is lost too), with a little
    // slack for the async replicas' lag at the stop. An acknowledgement is stamped when the
    // client task runs again, which on a saturated host can trail the old primary's reply by
    // 100 ms or more: the kill side has 250 ms (RPO's failure point is that stamp too)
    let t = |i: u64, field: &str| {
        let e = r["events"].as_array().unwrap().iter().find(|e| e["kind"] == "fault-inject" && e["fault"] == i).unwrap();
        e[field].as_f64().or_else(|| e["t_ns"].as_f64()).unwrap() / 1e6
    };
    let (freeze, kill) = (t(0, "t_ns"), t(2, "applied_ns"));
    assert!(lost.len() > 100, "about 2 s of writes should be lost, got {}", lost.len());
    for l in r["lost"].as_array().unwrap() {
        let ack = l["ack_ms"].as_f64().unwrap();
        assert!(ack >= freeze - 50.0 && ack <= kill + 250.0, "lost write acked at {ack} ms, outside {freeze}..{kill} ms");
    }
    let rpo = r["rpo_ms"].as_f64().unwrap();
    assert!(rpo > 1500.0 && rpo <= kill - freeze + 250.0, "rpo {rpo} ms for replicas down {} ms before the kill", kill - freeze);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(d.code, 1, "a missed target exits 1\n{}", d.stdout);
    let rpo_target = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "rpo_ms").unwrap();
    assert_eq!(rpo_target["verdict"], "fail");
}

/// The promotion starts while both replicas are still down: drdrill keeps looking until one
/// answers, each miss a note, promotes it, says how long it looked, and the time spent
/// looking lies inside the promotion (after failover-start, before the promote).
#[test]
fn a_promotion_started_while_the_replicas_restart_looks_until_one_answers() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked("scenarios/postgres-replicas-restarting-kill.yaml", read_postgres, &[]);
    let r = &d.results;
    assert_outage_measured(&d);
    let fo = &r["failover"];
    let new = fo["new_primary"].as_str().expect("a replica promoted");
    assert!(new == "pg-2" || new == "pg-3", "{fo}");
    let evs = events(r);
    let at = |kind: &str, node: Option<&str>| {
        evs.iter().find(|e| e["kind"] == kind && node.is_none_or(|n| e["node"] == n)).unwrap_or_else(|| panic!("no {kind} event"))["t_ns"]
            .as_f64()
            .unwrap()
            / 1e6
    };
    let (start, promote) = (at("failover-start", None), at("failover-promote", Some(new)));
    // the replica promoted was down when the promotion started: it came back later
    let healed = evs.iter().find(|e| e["kind"] == "fault-heal" && e["node"] == new).expect("its heal")["t_ns"].as_f64().unwrap() / 1e6;
    assert!(healed > start, "{new} healed at {healed} ms, before the promotion started at {start} ms");
    let looked = fo["looked_ms"].as_f64().expect("looked_ms");
    assert!(
        looked >= healed - start - 300.0 && looked <= promote - start + 1.0,
        "looked {looked} ms; start {start}, {new} back {healed}, promoted {promote}"
    );
    let misses: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|e| e["kind"] == "note" && e["detail"].as_str().unwrap().starts_with("looking for a replica to promote"))
        .collect();
    assert!(misses.len() >= 4, "about 2 s of looks 250 ms apart, {} notes", misses.len());
    for m in &misses {
        let t = m["t_ns"].as_f64().unwrap() / 1e6;
        assert!(t >= start && t <= promote, "a missed look at {t} ms, outside the promotion {start}..{promote} ms");
        assert!(m["detail"].as_str().unwrap().contains("Connection refused"), "{m}");
    }
    let detail = evs.iter().find(|e| e["kind"] == "failover-promote").unwrap()["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("({} looks)", misses.len() + 1)), "{detail}");
    assert!(d.stderr.contains("looked ") || d.stdout.contains("looked "), "the terminal says how long it looked");
    // the writes acknowledged while the replicas were down are lost, and nothing else
    assert!(!lost.is_empty());
    assert_eq!(r["verdict"], "pass", "{}", d.stdout);
    assert_eq!(fo["repointed"].as_array().unwrap().len(), 1, "the other replica follows once it is back: {fo}");
}

/// A planted relapse: the promoted primary killed once writes were back, then started
/// again. The writes that failed the second time are listed under "anything unexpected?",
/// with their count, in results.json, the scorecard and findings.md.
#[test]
fn a_second_kill_after_recovery_is_listed_as_unexpected() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("tests/fixtures/postgres-relapse.yaml", &[]);
    let r = &d.results;
    let q = &r["questions"];
    let relapses = r["relapses"].as_u64().unwrap();
    assert!(relapses > 0, "the second kill made writes fail after the recovery point\n{}", d.stdout);
    assert_eq!(q["unexpected"]["answer"], "yes", "{q}");
    let findings = q["unexpected"]["findings"].as_array().unwrap();
    let relapse = findings.iter().find(|f| f["kind"] == "relapse").unwrap_or_else(|| panic!("no relapse finding: {q}"));
    assert_eq!(relapse["service"], "postgres");
    assert!(relapse["evidence"].as_str().unwrap().starts_with(&format!("{relapses} writes invoked after the recovery point")), "{relapse}");
    // RTO counts from the first kill, which the failover answered; its row shows the figure
    let rto = &q["rto"]["services"][0];
    assert_eq!((&rto["target"], &rto["figure"]), (&"rto_ms".into(), &r["rto_ms"]), "{q}");
    assert_eq!(q["alerting"]["answer"], "not drilled");
    let faults: Vec<bool> = q["alerting"]["faults"].as_array().unwrap().iter().map(|f| f["outage"].as_bool().unwrap()).collect();
    assert_eq!(faults, [true, true, false], "both kills caused an outage, the restart that ended the second did not: {q}");
    let found = std::fs::read_to_string(d.dir.join("findings.md")).unwrap();
    assert!(found.contains(&format!("- postgres: writes failed again after recovery: {relapses} writes")), "{found}");
    assert!(d.stdout.contains("The four questions") && d.stdout.contains("Anything unexpected?  YES"), "{}", d.stdout);
}

/// A failover begun before any fault answers none: the kill then hits a primary nobody uses
/// (RTO 0, every target met), and the drill is undecided, with the finding that says why.
#[test]
fn a_failover_begun_before_any_fault_leaves_the_drill_undecided_and_says_why() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("tests/fixtures/failover-before-fault.yaml", &[]);
    let r = &d.results;
    let start = r["events"].as_array().unwrap().iter().find(|e| e["kind"] == "failover-start").expect("the probe tripped");
    let kill = r["events"].as_array().unwrap().iter().find(|e| e["kind"] == "fault-inject").expect("the kill");
    assert!(start["t_ns"].as_u64() < kill["t_ns"].as_u64(), "the failover began after the kill: {start} {kill}");
    let row = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "failover_after_fault")
        .unwrap_or_else(|| panic!("{}", r["targets"]));
    assert_eq!(row["verdict"], "unknown", "{row}");
    assert!(row["note"].as_str().unwrap().contains("consecutive failed probes (100 ms apart, 1 ms timeout)"), "{row}");
    let q = &r["questions"];
    let found = q["unexpected"]["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "failover_before_fault");
    let found = found.unwrap_or_else(|| panic!("no failover_before_fault finding: {q}"));
    assert!(found["what"].as_str().unwrap().starts_with("drdrill's failover began at t="), "{found}");
    // RTO 0 within its target, measured after a failover that answered no fault: no yes
    assert_eq!(q["rto"]["answer"], "unknown", "{q}");
    assert_eq!((&r["verdict"], d.code), (&"unknown".into(), 4), "{}", d.stdout);
}

/// A primary starved of CPU (1 % of one CPU for 3 s) goes on answering, slowly: the writes
/// invoked while it lasts wait far longer than those before it (from the history), the
/// quota is lifted at the heal (read from the engine while the stack is kept), and nothing
/// is lost.
#[test]
fn a_primary_starved_of_cpu_slows_its_writes_and_is_given_its_cpu_back() {
    let Checked { d, .. } = drill_cross_checked_by(
        "tests/fixtures/postgres-starve-cpu.yaml",
        &|r, node| {
            // before the stack goes: the quota the heal left on the primary's container
            let container = r["stack"]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap()["container"]
                .as_str()
                .unwrap()
                .to_string();
            let out =
                std::process::Command::new("docker").args(["inspect", "-f", "{{.HostConfig.CpuQuota}}", &container]).output().unwrap();
            let quota: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            assert!(quota <= 0, "the heal left a CPU quota of {quota} µs per period on {container}");
            read_postgres(host_port(r, node))
        },
        &[],
    );
    let r = &d.results;
    let ev = events(r);
    let inject = ev.iter().find(|e| e["kind"] == "fault-inject").unwrap();
    assert!(inject["detail"].as_str().unwrap().contains("to 1 % of one CPU"), "{inject}");
    let heal = ev.iter().find(|e| e["kind"] == "fault-heal").expect("the starvation healed");
    let (from, to) = (inject["t_ns"].as_u64().unwrap(), heal["t_ns"].as_u64().unwrap());
    let (mut before, mut during) = (Vec::new(), Vec::new());
    drdrill::history::read_history(&drdrill::history::path_in(&d.dir), |op| {
        let took = op.complete_ns.saturating_sub(op.invoke_ns);
        match op.invoke_ns {
            t if t < from => before.push(took),
            t if t < to => during.push(took),
            _ => {}
        }
    })
    .unwrap();
    let median = |v: &mut Vec<u64>| {
        v.sort();
        v[v.len() / 2]
    };
    let (b, s) = (median(&mut before), median(&mut during));
    assert!(s >= 5 * b, "median write {b} ns before, {s} ns while starved");
    assert_eq!((r["lost_writes"].as_u64(), d.code), (Some(0), 0), "{}", d.stdout);
}
