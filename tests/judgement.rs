//! One place decides: the checker. report/ and suite/ format what it returned; they read
//! no history and name none of the checker's internals, and report/ asks the checker for
//! no verdict. Nothing anywhere compares a target by its name (`checker::Target`).
use std::path::{Path, PathBuf};

/// Every `.rs` file under `p`, unit-test files and modules left out.
fn production(p: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(production(&path));
        } else if path.extension().is_some_and(|x| x == "rs") && !path.to_string_lossy().ends_with("tests.rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default().to_string();
            out.push((path, code));
        }
    }
    out
}

/// Reading the history, or the checker's inner workings: only the checker does.
const NOT_IN_FORMATTERS: [&str; 9] =
    ["read_history", "read_acks", "history::reader", "history::Op", "Outcome::", "Analysis", "Checker", "Answering", "AckRuns"];
/// The checker's judging entries: the runner calls them, a reporter never does.
const NOT_IN_REPORTERS: [&str; 4] = ["judge_", "answer_questions", "false_pages(", "compare_with_baseline"];

/// Each line of `files` naming one of `names`, outside comments.
fn naming(files: &[(PathBuf, String)], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, code) in files {
        for (i, line) in code.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
            let word = |n: &str| line.match_indices(n).any(|(at, _)| !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            for n in names.iter().filter(|n| word(n)) {
                out.push(format!("{}:{}: {n}", path.display(), i + 1));
            }
        }
    }
    out
}

/// Lines comparing a target with a string, or taking its name apart.
fn targets_by_name(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, code) in files {
        for (i, line) in code.lines().enumerate() {
            let by_name = [".target == \"", ".target != \"", ".target.as_str()", ".target.split(", ".target.starts_with("];
            if by_name.iter().any(|p| line.contains(p)) {
                out.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn report_and_suite_read_no_history_and_decide_nothing() {
    let report = production(&src().join("report"));
    let suite = production(&src().join("suite"));
    assert!(report.len() > 20 && suite.len() > 5, "read the folders");
    let both: Vec<(PathBuf, String)> = report.iter().chain(&suite).cloned().collect();
    assert_eq!(naming(&both, &NOT_IN_FORMATTERS), Vec::<String>::new(), "report/ or suite/ reaches past what the checker returned");
    assert_eq!(naming(&report, &NOT_IN_REPORTERS), Vec::<String>::new(), "a reporter asks for a verdict the checker should have given");
}

#[test]
fn no_target_is_compared_by_its_name() {
    let all = production(&src());
    assert_eq!(targets_by_name(&all), Vec::<String>::new());
}

#[test]
fn a_planted_reporter_that_reads_the_history_or_a_target_by_name_is_found() {
    let planted = vec![(
        PathBuf::from("src/report/planted.rs"),
        "use crate::history::read_history;\n// read_acks in a comment is no use\nlet x = crate::checker::judge_reads(&h);\nif t.target == \"rto_ms\" {}\nlet o = AlertOutcome::Dead;\n"
            .to_string(),
    )];
    assert_eq!(naming(&planted, &NOT_IN_FORMATTERS), ["src/report/planted.rs:1: read_history"]);
    assert_eq!(naming(&planted, &NOT_IN_REPORTERS), ["src/report/planted.rs:3: judge_"]);
    assert_eq!(targets_by_name(&planted), ["src/report/planted.rs:4: if t.target == \"rto_ms\" {}"]);
}
