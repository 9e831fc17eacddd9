//! How accurate is drdrill's RTO? Repeats a calibration outage on one PostgreSQL node for
//! several fault kinds, outage lengths and op rates, and prints true outage, measured RTO
//! and the error, median and max.
//!
//! Fault kinds: the client path through the chaos proxy taken hard `down` (connections
//! refused), and three that drop packets silently, where every write in flight waits out
//! its timeout: an iptables `partition` of the clients from the node, iptables `loss` of
//! 100 %, and a `timeout: 0` (blackhole) toxic on the proxied client path.
//!
//! `cargo bench --bench accuracy` (needs the engine and images: run scripts/setup.sh
//! first). Not a test: it asserts nothing, it measures. `DRDRILL_BENCH_REPEATS` (default
//! 3) sets the repetitions per cell; `DRDRILL_BENCH_TABLE` = `refused`, `dropped` or `all`
//! (default) chooses the tables.
//!
//! True outage = from the inject event (taken just before drdrill asks for the fault) to
//! the heal's applied time; RTO counts from the same inject event. The heal takes effect
//! inside a window: on the proxy, between the heal's request and its API call's return; inside a node,
//! between the node-clock stamps taken just before and just after `iptables-restore`
//! removed the rules (5-30 ms apart). Error = how far outside that window the recovery
//! point (the first lasting success) fell: after it (+), before it (−, impossible unless
//! the measurement flatters), 0 inside it.
use serde_json::Value;
use std::process::Command;

/// (writers, writes/s each): total op rate 100/s and 1000/s.
const RATES: [(u32, u32); 2] = [(1, 100), (2, 500)];

/// (label, proxy on the client path, the fault's YAML with `{ms}` for the outage).
const FAULTS: [(&str, bool, &str); 4] = [
    ("down (refused)", true, "{at_ms: 2000, kind: down, target: primary, link: client, duration_ms: {ms}}"),
    ("partition (iptables)", false, "{at_ms: 2000, kind: partition, groups: [[primary], [clients]], duration_ms: {ms}}"),
    ("loss 100 % (iptables)", false, "{at_ms: 2000, kind: loss, target: primary, percent: 100, duration_ms: {ms}}"),
    ("blackhole (timeout 0 toxic)", true, "{at_ms: 2000, kind: timeout, target: primary, link: client, timeout_ms: 0, duration_ms: {ms}}"),
];

fn scenario(name: &str, proxy: bool, fault: &str, outage_ms: u64, writers: u32, rate: u32) -> String {
    let proxy = if proxy { "proxy:\n  clients: true\n" } else { "" };
    let fault = fault.replace("{ms}", &outage_ms.to_string());
    format!(
        "name: {name}\n\
         stack:\n  kind: postgres\n  replicas: 0\n  settings:\n    synchronous_commit: \"off\"\n\
         {proxy}\
         workload:\n  writers: {writers}\n  rate_per_s: {rate}\n  fail_backoff_ms: 0\n  after_recovery_ms: 1500\n  max_duration_ms: 60000\n\
         faults:\n  - {fault}\n\
         targets:\n  max_lost_writes: 0\n"
    )
}

/// (true outage ms, measured RTO ms, error ms) of one drill; an error beyond `bound` ms
/// names its evidence folder on stderr, to be read.
fn run_once(dir: &std::path::Path, name: &str, yaml: &str, bound: f64) -> Option<(f64, f64, f64)> {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).ok()?;
    let reports = dir.join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_drdrill")).args(["run", file.to_str()?, "--reports", reports.to_str()?]).output().ok()?;
    if out.status.code() != Some(0) {
        eprintln!("drill failed ({:?}):\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    // the newest evidence folder of this scenario
    let mut runs: Vec<_> = std::fs::read_dir(reports.join(name)).ok()?.flatten().map(|e| e.path()).collect();
    runs.sort();
    let run = runs.pop()?;
    let r: Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).ok()?).ok()?;
    let event = |kind: &str| r["events"].as_array()?.iter().find(|e| e["kind"] == kind).cloned();
    let inject = event("fault-inject")?["t_ns"].as_f64()? / 1e6;
    let heal = event("fault-heal")?;
    // the heal took effect somewhere in [from, to]: inside a node, between the node-clock
    // stamps around the rule removal; on the proxy, when the API call returned
    let to = heal["applied_ns"].as_f64().or(heal["t_ns"].as_f64())? / 1e6;
    let from = heal["applied_from_ns"].as_f64().or(heal["t_ns"].as_f64())? / 1e6;
    let recovered = r["recovered_at_ms"].as_f64()?;
    // error: how far outside that window the recovery point fell (0 inside it)
    let error = if recovered > to {
        recovered - to
    } else if recovered < from {
        recovered - from
    } else {
        0.0
    };
    let rto = r["rto_ms"].as_f64()?;
    if error.abs() > bound {
        eprintln!("{name}: error {error:+.1} ms, evidence in {}", run.display());
    }
    Some((to - inject, rto, error))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn table(dir: &std::path::Path, faults: &[(&str, bool, &str)], outages: &[u64], repeats: usize) {
    println!(
        "| fault | outage (ms) | op rate (/s) | op interval (ms) | true outage (ms, median) | measured RTO (ms, median) | error median (ms) | error max, absolute (ms) | bound: interval + 10 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, proxy, fault) in faults {
        for (writers, rate) in RATES {
            let total = writers * rate;
            let interval = 1000.0 / total as f64;
            for &outage in outages {
                let name = format!("accuracy-{}-{outage}-{writers}x{rate}", label.split(' ').next().unwrap_or("x"));
                let yaml = scenario(&name, *proxy, fault, outage, writers, rate);
                let samples: Vec<(f64, f64, f64)> = (0..repeats).filter_map(|_| run_once(dir, &name, &yaml, interval + 10.0)).collect();
                if samples.is_empty() {
                    println!("| {label} | {outage} | {total} | {interval:.1} | - | - | - | - | no successful run |");
                    continue;
                }
                let errors: Vec<f64> = samples.iter().map(|s| s.2).collect();
                let e_max = errors.iter().copied().fold(f64::MIN, |a, b| a.max(b.abs()));
                let held = if e_max <= interval + 10.0 { "held" } else { "missed" };
                let (t, m, e) =
                    (median(samples.iter().map(|s| s.0).collect()), median(samples.iter().map(|s| s.1).collect()), median(errors));
                println!("| {label} | {outage} | {total} | {interval:.1} | {t:.1} | {m:.1} | {e:+.1} | {e_max:.1} | {held} |");
            }
        }
    }
}

fn main() {
    let repeats: usize = std::env::var("DRDRILL_BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let which = std::env::var("DRDRILL_BENCH_TABLE").unwrap_or_else(|_| "all".into());
    // kept, so that an outlier's evidence can be read afterwards
    let dir = tempfile::Builder::new().prefix("drdrill-accuracy-").tempdir().expect("tempdir").keep();
    println!("drdrill RTO accuracy: one PostgreSQL node, {repeats} runs per row (evidence in {})", dir.display());
    if which == "all" || which == "refused" {
        println!("\nConnections refused (proxy down on the client path)\n");
        table(&dir, &FAULTS[..1], &[500, 1000, 3000, 10_000], repeats);
    }
    if which == "all" || which == "dropped" {
        println!("\nPackets dropped (every write in flight waits out its 1000 ms timeout)\n");
        table(&dir, &FAULTS[1..], &[500, 3000, 10_000], repeats);
    }
}
