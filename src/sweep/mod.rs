//! `drdrill run` on a sweep file: every drill of the sweep (each value with each failure
//! and each blip, `repeat` times) run as a suite, with its progress and the time left, then
//! judged as one (checker::judge_sweep) into the curve and the answer in one line: on the
//! terminal and in `<reports>/sweeps/<stamp>/`: sweep.json, sweep.html and junit.xml
//! (docs/sweeps.md).
mod page;

use crate::checker::{SweepReport, TrialRun, Verdict, judge_sweep};
use crate::error::{Error, Result, exit};
use crate::scenario::{Loaded, Role, Sweep, SweepPlan};

/// A drill's point, what it is for and its index among the failures or blips.
type Place = (usize, Role, usize);
use crate::suite::{self, SuiteOptions};
use std::collections::BTreeMap;
use std::path::Path;

pub use page::{junit, page, table};

/// What sweep.json holds: the judged sweep and every drill's evidence.
#[derive(serde::Serialize)]
struct SweepFile<'a> {
    scenario: &'a str,
    started_at: String,
    duration_s: f64,
    #[serde(flatten)]
    report: &'a SweepReport,
    /// Every drill run: its point, what it was for, its run and its evidence folder.
    drills: Vec<DrillRow>,
}

#[derive(serde::Serialize)]
struct DrillRow {
    scenario: String,
    values: Vec<String>,
    role: Role,
    fault: String,
    run: u32,
    status: String,
    evidence: Option<String>,
    /// With `--rerun-disturbed`, when it ran more than once: the attempt counted, and why
    /// each earlier one was not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<String>,
}

/// Runs every drill of `sweep`, judges them, writes and prints the answer; the exit code is
/// the sweep's (a signal's when one stopped it).
pub async fn run_sweep(sweep: Sweep, mut opts: SuiteOptions) -> Result<i32> {
    let p = &sweep.plan;
    let per_point = p.failures.len() + p.blips.len();
    eprintln!(
        "sweep {}: {} × {} value(s), {per_point} drill(s) each, {} run(s) of each: {} drills",
        sweep.name,
        p.settings.join(" × "),
        p.points.len(),
        p.repeat,
        sweep.trials.len() * p.repeat as usize
    );
    eprintln!("each drill builds its stack afresh (a sweep's value changes the stack's own settings, so no stack is reused)");
    let index: BTreeMap<String, Place> =
        sweep.trials.iter().map(|t| (t.loaded.scenario.name.clone(), (t.point, t.role, t.index))).collect();
    let plan: Vec<Loaded> = sweep.trials.into_iter().map(|t| t.loaded).collect();
    opts.repeat = p.repeat;
    opts.always_summary = true;
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let summary = suite::run_suite(&plan, &opts).await?;
    let runs: Vec<TrialRun> = summary
        .runs
        .iter()
        .filter_map(|row| {
            let (point, role, index) = *index.get(&row.scenario)?;
            Some(TrialRun { point, role, index, results: row.results.as_ref() })
        })
        .collect();
    let report = judge_sweep(p, &runs);
    let drills = drill_rows(p, &summary, &index);
    let file = SweepFile {
        scenario: &sweep.name,
        started_at: started.to_rfc3339(),
        duration_s: clock.elapsed().as_secs_f64(),
        report: &report,
        drills,
    };
    let dir = opts.run.reports.join("sweeps").join(format!("{}-{}", started.format("%Y%m%dT%H%M%SZ"), sweep.name));
    write(&dir, &file, &report)?;
    eprintln!("\n{}", table(&report));
    if summary.exit_code == exit::INTERRUPTED {
        let (done, not): (Vec<_>, Vec<_>) = report.points.iter().partition(|p| p.done);
        let list = |v: Vec<&crate::checker::PointResult>| v.iter().map(|p| p.values.join(" × ")).collect::<Vec<_>>().join(", ");
        println!("interrupted: the values done: {}; not done: {}", or_none(list(done)), or_none(list(not)));
    }
    println!("answer: {}", report.answer);
    println!("sweep: {}", dir.display());
    Ok(match summary.exit_code {
        exit::INTERRUPTED => exit::INTERRUPTED,
        _ => sweep_code(report.verdict),
    })
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".into() } else { s }
}

/// Every drill the suite ran, with its point and what it was for.
fn drill_rows(p: &SweepPlan, summary: &suite::Summary, index: &BTreeMap<String, Place>) -> Vec<DrillRow> {
    let rows = summary.runs.iter().filter_map(|row| {
        let (point, role, index) = *index.get(&row.scenario)?;
        let fault = if role == Role::Failure { &p.failures[index] } else { &p.blips[index] };
        let (scenario, status, evidence) = (row.scenario.clone(), row.status.clone(), row.evidence.clone());
        let (values, attempts) = (p.points[point].clone(), row.attempts.clone());
        Some(DrillRow { scenario, values, role, fault: fault.clone(), run: row.run, status, evidence, attempts })
    });
    rows.collect()
}

/// Pass when a value met the targets; target missed when none did; unknown when none
/// could be judged on counted runs.
fn sweep_code(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::TARGET_MISSED,
        _ => exit::UNKNOWN,
    }
}

fn write(dir: &Path, file: &SweepFile, report: &SweepReport) -> Result<()> {
    let failed = |what: &'static str| {
        move |e: std::io::Error| Error::infra(format!("failed to write the sweep's {what} in {}", dir.display())).cause(e)
    };
    std::fs::create_dir_all(dir).map_err(failed("folder"))?;
    let json = serde_json::to_string_pretty(file).expect("the sweep serialises");
    std::fs::write(dir.join("sweep.json"), json).map_err(failed("sweep.json"))?;
    std::fs::write(dir.join("sweep.html"), page(file.scenario, report)).map_err(failed("sweep.html"))?;
    std::fs::write(dir.join("junit.xml"), junit(file.scenario, report)).map_err(failed("junit.xml"))?;
    Ok(())
}
