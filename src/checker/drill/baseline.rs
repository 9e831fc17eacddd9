//! The regression gate: a run compared with earlier evidence of the same scenario.
//!
//! The rule (docs/campaigns.md, "Regression gate"): with the baseline's samples of a quantity (RTO,
//! RPO, each orchestrator phase) summarised by their median m and spread s = max − min,
//! the new value v regresses when v > m + tolerance, where
//! tolerance = max(20 % of m, 2 × s, 500 ms). A lost write is a regression when the run
//! lost more than any baseline run did (so any loss at all after a lossless baseline), and
//! a target regresses when every baseline run passed it and this run does not.
use super::Results;
use super::comparison::{Check, Comparison};
use crate::checker::Verdict;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const MIN_TOLERANCE_MS: f64 = 500.0;
pub const RELATIVE_TOLERANCE: f64 = 0.20;
pub const SPREAD_FACTOR: f64 = 2.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// A time-like quantity: worse than the baseline's median by more than the tolerance.
fn time_check(quantity: &str, base: &[Option<f64>], actual: Option<f64>) -> Option<Check> {
    let mut v: Vec<f64> = base.iter().flatten().copied().collect();
    if v.is_empty() {
        return actual.map(|_| Check {
            quantity: quantity.into(),
            baseline: None,
            tolerance: None,
            actual,
            regression: false,
            note: "not observed in the baseline".into(),
            undecided: false,
        });
    }
    let spread = v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
    let m = median(&mut v);
    let tol = (RELATIVE_TOLERANCE * m).max(SPREAD_FACTOR * spread).max(MIN_TOLERANCE_MS);
    let (regression, note) = match actual {
        Some(a) if a > m + tol => (true, format!("{:.0} ms worse than the baseline median", a - m)),
        Some(_) => (false, String::new()),
        // never recovered, when the baseline did
        None if quantity == "rto_ms" => (true, "writes never came back; the baseline's did".into()),
        None => (false, "not observed in this run".into()),
    };
    Some(Check { quantity: quantity.into(), baseline: Some(m), tolerance: Some(tol), actual, regression, note, undecided: false })
}

/// `new` against the baseline runs; in a drill of several services each service against
/// the same service of the baseline runs (its checks named `SERVICE: quantity`). A run of
/// one service compares with baseline runs of it, whichever schema they were written in.
pub fn compare(baseline: &[Results], new: &Results) -> Comparison {
    let runs = baseline.iter().map(|b| b.run_id.clone()).collect();
    if !new.several() {
        let base: Vec<&Results> = baseline.iter().map(|b| b.each_service()[0].1).collect();
        let mut checks = compare_one(&base, new);
        super::disturbed::undecided_checks(new, &mut checks);
        return Comparison { baseline_runs: runs, checks };
    }
    let mut checks = Vec::new();
    for (name, sr) in new.each_service() {
        let base: Vec<&Results> =
            baseline.iter().filter_map(|b| b.each_service().into_iter().find(|(n, _)| *n == name).map(|(_, r)| r)).collect();
        for mut c in compare_one(&base, sr) {
            c.quantity = format!("{name}: {}", c.quantity);
            checks.push(c);
        }
    }
    super::disturbed::undecided_checks(new, &mut checks);
    Comparison { baseline_runs: runs, checks }
}

fn compare_one(baseline: &[&Results], new: &Results) -> Vec<Check> {
    let mut checks = Vec::new();
    let phase = |r: &Results, k: &str| {
        let p = r.phases.as_ref()?;
        match k {
            "detection_ms" => p.detection_ms,
            "promotion_ms" => p.promotion_ms,
            _ => p.reroute_ms,
        }
    };
    match &new.no_rto_because {
        // nothing to recover from is not "never recovered"
        Some(why) => checks.push(Check {
            quantity: "rto_ms".into(),
            baseline: None,
            tolerance: None,
            actual: None,
            regression: false,
            note: format!("no RTO in this run: {why}"),
            undecided: false,
        }),
        None => checks.extend(time_check("rto_ms", &baseline.iter().map(|b| b.rto_ms).collect::<Vec<_>>(), new.rto_ms)),
    }
    checks.extend(time_check("rpo_ms", &baseline.iter().map(|b| b.rpo_ms).collect::<Vec<_>>(), new.rpo_ms));
    for k in ["detection_ms", "promotion_ms", "reroute_ms"] {
        checks.extend(time_check(k, &baseline.iter().map(|b| phase(b, k)).collect::<Vec<_>>(), phase(new, k)));
    }
    let most = baseline.iter().filter_map(|b| b.lost_writes).max();
    let (regression, note) = match (most, new.lost_writes) {
        (Some(m), Some(n)) if n > m => (true, format!("{} more acknowledged writes lost than any baseline run", n - m)),
        (_, None) => (false, "lost writes unknown in this run".into()),
        _ => (false, String::new()),
    };
    checks.push(Check {
        quantity: "lost_writes".into(),
        baseline: most.map(|v| v as f64),
        tolerance: Some(0.0),
        actual: new.lost_writes.map(|v| v as f64),
        regression,
        note,
        undecided: false,
    });
    for t in &new.targets {
        let passed_before = baseline.iter().all(|b| b.targets.iter().any(|x| x.target == t.target && x.verdict == Verdict::Pass));
        if passed_before && t.verdict != Verdict::Pass {
            checks.push(Check {
                quantity: format!("target {}", t.target),
                baseline: t.limit,
                tolerance: None,
                actual: t.actual,
                // a target undecided on a disturbed host is not a regression either
                regression: t.verdict != Verdict::Undecided,
                note: format!("passed in every baseline run, now {}", t.verdict),
                undecided: t.verdict == Verdict::Undecided,
            });
        }
    }
    checks
}

/// Baseline runs of `scenario`: `dir` is one evidence folder or a folder of them (searched
/// two levels deep: `reports/` or `reports/<scenario>/`). Interrupted runs are left out.
pub fn load_baseline(dir: &Path, scenario: &str) -> Result<Vec<Results>> {
    let mut found: Vec<(PathBuf, Results)> = Vec::new();
    let mut look = |d: &Path| {
        if let Some(r) = super::results::load_results(d).ok().filter(|r| r.scenario == scenario && !r.interrupted) {
            found.push((d.to_path_buf(), r));
        }
    };
    look(dir);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        look(&e.path());
        for e2 in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
            look(&e2.path());
        }
    }
    if found.is_empty() {
        return Err(Error::usage(format!("no finished run of {scenario} in {} to compare with", dir.display()))
            .hint("give an evidence folder of the same scenario, a folder of them, or `last`"));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|f| f.1).collect())
}

/// `--baseline last`: the newest finished run of `scenario` under `reports`.
pub fn last_run(reports: &Path, scenario: &str) -> Result<Vec<Results>> {
    let all = load_baseline(&reports.join(scenario), scenario)?;
    Ok(all.into_iter().next_back().into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tolerance_covers_the_baseline_spread_and_a_floor() {
        // one baseline run of 1600 ms: tolerance max(320, 0, 500) = 500
        let c = time_check("rto_ms", &[Some(1600.0)], Some(2000.0)).unwrap();
        assert!(!c.regression && c.tolerance == Some(500.0));
        let c = time_check("rto_ms", &[Some(1600.0)], Some(2200.0)).unwrap();
        assert!(c.regression, "{c:?}");
        // a noisy baseline (1100..1700): tolerance 2 × 600 = 1200 around the median 1600
        let c = time_check("rto_ms", &[Some(1100.0), Some(1600.0), Some(1700.0)], Some(2700.0)).unwrap();
        assert!(!c.regression, "{c:?}");
        // a slow orchestrator: 20 % of 28 s
        let c = time_check("detection_ms", &[Some(28_000.0)], Some(34_000.0)).unwrap();
        assert!(c.regression && c.tolerance == Some(5600.0));
        // never recovered, when the baseline did
        assert!(time_check("rto_ms", &[Some(1600.0)], None).unwrap().regression);
        assert!(time_check("rto_ms", &[None], Some(1.0)).is_some_and(|c| !c.regression));
    }
}
