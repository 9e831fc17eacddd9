//! Teardown on success, on SIGINT, and `drdrill gc` after a crash; bad input refused
//! before anything starts.
use crate::common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn replica_faults_are_applied_healed_and_torn_down() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("tests/fixtures/postgres-node-faults.yaml", &[]);
    let r = &d.results;
    let (c, n) = labelled(Some(&run_id(r)));
    assert!(c.is_empty() && n.is_empty(), "teardown left {c:?} {n:?}");
    let kinds: Vec<(String, u64)> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fault"].is_u64())
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["fault"].as_u64().unwrap()))
        .collect();
    for f in [0, 1] {
        assert!(kinds.contains(&("fault-inject".into(), f)), "{kinds:?}");
        assert!(kinds.contains(&("fault-heal".into(), f)), "{kinds:?}");
    }
    // the pause lasted its duration, measured on the history's clock
    let t = |kind: &str| {
        r["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind && e["fault"] == 0).unwrap()["t_ns"].as_f64().unwrap()
    };
    let paused_ms = (t("fault-heal") - t("fault-inject")) / 1e6;
    assert!((1500.0..3000.0).contains(&paused_ms), "pause lasted {paused_ms} ms");
    // replicas' faults do not touch the async primary's writes; the replicas catch up
    assert_eq!(r["outage_observed"], false, "{}", d.stdout);
    assert_eq!(r["rto_ms"].as_f64(), Some(0.0));
    assert_eq!(r["lost_writes"], 0);
    assert_eq!(r["converged"], true, "{}", d.stdout);
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}

fn wait_for_containers(scenario: &str, at_least: usize) {
    let started = Instant::now();
    loop {
        let out = Command::new("docker")
            .args(["ps", "--filter", &format!("label=drdrill.scenario={scenario}"), "--format", "{{.Names}}"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).lines().count() >= at_least {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "drill containers never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scenario_leftovers(scenario: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=drdrill.scenario={scenario}"), "--format", "{{.Names}}"])
        .output()
        .unwrap();
    let nets = Command::new("docker")
        .args(["network", "ls", "--filter", &format!("label=drdrill.scenario={scenario}"), "--format", "{{.Name}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&nets.stdout).lines()).map(str::to_string).collect()
}

/// Starts the Redis drill in the background and returns once its three nodes run.
fn spawn_redis_drill(reports: &std::path::Path) -> std::process::Child {
    let child = Command::new(bin())
        .args(["run", "scenarios/redis-primary-kill.yaml", "--reports", reports.to_str().unwrap()])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_containers("redis-primary-kill", 3);
    child
}

#[test]
fn sigint_and_sigterm_tear_the_stack_down() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for signal in ["-INT", "-TERM"] {
        let reports = tempfile::tempdir().unwrap();
        let mut child = spawn_redis_drill(reports.path());
        std::thread::sleep(Duration::from_secs(2));
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "after {signal}");
        assert_eq!(scenario_leftovers("redis-primary-kill"), Vec::<String>::new(), "after {signal}");
    }
}

#[test]
fn gc_removes_what_a_killed_drill_left() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let mut child = spawn_redis_drill(reports.path());
    child.kill().unwrap(); // SIGKILL: no teardown can run
    child.wait().unwrap();
    assert!(!scenario_leftovers("redis-primary-kill").is_empty(), "a SIGKILLed drill should leave its stack");
    // a container drdrill did not create is never touched
    let bystander = format!("bystander-{}", std::process::id());
    let ok = Command::new("docker").args(["create", "--name", &bystander, "drdrill/redis:7"]).output().unwrap();
    assert!(ok.status.success());
    let out = drdrill(&["gc"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let still = Command::new("docker").args(["inspect", &bystander]).output().unwrap().status.success();
    Command::new("docker").args(["rm", "-f", &bystander]).output().unwrap();
    assert!(still, "gc removed a container it did not create");
    assert_eq!(scenario_leftovers("redis-primary-kill"), Vec::<String>::new());
}

#[test]
fn bad_scenario_is_refused_with_location_before_anything_starts() {
    for (file, expect) in [
        ("tests/fixtures/bad-unknown-key.yaml", "bad-unknown-key.yaml:4:3: stack: unknown field `replicaz`"),
        ("tests/fixtures/bad-target.yaml", "bad-target.yaml:8:5: `replica-3`: this stack has replica-1 to replica-1"),
    ] {
        let out = drdrill(&["run", file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert_eq!(scenario_leftovers("bad-scenario"), Vec::<String>::new());
        // validate reports the bad file and still checks the good one
        let out = drdrill(&["validate", file, "scenarios/redis-primary-kill.yaml"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(expect));
        assert!(String::from_utf8_lossy(&out.stdout).contains("scenarios/redis-primary-kill.yaml: ok"));
    }
}

#[test]
fn shipped_scenarios_validate_and_schema_is_json() {
    // the scenario files (`scenarios/alerts/` holds rules files, not scenarios)
    let mut files: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| format!("scenarios/{}", e.file_name().to_string_lossy()))
        .collect();
    files.sort();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = drdrill(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // a rule that cannot fire in the drill's time is a warning on stderr, never a failure
    let warned = "alerts-seed-rules.yaml: warning: KafkaUnderReplicatedPartitions's for: 10m is longer than this drill (at most 9 min 35 s): it can never fire";
    assert!(String::from_utf8_lossy(&out.stderr).contains(warned), "{}", String::from_utf8_lossy(&out.stderr));
    let out = drdrill(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // one stack, or several services
    assert_eq!(schema["anyOf"].as_array().map(Vec::len), Some(2), "{schema}");
    assert!(schema["definitions"]["Scenario"]["properties"]["stack"].is_object());
    assert!(schema["definitions"]["ServicesScenario"]["properties"]["services"].is_object());
}

/// Every value a shipped scenario sets is named in its dry run: a number or a string (its
/// first line) appears as written, a flag by its key. No part of a scenario is left out of
/// the plan the user reads before a drill.
#[test]
fn the_dry_run_names_every_value_each_shipped_scenario_sets() {
    fn leaves(v: &serde_json::Value, path: &str, out: &mut Vec<(String, serde_json::Value)>) {
        match v {
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, &format!("{path}.{k}"), out)),
            serde_json::Value::Array(a) => a.iter().for_each(|x| leaves(x, path, out)),
            leaf => out.push((path.to_string(), leaf.clone())),
        }
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let (mut missing, mut shaped) = (Vec::new(), 0);
    for f in &files {
        let out = drdrill(&["run", f.to_str().unwrap(), "--dry-run"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let plan = String::from_utf8_lossy(&out.stdout).to_string();
        shaped += usize::from(names_its_topology(&plan));
        let yaml: serde_json::Value = serde_norway::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let mut all = Vec::new();
        leaves(&yaml, "", &mut all);
        for (path, value) in all {
            let key = path.rsplit('.').next().unwrap_or_default();
            let named = match &value {
                serde_json::Value::Bool(_) => plan.contains(key),
                serde_json::Value::String(s) => plan.contains(s.lines().next().unwrap_or_default().trim()),
                other => plan.contains(&other.to_string()),
            };
            if !named {
                missing.push(format!("{}: {path} = {value}", f.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(files.len() >= 40 && missing.is_empty(), "not in the dry run:\n{}", missing.join("\n"));
    assert!(shaped >= 11, "{shaped} shipped Redis Cluster, pglogical and Galera scenarios planned");
}

/// Whether the plan has a Redis Cluster, pglogical or Galera stack, which it must state as
/// it is, never as a primary with replicas: each shard's primary and slots, the settings
/// that time its failover and its budget; each writable node (with its site), the conflict
/// resolution or the quorum. A shard's role is resolved to the node and slots it hits.
/// `dns.services` names some services of a drill, not the first one: the drill's DNS
/// server still starts, and answers only for the services named (found in a region drill
/// whose first service, alphabetically, was not named: no server started at all).
#[test]
fn dns_for_some_services_names_them_in_the_plan() {
    let out = drdrill(&["run", "scenarios/quarterly/region-failure.yaml", "--dry-run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    let dns = plan.lines().find(|l| l.contains("DNS: the drill's own server")).unwrap_or_else(|| panic!("no DNS line:\n{plan}"));
    assert!(dns.contains("postgres.drill.") && !dns.contains("cache.drill.") && !dns.contains("maria.drill."), "{dns}");
}

/// An orchestrated stack's plan says the orchestrator fails it over, not drdrill's
/// scripted trigger and promotion, which do not run.
#[test]
fn the_dry_run_of_an_orchestrated_drill_prints_the_failover_that_will_run() {
    for f in ["scenarios/reads-redis-sentinel.yaml", "scenarios/mariadb-mha-vip.yaml"] {
        let out = drdrill(&["run", f, "--dry-run"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let plan = String::from_utf8_lossy(&out.stdout).to_string();
        let line = plan.lines().find(|l| l.trim_start().starts_with("failover:")).unwrap_or_else(|| panic!("no failover line:\n{plan}"));
        assert!(line.contains("drdrill only watches"), "{f}: {line}");
        assert!(!plan.contains("trigger: never") && !plan.contains("repoint_replicas"), "{f}: a scripted failover's lines:\n{plan}");
    }
}

fn names_its_topology(plan: &str) -> bool {
    let shapes = [
        (
            "redis-cluster",
            &[
                "each serving its share of the 16384 slots",
                "shard-1 ",
                "slots 0-5460",
                "cluster-node-timeout ",
                "cluster-require-full-coverage ",
                "recovery budget (Redis Cluster's",
            ][..],
        ),
        ("pglogical", &["writable nodes, a full mesh of pglogical subscriptions", "nodes: ", "conflicts: "][..]),
        (
            "galera",
            &["writable nodes in one Galera 4 cluster", "nodes: ", "bootstraps the cluster)", "primary component: more than half"][..],
        ),
    ];
    let stack = |kind: &str| plan.lines().filter(|l| l.contains(&format!("stack: kind {kind}, "))).collect::<Vec<_>>();
    let found: Vec<_> = shapes.iter().filter(|(kind, _)| !stack(kind).is_empty()).collect();
    for (kind, want) in &found {
        assert!(
            stack(kind).iter().all(|l| !l.contains(" replicas, replication ")) && !plan.contains("replica -> primary"),
            "{kind}:\n{plan}"
        );
        let sited = plan.contains("  site ") || plan.contains(": site ");
        let missing = want.iter().chain(sited.then_some(&"-1 (site ").filter(|_| *kind != "redis-cluster")).find(|w| !plan.contains(**w));
        assert!(missing.is_none(), "{missing:?} not in the {kind} plan:\n{plan}");
    }
    assert!(!plan.contains("kill shard-2/primary") || plan.contains("kill shard-2/primary (rc-2, slots 5461-10922)"), "{plan}");
    !found.is_empty()
}

/// `--partition K/N` over the shipped scenarios: the slices hold every file once, each
/// slice's dry run plans exactly its files, and a slice outside 1..=N is refused.
#[test]
fn slices_of_the_shipped_scenarios_hold_every_file_once() {
    let files =
        std::fs::read_dir(root().join("scenarios")).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "yaml"));
    // a sweep runs on its own: a folder's suite leaves it out (docs/sweeps.md)
    let drills = files.filter(|e| !std::fs::read_to_string(e.path()).unwrap().lines().any(|l| l.starts_with("sweep:")));
    let mut all: Vec<String> = drills.map(|e| format!("scenarios/{}", e.file_name().to_string_lossy())).collect();
    all.sort();
    let mut taken = Vec::new();
    for k in 1..=3 {
        let out = drdrill(&["run", "scenarios", "--dry-run", "--partition", &format!("{k}/3")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.lines().find(|l| l.starts_with(&format!("slice {k}/3: "))).unwrap_or_else(|| panic!("{err}"));
        let mine: Vec<String> =
            line.split(": ").nth(2).unwrap_or_default().split(", ").filter(|f| !f.is_empty()).map(str::to_string).collect();
        assert!(line.contains(&format!("{} of {} scenario files", mine.len(), all.len())), "{line}");
        let plans = String::from_utf8_lossy(&out.stdout).matches("plan of drill ").count();
        assert_eq!(plans, mine.len(), "slice {k}/3 planned other files than it took");
        taken.extend(mine);
    }
    taken.sort();
    assert_eq!(taken, all, "the slices together hold every file once");
    let out = drdrill(&["run", "scenarios", "--dry-run", "--partition", "4/3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected K/N"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unreachable_engine_is_an_infrastructure_error() {
    let out = Command::new(bin())
        .args(["run", "scenarios/redis-primary-kill.yaml", "--reports", "/tmp/drdrill-noengine"])
        .current_dir(root())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}

#[test]
fn a_stack_that_never_becomes_healthy_is_an_infrastructure_error_and_torn_down() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let out = drdrill(&["run", "tests/fixtures/never-healthy.yaml", "--reports", reports.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("failed to see replica pg-2 streaming/async") || err.contains("failed to connect to postgres"), "{err}");
    assert_eq!(scenario_leftovers("fixture-never-healthy"), Vec::<String>::new());
    // the evidence folder still holds the scenario and the container logs
    let run_dir = std::fs::read_dir(reports.path().join("fixture-never-healthy")).unwrap().next().unwrap().unwrap().path();
    assert!(run_dir.join("scenario.yaml").exists());
    assert!(run_dir.join("logs").join("pg-1.log").exists());
}

#[test]
fn redis_refuses_writes_without_replicas_and_those_writes_count_as_failed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("tests/fixtures/redis-min-replicas.yaml", &[]);
    let r = &d.results;
    assert_eq!(r["outage_observed"], true, "{}", d.stdout);
    assert!(r["failed_writes"].as_u64().unwrap() > 50, "{}", d.stdout);
    // the refusals are error replies: definitely not applied, none of them shows up later
    assert_eq!(r["recovered_writes"], 0);
    assert_eq!(r["lost_writes"], 0);
    let history = drdrill::history::read_text(&drdrill::history::path_in(&d.dir)).unwrap();
    assert!(history.contains("NOREPLICAS"), "the failures should be Redis' own refusals");
    // writes are refused at least while the replicas are away (5 s), and come back after
    // a replica has resynchronised
    let rto = r["rto_ms"].as_f64().expect("writes came back");
    assert!((5000.0..20000.0).contains(&rto), "rto {rto}");
    assert_eq!(r["converged"], true);
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
}

const LONG: &str = "fixture-single-node-long";

/// Starts the 15 s single-node drill; returns once its container exists, with its run id.
fn spawn_long_drill(reports: &std::path::Path) -> (std::process::Child, String) {
    let log = |name: &str| std::fs::File::create(reports.join(name)).unwrap();
    let child = Command::new(bin())
        .args(["run", "tests/fixtures/single-node-long.yaml", "--reports", reports.to_str().unwrap()])
        .current_dir(root())
        .stdout(log("stdout.txt"))
        .stderr(log("stderr.txt"))
        .spawn()
        .unwrap();
    wait_for_containers(LONG, 1);
    let out = Command::new("docker")
        .args(["ps", "--filter", &format!("label=drdrill.scenario={LONG}"), "--format", "{{.Label \"drdrill.run\"}}"])
        .output()
        .unwrap();
    let run = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string();
    (child, run)
}

#[test]
fn gc_leaves_a_live_drill_alone_also_when_named() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let (mut child, run) = spawn_long_drill(reports.path());
    for args in [vec!["gc"], vec!["gc", "--run", &run]] {
        let out = drdrill(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("skipped live run {run}: its drdrill process (pid {})", child.id())), "{args:?}: {text}");
        assert!(!labelled(Some(&run)).0.is_empty(), "{args:?} removed the live drill's containers");
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(reports.path().join("stderr.txt")).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stack torn down (") && stderr.contains("a check found nothing left"), "{stderr}");
    let (c, n) = labelled(Some(&run));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}

/// A network labelled as a drill's owned by `pid_start` of this very process (a drill
/// between creating its network and its first container).
fn owned_network(run: &str, pid_start: u64) -> String {
    let name = format!("drdrill-{run}");
    let labels = [
        format!("drdrill.run={run}"),
        "drdrill.scenario=gc-starting".to_string(),
        format!("drdrill.pid={}", std::process::id()),
        format!("drdrill.pid_start={pid_start}"),
        format!("drdrill.host={}", drdrill::docker::hostname()),
    ];
    let mut args = vec!["network", "create"];
    for l in &labels {
        args.extend(["--label", l]);
    }
    args.push(&name);
    let out = Command::new("docker").args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    name
}

#[test]
fn gc_leaves_the_network_of_a_drill_that_is_starting_but_not_of_a_reused_pid() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let me = drdrill::docker::start_time(std::process::id()).unwrap();
    let tag = format!("gcstart{}", std::process::id());
    let (live, reused) = (format!("{tag}a"), format!("{tag}b"));
    owned_network(&live, me);
    // same PID, another start time: the drill that owned it is gone and the PID reused
    owned_network(&reused, me + 1);
    let out = drdrill(&["gc"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let (_, live_left) = labelled(Some(&live));
    let (_, reused_left) = labelled(Some(&reused));
    drdrill(&["gc", "--run", &live, "--force"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(live_left, vec![format!("drdrill-{live}")], "gc removed a starting drill's network: {text}");
    assert!(text.contains(&format!("skipped live run {live}")), "{text}");
    assert!(reused_left.is_empty(), "a reused PID kept a dead run's network: {text}");
    assert_eq!(labelled(Some(&live)).1, Vec::<String>::new());
}

#[test]
fn gc_saves_the_logs_of_a_killed_drill_into_its_evidence() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let (mut child, run) = spawn_long_drill(reports.path());
    // kill once the node has logged something worth saving
    let started = Instant::now();
    while !String::from_utf8_lossy(&Command::new("docker").args(["logs", &format!("drdrill-{run}-pg-1")]).output().unwrap().stderr)
        .contains("ready to accept connections")
    {
        assert!(started.elapsed() < Duration::from_secs(60), "pg-1 never became ready");
        std::thread::sleep(Duration::from_millis(300));
    }
    child.kill().unwrap(); // SIGKILL: no teardown, no logs saved by the drill
    child.wait().unwrap();
    let out = drdrill(&["gc", "--run", &run]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("container drdrill-{run}-pg-1")), "{text}");
    let (c, n) = labelled(Some(&run));
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    let evidence = std::fs::read_dir(reports.path().join(LONG)).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read_to_string(evidence.join("logs").join("pg-1.log")).expect("gc saved pg-1's log");
    assert!(log.contains("database system is ready to accept connections"), "{log}");
    let note = std::fs::read_to_string(evidence.join("GC-NOTE.txt")).expect("gc wrote GC-NOTE.txt");
    assert!(note.contains(&format!("container drdrill-{run}-pg-1 (logs saved to logs/pg-1.log)")), "{note}");
    assert!(note.contains(&format!("network drdrill-{run}")) && note.contains("did not finish"), "{note}");
}

#[test]
fn sigint_while_the_stack_is_being_created_leaves_nothing_and_says_so() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SINGLE: &str = "fixture-single-node";
    // at the moment the network appears (a container create is about to be in flight), and
    // at a fixed early time
    for when in ["network", "300ms"] {
        let reports = tempfile::tempdir().unwrap();
        let child = spawn_drill("tests/fixtures/single-node.yaml", reports.path());
        let started = Instant::now();
        if when == "network" {
            while scenario_leftovers(SINGLE).is_empty() {
                assert!(started.elapsed() < Duration::from_secs(30), "the network never appeared");
            }
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{when}: {err}");
        assert!(err.contains("drill interrupted; stack torn down"), "{when}: {err}");
        assert_eq!(scenario_leftovers(SINGLE), Vec::<String>::new(), "{when}: {err}");
    }
}

/// docs/scenarios.md ends with every key of the format (type, default, range, meaning) as
/// `drdrill schema --keys` prints it from the schema and the validator's bounds: a key or a
/// limit added to the code and not to the page fails here.
#[test]
fn scenarios_md_lists_every_key_and_limit_as_the_code_has_them() {
    let page = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    let (begin, end) = ("<!-- every key: `drdrill schema --keys` -->\n", "<!-- end of every key -->");
    let from = page.find(begin).expect("docs/scenarios.md has no list of every key") + begin.len();
    let to = page[from..].find(end).expect("the list of every key has no end marker") + from;
    let out = drdrill(&["schema", "--keys"]);
    let want = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && want.lines().count() > 150, "{want}");
    assert!(
        page[from..to] == want,
        "docs/scenarios.md's list of every key differs from the code's: replace it with `drdrill schema --keys`"
    );
}
