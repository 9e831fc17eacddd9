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
    let opts = SuiteOptions { run, repeat, fail_fast, metrics, always_summary, rerun_disturbed };
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

/// Least free space a drill's evidence folder needs (history, logs, reports).
const MIN_FREE_BYTES: u64 = 50 << 20;

/// `--reports` must be a writable folder with room for the evidence: a usage error
/// (exit 2) found before anything starts, never an infrastructure error mid-drill.
fn check_reports(dir: &std::path::Path) -> Result<()> {
    let bad = |what: String| crate::error::Error::usage(format!("--reports {}: {what}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(bad("is not a folder".into()).hint("give a folder (it is created if missing)"));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad("cannot be created".into()).cause(e))?;
    tempfile::Builder::new().prefix(".drdrill-write-check").tempfile_in(dir).map_err(|e| bad("is not writable".into()).cause(e))?;
    if let Some(free) = free_bytes(dir)
        && free < MIN_FREE_BYTES
    {
        return Err(bad(format!("only {} MB free; a drill needs at least {} MB", free >> 20, MIN_FREE_BYTES >> 20)));
    }
    Ok(())
}

/// `--metrics-file` and `--pushgateway`, checked before anything starts.
fn metrics_out(file: Option<std::path::PathBuf>, pushgateway: Option<String>) -> Result<suite::MetricsOut> {
    if let Some(gw) = pushgateway.as_deref().filter(|g| !(g.starts_with("http://") || g.starts_with("https://"))) {
        return Err(Error::usage(format!("--pushgateway expects an http:// or https:// URL, found `{gw}`")));
    }
    if let Some(f) = &file {
        check_metrics_file(f)?;
    }
    Ok(suite::MetricsOut { file, pushgateway })
}

/// `--metrics-file`: a file (not a folder) in a folder that exists and takes new files.
fn check_metrics_file(path: &std::path::Path) -> Result<()> {
    let bad = |what: &str| crate::error::Error::usage(format!("--metrics-file {}: {what}", path.display()));
    if path.is_dir() {
        return Err(bad("is a folder").hint("give a file, e.g. /var/lib/node_exporter/textfile/drdrill.prom"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    tempfile::Builder::new()
        .prefix(".drdrill-write-check")
        .tempfile_in(dir)
        .map_err(|e| bad("its folder is missing or not writable").cause(e))?;
    Ok(())
}

/// Bytes available to this user on the file system holding `dir` (None if unknown).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `st` a properly sized buffer
    // that statvfs fills in completely when it returns 0.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}
