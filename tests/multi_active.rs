//! Multi-active PostgreSQL through pglogical, run for real in Docker (issue 37): two
//! regions, each writing to its own node, cut apart for 20 s; then the same with one
//! region's clock 2 s behind. The updates are judged again here, independently, from the
//! history and every node's final keys (multi-active-keys.json).
use crate::common;
use crate::reads_checks;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// One acknowledged update of the history.
struct Upd {
    key: u64,
    value: u64,
    site: String,
    invoke_ms: f64,
    complete_ms: f64,
}

fn site_of(node: &str) -> String {
    match node {
        "pgl-1" => "cloud-a".into(),
        "pgl-2" => "cloud-b".into(),
        other => panic!("a write to {other}"),
    }
}

/// Every op of the history as JSON.
fn ops(d: &Drill) -> Vec<Value> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "op").collect()
}

fn updates(d: &Drill) -> Vec<Upd> {
    ops(d)
        .into_iter()
        .filter(|v| v["outcome"] == "ok" && v.get("key").is_some())
        .map(|v| Upd {
            key: v["key"].as_u64().unwrap(),
            value: (v["writer"].as_u64().unwrap() << 40) | v["seq"].as_u64().unwrap(),
            site: site_of(v["node"].as_str().unwrap()),
            invoke_ms: v["invoke_ns"].as_f64().unwrap() / 1e6,
            complete_ms: v["complete_ns"].as_f64().unwrap() / 1e6,
        })
        .collect()
}

/// Each node's final keys: key -> value, from the evidence file.
fn finals(d: &Drill) -> BTreeMap<String, BTreeMap<u64, u64>> {
    let text = std::fs::read_to_string(d.dir.join("multi-active-keys.json")).unwrap();
    let raw: BTreeMap<String, BTreeMap<String, (u64, u64)>> = serde_json::from_str(&text).unwrap();
    raw.into_iter().map(|(n, keys)| (n, keys.into_iter().map(|(k, (w, s))| (k.parse().unwrap(), (w << 40) | s)).collect())).collect()
}

/// (conflicts, lost updates) counted here: against each key's final value, an update from
/// the other site that overlapped it or was acknowledged on the other side of the cut is a
/// conflict; one invoked after it had completed is lost.
fn count(d: &Drill, cut: (f64, f64)) -> (u64, u64) {
    let fin = finals(d);
    let first = fin.values().next().unwrap();
    assert!(fin.values().all(|f| f == first), "the nodes differ at the end");
    let ups = updates(d);
    let (mut conflicts, mut lost) = (0, 0);
    for u in &ups {
        let Some(s) = first.get(&u.key).and_then(|v| ups.iter().find(|x| x.value == *v)) else { continue };
        if u.value == s.value {
            continue;
        }
        let within = |x: &Upd| x.complete_ms >= cut.0 && x.complete_ms <= cut.1;
        if u.invoke_ms > s.complete_ms {
            lost += 1;
        } else if u.site != s.site && (u.invoke_ms <= s.complete_ms && s.invoke_ms <= u.complete_ms || within(u) && within(s)) {
            conflicts += 1;
        }
    }
    (conflicts, lost)
}

fn cut(r: &Value) -> (f64, f64) {
    let c = &r["multi_active"]["cuts"][0];
    (c["from_ms"].as_f64().unwrap(), c["to_ms"].as_f64().unwrap())
}

/// Both regions wrote through the cut, and the history agrees with the per-site counts.
fn assert_both_regions_wrote_through_the_cut(d: &Drill) {
    let r = &d.results;
    let (from, to) = cut(r);
    assert!(to - from >= 19_000.0, "the cut lasted {} ms", to - from);
    for (node, site) in [("pgl-1", "cloud-a"), ("pgl-2", "cloud-b")] {
        let during = ops(d)
            .iter()
            .filter(|v| v["node"] == node && v["outcome"] == "ok")
            .filter(|v| (from..to).contains(&(v["complete_ns"].as_f64().unwrap() / 1e6)))
            .count();
        assert!(during > 500, "{site} acknowledged {during} writes during the cut");
        let s = &r["multi_active"]["sites"][site];
        assert!(s["acked"].as_u64().unwrap() > 1000 && s["failed"] == 0, "{s}");
    }
}

fn assert_nothing_left(r: &Value) {
    let (containers, networks) = labelled(Some(&run_id(r)));
    assert!(containers.is_empty() && networks.is_empty(), "left behind: {containers:?} {networks:?}");
}

#[test]
fn two_regions_cut_apart_keep_writing_resolve_conflicts_and_converge() {
    // the same drill with two readers in cloud-b (scenarios/reads-two-regions-cut.yaml)
    let d = run_drill("scenarios/reads-two-regions-cut.yaml", &[]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    let m = &r["multi_active"];
    assert_both_regions_wrote_through_the_cut(&d);
    // correct clocks: last-write-wins never keeps an older write over a newer one
    assert_eq!(m["updates"]["lost_updates"].as_array().unwrap().len(), 0, "{m}");
    assert_eq!(m["updates"]["diverged_keys"].as_array().unwrap().len(), 0, "{m}");
    let (conflicts, lost) = count(&d, cut(r));
    assert_eq!(lost, 0);
    assert_eq!(m["updates"]["conflicts"].as_u64().unwrap(), conflicts, "{m}");
    assert!(conflicts > 0, "two regions writing 50 keys through a 20 s cut made no conflict: {m}");
    // the nodes agreed after the heal, within the wait drdrill made once writes stopped
    let converged = m["converged_after_heal_ms"].as_f64().expect("converged");
    let waited = m["agreement_waited_ms"].as_f64().unwrap();
    let (_, heal) = cut(r);
    // (the wait began once the writes in flight were answered and the faults healed, a
    // moment after the workload's stop)
    let began = m["agreement_started_ms"].as_f64().unwrap();
    let stop = events(r).iter().find(|e| e["kind"] == "workload-stop").map(|e| e["t_ns"].as_f64().unwrap() / 1e6).unwrap();
    assert!(began >= stop, "the wait began at {began} ms, before the workload stopped ({stop} ms)");
    assert!(converged > 0.0 && converged <= began - heal + waited + 1.0, "converged {converged}, heal {heal}, wait {began} + {waited}");
    // pglogical logged conflicts on both nodes
    for node in ["pgl-1", "pgl-2"] {
        assert!(m["engine"][node]["conflicts logged"].as_u64().unwrap() > 0, "{m}");
    }
    assert_eq!(r["lost_writes"], 0, "{}", r["lost_writes"]);
    // the auditor's reports say it all: each region's writes, the conflicts, the agreement
    let agreed = [format!("{conflicts} updates discarded in conflicts"), "after the heal".to_string()];
    assert_multi_active_reports(&d, &agreed);
    readers_in_a_cut_off_region_read_on_stale(&d);
    assert_nothing_left(r);
}

/// cloud-b's readers read their own node through the cut: never a failure, every second
/// read one key's value; what they showed grew stale by the cut's length; the largest
/// staleness recounted from the history alone (records and keys).
fn readers_in_a_cut_off_region_read_on_stale(d: &Drill) {
    let x = &d.results["reads"];
    assert_eq!((x["fail"].as_u64(), x["unknown"].as_u64()), (Some(0), Some(0)), "{x}");
    let (key_max, key_reads) = reads_checks::key_stale_max(d);
    assert_eq!(x["key_reads"].as_u64().unwrap(), key_reads, "{x}");
    assert!(key_reads * 2 >= x["total"].as_u64().unwrap() - 2, "every second read is a key's: {x}");
    let max = x["staleness"]["max_ms"].as_f64().unwrap();
    assert!(max > 15_000.0, "a 20 s cut left the reads at most {max} ms stale: {x}");
    let recounted = key_max.max(reads_checks::stale_max_by_part(d, &|_| 0));
    assert!((max - recounted).abs() < 0.01, "staleness max {max} ms, recounted {recounted} ms");
}

#[test]
fn a_region_two_seconds_behind_loses_updates_that_came_later() {
    let d = run_drill("scenarios/multi-active-clock-skew.yaml", &[]);
    assert_eq!(d.code, 1, "the lost-updates target fails on purpose\n{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    // the skew was read back from the skewed server
    let skew = events(r).into_iter().find(|e| e["kind"] == "fault-inject" && e["fault"] == 0).unwrap();
    let shown: f64 = skew["detail"].as_str().unwrap().split("clock reads ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((shown + 2000.0).abs() <= 100.0, "{skew}");
    assert_both_regions_wrote_through_the_cut(&d);
    let lost = r["multi_active"]["updates"]["lost_updates"].as_array().unwrap();
    assert!(!lost.is_empty(), "{}", r["multi_active"]);
    // each names a write that completed before the lost one began, from the other region:
    // the skewed region's newer write lost to the correct region's older one
    for l in lost {
        assert!(l["survivor_completed_ms"].as_f64().unwrap() < l["invoked_ms"].as_f64().unwrap(), "{l}");
        assert_eq!((l["site"].as_str(), l["survivor_site"].as_str()), (Some("cloud-b"), Some("cloud-a")), "{l}");
    }
    let (conflicts, n) = count(&d, cut(r));
    assert_eq!(n, lost.len() as u64);
    assert_eq!(r["multi_active"]["updates"]["conflicts"].as_u64().unwrap(), conflicts);
    let target = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "max_lost_updates").unwrap();
    assert_eq!(target["verdict"], "fail");
    assert_nothing_left(r);
}

#[test]
fn a_tie_that_last_update_wins_cannot_break_leaves_the_key_diverged_and_is_explained() {
    let d = run_drill("scenarios/multi-active-tie.yaml", &[]);
    assert_eq!(d.code, 1, "the diverged-keys target fails on purpose\n{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    let keys = r["multi_active"]["updates"]["diverged_keys"].as_array().unwrap().clone();
    assert!(!keys.is_empty(), "two regions updating one key with stopped clocks left nothing diverged");
    for k in &keys {
        // a tie, shown by the engine's own stamps: each node holds the other region's write,
        // both committed at the same instant, each applied from the other node
        assert_eq!(k["cause"], "tie", "{k}");
        let held = k["held"].as_array().unwrap();
        assert_eq!(held.len(), 2, "{k}");
        let stamps: Vec<&str> = held.iter().map(|h| h["committed"].as_str().expect("a commit stamp")).collect();
        assert_eq!(stamps[0], stamps[1], "{k}");
        for h in held {
            let (node, origin, site) = (h["node"].as_str().unwrap(), h["origin"].as_str().unwrap(), h["site"].as_str().unwrap());
            assert_ne!(origin, node, "{node} kept a write applied from the other region: {k}");
            assert_ne!(site, site_of(node).as_str(), "{node} holds the other site's write: {k}");
            assert!(h["invoked_ms"].as_f64().unwrap() > 2_000.0, "written after the clocks stopped: {k}");
        }
        assert_ne!(held[0]["writer"], held[1]["writer"], "{k}");
    }
    assert_eq!(r["lost_writes"], 0);
    assert!(
        d.stdout.contains("(tie)") && d.stdout.contains("committed at the same instant"),
        "the terminal explains the key: {}",
        d.stdout
    );
    let md = std::fs::read_to_string(d.dir.join("report.md")).unwrap();
    assert!(md.contains("committed at the same instant"), "report.md explains the key");
    assert_nothing_left(r);
}
