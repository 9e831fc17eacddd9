//! "Anything unexpected?" says what could have perturbed a drill's timings, proved both
//! ways on the default drill: alone on an idle host it finds nothing and its clients keep
//! time; beside a CPU hog that takes every core it names the saturated window and the RTO
//! window it overlaps; beside a disk hog, the stretches its disk stalled; with drdrill
//! itself frozen for a moment, a client's slip is the finding. A timing target missed in
//! such a window is undecided, and `--rerun-disturbed` counts a quiet attempt; a lost write
//! or a bound missed on a quiet attempt still fails. These run alone (.config/nextest.toml):
//! a neighbour would load the host.
use crate::common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

const DEFAULT: &str = "scenarios/postgres-async-primary-kill.yaml";

fn findings(d: &Drill) -> Vec<Value> {
    d.results["questions"]["unexpected"]["findings"].as_array().cloned().unwrap_or_default()
}

fn of_kind(d: &Drill, kind: &str) -> Vec<Value> {
    findings(d).into_iter().filter(|f| f["kind"] == kind).collect()
}

/// A container spinning two shell loops per core (so that a core the scheduler leaves
/// without one of them for a moment still has the other), each bounded to 3 minutes (so a test
/// killed before its drop leaves nothing spinning for long); removed when dropped.
struct Hog(String);

impl Hog {
    fn start() -> Hog {
        Hog::run(r#"for i in $(seq $((2 * $(nproc)))); do timeout 180 sh -c 'while :; do :; done' & done; wait"#)
    }

    /// Two loops each writing 1 GB into the container's own layer and fsyncing it, as a
    /// restore or a backup beside the drill does (bounded to 3 minutes, like the CPU hog).
    fn disk() -> Hog {
        let write = "while :; do dd if=/dev/zero of=/tmp/hog-$i bs=1M count=1000 conv=fsync 2>/dev/null; done";
        Hog::run(&format!(r#"for i in 1 2; do timeout 180 sh -c "{write}" & done; wait"#))
    }

    fn run(script: &str) -> Hog {
        let name = format!("drdrill-test-hog-{}", std::process::id());
        let out = Command::new("docker")
            .args(["run", "-d", "--rm", "--name", &name, "--network", "none", "--entrypoint", "sh", "drdrill/postgres:15-2", "-c", script])
            .output()
            .expect("docker");
        assert!(out.status.success(), "the hog did not start: {}", String::from_utf8_lossy(&out.stderr));
        // let every loop take its core before the drill starts
        std::thread::sleep(Duration::from_secs(2));
        Hog(name)
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn the_default_drill_on_an_idle_host_finds_nothing_unexpected_and_its_clients_keep_time() {
    let d = run_drill(DEFAULT, &[]);
    assert_eq!(d.code, 0, "{}", d.stdout);
    assert_eq!(d.results["questions"]["unexpected"]["answer"], "no", "{:?}", findings(&d));
    let h = &d.results["harness"];
    assert_eq!(h["host"]["saturated"].as_array().map(Vec::len), Some(0), "{h}");
    let busy_max = h["host"]["busy_max"].as_f64().unwrap();
    assert!(busy_max < 0.95, "an idle host with one drill on it: {h}");
    let disk = &h["host"]["disk"];
    assert!(disk.is_object(), "no disk figures: /proc/pressure/io is missing (a kernel without CONFIG_PSI, or psi=0): {h}");
    assert_eq!(disk["stalled"].as_array().map(Vec::len), Some(0), "{h}");
    let slip = &h["slip"];
    assert!(slip["ops"].as_u64().unwrap() > 1000, "the default writers are paced (100 writes/s each): {slip}");
    // the tests' debug build: p99 8.7 ms alone here, 10.1 ms once in a fresh clone's run (the
    // release build: 2.0 ms, docs/measurement.md); the slip finding starts at 300 ms
    assert!(slip["p99_ms"].as_f64().unwrap() < 20.0, "{slip}");
    assert!(d.stdout.contains("Anything unexpected?  NO"), "{}", d.stdout);
}

#[test]
fn beside_a_cpu_hog_the_saturated_window_and_the_rto_window_it_overlaps_are_named() {
    let hog = Hog::start();
    let d = run_drill(DEFAULT, &[]);
    drop(hog);
    assert_eq!(d.results["questions"]["unexpected"]["answer"], "yes");
    // a stretch per finding; one as a rule, the whole workload, but a single reading below
    // 95 % splits it (a CI run once had two), so the test holds what must be true of each
    let sat = of_kind(&d, "host_saturated");
    let stretches = d.results["harness"]["host"]["saturated"].as_array().cloned().unwrap_or_default();
    assert!(!stretches.is_empty() && sat.len() == stretches.len(), "{:?}\n{}", findings(&d), d.results["harness"]);
    let (rto_from, rto) = (d.results["rto_from_ms"].as_f64().unwrap(), d.results["rto_ms"].as_f64().unwrap());
    let mut covered = 0.0;
    for (s, f) in stretches.iter().zip(&sat) {
        let (from, to) = (s["from_ms"].as_f64().unwrap(), s["to_ms"].as_f64().unwrap());
        assert!(s["busy"].as_f64().unwrap() >= 0.95, "{s}");
        let overlap = (to.min(rto_from + rto) - from.max(rto_from)).max(0.0);
        covered += overlap;
        let evidence = f["evidence"].as_str().unwrap();
        if overlap > 0.0 {
            let window = format!(
                "RTO window t={:.1}–{:.1} s overlaps {:.1} s of a saturated host",
                rto_from / 1e3,
                (rto_from + rto) / 1e3,
                overlap / 1e3
            );
            assert!(evidence.ends_with(&window), "{evidence} / {window}");
        }
    }
    // the hog ran through the RTO window: saturated all of it bar two readings between stretches
    let gaps = (stretches.len() - 1) as f64 * 2.0 * drdrill::usage::host::EVERY.as_millis() as f64;
    assert!(covered + gaps + 1.0 >= rto, "{covered} ms of the {rto} ms RTO window saturated: {stretches:?}");
    // the writers still measured their slip (a sleeping client wins a core back quickly:
    // docs/measurement.md has the figures), and the scorecard shows both
    assert!(d.results["harness"]["slip"]["ops"].as_u64().unwrap() > 1000);
    assert!(d.stdout.contains("Anything unexpected?  YES") && d.stdout.contains("the host was saturated from t="), "{}", d.stdout);
}

/// The default drill started into `reports`, once its workload began: the child, and the
/// rest of its stderr line by line.
fn at_its_workload(reports: &std::path::Path) -> (std::process::Child, impl Iterator<Item = String> + Send + 'static) {
    let mut child = spawn_drill(DEFAULT, reports);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines().map_while(Result::ok);
    let deadline = Instant::now() + Duration::from_secs(180);
    assert!(lines.by_ref().take_while(|_| Instant::now() < deadline).any(|l| l.contains("== workload:")), "the workload never started");
    (child, lines)
}

/// The hog runs while the workload does (beside a stack starting, it slowed the setup by
/// 40 s): the stalls fall in the workload, where the sampler reads.
#[test]
fn beside_a_disk_hog_each_stretch_the_disk_stalled_is_named() {
    let reports = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = at_its_workload(reports.path());
    let hog = Hog::disk();
    let deadline = Instant::now() + Duration::from_secs(180);
    let checking = lines.by_ref().take_while(|_| Instant::now() < deadline).any(|l| l.contains("== checking the history"));
    drop(hog);
    let log = lines.collect::<Vec<_>>().join("\n");
    let status = child.wait().unwrap();
    assert!(checking, "the workload never ended: {log} {status:?}");
    let d = find_drill(reports.path());
    let disk = &d.results["harness"]["host"]["disk"];
    assert!(disk.is_object(), "no disk figures: /proc/pressure/io is missing (a kernel without CONFIG_PSI, or psi=0)\n{log} {status:?}");
    let stalled = disk["stalled"].as_array().cloned().unwrap_or_default();
    let found = of_kind(&d, "disk_stalled");
    assert!(!stalled.is_empty() && found.len() == stalled.len(), "{:?}\n{disk}", findings(&d));
    for (s, f) in stalled.iter().zip(&found) {
        let (from, to) = (s["from_ms"].as_f64().unwrap(), s["to_ms"].as_f64().unwrap());
        assert!(to - from >= 1000.0 && s["share"].as_f64().unwrap() >= 0.5, "{s}");
        let what = format!("the host's disk stalled from t={:.1} to {:.1} s", from / 1e3, to / 1e3);
        assert!(f["what"].as_str().unwrap().starts_with(&what), "{f} / {what}");
    }
    let (p50, max) = (disk["stall_p50"].as_f64().unwrap(), disk["stall_max"].as_f64().unwrap());
    assert!(max >= 0.5 && p50 <= max, "{disk}");
    let md = std::fs::read_to_string(d.dir.join("report.md")).unwrap();
    assert!(md.contains("I/O stall p50") && md.contains("the host's disk stalled from t="), "{md}");
}

#[test]
fn drdrill_frozen_for_a_moment_is_a_slip_finding_at_that_moment() {
    let reports = tempfile::tempdir().unwrap();
    let (mut child, lines) = at_its_workload(reports.path());
    let rest = std::thread::spawn(move || lines.collect::<Vec<_>>());
    // frozen twice, 2 s and 3.5 s after the workload's line, 700 ms each (the writers start
    // a few hundred ms after the line, later when the engine is slow to list the containers)
    let pid = child.id().to_string();
    for wait_ms in [2000, 800] {
        std::thread::sleep(Duration::from_millis(wait_ms));
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(700));
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    }
    let status = child.wait().unwrap();
    let log = rest.join().unwrap().join("\n");
    let d = find_drill(reports.path());
    let slipped = of_kind(&d, "pacing_slipped");
    assert_eq!(slipped.len(), 1, "{:?}\n{}\n{log} {status:?}", findings(&d), d.results["harness"]);
    let slip = &d.results["harness"]["slip"];
    let max = slip["max_ms"].as_f64().unwrap();
    assert!((600.0..2000.0).contains(&max), "a client due during the 700 ms freeze went out that late: {slip}");
    // the 30 s RTO target puts the bound at 300 ms; the worst op came right after the freeze
    assert_eq!(slip["finding_above_ms"], 300.0);
    let worst = slip["worst_at_ms"].as_f64().unwrap();
    assert!((1500.0..5000.0).contains(&worst), "frozen 2-4.5 s into the workload, before the fault: {slip}");
    let what = slipped[0]["what"].as_str().unwrap();
    assert!(what.contains("ms late at t=") && what.contains("drdrill itself was late"), "{what}");
    assert!(slipped[0]["evidence"].as_str().unwrap().contains("no RTO window overlaps it"), "{}", slipped[0]["evidence"]);
}

/// `drdrill run FILE --reports DIR ARGS…`, its stderr handed line by line to `on_line`
/// (with the process id, to act on it) until it exits: the exit code and the whole stderr.
fn run_watching(file: &str, reports: &std::path::Path, args: &[&str], mut on_line: impl FnMut(&str, &str)) -> (i32, String) {
    let mut child = Command::new(bin())
        .args(["run", file, "--reports", reports.to_str().unwrap()])
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start drdrill");
    let pid = child.id().to_string();
    let mut all = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
        on_line(&line, &pid);
        all += &line;
        all.push('\n');
    }
    (child.wait().unwrap().code().unwrap_or(-1), all)
}

/// Every results.json under `reports`, oldest run first.
fn every_run(reports: &std::path::Path) -> Vec<Value> {
    let mut dirs: Vec<std::path::PathBuf> = walk(reports).into_iter().filter(|p| p.ends_with("results.json")).collect();
    dirs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
    dirs.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    read.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

/// Issue 71's gate: beside a CPU hog, with drdrill frozen 4.5 s at the kill, the 4 s RTO
/// bound is missed inside a disturbed window: attempt 1 is undecided (not failed); the hog
/// stopped, attempt 2 runs on a quiet host, meets the bound and is the one counted.
#[test]
fn beside_a_cpu_hog_a_missed_rto_is_undecided_and_the_quiet_attempt_2_passes() {
    let reports = tempfile::tempdir().unwrap();
    let mut hog = Some(Hog::start());
    let mut frozen = false;
    let (code, log) = run_watching("tests/fixtures/undecided/pg-kill-4s.yaml", reports.path(), &["--rerun-disturbed", "2"], |line, pid| {
        if line.contains("fault #0") && !frozen {
            frozen = true;
            assert!(Command::new("kill").args(["-STOP", pid]).status().unwrap().success());
            std::thread::sleep(Duration::from_millis(4500));
            assert!(Command::new("kill").args(["-CONT", pid]).status().unwrap().success());
        }
        if line.contains("undecided") && line.contains("running it again") {
            hog.take(); // the host is quiet for attempt 2
        }
    });
    drop(hog);
    let runs = every_run(reports.path());
    assert_eq!(runs.len(), 2, "two attempts, each with its evidence\n{log}");
    let first = &runs[0];
    assert_eq!(first["verdict"], "undecided", "{}\n{log}", first["targets"]);
    let u = &first["undecided"][0];
    assert_eq!((u["target"].as_str(), u["window"].as_str()), (Some("rto_ms"), Some("RTO window")), "{u}");
    let what: Vec<&str> = u["disturbed"].as_array().unwrap().iter().filter_map(|d| d["what"].as_str()).collect();
    assert!(what.contains(&"host saturated") || what.contains(&"clients late"), "{u}");
    assert!(first["rto_ms"].as_f64().unwrap() > 4000.0, "{}", first["rto_ms"]);
    assert_eq!(runs[1]["verdict"], "pass", "{}\n{log}", runs[1]["targets"]);
    assert!(runs[1]["undecided"].is_null());
    assert_eq!(code, 0, "the counted attempt passed\n{log}");
    assert!(log.contains("attempt 2 of 3 counted; attempt 1 undecided: rto_ms"), "{log}");
    let summary = walk(&reports.path().join("suites")).into_iter().find(|p| p.ends_with("summary.json")).expect("a summary");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert_eq!(s["runs"][0]["attempts"][0], "attempt 2 of 3 counted", "{s}");
}

/// A real regression is not re-run away, and a lost write is lost on any host. Beside the
/// hog: the 1 ms RTO bound is undecided on attempt 1; the hog stopped, attempt 2 misses it
/// on a quiet host and fails (exit 1). Then, the hog back, a drill that loses writes fails
/// at once (exit 1, no second attempt) though its RTO is undecided.
#[test]
fn a_bound_missed_on_a_quiet_attempt_and_a_lost_write_beside_the_hog_still_fail() {
    let reports = tempfile::tempdir().unwrap();
    let mut hog = Some(Hog::start());
    let (code, log) =
        run_watching("tests/fixtures/undecided/pg-lost-writes-1ms.yaml", reports.path(), &["--rerun-disturbed", "1"], |_, _| {});
    let runs = every_run(reports.path());
    assert_eq!((code, runs.len()), (1, 1), "lost writes fail at once, no second attempt\n{log}");
    let targets = runs[0]["targets"].as_array().unwrap();
    let verdict = |name: &str| targets.iter().find(|t| t["target"] == name).map(|t| t["verdict"].clone());
    assert_eq!(verdict("max_lost_writes"), Some(Value::from("fail")), "{targets:?}");
    assert_eq!(verdict("rto_ms"), Some(Value::from("undecided")), "{targets:?}");
    assert_eq!(runs[0]["verdict"], "fail");
    let quiet = tempfile::tempdir().unwrap();
    let (code, log) = run_watching("tests/fixtures/undecided/pg-kill-1ms.yaml", quiet.path(), &["--rerun-disturbed", "1"], |line, _| {
        if line.contains("undecided") && line.contains("running it again") {
            hog.take();
        }
    });
    drop(hog);
    let runs = every_run(quiet.path());
    assert_eq!(runs.len(), 2, "{log}");
    assert_eq!((runs[0]["verdict"].as_str(), runs[1]["verdict"].as_str()), (Some("undecided"), Some("fail")), "{log}");
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("attempt 2 of 2 counted; attempt 1 undecided"), "{log}");
}
