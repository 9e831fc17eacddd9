//! `drdrill run` and `drdrill validate` on a sweep file (a scenario with a top-level
//! `sweep:`): loaded and validated whole, every drill of it, before anything starts.
use crate::error::{Error, Result, exit};
use crate::scenario::{self, Sweep};
use crate::suite::SuiteOptions;
use std::path::PathBuf;

/// The sweep among `files`, loaded; none when no file is one. A sweep runs on its own.
pub(super) fn sweep_file(files: &[PathBuf]) -> Result<Option<Sweep>> {
    let Some(f) = files.iter().find(|f| scenario::is_sweep_file(f)) else { return Ok(None) };
    if files.len() > 1 {
        return Err(Error::usage(format!("{} is a sweep: it runs on its own", f.display()))
            .hint(format!("run it alone: drdrill run {}", f.display())));
    }
    scenario::load_sweep(f).map(Some)
}

/// `drdrill validate` of a sweep: its drills, or its problems.
pub(super) fn validated(f: &std::path::Path) -> std::result::Result<String, Error> {
    let s = scenario::load_sweep(f)?;
    let p = &s.plan;
    Ok(format!(
        "{}: ok (sweep {}: {} over {} value(s), {} failure(s) and {} blip(s), {} run(s) each: {} drills)",
        f.display(),
        s.name,
        p.settings.join(" × "),
        p.points.len(),
        p.failures.len(),
        p.blips.len(),
        p.repeat,
        s.trials.len() * p.repeat as usize
    ))
}

/// Runs a sweep with `run`'s options; the options a sweep has its own of are refused.
pub(super) async fn run_sweep(sweep: Sweep, args: super::RunArgs) -> Result<i32> {
    let own = |flag: &str, why: &str| Err(Error::usage(format!("{flag} does not apply to a sweep: {why}")));
    if args.keep {
        return own("--keep", "it runs many drills, each building its stack afresh");
    }
    if args.repeat != 1 {
        return own("--repeat", "a sweep repeats each drill `sweep.repeat` times (set it in the file)");
    }
    if args.baseline.is_some() || args.partition.is_some() {
        return own("--baseline and --partition", "a sweep is judged as one curve; split it by its values instead");
    }
    if args.dry_run {
        let p = &sweep.plan;
        let values: Vec<String> = p.points.iter().map(|v| v.join(" × ")).collect();
        println!(
            "sweep {} of {} over {} (seed's value {}), repeat {}: failures {}; blips {}; targets rto_ms {}, max_false_failovers {}\n",
            sweep.name,
            p.settings.join(" × "),
            values.join(", "),
            p.seed.join(" × "),
            p.repeat,
            if p.failures.is_empty() { "none".into() } else { p.failures.join(", ") },
            if p.blips.is_empty() { "none".into() } else { p.blips.join(", ") },
            p.rto_ms.map_or("unset".into(), |t| format!("{t:.0}")),
            p.max_false_failovers
        );
        for t in &sweep.trials {
            println!("{}", crate::runner::plan_text(&t.loaded));
        }
        return Ok(exit::PASS);
    }
    crate::runner::listen_early();
    super::options::check_reports(&args.reports)?;
    let metrics = super::options::metrics_out(args.metrics_file, args.pushgateway)?;
    let run = crate::runner::RunOptions { keep: false, reports: args.reports, baseline: None, label: None, yes: args.yes };
    let opts = SuiteOptions {
        run,
        repeat: sweep.plan.repeat,
        fail_fast: args.fail_fast,
        metrics,
        always_summary: true,
        rerun_disturbed: args.rerun_disturbed.unwrap_or(0),
        // a sweep counts no run the host perturbed anywhere: those are run again
        rerun_when: crate::suite::Rerun::Perturbed,
    };
    crate::sweep::run_sweep(sweep, opts).await
}
