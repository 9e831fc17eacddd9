//! What the read-path tests recount and check, shared by tests/reads.rs and the slow group
//! (tests/seed_settings.rs): the ok reads as the history holds them, reads back in time and
//! reads of lost records recounted on our own, and the checks of the drills through a
//! kind's own read routing.
#![allow(dead_code)]
use crate::common::Drill;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// An ok read: (invoke ms, reader, writer, seen, node).
pub type OkRead = (f64, u64, u64, u64, String);

/// Every ok read of a writer's newest record in the history (not of a key), in invoke order.
pub fn ok_reads(d: &Drill) -> Vec<OkRead> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    let mut v: Vec<OkRead> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "read" && v["outcome"] == "ok" && v["key"].is_null())
        .map(|v| {
            let u = |k: &str| v[k].as_u64().unwrap_or(0);
            (v["invoke_ns"].as_f64().unwrap() / 1e6, u("reader"), u("writer"), u("seen"), v["node"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Reads back in time, recounted: per (reader, writer), a read below the most it had seen.
pub fn back_in_time(reads: &[OkRead]) -> (u64, u64) {
    back_in_time_by_part(reads, &|_| 0)
}

/// As `back_in_time`, per (reader, writer, the part of the node read): a cluster's shards
/// each hold their own of a writer's records.
pub fn back_in_time_by_part(reads: &[OkRead], part: &dyn Fn(&str) -> usize) -> (u64, u64) {
    let (mut most, mut n, mut step) = (BTreeMap::new(), 0, 0);
    for (_, reader, writer, seen, node) in reads {
        let m = most.entry((*reader, *writer, part(node))).or_insert(*seen);
        if seen < m {
            n += 1;
            step = step.max(*m - *seen);
        }
        *m = (*m).max(*seen);
    }
    (n, step)
}

/// The largest staleness (ms) of the ok reads, recounted from the history alone: for each
/// read, the earliest acknowledgement (by a node of the read node's part) of a record of
/// its writer above what it saw, acknowledged before it was invoked.
pub fn stale_max_by_part(d: &Drill, part: &dyn Fn(&str) -> usize) -> f64 {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    let mut acks: BTreeMap<(u64, usize), Vec<(f64, u64)>> = BTreeMap::new();
    for v in text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()) {
        if v["type"] == "op" && v["outcome"] == "ok" && v["key"].is_null() {
            let node = v["node"].as_str().unwrap_or("?");
            let at = v["complete_ns"].as_f64().unwrap() / 1e6;
            acks.entry((v["writer"].as_u64().unwrap(), part(node))).or_default().push((at, v["seq"].as_u64().unwrap()));
        }
    }
    let mut worst: f64 = 0.0;
    for (at, _, writer, seen, node) in ok_reads(d) {
        let missed = acks.get(&(writer, part(&node))).into_iter().flatten().filter(|a| a.0 <= at && a.1 > seen);
        if let Some(first) = missed.map(|a| a.0).reduce(f64::min) {
            worst = worst.max(at - first);
        }
    }
    worst
}

/// Reads of records the survivors lack, recounted: (reads, distinct records).
pub fn reads_of_lost(reads: &[OkRead], survivors: &BTreeSet<(u64, u64)>) -> (u64, usize) {
    let lost: Vec<(u64, u64)> = reads.iter().filter(|r| r.3 > 0 && !survivors.contains(&(r.2, r.3))).map(|r| (r.2, r.3)).collect();
    (lost.len() as u64, lost.iter().collect::<BTreeSet<_>>().len())
}

/// `results.json`'s back-in-time figures as (reads, largest step).
fn reported_back(x: &Value) -> (u64, u64) {
    (x["back_in_time"]["reads"].as_u64().unwrap(), x["back_in_time"]["largest_step"].as_u64().unwrap())
}

/// Seed 001's split under Patroni: readers through HAProxy's replica listener name the
/// node they reached, read on while the leader is down, and read nothing that is lost.
pub fn haproxy_replica_reads_beside_the_writes(d: &Drill, survivors: &BTreeSet<(u64, u64)>) {
    let r = &d.results;
    let x = &r["reads"];
    assert_eq!(x["from"], "haproxy-replica");
    let nodes: BTreeSet<&str> = x["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert!(!nodes.is_empty() && nodes.iter().all(|n| ["pg-1", "pg-2", "pg-3"].contains(n)), "{nodes:?}");
    // the replica pool served on while the leader was down (Patroni's ttl 30 s)
    let (read_rto, write_rto) = (x["rto"]["rto_ms"].as_f64().unwrap(), r["rto_ms"].as_f64().unwrap());
    assert!(read_rto * 10.0 < write_rto, "reads {read_rto} ms, writes {write_rto} ms: {x}");
    let reads = ok_reads(d);
    assert_eq!(reads_of_lost(&reads, survivors).0, x["of_lost_writes"]["reads"].as_u64().unwrap(), "{x}");
    assert_eq!(reported_back(x), back_in_time(&reads));
    let q = &r["questions"]["rto"]["services"];
    assert!(q.as_array().unwrap().iter().any(|f| f["target"] == "read_rto_ms" && f["answer"] == "yes"), "{q}");
}

/// Readers finding Redis replicas through Sentinel read on through its failover.
pub fn sentinel_replicas_read_on(d: &Drill) {
    let r = &d.results;
    let x = &r["reads"];
    // each read names the replica it reached; one that found none through the Sentinels
    // (between the promotion and the other replica's resync) names the endpoint
    let nodes: BTreeSet<&str> = x["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert!(nodes.contains("redis-2") && nodes.contains("redis-3"), "{x}");
    assert!(nodes.iter().all(|n| ["redis-2", "redis-3", "replicas"].contains(n)), "{x}");
    let (read_rto, write_rto) = (x["rto"]["rto_ms"].as_f64().unwrap(), r["rto_ms"].as_f64().unwrap());
    assert!(read_rto < write_rto, "reads {read_rto} ms, writes {write_rto} ms: {x}");
    // Redis reads look down from the writer's newest invoked record: every ok read a
    // second into the drill saw one
    let reads = ok_reads(d);
    assert!(reads.iter().filter(|r| r.0 > 1000.0).all(|r| r.3 > 0), "a read saw no record of its writer");
    assert_eq!(reported_back(x), back_in_time(&reads));
    rpo_not_promised(d);
    availability_row(d);
}

/// `rpo: none`: question 2 answers "not promised" with what was lost, never "unknown".
pub fn rpo_not_promised(d: &Drill) {
    let r = &d.results;
    let q = &r["questions"]["rpo"];
    let row = q["services"].as_array().unwrap().iter().find(|f| f["target"] == "rpo_ms").cloned().unwrap();
    assert_eq!(row["answer"], "not promised", "{q}");
    let lost = r["lost_writes"].as_u64().unwrap();
    assert!(row["note"].as_str().unwrap().starts_with(&format!("no RPO promised (`rpo: none`): {lost} acknowledged writes lost")), "{row}");
    assert_ne!(q["answer"], "unknown", "{q}");
}

/// `targets.availability`: the outage against the month's budget, the same figures in
/// results.json, in question 1's row and in its words.
pub fn availability_row(d: &Drill) {
    let r = &d.results;
    let a = &r["availability"];
    let (budget, outage, used) = (a["budget_ms"].as_f64().unwrap(), a["outage_ms"].as_f64().unwrap(), a["used_percent"].as_f64().unwrap());
    // 99.99 % of a month (a twelfth of 365.25 days)
    assert!((budget - 262_980.0).abs() < 1.0, "{a}");
    assert!(outage > 0.0 && (used - outage / budget * 100.0).abs() < 1e-9, "{a}");
    // the writes' outage is the RTO's, from the last acknowledgement before it
    assert_eq!(a["write_outage_ms"].as_f64(), r["outage_ms"].as_f64(), "{a}");
    assert_eq!(a["fit_per_period"].as_u64().unwrap(), (budget / outage).floor() as u64, "{a}");
    let rows = r["questions"]["rto"]["services"].as_array().unwrap();
    let row = rows.iter().find(|f| f["target"] == "availability").unwrap_or_else(|| panic!("no availability row: {rows:?}"));
    assert_eq!((row["figure"].as_f64(), row["limit"].as_f64()), (Some(outage), Some(budget)), "{row}");
    assert_eq!(row["answer"], if outage <= budget { "yes" } else { "no" }, "{row}");
    let words = format!("used {:.2} % of the 4.38 min a month 99.99 % allows", used);
    assert!(row["note"].as_str().unwrap().contains(&words), "{row}");
    assert!(d.stdout.contains(&words), "{}", d.stdout);
}

/// Readers on a cluster's replicas (READONLY): every replica answered reads of its own
/// shard, the killed primary's included, and went on after the fault; what failed was
/// refused by the cluster as a whole (CLUSTERDOWN); the counts and the staleness recounted
/// shard by shard.
pub fn cluster_replica_reads(d: &Drill, survivors: &BTreeSet<(u64, u64)>) {
    let r = &d.results;
    let x = &r["reads"];
    let shards = r["shards"]["shards"].as_array().unwrap();
    let replicas: BTreeSet<&str> = shards.iter().flat_map(|s| s["replicas"].as_array().unwrap()).map(|n| n.as_str().unwrap()).collect();
    let nodes: BTreeSet<&str> = x["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, replicas, "{x}");
    let part = |node: &str| {
        shards
            .iter()
            .position(|s| s["primary"] == node || s["replicas"].as_array().unwrap().iter().any(|n| n == node))
            .unwrap_or(usize::MAX)
    };
    let reads = ok_reads(d);
    // the killed primary's replica answered reads of its shard after the fault
    let p = &r["phases"];
    let (fault, detected) = (p["fault_ms"].as_f64().unwrap(), p["detected_ms"].as_f64().unwrap());
    let dead = shards.iter().find(|s| s["primary"] == p["old_primary"]).unwrap();
    let its_replica = dead["replicas"][0].as_str().unwrap();
    let served = reads.iter().filter(|rd| rd.4 == its_replica && rd.0 > fault + 500.0 && rd.0 < detected - 500.0).count();
    assert!(served > 10, "{its_replica} served {served} reads between the kill and FAIL");
    let (read_rto, write_rto) = (x["rto"]["rto_ms"].as_f64().unwrap(), r["rto_ms"].as_f64().unwrap());
    assert!(read_rto < write_rto, "reads {read_rto} ms, writes {write_rto} ms");
    assert_eq!(reads.len() as u64, x["ok"].as_u64().unwrap());
    assert_eq!(
        reads_of_lost(&reads, survivors),
        (x["of_lost_writes"]["reads"].as_u64().unwrap(), x["of_lost_writes"]["distinct_writes"].as_u64().unwrap() as usize)
    );
    assert_eq!(reported_back(x), back_in_time_by_part(&reads, &part));
    let stale = x["staleness"]["max_ms"].as_f64().unwrap();
    assert!((stale - stale_max_by_part(d, &part)).abs() < 0.01, "staleness max {stale} ms, recounted {}", stale_max_by_part(d, &part));
}

/// The largest staleness (ms) of the ok reads of shared keys, recounted from the history:
/// for each, the earliest acknowledgement, before it was invoked, of an update of its key
/// invoked after the update it showed took effect (its acknowledgement; its invoke when it
/// was never acknowledged). Also how many key reads there were.
pub fn key_stale_max(d: &Drill) -> (f64, u64) {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect();
    let ns = |v: &Value, k: &str| v[k].as_f64().unwrap();
    let updates: Vec<&Value> = lines.iter().filter(|v| v["type"] == "op" && v["key"].is_u64()).collect();
    let (mut worst, mut n): (f64, u64) = (0.0, 0);
    for r in lines.iter().filter(|v| v["type"] == "read" && v["key"].is_u64() && v["outcome"] == "ok") {
        n += 1;
        let of_key: Vec<&&Value> = updates.iter().filter(|u| u["key"] == r["key"]).collect();
        let shown = of_key.iter().find(|u| u["writer"] == r["writer"] && u["seq"] == r["seen"]);
        let took = shown.map(|u| if u["outcome"] == "ok" { ns(u, "complete_ns") } else { ns(u, "invoke_ns") });
        let at = ns(r, "invoke_ns");
        let missed = of_key
            .iter()
            .filter(|u| u["outcome"] == "ok" && ns(u, "complete_ns") <= at && took.is_none_or(|t| ns(u, "invoke_ns") > t))
            .map(|u| ns(u, "complete_ns"))
            .reduce(f64::min);
        if let Some(first) = missed {
            worst = worst.max((at - first) / 1e6);
        }
    }
    (worst, n)
}
