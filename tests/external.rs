//! Drilling a stack drdrill did not start. Each test starts its own "existing" database
//! pair with plain `docker run` (not drdrill's stack code), puts a Toxiproxy-API forwarder
//! (`drdrill proxy`, a separate process) in front as the clients' endpoint, and lets the
//! scenario break, promote and repoint it with `command` and `http` actions. The numbers
//! are cross-checked with our own reads; secrets must appear in no evidence file.
use crate::common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PG_PASSWORD: &str = "pg-Secret-7f3a91";
const TOKEN: &str = "tok-Secret-c0ffee42";
const REDIS_PASSWORD: &str = "redis-Secret-5e5e5e";

/// An "existing" replicated pair on its own network, and a forwarder in front of it.
struct Existing {
    net: String,
    names: Vec<String>,
    ports: Vec<u16>,
    forwarder: Child,
    api: u16,
    endpoint: u16,
    dir: PathBuf,
}

impl Drop for Existing {
    fn drop(&mut self) {
        let _ = self.forwarder.kill();
        let _ = self.forwarder.wait();
        for n in &self.names {
            docker(&["rm", "-f", "-v", n]);
        }
        docker(&["network", "rm", &self.net]);
    }
}

/// `drdrill proxy` with one proxy `db` listening on the endpoint, to `upstream`.
fn forwarder(dir: &Path, upstream: u16) -> (Child, u16, u16) {
    let (api, endpoint) = (free_port(), free_port());
    let cfg = dir.join("proxies.json");
    std::fs::write(&cfg, format!(r#"[{{"name":"db","listen":"127.0.0.1:{endpoint}","upstream":"127.0.0.1:{upstream}"}}]"#)).unwrap();
    let child = Command::new(bin())
        .args(["proxy", "--port", &api.to_string(), "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the forwarder", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", endpoint)).is_ok());
    (child, api, endpoint)
}

fn network(tag: &str) -> String {
    let net = format!("drdrill-test-ext-{tag}-{}", std::process::id());
    docker(&["network", "rm", &net]);
    docker(&["network", "create", &net]);
    net
}

/// PostgreSQL primary `a` streaming to replica `b`; role `app` (scram password) owns `drills`.
fn existing_postgres() -> Existing {
    let net = network("pg");
    let names: Vec<String> = ["a", "b"].iter().map(|n| format!("{net}-{n}")).collect();
    for (i, n) in names.iter().enumerate() {
        docker(&["rm", "-f", "-v", n]);
        let role = if i == 0 { "DRDRILL_ROLE=primary" } else { "DRDRILL_ROLE=replica" };
        let mut args = vec!["run", "-d", "--name", n, "--network", &net, "--network-alias", if i == 0 { "pg-a" } else { "pg-b" }];
        args.extend([
            "-e",
            role,
            "-e",
            "DRDRILL_PRIMARY_HOST=pg-a",
            "-e",
            "DRDRILL_NODE=pg-b",
            "-p",
            "127.0.0.1::5432",
            "drdrill/postgres:15-2",
        ]);
        let out = docker(&args);
        assert!(!out.contains("Error"), "{out}");
        if i == 0 {
            wait_for("the primary", Duration::from_secs(60), || {
                exec(n, &["pg_isready", "-q", "-U", "postgres"]).is_empty()
                    && exec(n, &["psql", "-U", "postgres", "-Atc", "select 1"]).trim() == "1"
            });
        }
    }
    let (a, b) = (&names[0], &names[1]);
    wait_for("streaming", Duration::from_secs(90), || {
        exec(a, &["psql", "-U", "postgres", "-Atc", "select count(*) from pg_stat_replication where state='streaming'"]).trim() == "1"
    });
    let sql = format!("CREATE ROLE app LOGIN PASSWORD '{PG_PASSWORD}'; CREATE DATABASE drills OWNER app;");
    for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
        let out = exec(a, &["psql", "-U", "postgres", "-c", stmt]);
        assert!(!out.contains("ERROR"), "{out}");
    }
    // the password matters: app may log in over TCP only with it (trust stays for postgres)
    for n in &names {
        exec(n, &["sh", "-c", "sed -i '1i host all app 0.0.0.0/0 scram-sha-256' $PGDATA/pg_hba.conf"]);
        exec(n, &["psql", "-U", "postgres", "-Atc", "select pg_reload_conf()"]);
    }
    // an existing system is in its steady state: the replica has replayed the new role and
    // database (CREATE DATABASE writes megabytes of WAL) and streams again
    let caught_up = "select count(*) from pg_stat_replication where state = 'streaming' and replay_lsn >= pg_current_wal_lsn()";
    wait_for("the replica to catch up", Duration::from_secs(60), || exec(a, &["psql", "-U", "postgres", "-Atc", caught_up]).trim() == "1");
    wait_for("app on the replica", Duration::from_secs(30), || {
        exec(b, &["psql", "-U", "postgres", "-d", "drills", "-Atc", "select 1 from pg_roles where rolname = 'app'"]).trim() == "1"
    });
    let ports = vec![published(a, 5432), published(b, 5432)];
    let dir = tempfile::tempdir().unwrap().keep();
    let (forwarder, api, endpoint) = forwarder(&dir, ports[0]);
    Existing { net, names, ports, forwarder, api, endpoint, dir }
}

/// Redis primary `a` replicated to `b`, both with `requirepass`.
fn existing_redis() -> Existing {
    let net = network("redis");
    let names: Vec<String> = ["a", "b"].iter().map(|n| format!("{net}-{n}")).collect();
    for (i, n) in names.iter().enumerate() {
        docker(&["rm", "-f", "-v", n]);
        let alias = if i == 0 { "redis-a" } else { "redis-b" };
        let mut args =
            vec!["run", "-d", "--name", n, "--network", &net, "--network-alias", alias, "-p", "127.0.0.1::6379", "drdrill/redis:7"];
        args.extend(["--requirepass", REDIS_PASSWORD, "--masterauth", REDIS_PASSWORD, "--appendonly", "no"]);
        if i == 1 {
            args.extend(["--replicaof", "redis-a", "6379"]);
        }
        let out = docker(&args);
        assert!(!out.contains("Error"), "{out}");
    }
    wait_for("replication", Duration::from_secs(60), || {
        exec(&names[1], &["redis-cli", "--no-auth-warning", "-a", REDIS_PASSWORD, "info", "replication"]).contains("master_link_status:up")
    });
    let ports = vec![published(&names[0], 6379), published(&names[1], 6379)];
    let dir = tempfile::tempdir().unwrap().keep();
    let (forwarder, api, endpoint) = forwarder(&dir, ports[0]);
    Existing { net, names, ports, forwarder, api, endpoint, dir }
}

/// Runs `drdrill run FILE --yes --reports DIR` with the secrets in the environment.
fn run_external(file: &Path, extra: &[&str]) -> Drill {
    let env = [("EXT_PG_PASSWORD", PG_PASSWORD), ("EXT_REDIS_PASSWORD", REDIS_PASSWORD), ("EXT_TOKEN", TOKEN)];
    run_drill_with_env(file.to_str().unwrap(), extra, &env)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// No secret in any evidence file, nor in what drdrill printed.
fn assert_no_secrets(d: &Drill) {
    let files = walk(&d.dir);
    assert!(files.iter().any(|f| f.ends_with("scenario.yaml")), "no scenario copy");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in [PG_PASSWORD, TOKEN, REDIS_PASSWORD] {
            assert!(!text.contains(s), "secret {s} in {}", f.display());
        }
    }
    for s in [PG_PASSWORD, TOKEN, REDIS_PASSWORD] {
        assert!(!d.stdout.contains(s) && !d.stderr.contains(s), "secret {s} printed");
    }
}

fn event<'a>(r: &'a Value, kind: &str, detail_start: &str) -> &'a Value {
    r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind && e["detail"].as_str().unwrap_or("").starts_with(detail_start))
        .unwrap_or_else(|| panic!("no {kind} event {detail_start}: {}", r["events"]))
}

/// The endpoint moved at the end of the `move-endpoint` step: recovery comes after the
/// step started and within half a second of its end; RTO counts from the kill.
fn assert_rto_matches_the_steps(r: &Value) {
    let kill = event(r, "fault-inject", "action kill-primary");
    let mv = event(r, "action", "step-1");
    let (kill_ms, mv_start, mv_end) =
        (kill["t_ns"].as_f64().unwrap() / 1e6, mv["applied_from_ns"].as_f64().unwrap() / 1e6, mv["applied_ns"].as_f64().unwrap() / 1e6);
    let recovered = r["recovered_at_ms"].as_f64().unwrap();
    assert!(assert_rto_counts_from_effect(r, 0) >= kill_ms, "RTO counts from the kill command taking effect");
    assert!(recovered >= mv_start, "recovered at {recovered} ms, before the endpoint moved ({mv_start} ms)");
    assert!(recovered <= mv_end + 500.0, "recovered at {recovered} ms, long after the endpoint moved ({mv_end} ms)");
}

fn write_scenario(ex: &Existing, name: &str, text: &str) -> PathBuf {
    let p = ex.dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn external_postgres_killed_promoted_and_repointed_by_commands() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ex = existing_postgres();
    let (a, b) = (&ex.names[0], &ex.names[1]);
    let after = ex.dir.join("after-ran");
    let text = format!(
        r#"name: external-pg
stack:
  kind: external
  engine: postgres
  endpoint: 127.0.0.1:{ep}
  read_endpoint: 127.0.0.1:{pb}
  nodes: {{pg-a: "127.0.0.1:{pa}", pg-b: "127.0.0.1:{pb}"}}
  credentials: {{user: app, password_env: EXT_PG_PASSWORD}}
  database: drills
secrets: [EXT_TOKEN]
steady_state:
  probes:
    - write: true
    - max_lag_bytes: 100000000
hooks:
  before:
    - command: "echo notifying with $EXT_TOKEN as app:$EXT_PG_PASSWORD"
  after:
    - command: ["touch", "{after}"]
workload:
  writers: 2
  rate_per_s: 100
  after_recovery_ms: 3000
  max_duration_ms: 60000
  readers: {{count: 2, rate_per_s: 20, from: read_endpoint}}
faults:
  - at_ms: 3000
    kind: action
    target: primary
    action: {{name: kill-primary, command: ["docker", "kill", "{a}"]}}
failover:
  trigger: {{delay: {{delay_ms: 1000}}}}
  steps:
    - command: ["docker", "exec", "-u", "postgres", "{b}", "psql", "-Atc", "select pg_promote()"]
    - name: move-endpoint
      http:
        method: POST
        url: http://127.0.0.1:{api}/proxies/db
        headers: {{Authorization: "Bearer ${{EXT_TOKEN}}"}}
        body: '{{"upstream":"127.0.0.1:{pb}"}}'
targets: {{rto_ms: 20000}}
"#,
        ep = ex.endpoint,
        pa = ex.ports[0],
        pb = ex.ports[1],
        after = after.display(),
        api = ex.api,
    );
    let file = write_scenario(&ex, "external-pg", &text);
    let d = run_external(&file, &["--yes"]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    assert_eq!(r["stack"]["initial_primary"], "pg-a");
    assert_eq!(r["stack"]["final_primary"], "pg-b");
    assert_eq!(r["failover"]["new_primary"], "pg-b");
    assert_rto_matches_the_steps(r);
    // our own read of the promoted node, as app with the password, this run's rows only
    let run = run_id(r);
    let survivors = block_on(async {
        let conn = format!("host=127.0.0.1 port={} user=app password={PG_PASSWORD} dbname=drills", ex.ports[1]);
        let (c, conn) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let rows = c.query("SELECT writer::bigint, seq FROM drdrill_drill WHERE run = $1", &[&run]).await.unwrap();
        rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)).collect::<BTreeSet<_>>()
    });
    assert!(survivors.len() > 200, "only {} rows survived", survivors.len());
    cross_check_lost(&d, &survivors);
    // the application's reads went to its read endpoint, the replica, which answered
    // through the primary's death and its own promotion
    let x = &r["reads"];
    assert!(x["ok"].as_u64().unwrap() > 100, "{x}");
    let nodes: Vec<&str> = x["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["read_endpoint"], "{x}");
    assert!(x["rto"]["rto_ms"].as_f64().unwrap() < r["rto_ms"].as_f64().unwrap(), "{x}");
    assert_eq!(x["of_lost_writes"]["reads"], 0, "{x}");
    // the steady state held before; the hooks ran; nothing was cleaned up
    let ss = &r["steady_state"];
    assert!(ss["before"].as_array().unwrap().iter().all(|p| p["ok"] == true), "{ss}");
    // after: the endpoint takes writes again; no replica is left to lag (reported, not judged)
    let after_probes = ss["after"].as_array().unwrap();
    assert_eq!(after_probes.iter().map(|p| p["ok"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false], "{ss}");
    assert!(d.stdout.contains("steady state after 1 of 2 probes held"), "{}", d.stdout);
    assert!(after.exists(), "the after hook did not run");
    assert!(r["cleanup"].is_null());
    assert!(std::fs::read_to_string(d.dir.join("actions/before-0.log")).unwrap().contains("[redacted]"));
    assert_no_secrets(&d);
    // drdrill never touched the stack's containers: the killed one stays dead, the other runs
    assert!(docker(&["inspect", "-f", "{{.State.Running}}", a]).contains("false"));
    assert!(docker(&["inspect", "-f", "{{.State.Running}}", b]).contains("true"));
}

#[test]
fn external_redis_with_cleanup_loses_what_the_replica_never_got() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ex = existing_redis();
    let (a, b) = (&ex.names[0], &ex.names[1]);
    let text = format!(
        r#"name: external-redis
stack:
  kind: external
  engine: redis
  endpoint: 127.0.0.1:{ep}
  nodes: {{redis-a: "127.0.0.1:{pa}", redis-b: "127.0.0.1:{pb}"}}
  credentials: {{password_env: EXT_REDIS_PASSWORD}}
  cleanup: true
hooks:
  after:
    # our own read, before drdrill's read-back and cleanup: this run's keys on the new primary
    - command: "docker exec {b} redis-cli --no-auth-warning -a \"$EXT_REDIS_PASSWORD\" --scan --pattern \"drdrill_drill:$DRDRILL_RUN_ID:*\" > {keys}"
workload: {{writers: 2, rate_per_s: 200, after_recovery_ms: 3000, max_duration_ms: 60000}}
faults:
  - at_ms: 3000
    kind: action
    target: primary
    action: {{name: kill-primary, command: ["docker", "kill", "{a}"]}}
failover:
  trigger: {{delay: {{delay_ms: 500}}}}
  steps:
    - command: "docker exec {b} redis-cli --no-auth-warning -a \"$EXT_REDIS_PASSWORD\" replicaof no one"
    - name: move-endpoint
      http: {{method: POST, url: "http://127.0.0.1:{api}/proxies/db", body: '{{"upstream":"127.0.0.1:{pb}"}}'}}
targets: {{rto_ms: 20000}}
"#,
        ep = ex.endpoint,
        pa = ex.ports[0],
        pb = ex.ports[1],
        api = ex.api,
        keys = ex.dir.join("keys.txt").display(),
    );
    let file = write_scenario(&ex, "external-redis", &text);
    let d = run_external(&file, &["--yes"]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    assert_eq!(r["stack"]["final_primary"], "redis-b");
    assert_rto_matches_the_steps(r);
    // our read (the after hook's key dump) agrees with drdrill's lost list and RPO
    let keys = std::fs::read_to_string(ex.dir.join("keys.txt")).unwrap();
    let survivors: BTreeSet<(u64, u64)> = keys
        .lines()
        .filter_map(|k| {
            let mut p = k.trim().rsplit(':');
            Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?)).map(|(s, w)| (w, s))
        })
        .collect();
    assert!(survivors.len() > 500, "{}", survivors.len());
    cross_check_lost(&d, &survivors);
    // then drdrill removed this run's keys, and only those
    let read = r["records_read"].as_u64().unwrap();
    let cleanup = r["cleanup"].as_str().unwrap();
    assert!(cleanup.starts_with(&format!("deleted {read} keys")), "{cleanup}");
    let run = run_id(r);
    let left = exec(b, &["redis-cli", "--no-auth-warning", "-a", REDIS_PASSWORD, "--scan", "--pattern", &format!("drdrill_drill:{run}:*")]);
    assert!(left.trim().is_empty(), "keys left after cleanup: {left}");
    assert_no_secrets(&d);
}

/// A scenario file for a container drill (actions work there too), with `dir` substituted.
fn container_scenario(name: &str, body: &str) -> (PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let text = format!("name: {name}\nstack: {{kind: redis, replicas: 0}}\n{}", body.replace("{dir}", dir.to_str().unwrap()));
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, text).unwrap();
    (file, dir)
}

#[test]
fn abort_when_stops_a_container_drill_and_still_runs_the_undo_and_after_hooks() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (file, dir) = container_scenario(
        "abort-on-outage",
        r#"workload: {writers: 2, rate_per_s: 100, after_recovery_ms: 2000, max_duration_ms: 60000}
hooks:
  after: [{command: "touch {dir}/after"}]
abort_when: {outage_ms: 1500}
faults:
  # drdrill has `stop`; here the operator's own command does it (and its undo heals)
  - at_ms: 2000
    kind: action
    target: primary
    action: {command: "docker stop -t 0 $DRDRILL_PRIMARY_CONTAINER && touch {dir}/stopped"}
    undo: {command: "docker start $DRDRILL_PRIMARY_CONTAINER && touch {dir}/undone"}
  - at_ms: 20000
    kind: action
    action: {command: "touch {dir}/never"}
targets: {rto_ms: 60000}
"#,
    );
    let d = run_drill(file.to_str().unwrap(), &[]);
    assert_eq!(d.code, 1, "an aborted drill fails\n{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    assert_eq!(r["verdict"], "fail");
    let aborted = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "aborted").expect("an aborted target");
    assert!(aborted["note"].as_str().unwrap().contains("outage_ms 1500"), "{aborted}");
    // the abort came after 1.5 s without an ack, and well before the next fault's offset
    let at = aborted["actual"].as_f64().unwrap();
    let stopped = event(r, "fault-inject", "action").get("t_ns").unwrap().as_f64().unwrap() / 1e6;
    assert!(at > stopped + 1500.0 && at < stopped + 4000.0, "aborted at {at} ms, stop at {stopped} ms");
    assert!(dir.join("stopped").exists() && dir.join("undone").exists(), "the undo did not run");
    assert!(dir.join("after").exists(), "the after hook did not run");
    assert!(!dir.join("never").exists(), "a fault fired after the abort");
    assert_eq!(labelled(Some(&run_id(r))), (vec![], vec![]), "left behind");
}

#[test]
fn a_failing_steady_state_refuses_to_start_and_dry_run_runs_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (file, dir) = container_scenario(
        "steady-state-refused",
        r#"steady_state:
  probes: [{command: "test -f {dir}/healthy"}]
hooks:
  before: [{command: "touch {dir}/before"}]
faults:
  - at_ms: 1000
    kind: action
    action: {command: ["touch", "{dir}/fault"]}
    undo: {http: {method: POST, url: "http://127.0.0.1:9/undo"}}
targets: {rto_ms: 5000}
"#,
    );
    // --dry-run: the plan in order, and nothing run
    let out = drdrill(&["run", file.to_str().unwrap(), "--dry-run"]);
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{plan}");
    let at = |s: &str| plan.find(s).unwrap_or_else(|| panic!("`{s}` not in the plan:\n{plan}"));
    assert!(
        at("test -f") < at("before-0")
            && at("before-0") < at("t=1000 ms: fault #0")
            && at("t=1000 ms: fault #0") < at("POST http://127.0.0.1:9/undo"),
        "{plan}"
    );
    for f in ["before", "fault", "healthy"] {
        assert!(!dir.join(f).exists(), "--dry-run ran something ({f})");
    }
    // the probe fails: exit 6, no hook, no fault, and the stack is gone
    let reports = tempfile::tempdir().unwrap();
    let out = drdrill(&["run", file.to_str().unwrap(), "--reports", reports.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("steady state"), "{err}");
    assert!(!dir.join("before").exists() && !dir.join("fault").exists(), "the drill started");
    // by the scenario's own label: other drills may run beside this one
    let (c, n) = labelled_scenario("steady-state-refused");
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}

#[test]
fn a_manual_step_is_confirmed_by_drdrill_mark_from_another_process() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (file, dir) = container_scenario(
        "manual-step",
        r#"workload: {writers: 1, rate_per_s: 50, after_recovery_ms: 1000, max_duration_ms: 60000}
faults:
  - at_ms: 1000
    kind: action
    action: {name: pull-the-plug, manual: "unplug the primary's network cable", timeout_ms: 30000}
targets: {max_lost_writes: 0}
"#,
    );
    let state = dir.join("state");
    let reports = dir.join("reports");
    let mut child = Command::new(bin())
        .args(["run", file.to_str().unwrap(), "--reports", reports.to_str().unwrap()])
        .env("DRDRILL_STATE", &state)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runs = state.join("drdrill-runs");
    let mut run = String::new();
    wait_for("the drill's run folder", Duration::from_secs(120), || {
        run = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .next()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .unwrap_or_default();
        !run.is_empty()
    });
    // a wrong run id is refused; the right one confirms the step once the drill waits for it
    let bad = Command::new(bin()).args(["mark", "nosuchrun", "pull-the-plug"]).env("DRDRILL_STATE", &state).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    std::thread::sleep(Duration::from_secs(12));
    let marked = Instant::now();
    let ok = Command::new(bin()).args(["mark", &run, "pull-the-plug"]).env("DRDRILL_STATE", &state).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let status = child.wait().unwrap();
    assert!(marked.elapsed() < Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
    let d = find_drill(&reports);
    let inject = event(&d.results, "fault-inject", "action pull-the-plug");
    assert!(inject["detail"].as_str().unwrap().contains("confirmed by drdrill mark"), "{inject}");
    // the event is the confirmation, not the prompt at 1000 ms
    let t = inject["t_ns"].as_f64().unwrap() / 1e6;
    assert!(t > 5000.0, "the step counts from {t} ms, before it was confirmed");
    assert!(!runs.join(&run).exists(), "the run folder outlived the drill");
}

/// The user's own DNS for an external stack: `db.drill.` answers `first` with a TTL of
/// `ttl_s`; an HTTP request to the returned control port (a runbook's `http` step) moves it
/// to `then`. Lives as long as the returned runtime.
fn users_dns(first: [u8; 4], then: [u8; 4], ttl_s: u32) -> (tokio::runtime::Runtime, std::net::SocketAddr, u16) {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(drdrill::dns::DnsServer::start(&[("db".into(), first.into())], ttl_s)).unwrap();
    let addr = server.addr();
    let control = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = control.local_addr().unwrap().port();
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        for mut conn in control.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            handle.block_on(server.set("db", then.into())).unwrap();
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (rt, addr, port)
}

#[test]
fn an_external_endpoint_by_name_is_followed_as_its_dns_ttl_says() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ex = existing_postgres();
    let (a, b) = (&ex.names[0], &ex.names[1]);
    // each node on a loopback address of its own, one port: what an A record moves between
    let port = free_port();
    let cfg = ex.dir.join("own-addresses.json");
    let (pa, pb) = (ex.ports[0], ex.ports[1]);
    std::fs::write(
        &cfg,
        format!(
            r#"[{{"name":"a","listen":"127.0.0.21:{port}","upstream":"127.0.0.1:{pa}"}},{{"name":"b","listen":"127.0.0.22:{port}","upstream":"127.0.0.1:{pb}"}}]"#
        ),
    )
    .unwrap();
    let mut own = Command::new(bin())
        .args(["proxy", "--port", &free_port().to_string(), "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the own addresses", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.22", port)).is_ok());
    let (_rt, dns, control) = users_dns([127, 0, 0, 21], [127, 0, 0, 22], 2);
    let text = format!(
        r#"name: external-pg-dns
stack:
  kind: external
  engine: postgres
  endpoint: db.drill:{port}
  resolver: "{dns}"
  nodes: {{pg-a: "127.0.0.21:{port}", pg-b: "127.0.0.22:{port}"}}
  credentials: {{user: app, password_env: EXT_PG_PASSWORD}}
  database: drills
workload: {{writers: 2, rate_per_s: 100, after_recovery_ms: 3000, max_duration_ms: 60000}}
faults:
  - at_ms: 3000
    kind: action
    target: primary
    action: {{name: kill-primary, command: ["docker", "kill", "{a}"]}}
failover:
  trigger: {{delay: {{delay_ms: 1000}}}}
  promote: pg-b
  steps:
    - command: ["docker", "exec", "-u", "postgres", "{b}", "psql", "-Atc", "select pg_promote()"]
    - name: move-dns
      http: {{method: POST, url: "http://127.0.0.1:{control}/move"}}
targets: {{rto_ms: 30000, converge: false}}
"#
    );
    let file = write_scenario(&ex, "external-pg-dns", &text);
    let d = run_external(&file, &["--yes"]);
    let _ = own.kill();
    let _ = own.wait();
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    assert_eq!(r["stack"]["final_primary"], "pg-b");
    // each writer kept its answer for the TTL: its first answer naming pg-b came no sooner
    // than 2 s after its last one naming pg-a, and only after the record moved
    let moved = event(r, "action", "step-1")["applied_from_ns"].as_f64().unwrap();
    let answers: Vec<&Value> = r["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "dns-answer").collect();
    for w in ["writer 0:", "writer 1:"] {
        let mine: Vec<&&Value> = answers.iter().filter(|e| e["detail"].as_str().unwrap().starts_with(w)).collect();
        let t = |e: &&&Value| e["t_ns"].as_f64().unwrap();
        let old = mine.iter().filter(|e| e["node"] == "pg-a").map(t).fold(0.0, f64::max);
        let new = mine.iter().filter(|e| e["node"] == "pg-b").map(t).fold(f64::INFINITY, f64::min);
        assert!(new.is_finite(), "{w} never followed the record: {mine:?}");
        assert!(new >= moved && new >= old + 2.0e9 - 5.0e6, "{w}: last pg-a answer {old}, first pg-b answer {new}, moved {moved}");
    }
    let recovered = r["recovered_at_ms"].as_f64().unwrap() * 1e6;
    assert!(recovered >= moved && recovered <= moved + 3.0e9, "recovered at {recovered} ns, the record moved at {moved} ns");
}
