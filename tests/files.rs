//! The files kind in real containers: nginx taking uploads on the main server, the mirror
//! kept by rsync every 2 s or by lsyncd, the main server killed. What drdrill counts lost
//! is re-derived from history.jsonl.zst and our own read of the mirror (a listing, then
//! each file checked whole); the mirror's lag against the tool's known period.
use crate::common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// One GET on 127.0.0.1:`port` (HTTP/1.0, the connection closed after it): the body.
fn get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the mirror");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer") + 4;
    let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    (status, raw[at..].to_vec())
}

/// Every whole upload on a files node, by our own reading: `drdrill-w<writer>-s<seq>`
/// whose content is the header, the payload of the length it says, and the trailer.
fn read_files(port: u16) -> BTreeSet<(u64, u64)> {
    read_revisions(port).into_keys().collect()
}

/// As `read_files`, each upload with the revision its header names (0: as first written).
fn read_revisions(port: u16) -> BTreeMap<(u64, u64), u64> {
    let (status, listing) = get(port, "/files/");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&listing));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&listing).unwrap();
    let mut out = BTreeMap::new();
    for e in entries.iter().filter(|e| e["type"] == "file") {
        let name = e["name"].as_str().unwrap();
        let Some((w, s)) = name.strip_prefix("drdrill-w").and_then(|r| r.split_once("-s")) else { continue };
        let (w, s): (u64, u64) = (w.parse().unwrap(), s.parse().unwrap());
        let (_, body) = get(port, &format!("/files/{name}"));
        let text = String::from_utf8(body).unwrap();
        let (header, rest) = text.split_once('\n').unwrap();
        let (rev, n) = header.strip_prefix(&format!("drdrill upload writer={w} seq={s} rev=")).unwrap().split_once(" bytes=").unwrap();
        let n: usize = n.parse().unwrap();
        assert_eq!(rest.len(), n + 6, "{name} is torn");
        assert!(rest.ends_with("\n.end\n"), "{name} is torn");
        out.insert((w, s), rev.parse().unwrap());
    }
    out
}

fn lag_of(r: &serde_json::Value, node: &str) -> serde_json::Value {
    r["replica_lag"]["replicas"].as_array().unwrap().iter().find(|x| x["node"] == node).unwrap()["overall"].clone()
}

const RSYNC: &str = "scenarios/files-rsync-main-lost.yaml";

/// What drdrill counts equals our own read on any host; what the last run missed (the
/// loss, the lag) depends on how long rsync's runs took, so those bounds are held on a
/// quiet run (a run slowed on a saturated host once copied every rewrite in flight).
#[test]
fn rsync_every_2_s_loses_only_what_its_last_run_did_not_copy_and_the_mirror_lags_by_the_period() {
    let run = || {
        let run = drill_revised(RSYNC, read_revisions);
        assert_eq!(run.c.d.results["stack"]["final_primary"], "files-2");
        check_changes(&run.c, &run.revisions);
        run
    };
    held_on_a_quiet_run(RSYNC, run, |run| rsync_bounds(&run.c, &run.revisions), quiet_log);
}

/// The rsync drill's timing-dependent bounds: the loss is the last run's, within the
/// period and a run; the mirror lags by where in the period a write fell.
fn rsync_bounds(c: &Checked, revisions: &BTreeMap<(u64, u64), u64>) {
    let r = &c.d.results;
    assert_eq!(c.d.code, 0, "{}", c.d.stdout);
    // a file acknowledged (written, rewritten or deleted) more than one period and a run's
    // time before the kill was copied by a run that finished: none of those is lost; the
    // lost ones are the last run's
    let fault = r["fault_applied_ms"].as_f64().unwrap();
    let acks = op_ack_times(&c.d.dir);
    let rewrites_lost = lost_entries(r, "rewrite");
    for k in c.lost.iter().chain(&rewrites_lost) {
        assert!(acks[k].1 > fault - 2600.0, "{k:?} acknowledged at {} ms, the main killed at {fault} ms", acks[k].1);
    }
    let mirrored_before = ack_times(&c.d.dir).iter().filter(|(k, (_, ack))| *ack < fault - 2600.0 && c.survivors.contains(k)).count();
    assert!(mirrored_before > 50, "only {mirrored_before} files from before the last run are on the mirror");
    assert!(r["rpo_ms"].as_f64().unwrap() <= 2600.0, "rpo {} ms", r["rpo_ms"]);
    changes_exercised(c, revisions);
    // the heartbeat file lags by where in the 2 s period it was written: p50 about 1 s; at
    // most from just after one run's scan to the end of the next run, which starts a period
    // (or the longer run) later: the period and two runs at worst, each as long as the main
    // server said (a run's ssh and rsync take 0.1 s on an idle host, 0.9 s once beside a
    // saturated one), plus the replica reads' poll
    let lag = lag_of(r, "files-2");
    let (p50, max) = (lag["p50_ms"].as_f64().unwrap(), lag["max_ms"].as_f64().unwrap());
    let run = longest_rsync_run_ms(&c.d.dir.join("logs/files-1.log"));
    assert!((500.0..1700.0).contains(&p50), "lag p50 {p50} ms for a 2 s period");
    let bound = 2000f64.max(run) + run + 100.0;
    assert!((1500.0..bound).contains(&max), "lag max {max} ms for a 2 s period whose longest run took {run} ms");
    assert!(c.d.stdout.contains("mirrored (rsync -a --delete every 2 s)"), "{}", c.d.stdout);
}

/// The longest rsync run the main server's log tells of ("drdrill: rsync run took 0.123 s").
fn longest_rsync_run_ms(log: &std::path::Path) -> f64 {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let took = text.lines().filter_map(|l| l.split("rsync run took ").nth(1)?.split(' ').next()?.parse::<f64>().ok());
    let longest = took.map(|s| s * 1000.0).reduce(f64::max);
    longest.unwrap_or_else(|| panic!("no rsync run in {}:\n{text}", log.display()))
}

/// The rewrites and deletes made since rsync's last run are not on the mirror: drdrill
/// counts the deletes undone (the file is back) and the rewrites lost (an older revision),
/// as our own read of the mirror (`revisions`) and the history say.
fn check_changes(c: &Checked, revisions: &BTreeMap<(u64, u64), u64>) {
    let r = &c.d.results;
    let (gone, acked_deletes) = deletes(&c.d.dir);
    let undone: BTreeSet<(u64, u64)> = acked_deletes.iter().filter(|(rec, _)| revisions.contains_key(rec)).map(|(_, op)| *op).collect();
    assert_eq!(lost_entries(r, "delete"), undone, "deletes undone");
    // a rewrite is lost when the mirror holds an older revision, or no file (unless a delete
    // may have removed it); a file deleted is judged by its delete alone
    let created = recreated(&c.d.dir);
    let lost_rewrite = |(rec, rev): &((u64, u64), u64)| match revisions.get(rec) {
        // before a rewrite that found the file absent: lost by then
        _ if created.get(rec).is_some_and(|k| rev < k) => true,
        _ if acked_deletes.contains_key(rec) => false,
        Some(found) => found < rev,
        None => !gone.contains(rec),
    };
    let rewrites = acked_rewrites(&c.d.dir);
    let ours: BTreeSet<(u64, u64)> = rewrites.iter().filter(|(_, rr)| lost_rewrite(rr)).map(|(op, _)| *op).collect();
    assert_eq!(lost_entries(r, "rewrite"), ours, "rewrites lost");
    let ch = &r["changes"];
    assert_eq!(ch["deletes_undone"].as_u64(), Some(undone.len() as u64), "{ch}");
    assert_eq!(ch["rewrites_lost"].as_u64(), Some(ours.len() as u64), "{ch}");
    assert_eq!(
        (ch["deletes_acked"].as_u64(), ch["rewrites_acked"].as_u64()),
        (Some(acked_deletes.len() as u64), Some(rewrites.len() as u64))
    );
    assert!(c.d.stdout.contains("deletes undone"), "{}", c.d.stdout);
}

/// The last run missed some deletes and some rewrites; the earlier runs copied the rest
/// (which of them the killed run got depends on how long it took).
fn changes_exercised(c: &Checked, revisions: &BTreeMap<(u64, u64), u64>) {
    let ch = &c.d.results["changes"];
    let n = |k: &str| ch[k].as_u64().unwrap();
    assert!(n("deletes_undone") > 0 && n("rewrites_lost") > 0, "{ch}");
    assert!(n("deletes_acked") > 2 * n("deletes_undone") && n("rewrites_acked") > 2 * n("rewrites_lost"), "{ch}");
    assert!(revisions.values().any(|&rev| rev > 0), "no rewritten file on the mirror");
}

#[test]
fn lsyncd_at_its_default_delay_holds_back_every_upload_of_its_first_15_s_and_the_drill_fails_on_it() {
    let c = drill_cross_checked("scenarios/files-lsyncd-main-lost.yaml", read_files, &[]);
    let r = &c.d.results;
    assert_eq!(c.d.code, 1, "fails on purpose on rpo_ms: {}", c.d.stdout);
    // every upload acknowledged before the kill landed was still in lsyncd's first batch
    let fault = r["fault_applied_ms"].as_f64().unwrap();
    let acks = ack_times(&c.d.dir);
    let before: BTreeSet<(u64, u64)> = acks.iter().filter(|(_, (_, ack))| *ack < fault).map(|(k, _)| *k).collect();
    assert!(before.len() > 150, "{} uploads before the kill", before.len());
    assert_eq!(c.lost, before, "lost exactly the uploads acknowledged before the kill");
    assert!(r["rpo_ms"].as_f64().unwrap() > 4500.0, "rpo {} ms", r["rpo_ms"]);
    let t = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "rpo_ms").unwrap();
    assert_eq!(t["verdict"], "fail", "{t}");
}

#[test]
fn lsyncd_with_a_1_s_delay_mirrors_within_its_batch() {
    let src = std::fs::read_to_string(root().join("scenarios/files-lsyncd-main-lost.yaml")).unwrap();
    let src = src
        .replace("    # delay_s: 15 ", "    delay_s: 1\n    # was 15 ")
        .replace("name: files-lsyncd-main-lost", "name: files-lsyncd-delay-1")
        .replace("  rpo_ms: 1000 ", "  rpo_ms: 2500 ");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files-lsyncd-delay-1.yaml");
    std::fs::write(&path, src).unwrap();
    // a batch's timing depends on the pace of lsyncd's own loop: held on a quiet run (a host
    // 92 % busy at the median once stretched the lag past 2 s)
    checked_on_a_quiet_run(path.to_str().unwrap(), read_files, &[], |c| {
        let r = &c.d.results;
        assert_eq!(c.d.code, 0, "{}", c.d.stdout);
        let lag = lag_of(r, "files-2");
        let (p50, max) = (lag["p50_ms"].as_f64().unwrap(), lag["max_ms"].as_f64().unwrap());
        // a batch is flushed 1 s after its first change: every heartbeat waits up to 1 s
        assert!((100.0..1200.0).contains(&p50) && max < 2000.0, "lag p50 {p50} ms, max {max} ms for a 1 s delay");
        let fault = r["fault_applied_ms"].as_f64().unwrap();
        let acks = ack_times(&c.d.dir);
        for k in &c.lost {
            assert!(acks[k].1 > fault - 2000.0, "{k:?} acknowledged at {} ms, the main killed at {fault} ms", acks[k].1);
        }
    });
}

/// Seed 004's one Keepalived for the whole server: the main server's files, MariaDB and
/// Redis killed at once; the backup's notify_master makes its mirror the source, then
/// promotes db-2 and redis-2, in that order. Each service's clients go through the VIP;
/// drdrill promotes nothing, and each service's losses equal our own read of it.
#[test]
fn one_keepalived_moves_the_vip_and_promotes_the_backups_files_mariadb_and_redis() {
    let d = run_drill("scenarios/seed-004-one-keepalived.yaml", &["--keep"]);
    let r = d.results.clone();
    let (files, mysql, redis) = (service_drill(&d, "files"), service_drill(&d, "mysql"), service_drill(&d, "redis"));
    // before gc: who holds the VIP now (the killed main server has no eth0 left), and what each backup holds
    let mut fr = files.results.clone();
    fr["run_id"] = r["run_id"].clone();
    assert_eq!(vip_holders(&fr), ["files-2"], "the VIP is on the backup, and only there");
    assert!(d.stdout.contains("the VIP 10.213.0.100 held by files-2"), "the scenario's own VIP: {}", d.stdout);
    let file_rows = read_files(host_port(&files.results, "files-2"));
    let maria_rows = read_mariadb(&mysql.results, "db-2");
    let redis_rows = read_redis(host_port(&redis.results, "redis-2"));
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    let (c, n) = labelled(Some(&run_id(&r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    assert_eq!(d.code, 0, "{}", d.stdout);
    let mut promoted = Vec::new();
    for (service, s, rows, node) in
        [("files", &files, &file_rows, "files-2"), ("mysql", &mysql, &maria_rows, "db-2"), ("redis", &redis, &redis_rows, "redis-2")]
    {
        assert_orchestrator_failed_over(s);
        let p = &s.results["phases"];
        assert_eq!((p["orchestrator"].as_str(), p["new_primary"].as_str()), (Some("Keepalived"), Some(node)), "{service}: {p}");
        // detection: VRRP's master-down interval, 3 advertisements of 1 s and the skew, from
        // the fault to the backup's line; the detection phase ends there, or earlier where a
        // client's first write to the backup began (waiting in the forwarder's connect: a
        // run had it 426 ms before the line)
        let at = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{service}: no {k}: {p}"));
        let detection = at("detected_ms") - at("fault_ms");
        assert!((2800.0..4300.0).contains(&detection), "{service}: detection {detection} ms against a 3.8 s master-down interval");
        assert!(at("detection_ms") <= detection + 0.1, "{service}: {p}");
        promoted.push(p["promoted_ms"].as_f64().unwrap());
        // each client says which node it reached through the VIP: the phases split the RTO
        assert_phases_add_up(&s.results);
        service_lost_checked(&d, service, rows);
    }
    // one notify_master: the mirror first, then the services in its order
    assert!(promoted.windows(2).all(|w| w[0] <= w[1]), "promoted at {promoted:?} ms");
    assert!(d.stdout.contains("RTO by phase (Keepalived: db-1 -> db-2)"), "{}", d.stdout);
    assert!(d.stdout.contains("files's Keepalived (watched)") || d.stdout.contains("claimed: seed 004"), "{}", d.stdout);
}

#[test]
fn a_cut_between_the_two_servers_gives_both_the_vip_and_the_backups_writes_are_lost() {
    let c = drill_cross_checked("scenarios/seed-004-vrrp-split.yaml", read_files, &["files-2"]);
    let r = &c.d.results;
    assert_eq!(c.d.code, 1, "fails on purpose on the seed's RPO: {}", c.d.stdout);
    let h = &r["holders"];
    // both servers held the VIP: the backup from its advertisement timeout (3 missed
    // advertisements after the cut at 5 s) to the heal at 17 s
    let splits = h["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 1, "{h}");
    let s = &splits[0];
    assert_eq!(s["nodes"], serde_json::json!(["files-1", "files-2"]), "{h}");
    let (from, to) = (s["from_ms"].as_f64().unwrap(), s["to_ms"].as_f64().unwrap());
    assert!((7500.0..10_500.0).contains(&from) && (16_500.0..19_500.0).contains(&to), "split from {from} to {to} ms");
    assert_eq!(h["final_holders"], serde_json::json!(["files-1"]), "{h}");
    assert_eq!(r["stack"]["final_primary"], "files-1", "the server holding the VIP at the end is read back");
    // the clients followed the backup's gratuitous ARP: it took the split's writes, and the
    // main server's next rsync -a --delete wiped them off it
    let on_backup = s["acked"]["files-2"].as_u64().unwrap_or(0);
    assert!(on_backup > 100, "{s}");
    assert_eq!(s["lost"]["files-2"].as_u64(), Some(on_backup), "{s}");
    assert!(!c.lost.is_empty() && c.lost.iter().all(|k| !c.others["files-2"].contains(k)), "a lost write is on the backup after all");
    let findings = r["questions"]["unexpected"]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "split_brain"), "{findings:?}");
    assert!(c.d.stdout.contains("files-1 and files-2 both held the VIP"), "{}", c.d.stdout);
}
