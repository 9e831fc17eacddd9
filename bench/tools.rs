//! What the benches share: the Docker CLI, a throwaway database server on 127.0.0.1, and
//! a standard tool (pgbench, redis-benchmark) run from drdrill's own images with its CPU
//! read from /proc. Included by `bench/throughput.rs` and `bench/observer.rs` (`#[path]`).
#![allow(dead_code)]
use std::process::Command;
use std::time::{Duration, Instant};

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// One database container, removed when dropped.
pub struct Server {
    pub name: String,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        docker(&["rm", "-f", "-v", &self.name]);
    }
}

impl Server {
    pub fn start(tag: &str, image: &str, port: u16, extra: &[&str]) -> Server {
        let name = format!("drdrill-bench-{tag}-{}", std::process::id());
        docker(&["rm", "-f", "-v", &name]);
        let mut args = vec!["run", "-d", "--name", &name, "--label", "drdrill.bench=tools"];
        let publish = format!("127.0.0.1::{port}");
        args.extend(["-p", &publish, image]);
        args.extend_from_slice(extra);
        let out = docker(&args);
        let mut server = Server { name: name.clone(), port: 0 };
        let p = docker(&["port", &name, &port.to_string()]);
        let port = p.lines().find_map(|l| l.strip_prefix("127.0.0.1:")).and_then(|p| p.trim().parse().ok());
        server.port = port.unwrap_or_else(|| panic!("{name} did not start: {out}{p}"));
        server
    }

    pub fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["exec", self.name.as_str()];
        v.extend_from_slice(args);
        docker(&v)
    }

    pub fn wait(&self, what: &str, ok: impl Fn(&Server) -> bool) {
        let t = Instant::now();
        while !ok(self) {
            assert!(t.elapsed() < Duration::from_secs(90), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

pub fn postgres(synchronous_commit: bool) -> Server {
    let s = Server::start("pg", "drdrill/postgres:15-2", 5432, &[]);
    s.wait("PostgreSQL", |s| s.exec(&["psql", "-U", "postgres", "-Atc", "select 1"]).trim() == "1");
    let on = if synchronous_commit { "on" } else { "off" };
    s.exec(&["psql", "-U", "postgres", "-c", &format!("ALTER SYSTEM SET synchronous_commit = {on}")]);
    s.exec(&["psql", "-U", "postgres", "-c", "SELECT pg_reload_conf()"]);
    s
}

pub fn redis() -> Server {
    let s = Server::start("redis", "drdrill/redis:7", 6379, &["--appendonly", "no", "--save", ""]);
    s.wait("Redis", |s| s.exec(&["redis-cli", "ping"]).trim() == "PONG");
    s
}

/// Runs `script` in a throwaway container of `image` on the host network, with `env`;
/// returns its output and the CPU (µs) of the processes the shell reaped (the tool).
pub fn tool(image: &str, env: &[String], script: &str) -> (String, f64) {
    let wrapped = format!("{script} > /tmp/out 2>&1; cat /tmp/out; echo; echo STAT $(cat /proc/$$/stat)");
    let mut args: Vec<&str> = vec!["run", "--rm", "--network", "host"];
    for e in env {
        args.extend(["-e", e.as_str()]);
    }
    args.extend(["--entrypoint", "bash", image, "-c", &wrapped]);
    let out = docker(&args);
    let stat = out.lines().find_map(|l| l.strip_prefix("STAT ")).unwrap_or_else(|| panic!("no stat: {out}"));
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // after the command name: state is field 3, cutime 16, cstime 17 (clock ticks)
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (out, ticks / hz * 1e6)
}

pub fn number_after(text: &str, key: &str) -> f64 {
    let rest = text.rsplit(key).next().unwrap_or_else(|| panic!("no {key:?} in {text}"));
    let n: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    n.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {text}"))
}

/// pgbench inserting `payload_bytes`-byte rows on `clients` connections, one statement per
/// round trip, paced at `rate_per_s` in all (`-R`; unpaced when None), for `secs`:
/// (transactions per second, client CPU µs per transaction).
pub fn pgbench(port: u16, clients: u32, rate_per_s: Option<f64>, payload_bytes: usize, secs: u64) -> (f64, f64) {
    let payload = format!("w0-{}", "x".repeat(payload_bytes.saturating_sub(3)));
    let sql = format!(
        "\\set seq random(1, 9000000000000000000)\nINSERT INTO drdrill_bench (run, writer, seq, payload) VALUES ('pgbench', :client_id, :seq, '{payload}');\n"
    );
    let rate = rate_per_s.map(|r| format!(" -R {r:.0}")).unwrap_or_default();
    let create = "psql -h 127.0.0.1 -p {port} -U postgres -qc 'CREATE TABLE IF NOT EXISTS drdrill_bench (run text, writer int, seq bigint, payload text)' postgres; ";
    let script = format!(
        "{}printf '%s' \"$BENCH_SQL\" > /tmp/insert.sql; pgbench -n -h 127.0.0.1 -p {port} -U postgres -c {clients} -j 2 -T {secs}{rate} -M prepared -f /tmp/insert.sql postgres",
        create.replace("{port}", &port.to_string())
    );
    let (out, cpu_us) = tool("drdrill/postgres:15-2", &[format!("BENCH_SQL={sql}")], &script);
    let done = number_after(&out, "number of transactions actually processed:");
    (number_after(&out, "tps ="), cpu_us / done)
}

/// redis-benchmark SETs of new keys on `clients` connections, one request per round trip
/// (no pipelining), `n` in all, as fast as answered (it has no pacing): (requests per
/// second, client CPU µs per request).
pub fn redis_benchmark(port: u16, clients: u32, n: u64, payload_bytes: usize) -> (f64, f64) {
    let script = format!("redis-benchmark -h 127.0.0.1 -p {port} -c {clients} -n {n} -d {payload_bytes} -t set -r 1000000000 -q");
    let (out, cpu_us) = tool("drdrill/redis:7", &[], &script);
    (number_after(&out, "SET:"), cpu_us / n as f64)
}
