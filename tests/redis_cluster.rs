//! Redis Cluster run for real in Docker (issue 36): six nodes made by `redis-cli --cluster
//! create`, one primary killed, the cluster failing its shard over by itself. Lost writes
//! are cross-checked against our own read of every key from the primaries the cluster
//! names at the end; the phases against the cluster's settings.
use crate::common;
use crate::reads_checks;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The nodes' password (`cluster.auth`), as drdrill gave it to the first node on its
/// command line; None when the nodes ask for none.
fn password(r: &Value) -> Option<String> {
    let node = r["stack"]["nodes"][0]["name"].as_str().unwrap().to_string();
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Cmd}}", &container_of(r, &node)])
        .output()
        .unwrap();
    let cmd: Vec<String> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    cmd.iter().position(|a| a == "--requirepass").map(|i| cmd[i + 1].clone())
}

/// The ports of the primaries serving slots in `CLUSTER NODES` on `port` (not flagged failing).
fn serving_primaries(port: u16, password: Option<&str>) -> Vec<u16> {
    let text: String = block_on(async {
        let mut c = redis_conn(port, password).await;
        redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await.unwrap()
    });
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 8 && f[2].split(',').any(|x| x == "master") && !f[2].contains("fail"))
        .map(|f| f[1].split(['@', ',']).next().unwrap().rsplit_once(':').unwrap().1.parse().unwrap())
        .collect()
}

/// Every record the cluster holds: KEYS on each primary serving slots, as node `node`
/// lists them (`min` of them at least).
fn read_cluster_from(r: &Value, node: &str, min: usize) -> BTreeSet<(u64, u64)> {
    let pw = password(r);
    let primaries = serving_primaries(host_port(r, node), pw.as_deref());
    assert!(primaries.len() >= min, "{primaries:?}");
    primaries.into_iter().flat_map(|p| read_redis_as(p, pw.as_deref())).collect()
}

fn read_cluster(r: &Value, node: &str) -> BTreeSet<(u64, u64)> {
    read_cluster_from(r, node, 3)
}

/// The ops of the history: (node, outcome, invoke ms, complete ms, error).
fn ops(d: &Drill) -> Vec<(String, String, f64, f64, String)> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "op")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let ms = |k: &str| v[k].as_f64().unwrap() / 1e6;
            (s("node"), s("outcome"), ms("invoke_ns"), ms("complete_ns"), s("error"))
        })
        .collect()
}

#[test]
fn a_killed_primary_is_failed_over_by_the_cluster_no_sooner_than_its_node_timeout() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // seed 001's nodes ask for a password: one for this run, which the evidence never shows
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let saw = seen.clone();
    let read = move |r: &Value, node: &str| {
        let pw = password(r).expect("cluster.auth is the default: the nodes ask for a password");
        let refused: redis::RedisResult<()> = block_on(async {
            let mut c = redis_conn(host_port(r, node), None).await;
            redis::cmd("SET").arg("x").arg("1").query_async(&mut c).await
        });
        assert!(refused.as_ref().is_err_and(|e| e.to_string().contains("NOAUTH")), "{refused:?}");
        *saw.lock().unwrap() = Some(pw);
        read_cluster(r, node)
    };
    // the seed's cluster, with readers on its replicas (scenarios/reads-redis-cluster.yaml)
    let Checked { d, lost, survivors, .. } = drill_cross_checked_by("scenarios/reads-redis-cluster.yaml", &read, &[]);
    let pw = seen.lock().unwrap().clone().unwrap();
    assert_never_written(&d.dir, &pw);
    assert_orchestrator_failed_over(&d);
    let r = &d.results;
    let p = &r["phases"];
    assert_phases_ordered(p);
    assert_phases_add_up(r);
    assert_eq!(p["old_primary"], "rc-1");
    // the cluster marks a node PFAIL only after cluster-node-timeout (5000 ms) without an answer
    let t = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k}: {p}"));
    assert!(t("detected_ms") - t("fault_ms") >= 5000.0, "FAIL agreed before cluster-node-timeout: {p}");
    assert!(survivors.len() > 1000, "{}", survivors.len());
    reads_checks::cluster_replica_reads(&d, &survivors);
    assert_eq!(lost.len() as u64, r["lost_writes"].as_u64().unwrap());
    // the other shards took writes while the killed one was down, until the cluster agreed
    // on FAIL; with full coverage (the default) every shard then refused writes until the
    // promotion
    let ops = ops(&d);
    let (fault, detected, promoted) = (t("fault_ms"), t("detected_ms"), t("promoted_ms"));
    let others_ok = ops.iter().filter(|o| o.0 != "rc-1" && o.1 == "ok" && o.2 > fault + 500.0 && o.3 < detected - 500.0).count();
    assert!(others_ok > 100, "the other shards stopped taking writes before FAIL was agreed: {others_ok} acknowledged");
    let down = ops.iter().filter(|o| o.0 != "rc-1" && o.4.contains("CLUSTERDOWN") && o.2 >= fault && o.3 <= promoted + 1000.0).count();
    assert!(down > 0, "no write to another shard was refused with CLUSTERDOWN while the shard had no primary");
    assert_shards_add_up(r);
    // per shard: only the killed primary's shard has an RTO; the others' outage is the
    // whole cluster refusing writes, from about FAIL to about the promotion
    let shards = r["shards"]["shards"].as_array().unwrap();
    for sh in shards {
        let outage = sh["outage_ms"].as_f64().unwrap();
        if sh["primary"] == "rc-1" {
            assert!((sh["rto_ms"].as_f64().unwrap() - r["rto_ms"].as_f64().unwrap()).abs() < 1500.0, "{sh}");
        } else {
            assert!(sh["rto_ms"].is_null(), "{sh}");
            assert!(outage < promoted - fault, "shard {sh} was down longer than the failover");
            assert!(sh["outage_start_ms"].as_f64().unwrap() > fault + 4000.0, "{sh}");
        }
    }
    // the dry run's slot split (redis-cli's arithmetic, redone) is the one the real cluster got
    let plan = String::from_utf8_lossy(&drdrill(&["run", "scenarios/redis-cluster-master-kill.yaml", "--dry-run"]).stdout).to_string();
    for sh in shards {
        let said = format!("{} {} slots {}", sh["shard"].as_str().unwrap(), sh["primary"].as_str().unwrap(), sh["slots"].as_str().unwrap());
        assert!(plan.contains(&said), "the dry run does not say {said}:\n{plan}");
    }
    let whole = r["shards"]["whole_down"].as_array().unwrap();
    assert!(!whole.is_empty(), "with full coverage the whole cluster refuses writes for a while");
    for w in whole {
        let (a, b) = (w[0].as_f64().unwrap(), w[1].as_f64().unwrap());
        assert!(
            a >= detected - 1000.0 && b <= promoted + 1000.0,
            "whole-cluster window {a}..{b} outside FAIL {detected} .. promotion {promoted}"
        );
    }
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}

/// No file of the evidence folder (the history decompressed) holds `secret`.
fn assert_never_written(dir: &std::path::Path, secret: &str) {
    let mut files = vec![dir.to_path_buf()];
    let mut read = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = match p.extension().is_some_and(|e| e == "zst") {
            true => drdrill::history::read_text(&p).unwrap(),
            false => String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
        };
        assert!(!text.contains(secret), "{} holds the nodes' password", p.display());
        read += 1;
    }
    assert!(read > 5, "{read} files read in {}", dir.display());
}

/// Every write is counted in exactly one shard, and so is every lost one.
fn assert_shards_add_up(r: &Value) {
    let shards = r["shards"]["shards"].as_array().unwrap_or_else(|| panic!("no shards: {}", r["shards"]));
    assert_eq!(shards.len(), 3);
    let sum = |k: &str| shards.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("acked"), r["acked_writes"].as_u64().unwrap());
    assert_eq!(sum("failed"), r["failed_writes"].as_u64().unwrap());
    assert_eq!(sum("unknown"), r["unknown_writes"].as_u64().unwrap());
    assert_eq!(sum("lost"), r["lost_writes"].as_u64().unwrap());
    let share: f64 = shards.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9, "{share}");
}

/// A primary cut off from every other node but not from its clients keeps acknowledging
/// writes until it has missed a majority of primaries for cluster-node-timeout; the
/// majority promotes its replica meanwhile, and at the heal those writes are lost. Every
/// lost write went to the cut-off primary and was acknowledged between the cut and
/// cluster-node-timeout later, plus the half timeout a node may wait before it pings a
/// peer that just answered, plus one op timeout. The cut is the moment its last rule was in
/// place (`fault_applied_ms`): the rules go in node by node, and a CI run saw them take
/// 500 ms, the first lost write 525 ms after the injection began.
#[test]
fn a_primary_cut_off_with_its_clients_loses_what_it_acknowledged_alone() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked_by("scenarios/redis-cluster-minority-partition.yaml", &read_cluster, &[]);
    assert_orchestrator_failed_over(&d);
    let r = &d.results;
    assert!(lost.len() > 100, "the cut-off primary's acknowledgements must be lost: {}", lost.len());
    let (began, cut) = (r["fault_ms"].as_f64().unwrap(), r["fault_applied_ms"].as_f64().unwrap());
    let (node_timeout, op_timeout) = (5000.0, 500.0);
    let sent_to: std::collections::BTreeMap<(u64, u64), String> = {
        let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "op" && v["outcome"] == "ok")
            .map(|v| ((v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap()), v["node"].as_str().unwrap().to_string()))
            .collect()
    };
    for l in r["lost"].as_array().unwrap() {
        let key = (l["writer"].as_u64().unwrap(), l["seq"].as_u64().unwrap());
        assert_eq!(sent_to[&key], "rc-1", "lost write {key:?} was not acknowledged by the cut-off primary");
        let ack = l["ack_ms"].as_f64().unwrap();
        let bound = cut + node_timeout * 1.5 + op_timeout;
        assert!(ack >= began - 100.0 && ack <= bound, "lost write acknowledged at {ack} ms, outside the cut {began} .. {bound} ms");
    }
    let iso = &r["isolated_primary"];
    assert_eq!(iso["node"], "rc-1", "{iso}");
    assert_eq!(iso["lost_found_here"].as_u64().unwrap(), lost.len() as u64, "every lost write was on rc-1 before the heal: {iso}");
    assert_shards_add_up(r);
    let shard1 = &r["shards"]["shards"][0];
    assert_eq!((shard1["primary"].as_str(), shard1["lost"].as_u64()), (Some("rc-1"), Some(lost.len() as u64)), "{shard1}");
    assert!(shard1["rto_ms"].is_number(), "the shard whose replica was promoted has an RTO: {shard1}");
    let rpo = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "rpo_ms").unwrap();
    assert_eq!(rpo["verdict"], "fail");
    assert_eq!(d.code, 1, "a missed target exits 1\n{}", d.stdout);
}

/// The same kill in two clusters side by side (two services of one kind, their nodes named
/// after them): with full coverage (the default) the whole cluster refuses writes until the
/// promotion; without, the other shards never refuse one.
#[test]
fn without_full_coverage_the_other_shards_never_stop() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/redis-cluster-full-coverage.yaml", &[]);
    let r = &d.results;
    let (full, partial) = (&r["services"]["full"], &r["services"]["partial"]);
    assert_eq!(full["stack"]["initial_primary"], "full-rc-1", "{}", full["stack"]);
    assert_eq!(partial["stack"]["initial_primary"], "partial-rc-1");
    for s in [full, partial] {
        assert_shards_add_up(s);
    }
    assert!(!full["shards"]["whole_down"].as_array().unwrap().is_empty(), "{}", full["shards"]);
    assert!(partial["shards"]["whole_down"].as_array().unwrap().is_empty(), "{}", partial["shards"]);
    for sh in &partial["shards"]["shards"].as_array().unwrap()[1..] {
        assert_eq!(
            (sh["failed"].as_u64(), sh["unknown"].as_u64()),
            (Some(0), Some(0)),
            "a shard the kill did not hit refused writes: {sh}"
        );
        assert!(sh["outage_ms"].is_null(), "{sh}");
    }
    for sh in &full["shards"]["shards"].as_array().unwrap()[1..] {
        assert!(sh["failed"].as_u64().unwrap() > 0, "with full coverage every shard refuses writes for a while: {sh}");
    }
    let (c, n) = labelled(Some(&run_id(r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}

/// Both nodes of shard 2 killed at once: no replica is left to promote. With full coverage
/// (the default) the whole cluster stops taking writes for good once FAIL is agreed; shard
/// 2's acknowledged writes are on no live node and count as lost, and only those.
#[test]
fn a_shard_that_loses_every_node_stops_the_cluster_and_its_writes_count_as_lost() {
    // shard 2 has no primary serving it: two primaries, as rc-1 sees them
    let read_live = |r: &Value, _: &str| read_cluster_from(r, "rc-1", 2);
    let Checked { d, lost, survivors, .. } = drill_cross_checked_by("scenarios/redis-cluster-shard-lost.yaml", &read_live, &[]);
    let r = &d.results;
    assert_shards_add_up(r);
    assert_eq!(lost.len() as u64, r["lost_writes"].as_u64().unwrap());
    assert!(survivors.len() > 1000, "{}", survivors.len());
    let shards = r["shards"]["shards"].as_array().unwrap();
    let lost_shard = &shards[1];
    assert_eq!((lost_shard["primary"].as_str(), lost_shard["hit"].as_bool()), (Some("rc-2"), Some(true)), "{lost_shard}");
    assert!(lost_shard["rto_ms"].is_null(), "a lost shard never recovers: {lost_shard}");
    assert!(lost_shard["acked"].as_u64().unwrap() > 100, "{lost_shard}");
    assert_eq!(lost_shard["lost"], lost_shard["acked"], "every write shard 2 acknowledged is on no live node: {lost_shard}");
    for sh in [&shards[0], &shards[2]] {
        assert_eq!((sh["lost"].as_u64(), sh["hit"].as_bool()), (Some(0), Some(false)), "{sh}");
    }
    // FAIL agreed, then no shard took a write until the workload stopped
    let whole = r["shards"]["whole_down"].as_array().unwrap();
    assert_eq!(whole.len(), 1, "{whole:?}");
    let fault = r["fault_ms"].as_f64().unwrap();
    assert!(whole[0][0].as_f64().unwrap() >= fault + 5000.0, "the cluster stopped before cluster-node-timeout: {whole:?}");
    assert!(r["rto_ms"].is_null(), "{}", r["rto_ms"]);
    let errors = r["errors"].to_string();
    assert!(errors.contains("slots 5461-10922 could not be read"), "{errors}");
    assert_eq!(d.code, 1, "missed targets exit 1\n{}", d.stdout);
}

/// A cluster across three sites, each primary's replica in the next site; dc1 (rc-1, and
/// rc-6 replicating rc-3) goes dark for its peers and the clients. The two other sites'
/// primaries are a majority: they fail shard 1 over to rc-4 in dc2. The service has
/// recovered only once shard 1 has, whatever the other shards did meanwhile.
#[test]
fn a_dark_site_loses_its_primary_to_the_replica_in_the_next_site() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, lost, .. } = drill_cross_checked_by("scenarios/redis-cluster-site-isolation.yaml", &read_cluster, &[]);
    assert_orchestrator_failed_over(&d);
    let r = &d.results;
    let states: Vec<String> =
        r["stack"]["replication_at_start"].as_array().unwrap().iter().map(|h| format!("{} {}", h["node"], h["state"])).collect();
    assert_eq!(states, [r#""rc-4" "replica of rc-1""#, r#""rc-5" "replica of rc-2""#, r#""rc-6" "replica of rc-3""#]);
    let p = &r["phases"];
    assert_eq!((p["old_primary"].as_str(), p["new_primary"].as_str()), (Some("rc-1"), Some("rc-4")), "{p}");
    let t = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k}: {p}"));
    assert!(t("detected_ms") - t("fault_ms") >= 5000.0, "FAIL agreed before cluster-node-timeout: {p}");
    assert_shards_add_up(r);
    assert_eq!(lost.len() as u64, r["lost_writes"].as_u64().unwrap());
    let shard1 = &r["shards"]["shards"][0];
    assert_eq!((shard1["primary"].as_str(), shard1["hit"].as_bool()), (Some("rc-1"), Some(true)), "{shard1}");
    let service_back = r["recovered_at_ms"].as_f64().unwrap();
    assert!(
        service_back >= shard1["recovered_at_ms"].as_f64().unwrap() - 0.001,
        "the service recovered before shard 1: {service_back} {shard1}"
    );
    assert!(t("stabilization_ms") >= 0.0, "{p}");
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}
