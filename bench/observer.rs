//! How much of the machine does the observer take? Runs the drills of issue 51's table (one
//! per kind of load drdrill puts beside a stack: a failover, multi-active, the replica-lag
//! monitor, monitoring polls, Redis Cluster) and prints, for each, drdrill's CPU per write
//! and its share of the stack's CPU (results.json `harness`: drdrill's process from
//! getrusage and its proxies, over the stack's containers from their cgroups, while the
//! workload ran), beside the RTO, so a lighter observer is seen not to have moved what it
//! measures.
//!
//! `cargo bench --bench observer` (needs the engine and images: scripts/setup.sh; about 15
//! minutes). `DRDRILL_BIN=PATH` measures another build; `DRDRILL_BENCH_VS=PATH` measures a
//! second build in the same rounds, alternating which goes first, and prints both side by
//! side. `DRDRILL_BENCH_ROUNDS` (default 1) repeats each drill; the medians are printed.
//! `DRDRILL_BENCH_DRILLS` (comma-separated scenario names) runs only those. It asserts
//! nothing: it measures (`redis-cluster-shard-lost` fails its targets on purpose).
//!
//! drdrill's share of the stack's CPU is no measure of its weight: a client that sends one
//! request per round trip spends about what the server spends answering it. The honest
//! comparison is beside the reference clients, so a second table runs, for each service of
//! each drill, the standard tool with the same connections, one request per round trip,
//! 10 s against a fresh server of its engine: pgbench at the service's rate (`-R`), and
//! redis-benchmark as fast as answered (it cannot be paced: a client woken per request
//! spends more per request than one kept busy). `DRDRILL_BENCH_REFERENCE=0` leaves it out.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "tools.rs"]
mod tools;

/// How long each reference client runs.
const REFERENCE_SECS: u64 = 10;

/// The drills, as issue 51's table names them.
const DRILLS: [&str; 6] = [
    "postgres-async-primary-kill",
    "multi-active-two-regions-partition",
    "replica-lag-wan",
    "alerts-tuned-rules",
    "redis-cluster-master-kill",
    "redis-cluster-shard-lost",
];

fn bins() -> Vec<PathBuf> {
    let first = std::env::var_os("DRDRILL_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_drdrill")));
    let mut v = vec![first];
    v.extend(std::env::var_os("DRDRILL_BENCH_VS").map(PathBuf::from));
    v
}

/// What one run of a drill says about its observer.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    writes_per_s: f64,
    cpu_us_per_write: f64,
    observer_share: Option<f64>,
    rto_ms: Option<f64>,
}

/// Runs `scenario` with `bin`, its evidence under `dir`; None when it left no results.json.
fn run(bin: &Path, scenario: &str, dir: &Path) -> Option<Sample> {
    let file = format!("scenarios/{scenario}.yaml");
    let reports = dir.join(bin.file_name()?);
    let out = Command::new(bin).args(["run", &file, "--reports", reports.to_str()?]).output().ok()?;
    let mut runs: Vec<_> = std::fs::read_dir(reports.join(scenario)).ok()?.flatten().map(|e| e.path()).collect();
    runs.sort();
    let Some(r) = runs.pop().and_then(|d| std::fs::read_to_string(d.join("results.json")).ok()) else {
        eprintln!("{scenario}: no results.json from {}:\n{}", bin.display(), String::from_utf8_lossy(&out.stderr));
        return None;
    };
    let r: Value = serde_json::from_str(&r).ok()?;
    let h = &r["harness"];
    Some(Sample {
        writes_per_s: h["writes_per_s"].as_f64()?,
        cpu_us_per_write: h["cpu_us_per_write"].as_f64()?,
        observer_share: h["observer_share"].as_f64(),
        rto_ms: r["rto_ms"].as_f64(),
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

fn cell(samples: &[Sample]) -> String {
    let m = |f: &dyn Fn(&Sample) -> Option<f64>| median(samples.iter().filter_map(f).collect());
    let share = m(&|s| s.observer_share).map_or("-".into(), |v| format!("{v:.3}"));
    let rto = m(&|s| s.rto_ms).map_or("-".into(), |v| format!("{v:.0} ms"));
    match (m(&|s| Some(s.writes_per_s)), m(&|s| Some(s.cpu_us_per_write))) {
        (Some(w), Some(c)) => format!("{w:.0} | {c:.0} µs | **{share}** | {rto}"),
        _ => "- | - | - | -".into(),
    }
}

fn main() {
    let rounds = std::env::var("DRDRILL_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1u32);
    let only = std::env::var("DRDRILL_BENCH_DRILLS").ok();
    let drills: Vec<&str> =
        DRILLS.iter().copied().filter(|d| only.as_deref().is_none_or(|o| o.split(',').any(|x| x.trim() == *d))).collect();
    let bins = bins();
    let dir = tempfile::tempdir().unwrap();
    let mut header = String::from("| drill |");
    for b in &bins {
        header += &format!(" {}: writes/s | CPU per write | drdrill / stack CPU | RTO |", b.display());
    }
    let mut rows = Vec::new();
    let mut cpu_per_write = std::collections::BTreeMap::new();
    for scenario in &drills {
        let mut got: Vec<Vec<Sample>> = vec![Vec::new(); bins.len()];
        for round in 0..rounds {
            // alternate which build goes first
            let mut order: Vec<usize> = (0..bins.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                if let Some(s) = run(&bins[i], scenario, dir.path()) {
                    eprintln!("{scenario} ({}): {s:?}", bins[i].display());
                    got[i].push(s);
                }
            }
        }
        if let Some(c) = median(got[0].iter().map(|s| s.cpu_us_per_write).collect()) {
            cpu_per_write.insert(scenario.to_string(), c);
        }
        rows.push(format!("| {scenario} | {} |", got.iter().map(|s| cell(s)).collect::<Vec<_>>().join(" | ")));
    }
    println!("{header}");
    println!("|---|{}", "---|".repeat(4 * bins.len()));
    for r in rows {
        println!("{r}");
    }
    if std::env::var("DRDRILL_BENCH_REFERENCE").as_deref() != Ok("0") {
        reference_table(&drills, &cpu_per_write);
    }
}

/// One service's workload as the reference client repeats it.
struct Load {
    service: String,
    redis: bool,
    writers: u32,
    rate_per_s: Option<f64>,
    payload_bytes: usize,
}

fn loads(scenario: &str) -> Vec<Load> {
    let loaded = drdrill::scenario::load(Path::new(&format!("scenarios/{scenario}.yaml"))).expect("a shipped scenario loads");
    loaded
        .services
        .iter()
        .map(|p| {
            let w = &p.view.workload;
            Load {
                service: p.name.clone(),
                redis: p.view.stack.kind.info().name.contains("redis"),
                writers: u32::from(w.writers),
                rate_per_s: w.rate_per_s,
                payload_bytes: w.payload_bytes,
            }
        })
        .collect()
}

/// Each drill's services beside their reference clients: client CPU per write, and the ratio.
fn reference_table(drills: &[&str], drdrill_cpu: &std::collections::BTreeMap<String, f64>) {
    let (pg, redis) = (tools::postgres(true), tools::redis());
    println!();
    println!(
        "| drill | service: connections × rate | drdrill CPU per write (the whole drill) | reference client | its CPU per write | drdrill ÷ reference |"
    );
    println!("|---|---|---|---|---|---|");
    for scenario in drills {
        let ours = drdrill_cpu.get(*scenario).copied();
        for l in loads(scenario) {
            let total = l.rate_per_s.map(|r| r * f64::from(l.writers));
            let (tool, (per_s, cpu)) = match l.redis {
                true => {
                    ("redis-benchmark (unpaced)", tools::redis_benchmark(redis.port, l.writers, 20_000 * REFERENCE_SECS, l.payload_bytes))
                }
                false => ("pgbench -M prepared", tools::pgbench(pg.port, l.writers, total, l.payload_bytes, REFERENCE_SECS)),
            };
            let rate = l.rate_per_s.map_or("unthrottled".into(), |r| format!("{r:.0}/s each"));
            println!(
                "| {scenario} | {}: {} × {rate} | {} | {tool}, {per_s:.0}/s | {cpu:.0} µs | {} |",
                l.service,
                l.writers,
                ours.map_or("-".into(), |c| format!("{c:.0} µs")),
                ours.map_or("-".into(), |c| format!("{:.2}", c / cpu))
            );
        }
    }
}
