//! MariaDB Galera, run for real in Docker (issue 37): three writable nodes in three sites,
//! one site cut off for 20 s. Its node loses the primary component and refuses writes; the
//! two others go on once Galera declares it gone; after the heal it rejoins by incremental
//! state transfer. Checked here again from the history, independently of the report.
use crate::common;
use common::*;
use serde_json::Value;

/// Every op of the history as JSON.
fn ops(d: &Drill) -> Vec<Value> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "op").collect()
}

/// The inserts (no `key`) `node` refused or acknowledged, invoked within `from..to` ms.
fn inserts(ops: &[Value], node: &str, outcome: &str, from: f64, to: f64) -> usize {
    insert_ops(ops, node, outcome, from, to).count()
}

fn insert_ops<'a>(ops: &'a [Value], node: &'a str, outcome: &'a str, from: f64, to: f64) -> impl Iterator<Item = &'a Value> {
    ops.iter()
        .filter(move |v| v["node"] == node && v["outcome"] == outcome && v.get("key").is_none())
        .filter(move |v| (from..to).contains(&(v["invoke_ns"].as_f64().unwrap() / 1e6)))
}

/// A commit refused by Galera's certification (1213): a conflict, not an outage. An insert
/// can meet one at a view change, when each node's auto-increment step changes.
fn certification_conflict(v: &Value) -> bool {
    v["error"].as_str().is_some_and(|e| e.starts_with("1213"))
}

#[test]
fn an_isolated_site_refuses_writes_the_others_go_on_and_it_rejoins() {
    let d = run_drill("scenarios/galera-three-sites-isolate.yaml", &[]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    let m = &r["multi_active"];
    let cut = &m["cuts"][0];
    let (from, to) = (cut["from_ms"].as_f64().unwrap(), cut["to_ms"].as_f64().unwrap());
    assert!(to - from >= 19_000.0, "{cut}");
    let ops = ops(&d);
    // Galera declares the cut-off node gone after evs.suspect_timeout (5 s): from then on
    // until the heal, its clients' inserts are refused and the others' acknowledged
    let settled = from + 8_000.0;
    let refused = inserts(&ops, "gal-3", "fail", settled, to);
    let taken = inserts(&ops, "gal-3", "ok", settled, to);
    assert!(refused > 100 && taken == 0, "gal-3 refused {refused} and took {taken} inserts while cut off");
    for node in ["gal-1", "gal-2"] {
        let ok = inserts(&ops, node, "ok", settled, to);
        let not: Vec<&Value> = insert_ops(&ops, node, "fail", from, to)
            .filter(|v| !certification_conflict(v))
            .chain(insert_ops(&ops, node, "unknown", from, to))
            .collect();
        let what: Vec<String> =
            not.iter().map(|v| format!("{} at {:.0} ms: {}", v["outcome"], v["invoke_ns"].as_f64().unwrap() / 1e6, v["error"])).collect();
        assert!(
            ok > 100 && not.is_empty(),
            "{node}: {ok} inserts acknowledged, {} not (certification conflicts aside), during the cut {from:.0}..{to:.0} ms: {what:?}",
            not.len()
        );
    }
    // the report's sites say the same: the cut-off site's clients failed, the others' went on
    let s = &m["sites"];
    assert!(s["site-c"]["failed"].as_u64().unwrap() > 100, "{s}");
    assert!(s["site-c"]["longest_without_ack_ms"].as_f64().unwrap() >= 19_000.0, "{s}");
    // their commits stall until Galera drops the silent member: after evs.suspect_timeout
    // (5 s), at the latest evs.inactive_timeout (15 s, reached on a loaded machine)
    for site in ["site-a", "site-b"] {
        assert!(s[site]["longest_without_ack_ms"].as_f64().unwrap() < 16_000.0, "{s}");
    }
    // the rejoin was seen: out of the primary component during the cut, Synced after the
    // heal, by incremental state transfer, and the writes it missed reached it
    let rejoins = m["rejoins"].as_array().unwrap();
    let j = rejoins.iter().find(|j| j["node"] == "gal-3").unwrap_or_else(|| panic!("no rejoin of gal-3: {m}"));
    assert!(j["states"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("non-Primary")), "{j}");
    let synced = j["synced_ms"].as_f64().unwrap();
    assert!(synced > to && j["after_heal_ms"].as_f64().unwrap() > 0.0, "{j}");
    assert!(j["method"].as_str().unwrap().starts_with("IST"), "{j}");
    // the others stayed: at most a donor's moment out of Synced (Joined, after serving IST)
    for o in rejoins.iter().filter(|j| j["node"] != "gal-3") {
        let out = o["synced_ms"].as_f64().unwrap() - o["left_ms"].as_f64().unwrap();
        assert!(out < 1_000.0, "{} was out of the cluster {out} ms: {o}", o["node"]);
    }
    assert_eq!(r["lost_writes"], 0);
    assert_eq!(m["updates"]["diverged_keys"].as_array().unwrap().len(), 0, "{m}");
    // the engine's own counters were read from every node
    for node in ["gal-1", "gal-2", "gal-3"] {
        assert!(m["engine"][node].get("wsrep_local_cert_failures").is_some(), "{m}");
    }
    // the auditor's reports say how gal-3 came back, and each site's writes
    let method = j["method"].as_str().unwrap();
    assert_multi_active_reports(&d, &["rejoin (gal-3)".to_string(), format!("by {method}")]);
    let (containers, networks) = labelled(Some(&run_id(r)));
    assert!(containers.is_empty() && networks.is_empty(), "left behind: {containers:?} {networks:?}");
}

/// The service's lost writes and rejoins, from its part of the results.
fn service<'a>(r: &'a Value, name: &str) -> &'a Value {
    &r["services"][name]
}

/// When each kill of service `name` took effect (the engine's record of the death, drill
/// ms), and the first and the last.
fn deaths(r: &Value, name: &str) -> (Vec<f64>, f64, f64) {
    let kills: Vec<f64> = fault_events(r, name).iter().map(|e| e["applied_ns"].as_f64().unwrap() / 1e6).collect();
    let (first, last) = (kills.iter().copied().fold(f64::MAX, f64::min), kills.iter().copied().fold(f64::MIN, f64::max));
    (kills, first, last)
}

fn fault_events(r: &Value, name: &str) -> Vec<Value> {
    events(r).into_iter().filter(|e| e["kind"] == "fault-inject" && e["service"] == name).collect()
}

/// Asserts that service `name`'s kills were requested together (drdrill's part: one task
/// fires every fault due at an offset) and landed within `spread_ms` of each other (the
/// engine's part: alone on this machine a `docker kill` of six nodes lands 140-270 ms after
/// its request). Galera counts nodes lost within `evs.suspect_timeout` (5 s) of each other
/// as lost together: no survivor has moved to a view without the first one.
fn assert_killed_together(r: &Value, name: &str, spread_ms: f64) {
    let asked: Vec<f64> = fault_events(r, name).iter().map(|e| e["t_ns"].as_f64().unwrap() / 1e6).collect();
    let asked_spread = asked.iter().copied().fold(f64::MIN, f64::max) - asked.iter().copied().fold(f64::MAX, f64::min);
    assert!(asked_spread < 50.0, "{name}: the kills were requested {asked_spread:.1} ms apart: {asked:?}");
    let (kills, first, last) = deaths(r, name);
    assert!(last - first <= spread_ms, "{name}: the kills landed {:.1} ms apart: {kills:?}", last - first);
}

/// The operator's bootstrap of service `name`, after `killed` nodes of it were killed within
/// `spread_ms` of each other: every node's saved position read (a killed node's from InnoDB, a
/// survivor's from the running server), the most advanced chosen (ties: a running node,
/// then the earliest), and
/// every killed node back in the cluster, the chosen one bootstrapped, the others by a
/// state transfer.
fn assert_bootstrapped(r: &Value, name: &str, killed: &[&str], spread_ms: f64) {
    let (kills, _, _) = deaths(r, name);
    assert_eq!(kills.len(), killed.len(), "{name}: {kills:?}");
    assert_killed_together(r, name, spread_ms);
    let res = service(r, name);
    assert!(res["lost_writes"].is_u64(), "{name}: lost writes not counted: {}", res["lost_writes"]);
    let b = &res["failover"]["bootstrap"];
    let positions = b["positions"].as_array().unwrap_or_else(|| panic!("{name}: no bootstrap: {}", res["failover"]));
    assert_eq!(positions.len(), 3, "{b}");
    for p in positions {
        let was_killed = killed.iter().any(|k| p["node"] == format!("{name}-{k}").as_str());
        let how = p["how"].as_str().unwrap();
        assert_eq!(how.contains("--wsrep-recover"), was_killed, "{p}");
        assert_eq!(how.contains("wsrep_last_committed"), !was_killed, "{p}");
    }
    // (ties: a running node, then the earliest)
    let running = |p: &Value| p["how"].as_str().unwrap().contains("running");
    let best = positions.iter().map(|p| (p["seqno"].as_u64().unwrap(), running(p))).max().unwrap();
    let first_best = positions.iter().find(|p| (p["seqno"].as_u64().unwrap(), running(p)) == best).unwrap();
    assert_eq!(b["chosen"], first_best["node"], "{b}");
    assert_eq!(res["failover"]["new_primary"], b["chosen"]);
    let m = &res["multi_active"];
    for k in killed {
        let node = format!("{name}-{k}");
        let j = m["rejoins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["node"] == node.as_str())
            .unwrap_or_else(|| panic!("no rejoin of {node}: {m}"));
        // down until the operator, paged 5 s after the kills, brought it back
        assert!(j["synced_ms"].as_f64().unwrap() > j["left_ms"].as_f64().unwrap() + 5_000.0, "{j}");
        let method = j["method"].as_str().unwrap_or_else(|| panic!("{j}"));
        let bootstrapped = b["chosen"] == node.as_str();
        assert_eq!(method.contains("bootstrapped"), bootstrapped, "{node}: {method}");
        assert!(bootstrapped || method.starts_with("IST") || method.starts_with("SST"), "{node} joined without a state transfer: {method}");
    }
    // every node a member again when the bootstrap was done
    assert!(b["joined_ms"].as_f64().unwrap() <= res["failover"]["done_ms"].as_f64().unwrap(), "{b}");
}

#[test]
fn two_nodes_killed_together_are_bootstrapped_by_the_operator_and_the_lost_writes_are_counted_per_setting() {
    on_a_quiet_run("scenarios/galera-crash-flush.yaml", &[], |d| {
        assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
        let r = &d.results;
        for name in ["flush0", "flush1"] {
            assert_bootstrapped(r, name, &["gal-1", "gal-2"], 1_000.0);
        }
        // every commit on disk and a node that never crashed: nothing acknowledged is lost
        assert_eq!(service(r, "flush1")["lost_writes"], 0);
        let (containers, networks) = labelled(Some(&run_id(r)));
        assert!(containers.is_empty() && networks.is_empty(), "left behind: {containers:?} {networks:?}");
    });
}

#[test]
fn every_node_killed_loses_under_flush_0_only_what_innodb_had_not_yet_flushed() {
    on_a_quiet_run("scenarios/galera-crash-all-flush.yaml", &[], |d| {
        assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
        let r = &d.results;
        for name in ["flush0", "flush1"] {
            assert_bootstrapped(r, name, &["gal-1", "gal-2", "gal-3"], 1_000.0);
        }
        // every commit on disk: even a crash of every node loses nothing acknowledged
        assert_eq!(service(r, "flush1")["lost_writes"], 0);
        // flush 0 writes the redo log once a second: what the most advanced node lost was
        // acknowledged within about a second before the first death, and before the last (the
        // cluster stalls its commits once a member is gone); never earlier (a lost write from
        // before that would be the harness's error)
        let (_, first_kill, last_kill) = deaths(r, "flush0");
        let lost = service(r, "flush0")["lost"].as_array().unwrap().clone();
        assert_eq!(lost.len() as u64, service(r, "flush0")["lost_writes"].as_u64().unwrap());
        for w in &lost {
            let ack = w["ack_ms"].as_f64().unwrap();
            assert!(
                ack >= first_kill - 1_100.0 && ack <= last_kill,
                "lost write {w} acknowledged {:.0} ms from the first kill",
                ack - first_kill
            );
        }
        let (containers, networks) = labelled(Some(&run_id(r)));
        assert!(containers.is_empty() && networks.is_empty(), "left behind: {containers:?} {networks:?}");
    });
}
