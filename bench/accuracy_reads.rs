//! The read path's rows of bench/accuracy (`workload.readers`): how stale the reads of a
//! replica that applies a known delay late were measured (PostgreSQL's
//! `recovery_min_apply_delay`), and the read RTO of a known outage on the readers' path (a
//! `down` proxy on the replica's client path), in scenarios/calibration-reads.yaml's shape.
//! Included by `bench/accuracy.rs` (`#[path]`).
use serde_json::Value;
use std::process::Command;

/// The replica's apply delays (ms) and the readers' path outages (ms) drilled, in pairs.
const CASES: [(u64, u64); 3] = [(100, 1000), (200, 2000), (500, 3000)];
/// Each reader's rate (/s): its spacing is 1000 / READ_RATE ms.
const READ_RATE: u64 = 100;

fn scenario(name: &str, delay: u64, outage: u64) -> String {
    format!(
        "name: {name}\nstack:\n  kind: postgres\n  replicas: 1\n  settings:\n    recovery_min_apply_delay: {delay}ms\nproxy:\n  clients: true\n\
         workload:\n  writers: 4\n  rate_per_s: 100\n  after_recovery_ms: 2000\n  max_duration_ms: 30000\n  readers:\n    count: 4\n    rate_per_s: {READ_RATE}\n    from: replicas\n    op_timeout_ms: 40\n\
         faults:\n  - {{at_ms: 2000, kind: down, target: replica-1, link: client, duration_ms: {outage}}}\ntargets:\n  converge: false\n"
    )
}

/// One drill's (staleness p50 ms, read RTO ms), or None (named on stderr).
fn run_once(dir: &std::path::Path, name: &str, yaml: &str) -> Option<(f64, f64)> {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).ok()?;
    let reports = dir.join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_drdrill")).args(["run", file.to_str()?, "--reports", reports.to_str()?]).output().ok()?;
    if out.status.code() != Some(0) {
        eprintln!("{name} failed ({:?}):\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mut runs: Vec<_> = std::fs::read_dir(reports.join(name)).ok()?.flatten().map(|e| e.path()).collect();
    runs.sort();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(runs.pop()?.join("results.json")).ok()?).ok()?;
    Some((r["reads"]["staleness"]["p50_ms"].as_f64()?, r["reads"]["rto"]["rto_ms"].as_f64()?))
}

/// The larger in size of two errors, with its sign.
fn worse(a: f64, b: f64) -> f64 {
    if b.abs() > a.abs() { b } else { a }
}

/// Prints the read path's table: a row per (delay, outage), `repeats` drills each.
pub fn rows(dir: &std::path::Path, repeats: usize) {
    let bound = 1000.0 / READ_RATE as f64 + 5.0;
    println!(
        "\nThe read path: staleness against a known apply delay, read RTO against a known outage on the readers' path ({repeats} runs per row)\n"
    );
    println!(
        "| apply delay (ms) | staleness p50 (ms, median) | its error (ms, worst) | bound: reader spacing + 5 ms | readers' path down (ms) | read RTO (ms, median) | its error (ms, worst) | bound: 50 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (delay, outage) in CASES {
        let name = format!("accuracy-reads-{delay}-{outage}");
        let yaml = scenario(&name, delay, outage);
        let samples: Vec<(f64, f64)> = (0..repeats).filter_map(|_| run_once(dir, &name, &yaml)).collect();
        if samples.is_empty() {
            println!("| {delay} | - | - | - | {outage} | - | - | no successful run |");
            continue;
        }
        let median = |f: fn(&(f64, f64)) -> f64| {
            let mut v: Vec<f64> = samples.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let stale_err = samples.iter().map(|s| s.0 - delay as f64).fold(0.0, worse);
        let rto_err = samples.iter().map(|s| s.1 - outage as f64).fold(0.0, worse);
        let held = |e: f64, b: f64| if e.abs() <= b { "held" } else { "missed" };
        println!(
            "| {delay} | {:.1} | {stale_err:+.1} | {} | {outage} | {:.1} | {rto_err:+.1} | {} |",
            median(|s| s.0),
            held(stale_err, bound),
            median(|s| s.1),
            held(rto_err, 50.0)
        );
    }
}
