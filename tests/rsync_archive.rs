//! Seed 001's own archive for real (docs/restore.md, "The seed's rsync archive"):
//! `archive_command = 'rsync -a %p postgres@dr-storage:/archives/%f'` over SSH to an archive
//! host in the DR site, the primary region lost, a fresh node restored from that archive in
//! the DR site. The restored node must hold exactly what our own replay of the archive holds
//! (PostgreSQL's own recovery, run by this test on the archive host with `cp`, no drdrill
//! code), plus the writes it took after the restore; the loss stays within archive_timeout
//! and the last segment's push over the WAN; the RTO is split into its steps; nothing of
//! the drill remains.
use crate::common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SCENARIO: &str = "scenarios/pg-rsync-archive-restore.yaml";
/// The scenario's archive_timeout (ms), and what may come on top: the push of the segment
/// it closed over the WAN (16 MB at 12.5 MB/s, an SSH handshake), and the fault's own call.
const ARCHIVE_TIMEOUT_MS: f64 = 10_000.0;
const PUSH_MS: f64 = 3_000.0;

/// Invoke time (ms) of every write, whatever its outcome, from history.jsonl.zst.
fn invoked(d: &Drill) -> BTreeMap<(u64, u64), f64> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "op")
        .map(|v| ((v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap()), v["invoke_ns"].as_f64().unwrap() / 1e6))
        .collect()
}

/// Our own replay of the archive on the archive host: the base backup unpacked, recovered
/// with `restore_command = 'cp /archives/%f %p'` along the backup's own timeline to the end
/// of what was archived, then read with psql. Returns its records.
fn replay_the_archive(host: &str) -> BTreeSet<(u64, u64)> {
    let script = r#"set -e; d=/tmp/replay; rm -rf $d; mkdir -m 700 $d; tar -xzf /backups/base/base.tar.gz -C $d; touch $d/recovery.signal
o="-c port=5499 -c listen_addresses= -c unix_socket_directories=/tmp -c archive_mode=off -c recovery_target_timeline=current"
pg_ctl -D $d -l /tmp/replay.log -w -t 300 -o "$o -c restore_command='cp /archives/%f %p'" start >/dev/null
for i in $(seq 1 600); do [ "$(psql -h /tmp -p 5499 -d drdrill -Atc 'SELECT pg_is_in_recovery()')" = f ] && break; sleep 0.1; done
psql -h /tmp -p 5499 -d drdrill -Atc "SELECT writer || ' ' || seq FROM drdrill_writes"
pg_ctl -D $d -m immediate stop >/dev/null; rm -rf $d"#;
    let out = std::process::Command::new("docker").args(["exec", "-u", "postgres", host, "bash", "-c", script]).output().unwrap();
    assert!(out.status.success(), "our replay of the archive failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.split(' ').map(|x| x.parse::<u64>().unwrap());
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect()
}

/// The restored node's archive_command, as PostgreSQL reports it.
fn archive_command(port: u16) -> String {
    block_on(async {
        let (c, conn) = tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user=postgres dbname=drdrill"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.query_one("SHOW archive_command", &[]).await.unwrap().get(0)
    })
}

#[test]
fn the_seeds_rsync_archive_restored_in_the_dr_site_holds_what_the_archive_replays() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill(SCENARIO, &["--keep"]);
    let r = d.results.clone();
    let primary = r["stack"]["final_primary"].as_str().unwrap().to_string();
    let port = host_port(&r, &primary);
    let restored = read_postgres(port);
    let command = archive_command(port);
    let run = run_id(&r);
    let replayed = replay_the_archive(&format!("drdrill-{run}-dr-storage"));
    let out = drdrill(&["gc", "--run", &run]);
    assert!(out.status.success(), "gc failed: {}", String::from_utf8_lossy(&out.stderr));
    let ((c, n), v) = (labelled(Some(&run)), labelled_volumes(&run));
    assert!(c.is_empty() && n.is_empty() && v.is_empty(), "left behind: {c:?} {n:?} {v:?}");

    // the seed's own line, on the node restored from the seed's archive
    assert_eq!(command, "rsync -a %p postgres@dr-storage:/archives/%f");
    // the restored node holds exactly the archive's replay, plus what it took afterwards:
    // a write invoked before the fresh node existed went to the lost primary
    let rr = &r["failover"]["restore"];
    let fresh = rr["node_ms"].as_f64().unwrap_or_else(|| panic!("no node_ms: {rr}"));
    let when = invoked(&d);
    assert!(!replayed.is_empty(), "the archive replayed nothing");
    let missing: Vec<_> = replayed.difference(&restored).collect();
    assert!(missing.is_empty(), "{} records of the archive's replay are not on the restored node: {missing:?}", missing.len());
    let before: BTreeSet<(u64, u64)> = restored.iter().filter(|k| when.get(k).is_some_and(|t| *t < fresh)).copied().collect();
    assert_eq!(before, replayed, "the restored node's records from the lost primary differ from the archive's replay");
    // drdrill's lost list equals an independent read of the restored node, and equals what
    // the archive lacks of the writes the lost primary acknowledged
    let lost = cross_check_lost(&d, &restored);
    let acked_before: BTreeSet<(u64, u64)> =
        ack_times(&d.dir).into_iter().filter(|(_, (invoke, _))| *invoke < fresh).map(|(k, _)| k).collect();
    let lacked: BTreeSet<(u64, u64)> = acked_before.difference(&replayed).copied().collect();
    assert_eq!(lost, lacked, "lost writes differ from what the archive lacks");
    assert!(!lost.is_empty(), "the writes after the last archived segment must be lost");
    // within archive_timeout, and the push of the last segment over the WAN
    let rpo = r["rpo_ms"].as_f64().unwrap();
    assert!(rpo <= ARCHIVE_TIMEOUT_MS + PUSH_MS, "RPO {rpo} ms; archive_timeout allows {ARCHIVE_TIMEOUT_MS} ms");
    // the RTO by step, in order: trigger, fresh node, base backup fetched, start, writable
    assert_eq!(rr["allowed_loss_ms"], 10_000);
    let t = |k: &str| rr[k].as_f64().unwrap_or_else(|| panic!("no {k}: {rr}"));
    let steps = [r["failover"]["started_ms"].as_f64().unwrap(), t("node_ms"), t("fetched_ms"), t("started_ms"), t("writable_ms")];
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "steps out of order: {steps:?}");
    assert!(r["recovered_at_ms"].as_f64().unwrap() >= t("node_ms"), "the clients recovered before the fresh node ran");
    assert!(rr["fetched"].as_str().unwrap().contains("base backup from dr-storage"), "{rr}");
    assert!(rr["backup"].as_str().unwrap().contains("pg_basebackup"), "{rr}");
    let node_event = events(&r).into_iter().find(|e| e["kind"] == "restore-node").expect("a restore-node event");
    assert!(node_event["detail"].as_str().unwrap().contains("in dc2"), "{node_event}");
    assert!(d.stdout.contains("Restore with pg_basebackup + rsync over SSH"), "{}", d.stdout);
}
