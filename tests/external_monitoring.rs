//! The users' own monitoring during an external drill (docs/alerts.md, "The users' own
//! monitoring"): an "existing" PostgreSQL started with plain `docker run`, its exporter,
//! and the users' Prometheus and Alertmanager with their own rules and timing, all started
//! here, not by drdrill. drdrill reads their rules and configuration, watches their alerts
//! through the read-only APIs while a runbook action kills the database, and measures the
//! time until their Alertmanager holds the alert; it writes nothing to them.
use crate::common;
use common::*;
use std::time::Duration;

/// The users' environment: a database, its exporter, their Prometheus and Alertmanager.
struct Users {
    net: String,
    names: Vec<String>,
    db: String,
    db_port: u16,
    prom: String,
    am: String,
    dir: tempfile::TempDir,
}

impl Drop for Users {
    fn drop(&mut self) {
        for n in &self.names {
            docker(&["rm", "-f", "-v", n]);
        }
        docker(&["network", "rm", &self.net]);
    }
}

const RULES: &str = "groups:\n  - name: users\n    rules:\n      - alert: UsersPostgresDown\n        expr: up{job=\"users-pg\"} == 0 or pg_up == 0\n        for: 2s\n      - alert: UsersNeverPublished\n        expr: pg_wal_seconds_behind > 5\n        for: 1m\n";

fn users() -> Users {
    let tag = std::process::id();
    let net = format!("drdrill-test-extmon-{tag}");
    docker(&["network", "rm", &net]);
    docker(&["network", "create", &net]);
    let names: Vec<String> = ["pg", "exporter", "prometheus", "alertmanager"].iter().map(|n| format!("{net}-{n}")).collect();
    let (exp_port, prom_port, am_port) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let prom_cfg = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [/etc/u/rules.yml]\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]\nscrape_configs:\n  - job_name: users-pg\n    static_configs: [{{targets: ['127.0.0.1:{exp_port}']}}]\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), prom_cfg).unwrap();
    let am_cfg = "route: {receiver: pager, group_wait: 2s, group_interval: 5s}\nreceivers: [{name: pager}]\n";
    std::fs::write(dir.path().join("alertmanager.yml"), am_cfg).unwrap();
    let mount = format!("{}:/etc/u:ro", dir.path().display());
    let run = |args: &[&str]| {
        let out = docker(args);
        assert!(!out.contains("Error"), "{out}");
    };
    run(&[
        "run",
        "-d",
        "--name",
        &names[0],
        "--network",
        &net,
        "--network-alias",
        "users-db",
        "-e",
        "DRDRILL_ROLE=primary",
        "-e",
        "DRDRILL_NODE=users-db",
        "-p",
        "127.0.0.1::5432",
        "drdrill/postgres:15-2",
    ]);
    let dsn = "DATA_SOURCE_NAME=postgresql://postgres@users-db:5432/postgres?sslmode=disable";
    run(&[
        "run",
        "-d",
        "--name",
        &names[1],
        "--network",
        &net,
        "-e",
        dsn,
        "-p",
        &format!("127.0.0.1:{exp_port}:9187"),
        "drdrill/monitoring:1",
        "prometheus-postgres-exporter",
    ]);
    let prometheus = prometheus_run_args(&names[2], &mount, "/etc/u/prometheus.yml", prom_port);
    run(&prometheus.iter().map(String::as_str).collect::<Vec<_>>());
    run(&[
        "run",
        "-d",
        "--name",
        &names[3],
        "--network",
        "host",
        "-v",
        &mount,
        "drdrill/monitoring:1",
        "prometheus-alertmanager",
        "--config.file=/etc/u/alertmanager.yml",
        &format!("--web.listen-address=127.0.0.1:{am_port}"),
        "--cluster.listen-address=",
        "--storage.path=/tmp/a",
    ]);
    wait_for("the users' database", Duration::from_secs(60), || {
        exec(&names[0], &["psql", "-U", "postgres", "-Atc", "select 1"]).trim() == "1"
    });
    let db_port = published(&names[0], 5432);
    let prom = format!("http://127.0.0.1:{prom_port}");
    wait_for("the users' Prometheus to scrape", Duration::from_secs(60), || {
        docker(&["exec", &names[2], "promtool", "query", "instant", &prom, "pg_up == 1"]).contains("pg_up")
    });
    Users { net, db: names[0].clone(), names, db_port, prom, am: format!("http://127.0.0.1:{am_port}"), dir }
}

#[test]
fn the_users_own_alerts_are_measured_read_only() {
    let u = users();
    let scenario = format!(
        r#"name: external-monitoring
stack:
  kind: external
  engine: postgres
  endpoint: 127.0.0.1:{port}
  credentials: {{user: postgres}}
  database: postgres
workload: {{writers: 1, rate_per_s: 50, after_recovery_ms: 1000, max_duration_ms: 15000}}
faults:
  - at_ms: 3000
    kind: action
    target: primary
    action: {{name: kill-the-database, command: ["docker", "kill", "{db}"]}}
monitoring:
  prometheus_url: {prom}
  alertmanager_url: {am}
  settle_ms: 5000
targets:
  alerts:
    UsersPostgresDown: {{notified_within_ms: 10000}}
    NoSuchAlert: {{notified_within_ms: 10000}}
"#,
        port = u.db_port,
        db = u.db,
        prom = u.prom,
        am = u.am,
    );
    let file = u.dir.path().join("external-monitoring.yaml");
    std::fs::write(&file, scenario).unwrap();
    let d = run_drill(file.to_str().unwrap(), &["--yes"]);
    let r = &d.results;
    let a = &r["alerts"];
    assert_eq!(a["source"], "users", "{}", d.stderr);
    // their timing, read from their running configuration
    assert_eq!((a["settings"]["scrape_interval_ms"].as_u64(), a["settings"]["group_wait_ms"].as_u64()), (Some(1000), Some(2000)), "{a}");
    let rule = |n: &str| a["rules"].as_array().unwrap().iter().find(|x| x["alert"] == n).cloned().unwrap_or_else(|| panic!("no {n}: {a}"));
    let down = rule("UsersPostgresDown");
    assert_eq!(down["outcome"], "notified", "{down}");
    let (fault, held) = (r["fault_ms"].as_f64().unwrap(), down["notified_ms"].as_f64().unwrap());
    assert!(
        held >= fault + 2_000.0 && held <= fault + 1_000.0 + 1_000.0 + 1_000.0 + 2_000.0 + 2_000.0,
        "held at {held}, fault at {fault}: {down}"
    );
    assert_eq!(down["steps"].as_array().unwrap().last().unwrap()["step"], "held by the users' Alertmanager");
    assert_eq!(rule("UsersNeverPublished")["outcome"], "dead");
    let target = |n: &str| r["targets"].as_array().unwrap().iter().find(|t| t["target"] == n).cloned().unwrap();
    assert_eq!(target("alerts.UsersPostgresDown.notified_within_ms")["verdict"], "pass");
    let missing = target("alerts.NoSuchAlert.notified_within_ms");
    assert_eq!(missing["verdict"], "unknown");
    assert!(missing["note"].as_str().unwrap().contains("no alerting rule named `NoSuchAlert` was loaded"), "{missing}");
    // nothing written to theirs: no silence, and the same rules loaded
    let silences = docker(&["exec", &u.names[3], "amtool", "silence", "query", "--alertmanager.url", &u.am]);
    assert!(!silences.contains("drdrill"), "{silences}");
    // nothing of drdrill's on the engine
    let (containers, networks) = labelled(Some(&run_id(r)));
    assert!(containers.is_empty() && networks.is_empty(), "{containers:?} {networks:?}");
}
