//! The slow group: orchestrated drills with the reference documents' own settings
//! (Sentinel down-after 5 s; Patroni ttl 30 s, loop_wait 10 s, HAProxy inter 3 s; MHA ping_interval 3 s), and seed 001's
//! alert rules with Prometheus' and Alertmanager's default timing. The Sentinel and Patroni
//! drills run with seed 001's read path beside the writes (`reads-redis-sentinel`,
//! `reads-patroni-split`: the same stacks and settings as `redis-sentinel-primary-kill` and
//! `patroni-primary-kill`, with readers on the replicas): one drill checks both.
//! `scripts/test.sh` runs them with the rest; alone: `scripts/test.sh -E 'test(/^seed_settings::/)'`.
use crate::common;
use crate::reads_checks;
use common::*;
use reads_checks as reads;

#[test]
fn redis_sentinel_seed_primary_kill_fails_over_by_itself() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, .. } = drill_cross_checked("scenarios/reads-redis-sentinel.yaml", read_redis, &[]);
    let r = &d.results;
    assert_orchestrator_failed_over(&d);
    let p = &r["phases"];
    assert_phases_ordered(p);
    assert_phases_add_up(r);
    // Sentinel counts down-after from its first unanswered PING, sent after the kill
    let detection = p["detection_ms"].as_f64().unwrap();
    assert!((5000.0..7000.0).contains(&detection), "detection {detection} ms with down-after 5000: {p}");
    assert!(p["budgets"]["detection_from"].as_str().unwrap().contains("down-after-milliseconds 5000"));
    // writes came back on the node Sentinel promoted, through Sentinel discovery
    let rto = r["rto_ms"].as_f64().unwrap();
    // an attempt lasts at most op_timeout_ms (500): the first write the new primary took was
    // invoked no earlier than that before the promotion
    assert!(rto >= p["promoted_ms"].as_f64().unwrap() - p["fault_ms"].as_f64().unwrap() - 500.0, "rto {rto}: {p}");
    assert_eq!(r["converged"], true);
    let expect = if r["verdict"] == "pass" { 0 } else { 1 };
    assert_eq!(d.code, expect, "{}", d.stdout);
    reads::sentinel_replicas_read_on(&d);
}

#[test]
fn patroni_seed_primary_kill_fails_over_by_itself() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Checked { d, survivors, .. } = drill_cross_checked("scenarios/reads-patroni-split.yaml", read_postgres, &[]);
    let r = &d.results;
    assert_orchestrator_failed_over(&d);
    let p = &r["phases"];
    assert_phases_ordered(p);
    assert_phases_add_up(r);
    // detection within [0, ttl + loop_wait] of the fault (+ the 50 ms poll)
    let detection = p["detection_ms"].as_f64().unwrap();
    assert!((0.0..=40_100.0).contains(&detection), "detection {detection} ms with ttl 30 s, loop_wait 10 s: {p}");
    assert!(p["budgets"]["detection_from"].as_str().unwrap().contains("ttl 30 s"));
    let expect = if r["verdict"] == "pass" { 0 } else { 1 };
    assert_eq!(d.code, expect, "{}", d.stdout);
    reads::haproxy_replica_reads_beside_the_writes(&d, &survivors);
}

#[test]
fn mariadb_mha_vip_with_mha_defaults_fails_over_within_the_seed_claim() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/mariadb-mha-vip.yaml", &["--keep"]);
    let r = d.results.clone();
    let new = r["phases"]["new_primary"].as_str().unwrap_or_else(|| panic!("no new master: {}", d.stderr)).to_string();
    let holders = vip_holders(&r);
    let survivors = read_mariadb(&r, &new);
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    let (c, n) = labelled(Some(&run_id(&r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    // MHA chose the new master, and the VIP is on it and nowhere else
    assert_orchestrator_failed_over(&d);
    assert_eq!(holders, vec![new], "the VIP must be held by the new master only");
    cross_check_lost(&d, &survivors);
    let p = &r["phases"];
    assert_phases_ordered(p);
    assert_phases_add_up(&r);
    // ping_interval 3 s: MHA declares the master dead after the failed ping and 3 more at
    // that interval, so never sooner than 3 intervals after the kill
    let detection = p["detection_ms"].as_f64().unwrap();
    assert!((9000.0..25_000.0).contains(&detection), "detection {detection} ms with ping_interval 3 s: {p}");
    // the VIP moves during the promotion, before the new master is writable
    let (det, moved, prom) = (p["detected_ms"].as_f64().unwrap(), p["moved_ms"].as_f64().unwrap(), p["promoted_ms"].as_f64().unwrap());
    assert!(det <= moved && moved <= prom, "{p}");
    assert!(p["budgets"]["claim"].as_str().unwrap().contains("15–40 s"));
    let expect = if r["verdict"] == "pass" { 0 } else { 1 };
    assert_eq!(d.code, expect, "{}", d.stdout);
}

/// The reference documents' "database primary failure" across every service at once:
/// Patroni, Redis Sentinel and MariaDB MHA, each primary killed at the same instant, each
/// orchestrator failing over by itself with its seed settings, each service judged on
/// its own against an independent read of its own data.
#[test]
fn all_services_seed_primary_kill_each_orchestrator_fails_over_and_is_judged_on_its_own() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("scenarios/all-services-primary-kill.yaml", &["--keep"]);
    let r = d.results.clone();
    let (pg, cache, maria) = (service_drill(&d, "pg"), service_drill(&d, "cache"), service_drill(&d, "maria"));
    let primary = |s: &Drill| s.results["stack"]["final_primary"].as_str().unwrap().to_string();
    let pg_rows = read_postgres(host_port(&pg.results, &primary(&pg)));
    let cache_rows = read_redis(host_port(&cache.results, &primary(&cache)));
    let maria_rows = read_mariadb(&maria.results, &primary(&maria));
    assert!(drdrill(&["gc", "--run", &run_id(&r)]).status.success());
    let (c, n) = labelled(Some(&run_id(&r)));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    for (service, s, rows) in [("pg", &pg, &pg_rows), ("cache", &cache, &cache_rows), ("maria", &maria, &maria_rows)] {
        assert_orchestrator_failed_over(s);
        assert_phases_ordered(&s.results["phases"]);
        assert_phases_add_up(&s.results);
        service_lost_checked(&d, service, rows);
        assert!(s.results["rto_ms"].as_f64().is_some(), "{service} recovered: {}", d.stdout);
    }
    // one fault entry: three kills requested at the same instant (the drill's schedule
    // fires every service's fault due at an offset from one task, in one poll; when each
    // fault had its own task they once woke 452.6 ms apart under CI's load)
    let kills: Vec<f64> = events(&r).iter().filter(|e| e["kind"] == "fault-inject").map(|e| e["t_ns"].as_f64().unwrap() / 1e6).collect();
    assert_eq!(kills.len(), 3, "{kills:?}");
    let spread = kills.iter().copied().fold(f64::MIN, f64::max) - kills.iter().copied().fold(f64::MAX, f64::min);
    assert!(spread < 50.0, "the kills were requested {spread:.1} ms apart");
    // the drill's verdict and exit code are the worst service's
    let worst = ["pg", "cache", "maria"].iter().map(|n| r["services"][n]["verdict"].as_str().unwrap()).fold("pass", |w, v| match (w, v) {
        ("fail", _) | (_, "fail") => "fail",
        ("unknown", _) | (_, "unknown") => "unknown",
        ("undecided", _) | (_, "undecided") => "undecided",
        _ => "pass",
    });
    assert_eq!(r["verdict"], worst);
    assert_eq!(
        d.code,
        match worst {
            "pass" => 0,
            "fail" => 1,
            "undecided" => 7,
            _ => 4,
        },
        "{}",
        d.stdout
    );
}

/// Seed 001's own alert rules with Prometheus' and Alertmanager's default timing
/// (docs/alerts.md): three are dead (no exporter publishes their metric), the Redis rule
/// is alive but holds at steady state on every replica and is slower than the outage, and
/// nothing pages; the drill fails on purpose (alerts.rules_alive, and the page the seed's
/// RTO target implies).
#[test]
fn seed_alert_rules_show_which_are_dead_and_which_too_slow() {
    let d = run_drill("scenarios/alerts-seed-rules.yaml", &[]);
    let r = &d.results;
    let rule = |name: &str| r["alerts"]["rules"].as_array().unwrap().iter().find(|x| x["alert"] == name).cloned().unwrap();
    for dead in ["PostgreSQLReplicationLag", "MongoDBReplicationHealthIssue", "KafkaUnderReplicatedPartitions"] {
        assert_eq!(rule(dead)["outcome"], "dead", "{}", rule(dead));
    }
    assert!(
        rule("PostgreSQLReplicationLag")["reason"]
            .as_str()
            .unwrap()
            .contains("`pg_replication_lag_seconds` is not published by postgres_exporter 0.11")
    );
    let redis = rule("RedisReplicationBroken");
    assert_ne!(redis["outcome"], "dead", "{redis}");
    assert!(redis["notified_ms"].is_null(), "{redis}");
    assert!(redis["reason"].as_str().unwrap().contains("held before any outage"), "{redis}");
    assert!(r["alerts"]["notifications"].as_array().unwrap().is_empty(), "{}", r["alerts"]);
    assert_eq!(r["alerts"]["settings"]["scrape_interval_ms"], 60_000);
    assert_eq!(r["alerts"]["settings"]["group_wait_ms"], 30_000);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(d.code, 1);
}
