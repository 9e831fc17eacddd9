//! A hostile tester's corpus and random mutations of the shipped scenarios: `validate`
//! never panics, answers 0 or 2 (with `file:line:col` when it refuses), and answers each
//! file in well under a second (a guard against hangs, not a speed benchmark). `run` with
//! an unusable `--reports` is a usage error found before anything starts.
use crate::common;
use common::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Validates one file through the binary: (exit code, stderr, time taken).
fn validate(path: &Path) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = drdrill(&["validate", path.to_str().unwrap()]);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string(), started.elapsed())
}

fn assert_refused(path: &Path) {
    let (code, err, took) = validate(path);
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(code, 2, "{name} was not refused:\n{err}");
    let located = err.lines().next().is_some_and(|l| {
        let rest = l.split(&name).nth(1).unwrap_or("");
        let mut parts = rest.trim_start_matches(':').split(':');
        parts.next().is_some_and(|x| x.parse::<usize>().is_ok()) && parts.next().is_some_and(|x| x.parse::<usize>().is_ok())
    });
    assert!(located, "{name}: no file:line:col in\n{err}");
    assert!(took < Duration::from_secs(1), "{name} took {took:?} to refuse");
}

#[test]
fn every_file_of_the_hostile_corpus_is_refused_with_a_location_at_once() {
    let dir = root().join("tests/fixtures/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus shrank");
    // the ones too large or too binary to keep as files
    let made_dir = tempfile::tempdir().unwrap();
    let head = "name: t\nstack:\n  kind: postgres\ntargets:\n  rto_ms: 1000\n";
    let made: [(&str, Vec<u8>); 5] = [
        ("deep-brackets.yaml", format!("{head}x: {}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
        ("deep-braces.yaml", format!("{head}x: {}", "{a: ".repeat(60_000)).into_bytes()),
        ("deep-blocks.yaml", (0..2000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect::<String>().into_bytes()),
        ("not-utf8.yaml", b"name: t\nstack:\n  kind: post\xc3\x28gres\n".to_vec()),
        ("too-big.yaml", format!("{head}description: \"{}\"\n", "x".repeat(2 << 20)).into_bytes()),
    ];
    for (name, bytes) in made {
        let p = made_dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    for f in &files {
        assert_refused(f);
    }
}

#[test]
fn an_unusable_reports_folder_is_a_usage_error_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for reports in [file.clone(), file.join("below-a-file")] {
        let started = Instant::now();
        let out = drdrill(&["run", "scenarios/calibration-outage.yaml", "--reports", reports.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--reports"), "{err}");
        // refused before the engine was even asked
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    }
}

/// One random edit of a scenario's text.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the value after the n-th `:` with this.
    Value(usize, String),
    /// Replace the key before the n-th `:`.
    Key(usize, String),
    DeleteLine(usize),
    DuplicateLine(usize),
    Indent(usize, usize),
    /// Insert raw bytes at a position (per mille of the length).
    Bytes(usize, Vec<u8>),
}

/// The project's own rule for timing bounds (tests/common: `held_on_a_quiet_run`), on
/// made-up runs: a bound missed on a quiet run fails at once; missed on a disturbed run, the
/// drill runs again and the quiet attempt decides; every attempt disturbed fails.
#[test]
fn a_test_bound_is_held_only_on_a_quiet_run_and_never_retried_away() {
    use serde_json::json;
    let quiet = json!({"harness": {"host": {"saturated": [], "disk": {"stalled": []}}, "slip": {"over": []}}});
    let busy = json!({"harness": {"host": {"saturated": [{"from_ms": 1000.0, "to_ms": 4000.0, "busy": 0.99}]}}});
    assert_eq!(disturbed(&quiet), None);
    assert_eq!(disturbed(&busy).as_deref(), Some("host saturated t=1.0–4.0 s"));
    let drill = |r: &serde_json::Value, rto: f64| {
        let mut results = r.clone();
        results["rto_ms"] = json!(rto);
        Drill { code: 0, stdout: String::new(), stderr: String::new(), dir: PathBuf::new(), results }
    };
    let bound = |d: &Drill| assert!(d.results["rto_ms"].as_f64().unwrap() < 100.0, "RTO over its bound");
    // whether the rule held over made-up runs (the last one repeated), and how many it made
    let attempts = |runs: &[Drill]| {
        let n = std::cell::Cell::new(0);
        let next = || {
            n.set(n.get() + 1);
            clone_drill(&runs[(n.get() - 1).min(runs.len() - 1)])
        };
        let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| held_on_a_quiet_run("made-up", next, bound, said))).is_ok();
        (held, n.get())
    };
    // missed on a quiet run: one attempt, a failure
    assert_eq!(attempts(&[drill(&quiet, 500.0)]), (false, 1));
    // missed on a disturbed run, held on the quiet one after it
    assert_eq!(attempts(&[drill(&busy, 500.0), drill(&quiet, 50.0)]), (true, 2));
    // disturbed every time: a failure after ATTEMPTS
    assert_eq!(attempts(&[drill(&busy, 500.0)]), (false, ATTEMPTS as usize));
}

fn said(line: &str) {
    eprintln!("{line}");
}

fn clone_drill(d: &Drill) -> Drill {
    Drill { code: d.code, stdout: d.stdout.clone(), stderr: d.stderr.clone(), dir: d.dir.clone(), results: d.results.clone() }
}

/// `--rerun-disturbed` takes 1 to 5: 0, a negative, a huge number, a word and `--dry-run`
/// are refused before anything starts, each naming the allowed range.
#[test]
fn rerun_disturbed_out_of_range_or_on_a_dry_run_is_refused_with_the_range() {
    let scenario = "scenarios/postgres-async-primary-kill.yaml";
    for n in ["0", "-1", "6", "99999999999999999999999999999999999999", "two", ""] {
        let out = drdrill(&["run", scenario, "--rerun-disturbed", n, "--reports", "/nonexistent/never"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--rerun-disturbed {n:?}: {err}");
        assert!(err.contains("1..=5") || err.contains("from 1 to 5"), "--rerun-disturbed {n:?}: no range in {err}");
    }
    let out = drdrill(&["run", scenario, "--rerun-disturbed", "2", "--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--dry-run") && err.contains("1 to 5"), "{err}");
}

fn edit() -> impl Strategy<Value = Edit> {
    let values = prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("18446744073709551615".into()),
        Just("99999999999999999999999".into()),
        Just("1e309".into()),
        Just(".nan".into()),
        Just("-.inf".into()),
        Just("0.5".into()),
        Just("\"\"".into()),
        Just("~".into()),
        Just("[]".into()),
        Just("{}".into()),
        Just("!evil 4".into()),
        Just("*nope".into()),
        Just("&a x".into()),
        Just("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".into()),
        Just("primary".into()),
        Just("replica-99".into()),
        "[a-z0-9 _-]{0,80}",
        any::<u64>().prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        (0..60usize, values).prop_map(|(n, v)| Edit::Value(n, v)),
        (0..60usize, "[a-z_]{1,20}").prop_map(|(n, k)| Edit::Key(n, k)),
        (0..80usize).prop_map(Edit::DeleteLine),
        (0..80usize).prop_map(Edit::DuplicateLine),
        (0..80usize, 0..9usize).prop_map(|(n, i)| Edit::Indent(n, i)),
        (0..1000usize, proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Edit::Bytes(at, b)),
    ]
}

fn apply(src: &str, e: &Edit) -> Vec<u8> {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    let colon_lines: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.contains(':') && !l.trim_start().starts_with('#')).map(|(i, _)| i).collect();
    let pick = |n: usize, v: &[usize]| v.get(n % v.len().max(1)).copied();
    match e {
        Edit::Value(n, v) => {
            if let Some(i) = pick(*n, &colon_lines) {
                let key = lines[i].split(':').next().unwrap().to_string();
                lines[i] = format!("{key}: {v}");
            }
        }
        Edit::Key(n, k) => {
            if let Some(i) = pick(*n, &colon_lines) {
                let (key, rest) = lines[i].split_once(':').unwrap();
                let indent = key.len() - key.trim_start().len();
                lines[i] = format!("{}{k}:{rest}", &key[..indent]);
            }
        }
        Edit::DeleteLine(n) if !lines.is_empty() => {
            lines.remove(n % lines.len());
        }
        Edit::DuplicateLine(n) if !lines.is_empty() => {
            let l = lines[n % lines.len()].clone();
            lines.insert(n % lines.len(), l);
        }
        Edit::Indent(n, by) if !lines.is_empty() => {
            let i = n % lines.len();
            lines[i] = format!("{}{}", " ".repeat(*by), lines[i].trim_start());
        }
        Edit::Bytes(at, b) => {
            let mut bytes = src.as_bytes().to_vec();
            let pos = bytes.len() * at / 1000;
            bytes.splice(pos..pos, b.iter().copied());
            return bytes;
        }
        _ => {}
    }
    (lines.join("\n") + "\n").into_bytes()
}

fn shipped() -> Vec<(String, String)> {
    // the scenario files (`scenarios/alerts/` holds rules files, not scenarios)
    let mut v: Vec<(String, String)> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn mutated_shipped_scenarios_never_panic_and_answer_0_or_2_at_once(which in 0..64usize, edits in proptest::collection::vec(edit(), 1..4)) {
        let all = shipped();
        let (name, src) = &all[which % all.len()];
        let mut bytes = src.clone().into_bytes();
        for e in &edits {
            bytes = apply(&String::from_utf8_lossy(&bytes), e);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        // through the library: a panic here fails the case
        let started = Instant::now();
        let result = drdrill::scenario::load(&path);
        let took = started.elapsed();
        prop_assert!(took < Duration::from_secs(1), "{name} took {took:?} with {edits:?}");
        if let Err(e) = result {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
            let text = e.to_string();
            let located = text.contains(&format!("{}:", path.display()));
            prop_assert!(located, "no location in {}", text);
        }
    }
}

/// The newest keys' bad input (issue 69's corpus): each file refused at the line of its
/// own error, in words that name the key, never misreported as another key's.
#[test]
fn the_newest_keys_bad_input_is_named_at_its_own_line() {
    let cases = [
        ("services-syntax-error.yaml", ":17:25:", "mapping values are not allowed"),
        ("services-named-twice.yaml", ":34:3:", "the key `pg` twice in one mapping (first at 13:3)"),
        ("services-key-twice.yaml", ":17:7:", "the key `replicas` twice in one mapping (first at 16:7)"),
        ("services-unclosed-brace.yaml", ":16:17:", "services.pg.stack.replicas"),
        ("availability-target-twice.yaml", ":5:33:", "the key `target` twice"),
        ("availability-per-twice.yaml", ":5:44:", "the key `per` twice"),
        (
            "availability-target-nested.yaml",
            ":5:26:",
            "targets.availability.target: expected a percentage such as `99.95%`, found a mapping",
        ),
        ("availability-over-100.yaml", ":5:17:", "`150%` is more than 100%"),
        ("stack-sites-key-twice.yaml", ":37:5:", "the key `dc2` twice"),
        (
            "readers-from-a-site-without-a-database-node-patroni.yaml",
            ":40:3:",
            "site `dc3` holds none of the stack's database nodes (only etcd-3, haproxy)",
        ),
        (
            "readers-from-a-site-without-a-database-node-sentinel.yaml",
            ":33:3:",
            "site `dc3` holds none of the stack's database nodes (only sentinel-3)",
        ),
        ("keepalived-subnet-prefix-32.yaml", ":18:5:", "prefix length must be between 16 and 26, found 32"),
        ("keepalived-subnet-prefix-33.yaml", ":18:5:", "prefix length must be between 16 and 26, found 33"),
        ("keepalived-subnet-prefix-0.yaml", ":18:5:", "prefix length must be between 16 and 26, found 0"),
        ("stale-read-ms-empty.yaml", ":11:", "`stale_read_ms`: expected at least one of p50, p95, p99, max"),
        ("stale-read-ms-negative.yaml", ":11:46:", "p99 must be between 0 and 86400000, found -5"),
        ("rpo-as-a-list.yaml", ":11:30:", "rpo takes one word, one of none; found a list"),
        ("files-sync-as-a-list.yaml", ":15:11:", "sync takes one word, one of rsync, lsyncd; found a list"),
        ("changes-on-postgres.yaml", ":7:3:", "`changes`: rewrites and deletes"),
        ("sites-without-wan.yaml", ":13:1:", "the replicas in dc2 cannot reach the primary in dc1: add a `wan` link"),
    ];
    let dir = root().join("tests/fixtures/hostile");
    let mut wrong = Vec::new();
    for (file, at, words) in cases {
        let (code, err, _) = validate(&dir.join(file));
        let first = err.lines().next().unwrap_or_default();
        if code != 2 || !first.contains(&format!("{file}{at}")) || !first.contains(words) {
            wrong.push(format!("{file}: exit {code}, wanted {at} {words:?}, got {first}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
