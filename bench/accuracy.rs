//! How accurate is drdrill's RTO, at both ends? Repeats a calibration outage on PostgreSQL
//! for every fault class, op rate and outage length, and prints, per row, the true outage,
//! the measured RTO, and how far each end of the RTO fell from the moment that end really
//! happened.
//!
//! Fault classes: `kill` and `stop` of the primary (a replica is promoted by a scripted
//! failover after the outage's length), `pause` of the only node, an iptables `partition`
//! of the clients from the node, iptables `loss` of 100 %, a `timeout: 0` (blackhole)
//! toxic and a `down` proxy on the proxied client path.
//!
//! `cargo bench --bench accuracy` (needs the engine and images: run scripts/setup.sh
//! first). Not a test: it asserts nothing, it measures. `DRDRILL_BENCH_REPEATS` (default 3)
//! sets the runs per row, `DRDRILL_BENCH_OUTAGES` (default `3000`) the outage lengths in
//! ms, comma-separated, `DRDRILL_BENCH_FAULTS` (default all) the classes, comma-separated
//! by their first word (`reads`: the read path's rows, bench/accuracy_reads.rs, printed
//! after the table).
//!
//! **The start.** RTO counts from when the fault took effect for the clients (the first
//! write that did not succeed, clamped to the fault's [request, applied]). The truth it is
//! compared with is a window known independently of the clients: for iptables faults, two
//! stamps of the node's own clock around `iptables-restore` (`applied_from_ns` ..
//! `applied_ns`); for kill, stop and pause, from the request to the engine's own event for
//! the container (`die`: the server process had exited; `pause`: the freeze was done), read
//! with `docker events`; for proxy faults, from the request to the proxy API call's return.
//! (The engine's `kill` event is no upper bound: writes were still acknowledged up to ~3 ms
//! after it.) The table gives each window's width: how well the truth is known.
//!
//! **The end.** The recovery point (the first lasting success) against the moment the path
//! was open again: a heal's window (node clock for iptables, the engine's `unpause` event
//! for pause, the API call for the proxy), or, after a failover, the moment the clients were
//! pointed at the promoted replica.
//!
//! An error is how far outside its window an end fell: + when the RTO is longer for it
//! (the start seen early, the end seen late), − when shorter (it flatters), 0 inside.
use serde_json::Value;
use std::process::Command;

#[path = "accuracy_reads.rs"]
mod accuracy_reads;

/// (writers, writes/s each): total op rate 100/s and 1000/s.
const RATES: [(u32, u32); 2] = [(1, 100), (2, 500)];

/// A fault class: label, the proxy on the client path, a replica and a failover after
/// `{ms}`, and the fault's YAML (`{ms}`: the outage's length).
struct Class {
    label: &'static str,
    proxy: bool,
    failover: bool,
    fault: &'static str,
}

const CLASSES: [Class; 7] = [
    Class { label: "kill (SIGKILL, failover)", proxy: false, failover: true, fault: "{at_ms: 2000, kind: kill, target: primary}" },
    Class { label: "stop (graceful, failover)", proxy: false, failover: true, fault: "{at_ms: 2000, kind: stop, target: primary}" },
    Class {
        label: "pause (freeze)",
        proxy: false,
        failover: false,
        fault: "{at_ms: 2000, kind: pause, target: primary, duration_ms: {ms}}",
    },
    Class {
        label: "partition (iptables)",
        proxy: false,
        failover: false,
        fault: "{at_ms: 2000, kind: partition, groups: [[primary], [clients]], duration_ms: {ms}}",
    },
    Class {
        label: "loss 100 % (iptables)",
        proxy: false,
        failover: false,
        fault: "{at_ms: 2000, kind: loss, target: primary, percent: 100, duration_ms: {ms}}",
    },
    Class {
        label: "blackhole (timeout 0 toxic)",
        proxy: true,
        failover: false,
        fault: "{at_ms: 2000, kind: timeout, target: primary, link: client, timeout_ms: 0, duration_ms: {ms}}",
    },
    Class {
        label: "down (refused)",
        proxy: true,
        failover: false,
        fault: "{at_ms: 2000, kind: down, target: primary, link: client, duration_ms: {ms}}",
    },
];

fn scenario(name: &str, c: &Class, outage_ms: u64, writers: u32, rate: u32) -> String {
    let proxy = if c.proxy { "proxy:\n  clients: true\n" } else { "" };
    let replicas = if c.failover { 1 } else { 0 };
    let failover = if c.failover {
        format!("failover:\n  trigger:\n    delay:\n      delay_ms: {outage_ms}\n  promote: pg-2\n  rejoin_old_primary: false\n")
    } else {
        String::new()
    };
    let fault = c.fault.replace("{ms}", &outage_ms.to_string());
    // async replication may lose the last writes at a failover: only the single node is held to none
    let targets = if c.failover { "rto_ms: 600000" } else { "max_lost_writes: 0" };
    format!(
        "name: {name}\n\
         stack:\n  kind: postgres\n  replicas: {replicas}\n  settings:\n    synchronous_commit: \"off\"\n\
         {proxy}\
         workload:\n  writers: {writers}\n  rate_per_s: {rate}\n  fail_backoff_ms: 0\n  after_recovery_ms: 1500\n  max_duration_ms: 60000\n\
         faults:\n  - {fault}\n\
         {failover}\
         targets:\n  {targets}\n"
    )
}

/// One run's figures (ms).
struct Sample {
    /// The true outage's shortest and longest length the windows allow.
    truth: (f64, f64),
    rto: f64,
    /// How far RTO's start moved from the request (what counting from the request added).
    shift: f64,
    /// Width of the window the fault took effect in.
    start_window: f64,
    start_error: f64,
    end_error: f64,
}

/// How far `t` fell outside [lo, hi]: + when the RTO grows for it (`late_grows`: an end
/// seen late; otherwise a start seen early), − when it shrinks, 0 inside.
fn error(t: f64, (lo, hi): (f64, f64), late_grows: bool) -> f64 {
    let outside = if t < lo {
        t - lo
    } else if t > hi {
        t - hi
    } else {
        0.0
    };
    if late_grows { outside } else { -outside }
}

/// The engine's events for the drill's `node` container: (action, drill time in ms).
fn engine_events(r: &Value, node: &str) -> Vec<(String, f64)> {
    let anchor = r["started_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let (Some(anchor), Some(run)) = (anchor, r["run_id"].as_str()) else { return Vec::new() };
    let since = anchor.timestamp() - 1;
    let until = chrono::Utc::now().timestamp() + 1;
    let name = format!("drdrill-{run}-{node}");
    let out = Command::new("docker")
        .args(["events", "--since", &since.to_string(), "--until", &until.to_string(), "--filter", &format!("container={name}")])
        .args(["--format", "{{.Action}} {{.TimeNano}}"])
        .output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default();
    let zero = anchor.timestamp_nanos_opt().unwrap_or(0);
    text.lines()
        .filter_map(|l| {
            let (action, ns) = l.rsplit_once(' ')?;
            Some((action.to_string(), (ns.parse::<i64>().ok()? - zero) as f64 / 1e6))
        })
        .collect()
}

/// The windows in which the fault took effect and the path was open again (drill ms).
fn windows(r: &Value, c: &Class) -> Option<((f64, f64), (f64, f64))> {
    let event = |kind: &str| r["events"].as_array()?.iter().find(|e| e["kind"] == kind).cloned();
    let ms = |v: &Value| v.as_f64().map(|n| n / 1e6);
    let inject = event("fault-inject")?;
    let requested = ms(&inject["t_ns"])?;
    let applied = ms(&inject["applied_ns"])?;
    let engine = engine_events(r, "pg-1");
    let first = |action: &str, after: f64| engine.iter().find(|e| e.0.starts_with(action) && e.1 >= after).map(|e| e.1);
    let start = match c.label.split(' ').next()? {
        "partition" | "loss" => (ms(&inject["applied_from_ns"])?, applied),
        "kill" | "stop" => (requested, first("die", requested)?),
        "pause" => (requested, first("pause", requested)?),
        _ => (requested, applied),
    };
    let end = if c.failover {
        let t = ms(&event("failover-repoint-clients")?["t_ns"])?;
        (t, t)
    } else {
        let heal = event("fault-heal")?;
        let (from, to) = (ms(&heal["applied_from_ns"]).or(ms(&heal["t_ns"]))?, ms(&heal["applied_ns"]).or(ms(&heal["t_ns"]))?);
        match c.label.starts_with("pause") {
            true => (from, first("unpause", from).unwrap_or(to).min(to)),
            false => (from, to),
        }
    };
    Some((start, end))
}

/// Runs one drill; its sample, or None (named on stderr) when it failed.
fn run_once(dir: &std::path::Path, name: &str, yaml: &str, c: &Class, bound: f64) -> Option<Sample> {
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
    let Some((start, end)) = windows(&r, c) else {
        eprintln!("{name}: no truth window in {}", run.display());
        return None;
    };
    let (from, recovered, rto) = (r["rto_from_ms"].as_f64()?, r["recovered_at_ms"].as_f64()?, r["rto_ms"].as_f64()?);
    let requested = r["fault_ms"].as_f64()?;
    let s = Sample {
        truth: (end.0 - start.1, end.1 - start.0),
        rto,
        shift: from - requested,
        start_window: start.1 - start.0,
        start_error: error(from, start, false),
        end_error: error(recovered, end, true),
    };
    if s.start_error.abs() > bound || s.end_error.abs() > bound {
        eprintln!("{name}: start {:+.1} ms, end {:+.1} ms, evidence in {}", s.start_error, s.end_error, run.display());
    }
    Some(s)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn worst(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, |a, b| if b.abs() > a.abs() { b } else { a })
}

fn row(label: &str, outage: u64, total: u32, samples: &[Sample]) -> String {
    let interval = 1000.0 / total as f64;
    let bound = interval + 10.0;
    let m = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    let (start_worst, end_worst) = (worst(samples.iter().map(|s| s.start_error)), worst(samples.iter().map(|s| s.end_error)));
    let held = if start_worst.abs() <= bound && end_worst.abs() <= bound { "held" } else { "missed" };
    format!(
        "| {label} | {outage} | {total} | {interval:.1} | {:.1} – {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} / {:+.1} | {:+.1} / {:+.1} | {held} |",
        m(|s| s.truth.0),
        m(|s| s.truth.1),
        m(|s| s.rto),
        m(|s| s.shift),
        m(|s| s.start_window),
        m(|s| s.start_error),
        start_worst,
        m(|s| s.end_error),
        end_worst,
    )
}

fn main() {
    let repeats: usize = std::env::var("DRDRILL_BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let outages: Vec<u64> =
        std::env::var("DRDRILL_BENCH_OUTAGES").unwrap_or_else(|_| "3000".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let only = std::env::var("DRDRILL_BENCH_FAULTS").ok();
    let chosen = |c: &Class| only.as_deref().is_none_or(|o| o.split(',').any(|w| c.label.starts_with(w.trim())));
    // kept, so that an outlier's evidence can be read afterwards
    let dir = tempfile::Builder::new().prefix("drdrill-accuracy-").tempdir().expect("tempdir").keep();
    println!("drdrill RTO accuracy, both ends: PostgreSQL, {repeats} runs per row (evidence in {})\n", dir.display());
    println!(
        "| fault | outage (ms) | op rate (/s) | op interval (ms) | true outage (ms, median: shortest – longest the windows allow) | measured RTO (ms, median) | start moved from the request (ms, median) | start window width (ms, median) | start error (ms, median / worst) | end error (ms, median / worst) | bound: interval + 10 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for c in CLASSES.iter().filter(|c| chosen(c)) {
        for (writers, rate) in RATES {
            for &outage in &outages {
                let total = writers * rate;
                let name = format!("accuracy-{}-{outage}-{writers}x{rate}", c.label.split(' ').next().unwrap_or("x"));
                let yaml = scenario(&name, c, outage, writers, rate);
                let bound = 1000.0 / total as f64 + 10.0;
                let samples: Vec<Sample> = (0..repeats).filter_map(|_| run_once(&dir, &name, &yaml, c, bound)).collect();
                if samples.is_empty() {
                    println!("| {} | {outage} | {total} | - | - | - | - | - | - | - | no successful run |", c.label);
                    continue;
                }
                println!("{}", row(c.label, outage, total, &samples));
            }
        }
    }
    if only.as_deref().is_none_or(|o| o.split(',').any(|w| w.trim() == "reads")) {
        accuracy_reads::rows(&dir, repeats);
    }
}
