//! A drill's phases, each a function: start the stack, wait until replication is healthy,
//! exercise it (workload + faults + failover on one clock), read back, converge, judge.
use super::actions::{ProbeResult, StackProbe, abort_watch, after_hooks, before_hooks, record_before, steady_after, steady_before};
use super::converge::converge;
use super::isolated::IsolatedWatch;
use super::live::Shared;
use super::recovered::{ClientsRecovery, Seen};
use crate::action::ActionEnv;
use crate::checker::{Checker, orchestrator_phases};
use crate::clock::Clock;
use crate::docker::{self, Docker};
use crate::error::{Error, Result};
use crate::failover::{FailoverReport, run_failover, run_orchestrated};
use crate::fault::{FaultLedger, FaultSchedule};
use crate::history::{Entry, EventKind, Recorder, RecorderHandle};
use crate::report::SteadyStateReport;
use crate::report::{DrillEvent, IsolatedPrimary, NodeInfo, Reporters, Results, StackInfo};
use crate::scenario::{FailoverMode, Loaded, Scenario};
use crate::stack::{Driver, External, ReadBack, ReplicaHealth, Stack, StackPlan, driver_for, retry_until};
use crate::workload::{ClientTarget, Workload};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The `abort_when` watch: resolves with the reason once a condition holds.
type Abort = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

pub(super) struct Drill<'a> {
    pub loaded: &'a Loaded,
    pub docker: Docker,
    pub run_id: String,
    pub dir: PathBuf,
    pub ledger: FaultLedger,
    pub labels: HashMap<String, String>,
    pub live: Shared,
    /// Earlier runs of this scenario to compare with (`--baseline`).
    pub baseline: Vec<Results>,
    /// An external stack's credentials and namespace.
    pub auth: Option<crate::stack::Auth>,
}

/// What the exercise phase leaves for judging.
struct Exercised {
    clock: Clock,
    failover: Option<FailoverReport>,
    /// The old primary's records, read just before the heal that let it rejoin.
    isolated: Option<(IsolatedPrimary, ReadBack)>,
    steady_after: Vec<ProbeResult>,
    /// CPU and time at the workload's start and end, and the writes made in between.
    usage: (crate::usage::Sample, crate::usage::Sample, u64),
}

impl Drill<'_> {
    fn sc(&self) -> &Scenario {
        &self.loaded.scenario
    }

    fn phase(&self, rep: &mut Reporters, text: &str) -> Result<()> {
        self.live.phase(text);
        rep.emit(DrillEvent::Phase(text))
    }

    pub async fn execute(&self, rep: &mut Reporters) -> Result<Results> {
        let external = self.auth.clone().map(|a| Arc::new(External::new(&self.sc().stack, a)));
        let driver: Arc<dyn Driver> = match &external {
            Some(e) => e.clone(),
            None => Arc::from(driver_for(&self.sc().stack)),
        };
        let stack = match external {
            Some(_) => self.attach_external(rep).await?,
            None => self.start_stack(rep, driver.as_ref()).await?,
        };
        let probe = StackProbe { driver: driver.clone(), external: external.clone(), stack: Arc::downgrade(&stack) };
        let vars = vec![("DRDRILL_EVIDENCE".to_string(), self.dir.display().to_string())];
        let env = ActionEnv { vars, run_id: self.run_id.clone(), dir: self.dir.clone(), db: Some(Arc::new(probe)) };
        let _ = stack.actions.set(env);
        let health = self.wait_healthy(rep, driver.as_ref(), &stack).await?;
        let steady_before = self.steady_before(rep, &stack).await?;
        stack.mark_initial();
        let initial_primary = stack.primary();
        // from here on the `after` hooks are owed, whatever happens
        self.live.with(|l| l.after_pending = Some(stack.action_env()));
        let before = before_hooks(&self.sc().hooks.before, &stack.action_env()).await;
        for (label, o) in &before {
            rep.emit(DrillEvent::Info(&format!("{label}: {}", o.detail)))?;
        }
        let ex = self.exercise(rep, &driver, &stack, &initial_primary, &before).await?;
        if let Some(e) = &external
            && let Some(p) = e.find_primary(&stack, Duration::from_secs(3)).await
        {
            stack.set_primary(&p);
        }
        let final_primary = stack.primary();
        let mut errors = Vec::new();
        self.phase(rep, &format!("reading back every record from {final_primary}"))?;
        let read = match self.read_back(driver.as_ref(), &stack).await {
            Ok(r) => {
                rep.emit(DrillEvent::Info(&format!("{} records", r.len())))?;
                Some(r)
            }
            Err(e) => {
                errors.push(format!("read-back from {final_primary}: {}", e.one_line()));
                None
            }
        };
        // an external stack without nodes has no replica drdrill can read
        let can_converge = !(stack.external && self.sc().stack.nodes.is_empty());
        let convergence = match (&read, self.sc().targets.converge && can_converge) {
            (Some(primary), true) => {
                self.phase(rep, "checking that replicas converge on the primary's records")?;
                Some(converge(&stack, driver.as_ref(), primary, self.sc().checks.convergence_timeout_ms).await)
            }
            _ => None,
        };
        self.phase(rep, "checking the history")?;
        let history = crate::history::path_in(&self.dir);
        let (mut checker, hist) =
            Checker::from_history(&history).map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
        let runs = std::mem::take(&mut checker.runs);
        let answered = ex.failover.as_ref().and_then(|f| f.answered_fault);
        let sc = self.sc();
        let targets = crate::scenario::Targets { converge: sc.targets.converge && can_converge, ..sc.targets.clone() };
        let a = checker
            .finish(&hist.events, answered, read.as_ref(), convergence.as_ref(), &sc.checks, &targets)
            .map_err(|e| Error::infra("failed to check the history").cause(e))?;
        let cleanup = match (&external, sc.stack.cleanup) {
            (Some(e), true) => Some(self.cleanup(rep, e, &stack).await),
            _ => None,
        };
        let end_ns = hist.events.last().map(|e| e.t_ns).unwrap_or(0).max(ex.clock.now_ns());
        let wall = |ns: u64| (ex.clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64)).to_rfc3339();
        let identity = (sc.name.clone(), self.run_id.clone(), wall(0), wall(end_ns));
        let info = stack_info(sc, &stack, &health);
        let phases = driver.orchestrator().map(|o| {
            let f = ex.failover.as_ref();
            let (old, new) = (f.and_then(|f| f.old_primary.clone()), f.and_then(|f| f.new_primary.clone()));
            let planned = answered.and_then(|i| sc.faults.get(i)).is_some_and(|f| f.kind == crate::scenario::FaultKind::Switchover);
            orchestrator_phases(
                o.name(),
                planned,
                &hist.events,
                answered,
                old,
                new,
                &runs,
                (a.rto.from_ms, a.rto.recovered_at_ms),
                o.budgets(),
            )
        });
        let isolated_primary = ex.isolated.map(|(info, rb)| super::isolated::judge(info, &rb, a.rpo.as_ref(), &self.dir));
        let assembled = Results::assemble(identity, a, info, ex.failover, convergence, hist.events, errors);
        let steady_state =
            (!sc.steady_state.probes.is_empty()).then_some(SteadyStateReport { before: steady_before, after: ex.steady_after });
        let (start, end, writes) = ex.usage;
        let harness = Some(crate::usage::HarnessUsage::between(start, end, writes));
        let mut results =
            Results { engine: self.docker.engine.clone(), phases, isolated_primary, steady_state, cleanup, harness, ..assembled };
        if !self.baseline.is_empty() {
            results.comparison = Some(crate::suite::compare(&self.baseline, &results));
        }
        rep.emit(DrillEvent::Finished(&results))?;
        Ok(results)
    }

    async fn start_stack(&self, rep: &mut Reporters, driver: &dyn Driver) -> Result<Arc<Stack>> {
        let sc = self.sc();
        let names = sc.stack.node_names();
        let image = sc.stack.image();
        let proxy = match &sc.proxy {
            Some(p) => {
                let img = match &p.image {
                    Some(i) => i.clone(),
                    None => {
                        self.phase(rep, "preparing the proxy image (drdrill proxy)")?;
                        docker::ensure_proxy_image(&self.docker).await?
                    }
                };
                Some((p, img))
            }
            None => None,
        };
        self.phase(rep, &format!("starting {} nodes ({image}): {}", names.len(), names.join(", ")))?;
        let plan = StackPlan { run_id: &self.run_id, image: &image, names: &names, labels: &self.labels, proxy };
        let stack = Arc::new(Stack::start(&self.docker, driver, plan).await?);
        self.live.with(|l| l.stack = Some(stack.clone()));
        driver.require_deployment()?.started(&stack).await?;
        if let Some(p) = &stack.proxy {
            let what = [("clients", p.clients), ("replication", p.replication)].iter().filter(|x| x.1).map(|x| x.0).collect::<Vec<_>>();
            rep.emit(DrillEvent::Info(&format!("proxy API -> {} ({} through the proxy)", p.api, what.join(" and "))))?;
        }
        for n in stack.nodes.iter().chain(&stack.services) {
            let via = if n.client_port != n.host_port { format!(", clients via {}", n.client_addr()) } else { String::new() };
            rep.emit(DrillEvent::Info(&format!("{} -> {}{via}", n.name, n.addr())))?;
        }
        Ok(stack)
    }

    /// An external stack: its endpoint and nodes, resolved; nothing is started.
    async fn attach_external(&self, rep: &mut Reporters) -> Result<Arc<Stack>> {
        let (nodes, endpoint) = crate::stack::external_plan(&self.sc().stack).await?;
        let first = nodes[0].name.clone();
        self.phase(rep, &format!("attaching to the external stack: clients via {}", endpoint.addr()))?;
        for n in &nodes {
            rep.emit(DrillEvent::Info(&format!("{} -> {}", n.name, n.addr())))?;
        }
        let stack = Arc::new(Stack::external(&self.docker, &self.run_id, nodes, endpoint, &first));
        self.live.with(|l| l.stack = Some(stack.clone()));
        Ok(stack)
    }

    async fn steady_before(&self, rep: &mut Reporters, stack: &Stack) -> Result<Vec<ProbeResult>> {
        if self.sc().steady_state.probes.is_empty() {
            return Ok(Vec::new());
        }
        self.phase(rep, "checking the steady state")?;
        let r = steady_before(self.sc(), &stack.action_env()).await?;
        for p in &r {
            rep.emit(DrillEvent::Info(&format!("steady state: {} ({})", p.probe, p.detail)))?;
        }
        Ok(r)
    }

    async fn cleanup(&self, rep: &mut Reporters, e: &External, stack: &Stack) -> String {
        let addr = match stack.node(&stack.primary()) {
            Ok(n) => n.addr(),
            Err(_) => return "not cleaned up: no primary".into(),
        };
        let text = match e.cleanup(addr).await {
            Ok(t) => t,
            Err(err) => format!("cleanup failed: {}", err.one_line()),
        };
        let _ = rep.emit(DrillEvent::Info(&text));
        text
    }

    async fn wait_healthy(&self, rep: &mut Reporters, driver: &dyn Driver, stack: &Stack) -> Result<Vec<ReplicaHealth>> {
        self.phase(rep, "waiting for replication to be healthy")?;
        let timeout = Duration::from_millis(self.sc().stack.healthy_timeout_ms);
        let hint = format!("container logs are in {}", self.dir.join("logs").display());
        let health = driver.wait_healthy(stack, timeout).await.map_err(|e| e.hint(hint))?;
        for h in &health {
            rep.emit(DrillEvent::Info(&format!("{} {} (lag {} bytes)", h.node, h.state, h.lag_bytes)))?;
        }
        self.live.with(|l| l.health = health.clone());
        driver.data().prepare(stack.node(&stack.primary())?.addr()).await?;
        Ok(health)
    }

    /// Workload, faults and failover on one clock, until every fault has fired and the
    /// failover is done (or the workload's bound), then `after_recovery_ms` more.
    async fn exercise(
        &self,
        rep: &mut Reporters,
        driver: &Arc<dyn Driver>,
        stack: &Arc<Stack>,
        primary: &str,
        before: &[(String, crate::action::Outcome)],
    ) -> Result<Exercised> {
        let sc = self.sc();
        let clock = Clock::start();
        let header =
            Entry::Header { scenario: sc.name.clone(), run_id: self.run_id.clone(), wall_clock_anchor: clock.wall_anchor.to_rfc3339() };
        let (recorder, rec) = Recorder::start(&self.dir.join(crate::history::FILE), clock, header)
            .map_err(|e| Error::infra(format!("failed to create {}", crate::history::FILE)).cause(e))?;
        self.live.with(|l| l.clock = Some(clock));
        record_before(&rec, before).await;
        self.phase(rep, &format!("workload: {} writers, {}", sc.workload.writers, rate_text(sc)))?;
        rec.event(EventKind::WorkloadStart, None, Some(primary), "").await;
        let cpu_start = crate::usage::Sample::now();
        let target = match driver.client_entry() {
            Some(entry) => ClientTarget { node: entry.to_string(), addr: stack.service(entry)?.client_addr() },
            None => ClientTarget { node: primary.to_string(), addr: stack.node(primary)?.client_addr() },
        };
        let (client_tx, client_rx) = watch::channel(target);
        let workload = Workload::start(&sc.workload, driver.clone(), client_rx, rec.clone());
        let (fault_tx, mut fault_rx) = mpsc::unbounded_channel();
        let isolated = IsolatedWatch::default();
        let hook = driver.orchestrator().map(|_| isolated.hook(driver.clone(), stack.clone(), primary.to_string(), clock));
        let schedule = FaultSchedule::start(stack.clone(), sc.faults.clone(), rec.clone(), self.ledger.clone(), fault_tx, hook);
        let (fo_tx, fo_rx) = mpsc::unbounded_channel();
        // closed once the schedule is done, so a delay trigger with no fault to answer ends
        let mut fo_tx = Some(fo_tx);
        let mut failover = match (sc.failover_mode(), driver.orchestrator()) {
            (Some(FailoverMode::Orchestrator), Some(orch)) => Some(tokio::spawn(run_orchestrated(orch, stack.clone(), rec.clone(), fo_rx))),
            (Some(FailoverMode::Orchestrator), None) => return Err(Error::infra("this stack has no orchestrator to watch (a bug)")),
            _ => sc
                .failover
                .clone()
                .map(|plan| tokio::spawn(run_failover(plan, stack.clone(), driver.clone(), rec.clone(), fo_rx, client_tx.clone()))),
        };
        self.live.with(|l| {
            l.failover = failover.as_ref().map(|f| f.abort_handle());
            l.workload = Some(workload);
            l.schedule = Some(schedule);
            l.rec = Some(rec.clone());
            l.recorder = Some(recorder);
        });
        let deadline = Instant::from_std(clock.instant_at(crate::clock::ms_to_ns(sc.workload.max_duration_ms)));
        let mut faults_done = sc.faults.is_empty();
        let mut report: Option<FailoverReport> = None;
        // boxed so it can be dropped before the recorder finishes: it holds a recorder handle
        let mut abort: Abort = Box::pin(abort_watch(sc.abort_when.clone(), rec.clone(), stack.action_env()));
        // the deadline or an abort ended the exercise: nothing more is written
        let mut cut_short = false;
        while !(faults_done && (failover.is_none() || report.is_some())) {
            tokio::select! {
                n = fault_rx.recv(), if fo_tx.is_some() || !faults_done => match n {
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
                        faults_done = true;
                        fo_tx = None;
                    }
                },
                r = async { failover.as_mut().expect("guarded").await }, if failover.is_some() && report.is_none() => {
                    let r = r.map_err(|e| Error::infra("failed to run the failover: drdrill panicked (a bug; please report it)").cause_text(e.to_string()))?;
                    let text = match (&r.new_primary, &r.error) {
                        (Some(p), _) => format!("failover done: {} -> {p}", r.old_primary.clone().unwrap_or_default()),
                        (None, Some(e)) => format!("failover failed: {e}"),
                        _ => "failover did not trigger".to_string(),
                    };
                    rep.emit(DrillEvent::Step { t_ms: clock.now_ns() as f64 / 1e6, text: &text })?;
                    report = Some(r);
                },
                _ = tokio::time::sleep_until(deadline) => {
                    rep.emit(DrillEvent::Info("workload.max_duration_ms reached before recovery"))?;
                    cut_short = true;
                    break;
                }
                why = &mut abort => {
                    self.abort(rep, &rec, stack, &why).await?;
                    cut_short = true;
                    break;
                }
            }
        }
        drop(fo_tx);
        if !cut_short {
            // nothing but the clients can tell when a stack without a failover plan or watcher recovered
            let live = sc.failover_mode().is_none();
            self.write_after_recovery(rep, driver.as_ref(), &rec, stack, live, deadline, &mut abort).await?;
        }
        self.phase(rep, "stopping the workload")?;
        rec.event(EventKind::WorkloadStop, None, None, "").await;
        let (workload, schedule, recorder) = self.live.with(|l| (l.workload.take(), l.schedule.take(), l.recorder.take()));
        let end = workload.expect("started above").stop().await;
        let usage = (cpu_start, crate::usage::Sample::now(), end.ops);
        if let Some(s) = schedule {
            s.heal_all(stack, &rec).await; // (already done after an abort)
        }
        if let Some(env) = self.live.with(|l| l.after_pending.take()) {
            for line in after_hooks(&sc.hooks.after, &env, Some(&rec)).await {
                rep.emit(DrillEvent::Info(&line))?;
            }
        }
        let steady_after = match sc.steady_state.probes.is_empty() {
            true => Vec::new(),
            false => steady_after(sc, &stack.action_env(), &rec).await,
        };
        if let Some(task) = failover.take().filter(|_| report.is_none()) {
            task.abort();
            rec.event(EventKind::Note, None, None, "failover never triggered").await;
        }
        self.live.with(|l| l.rec = None);
        drop(abort);
        drop(rec);
        drop(client_tx);
        recorder
            .expect("started above")
            .finish()
            .await
            .map_err(|e| Error::infra(format!("failed to write {}", crate::history::FILE)).cause(e))?;
        if !end.panics.is_empty() {
            return Err(
                Error::infra("failed to run the workload: a writer panicked (a bug; please report it)").cause_text(end.panics.join("; "))
            );
        }
        rep.emit(DrillEvent::Info(&format!("{} writes recorded in {}", end.ops, crate::history::FILE)))?;
        let isolated = isolated.finish(stack, primary).await;
        Ok(Exercised { clock, failover: report, isolated, steady_after, usage })
    }

    /// Keeps the workload writing `after_recovery_ms` past recovery: past the failover's end
    /// (plus an orchestrator's reroute budget), or, when `live`, past the clients' own
    /// recovery as they are seen writing again (`recovered.rs`); never past `deadline`.
    #[allow(clippy::too_many_arguments)]
    async fn write_after_recovery(
        &self,
        rep: &mut Reporters,
        driver: &dyn Driver,
        rec: &RecorderHandle,
        stack: &Stack,
        live: bool,
        deadline: Instant,
        abort: &mut Abort,
    ) -> Result<()> {
        let more = self.sc().workload.after_recovery_ms;
        let Some(mut watch) = live.then(|| ClientsRecovery::new(rec.clone())) else {
            // an orchestrator's promotion is not the clients' recovery: they also get the
            // reroute budget its settings imply (HAProxy's checks)
            let reroute = driver.orchestrator().and_then(|o| o.budgets().reroute_ms).map_or(0, |ms| ms.max(0.0) as u64);
            let why = if reroute > 0 { format!(" ({reroute} ms reroute budget + after_recovery_ms)") } else { String::new() };
            let hold = more.saturating_add(reroute);
            self.phase(rep, &format!("writing for {hold} ms more after recovery{why}"))?;
            let end = Instant::now() + Duration::from_millis(hold);
            return tokio::select! {
                _ = tokio::time::sleep_until(end.min(deadline)) => Ok(()),
                why = abort.as_mut() => self.abort(rep, rec, stack, &why).await,
            };
        };
        let text = "waiting for the clients to recover (no failover plan: their first acknowledged write after the outage is the recovery)";
        self.phase(rep, text)?;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.report_clients(rep, rec, &mut watch, more)?;
                    if watch.held_for(more) {
                        return Ok(());
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    rep.emit(DrillEvent::Info("workload.max_duration_ms reached before the clients recovered"))?;
                    return Ok(());
                }
                why = abort.as_mut() => return self.abort(rep, rec, stack, &why).await,
            }
        }
    }

    /// Polls the clients and says what changed; a flapping stack is told of three times.
    fn report_clients(&self, rep: &mut Reporters, rec: &RecorderHandle, watch: &mut ClientsRecovery, more: u64) -> Result<()> {
        let t_ms = rec.clock.now_ns() as f64 / 1e6;
        match watch.poll() {
            Seen::Recovered if watch.relapses <= 3 => {
                rep.emit(DrillEvent::Step { t_ms, text: "clients recovered: writes acknowledged again" })?;
                self.phase(rep, &format!("writing for {more} ms more after the clients recovered"))
            }
            Seen::Relapsed if watch.relapses <= 3 => {
                rep.emit(DrillEvent::Step { t_ms, text: "clients failed again: waiting for them to recover" })
            }
            _ => Ok(()),
        }
    }

    /// An `abort_when` condition held: record it; the caller stops the faults (no more
    /// fire), heals, runs the `after` hooks and judges (verdict fail).
    async fn abort(&self, rep: &mut Reporters, rec: &RecorderHandle, stack: &Stack, why: &str) -> Result<()> {
        rec.event(EventKind::Aborted, None, None, why.to_string()).await;
        rep.emit(DrillEvent::Step { t_ms: rec.clock.now_ns() as f64 / 1e6, text: &format!("ABORTED: {why}; healing") })?;
        if let Some(s) = self.live.with(|l| l.schedule.take()) {
            s.heal_all(stack, rec).await;
        }
        Ok(())
    }

    async fn read_back(&self, driver: &dyn Driver, stack: &Stack) -> Result<ReadBack> {
        let addr = stack.node(&stack.primary())?.addr();
        retry_until(Duration::from_secs(30), Duration::from_millis(500), || driver.data().read_back(addr)).await
    }
}

/// The stack as results.json describes it.
pub(super) fn stack_info(sc: &Scenario, stack: &Stack, health: &[ReplicaHealth]) -> StackInfo {
    let mut info = StackInfo::planned(sc);
    info.initial_primary = stack.initial_primary();
    info.final_primary = stack.primary();
    info.nodes =
        stack.nodes.iter().map(|n| NodeInfo { name: n.name.clone(), container: n.container.clone(), host_port: n.host_port }).collect();
    info.replication_at_start = health.to_vec();
    info
}

fn rate_text(sc: &Scenario) -> String {
    match sc.workload.rate_per_s {
        Some(r) => format!("{r} writes/s each"),
        None => "unthrottled".into(),
    }
}
