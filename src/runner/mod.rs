//! The phases of a drill (`drill.rs`): start the stack, verify replication, run the
//! workload while faults and failover happen, read back, check convergence, judge.
//! Teardown always runs: on success, error, panic, SIGINT and SIGTERM. An interrupt stops
//! the failover, the faults and the workload in that order, marks the history, and still
//! writes results.json (verdict `unknown`, `interrupted: true`) and the reports.
mod actions;
mod converge;
mod drill;
mod exercise;
mod external;
mod holders;
mod interrupt;
mod isolated;
mod judge;
mod live;
mod members;
mod monitoring;
mod multi_active;
mod plan;
mod plan_faults;
mod plan_parts;
mod progress;
mod questions;
mod recovered;
mod running;
mod service;
mod signals;
mod state;
mod survived;
mod timing;

pub use plan::plan_text;
pub use timing::rule_warnings;

use crate::checker::Results;
use crate::docker::{self, Docker, RunGuard};
use crate::error::{Error, Result};
use crate::fault::FaultLedger;
use crate::report::{DrillEvent, FileReporter, Reporters, results_json};
use crate::scenario::Loaded;
use crate::stack::driver_for;
use futures_util::FutureExt;
use live::Shared;
use signals::Signals;
pub use signals::listen_early;
use state::Drill;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

#[derive(Clone)]
pub struct RunOptions {
    /// Leave the stack running after the drill.
    pub keep: bool,
    /// Evidence goes to `<reports>/<scenario>/<UTC timestamp>/`.
    pub reports: PathBuf,
    /// Earlier evidence to compare each run with (the regression gate).
    pub baseline: Option<Baseline>,
    /// Shown at the head of the live progress line ("drill 2 of 5, about 3 min left").
    pub label: Option<String>,
    /// Confirmed in advance (`--yes`): an external drill does not ask.
    pub yes: bool,
}

#[derive(Debug, Clone)]
pub enum Baseline {
    /// The newest finished run of the same scenario under `reports`.
    Last,
    /// An evidence folder, or a folder of them.
    Dir(PathBuf),
}

impl Baseline {
    pub fn parse(s: &str) -> Baseline {
        if s == "last" { Baseline::Last } else { Baseline::Dir(PathBuf::from(s)) }
    }
    /// The baseline runs of `scenario` (an error before anything starts if there are none).
    pub fn load(&self, reports: &Path, scenario: &str) -> Result<Vec<crate::checker::Results>> {
        match self {
            Baseline::Last => crate::checker::last_run(reports, scenario),
            Baseline::Dir(d) => crate::checker::load_baseline(d, scenario),
        }
    }
}

/// A finished drill: its evidence folder and judged results.
pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: Results,
}

fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:x}{:04x}", chrono::Utc::now().timestamp() & 0xffffff, (nanos ^ std::process::id()) & 0xffff)
}

/// Runs one drill end to end. Errors are infrastructure or interruption; a missed
/// target is a successful run with a failing verdict.
pub async fn run(loaded: &Loaded, opts: &RunOptions, reporters: &mut Reporters) -> Result<RunOutcome> {
    let mut signals = Signals::take();
    let sc = &loaded.scenario;
    let baseline = match &opts.baseline {
        Some(b) => b.load(&opts.reports, &sc.name)?,
        None => Vec::new(),
    };
    let ext = sc.stack.kind.is_external();
    crate::action::add_secret_env(&sc.secrets);
    external::confirm(sc, opts.yes)?;
    let docker = connect(loaded, ext, &mut signals).await?;
    let run_id = new_run_id();
    // credentials are read (and registered as secrets) before anything is written
    let auth = if ext { Some(external::auth(sc, &run_id)?) } else { None };
    let dir = open_evidence(loaded, opts, &run_id, reporters)?;
    announce_engine(&docker, reporters)?;
    let mut guard = RunGuard::new(docker.clone(), &run_id);
    if ext {
        guard.disarm(); // drdrill creates nothing on an external stack
    }
    let live = Shared::default();
    let labels = docker::run_labels(&run_id, &sc.name, &dir);
    let drill = Drill {
        loaded,
        docker,
        run_id,
        dir,
        ledger: FaultLedger::default(),
        labels,
        live: live.clone(),
        baseline,
        auth,
        dns: Default::default(),
        monitor: Default::default(),
    };
    let outcome = execute(&drill, live, opts.label.clone(), &mut signals, reporters).await;
    wrap_up(&drill, reporters).await;
    let outcome = outcome.map(|results| RunOutcome { dir: drill.dir.clone(), results });
    if ext {
        let _ = reporters.emit(DrillEvent::Info("external stack: drdrill started nothing and leaves it as it is"));
        return outcome;
    }
    match opts.keep {
        true => keep(guard, &drill, outcome, reporters),
        false => teardown(guard, &drill.run_id, outcome, reporters).await,
    }
}

/// The Docker engine the drill runs on (none for an external stack), with the images its
/// services use built; a signal before anything started stops here.
async fn connect(loaded: &Loaded, ext: bool, signals: &mut Signals) -> Result<Docker> {
    if ext {
        return Docker::offline();
    }
    let docker = tokio::select! {
        d = Docker::connect() => d?,
        _ = signals.next() => return Err(Error::interrupted().hint("nothing had started yet")),
    };
    tokio::select! {
        r = images_for(&docker, loaded) => r?,
        _ = signals.next() => return Err(Error::interrupted().hint("nothing had started yet; an image build may go on in the engine")),
    }
    Ok(docker)
}

/// Says which engine the drill runs on.
fn announce_engine(docker: &Docker, reporters: &mut Reporters) -> Result<()> {
    let e = &docker.engine;
    let place = if e.local { "local".to_string() } else { format!("remote; nodes reached on {}", docker.client_ip) };
    reporters.emit(DrillEvent::Info(&format!("engine {} (Docker {}, {place})", e.host, e.version)))
}

/// The drill's phases with the live progress line, until they end, panic (a bug, said
/// so) or a signal interrupts them.
async fn execute(
    drill: &Drill<'_>,
    live: Shared,
    label: Option<String>,
    signals: &mut Signals,
    reporters: &mut Reporters,
) -> Result<Results> {
    let progress = progress::Progress::start(live, label);
    let outcome = tokio::select! {
        r = AssertUnwindSafe(drill::execute(drill, reporters)).catch_unwind() => match r {
            Ok(r) => r,
            Err(_) => Err(Error::infra("failed to finish the drill: drdrill panicked (a bug; please report it)")),
        },
        signal = signals.next() => Err(interrupted(signal, drill, reporters).await),
    };
    if let Some(p) = progress {
        p.stop();
    }
    outcome
}

/// Builds the stack images the drill's services use when they are missing or out of date
/// (and only those), before the drill's clock starts.
async fn images_for(docker: &Docker, loaded: &Loaded) -> Result<()> {
    let mut tags: Vec<String> = loaded.services.iter().map(|p| p.view.stack.image()).collect();
    for proxy in loaded.services.iter().filter_map(|p| p.view.effective_proxy()) {
        tags.push(proxy.image.unwrap_or_else(|| docker::PROXY_BASE.to_string()));
    }
    if loaded.scenario.monitoring.is_some() && !loaded.scenario.stack.kind.is_external() {
        tags.push(crate::monitor::IMAGE.to_string());
    }
    tags.sort();
    tags.dedup();
    docker::ensure_images(docker, &tags, &docker::image_default_dirs(), &mut |line| eprintln!("[image] {line}")).await
}

/// The run's evidence folder, with the scenario's copy (secrets redacted); results.json
/// is evidence too: its reporter writes into the folder, and the other reports are
/// rendered from it (and the history) once the drill is over.
fn open_evidence(loaded: &Loaded, opts: &RunOptions, run_id: &str, reporters: &mut Reporters) -> Result<PathBuf> {
    let sc = &loaded.scenario;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let dir = opts.reports.join(&sc.name).join(format!("{stamp}-{run_id}"));
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::infra(format!("failed to create {}", dir.display())).cause(e))?;
    std::fs::write(dir.join("scenario.yaml"), crate::action::redact(&loaded.source))
        .map_err(|e| Error::infra("failed to save the scenario copy").cause(e))?;
    let marks = crate::action::marks_dir(run_id);
    std::fs::create_dir_all(&marks).map_err(|e| Error::infra(format!("failed to create {}", marks.display())).cause(e))?;
    reporters.0.push(Box::new(FileReporter::new(dir.join("results.json"), results_json)));
    reporters.emit(DrillEvent::Phase(&format!("drill {} (run {run_id}), evidence in {}", sc.name, dir.display())))?;
    Ok(dir)
}

/// Whatever happened: heal what is still injected (first: with --keep a partition must
/// not outlive the drill), run the owed `after` hooks, save the containers' logs, and
/// render the reports.
async fn wrap_up(drill: &Drill<'_>, reporters: &mut Reporters) {
    let sc = drill.sc();
    for e in drill.ledger.heal_all(&drill.docker, None).await {
        let _ = reporters.emit(DrillEvent::Info(&format!("heal failed: {e}")));
    }
    if let Some(env) = drill.live.with(|l| l.after_pending.take()) {
        for line in actions::after_hooks(&sc.hooks.after, &env, None).await {
            let _ = reporters.emit(DrillEvent::Info(&line));
        }
    }
    if let Some(dns) = drill.dns.get() {
        dns.stop().await;
    }
    if let Some(m) = drill.monitor.get() {
        m.stop().await;
    }
    let _ = std::fs::remove_dir_all(crate::action::marks_dir(&drill.run_id));
    if !sc.stack.kind.is_external() {
        save_logs(&drill.docker, &drill.run_id, drill.loaded, &drill.dir).await;
    }
    if drill.dir.join("results.json").exists()
        && let Err(e) = crate::report::finish_evidence(&drill.dir)
    {
        let _ = reporters.emit(DrillEvent::Info(&format!("reports incomplete: {}", e.one_line())));
    }
}

/// `--keep`: the stack stays up, and how to reach each node is printed.
fn keep(mut guard: RunGuard, drill: &Drill<'_>, outcome: Result<RunOutcome>, reporters: &mut Reporters) -> Result<RunOutcome> {
    guard.disarm();
    let run_id = &drill.run_id;
    let _ = reporters.emit(DrillEvent::Phase(&format!("--keep: the stack stays up; remove it with `drdrill gc --run {run_id}`")));
    let Ok(o) = &outcome else { return outcome.map_err(|e| e.after_teardown("stack kept (--keep)")) };
    for ((_, r), plan) in o.results.each_service().into_iter().zip(&drill.loaded.services) {
        let driver = driver_for(&plan.view.stack);
        for n in &r.stack.nodes {
            let role = if n.name == r.stack.final_primary { "primary" } else { "replica" };
            let how = driver.deployment().map(|d| d.client_command(n.host_port)).unwrap_or_default();
            let _ = reporters.emit(DrillEvent::Info(&format!("{} ({role}): {how}   docker exec -it {} bash", n.name, n.container)));
        }
    }
    outcome.map_err(|e| e.after_teardown("stack kept (--keep)"))
}

/// Removes every container and network of the run, and says whether a check found
/// nothing left.
async fn teardown(mut guard: RunGuard, run_id: &str, outcome: Result<RunOutcome>, reporters: &mut Reporters) -> Result<RunOutcome> {
    let _ = reporters.emit(DrillEvent::Phase("tearing down"));
    let t = guard.teardown(outcome.is_ok()).await;
    let text = if t.verified {
        format!("stack torn down ({} removed; a check found nothing left)", t.removed.len())
    } else {
        format!("teardown NOT verified: left {:?} ({}); run `drdrill gc --run {run_id}`", t.leftovers, t.errors.join("; "))
    };
    let _ = reporters.emit(DrillEvent::Info(&text));
    outcome.map_err(|e| if t.verified { e.after_teardown("stack torn down") } else { e.after_teardown(&text) })
}

/// Stops what an interrupted drill had running, writes its partial results and reports,
/// and returns the interruption error (exit 130).
async fn interrupted(signal: &str, drill: &Drill<'_>, reporters: &mut Reporters) -> Error {
    let phase = drill.live.with(|l| l.phase.clone());
    let _ = reporters.emit(DrillEvent::Phase(&format!("{signal} during {phase}: stopping the failover, faults and workload")));
    let sc = &drill.loaded.scenario;
    let identity = (sc.name.clone(), drill.run_id.clone());
    match interrupt::stop_interrupted(&drill.live, &drill.ledger, signal, drill.loaded, identity, &crate::history::path_in(&drill.dir))
        .await
    {
        Ok(mut results) => {
            results.engine = drill.docker.engine.clone();
            let _ = reporters.emit(DrillEvent::Finished(&results));
        }
        Err(e) => {
            let _ = reporters.emit(DrillEvent::Info(&format!("could not judge the partial history: {}", e.one_line())));
        }
    }
    Error::interrupted().hint(format!("partial evidence (results.json with interrupted: true) is in {}", drill.dir.display()))
}

/// Container logs into the evidence folder, whatever happened.
async fn save_logs(docker: &Docker, run_id: &str, loaded: &Loaded, dir: &Path) {
    let containers = loaded.services.iter().flat_map(|s| {
        let sc = &s.view;
        let proxy = sc.effective_proxy().map(|_| service::proxy_alias(s));
        sc.stack.node_names().into_iter().chain(crate::scenario::service_names(&sc.stack)).chain(proxy)
    });
    let monitoring = match &loaded.scenario.monitoring {
        Some(m) => crate::monitor::container_nodes(
            &loaded.services.iter().flat_map(|s| s.view.stack.node_names()).collect::<Vec<_>>(),
            m,
            &loaded.scenario.sites,
        ),
        None => Vec::new(),
    };
    let containers = containers.chain(monitoring);
    for node in containers {
        let name = docker::container_name(run_id, &node);
        if let Ok(text) = docker.logs(&name).await {
            let _ = std::fs::write(dir.join("logs").join(format!("{node}.log")), text);
        }
    }
}
