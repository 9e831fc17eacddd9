//! Input a hostile user gives, beyond the scenario file itself (issue 47): rules files
//! Prometheus would refuse at load time are refused before anything starts, at their
//! line:col in Prometheus' words (tests/alerts.rs asks promtool the same of every fixture);
//! a file given as rules never comes back in an error or an evidence file; and a number no
//! key can hold is told by the key's own range.
use crate::common;
use common::*;
use std::path::Path;

/// A one-stack scenario in `dir` whose monitoring reads `rules`.
fn scenario_with_rules(dir: &Path, rules: &Path) -> std::path::PathBuf {
    let path = dir.join("s.yaml");
    let text = format!("name: t\nstack:\n  kind: postgres\nmonitoring:\n  rules: ['{}']\ntargets:\n  rto_ms: 1000\n", rules.display());
    std::fs::write(&path, text).unwrap();
    path
}

fn validate(path: &Path) -> (i32, String) {
    let out = drdrill(&["validate", path.to_str().unwrap()]);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

/// Each fixture, where it is refused and what is said there.
const REFUSED: &[(&str, &str, &str)] = &[
    ("unknown-function", "6:9", "could not parse expression: unknown function with name 'absentt'"),
    ("incomplete", "6:9", "could not parse expression: invalid promql query"),
    ("empty-expr", "6:9", "could not parse expression: the expression is empty"),
    ("bad-regex", "6:9", "could not parse expression: illegal regex"),
    ("wrong-type", "6:9", "expected type matrix in call to function 'rate', got vector"),
    ("alert-and-record", "6:9", "only one of 'record' and 'alert' must be set"),
    ("for-huge-hours", "7:9", "for: duration out of range"),
    ("for-3000y", "7:9", "for: duration out of range"),
    ("for-unordered", "7:9", "for: not a valid duration string: \"5m1h\""),
    ("unknown-key", "7:9", "unknown field `fro`"),
    ("record-with-for", "7:9", "invalid field 'for' in recording rule"),
    ("group-twice", "7:5", "groupname: \"drill\": repeated in the same file"),
];

#[test]
fn rules_prometheus_refuses_are_refused_at_their_line_and_column_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = root().join("tests/fixtures/hostile-rules");
    let listed: Vec<String> =
        std::fs::read_dir(&fixtures).unwrap().flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    assert_eq!(listed.len(), REFUSED.len(), "every fixture has its expected message here: {listed:?}");
    for (name, at, says) in REFUSED {
        let rules = fixtures.join(format!("{name}.rules.yml"));
        let (code, out) = validate(&scenario_with_rules(dir.path(), &rules));
        assert_eq!(code, 2, "{name} was not refused:\n{out}");
        let first = out.lines().next().unwrap_or_default();
        assert!(first.contains(&format!("{name}.rules.yml:{at}: ")) && first.contains(says), "{name}: expected {at}: {says}, got\n{out}");
    }
    let valid = root().join("tests/fixtures/valid-rules/for-zero.rules.yml");
    let (code, out) = validate(&scenario_with_rules(dir.path(), &valid));
    assert_eq!(code, 0, "for: 0 is a Prometheus duration:\n{out}");
}

#[test]
fn a_file_given_as_rules_never_reaches_an_error_or_the_evidence() {
    const SECRET: &str = "drdrill-test-secret-8f14e45fceea167a5a36dedd4bea2543";
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("credentials", format!("[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = {SECRET}\n")),
        ("notes.txt", format!("harmless first line\nsecond line\ntoken={SECRET}\n")),
        ("env", format!("A=1\nB: [unclosed\nSECRET={SECRET}\n")),
        ("big.txt", format!("{}\n{SECRET}\n", "x".repeat(5 << 20))),
    ];
    for (name, text) in files {
        let rules = dir.path().join(name);
        std::fs::write(&rules, text).unwrap();
        let scenario = scenario_with_rules(dir.path(), &rules);
        let (code, out) = validate(&scenario);
        assert_eq!(code, 2, "{name} accepted as rules:\n{out}");
        assert!(!out.contains(SECRET), "{name}: the secret is in the error:\n{out}");
        assert!(out.len() < 2_000, "{name}: a {} byte error", out.len());
        assert!(out.lines().all(|l| l.chars().count() <= 520), "{name}: a line longer than an error prints:\n{out}");
        let reports = dir.path().join(format!("reports-{name}"));
        let out = drdrill(&["run", scenario.to_str().unwrap(), "--reports", reports.to_str().unwrap()]);
        let printed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {printed}");
        assert!(!printed.contains(SECRET), "{name}: the secret is in run's output:\n{printed}");
        for f in walk(&reports) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains(SECRET), "{name}: the secret is in {}", f.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

/// `value` at `path` (`faults[].at_ms`, `services.<name>.stack.cluster.masters`) of a
/// scenario otherwise as small as one can be.
fn scenario_setting(path: &str, value: &str) -> String {
    let services = path.starts_with("services.");
    let mut doc: serde_json::Value = if services {
        serde_json::json!({"name": "t", "services": {"a": {"stack": {"kind": "postgres"}, "targets": {"rto_ms": 1000}}}})
    } else {
        serde_json::json!({"name": "t", "stack": {"kind": "postgres"}, "targets": {"rto_ms": 1000}})
    };
    let mut at = &mut doc;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let (key, list) = match seg.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*seg, false),
        };
        let key = if key == "<name>" { "a" } else { key };
        let slot = at.as_object_mut().unwrap().entry(key).or_insert(serde_json::json!({}));
        if last {
            *slot = serde_json::json!("VALUE");
            break;
        }
        if list {
            *slot = serde_json::json!([{}]);
            at = &mut slot[0];
        } else {
            if !slot.is_object() {
                *slot = serde_json::json!({});
            }
            at = slot;
        }
    }
    serde_norway::to_string(&doc).unwrap().replace("VALUE", value)
}

#[test]
fn every_integer_key_refuses_a_negative_and_a_huge_value_in_its_own_range() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = drdrill::scenario::keys::key_rows().into_iter().filter(|r| r.kind == "integer").collect();
    assert!(rows.len() > 50, "{} integer keys", rows.len());
    let mut wrong = Vec::new();
    for row in &rows {
        let key = row.path.rsplit('.').next().unwrap().trim_end_matches("[]");
        // a value the key's documented range holds (`offset_ms: -5`) is no bad value
        let holds = |v: f64| {
            row.range
                .split_once(" to ")
                .is_some_and(|(lo, hi)| lo.parse::<f64>().is_ok_and(|lo| lo <= v) && hi.parse::<f64>().is_ok_and(|hi| v <= hi))
        };
        for value in ["-5", "1000000000000000000000000000000"].into_iter().filter(|v| !holds(v.parse().unwrap())) {
            let path = dir.path().join("n.yaml");
            std::fs::write(&path, scenario_setting(&row.path, value)).unwrap();
            let err = match drdrill::scenario::load(&path) {
                Ok(_) => format!("accepted {value}"),
                Err(e) => e.to_string(),
            };
            // the bound the table gives, or the type's: both say "between" / "at least" / "above"
            let says = |e: &str| {
                e.contains(&format!("{key} must be ")) && (e.contains("between ") || e.contains("at least ") || e.contains("above "))
            };
            let range_named =
                row.range.is_empty() || row.range.split([' ', ',']).filter(|w| w.parse::<f64>().is_ok()).all(|n| err.contains(n));
            if !says(&err) || !range_named {
                wrong.push(format!("{} = {value}: {}", row.path, err.lines().next().unwrap_or_default()));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {} keys not told by their range:\n{}", wrong.len(), rows.len(), wrong.join("\n"));
}

/// The hostile corpus' cases of issue 47, each with what it must say (the corpus test
/// checks only that each is refused with a location).
#[test]
fn numbers_and_paths_are_refused_in_the_users_words() {
    let says = [
        ("cluster-masters-10000", "cluster-masters-10000.yaml:6:14: masters must be between 3 and 9, found 10000"),
        ("keys-trillion", "keys-trillion.yaml:6:9: keys must be between 1 and 1000000, found 1000000000000"),
        ("group-wait-negative", "group-wait-negative.yaml:7:18: group_wait_ms must be between 0 and 3600000, found -5000"),
        ("galera-one-node-fault", "galera-one-node-fault.yaml:5:3: nodes must be between 2 and 9, found 1"),
        ("rules-folder", "rules-folder.yaml:6:3: `../alerts` is a folder"),
    ];
    for (name, expected) in says {
        let (code, out) = validate(&root().join(format!("tests/fixtures/hostile/{name}.yaml")));
        assert_eq!(code, 2, "{out}");
        assert!(out.lines().next().unwrap_or_default().contains(expected), "{name}: expected {expected}, got\n{out}");
    }
}
