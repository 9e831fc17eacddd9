//! Drills signalled at random moments (the first 200 ms, while the stack starts, at the
//! fault, during the read-back checks): each must exit 130, leave nothing labelled behind, and
//! leave results.json with `interrupted: true` whenever its evidence folder existed.
use crate::common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SCENARIO: &str = "tests/fixtures/interrupt-drill.yaml";

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Resources carrying the scenario's label: containers (any state), networks, volumes.
fn leftovers() -> Vec<String> {
    let label = "label=drdrill.scenario=interrupt-drill";
    let mut all = Vec::new();
    for args in [
        vec!["ps", "-a", "--filter", label, "--format", "{{.Names}} {{.State}}"],
        vec!["network", "ls", "--filter", label, "--format", "{{.Name}}"],
        vec!["volume", "ls", "--filter", label, "--format", "{{.Name}}"],
    ] {
        let out = Command::new("docker").args(&args).output().expect("docker");
        all.extend(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string));
    }
    all
}

enum Moment {
    /// ms after the process started
    Early(u64),
    /// ms after the first line containing the text
    After(&'static str, u64),
}

/// Runs the drill, signals it at `moment`, and checks what it left.
fn interrupt_at(moment: Moment, signal: &str) {
    let reports = tempfile::tempdir().unwrap();
    let mut child = spawn_drill(SCENARIO, reports.path());
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let delay = match moment {
        Moment::Early(ms) => Duration::from_millis(ms).saturating_sub(started.elapsed()),
        Moment::After(text, ms) => {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the drill never reached the moment");
                if line.contains(text) {
                    break Duration::from_millis(ms);
                }
            }
        }
    };
    std::thread::sleep(delay);
    let at = started.elapsed();
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    let what = format!("{signal} at {:.3} s", at.as_secs_f64());
    assert_eq!(status.code(), Some(130), "{what}: exit code\n{log}");
    assert_eq!(leftovers(), Vec::<String>::new(), "{what}: labelled resources left\n{log}");
    let Some(dir) = log.lines().find_map(|l| l.split("evidence in ").nth(1)).map(|d| root().join(d.trim())) else {
        // the signal came before the drill had an evidence folder: nothing was started
        assert!(log.contains("nothing had started"), "{what}: no evidence folder and no explanation\n{log}");
        return;
    };
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap_or_else(|e| panic!("{what}: {e}\n{log}"))).unwrap();
    assert_eq!(results["interrupted"], true, "{what}");
    assert_eq!(results["verdict"], "unknown", "{what}");
    assert_eq!(results["interruption"]["signal"], if signal == "-INT" { "SIGINT" } else { "SIGTERM" }, "{what}");
    assert!(dir.join("report.md").exists() && dir.join("junit.xml").exists(), "{what}: reports missing");
    // after the interruption nothing fails over: the failover was stopped first
    let history = drdrill::history::path_in(&dir);
    if history.exists() {
        let events: Vec<Value> = drdrill::history::read_text(&history)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &Value| v["type"] == "event")
            .collect();
        if let Some(t) = events.iter().find(|e| e["kind"] == "interrupted").and_then(|e| e["t_ns"].as_u64()) {
            let late: Vec<&Value> = events
                .iter()
                .filter(|e| e["t_ns"].as_u64() > Some(t) && e["kind"].as_str().is_some_and(|k| k.starts_with("failover")))
                .collect();
            assert!(late.is_empty(), "{what}: failover steps after the interruption: {late:?}");
        }
    }
}

#[test]
fn drills_interrupted_at_random_moments_leave_evidence_and_nothing_else() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("interruption seed {seed}");
    let mut rng = Rng(seed);
    interrupt_at(Moment::Early(20 + rng.below(180)), "-INT");
    interrupt_at(Moment::Early(60 + rng.below(60)), "-TERM");
    interrupt_at(Moment::After("== starting", rng.below(800)), "-INT");
    interrupt_at(Moment::After("fault #0", 0), "-TERM");
    // the fixture's final primary is stopped: the read-back retries for 30 s
    interrupt_at(Moment::After("== reading back", rng.below(3000)), "-INT");
    interrupt_at(Moment::After("== reading back", 0), "-TERM");
}

/// Labelled resources of the drill process `pid` (containers in any state, networks, volumes).
fn left_by(pid: u32) -> Vec<String> {
    let label = format!("label=drdrill.pid={pid}");
    let mut all = Vec::new();
    for args in [
        vec!["ps", "-a", "--filter", &label, "--format", "{{.Names}} {{.State}}"],
        vec!["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
        vec!["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
    ] {
        let out = Command::new("docker").args(&args).output().expect("docker");
        all.extend(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string));
    }
    all
}

/// The default drill signalled `ms` after it started: it exits 130 or ends on its own,
/// and leaves nothing labelled, which `drdrill gc` confirms for its run.
fn interrupt_default_at(ms: u64, signal: &str) -> String {
    let reports = tempfile::tempdir().unwrap();
    let mut child = spawn_drill("scenarios/postgres-async-primary-kill.yaml", reports.path());
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    std::thread::sleep(Duration::from_millis(ms));
    let pid = child.id();
    assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    let what = format!("{signal} at {ms} ms");
    assert_eq!(status.code(), Some(130), "{what}: exit code\n{log}");
    assert_eq!(left_by(pid), Vec::<String>::new(), "{what}: labelled resources left\n{log}");
    // the run id is the evidence folder's suffix: gc finds nothing of it either
    if let Some(run) = log.lines().find_map(|l| l.split("(run ").nth(1)).and_then(|r| r.split(')').next()) {
        let gc = drdrill(&["gc", "--run", run]);
        let said = String::from_utf8_lossy(&gc.stdout).to_string();
        assert!(said.starts_with("removed 0 containers, 0 networks, 0 volumes"), "{what}: gc found more of run {run}: {said}\n{log}");
    }
    let last = log.lines().rfind(|l| l.contains("== ") && !l.contains("tearing down")).unwrap_or("(before any phase)").to_string();
    format!("{what}: {last}")
}

#[test]
fn the_default_drill_interrupted_at_20_moments_of_its_first_3_s_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("interruption seed {seed}");
    let mut rng = Rng(seed);
    // 20 moments spread over the first 3 s, each within its own slot of 149 ms from 20 ms on
    // (drdrill listens for signals once its arguments are read: a few ms), the signals alternating
    let mut seen = Vec::new();
    for i in 0..20u64 {
        let ms = 20 + i * 149 + rng.below(149);
        seen.push(interrupt_default_at(ms, if i % 2 == 0 { "-INT" } else { "-TERM" }));
    }
    eprintln!("{}", seen.join("\n"));
}

/// A signal while the scenario file is still being read (a FIFO holds the reader as long as
/// the test likes): drdrill listens from its first moment, so it is answered with exit 130
/// and "nothing had started", never the default death with nothing said.
#[test]
fn a_signal_while_the_scenario_is_read_is_answered_not_the_default_death() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("drill.yaml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for signal in ["-TERM", "-INT"] {
        let mut child = spawn_drill(fifo.to_str().unwrap(), dir.path());
        std::thread::sleep(Duration::from_millis(300));
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        // the reader is still blocked on the FIFO: give it the scenario now (from a thread:
        // a drdrill that died of the signal never opens the FIFO, and the write would wait)
        let (path, text) = (fifo.clone(), std::fs::read(root().join(SCENARIO)).unwrap());
        let writer = std::thread::spawn(move || std::fs::write(path, text));
        let status = child.wait().unwrap();
        if !writer.is_finished() {
            drop(std::fs::File::open(&fifo)); // lets the writer go
        }
        writer.join().unwrap().unwrap();
        let log = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert_eq!(status.code(), Some(130), "{signal} while reading: exit code\n{log}");
        assert!(log.contains("nothing had started"), "{signal}: {log}");
        assert_eq!(leftovers(), Vec::<String>::new(), "{signal}: labelled resources left\n{log}");
    }
}

/// A sweep interrupted once its first drill is done: it exits 130, leaves nothing of any
/// of its drills, and its sweep.json and last lines say which values were done.
#[test]
fn a_sweep_interrupted_mid_way_leaves_nothing_and_reports_the_values_done() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["run", "tests/fixtures/sweep-sentinel-pause.yaml", "--reports", reports.path().to_str().unwrap()])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // the first drill (500 ms, the blip) done: its results.json is written
    let first = reports.path().join("sweep-sentinel-pause-500-b1");
    let started = std::time::Instant::now();
    while find_results(&first).is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "the first drill never finished");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    assert!(out.contains("interrupted: the values done: 500; not done: 5000"), "{out}\n{err}");
    let dir = std::fs::read_dir(reports.path().join("sweeps")).unwrap().next().unwrap().unwrap().path();
    let sweep: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!((sweep["points"][0]["done"].as_bool(), sweep["points"][1]["done"].as_bool()), (Some(true), Some(false)), "{sweep}");
    for name in ["sweep-sentinel-pause-500-b1", "sweep-sentinel-pause-5000-b1"] {
        let (c, n) = labelled_scenario(name);
        assert!(c.is_empty() && n.is_empty(), "{name} left {c:?} {n:?}\n{err}");
    }
}
