//! Campaigns: several scenario files and folders, each run `repeat` times, one after
//! another, with one summary (terminal table, summary.json, junit.xml, summary.html).
//! Every file is validated before any drill starts. The exit code is the worst drill's;
//! an interrupt stops the current drill cleanly and the rest are reported as not run.
mod answers;
mod export;
mod files;
mod html;
mod merge;
mod partition;
mod summary;
mod trend;

pub use crate::checker::Stat;
pub use crate::checker::{Check, Comparison, compare_with_baseline as compare, last_run, load_baseline};
pub use export::MetricsOut;
pub use html::CSS;
pub use merge::merge;
pub use partition::Partition;
pub use summary::{RunRow, ScenarioSummary, Summary};
pub use trend::trend;

use crate::error::{Error, Result, exit};
use crate::report::{Reporters, TerminalReporter};
use crate::runner::{RunOptions, run};
use crate::scenario::{self, Loaded};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct SuiteOptions {
    pub run: RunOptions,
    /// Runs of each scenario.
    pub repeat: u32,
    /// Stop at the first drill that does not pass.
    pub fail_fast: bool,
    /// drdrill's results as Prometheus metrics, after each drill.
    pub metrics: export::MetricsOut,
    /// Run a disturbed drill again, up to this many more times (0: never).
    pub rerun_disturbed: u32,
    /// What makes a drill disturbed enough to run again.
    pub rerun_when: Rerun,
    /// Write the summary even for one drill or none (a slice of `--partition`: the merge
    /// job reads every slice's).
    pub always_summary: bool,
}

/// When `--rerun-disturbed` runs a drill again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Its verdict is undecided: a timing target missed inside a window the host disturbed.
    Undecided,
    /// The host perturbed it anywhere (checker::perturbed): what a sweep does not count.
    Perturbed,
}

/// Files as given, folders expanded to their `*.yaml` / `*.yml` (sorted), every one loaded
/// and validated; all problems are printed before the usage error that stops the suite.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Loaded>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let read = std::fs::read_dir(p).map_err(|e| Error::usage(format!("failed to read folder {}", p.display())).cause(e))?;
            let mut found: Vec<PathBuf> = read
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            if found.is_empty() {
                return Err(Error::usage(format!("no scenario files (*.yaml) in folder {}", p.display())));
            }
            found.sort();
            // a sweep runs on its own (`drdrill run tune.yaml`): a folder's suite leaves it out
            let (sweeps, drills): (Vec<PathBuf>, Vec<PathBuf>) = found.into_iter().partition(|f| scenario::is_sweep_file(f));
            for s in &sweeps {
                eprintln!("{}: a sweep, left out of the folder's suite (run it on its own: drdrill run {})", s.display(), s.display());
            }
            if drills.is_empty() {
                return Err(Error::usage(format!("no scenario files (*.yaml) but sweeps in folder {}", p.display())));
            }
            files.extend(drills);
        } else {
            files.push(p.clone());
        }
    }
    let (mut loaded, mut bad) = (Vec::new(), 0);
    for f in &files {
        match scenario::load(f) {
            Ok(l) => loaded.push(l),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        return Err(Error::usage(format!("{bad} of {} scenario files are invalid; nothing was started", files.len())));
    }
    Ok(loaded)
}

/// How bad an exit code is, for "the worst drill's".
fn severity(code: i32) -> u8 {
    match code {
        exit::PASS => 0,
        // the runner was too busy to tell: below anything a run did tell
        exit::UNDECIDED => 1,
        exit::REGRESSION => 2,
        exit::TARGET_MISSED => 3,
        exit::UNKNOWN => 4,
        exit::INFRA => 5,
        exit::USAGE => 6,
        _ => 7,
    }
}

pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().max_by_key(|c| severity(*c)).unwrap_or(exit::PASS)
}

/// Runs the plan; returns the summary (written to `<reports>/suites/<stamp>/` when there is
/// more than one run).
pub async fn run_suite(plan: &[Loaded], opts: &SuiteOptions) -> Result<Summary> {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let total = plan.len() * opts.repeat as usize;
    let mut rows: Vec<RunRow> = Vec::new();
    let mut stop: Option<&'static str> = None;
    // drills started, and those that ran (a drill of several services is one row each)
    let (mut started_n, mut ran_n) = (0, 0);
    let mut exported = export::Exported::default();
    for loaded in plan {
        for k in 1..=opts.repeat {
            let name = loaded.scenario.name.clone();
            if let Some(why) = stop {
                rows.push(RunRow::not_run(&name, k, why));
                continue;
            }
            let mut ro = opts.run.clone();
            started_n += 1;
            if total > 1 {
                let eta = eta(ran_n, started_n - 1, total, clock.elapsed().as_secs_f64());
                eprintln!("\n=== drill {started_n} of {total}: {name} (run {k} of {}){eta}", opts.repeat);
                ro.label = Some(format!("drill {started_n} of {total}{eta}"));
            }
            let (ran, interrupted) = attempts(loaded, &ro, k, opts, &mut exported).await;
            if interrupted {
                stop = Some("interrupted");
            }
            ran_n += 1;
            if opts.fail_fast && ran.iter().any(|r| r.exit_code != exit::PASS) && stop.is_none() {
                stop = Some("--fail-fast: an earlier drill did not pass");
            }
            rows.extend(ran);
        }
    }
    let summary = Summary::new(started, clock.elapsed().as_secs_f64(), rows, plan);
    let reran = summary.runs.iter().any(|r| !r.attempts.is_empty());
    if opts.always_summary || total > 1 || reran || summary.scenarios.iter().any(|s| !s.targets.is_empty()) {
        let dir = opts.run.reports.join("suites").join(started.format("%Y%m%dT%H%M%SZ").to_string());
        summary.write(&dir)?;
        eprintln!("{}", summary.table());
        println!("summary: {}", dir.display());
    }
    Ok(summary)
}

/// One drill, run again while it is undecided (up to `rerun_disturbed` more times): the
/// rows of the attempt that counts, which name every earlier one; and whether a signal
/// stopped it. Every attempt keeps its evidence folder.
async fn attempts(loaded: &Loaded, ro: &RunOptions, k: u32, opts: &SuiteOptions, exported: &mut export::Exported) -> (Vec<RunRow>, bool) {
    let name = &loaded.scenario.name;
    let most = 1 + opts.rerun_disturbed;
    let (mut earlier, mut attempt) = (Vec::new(), 0);
    loop {
        attempt += 1;
        let t = Instant::now();
        let mut reporters = Reporters(vec![Box::new(TerminalReporter::stderr())]);
        let o = match run(loaded, ro, &mut reporters).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{e}");
                let mut row = RunRow::failed(name, k, &e, t.elapsed().as_secs_f64());
                row.attempts = attempt_lines(attempt, most, &earlier, None);
                return (vec![row], e.exit_code() == exit::INTERRUPTED);
            }
        };
        println!("evidence: {}", o.dir.display());
        let mut rows = RunRow::ran_services(name, k, &o.results, &o.dir, t.elapsed().as_secs_f64());
        let again = match opts.rerun_when {
            Rerun::Undecided if worst(rows.iter().map(|r| r.exit_code)) == exit::UNDECIDED => {
                Some(("undecided", rows.iter().flat_map(|r| &r.why).cloned().collect::<Vec<_>>().join("; ")))
            }
            Rerun::Perturbed => crate::checker::perturbed(&o.results).map(|why| ("not counted", why)),
            Rerun::Undecided => None,
        };
        if let Some((said, why)) = again.as_ref().filter(|_| attempt < most) {
            eprintln!("\n=== attempt {attempt} of {most} {said} ({why}): running it again");
            earlier.push(format!("attempt {attempt} {said}: {why} (evidence {})", o.dir.display()));
            continue;
        }
        exported.after_run(&opts.metrics, loaded, &o.results).await;
        let lines = attempt_lines(attempt, most, &earlier, again.as_ref().map(|(said, _)| *said));
        if !lines.is_empty() {
            eprintln!("{}", lines.join("; "));
        }
        rows.iter_mut().for_each(|r| r.attempts = lines.clone());
        return (rows, false);
    }
}

/// `attempt 2 of 3 counted`, then each earlier attempt's line; nothing for a first attempt.
/// A last attempt that was itself undecided (or not counted: `last`) counts for nothing, and
/// its line says so rather than "counted".
fn attempt_lines(attempt: u32, most: u32, earlier: &[String], last: Option<&str>) -> Vec<String> {
    if attempt == 1 {
        return Vec::new();
    }
    let head = match last {
        Some(said) => format!("attempt {attempt} of {most} {said} as well: none counted"),
        None => format!("attempt {attempt} of {most} counted"),
    };
    std::iter::once(head).chain(earlier.iter().cloned()).collect()
}

/// " (about N min left)" once a drill has run: `ran` drills took `elapsed_s`, `done` of
/// the `total` are behind us (run or not run).
fn eta(ran: usize, done: usize, total: usize, elapsed_s: f64) -> String {
    if ran == 0 {
        return String::new();
    }
    let left = elapsed_s / ran as f64 * total.saturating_sub(done) as f64;
    format!(" (about {:.0} min left)", (left / 60.0).ceil())
}

/// The evidence folder's path relative to the summary folder's parent tree, for links.
pub(crate) fn relative(from: &Path, to: &Path) -> String {
    let (from, to) = (std::path::absolute(from).unwrap_or(from.into()), std::path::absolute(to).unwrap_or(to.into()));
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let ups = from.components().count() - common;
    let mut p = PathBuf::new();
    for _ in 0..ups {
        p.push("..");
    }
    for c in to.components().skip(common) {
        p.push(c);
    }
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_exit_code_wins_and_interruption_beats_all() {
        assert_eq!(worst([0, 1, 0]), 1);
        assert_eq!(worst([0, 4, 1]), 4);
        assert_eq!(worst([1, 3, 4]), 3);
        assert_eq!(worst([3, 130, 0]), 130);
        assert_eq!(worst([0, exit::REGRESSION]), exit::REGRESSION);
        assert_eq!(worst([1, exit::REGRESSION]), 1);
        assert_eq!(worst([]), 0);
    }

    /// A last attempt the host disturbed too is not said to be counted (a sweep once read
    /// "attempt 3 of 3 counted" and then "no run counted").
    #[test]
    fn a_last_attempt_disturbed_too_counts_for_nothing() {
        let earlier = ["attempt 1 undecided: x".to_string()];
        assert!(attempt_lines(1, 3, &[], None).is_empty());
        assert_eq!(attempt_lines(2, 3, &earlier, None), ["attempt 2 of 3 counted", "attempt 1 undecided: x"]);
        assert_eq!(
            attempt_lines(2, 2, &earlier, Some("undecided")),
            ["attempt 2 of 2 undecided as well: none counted", "attempt 1 undecided: x"]
        );
        assert_eq!(attempt_lines(3, 3, &[], Some("not counted"))[0], "attempt 3 of 3 not counted as well: none counted");
    }

    /// A drill of two services is two rows of the summary but one drill: the count and
    /// the time left are by drill (five repeats of one once panicked on "drill 6 of 5").
    #[test]
    fn time_left_counts_drills_not_rows() {
        assert_eq!(eta(0, 0, 5, 0.0), "");
        assert_eq!(eta(2, 2, 5, 120.0), " (about 3 min left)");
        assert_eq!(eta(5, 5, 5, 300.0), " (about 0 min left)");
        assert_eq!(eta(1, 7, 5, 60.0), " (about 0 min left)");
    }

    #[test]
    fn links_are_relative_between_evidence_folders() {
        assert_eq!(relative(Path::new("/r/suites/x"), Path::new("/r/pg/2026-a")), "../../pg/2026-a");
    }
}
