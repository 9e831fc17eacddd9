//! An external stack whose own orchestrator fails over, slower than `after_recovery_ms`:
//! a Redis primary and replica with a password, three Sentinels (`down-after-milliseconds`
//! 3000) and HAProxy routing to `role:master`, started here with plain `docker run`, none
//! of it by drdrill. The scenario has no `failover` block: only the clients can tell when
//! the stack recovered, and the drill must keep writing until they do.
use crate::common;
use common::*;
use std::time::Duration;

const PASSWORD: &str = "sentinel-Secret-1a2b3c";
const DOWN_AFTER_MS: f64 = 3000.0;

/// The environment's containers and network, removed on drop.
struct Environment {
    net: String,
    names: Vec<String>,
}

impl Drop for Environment {
    fn drop(&mut self) {
        for n in &self.names {
            docker(&["rm", "-f", "-v", n]);
        }
        docker(&["network", "rm", &self.net]);
    }
}

impl Environment {
    fn run(&mut self, name: &str, args: &[&str]) -> String {
        let full = format!("{}-{name}", self.net);
        docker(&["rm", "-f", "-v", &full]);
        let mut v = vec!["run", "-d", "--name", &full, "--network", &self.net, "--network-alias", name];
        v.extend_from_slice(args);
        let out = docker(&v);
        assert!(!out.contains("Error"), "{out}");
        self.names.push(full.clone());
        full
    }
}

/// A script that writes `text` to `path` and then runs `exec` (the images carry no config).
fn config_then(path: &str, text: &str, exec: &str) -> String {
    format!("cat > {path} <<'EOF'\n{text}\nEOF\nexec {exec}")
}

fn start() -> (Environment, u16, Vec<u16>) {
    let net = format!("drdrill-test-ext-sentinel-{}", std::process::id());
    docker(&["network", "rm", &net]);
    docker(&["network", "create", &net]);
    let mut env = Environment { net, names: Vec::new() };
    let auth = ["--requirepass", PASSWORD, "--masterauth", PASSWORD, "--appendonly", "no"];
    let a = env.run("redis-a", &[&["-p", "127.0.0.1::6379", "drdrill/redis:7"][..], &auth].concat());
    let b = env.run("redis-b", &[&["-p", "127.0.0.1::6379", "drdrill/redis:7"][..], &auth, &["--replicaof", "redis-a", "6379"]].concat());
    wait_for("replication", Duration::from_secs(60), || {
        exec(&b, &["redis-cli", "--no-auth-warning", "-a", PASSWORD, "info", "replication"]).contains("master_link_status:up")
    });
    let ip = docker(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &a]).trim().to_string();
    let sentinel = format!(
        "port 26379\nsentinel monitor m {ip} 6379 2\nsentinel auth-pass m {PASSWORD}\nsentinel down-after-milliseconds m {DOWN_AFTER_MS}\nsentinel failover-timeout m 10000\nsentinel parallel-syncs m 1"
    );
    for i in 1..=3 {
        let script = config_then("/tmp/sentinel.conf", &sentinel, "redis-sentinel /tmp/sentinel.conf");
        env.run(&format!("sentinel-{i}"), &["--entrypoint", "sh", "drdrill/redis:7", "-c", &script]);
    }
    let haproxy = format!(
        "global\n  maxconn 512\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  timeout check 1s\n\
         frontend redis\n  bind *:6379\n  default_backend redis\n\
         backend redis\n  option tcp-check\n  tcp-check connect\n  tcp-check send AUTH\\ {PASSWORD}\\r\\n\n  tcp-check expect string +OK\n\
         \x20 tcp-check send info\\ replication\\r\\n\n  tcp-check expect string role:master\n  tcp-check send QUIT\\r\\n\n  tcp-check expect string +OK\n\
         \x20 server a redis-a:6379 check inter 500 fall 2 rise 1 on-marked-down shutdown-sessions\n\
         \x20 server b redis-b:6379 check inter 500 fall 2 rise 1 on-marked-down shutdown-sessions"
    );
    let script = config_then("/tmp/haproxy.cfg", &haproxy, "haproxy -f /tmp/haproxy.cfg");
    let h = env.run("haproxy", &["-p", "127.0.0.1::6379", "--entrypoint", "sh", "drdrill/patroni:3", "-c", &script]);
    let endpoint = published(&h, 6379);
    let nodes = vec![published(&a, 6379), published(&b, 6379)];
    wait_for("HAProxy routing to the primary", Duration::from_secs(30), || ping(endpoint));
    // every Sentinel knows the replica and the two other Sentinels (quorum 2 needs them)
    let s1 = format!("{}-sentinel-1", env.net);
    wait_for("the Sentinels to know each other", Duration::from_secs(60), || {
        let q = |what: &str| exec(&s1, &["redis-cli", "-p", "26379", "sentinel", what, "m"]).matches("name").count();
        q("replicas") == 1 && q("sentinels") == 2
    });
    (env, endpoint, nodes)
}

/// Whether a Redis behind `port` answers PING (with the password) within a second.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(format!("AUTH {PASSWORD}\r\nPING\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = String::new();
    while !got.contains("+PONG") {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => return false,
        }
    }
    true
}

#[test]
fn an_external_orchestrator_slower_than_after_recovery_ms_is_waited_for_and_measured() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (env, endpoint, nodes) = start();
    let primary = format!("{}-redis-a", env.net);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("external-sentinel.yaml");
    let text = format!(
        r#"name: external-sentinel
stack:
  kind: external
  engine: redis
  endpoint: 127.0.0.1:{endpoint}
  nodes: {{redis-a: "127.0.0.1:{pa}", redis-b: "127.0.0.1:{pb}"}}
  credentials: {{password_env: EXT_SENTINEL_PASSWORD}}
  cleanup: true
workload: {{writers: 2, rate_per_s: 200, after_recovery_ms: 2000, max_duration_ms: 60000}}
faults:
  - at_ms: 3000
    kind: action
    target: primary
    action: {{name: kill-primary, command: ["docker", "kill", "-s", "KILL", "{primary}"]}}
targets: {{rto_ms: 20000}}
"#,
        pa = nodes[0],
        pb = nodes[1],
    );
    std::fs::write(&file, text).unwrap();
    let d = run_drill_with_env(file.to_str().unwrap(), &["--yes"], &[("EXT_SENTINEL_PASSWORD", PASSWORD)]);
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let r = &d.results;
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["stack"]["final_primary"], "redis-b", "Sentinel promoted the replica");
    // recovery is real: no earlier than Sentinel could notice the kill, and measured
    let from = assert_rto_counts_from_effect(r, 0);
    let (rto, recovered) = (r["rto_ms"].as_f64().expect("recovered"), r["recovered_at_ms"].as_f64().unwrap());
    assert!(rto >= DOWN_AFTER_MS, "RTO {rto} ms is shorter than Sentinel's down-after ({DOWN_AFTER_MS} ms)");
    assert!(rto > 2000.0, "the failover must outlast after_recovery_ms for this test to mean anything: {rto} ms");
    // the workload kept writing after_recovery_ms past the clients' recovery, not past the fault
    let stop = events(r).into_iter().find(|e| e["kind"] == "workload-stop").unwrap()["t_ns"].as_f64().unwrap() / 1e6;
    assert!(stop >= recovered + 2000.0 - 50.0, "stopped at {stop} ms, recovered at {recovered} ms (from {from} ms)");
    assert!(stop <= recovered + 2000.0 + 3000.0, "kept writing long after recovery: stopped at {stop} ms, recovered at {recovered} ms");
    assert!(d.stderr.contains("clients recovered"), "{}", d.stderr);
}
