//! Helpers for the integration tests: run the real binary, read its evidence, and read the
//! surviving data ourselves, independently of drdrill's own drivers.
#![allow(dead_code)]
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod orchestrated;
pub use orchestrated::*;

/// Drills share two cores and one engine: run them one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_drdrill")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn drdrill(args: &[&str]) -> Output {
    Command::new(bin()).args(args).current_dir(root()).output().expect("run drdrill")
}

pub struct Drill {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
    pub results: Value,
}

/// Runs a scenario into a fresh reports folder and loads results.json.
pub fn run_drill(scenario: &str, extra: &[&str]) -> Drill {
    run_drill_with_env(scenario, extra, &[])
}

/// As `run_drill`, with environment variables set for drdrill (an external stack's
/// credentials).
pub fn run_drill_with_env(scenario: &str, extra: &[&str], env: &[(&str, &str)]) -> Drill {
    let reports = tempfile::tempdir().expect("tempdir").keep();
    let mut args = vec!["run", scenario, "--reports", reports.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = Command::new(bin()).args(&args).envs(env.iter().copied()).current_dir(root()).output().expect("run drdrill");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code().unwrap_or(-1);
    // captured by the test runner and shown only when the test fails: the scorecard (which
    // target failed, and by how much) beside the assertion that failed; on stderr, so the
    // panic's message follows it and ends the test's output (CI excerpts show the end)
    eprintln!("drdrill {} (exit {code}); evidence in {}\n{stdout}", args.join(" "), reports.display());
    let dir = find_results(&reports).unwrap_or_else(|| panic!("no results.json (exit {code})\n{stdout}\n{stderr}"));
    let results: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    Drill { code, stdout, stderr, dir, results }
}

/// Starts `drdrill run scenario --reports reports` in the background, stderr piped (the
/// phases, to wait on), stdout discarded.
pub fn spawn_drill(scenario: &str, reports: &Path) -> std::process::Child {
    Command::new(bin())
        .args(["run", scenario, "--reports", reports.to_str().unwrap()])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start drdrill")
}

/// The drill whose evidence is somewhere under `reports` (exit code and output unknown).
pub fn find_drill(reports: &Path) -> Drill {
    let dir = find_results(reports).expect("no results.json");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    Drill { code: -1, stdout: String::new(), stderr: String::new(), dir, results }
}

pub fn find_results(dir: &Path) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.join("results.json").exists() {
            return Some(p);
        }
        if p.is_dir()
            && let Some(found) = find_results(&p)
        {
            return Some(found);
        }
    }
    None
}

/// Port of a node, from results.json.
pub fn host_port(results: &Value, node: &str) -> u16 {
    results["stack"]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap()["host_port"].as_u64().unwrap() as u16
}

/// A port free on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// Every record on a PostgreSQL node, read with our own query.
pub fn read_postgres(port: u16) -> BTreeSet<(u64, u64)> {
    block_on(read_postgres_async(port))
}

async fn read_postgres_async(port: u16) -> BTreeSet<(u64, u64)> {
    let (client, conn) =
        tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user=postgres dbname=drdrill"), tokio_postgres::NoTls)
            .await
            .expect("connect to the new primary");
    tokio::spawn(conn);
    let rows = client.query("SELECT writer::bigint, seq FROM drdrill_writes", &[]).await.unwrap();
    rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)).collect()
}

/// Every record on a Redis node: KEYS drdrill:*.
pub fn read_redis(port: u16) -> BTreeSet<(u64, u64)> {
    read_redis_as(port, None)
}

/// Every record on a Redis node that asks for `password`.
pub fn read_redis_as(port: u16, password: Option<&str>) -> BTreeSet<(u64, u64)> {
    block_on(async {
        let mut c = redis_conn(port, password).await;
        read_keys(&mut c).await
    })
}

/// A connection to the Redis node on `port`, logged in with `password`.
pub async fn redis_conn(port: u16, password: Option<&str>) -> redis::aio::MultiplexedConnection {
    let login = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let client = redis::Client::open(format!("redis://{login}127.0.0.1:{port}/")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

async fn read_keys(c: &mut redis::aio::MultiplexedConnection) -> BTreeSet<(u64, u64)> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("drdrill:*").query_async(c).await.unwrap();
    keys.iter()
        .map(|k| {
            let mut parts = k.split(':').skip(1);
            (parts.next().unwrap().parse().unwrap(), parts.next().unwrap().parse().unwrap())
        })
        .collect()
}

pub fn container_of(r: &Value, node: &str) -> String {
    r["stack"]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap()["container"].as_str().unwrap().to_string()
}

/// Every record on a MariaDB node, read with the server's own client inside its container
/// (as root over the socket: no drdrill code, no drill password).
pub fn read_mariadb(r: &Value, node: &str) -> BTreeSet<(u64, u64)> {
    let sql = "SELECT writer, seq FROM drdrill.drdrill_writes";
    let out =
        std::process::Command::new("docker").args(["exec", &container_of(r, node), "mariadb", "-N", "-B", "-e", sql]).output().unwrap();
    assert!(out.status.success(), "read {node}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.split('\t').map(|x| x.parse::<u64>().unwrap());
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect()
}

/// drdrill's lost list from results.json.
pub fn reported_lost(results: &Value) -> BTreeSet<(u64, u64)> {
    results["lost"].as_array().unwrap().iter().map(|l| (l["writer"].as_u64().unwrap(), l["seq"].as_u64().unwrap())).collect()
}

/// Names of containers and networks carrying drdrill.run (optionally of one run).
pub fn labelled(run: Option<&str>) -> (Vec<String>, Vec<String>) {
    match run {
        Some(r) => labelled_by(&format!("label=drdrill.run={r}")),
        None => labelled_by("label=drdrill.run"),
    }
}

/// Names of containers and networks carrying drdrill.scenario=`name`: one drill's
/// resources whatever its run id, while other drills run beside it.
pub fn labelled_scenario(name: &str) -> (Vec<String>, Vec<String>) {
    labelled_by(&format!("label=drdrill.scenario={name}"))
}

fn labelled_by(label: &str) -> (Vec<String>, Vec<String>) {
    let list = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker").args(args).output().expect("docker CLI");
        assert!(out.status.success(), "docker {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
    };
    (list(&["ps", "-a", "--filter", label, "--format", "{{.Names}}"]), list(&["network", "ls", "--filter", label, "--format", "{{.Name}}"]))
}

/// Names of the volumes carrying drdrill.run=`run`.
pub fn labelled_volumes(run: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["volume", "ls", "--filter", &format!("label=drdrill.run={run}"), "--format", "{{.Name}}"])
        .output()
        .expect("docker CLI");
    assert!(out.status.success(), "docker volume ls failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

pub fn run_id(results: &Value) -> String {
    results["run_id"].as_str().unwrap().to_string()
}

/// (invoke, completion) time (ms) of every acknowledged write, keyed by (writer, seq),
/// parsed here from history.jsonl.zst.
pub fn ack_times(dir: &Path) -> BTreeMap<(u64, u64), (f64, f64)> {
    ok_ops(dir).filter(|v| v.get("change").is_none()).map(|v| (key_of(&v), times_of(&v))).collect()
}

/// Every acknowledged op's (invoke, ack) times in ms, changes (`workload.changes`) included.
pub fn op_ack_times(dir: &Path) -> BTreeMap<(u64, u64), (f64, f64)> {
    ok_ops(dir).map(|v| (key_of(&v), times_of(&v))).collect()
}

/// Each acknowledged rewrite (`workload.changes`): its op's (writer, seq) -> (record, revision).
pub fn acked_rewrites(dir: &Path) -> BTreeMap<(u64, u64), ((u64, u64), u64)> {
    let rewrite = |v: &Value| Some((v["change"]["rewrite"]["of"].as_u64()?, v["change"]["rewrite"]["rev"].as_u64()?));
    ok_ops(dir).filter_map(|v| rewrite(&v).map(|(of, rev)| (key_of(&v), ((key_of(&v).0, of), rev)))).collect()
}

/// The records an acknowledged rewrite found absent (the server created them anew), each
/// with the highest such revision: every write of the record before it was lost.
pub fn recreated(dir: &Path) -> BTreeMap<Record, u64> {
    let mut out = BTreeMap::new();
    for v in ok_ops(dir).filter(|v| v["change"]["rewrite"]["created"] == true) {
        let rev = v["change"]["rewrite"]["rev"].as_u64().unwrap();
        let e = out.entry((key_of(&v).0, v["change"]["rewrite"]["of"].as_u64().unwrap())).or_insert(0);
        *e = rev.max(*e);
    }
    out
}

/// Each write invoked at or after `from_ms` that did not succeed, as the history has it
/// (writer, seq, invoke_ns, complete_ns, outcome, node, error).
pub fn not_ok_ops_from(dir: &Path, from_ms: f64) -> Vec<Value> {
    not_ok_from(history_of(dir, "op"), from_ms)
}

/// Each read invoked at or after `from_ms` that did not succeed (reader, writer,
/// invoke_ns, complete_ns, outcome, node, error).
pub fn not_ok_reads_from(dir: &Path, from_ms: f64) -> Vec<Value> {
    not_ok_from(history_of(dir, "read"), from_ms)
}

/// When the first read that `node` answered was invoked (drill ms).
pub fn first_ok_read_on(dir: &Path, node: &str) -> Option<f64> {
    history_of(dir, "read")
        .filter(|v| v["outcome"] == "ok" && v["node"] == node)
        .filter_map(|v| v["invoke_ns"].as_f64())
        .map(|ns| ns / 1e6)
        .reduce(f64::min)
}

fn not_ok_from(records: impl Iterator<Item = Value>, from_ms: f64) -> Vec<Value> {
    let from = |v: &Value| v["invoke_ns"].as_f64().is_some_and(|ns| ns / 1e6 >= from_ms);
    records.filter(|v| v["outcome"] != "ok" && from(v)).collect()
}

/// The history's acknowledged ops.
fn ok_ops(dir: &Path) -> impl Iterator<Item = Value> {
    history_ops(dir).filter(|v| v["outcome"] == "ok")
}

/// The history's ops, each as its line's JSON.
fn history_ops(dir: &Path) -> impl Iterator<Item = Value> {
    history_of(dir, "op")
}

/// The history's records of one `type` (op, read, event), each as its line's JSON.
fn history_of(dir: &Path, kind: &str) -> impl Iterator<Item = Value> {
    let text = drdrill::history::read_text(&drdrill::history::path_in(dir)).unwrap();
    let all: Vec<Value> = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == kind).collect();
    all.into_iter()
}

fn key_of(v: &Value) -> (u64, u64) {
    (v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap())
}

fn times_of(v: &Value) -> (f64, f64) {
    (v["invoke_ns"].as_f64().unwrap() / 1e6, v["complete_ns"].as_f64().unwrap() / 1e6)
}

/// A record's (writer, seq), or an op's.
pub type Record = (u64, u64);

/// The deletes of the history (`workload.changes`): the records a delete acknowledged or
/// left unanswered may have removed, and each acknowledged one's (writer, record) -> the
/// delete op's (writer, seq).
pub fn deletes(dir: &Path) -> (BTreeSet<Record>, BTreeMap<Record, Record>) {
    let text = drdrill::history::read_text(&drdrill::history::path_in(dir)).unwrap();
    let (mut gone, mut acked) = (BTreeSet::new(), BTreeMap::new());
    for v in text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "op") {
        let Some(of) = v["change"]["delete"]["of"].as_u64() else { continue };
        let record = (v["writer"].as_u64().unwrap(), of);
        if v["outcome"] != "fail" {
            gone.insert(record);
        }
        if v["outcome"] == "ok" {
            acked.insert(record, key_of(&v));
        }
    }
    (gone, acked)
}

/// Compares drdrill's lost list and RPO with our own computation; returns the lost set:
/// the records acknowledged and absent (none a delete may have removed), and the
/// acknowledged deletes whose record is still there (by the delete op's writer and seq).
/// A rewrite lost (`workload.changes`) needs the revisions: the files test checks those.
pub fn cross_check_lost(d: &Drill, survivors: &BTreeSet<(u64, u64)>) -> BTreeSet<(u64, u64)> {
    let acks = ack_times(&d.dir);
    let all_acks = op_ack_times(&d.dir);
    let (gone, acked_deletes) = deletes(&d.dir);
    let acked: BTreeSet<(u64, u64)> = acks.keys().copied().collect();
    let mut ours: BTreeSet<(u64, u64)> = acked.difference(survivors).filter(|k| !gone.contains(k)).copied().collect();
    // a record a later rewrite found absent lost its upload, though the rewrite brought it back
    ours.extend(recreated(&d.dir).keys().filter(|k| acked.contains(k)));
    ours.extend(acked_deletes.iter().filter(|(record, _)| survivors.contains(record)).map(|(_, op)| *op));
    let rewrites: BTreeSet<(u64, u64)> = lost_entries(&d.results, "rewrite");
    let theirs: BTreeSet<(u64, u64)> = reported_lost(&d.results).difference(&rewrites).copied().collect();
    assert_eq!(ours, theirs, "drdrill's lost list differs from an independent read");
    assert_eq!(d.results["lost_writes"].as_u64().unwrap(), (ours.len() + rewrites.len()) as u64);
    assert_eq!(d.results["acked_writes"].as_u64().unwrap(), all_acks.len() as u64);
    assert_eq!(d.results["records_read"].as_u64().unwrap(), survivors.len() as u64);
    // RPO (docs/measurement.md): from the earliest lost write's invoke to the later of the fault and
    // the last lost acknowledgement; 0 exactly when nothing is lost
    let fault = d.results["fault_ms"].as_f64().unwrap();
    let rpo = d.results["rpo_ms"].as_f64().unwrap();
    let every: Vec<(f64, f64)> = ours.iter().chain(&rewrites).map(|k| all_acks[k]).collect();
    if every.is_empty() {
        assert_eq!(rpo, 0.0);
    } else {
        let first_invoke = every.iter().map(|t| t.0).reduce(f64::min).unwrap();
        let last_ack = every.iter().map(|t| t.1).reduce(f64::max).unwrap();
        let expect = fault.max(last_ack) - first_invoke;
        assert!(rpo > 0.0, "{} writes lost but rpo_ms is 0", every.len());
        assert!((rpo - expect).abs() < 0.001, "rpo {rpo} ms, expected {expect} ms");
    }
    ours
}

/// The lost list's entries for changes of one kind (`rewrite`, `delete`): (writer, op seq).
pub fn lost_entries(results: &Value, kind: &str) -> BTreeSet<(u64, u64)> {
    let lost = results["lost"].as_array().unwrap().iter();
    lost.filter(|l| !l["change"][kind].is_null()).map(|l| (l["writer"].as_u64().unwrap(), l["seq"].as_u64().unwrap())).collect()
}

/// What a kept drill looked like when we read it ourselves.
pub struct Checked {
    pub d: Drill,
    pub lost: BTreeSet<(u64, u64)>,
    pub survivors: BTreeSet<(u64, u64)>,
    /// Records on the nodes named in `also`.
    pub others: BTreeMap<String, BTreeSet<(u64, u64)>>,
}

/// Runs a scenario with --keep, reads the final primary (and the nodes in `also`) with our
/// own client, cross-checks drdrill's lost list and RPO, then garbage-collects the run and
/// checks that nothing labelled with it remains, volumes included.
pub fn drill_cross_checked(scenario: &str, read: fn(u16) -> BTreeSet<(u64, u64)>, also: &[&str]) -> Checked {
    drill_cross_checked_by(scenario, &move |r, node| read(host_port(r, node)), also)
}

/// As `drill_cross_checked`, reading a node (by results.json and name) with `read`.
/// Reads a node's records: (results.json, node name) -> {(writer, seq)}.
pub type ReadNode = dyn Fn(&Value, &str) -> BTreeSet<(u64, u64)>;

pub fn drill_cross_checked_by(scenario: &str, read: &ReadNode, also: &[&str]) -> Checked {
    let d = run_drill(scenario, &["--keep"]);
    let primary = d.results["stack"]["final_primary"].as_str().unwrap().to_string();
    let survivors = read(&d.results, &primary);
    let others = also.iter().map(|n| (n.to_string(), read(&d.results, n))).collect();
    let run = run_id(&d.results);
    let out = drdrill(&["gc", "--run", &run]);
    assert!(out.status.success(), "gc failed: {}", String::from_utf8_lossy(&out.stderr));
    let ((c, n), v) = (labelled(Some(&run)), labelled_volumes(&run));
    assert!(c.is_empty() && n.is_empty() && v.is_empty(), "left behind: {c:?} {n:?} {v:?}");
    let lost = cross_check_lost(&d, &survivors);
    Checked { d, lost, survivors, others }
}

pub fn by_writer(set: &BTreeSet<(u64, u64)>) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for (w, _) in set {
        *m.entry(*w).or_default() += 1;
    }
    m
}

/// Output (stdout then stderr) of a docker CLI command.
/// `docker run` arguments of a Prometheus on the host's network listening on
/// 127.0.0.1:`port`, with `mount` (`host-dir:/etc/x:ro`) and its config at `config`.
pub fn prometheus_run_args(name: &str, mount: &str, config: &str, port: u16) -> Vec<String> {
    let args = ["run", "-d", "--name", name, "--network", "host", "-v", mount, "drdrill/monitoring:1", "prometheus"];
    let mut out: Vec<String> = args.map(str::to_string).to_vec();
    out.extend([format!("--config.file={config}"), format!("--web.listen-address=127.0.0.1:{port}"), "--storage.tsdb.path=/tmp/p".into()]);
    out
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// The db nodes that hold the VIP (read from the forwarder's target) on eth0.
pub fn vip_holders(r: &Value) -> Vec<String> {
    let fwd = format!("drdrill-{}-vip", run_id(r));
    let vip = docker(&["exec", &fwd, "cat", "/etc/drdrill-vip"]).trim().to_string();
    assert!(vip.contains('.'), "no VIP: {vip}");
    r["stack"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            docker(&["exec", n["container"].as_str().unwrap(), "ip", "-4", "addr", "show", "dev", "eth0"]).contains(&format!("inet {vip}/"))
        })
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

/// RTO counts from when fault #`index` took effect for the clients: their first write that
/// did not succeed, clamped to [requested, applied]. Returns that time (ms).
pub fn assert_rto_counts_from_effect(r: &Value, index: u64) -> f64 {
    let ev = events(r).into_iter().find(|e| e["kind"] == "fault-inject" && e["fault"] == index).expect("the fault's event");
    let (requested, applied) = (ev["t_ns"].as_f64().unwrap() / 1e6, ev["applied_ns"].as_f64().unwrap() / 1e6);
    let first_bad = r["outage_start_ms"].as_f64().expect("an outage");
    let from = r["rto_from_ms"].as_f64().unwrap();
    assert!(
        (from - first_bad.clamp(requested, applied)).abs() < 1e-6,
        "RTO from {from} ms: fault asked {requested}, applied {applied}, first failed write {first_bad}"
    );
    if let (Some(rto), Some(recovered)) = (r["rto_ms"].as_f64(), r["recovered_at_ms"].as_f64()) {
        assert!((rto - (recovered - from)).abs() < 0.01, "rto {rto} ms, recovered at {recovered} ms, from {from} ms");
    }
    from
}

/// The loopback port Docker published for a container's `port`.
pub fn published(name: &str, port: u16) -> u16 {
    let out = docker(&["port", name, &port.to_string()]);
    out.lines().find_map(|l| l.strip_prefix("127.0.0.1:")).and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("no port: {out}"))
}

/// Polls `ok` every 300 ms until it holds; panics after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Output of `docker exec NAME ARGS…`.
pub fn exec(name: &str, args: &[&str]) -> String {
    let mut v = vec!["exec", name];
    v.extend_from_slice(args);
    docker(&v)
}

/// Acknowledged writes of one service of a drill of several, read from the history
/// ourselves, and whether every op carried a service.
pub fn acked_of(d: &Drill, service: &str) -> (BTreeSet<(u64, u64)>, bool) {
    let text = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    let mut all_tagged = true;
    let mut acks = BTreeSet::new();
    for v in text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "op") {
        all_tagged &= v["service"].is_string();
        if v["service"] == service && v["outcome"] == "ok" {
            acks.insert((v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap()));
        }
    }
    (acks, all_tagged)
}

/// One service of a drill of several as a one-service drill: its results, with the
/// drill's events that concern it.
pub fn service_drill(d: &Drill, name: &str) -> Drill {
    let mut results = d.results["services"][name].clone();
    assert!(results.is_object(), "no services.{name} in results.json");
    let mine: Vec<Value> = events(&d.results).into_iter().filter(|e| e["service"].is_null() || e["service"] == name).collect();
    results["events"] = Value::Array(mine);
    Drill { code: d.code, stdout: d.stdout.clone(), stderr: d.stderr.clone(), dir: d.dir.clone(), results }
}

/// A service's lost writes from drdrill, checked against its acknowledged writes and an
/// independent read of its surviving records.
pub fn service_lost_checked(d: &Drill, name: &str, survivors: &BTreeSet<(u64, u64)>) -> BTreeSet<(u64, u64)> {
    let s = service_drill(d, name);
    let (acked, _) = acked_of(d, name);
    let ours: BTreeSet<(u64, u64)> = acked.difference(survivors).copied().collect();
    assert_eq!(ours, reported_lost(&s.results), "{name}: drdrill's lost list differs from an independent read");
    assert_eq!(s.results["lost_writes"].as_u64(), Some(ours.len() as u64), "{name}");
    assert_eq!(s.results["acked_writes"].as_u64(), Some(acked.len() as u64), "{name}");
    assert_eq!(s.results["records_read"].as_u64(), Some(survivors.len() as u64), "{name}");
    ours
}

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c;
        }
    }
    panic!("chromium is not installed: scripts/test.sh installs it (Debian's chromium package)");
}

/// Opens `dir`'s report.html in headless Chromium as an auditor would: a screenshot taken
/// (outside the evidence), no console error; returns the page as the browser rendered it.
pub fn report_in_chromium(dir: &Path) -> String {
    let page = format!("file://{}", std::path::absolute(dir.join("report.html")).unwrap().display());
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("report.png");
    let base = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--window-size=1300,2400"];
    let o = Command::new(chromium()).args(base).arg(format!("--screenshot={}", shot.display())).arg(&page).output().unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(shot.metadata().is_ok_and(|m| m.len() > 10_000), "no screenshot: {log}");
    assert!(!log.contains("Uncaught") && !log.contains(":ERROR:CONSOLE"), "console errors: {log}");
    let o = Command::new(chromium()).args(base).arg("--dump-dom").arg(&page).output().unwrap();
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// What an auditor reads of a multi-active drill, without the terminal: report.md, and
/// report.html as Chromium renders it. Each must name every site with its writes, hold
/// every `also` text, and show no single-primary row (`primary X -> X`) and no
/// "unknown ms" (issue 53).
pub fn assert_multi_active_reports(d: &Drill, also: &[String]) {
    let md = std::fs::read_to_string(d.dir.join("report.md")).unwrap();
    let dom = report_in_chromium(&d.dir).replace("&gt;", ">");
    let sites = d.results["multi_active"]["sites"].as_object().expect("multi_active.sites").clone();
    for (name, page) in [("report.md", &md), ("report.html", &dom)] {
        assert!(page.contains("By site"), "{name}: no section by site");
        for (site, w) in &sites {
            let writes = format!("{} / {} / {}", w["acked"], w["failed"], w["unknown"]);
            assert!(page.contains(site.as_str()) && page.contains(&writes), "{name}: site {site} ({writes}) missing");
        }
        for text in also {
            assert!(page.contains(text.as_str()), "{name}: `{text}` missing");
        }
        assert!(!page.contains("unknown ms"), "{name}: an `unknown ms`");
        let primary = d.results["stack"]["final_primary"].as_str().unwrap_or("-");
        assert!(!page.contains(&format!("{primary} -> {primary}")), "{name}: a single primary row");
    }
}

/// Attempts a drill test whose bounds are timings gets (issue 71's rule, docs/testing.md).
pub const ATTEMPTS: u32 = 3;

/// The project's own timing bounds held on a run the host did not disturb: the drill runs
/// and `check` (the test's assertions) is applied; a check that fails on a run the drill
/// itself measured as disturbed (a saturated stretch, a stalled disk, a client late past
/// its bound: `disturbed`) runs the drill again, up to `ATTEMPTS` in all, each attempt
/// logged on stderr and in target/quiet-runs.log. It fails at once on an undisturbed run,
/// and when every attempt was disturbed (a drdrill that loads the host itself still fails).
/// Unlike a blind retry, a bound missed on a quiet run is never run away.
pub fn on_a_quiet_run<T>(scenario: &str, extra: &[&str], check: impl Fn(&Drill) -> T) -> T {
    held_on_a_quiet_run(scenario, || run_drill(scenario, extra), check, quiet_log)
}

/// `on_a_quiet_run` for a drill cross-checked against our own read of the survivors.
pub fn checked_on_a_quiet_run<T>(scenario: &str, read: fn(u16) -> BTreeSet<(u64, u64)>, also: &[&str], check: impl Fn(&Checked) -> T) -> T {
    held_on_a_quiet_run(scenario, || drill_cross_checked(scenario, read, also), check, quiet_log)
}

/// A drill's run as a test holds it: its results.json.
pub trait Ran {
    fn results(&self) -> &Value;
}

impl Ran for Drill {
    fn results(&self) -> &Value {
        &self.results
    }
}

impl Ran for Checked {
    fn results(&self) -> &Value {
        &self.d.results
    }
}

/// A cross-checked drill with our own read of each record's revision on the final primary
/// (the files and objects kinds, whose records are rewritten).
pub struct Revised {
    pub c: Checked,
    pub revisions: BTreeMap<(u64, u64), u64>,
}

impl Ran for Revised {
    fn results(&self) -> &Value {
        &self.c.d.results
    }
}

/// Runs `scenario` cross-checked by `read` (a node's records, each with its revision).
pub fn drill_revised(scenario: &str, read: fn(u16) -> BTreeMap<(u64, u64), u64>) -> Revised {
    let revisions = std::rc::Rc::new(std::cell::RefCell::new(BTreeMap::new()));
    let seen = revisions.clone();
    let by = move |r: &Value, node: &str| {
        let found = read(host_port(r, node));
        let keys = found.keys().copied().collect();
        seen.replace(found);
        keys
    };
    let c = drill_cross_checked_by(scenario, &by, &[]);
    Revised { c, revisions: revisions.take() }
}

/// `on_a_quiet_run` with the drill run by `run` and each attempt said by `log` (a test of
/// the rule gives it made-up runs).
pub fn held_on_a_quiet_run<R: Ran, T>(scenario: &str, run: impl FnMut() -> R, check: impl Fn(&R) -> T, log: fn(&str)) -> T {
    held_unless(scenario, run, check, log, disturbed)
}

/// A calibration's bounds (tens of ms) held on an idle host: a run the drill measured as
/// disturbed, or whose host was busy `busy_p50` of the time or more at the median (steal
/// included: another guest had the core), ran beside something else and is run again, as
/// `on_a_quiet_run` does. The lag calibration alone here: 33 % busy at the median; once in
/// a fresh clone's run: 64 %, and its p99 2 ms past its bound. What every run must hold
/// whatever the host (nothing of it left behind) is checked on every attempt.
pub fn on_an_idle_host<T>(scenario: &str, extra: &[&str], busy_p50: f64, check: impl Fn(&Drill) -> T) -> T {
    let busy = move |r: &Value| {
        let p50 = r["harness"]["host"]["busy_p50"].as_f64().unwrap_or(0.0);
        let why = (p50 >= busy_p50)
            .then(|| format!("host busy {:.0} % at the median, an idle host's is below {:.0} %", p50 * 100.0, busy_p50 * 100.0));
        [disturbed(r), why].into_iter().flatten().reduce(|a, b| format!("{a}, {b}"))
    };
    let run = || {
        let d = run_drill(scenario, extra);
        let (c, n) = labelled(Some(&run_id(&d.results)));
        assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
        d
    };
    held_unless(scenario, run, check, quiet_log, busy)
}

/// The rule of `held_on_a_quiet_run`, with what counts as disturbed given by `why`.
fn held_unless<R: Ran, T>(
    scenario: &str,
    mut run: impl FnMut() -> R,
    check: impl Fn(&R) -> T,
    log: fn(&str),
    why: impl Fn(&Value) -> Option<String>,
) -> T {
    let mut said = Vec::new();
    for attempt in 1..=ATTEMPTS {
        let d = run();
        let failed = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&d))) {
            Ok(t) => {
                if attempt > 1 {
                    log(&format!("{scenario}: attempt {attempt} of {ATTEMPTS} held its bounds ({})", said.join("; ")));
                }
                return t;
            }
            Err(p) => p,
        };
        let Some(why) = why(d.results()) else {
            log(&format!("{scenario}: attempt {attempt} missed a bound on a run nothing disturbed: a failure"));
            std::panic::resume_unwind(failed)
        };
        log(&format!("{scenario}: attempt {attempt} of {ATTEMPTS} missed a bound on a disturbed run ({why})"));
        said.push(format!("attempt {attempt} disturbed: {why}"));
    }
    panic!("{scenario}: all {ATTEMPTS} attempts were disturbed, no bound was held on a quiet run: {}", said.join("; "))
}

/// What disturbed a drill, from its own measurements (results.json `harness`); None when
/// nothing did.
pub fn disturbed(r: &Value) -> Option<String> {
    let h = &r["harness"];
    let span = |s: &Value| format!("t={:.1}–{:.1} s", s["from_ms"].as_f64().unwrap_or(0.0) / 1e3, s["to_ms"].as_f64().unwrap_or(0.0) / 1e3);
    let mut why: Vec<String> = Vec::new();
    why.extend(h["host"]["saturated"].as_array().into_iter().flatten().map(|s| format!("host saturated {}", span(s))));
    why.extend(h["host"]["disk"]["stalled"].as_array().into_iter().flatten().map(|s| format!("disk stalled {}", span(s))));
    let late = h["slip"]["over"].as_array().map_or(0, Vec::len);
    if late > 0 {
        why.push(format!("{late} paced operations late past {} ms (worst {} ms)", h["slip"]["finding_above_ms"], h["slip"]["max_ms"]));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// One line on stderr (shown with the test's output) and in target/quiet-runs.log (which
/// scripts/test.sh prints at the end).
pub fn quiet_log(line: &str) {
    eprintln!("[quiet run] {line}");
    let path = root().join("target").join("quiet-runs.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        use std::io::Write;
        let _ = writeln!(f, "{} {line}", chrono::Utc::now().format("%H:%M:%S"));
    }
}
