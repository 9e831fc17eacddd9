//! How light is drdrill's client? Runs drdrill's workload and the standard tool against the
//! same database server, one after the other, several rounds alternating which goes first,
//! and prints writes/s, the ratio, client CPU per write and drdrill's peak memory.
//!
//! - PostgreSQL (synchronous_commit on, then off): drdrill's prepared insert against pgbench
//!   running the identical insert (`-M prepared`, same table, same 64-byte payload).
//! - Redis: drdrill's SET of new keys against `redis-benchmark -t set -r` (new keys, same
//!   payload size, no pipelining).
//!
//! Both sides: 8 clients, unthrottled, through the server's port published on 127.0.0.1.
//! The tools run from drdrill's own images with `--network host`, so they take the same
//! path; their CPU is read from `/proc` (the shell's reaped-children times). drdrill's CPU
//! and peak RSS come from its results.json `harness` block (getrusage over the workload);
//! a binary without it (`DRDRILL_BIN` pointing at an older build) is measured as a whole
//! process and marked `*`.
//!
//! `cargo bench --bench throughput` (needs the engine and images: scripts/setup.sh).
//! `DRDRILL_BENCH_VS=PATH` measures a second drdrill build in the same rounds and prints
//! the ratio of their CPU per write (release profiles are compared this way).
//! `DRDRILL_BENCH_ROUNDS` (default 3), `DRDRILL_BENCH_SECS` (default 10). It asserts
//! nothing: it measures. `DRDRILL_BENCH_PARTS` (default `throughput,teardown`) chooses the
//! parts (`postgres` or `redis` alone for half of `throughput`); `memory` writes to Redis
//! until `DRDRILL_BENCH_MEMORY_WRITES` (default 10 million) writes are made and reports
//! peak RSS and the read-back + check time.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "tools.rs"]
mod tools;
use tools::{Server, docker, postgres, redis};

const WRITERS: u32 = 8;
const PAYLOAD: usize = 64;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bin() -> PathBuf {
    std::env::var_os("DRDRILL_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_drdrill")))
}

/// The drdrill binaries measured: `bin()`, and `DRDRILL_BENCH_VS` (another build, e.g. with
/// another release profile) measured in the same rounds, in alternating order.
fn bins() -> Vec<PathBuf> {
    let mut v = vec![bin()];
    v.extend(std::env::var_os("DRDRILL_BENCH_VS").map(PathBuf::from));
    v
}

/// One side of one round.
#[derive(Debug, Clone, Copy)]
struct Sample {
    writes_per_s: f64,
    cpu_us_per_write: f64,
    peak_rss_mb: Option<f64>,
    /// drdrill's history on disk per write made.
    history_bytes_per_write: Option<f64>,
    /// CPU measured over the whole process (an older drdrill without `harness`).
    whole_process: bool,
}

/// drdrill's workload for `secs` against the server, as an external stack.
fn drdrill(bin: &Path, engine: &str, port: u16, secs: u64, dir: &Path) -> Sample {
    drdrill_logged(bin, engine, port, secs, dir).0
}

/// The same, with drdrill's terminal output.
fn drdrill_logged(bin: &Path, engine: &str, port: u16, secs: u64, dir: &Path) -> (Sample, String) {
    let table = if engine == "postgres" { "  table: drdrill_bench\n" } else { "" };
    let yaml = format!(
        "name: bench-{engine}\nstack:\n  kind: external\n  engine: {engine}\n  endpoint: 127.0.0.1:{port}\n{table}\
         workload: {{writers: {WRITERS}, payload_bytes: {PAYLOAD}, after_recovery_ms: {}, max_duration_ms: {}}}\ntargets: {{max_lost_writes: 0}}\n",
        secs * 1000,
        secs * 1000 + 60_000
    );
    let file = dir.join(format!("bench-{engine}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let reports = dir.join("reports");
    let before = drdrill::usage::children_cpu_us();
    let out = Command::new(bin).args(["run", file.to_str().unwrap(), "--yes", "--reports", reports.to_str().unwrap()]).output().unwrap();
    let cpu_us = drdrill::usage::children_cpu_us() - before;
    assert!(out.status.success(), "drdrill failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut runs: Vec<_> = std::fs::read_dir(reports.join(format!("bench-{engine}"))).unwrap().flatten().map(|e| e.path()).collect();
    runs.sort();
    let run = runs.pop().unwrap();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let history_bytes = std::fs::metadata(drdrill::history::path_in(&run)).map(|m| m.len() as f64).ok();
    let history_bytes_per_write = history_bytes.zip(r["total_writes"].as_f64()).map(|(b, n)| b / n);
    let stdout = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let sample = match r.get("harness") {
        Some(h) => Sample {
            writes_per_s: h["writes_per_s"].as_f64().unwrap(),
            cpu_us_per_write: h["cpu_us_per_write"].as_f64().unwrap(),
            peak_rss_mb: h["peak_rss_mb"].as_f64(),
            history_bytes_per_write,
            whole_process: false,
        },
        None => {
            let writes = r["total_writes"].as_f64().unwrap();
            Sample {
                writes_per_s: writes / secs as f64,
                cpu_us_per_write: cpu_us as f64 / writes,
                peak_rss_mb: None,
                history_bytes_per_write,
                whole_process: true,
            }
        }
    };
    (sample, stdout)
}

/// The drill time a drill-log line starts with (`[   12.3s] …`).
fn stamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?.split_once("s]")?.0.trim().parse::<f64>().ok()
}

fn pgbench(port: u16, secs: u64) -> Sample {
    let (tps, cpu) = tools::pgbench(port, WRITERS, None, PAYLOAD, secs);
    Sample { writes_per_s: tps, cpu_us_per_write: cpu, peak_rss_mb: None, history_bytes_per_write: None, whole_process: false }
}

fn redis_benchmark(port: u16, secs: u64, expected_per_s: f64) -> Sample {
    let n = (expected_per_s * secs as f64) as u64;
    let (rps, cpu) = tools::redis_benchmark(port, WRITERS, n, PAYLOAD);
    Sample { writes_per_s: rps, cpu_us_per_write: cpu, peak_rss_mb: None, history_bytes_per_write: None, whole_process: false }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn row(label: &str, ours: &[Sample], theirs: &[Sample], tool_name: &str) {
    let (ow, tw) = (median(ours.iter().map(|s| s.writes_per_s).collect()), median(theirs.iter().map(|s| s.writes_per_s).collect()));
    let (oc, tc) = (median(ours.iter().map(|s| s.cpu_us_per_write).collect()), median(theirs.iter().map(|s| s.cpu_us_per_write).collect()));
    let rss = ours.iter().filter_map(|s| s.peak_rss_mb).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let star = if ours.iter().any(|s| s.whole_process) { "*" } else { "" };
    let history = ours.iter().filter_map(|s| s.history_bytes_per_write).collect::<Vec<_>>();
    println!(
        "| {label} | {ow:.0} | {tool_name} {tw:.0} | {:.2} | {oc:.1}{star} µs vs {tc:.1} µs ({:.2}×) | {} | {} |",
        ow / tw,
        oc / tc,
        rss.map_or("-".into(), |r| format!("{r:.1} MB")),
        if history.is_empty() { "-".into() } else { format!("{:.1} B", median(history)) }
    );
}

/// Alternates drdrill (each of `bins()`) and the tool `rounds` times against one server: even
/// rounds drdrill first, odd rounds the tool first and the binaries in reverse order.
fn compare(label: &str, engine: &str, server: &Server, secs: u64, rounds: u64, tool_name: &str, dir: &Path) {
    let bins = bins();
    drdrill(&bins[0], engine, server.port, 2, dir); // warm-up: creates the table, fills caches
    let (mut ours, mut theirs) = (vec![Vec::new(); bins.len()], Vec::new());
    for r in 0..rounds {
        let run_tool = |ours: &[Sample]| match engine {
            "postgres" => pgbench(server.port, secs),
            _ => redis_benchmark(server.port, secs, ours.last().map_or(25_000.0, |s: &Sample| s.writes_per_s)),
        };
        let mut order: Vec<usize> = (0..bins.len()).collect();
        if r % 2 == 1 {
            theirs.push(run_tool(&ours[0]));
            order.reverse();
        }
        for &i in &order {
            ours[i].push(drdrill(&bins[i], engine, server.port, secs, dir));
        }
        if r % 2 == 0 {
            theirs.push(run_tool(&ours[0]));
        }
        for (i, o) in ours.iter().enumerate() {
            eprintln!("[bench] {label} round {}: drdrill {} {:?}", r + 1, bins[i].display(), o.last().unwrap());
        }
        eprintln!("[bench] {label} round {}: {tool_name} {:?}", r + 1, theirs.last().unwrap());
    }
    for (i, samples) in ours.iter().enumerate() {
        let l = if i == 0 { label.to_string() } else { format!("{label} — {}", bins[i].display()) };
        row(&l, samples, &theirs, tool_name);
    }
    if ours.len() > 1 {
        let cpu = |s: &[Sample]| median(s.iter().map(|x| x.cpu_us_per_write).collect());
        println!(
            "| {label}: CPU per write, {} ÷ {} | {:.3} | | | | | |",
            bins[1].display(),
            bins[0].display(),
            cpu(&ours[1]) / cpu(&ours[0])
        );
    }
}

fn main() {
    let (rounds, secs) = (env_u64("DRDRILL_BENCH_ROUNDS", 3), env_u64("DRDRILL_BENCH_SECS", 10));
    let dir = tempfile::tempdir().unwrap();
    println!(
        "drdrill {} vs the standard tools: {WRITERS} clients, {PAYLOAD}-byte payloads, unthrottled, {rounds} rounds of {secs} s (medians)",
        bin().display()
    );
    println!("| | drdrill writes/s | standard tool | ratio | client CPU per write | drdrill peak RSS | history per write |");
    println!("|---|---|---|---|---|---|---|");
    let parts = std::env::var("DRDRILL_BENCH_PARTS").unwrap_or_else(|_| "throughput,teardown".into());
    if parts.contains("throughput") || parts.contains("postgres") {
        for (label, sync) in [("PostgreSQL, synchronous_commit on", true), ("PostgreSQL, synchronous_commit off", false)] {
            let s = postgres(sync);
            compare(label, "postgres", &s, secs, rounds, "pgbench", dir.path());
        }
    }
    if parts.contains("throughput") || parts.contains("redis") {
        let s = redis();
        compare("Redis SET", "redis", &s, secs, rounds, "redis-benchmark", dir.path());
    }
    if parts.contains("teardown") {
        teardown(dir.path(), rounds);
    }
    if parts.contains("memory") {
        memory_run(dir.path());
    }
}

/// ≥ 10 M writes to Redis, unthrottled: peak RSS (check phase included) and the check
/// phase's duration, from the drill's own log timestamps.
fn memory_run(dir: &Path) {
    let s = redis();
    let target = env_u64("DRDRILL_BENCH_MEMORY_WRITES", 10_000_000);
    let probe = drdrill(&bin(), "redis", s.port, 5, dir);
    // a margin: the long run is slower than the short probe (Redis grows to millions of
    // keys; a run sized at 1.2× once fell 16 % short)
    let secs = (target as f64 / probe.writes_per_s * 1.6).ceil() as u64;
    let t = Instant::now();
    let (m, log) = drdrill_logged(&bin(), "redis", s.port, secs, dir);
    let writes = log.lines().find_map(|l| l.split_once(" writes recorded")?.0.rsplit(' ').next()?.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let check = seconds_between(&log, "== checking the history", "");
    if writes < target as f64 {
        println!("memory run: {writes} writes, fewer than the {target} asked for: the figures below are for that many");
    }
    println!(
        "memory run: {:.2} M writes, peak RSS {} (check phase included), read-back {:.1} s, check {:.1} s ({:.2} s per million), history {} per write, whole drill {:.0} s",
        writes / 1e6,
        m.peak_rss_mb.map_or("-".into(), |r| format!("{r:.1} MB")),
        seconds_between(&log, "== reading back", "== checking the history"),
        check,
        check / (writes / 1e6),
        m.history_bytes_per_write.map_or("-".into(), |b| format!("{b:.1} B")),
        t.elapsed().as_secs_f64()
    );
}

/// A 3-node PostgreSQL drill: drdrill's own teardown (from its log) against `docker rm -f`
/// of the same kind of stack (a drill kept with `--keep`: its containers, then its network).
fn teardown(dir: &Path, rounds: u64) {
    let file = dir.join("bench-teardown.yaml");
    let yaml = "name: bench-teardown\nstack: {kind: postgres, replicas: 2}\n\
                workload: {writers: 1, rate_per_s: 10, after_recovery_ms: 1000}\ntargets: {max_lost_writes: 0}\n";
    std::fs::write(&file, yaml).unwrap();
    let reports = dir.join("reports");
    let run = |keep: bool| {
        let mut args = vec!["run", file.to_str().unwrap(), "--reports", reports.to_str().unwrap()];
        if keep {
            args.push("--keep");
        }
        let out = Command::new(bin()).args(&args).output().unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "drill failed:\n{log}{}", String::from_utf8_lossy(&out.stderr));
        let evidence = log.lines().find_map(|l| l.strip_prefix("evidence: ")).unwrap().to_string();
        let r: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&evidence).join("results.json")).unwrap()).unwrap();
        (log, r)
    };
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (log, _) = run(false);
        ours.push(seconds_between(&log, "== tearing down", "stack torn down"));
        let (_, r) = run(true);
        let names: Vec<String> =
            r["stack"]["nodes"].as_array().unwrap().iter().map(|n| n["container"].as_str().unwrap().to_string()).collect();
        let t = Instant::now();
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(names.iter().map(String::as_str));
        docker(&args);
        docker(&["network", "rm", &format!("drdrill-{}", r["run_id"].as_str().unwrap())]);
        plain.push(t.elapsed().as_secs_f64());
    }
    let (o, p) = (median(ours), median(plain));
    println!("\nteardown of a 3-node PostgreSQL stack: drdrill {o:.2} s, docker rm -f + network rm {p:.2} s ({:.2}×)", o / p);
}

/// Seconds between the drill-log line containing `from` and the next line after it
/// containing `to` (the log's last timestamped line when none does).
fn seconds_between(log: &str, from: &str, to: &str) -> f64 {
    let lines: Vec<&str> = log.lines().filter(|l| stamp(l).is_some()).collect();
    let Some(i) = lines.iter().position(|l| l.contains(from)) else { return f64::NAN };
    let end = lines[i + 1..].iter().find(|l| l.contains(to)).or(lines.last()).and_then(|l| stamp(l)).unwrap_or(f64::NAN);
    end - stamp(lines[i]).unwrap_or(f64::NAN)
}
