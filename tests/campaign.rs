//! Campaigns and the evidence people read, run for real: a suite of three small drills
//! (one failing on purpose), `--repeat` with its spread, report.html opened in headless
//! Chromium, `drdrill verify` after a changed byte, and the regression gate.
use crate::common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn run_in(reports: &Path, args: &[&str]) -> Output {
    let mut a = vec!["run", "--reports", reports.to_str().unwrap()];
    a.extend_from_slice(args);
    drdrill(&a)
}

fn summary_of(out: &Output) -> (PathBuf, Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout.lines().find_map(|l| l.strip_prefix("summary: ")).unwrap_or_else(|| panic!("no summary in {stdout}"));
    let dir = PathBuf::from(dir);
    let v = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    (dir, v)
}

fn results(evidence: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(Path::new(evidence).join("results.json")).unwrap()).unwrap()
}

#[test]
fn a_suite_runs_every_file_reports_once_and_exits_with_the_worst_code() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    // as two CI jobs would: each a slice of the files, with evidence folders of its own,
    // then one summary of both
    let mut taken = Vec::new();
    for k in ["1/2", "2/2"] {
        let out = run_in(&tmp.path().join(k.replace('/', "-of-")), &["--partition", k, "tests/fixtures/suite"]);
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.lines().find(|l| l.starts_with(&format!("slice {k}: "))).unwrap_or_else(|| panic!("{err}"));
        taken.extend(line.split(": ").nth(2).unwrap_or_default().split(", ").filter(|f| !f.is_empty()).map(str::to_string));
        summary_of(&out); // every slice writes its summary, even of one drill or none
    }
    taken.sort();
    assert_eq!(taken, ["a-single-pass.yaml", "b-single-fail.yaml", "c-single-pass.yaml"].map(|f| format!("tests/fixtures/suite/{f}")));
    let merged = tmp.path().join("merged");
    let out = drdrill(&[
        "summary",
        tmp.path().join("1-of-2").to_str().unwrap(),
        tmp.path().join("2-of-2").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let (dir, s) = summary_of(&out);
    assert_eq!(dir, merged);
    let runs = s["runs"].as_array().unwrap();
    let status: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["pass", "fail", "pass"], "{s}");
    assert_eq!(s["exit_code"], 1);
    for r in runs {
        let ev = r["evidence"].as_str().unwrap();
        assert_eq!(results(ev)["verdict"], r["status"]);
        assert!(Path::new(ev).join("report.html").exists() && Path::new(ev).join("manifest.json").exists());
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
    let html = std::fs::read_to_string(dir.join("summary.html")).unwrap();
    assert_eq!(html.matches("report.html").count(), 3, "a link per drill");
    assert!(!html.contains("http://") && !html.contains("https://"), "summary.html must not fetch anything");
    for r in runs {
        // only this suite's drills: resources a crashed drill of someone else left are not ours to judge
        let (c, n) = labelled(Some(&run_id(&results(r["evidence"].as_str().unwrap()))));
        assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    }

    // --fail-fast: the third drill is not run
    let out = run_in(tmp.path(), &["--fail-fast", "tests/fixtures/suite"]);
    assert_eq!(out.status.code(), Some(1));
    let (_, s) = summary_of(&out);
    let status: Vec<&str> = s["runs"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["pass", "fail", "not run"], "{s}");
}

#[test]
fn an_invalid_file_stops_the_suite_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["tests/fixtures/suite", "tests/fixtures/bad-unknown-key.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad-unknown-key.yaml:") && err.contains("nothing was started"), "{err}");
    assert!(!tmp.path().join("suite-a-pass").exists(), "a drill started");
}

/// Runs the gate scenario with `--repeat 3`: the spread matches the three results.json.
#[test]
fn repeats_report_the_spread_and_judge_targets_on_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["--repeat", "3", "tests/fixtures/gate/redis-kill.yaml"]);
    let (_, s) = summary_of(&out);
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let mut rto: Vec<f64> = runs.iter().map(|r| results(r["evidence"].as_str().unwrap())["rto_ms"].as_f64().unwrap()).collect();
    rto.sort_by(f64::total_cmp);
    let st = &s["scenarios"][0]["rto_ms"];
    assert_eq!(st["n"], 3);
    assert_eq!((st["min"].as_f64().unwrap(), st["median"].as_f64().unwrap(), st["max"].as_f64().unwrap()), (rto[0], rto[1], rto[2]));
    assert_eq!(st["p95"].as_f64().unwrap(), rto[2], "nearest rank of 3 samples is the largest");
    let lost = &s["scenarios"][0]["lost_writes"];
    assert_eq!(lost["n"], 3);
    // rto_ms: {p95: 20000, max: 30000} judged on the spread
    let t = s["scenarios"][0]["targets"].as_array().unwrap();
    let p95 = t.iter().find(|t| t["statistic"] == "p95").unwrap();
    assert_eq!(p95["actual"].as_f64().unwrap(), rto[2]);
    assert_eq!(p95["verdict"], "pass");
    assert_eq!(out.status.code(), Some(s["exit_code"].as_i64().unwrap() as i32));
}

#[test]
fn report_html_opens_in_chromium_with_its_timeline_and_verify_catches_a_changed_byte() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["tests/fixtures/gate/redis-kill.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let dir = PathBuf::from(stdout.lines().find_map(|l| l.strip_prefix("evidence: ")).unwrap());
    let r = results(dir.to_str().unwrap());
    // the page in a real browser: rendered, screenshot taken, no console errors
    let dom = report_in_chromium(&dir);
    assert!(dom.contains("<svg"), "no SVG in the rendered page");
    // one marker per fault event (dark red), the RTO window shaded (light red)
    let faults = events(&r).iter().filter(|e| e["kind"] == "fault-inject").count();
    assert_eq!(dom.matches("stroke=\"#940000\"").count(), faults, "one fault marker per fault event");
    let steps = events(&r).iter().filter(|e| e["kind"].as_str().unwrap().starts_with("failover-")).count();
    assert!(steps >= 2 && dom.matches("stroke=\"#5A28A0\"").count() >= 2, "failover steps must be marked");
    assert!(dom.contains("fill=\"#FFAAAA\""), "the RTO window is not shaded");
    assert_rto_window_where_results_say(&std::fs::read_to_string(dir.join("timeline.svg")).unwrap(), &r);
    let rto = r["rto_ms"].as_f64().unwrap();
    let shown = if rto.fract() == 0.0 { format!("{rto:.0}") } else { format!("{rto:.1}") };
    assert!(dom.contains(&format!("{shown} ms (from")), "the page states the RTO ({shown})");
    let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
    assert!(std::fs::read_to_string(dir.join("report.md")).unwrap().contains("](timeline.svg)") && svg.starts_with("<svg"));

    // the evidence verifies, then fails after one byte of history.jsonl.zst changes
    assert!(drdrill(&["verify", dir.to_str().unwrap()]).status.success());
    let h = dir.join(drdrill::history::FILE);
    let mut bytes = std::fs::read(&h).unwrap();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&h, bytes).unwrap();
    let o = drdrill(&["verify", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("history.jsonl.zst was changed"));
    // and re-rendering refuses to paper over it
    assert_eq!(drdrill(&["report", dir.to_str().unwrap()]).status.code(), Some(2));
}

#[test]
fn the_gate_flags_a_slower_failover_and_passes_an_unchanged_one() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let first = run_in(tmp.path(), &["tests/fixtures/gate/redis-kill.yaml"]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stdout));
    let base = String::from_utf8_lossy(&first.stdout).lines().find_map(|l| l.strip_prefix("evidence: ")).unwrap().to_string();
    // the same scenario again: no regression (a run the host disturbed is run again, as a
    // CI gate would: a slower RTO on it is undecided, exit 7, not a regression)
    let same = run_in(tmp.path(), &["--rerun-disturbed", "2", "--baseline", &base, "tests/fixtures/gate/redis-kill.yaml"]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stdout));
    // 12 failed probes instead of 3 (+2.7 s): flagged, with its own exit code
    let slow = run_in(tmp.path(), &["--rerun-disturbed", "2", "--baseline", &base, "tests/fixtures/gate/redis-kill-slower.yaml"]);
    let text = String::from_utf8_lossy(&slow.stdout).to_string();
    assert_eq!(slow.status.code(), Some(5), "{text}\n{}", String::from_utf8_lossy(&slow.stderr));
    assert!(text.contains("REGRESSION rto_ms"), "{text}");
    // the attempt that counted is the last one
    let dir = text.lines().rev().find_map(|l| l.strip_prefix("evidence: ")).unwrap();
    let junit = std::fs::read_to_string(Path::new(dir).join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"vs baseline: rto_ms\">") && junit.contains("regression:"), "{junit}");
    // drdrill compare says the same afterwards
    assert_eq!(drdrill(&["compare", &base, dir]).status.code(), Some(5));
    // and the trend shows the three runs
    let t = drdrill(&["trend", "gate-redis-kill", "--reports", tmp.path().to_str().unwrap()]);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let html = std::fs::read_to_string(tmp.path().join("trend.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "RTO, RPO and lost writes charts");
    // three runs, more when an attempt was disturbed and run again
    let said = String::from_utf8_lossy(&t.stdout).to_string();
    let runs: usize = said.split("gate-redis-kill (").nth(1).and_then(|x| x.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(runs >= 3, "{said}");
}

/// The x pixel of each marker line of `colour`, in drawing order.
fn marker_xs(svg: &str, colour: &str) -> Vec<f64> {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p.contains(&format!("stroke=\"{colour}\"")))
        .map(|p| {
            let pts = p.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
            pts.split_whitespace().next().unwrap().split(',').next().unwrap().parse().unwrap()
        })
        .collect()
}

/// The shaded RTO rectangle spans the drill times results.json gives (rto_from_ms to
/// recovered_at_ms), on the time axis fixed by two markers of known time.
fn assert_rto_window_where_results_say(svg: &str, r: &Value) {
    let ev = events(r);
    let t_of = |kind: &str| ev.iter().find(|e| e["kind"] == kind).unwrap()["t_ns"].as_f64().unwrap() / 1e6;
    let (t1, t2) = (t_of("fault-inject"), t_of("failover-done"));
    let x1 = marker_xs(svg, "#940000")[0];
    let steps = ["failover-start", "failover-promote", "failover-done", "failover-failed", "rejoin"];
    let i = ev.iter().filter(|e| steps.contains(&e["kind"].as_str().unwrap())).position(|e| e["kind"] == "failover-done").unwrap();
    let x2 = marker_xs(svg, "#5A28A0")[i];
    let px = |t: f64| x1 + (t - t1) * (x2 - x1) / (t2 - t1);
    let rect = svg.split("<rect").skip(1).find(|p| p.contains("fill=\"#FFAAAA\"")).expect("no RTO rectangle");
    let attr = |k: &str| -> f64 { rect.split(&format!(" {k}=\"")).nth(1).unwrap().split('"').next().unwrap().parse().unwrap() };
    let (left, right) = (attr("x"), attr("x") + attr("width"));
    let (from, to) = (r["rto_from_ms"].as_f64().unwrap(), r["recovered_at_ms"].as_f64().unwrap());
    assert!((left - px(from)).abs() <= 2.0, "RTO window starts at x={left}, results.json says {from} ms -> x={}", px(from));
    assert!((right - px(to)).abs() <= 2.0, "RTO window ends at x={right}, results.json says {to} ms -> x={}", px(to));
}
