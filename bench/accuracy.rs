//! How accurate is drdrill's RTO? Repeats the calibration outage (one PostgreSQL node, the
//! client path through the chaos proxy taken hard down) for several outage lengths and op
//! rates, and prints true outage, measured RTO and the error, median and max.
//!
//! `cargo bench --bench accuracy` (needs the engine and images: run scripts/setup.sh
//! first). Not a test: it asserts nothing, it measures. `DRDRILL_BENCH_REPEATS` (default
//! 3) sets the repetitions per cell.
//!
//! True outage = heal event − inject event, both taken by drdrill just before it asks the
//! proxy (each API call takes ~1 ms). Error = measured RTO − true outage.
use serde_json::Value;
use std::process::Command;

const OUTAGES_MS: [u64; 4] = [500, 1000, 3000, 10_000];
/// (writers, writes/s each): total op rate 100/s and 1000/s.
const RATES: [(u32, u32); 2] = [(1, 100), (2, 500)];

fn scenario(outage_ms: u64, writers: u32, rate: u32) -> String {
    format!(
        "name: accuracy-{outage_ms}-{writers}x{rate}\n\
         stack:\n  kind: postgres\n  replicas: 0\n  settings:\n    synchronous_commit: \"off\"\n\
         proxy:\n  clients: true\n\
         workload:\n  writers: {writers}\n  rate_per_s: {rate}\n  fail_backoff_ms: 0\n  after_recovery_ms: 1500\n  max_duration_ms: 60000\n\
         faults:\n  - at_ms: 2000\n    kind: down\n    target: primary\n    link: client\n    duration_ms: {outage_ms}\n\
         targets:\n  max_lost_writes: 0\n"
    )
}

/// (true outage ms, measured RTO ms) of one drill.
fn run_once(dir: &std::path::Path, outage_ms: u64, writers: u32, rate: u32) -> Option<(f64, f64)> {
    let file = dir.join(format!("accuracy-{outage_ms}-{writers}x{rate}.yaml"));
    std::fs::write(&file, scenario(outage_ms, writers, rate)).ok()?;
    let reports = dir.join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_drdrill")).args(["run", file.to_str()?, "--reports", reports.to_str()?]).output().ok()?;
    if out.status.code() != Some(0) {
        eprintln!("drill failed ({:?}):\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    // the newest evidence folder of this scenario
    let sdir = reports.join(format!("accuracy-{outage_ms}-{writers}x{rate}"));
    let mut runs: Vec<_> = std::fs::read_dir(&sdir).ok()?.flatten().map(|e| e.path()).collect();
    runs.sort();
    let run = runs.pop()?;
    let r: Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).ok()?).ok()?;
    let at = |kind: &str| r["events"].as_array()?.iter().find(|e| e["kind"] == kind).and_then(|e| e["t_ns"].as_f64()).map(|t| t / 1e6);
    Some((at("fault-heal")? - at("fault-inject")?, r["rto_ms"].as_f64()?))
}

fn main() {
    let repeats: usize = std::env::var("DRDRILL_BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("drdrill RTO accuracy: proxy `down` on the client path of one PostgreSQL node, {repeats} runs per row");
    println!();
    println!(
        "| outage (ms) | op rate (/s) | op interval (ms) | true outage (ms, median) | measured RTO (ms, median) | error median (ms) | error max (ms) | bound: interval + 10 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (writers, rate) in RATES {
        let total = writers * rate;
        let interval = 1000.0 / total as f64;
        for outage in OUTAGES_MS {
            let mut samples = Vec::new();
            for _ in 0..repeats {
                if let Some(s) = run_once(dir.path(), outage, writers, rate) {
                    samples.push(s);
                }
            }
            if samples.is_empty() {
                println!("| {outage} | {total} | {interval:.1} | - | - | - | - | no successful run |");
                continue;
            }
            let mut errors: Vec<f64> = samples.iter().map(|(t, m)| m - t).collect();
            errors.sort_by(f64::total_cmp);
            let med = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (true_med, rto_med) = (med(samples.iter().map(|s| s.0).collect()), med(samples.iter().map(|s| s.1).collect()));
            let (e_med, e_max) = (errors[errors.len() / 2], errors.iter().copied().fold(f64::MIN, |a, b| a.max(b.abs())));
            let held = if e_max <= interval + 10.0 { "held" } else { "missed" };
            println!("| {outage} | {total} | {interval:.1} | {true_med:.1} | {rto_med:.1} | {e_med:+.1} | {e_max:.1} | {held} |");
        }
    }
}
