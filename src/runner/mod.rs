//! The phases of a drill: start the stack, verify replication, run the workload while
//! faults and failover happen, read back, check convergence, judge. Teardown always runs:
//! on success, error, panic, SIGINT and SIGTERM.
mod converge;

use crate::checker::Checker;
use crate::clock::Clock;
use crate::docker::{self, Docker, RunGuard};
use crate::error::{Error, Result};
use crate::failover::{FailoverReport, run_failover};
use crate::fault::{FaultLedger, FaultSchedule};
use crate::history::{Entry, EventKind, Recorder};
use crate::report::{DrillEvent, FileReporter, NodeInfo, Reporters, Results, StackInfo, junit_xml, markdown, results_json};
use crate::scenario::Loaded;
use crate::stack::{Driver, PROXY_NODE, Stack, StackPlan, driver_for, retry_until};
use crate::workload::{ClientTarget, Workload};
use converge::converge;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub struct RunOptions {
    /// Leave the stack running after the drill.
    pub keep: bool,
    /// Evidence goes to `<reports>/<scenario>/<UTC timestamp>/`.
    pub reports: PathBuf,
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

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Runs one drill end to end. Errors are infrastructure or interruption; a missed
/// target is a successful run with a failing verdict.
pub async fn run(loaded: &Loaded, opts: &RunOptions, reporters: &mut Reporters) -> Result<RunOutcome> {
    let sc = &loaded.scenario;
    let docker = Docker::connect().await?;
    let run_id = new_run_id();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let dir = opts.reports.join(&sc.name).join(format!("{stamp}-{run_id}"));
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::infra(format!("failed to create {}", dir.display())).cause(e))?;
    std::fs::write(dir.join("scenario.yaml"), &loaded.source).map_err(|e| Error::infra("failed to save the scenario copy").cause(e))?;
    // results.json is evidence too: its reporter writes into the run's folder
    for (file, render) in [("results.json", results_json as fn(&Results) -> String), ("junit.xml", junit_xml), ("report.md", markdown)] {
        reporters.0.push(Box::new(FileReporter::new(dir.join(file), render)));
    }
    reporters.emit(DrillEvent::Phase(&format!("drill {} (run {run_id}), evidence in {}", sc.name, dir.display())))?;
    let e = &docker.engine;
    let place = if e.local { "local".to_string() } else { format!("remote; nodes reached on {}", docker.client_ip) };
    reporters.emit(DrillEvent::Info(&format!("engine {} (Docker {}, {place})", e.host, e.version)))?;

    let mut guard = RunGuard::new(docker.clone(), &run_id);
    let ledger = FaultLedger::default();
    let drill = Drill { loaded, docker: docker.clone(), run_id: run_id.clone(), dir: dir.clone(), ledger: ledger.clone() };
    let outcome = tokio::select! {
        r = AssertUnwindSafe(drill.execute(reporters)).catch_unwind() => match r {
            Ok(r) => r,
            Err(_) => Err(Error::infra("failed to finish the drill: drdrill panicked (a bug; please report it)")),
        },
        _ = shutdown_signal() => Err(Error::interrupted()),
    };
    // a drill that failed or was interrupted mid-fault heals before anything else (this
    // matters with --keep: a partition must not outlive the drill)
    for e in ledger.heal_all(&docker, None).await {
        let _ = reporters.emit(DrillEvent::Info(&format!("heal failed: {e}")));
    }
    save_logs(&docker, &run_id, sc, &dir).await;
    if opts.keep {
        guard.disarm();
        let _ = reporters.emit(DrillEvent::Phase(&format!("--keep: the stack stays up; remove it with `drdrill gc --run {run_id}`")));
        if let Ok(o) = &outcome {
            for n in &o.stack.nodes {
                let role = if n.name == o.stack.final_primary { "primary" } else { "replica" };
                let how = driver_for(&sc.stack).client_command(n.host_port);
                let _ = reporters.emit(DrillEvent::Info(&format!("{} ({role}): {how}   docker exec -it {} bash", n.name, n.container)));
            }
        }
    } else {
        let _ = reporters.emit(DrillEvent::Phase("tearing down"));
        let t = guard.teardown().await;
        let text = if t.verified {
            format!("stack torn down ({} removed; a check found nothing left)", t.removed.len())
        } else {
            format!("teardown NOT verified: left {:?} ({}); run `drdrill gc --run {run_id}`", t.leftovers, t.errors.join("; "))
        };
        let _ = reporters.emit(DrillEvent::Info(&text));
        return outcome
            .map(|results| RunOutcome { dir, results })
            .map_err(|e| if t.verified { e.after_teardown("stack torn down") } else { e.after_teardown(&text) });
    }
    outcome.map(|results| RunOutcome { dir, results }).map_err(|e| e.after_teardown("stack kept (--keep)"))
}

/// Container logs into the evidence folder, whatever happened.
async fn save_logs(docker: &Docker, run_id: &str, sc: &crate::scenario::Scenario, dir: &Path) {
    let proxy = sc.proxy.as_ref().map(|_| PROXY_NODE.to_string());
    for node in sc.stack.node_names().into_iter().chain(proxy) {
        let name = docker::container_name(run_id, &node);
        if let Ok(text) = docker.logs(&name).await {
            let _ = std::fs::write(dir.join("logs").join(format!("{node}.log")), text);
        }
    }
}

struct Drill<'a> {
    loaded: &'a Loaded,
    docker: Docker,
    run_id: String,
    dir: PathBuf,
    ledger: FaultLedger,
}

impl Drill<'_> {
    async fn execute(self, rep: &mut Reporters) -> Result<Results> {
        let sc = &self.loaded.scenario;
        let names = sc.stack.node_names();
        let labels = docker::run_labels(&self.run_id, &sc.name, &self.dir);
        let driver: Arc<dyn Driver> = Arc::from(driver_for(&sc.stack));
        let image = sc.stack.image();
        let proxy = match &sc.proxy {
            Some(p) => {
                let img = match &p.image {
                    Some(i) => i.clone(),
                    None => {
                        rep.emit(DrillEvent::Phase("preparing the proxy image (drdrill proxy)"))?;
                        docker::ensure_proxy_image(&self.docker).await?
                    }
                };
                Some((p, img))
            }
            None => None,
        };
        rep.emit(DrillEvent::Phase(&format!("starting {} nodes ({image}): {}", names.len(), names.join(", "))))?;
        let plan = StackPlan { run_id: &self.run_id, image: &image, names: &names, labels: &labels, proxy };
        let stack = Arc::new(Stack::start(&self.docker, driver.as_ref(), plan).await?);
        if let Some(p) = &stack.proxy {
            let what = [("clients", p.clients), ("replication", p.replication)].iter().filter(|x| x.1).map(|x| x.0).collect::<Vec<_>>();
            rep.emit(DrillEvent::Info(&format!("proxy API -> {} ({} through the proxy)", p.api, what.join(" and "))))?;
        }
        for n in &stack.nodes {
            let via = if n.client_port != n.host_port { format!(", clients via {}", n.client_addr()) } else { String::new() };
            rep.emit(DrillEvent::Info(&format!("{} -> {}{via}", n.name, n.addr())))?;
        }
        rep.emit(DrillEvent::Phase("waiting for replication to be healthy"))?;
        let health = driver
            .wait_healthy(&stack, Duration::from_millis(sc.stack.healthy_timeout_ms))
            .await
            .map_err(|e| e.hint(format!("container logs are in {}", self.dir.join("logs").display())))?;
        for h in &health {
            rep.emit(DrillEvent::Info(&format!("{} {} (lag {} bytes)", h.node, h.state, h.lag_bytes)))?;
        }
        let initial_primary = stack.primary();
        driver.prepare(stack.node(&initial_primary)?.addr()).await?;

        // --- workload, faults, failover on one clock --------------------------------------
        let clock = Clock::start();
        let header =
            Entry::Header { scenario: sc.name.clone(), run_id: self.run_id.clone(), wall_clock_anchor: clock.wall_anchor.to_rfc3339() };
        let history_path = self.dir.join("history.jsonl");
        let (recorder, rec) =
            Recorder::start(&history_path, clock, header).map_err(|e| Error::infra("failed to create history.jsonl").cause(e))?;
        rep.emit(DrillEvent::Phase(&format!("workload: {} writers, {}", sc.workload.writers, rate_text(sc))))?;
        rec.event(EventKind::WorkloadStart, None, Some(&initial_primary), "").await;
        let (client_tx, client_rx) =
            watch::channel(ClientTarget { node: initial_primary.clone(), addr: stack.node(&initial_primary)?.client_addr() });
        let workload = Workload::start(&sc.workload, driver.clone(), client_rx, rec.clone());
        let (fault_tx, mut fault_rx) = mpsc::unbounded_channel();
        let schedule = FaultSchedule::start(stack.clone(), sc.faults.clone(), rec.clone(), self.ledger.clone(), fault_tx);
        let (fo_tx, fo_rx) = mpsc::unbounded_channel();
        // closed once the schedule is done, so a delay trigger with no fault to answer ends
        let mut fo_tx = Some(fo_tx);
        let mut failover = sc
            .failover
            .clone()
            .map(|plan| tokio::spawn(run_failover(plan, stack.clone(), driver.clone(), rec.clone(), fo_rx, client_tx.clone())));
        let deadline = tokio::time::Instant::from_std(clock.instant_at(sc.workload.max_duration_ms * 1_000_000));
        let mut faults_done = sc.faults.is_empty();
        let mut failover_report: Option<FailoverReport> = None;
        let mut fault_stream_open = true;
        while !(faults_done && (failover.is_none() || failover_report.is_some())) {
            tokio::select! {
                n = fault_rx.recv(), if fault_stream_open => match n {
                    Some(n) => {
                        let verb = if n.healed { "healed" } else { "injected" };
                        let text = format!("fault #{} {:?} on {} {verb}", n.injected.index, n.injected.kind, n.injected.node).to_lowercase();
                        let t_ms = if n.healed { clock.now_ns() } else { n.injected.at_ns } as f64 / 1e6;
                        rep.emit(DrillEvent::Step { t_ms, text: &text })?;
                        faults_done |= n.last;
                        if let Some(tx) = &fo_tx {
                            let _ = tx.send(n);
                        }
                    }
                    None => {
                        fault_stream_open = false;
                        faults_done = true;
                        fo_tx = None;
                    }
                },
                r = async { failover.as_mut().expect("guarded").await }, if failover.is_some() && failover_report.is_none() => {
                    let r = r.unwrap_or_default();
                    let text = match (&r.new_primary, &r.error) {
                        (Some(p), _) => format!("failover done: {} -> {p}", r.old_primary.clone().unwrap_or_default()),
                        (None, Some(e)) => format!("failover failed: {e}"),
                        _ => "failover did not trigger".to_string(),
                    };
                    rep.emit(DrillEvent::Step { t_ms: clock.now_ns() as f64 / 1e6, text: &text })?;
                    failover_report = Some(r);
                },
                _ = tokio::time::sleep_until(deadline) => {
                    rep.emit(DrillEvent::Info("workload.max_duration_ms reached before recovery"))?;
                    break;
                }
            }
        }
        drop(fo_tx);
        let after = tokio::time::Instant::now() + Duration::from_millis(sc.workload.after_recovery_ms);
        rep.emit(DrillEvent::Info(&format!("writing for {} ms more after recovery", sc.workload.after_recovery_ms)))?;
        tokio::time::sleep_until(after.min(deadline)).await;
        rec.event(EventKind::WorkloadStop, None, None, "").await;
        let ops = workload.stop().await;
        schedule.heal_all(&stack, &rec).await;
        if let Some(task) = failover.take().filter(|_| failover_report.is_none()) {
            task.abort();
            rec.event(EventKind::Note, None, None, "failover never triggered").await;
        }
        drop(rec);
        drop(client_tx);
        recorder.finish().await.map_err(|e| Error::infra("failed to write history.jsonl").cause(e))?;
        rep.emit(DrillEvent::Info(&format!("{ops} writes recorded in history.jsonl")))?;

        // --- read back and convergence -----------------------------------------------------
        let final_primary = stack.primary();
        let mut errors = Vec::new();
        rep.emit(DrillEvent::Phase(&format!("reading back every record from {final_primary}")))?;
        let paddr = stack.node(&final_primary)?.addr();
        let read = retry_until(Duration::from_secs(30), Duration::from_millis(500), || driver.read_back(paddr)).await;
        let read = match read {
            Ok(r) => {
                rep.emit(DrillEvent::Info(&format!("{} records", r.len())))?;
                Some(r)
            }
            Err(e) => {
                errors.push(format!("read-back from {final_primary}: {}", e.one_line()));
                None
            }
        };
        let convergence = match (&read, sc.targets.converge) {
            (Some(primary), true) => {
                rep.emit(DrillEvent::Phase("checking that replicas converge on the primary's records"))?;
                Some(converge(&stack, driver.as_ref(), primary, sc.checks.convergence_timeout_ms).await)
            }
            _ => None,
        };

        // --- judge ---------------------------------------------------------------------------
        rep.emit(DrillEvent::Phase("checking the history"))?;
        let (checker, hist) =
            Checker::from_history(&history_path).map_err(|e| Error::infra("failed to read history.jsonl back").cause(e))?;
        let answered = failover_report.as_ref().and_then(|f| f.answered_fault);
        let a = checker.finish(&hist.events, answered, read.as_ref(), convergence.as_ref(), &sc.checks, &sc.targets);
        let wall = |ns: u64| clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64);
        let end_ns = hist.events.last().map(|e| e.t_ns).unwrap_or(0);
        let stack_info = StackInfo {
            kind: format!("{:?}", sc.stack.kind).to_lowercase(),
            replication: format!("{:?}", sc.stack.replication).to_lowercase(),
            image,
            initial_primary,
            final_primary,
            nodes: stack
                .nodes
                .iter()
                .map(|n| NodeInfo { name: n.name.clone(), container: n.container.clone(), host_port: n.host_port })
                .collect(),
            replication_at_start: health,
        };
        let identity =
            (sc.name.clone(), self.run_id.clone(), clock.wall_anchor.to_rfc3339(), wall(end_ns.max(clock.now_ns())).to_rfc3339());
        let assembled = Results::assemble(identity, a, stack_info, failover_report, convergence, hist.events, errors);
        let results = Results { engine: self.docker.engine.clone(), ..assembled };
        rep.emit(DrillEvent::Finished(&results))?;
        Ok(results)
    }
}

fn rate_text(sc: &crate::scenario::Scenario) -> String {
    match sc.workload.rate_per_s {
        Some(r) => format!("{r} writes/s each"),
        None => "unthrottled".into(),
    }
}
