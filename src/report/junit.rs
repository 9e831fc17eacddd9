//! junit.xml: one test case per target, for CI gates. A missed target is a <failure>;
//! a target that could not be decided is an <error>.
use super::Results;
use crate::checker::Verdict;
use std::fmt::Write;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn fmt(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_else(|| "unknown".into())
}

pub fn junit_xml(r: &Results) -> String {
    junit_wrap(&junit_suites(r, &r.scenario))
}

/// One `<testsuite>` per service (`NAME/SERVICE` in a drill of several, each with the
/// checks of the comparison that concern it).
pub fn junit_suites(r: &Results, name: &str) -> Vec<String> {
    if !r.several() {
        return vec![junit_suite(r, name)];
    }
    r.services.keys().filter_map(|s| Some(junit_suite(&r.service_view(s)?, &format!("{name}/{s}")))).collect()
}

/// A whole junit.xml around `<testsuite>` blocks; the totals are summed from them.
pub fn junit_wrap(suites: &[String]) -> String {
    let count = |attr: &str| -> usize {
        let key = format!(" {attr}=\"");
        suites.iter().filter_map(|s| s.lines().next()).filter_map(|l| l.split(&key).nth(1)?.split('"').next()?.parse::<usize>().ok()).sum()
    };
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"drdrill\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        count("tests"),
        count("failures"),
        count("errors")
    );
    for s in suites {
        x.push_str(s);
    }
    x.push_str("</testsuites>\n");
    x
}

/// The test cases' class: the scenario, or `scenario/service` for one of several.
fn class(r: &Results, name: &str) -> String {
    match name.strip_prefix(&r.scenario).and_then(|rest| rest.strip_prefix('/')) {
        Some(service) => format!("{}/{service}", r.scenario),
        None => r.scenario.clone(),
    }
}

/// One drill's (or service's) `<testsuite>`: a test case per target.
pub fn junit_suite(r: &Results, name: &str) -> String {
    [suite_tag(r, name), properties(r), target_cases(r, name), baseline_cases(r, name), "  </testsuite>\n".to_string()].concat()
}

/// The opening `<testsuite>` tag: a test per target and per baseline check; missed targets
/// and regressions are failures, undecided targets errors.
fn suite_tag(r: &Results, name: &str) -> String {
    let checks = r.comparison.as_ref().map(|c| c.checks.len()).unwrap_or(0);
    let regressions = r.comparison.as_ref().map(|c| c.regressions().count()).unwrap_or(0);
    let failures = r.targets.iter().filter(|t| t.verdict == Verdict::Fail).count() + regressions;
    let errors = r.targets.iter().filter(|t| t.verdict == Verdict::Unknown).count();
    format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" timestamp=\"{}\">\n",
        esc(name),
        r.targets.len() + checks,
        esc(&r.started_at)
    )
}

/// `<properties>`: the run id, the headline figures, and each phase's latency figures.
fn properties(r: &Results) -> String {
    let mut x = String::new();
    let _ = writeln!(x, "    <properties>");
    for (k, v) in [
        ("run_id", r.run_id.clone()),
        ("rto_ms", fmt(r.rto_ms)),
        ("rpo_ms", fmt(r.rpo_ms)),
        ("lost_writes", fmt(r.lost_writes.map(|v| v as f64))),
        ("acked_writes", r.acked_writes.to_string()),
    ] {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", esc(&v));
    }
    for l in &r.latency {
        for (k, v) in [
            ("ok_ops", l.ok_ops.to_string()),
            ("p50_ms", fmt(l.p50_ms)),
            ("p95_ms", fmt(l.p95_ms)),
            ("p99_ms", fmt(l.p99_ms)),
            ("max_ms", fmt(l.max_ms)),
        ] {
            let _ = writeln!(x, "      <property name=\"latency_{}_{k}\" value=\"{}\"/>", l.phase, esc(&v));
        }
    }
    let _ = writeln!(x, "    </properties>");
    x
}

/// A `<testcase>` per target: a missed one holds a `<failure>`, an undecided one an `<error>`.
fn target_cases(r: &Results, name: &str) -> String {
    let mut x = String::new();
    for t in &r.targets {
        let _ = write!(x, "    <testcase classname=\"{}\" name=\"{}\"", esc(&class(r, name)), esc(&t.target.name()));
        let what = format!("limit {}, actual {}. {}", fmt(t.limit), fmt(t.actual), t.note);
        match t.verdict {
            Verdict::Pass => x.push_str("/>\n"),
            Verdict::Fail => {
                let _ = writeln!(x, ">\n      <failure message=\"{}\"/>\n    </testcase>", esc(&what));
            }
            Verdict::Unknown | Verdict::Undecided => {
                let _ = writeln!(x, ">\n      <error message=\"could not decide: {}\"/>\n    </testcase>", esc(&what));
            }
        }
    }
    x
}

/// `--baseline`: a `<testcase>` per quantity compared; a regression holds a `<failure>`.
fn baseline_cases(r: &Results, name: &str) -> String {
    let Some(c) = &r.comparison else { return String::new() };
    let mut x = String::new();
    for k in &c.checks {
        let _ = write!(x, "    <testcase classname=\"{}\" name=\"vs baseline: {}\"", esc(&class(r, name)), esc(&k.quantity));
        if k.regression {
            let what =
                format!("regression: baseline {}, tolerance {}, now {}. {}", fmt(k.baseline), fmt(k.tolerance), fmt(k.actual), k.note);
            let _ = writeln!(x, ">\n      <failure message=\"{}\"/>\n    </testcase>", esc(&what));
        } else {
            x.push_str("/>\n");
        }
    }
    x
}
