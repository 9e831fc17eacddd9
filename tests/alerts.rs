//! Did the pager fire? (docs/alerts.md) A real Prometheus and Alertmanager beside a real
//! PostgreSQL pair whose primary is killed, on short intervals: a rule on a metric the
//! exporters publish pages within what its settings allow and is resolved after the
//! recovery, a misspelt one is dead, a slow one never fires; drdrill's own results reach a
//! metrics file `promtool` accepts and a real Pushgateway a real Prometheus scrapes; and
//! nothing is left behind (containers, networks, the webhook's port).
use crate::common;
use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const SCENARIO: &str = "tests/fixtures/alerts-pg-kill.yaml";
/// The fixture's settings (ms): scrape, evaluation, `for` of PostgresDown, group_wait.
const SCRAPE: f64 = 500.0;
const EVAL: f64 = 500.0;
const FOR: f64 = 2_000.0;
const GROUP_WAIT: f64 = 1_000.0;

fn rule<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["alerts"]["rules"].as_array().unwrap().iter().find(|x| x["alert"] == name).unwrap_or_else(|| panic!("no rule {name}"))
}

/// A Pushgateway and a Prometheus scraping it, on 127.0.0.1, removed when dropped.
struct Gateway {
    names: Vec<String>,
    push_url: String,
    prom_url: String,
    dir: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Gateway {
        let (gw, prom) = (free_port(), free_port());
        let dir = tempfile::tempdir().unwrap();
        let cfg = format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs: [{{targets: ['127.0.0.1:{gw}']}}]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), cfg).unwrap();
        let tag = std::process::id();
        let names = vec![format!("drdrill-test-pushgateway-{tag}"), format!("drdrill-test-prometheus-{tag}")];
        let g = Gateway { names, push_url: format!("http://127.0.0.1:{gw}"), prom_url: format!("http://127.0.0.1:{prom}"), dir };
        let mount = format!("{}:/etc/t:ro", g.dir.path().display());
        docker(&[
            "run",
            "-d",
            "--name",
            &g.names[0],
            "--network",
            "host",
            "drdrill/monitoring:1",
            "prometheus-pushgateway",
            &format!("--web.listen-address=127.0.0.1:{gw}"),
        ]);
        let args = prometheus_run_args(&g.names[1], &mount, "/etc/t/prometheus.yml", prom);
        docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
        g
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("docker").args(["rm", "-f", n]).output();
        }
    }
}

/// GET a JSON answer over plain HTTP/1.0 on 127.0.0.1.
fn get(url: &str) -> Option<Value> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    serde_json::from_str(body.split_once("\r\n\r\n")?.1).ok()
}

#[test]
fn alerts_are_measured_and_drdrill_results_reach_the_dashboards() {
    let gw = Gateway::start();
    let metrics = tempfile::tempdir().unwrap();
    let file = metrics.path().join("drdrill.prom");
    let d = run_drill(SCENARIO, &["--metrics-file", file.to_str().unwrap(), "--pushgateway", &gw.push_url]);
    let r = &d.results;
    let fault = r["fault_ms"].as_f64().unwrap();

    // PostgresDown pages, no earlier than the fault + for, no later than the settings allow
    let down = rule(r, "PostgresDown");
    assert_eq!(down["outcome"], "notified", "{down}\n{}", d.stderr);
    let notified = down["notified_ms"].as_f64().unwrap();
    assert!(notified >= fault + FOR, "paged at {notified} ms, before the fault ({fault}) + for");
    let latest = fault + SCRAPE + EVAL + FOR + GROUP_WAIT + 2_000.0;
    assert!(notified <= latest, "paged at {notified} ms, later than {latest}");
    let steps = down["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{down}");
    let sum: f64 = steps.iter().map(|s| s["ms"].as_f64().unwrap()).sum();
    assert!((fault + sum - notified).abs() < 1.0, "the steps add up to the time to page: {down}");
    // ... and is resolved, with a notification, after the old primary is back
    let resolved = down["resolved_notified_ms"].as_f64().unwrap_or_else(|| panic!("no resolved notification: {down}"));
    assert!(resolved > r["recovered_at_ms"].as_f64().unwrap(), "{down}");
    assert!(!down["stuck"].as_bool().unwrap() && !down["noise"].as_bool().unwrap(), "{down}");

    // a misspelt metric is dead, and says which exporter does not publish it
    let dead = rule(r, "PostgresLagMisspelt");
    assert_eq!(dead["outcome"], "dead");
    assert!(dead["reason"].as_str().unwrap().contains("`pg_replication_lag_secondz` is not published by postgres_exporter 0.11"), "{dead}");
    // a `for` longer than the outage never fires, and says so
    let slow = rule(r, "PostgresDownSlow");
    assert_eq!(slow["outcome"], "pending_only", "{slow}");
    assert!(slow["reason"].as_str().unwrap().contains("never fired") && slow["reason"].as_str().unwrap().contains("`for: 5m`"), "{slow}");

    // the targets: paged in time, the slow one silent, a dead rule fails the drill
    let target =
        |name: &str| r["targets"].as_array().unwrap().iter().find(|t| t["target"] == name).cloned().unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(target("alerts.PostgresDown.notified_within_ms")["verdict"], "pass");
    assert_eq!(target("no_alert.PostgresDownSlow")["verdict"], "pass");
    assert_eq!(target("alerts.rules_alive")["verdict"], "fail");
    assert_eq!(r["verdict"], "fail");
    assert_eq!(d.code, 1, "{}", d.stderr);
    let junit = std::fs::read_to_string(d.dir.join("junit.xml")).unwrap();
    assert!(junit.contains("alerts.PostgresDown.notified_within_ms") && junit.contains("alerts.rules_alive"), "{junit}");
    let md = std::fs::read_to_string(d.dir.join("report.md")).unwrap();
    assert!(md.contains("## Alerts") && md.contains("| PostgresDown | 2s | PAGED |"), "{md}");
    let html = std::fs::read_to_string(d.dir.join("report.html")).unwrap();
    assert!(html.contains("id=\"alerts\"") && html.contains("<tr class=\"alert\"><td>PostgresDown</td>"), "no alerts in report.html");
    let svg = std::fs::read_to_string(d.dir.join("timeline.svg")).unwrap();
    assert!(svg.contains("alert firing PostgresDown") && svg.contains("alert paged PostgresDown"), "no alert markers on the timeline");
    for log in ["prometheus.log", "alertmanager.log", "pg-1-exporter.log"] {
        assert!(d.dir.join("logs").join(log).exists(), "no logs/{log}");
    }

    // drdrill's results as metrics: a file promtool accepts, and a Pushgateway Prometheus scrapes
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("drdrill_rto_seconds{scenario=\"fixture-alerts-pg-kill\",service=\"postgres\"}"), "{text}");
    assert!(text.contains("drdrill_alert_notify_seconds{scenario=\"fixture-alerts-pg-kill\",alert=\"PostgresDown\"}"), "{text}");
    let mut promtool = Command::new("docker")
        .args(["run", "--rm", "-i", "drdrill/monitoring:1", "promtool", "check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {}{}\n{text}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let query = format!("{}/api/v1/query?query=drdrill_rto_seconds%7Bscenario%3D%22fixture-alerts-pg-kill%22%7D", gw.prom_url);
    let mut answered = None;
    wait_for("Prometheus to scrape the pushed drdrill_rto_seconds", Duration::from_secs(30), || {
        answered = get(&query).and_then(|v| v["data"]["result"][0]["value"][1].as_str().map(str::to_string));
        answered.is_some()
    });
    let rto: f64 = answered.unwrap().parse().unwrap();
    assert!((rto * 1e3 - r["rto_ms"].as_f64().unwrap()).abs() < 0.5, "pushed {rto} s, measured {} ms", r["rto_ms"]);

    // nothing left: containers, networks, the webhook's port
    let (containers, networks) = labelled(Some(&run_id(r)));
    assert!(containers.is_empty() && networks.is_empty(), "left: {containers:?} {networks:?}");
    let webhook =
        d.stderr.split("-> http://").nth(1).and_then(|s| s.split('/').next()).unwrap_or_else(|| panic!("no webhook in {}", d.stderr));
    assert!(std::net::TcpStream::connect(webhook).is_err(), "the webhook still listens on {webhook}");
}

/// A rule of a drill of several services.
fn outcome(r: &Value, name: &str) -> String {
    rule(r, name)["outcome"].as_str().unwrap().to_string()
}

/// The shipped tuned rules: none is dead, the instance-down rules page within the 30 s
/// RTO target (their steps adding up to it), the "no primary" rules stay silent because
/// the failovers are faster than their `for`, and the alerts for the killed primaries keep
/// firing while those stay down, without being called stuck.
#[test]
fn tuned_rules_page_within_the_rto_target() {
    let d = run_drill("scenarios/alerts-tuned-rules.yaml", &[]);
    let r = &d.results;
    assert_eq!(r["verdict"], "pass", "{}", d.stderr);
    assert!(r["alerts"]["rules"].as_array().unwrap().iter().all(|x| x["outcome"] != "dead"), "{}", r["alerts"]);
    for (service, alert) in [("pg", "PostgresInstanceDown"), ("cache", "RedisInstanceDown")] {
        let a = rule(r, alert);
        assert_eq!(a["outcome"], "notified", "{a}");
        assert!(a["to_page_ms"].as_f64().unwrap() <= 30_000.0, "{a}");
        let steps = a["steps"].as_array().unwrap();
        let sum: f64 = steps.iter().map(|s| s["ms"].as_f64().unwrap()).sum();
        assert!((sum - a["to_page_ms"].as_f64().unwrap()).abs() < 1.0, "the steps add up to the time to page: {a}");
        assert_eq!(a["instances"][0], r["services"][service]["stack"]["initial_primary"], "{a}");
        assert!(!a["stuck"].as_bool().unwrap() && !a["noise"].as_bool().unwrap(), "{a}");
    }
    for alert in ["PostgresNoPrimary", "RedisNoMaster"] {
        assert_ne!(outcome(r, alert), "notified", "{}", rule(r, alert));
    }
}

/// A planned Patroni switchover pages no one: `no_alert` holds, and no rule is noise.
#[test]
fn a_planned_switchover_pages_no_one() {
    let d = run_drill("scenarios/patroni-switchover-quiet-pager.yaml", &[]);
    let r = &d.results;
    assert_eq!(r["verdict"], "pass", "{}", d.stderr);
    assert!(r["alerts"]["notifications"].as_array().unwrap().is_empty(), "{}", r["alerts"]);
    assert!(r["alerts"]["rules"].as_array().unwrap().iter().all(|x| x["noise"] == false), "{}", r["alerts"]);
}

/// drdrill refuses a rules file before anything starts exactly when Prometheus' own
/// `promtool check rules` (2.42, from the drill's monitoring image) does: every hostile
/// fixture, the valid ones, the shipped rules files, and expressions where a PromQL parser
/// other than Prometheus' could differ (a duration as a number, functions of later
/// versions or of other engines, 2.42's holt_winters).
#[test]
fn drdrill_and_promtool_agree_on_every_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for folder in ["tests/fixtures/hostile-rules", "tests/fixtures/valid-rules", "tests/fixtures/alerts", "scenarios/alerts"] {
        files.extend(std::fs::read_dir(root().join(folder)).unwrap().flatten().map(|e| e.path()));
    }
    let exprs = [
        "time() - x > 5m",
        "x offset -5m",
        "x @ start()",
        "x[5m:1m]",
        "holt_winters(x[5m], 0.5, 0.5)",
        "sort_by_label(x, \"a\")",
        "double_exponential_smoothing(x[5m], 0.5, 0.5)",
        "mad_over_time(x[5m])",
        "x[1.5m]",
        "x{}",
        "sum(x) by (a,)",
        "x atan2 y",
    ];
    for (i, e) in exprs.iter().enumerate() {
        let p = dir.path().join(format!("expr-{i}.rules.yml"));
        std::fs::write(&p, format!("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{e}'\n")).unwrap();
        files.push(p);
    }
    for f in &files {
        std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    let mount = format!("{}:/r:ro", dir.path().display());
    let script = "for f in /r/*.yml; do promtool check rules \"$f\" >/dev/null 2>&1 && echo \"ok $(basename $f)\" || echo \"refused $(basename $f)\"; done";
    let out = docker(&["run", "--rm", "--network", "none", "-v", &mount, "--entrypoint", "sh", "drdrill/monitoring:1", "-c", script]);
    let promtool: std::collections::BTreeMap<String, bool> =
        out.lines().filter_map(|l| l.split_once(' ')).map(|(verdict, f)| (f.to_string(), verdict == "ok")).collect();
    assert_eq!(promtool.len(), files.len(), "promtool answered for {} of {} files:\n{out}", promtool.len(), files.len());
    let mut differ = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let ours = drdrill::scenario::alert_rules::parse(f, &std::fs::read_to_string(f).unwrap());
        // a file of recording rules only is valid to Prometheus; drdrill needs an alert in it
        let ours_ok = ours.as_ref().map(|_| true).unwrap_or_else(|e| e.to_string().contains("holds no alerting rule"));
        if ours_ok != promtool[&name] {
            differ.push(format!(
                "{name}: promtool {}, drdrill {:?}",
                if promtool[&name] { "accepts" } else { "refuses" },
                ours.err().map(|e| e.to_string())
            ));
        }
    }
    assert!(differ.is_empty(), "drdrill and promtool differ:\n{}", differ.join("\n"));
}

/// A shipped drill of one kind (scenarios/alerts-*.yaml, every interval 500 ms, group_wait
/// 1 s): it passes, `down` (the node-down rule, `for: 1s`) pages for `node` no later than
/// the fault + scrape + evaluation + `for` + group_wait + 2 s, and every rule that paged
/// is resolved, with a notification, once the node is back. Returns the results.
fn kind_drill_pages(scenario: &str, down: &str, node: &str) -> Drill {
    let d = run_drill(scenario, &[]);
    let r = &d.results;
    assert_eq!(r["verdict"], "pass", "{}", d.stderr);
    assert!(r["alerts"]["rules"].as_array().unwrap().iter().all(|x| x["outcome"] != "dead"), "{}", r["alerts"]);
    let a = rule(r, down);
    assert_eq!(a["outcome"], "notified", "{a}");
    assert_eq!(a["instances"][0], node, "{a}");
    let (fault, notified) = (r["fault_ms"].as_f64().unwrap(), a["notified_ms"].as_f64().unwrap());
    let latest = fault + SCRAPE + EVAL + 1_000.0 + GROUP_WAIT + 2_000.0;
    assert!(notified >= fault + 1_000.0 && notified <= latest, "{down} paged at {notified} ms: fault {fault}, latest {latest}");
    for x in r["alerts"]["rules"].as_array().unwrap().iter().filter(|x| x["outcome"] == "notified") {
        assert!(x["resolved_notified_ms"].as_f64().is_some(), "paged and never resolved: {x}");
        assert!(!x["stuck"].as_bool().unwrap() && !x["noise"].as_bool().unwrap(), "{x}");
    }
    d
}

/// Redis Cluster: redis_exporter beside each node, on its own port and with the run's
/// password; the stopped primary pages, then the shard its replica took over, without a
/// replica until the old primary is back as one.
#[test]
fn a_redis_cluster_primary_stopped_pages() {
    let d = kind_drill_pages("scenarios/alerts-redis-cluster.yaml", "RedisClusterNodeDown", "rc-1");
    let r = &d.results;
    let shard = rule(r, "RedisClusterShardWithoutReplica");
    assert_eq!(shard["outcome"], "notified", "{shard}");
    assert_eq!(shard["instances"][0], r["stack"]["final_primary"], "{shard}");
    assert!(shard["notified_ms"].as_f64().unwrap() > r["recovered_at_ms"].as_f64().unwrap() - 1_000.0, "after the promotion: {shard}");
}

/// Galera: mysqld_exporter with only its grants (no error in the survivors' exporter logs:
/// slave_status logs one at each scrape without SLAVE MONITOR); the killed node pages, and
/// the survivors' component smaller than the cluster.
#[test]
fn a_galera_node_killed_pages() {
    let d = kind_drill_pages("scenarios/alerts-galera.yaml", "GaleraNodeDown", "gal-3");
    let smaller = rule(&d.results, "GaleraClusterSmaller");
    assert_eq!(smaller["outcome"], "notified", "{smaller}");
    let mut on: Vec<&str> = smaller["instances"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    on.sort();
    assert_eq!(on, ["gal-1", "gal-2"], "{smaller}");
    for node in ["gal-1", "gal-2"] {
        let log = std::fs::read_to_string(d.dir.join(format!("logs/{node}-exporter.log"))).unwrap();
        // a scrape slower than its 500 ms timeout on a loaded machine is no grant missing
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("level=error") && !l.contains("context deadline exceeded")).collect();
        assert!(log.contains("mysqld_exporter") && errors.is_empty(), "{node}'s exporter:\n{log}");
    }
}

/// pglogical: postgres_exporter with drdrill's queries file (kept in the evidence); the
/// killed node pages, and the survivor's subscription from it, which pglogical does not
/// restart by itself: it resolves after the runbook's step.
#[test]
fn a_pglogical_node_killed_pages() {
    let d = kind_drill_pages("scenarios/alerts-multi-active.yaml", "PglogicalNodeDown", "pgl-2");
    let sub = rule(&d.results, "PglogicalSubscriptionDown");
    assert_eq!(sub["outcome"], "notified", "{sub}");
    assert_eq!(sub["instances"][0], "pgl-1", "{sub}");
    let queries = std::fs::read_to_string(d.dir.join("monitoring/pgl-1-exporter/pglogical-queries.yml")).unwrap();
    assert!(queries.contains("pglogical.show_subscription_status()"), "{queries}");
}
