//! An external Redis Cluster (`engine: redis-cluster`): six nodes with a password, started
//! here with plain `docker run` on the host's loopback (each announces 127.0.0.1 and its own
//! port, as a cluster on its own hosts announces their addresses), created with
//! `redis-cli --cluster create`, none of it by drdrill. The scenario names the nodes, takes
//! the password from the environment and kills a primary by command; the cluster fails over
//! by itself, and drdrill watches its nodes' own view (`CLUSTER NODES`) read-only.
use crate::common;
use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

const PASSWORD: &str = "cluster-Secret-9f8e7d";
const NODE_TIMEOUT_MS: f64 = 3000.0;

/// The cluster's containers, removed on drop.
struct Environment {
    names: Vec<String>,
    ports: Vec<u16>,
}

impl Drop for Environment {
    fn drop(&mut self) {
        for n in &self.names {
            docker(&["rm", "-f", "-v", n]);
        }
    }
}

/// A free port whose cluster bus (10000 above) is free too and below 65536.
fn cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

fn cli(name: &str, port: u16, args: &[&str]) -> String {
    let p = port.to_string();
    exec(name, &[&["redis-cli", "--no-auth-warning", "-a", PASSWORD, "-p", &p][..], args].concat())
}

fn start() -> Environment {
    let base = format!("drdrill-test-ext-cluster-{}", std::process::id());
    let mut env = Environment { names: Vec::new(), ports: Vec::new() };
    for i in 1..=6 {
        let (name, port) = (format!("{base}-{i}"), cluster_port());
        docker(&["rm", "-f", "-v", &name]);
        let p = port.to_string();
        let args = ["--port", &p, "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"];
        let auth = ["--cluster-node-timeout", "3000", "--appendonly", "yes", "--requirepass", PASSWORD, "--masterauth", PASSWORD];
        let out =
            docker(&[&["run", "-d", "--name", &name, "--network", "host", "drdrill/redis:7", "redis-server"][..], &args, &auth].concat());
        assert!(!out.contains("Error"), "{out}");
        env.names.push(name);
        env.ports.push(port);
    }
    for (n, &p) in env.names.iter().zip(&env.ports) {
        wait_for("the nodes to answer", Duration::from_secs(30), || cli(n, p, &["ping"]).contains("PONG"));
    }
    let members: Vec<String> = env.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(members.iter().map(String::as_str));
    create.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let out = cli(&env.names[0], env.ports[0], &create);
    assert!(out.contains("All 16384 slots covered"), "{out}");
    wait_for("every replica linked", Duration::from_secs(60), || {
        let info = |i: usize| cli(&env.names[i], env.ports[i], &["cluster", "info"]);
        (0..6).all(|i| info(i).contains("cluster_state:ok"))
            && (3..6).all(|i| cli(&env.names[i], env.ports[i], &["info", "replication"]).contains("master_link_status:up"))
    });
    env
}

/// Keys `<prefix>*` on every node that answers as a primary, as (writer, seq).
fn read_primaries(env: &Environment, prefix: &str) -> BTreeSet<(u64, u64)> {
    let mut all = BTreeSet::new();
    for &p in &env.ports {
        block_on(async {
            let login = format!("redis://:{PASSWORD}@127.0.0.1:{p}/");
            let Ok(client) = redis::Client::open(login) else { return };
            let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection()).await else {
                return; // the killed node
            };
            let role = redis::cmd("ROLE").query_async::<redis::Value>(&mut c).await;
            let primary =
                matches!(&role, Ok(redis::Value::Array(v)) if matches!(v.first(), Some(redis::Value::BulkString(b)) if b == b"master"));
            if !primary {
                return;
            }
            let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut c).await.unwrap();
            for k in keys {
                let (w, s) = k.strip_prefix(prefix).unwrap().split_once(':').unwrap();
                all.insert((w.parse().unwrap(), s.parse().unwrap()));
            }
        });
    }
    all
}

fn scenario(env: &Environment, name: &str, cleanup: bool, faults: &str) -> String {
    let nodes: Vec<String> = env.ports.iter().enumerate().map(|(i, p)| format!("node-{}: \"127.0.0.1:{p}\"", i + 1)).collect();
    format!(
        r#"name: {name}
stack:
  kind: external
  engine: redis-cluster
  endpoint: 127.0.0.1:{endpoint}
  nodes: {{{nodes}}}
  credentials: {{password_env: EXT_CLUSTER_PASSWORD}}
  table: drdrill_ext
  cleanup: {cleanup}
workload: {{writers: 4, rate_per_s: 200, after_recovery_ms: 2000, max_duration_ms: 60000}}
{faults}
targets: {{rto_ms: 30000}}
"#,
        endpoint = env.ports[0],
        nodes = nodes.join(", "),
    )
}

fn run(dir: &std::path::Path, name: &str, text: &str) -> Drill {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, text).unwrap();
    let d = run_drill_with_env(file.to_str().unwrap(), &["--yes"], &[("EXT_CLUSTER_PASSWORD", PASSWORD)]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    d
}

/// A primary killed by the scenario's command: its shard fails over no sooner than
/// `cluster-node-timeout`, the lost writes are those an independent read of every primary
/// misses, and a second run's cleanup deletes its own keys on every primary and no others.
#[test]
fn a_users_cluster_is_drilled_through_its_nodes_and_only_this_runs_keys_are_cleaned_up() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = start();
    let dir = tempfile::tempdir().unwrap();
    let victim = env.names[1].clone();
    let kill = format!(
        "steady_state: {{probes: [{{write: true}}, {{max_lag_bytes: 1048576}}]}}\nfaults:\n  - at_ms: 3000\n    kind: action\n    target: node-2\n    action: {{name: kill-node-2, command: [\"docker\", \"kill\", \"-s\", \"KILL\", \"{victim}\"]}}"
    );
    let d = run(dir.path(), "external-cluster", &scenario(&env, "external-cluster", false, &kill));
    let r = &d.results;
    let run_1 = run_id(r);
    assert_eq!(r["verdict"], "pass", "{}", r["targets"]);
    // the shards as the cluster described them, named after the scenario's nodes
    let shards = r["shards"]["shards"].as_array().expect("per-shard results");
    assert_eq!(shards.len(), 3, "{shards:?}");
    assert_eq!((shards[1]["primary"].as_str(), shards[1]["hit"].as_bool()), (Some("node-2"), Some(true)), "{}", shards[1]);
    let shard_rto = shards[1]["rto_ms"].as_f64().expect("the shard recovered");
    assert!(shard_rto >= NODE_TIMEOUT_MS, "shard 2 recovered in {shard_rto} ms, sooner than cluster-node-timeout");
    assert!(
        r["rto_ms"].as_f64().unwrap() >= shard_rto,
        "the service's RTO {} ms is shorter than its hit shard's {shard_rto} ms: {}",
        r["rto_ms"],
        shards[1]
    );
    // the cluster's own view, read-only: FAIL agreed no sooner than cluster-node-timeout (as
    // the node answered CONFIG GET), then a replica of node-2 promoted; the phases add up
    assert_orchestrator_failed_over(&d);
    let p = &r["phases"];
    assert_phases_ordered(p);
    assert_phases_add_up(r);
    let t = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k}: {p}"));
    assert_eq!(p["old_primary"], "node-2", "{p}");
    assert!(t("detected_ms") - t("fault_ms") >= NODE_TIMEOUT_MS, "FAIL agreed before cluster-node-timeout: {p}");
    let budgets = &p["budgets"];
    assert!(budgets["detection_from"].as_str().unwrap().contains("cluster-node-timeout 3000 ms"), "{budgets}");
    // every write was sent to an owner the clients found through MOVED and the slot map
    let survivors = read_primaries(&env, &format!("drdrill_ext:{run_1}:"));
    let lost = cross_check_lost(&d, &survivors);
    assert!(survivors.len() > 1000, "{}", survivors.len());
    let counted: u64 = shards.iter().map(|s| s["lost"].as_u64().unwrap()).sum();
    assert_eq!(counted, lost.len() as u64);
    assert!(r["cleanup"].is_null(), "no cleanup was asked for");
    // the steady state held before the kill: the endpoint a primary, every shard's replica close
    let steady = r["steady_state"]["before"].as_array().expect("steady state before");
    assert!(steady.iter().all(|p| p["ok"] == true) && steady.len() == 2, "{steady:?}");

    // a second run on the failed-over cluster, cleaned up: its keys go, the first run's stay
    let d2 = run(dir.path(), "external-cluster-clean", &scenario(&env, "external-cluster-clean", true, ""));
    let r2 = &d2.results;
    let cleanup = r2["cleanup"].as_str().expect("cleanup reported");
    let read = r2["records_read"].as_u64().unwrap();
    assert!(read > 200 && cleanup.starts_with(&format!("deleted {read} keys")), "{cleanup} ({read} read)");
    assert!(read_primaries(&env, &format!("drdrill_ext:{}:", run_id(r2))).is_empty(), "the second run's keys are left");
    assert_eq!(read_primaries(&env, &format!("drdrill_ext:{run_1}:")), survivors, "the cleanup touched another run's keys");
    // drdrill started nothing on the engine for either run
    for run in [run_1, run_id(r2)] {
        assert_eq!(labelled(Some(&run)), (vec![], vec![]));
    }
}
