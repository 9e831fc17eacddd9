use super::options::{check_reports, metrics_out};
use super::{Command, ImagesAction};
use crate::docker::{self, Docker};
use crate::error::{Error, Result, exit};
use crate::runner::RunOptions;
use crate::scenario;
use crate::suite::{self, SuiteOptions};

pub async fn dispatch(cmd: Command) -> Result<i32> {
    match cmd {
        Command::Run(args) => run(args).await,
        Command::Validate { files } => Ok(validate(&files)),
        Command::Summary { dirs, out } => {
            let summary = suite::merge(&dirs)?;
            summary.write(&out)?;
            eprintln!("{}", summary.table());
            println!("summary: {}", out.display());
            Ok(summary.exit_code)
        }
        Command::Mark { run_id, label } => {
            crate::action::mark(&run_id, &label)?;
            println!("marked `{label}` for run {run_id}");
            Ok(exit::PASS)
        }
        Command::Schema { keys } => {
            match keys {
                true => print!("{}", scenario::keys::keys_markdown()),
                false => println!("{}", scenario::json_schema()),
            }
            Ok(exit::PASS)
        }
        Command::Report { dir } => {
            crate::report::rerender(&dir)?;
            println!("re-rendered {} (report.html, timeline.svg, report.md, junit.xml, manifest.json)", dir.display());
            Ok(exit::PASS)
        }
        Command::Compare { base, new } => compare(&base, &new),
        Command::Trend { scenario, reports } => suite::trend(&reports, scenario.as_deref()),
        Command::Verify { dir } => verify(&dir),
        Command::Images { action: ImagesAction::Build { dir, force } } => {
            let d = Docker::connect().await?;
            let dirs = docker::image_dirs(&dir)?;
            docker::build_images(&d, &dirs, force, &mut |line| eprintln!("[image] {line}")).await?;
            Ok(exit::PASS)
        }
        Command::Images { action: ImagesAction::Status { dir } } => images_status(&dir).await,
        Command::Gc { run, force } => gc(run.as_deref(), force).await,
        Command::Proxy { host, port, config } => {
            let initial = match &config {
                Some(path) => proxy_config(path)?,
                None => Vec::new(),
            };
            crate::proxy::serve(&host, port, initial, shutdown_signal()).await?;
            Ok(exit::PASS)
        }
        Command::Pager { listen } => {
            crate::monitor::Webhook::bind(listen).await?.serve_until(shutdown_signal()).await;
            Ok(exit::PASS)
        }
    }
}

/// `drdrill validate`: every file is checked and every problem shown, not just the first
/// file's; a warning (an alert rule that can never fire in the drill's time) goes to
/// stderr and changes no exit code.
fn validate(files: &[std::path::PathBuf]) -> i32 {
    let mut invalid = 0;
    for f in files {
        if scenario::is_sweep_file(f) {
            match super::sweeping::validated(f) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("{e}");
                    invalid += 1;
                }
            }
            continue;
        }
        let loaded = scenario::load(f);
        for w in loaded.iter().flat_map(crate::runner::rule_warnings) {
            eprintln!("{}: warning: {w}", f.display());
        }
        match loaded {
            Ok(l) if l.several() => println!(
                "{}: ok ({}: services {}, {} faults)",
                f.display(),
                l.scenario.name,
                l.services
                    .iter()
                    .map(|s| format!("{} ({}, {} nodes)", s.name, s.view.stack.kind.name(), s.view.stack.node_names().len()))
                    .collect::<Vec<_>>()
                    .join(", "),
                l.scenario.faults.len(),
            ),
            Ok(l) => println!(
                "{}: ok ({}: {} nodes, {} faults, failover {})",
                f.display(),
                l.scenario.name,
                l.scenario.stack.node_names().len(),
                l.scenario.faults.len(),
                match l.scenario.failover_mode() {
                    Some(crate::scenario::FailoverMode::Orchestrator) => "by the orchestrator",
                    Some(_) => "planned",
                    None => "none",
                }
            ),
            Err(e) => {
                eprintln!("{e}");
                invalid += 1;
            }
        }
    }
    if invalid == 0 { exit::PASS } else { exit::USAGE }
}

/// `drdrill compare`: a run against the other runs of its scenario in `base`.
fn compare(base: &std::path::Path, new: &std::path::Path) -> Result<i32> {
    let mut r = crate::checker::load_results(new)?;
    let runs: Vec<_> = suite::load_baseline(base, &r.scenario)?.into_iter().filter(|b| b.run_id != r.run_id).collect();
    if runs.is_empty() {
        return Err(Error::usage(format!("{} holds no other run of {} to compare with", base.display(), r.scenario)));
    }
    let c = suite::compare(&runs, &r);
    let code = match (c.regressed(), c.undecided()) {
        (true, _) => exit::REGRESSION,
        (false, true) => exit::UNDECIDED,
        _ => exit::PASS,
    };
    r.comparison = Some(c);
    print!("{}", crate::report::scorecard(&r));
    Ok(code)
}

/// `drdrill verify`: every evidence file against the manifest.
fn verify(dir: &std::path::Path) -> Result<i32> {
    let bad = crate::report::verify(dir)?;
    if bad.is_empty() {
        println!("{}: every file matches {}", dir.display(), crate::report::MANIFEST);
        return Ok(exit::PASS);
    }
    for b in &bad {
        println!("{}: {b}", dir.display());
    }
    Ok(exit::TARGET_MISSED)
}

/// `drdrill images status`: each image against its context.
async fn images_status(dir: &std::path::Path) -> Result<i32> {
    let d = Docker::connect().await?;
    let mut ready = true;
    for img in docker::image_dirs(dir)? {
        let st = docker::image_state(&d, &img, &docker::image_context_hash(&img.dir)?).await;
        ready &= st == docker::ImageState::UpToDate;
        println!("{}\t{}\t{}", img.tag, img.dir.display(), st.say());
    }
    Ok(if ready { exit::PASS } else { exit::TARGET_MISSED })
}

/// `drdrill gc`: what crashed drills left, each removal named.
async fn gc(run: Option<&str>, force: bool) -> Result<i32> {
    let d = Docker::connect().await?;
    let r = docker::gc(&d, run, force).await?;
    println!(
        "removed {} containers, {} networks, {} volumes from {} runs",
        r.containers.len(),
        r.networks.len(),
        r.volumes.len(),
        r.runs.len()
    );
    for c in &r.containers {
        println!("  container {c}");
    }
    for n in &r.networks {
        println!("  network {n}");
    }
    for v in &r.volumes {
        println!("  volume {v}");
    }
    for d in &r.evidence {
        println!("  saved their logs and GC-NOTE.txt into {}", d.display());
    }
    for (live, why) in &r.skipped_live {
        println!("skipped live run {live}: {why} (use --force to remove it anyway)");
    }
    Ok(exit::PASS)
}

/// `drdrill run`: every file validated before anything starts, the slice taken, then the
/// dry run or the suite.
async fn run(args: super::RunArgs) -> Result<i32> {
    if let Some(sweep) = super::sweeping::sweep_file(&args.files)? {
        return super::sweeping::run_sweep(sweep, args).await;
    }
    let super::RunArgs {
        files,
        keep,
        reports,
        repeat,
        fail_fast,
        baseline,
        dry_run,
        yes,
        metrics_file,
        pushgateway,
        partition,
        rerun_disturbed,
    } = args;
    if dry_run && rerun_disturbed.is_some() {
        return Err(Error::usage("--rerun-disturbed runs an undecided drill again, and --dry-run starts none")
            .hint("give --rerun-disturbed 1 to 5 without --dry-run"));
    }
    if !dry_run {
        // a signal while the files are validated is answered by the first drill (exit 130)
        crate::runner::listen_early();
    }
    // validate fully before anything starts, every file and the evidence folder
    let mut plan = suite::expand(&files)?;
    if let Some(p) = partition {
        let all = plan.len();
        plan = p.select(plan);
        let names: Vec<String> = plan.iter().map(|l| l.path.display().to_string()).collect();
        eprintln!("slice {p}: {} of {all} scenario files{}{}", plan.len(), if names.is_empty() { "" } else { ": " }, names.join(", "));
    }
    if dry_run {
        for l in &plan {
            println!("{}", crate::runner::plan_text(l));
        }
        return Ok(exit::PASS);
    }
    check_reports(&reports)?;
    if keep && plan.len() * repeat as usize > 1 {
        return Err(Error::usage("--keep keeps one drill's stack: give one scenario without --repeat"));
    }
    let baseline = baseline.as_deref().map(crate::runner::Baseline::parse);
    // a baseline that cannot be found is a usage error before anything starts
    if let Some(b) = &baseline {
        for l in &plan {
            b.load(&reports, &l.scenario.name)?;
        }
    }
    let metrics = metrics_out(metrics_file, pushgateway)?;
    let always_summary = partition.is_some();
    let rerun_disturbed = rerun_disturbed.unwrap_or(0);
    let run = RunOptions { keep, reports, baseline, label: None, yes };
    let opts = SuiteOptions { run, repeat, fail_fast, metrics, always_summary, rerun_disturbed, rerun_when: suite::Rerun::Undecided };
    Ok(suite::run_suite(&plan, &opts).await?.exit_code)
}

/// Reads `drdrill proxy --config FILE`: a JSON array of proxies.
fn proxy_config(path: &std::path::Path) -> Result<Vec<crate::proxy::ProxyConfig>> {
    use crate::error::Error;
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::usage(format!("failed to read proxy config {}", path.display())).cause(e))?;
    crate::proxy::ProxyConfig::parse_list(&text).map_err(|e| {
        Error::usage(format!("failed to parse proxy config {}", path.display()))
            .cause(e)
            .hint("expected a JSON array of proxies, as POST /populate takes")
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
