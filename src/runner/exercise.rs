//! The exercise phase: the workload, the faults and the recovery on one clock, until every
//! fault has fired and the recovery is done (or the workload's bound), then
//! `after_recovery_ms` more; then everything stops in order and the history is closed.
use super::actions::{after_hooks, record_before, steady_after};
use super::drill::Drill;
use super::isolated::IsolatedWatch;
use super::service::Service;
use crate::action::ProbeResult;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::failover::{FailoverReport, Scene};
use crate::fault::{FaultNotice, FaultSchedule};
use crate::history::{Entry, EventKind, Recorder, RecorderHandle};
use crate::report::{DrillEvent, IsolatedPrimary, Reporters};
use crate::stack::ReadBack;
use crate::workload::Workload;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The `abort_when` watch: resolves with the reason once a condition holds.
pub(super) type Abort = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// What the exercise phase leaves for judging.
pub(super) struct Exercised {
    pub clock: Clock,
    pub failover: Option<FailoverReport>,
    /// The old primary's records, read just before the heal that let it rejoin.
    pub isolated: Option<(IsolatedPrimary, ReadBack)>,
    pub steady_after: Vec<ProbeResult>,
    /// CPU and time at the workload's start and end, and the writes made in between.
    pub usage: (crate::usage::Sample, crate::usage::Sample, u64),
}

/// The recovery running beside the workload, and the fault notices it is fed.
struct Recovering {
    task: Option<JoinHandle<FailoverReport>>,
    /// Closed once the schedule is done, so a delay trigger with no fault to answer ends.
    notices: Option<mpsc::UnboundedSender<FaultNotice>>,
    report: Option<FailoverReport>,
}

impl Drill<'_> {
    pub(super) async fn exercise(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        primary: &str,
        before: &[(String, crate::action::Outcome)],
    ) -> Result<Exercised> {
        let sc = self.sc();
        let (clock, rec) = self.open_history()?;
        record_before(&rec, before).await;
        self.phase(rep, &format!("workload: {} writers, {}", sc.workload.writers, rate_text(sc)))?;
        rec.event(EventKind::WorkloadStart, None, Some(primary), "").await;
        let cpu_start = crate::usage::Sample::now();
        let (client_tx, client_rx) = watch::channel(svc.client_target(primary)?);
        let workload = Workload::start(&sc.workload, svc.driver.clone(), client_rx, rec.clone());
        let (fault_tx, fault_rx) = mpsc::unbounded_channel();
        let isolated = IsolatedWatch::default();
        let hook = svc.driver.orchestrator().map(|_| isolated.hook(svc.driver.clone(), svc.stack.clone(), primary.to_string(), clock));
        let schedule = FaultSchedule::start(svc.stack.clone(), sc.faults.clone(), rec.clone(), self.ledger.clone(), fault_tx, hook);
        let scene = Scene { stack: svc.stack.clone(), driver: svc.driver.clone(), rec: rec.clone(), clients: client_tx.clone() };
        let mut recovering = start_recovery(svc, scene);
        self.live.with(|l| {
            l.failover = recovering.task.as_ref().map(|f| f.abort_handle());
            l.workload = Some(workload);
            l.schedule = Some(schedule);
            l.rec = Some(rec.clone());
        });
        let deadline = Instant::from_std(clock.instant_at(crate::clock::ms_to_ns(sc.workload.max_duration_ms)));
        // boxed so it can be dropped before the recorder finishes: it holds a recorder handle
        let mut abort: Abort = Box::pin(super::actions::abort_watch(sc.abort_when.clone(), rec.clone(), svc.stack.action_env()));
        let cut_short = self.until_recovered(rep, svc, &rec, fault_rx, &mut recovering, deadline, &mut abort).await?;
        recovering.notices = None;
        if !cut_short {
            self.write_after_recovery(rep, svc, &rec, deadline, &mut abort).await?;
        }
        let end = self.stop(rep, svc, &rec, &mut recovering).await?;
        self.live.with(|l| l.rec = None);
        drop((abort, rec, client_tx));
        self.close_history().await?;
        if !end.panics.is_empty() {
            let e = Error::infra("failed to run the workload: a writer panicked (a bug; please report it)");
            return Err(e.cause_text(end.panics.join("; ")));
        }
        rep.emit(DrillEvent::Info(&format!("{} writes recorded in {}", end.ops, crate::history::FILE)))?;
        let isolated = isolated.finish(&svc.stack, primary).await;
        let usage = (cpu_start, end.cpu_end, end.ops);
        Ok(Exercised { clock, failover: recovering.report, isolated, steady_after: end.steady_after, usage })
    }

    /// Starts the clock and the history (its recorder is kept where an interrupt finds it).
    fn open_history(&self) -> Result<(Clock, RecorderHandle)> {
        let clock = Clock::start();
        let sc = self.sc();
        let header =
            Entry::Header { scenario: sc.name.clone(), run_id: self.run_id.clone(), wall_clock_anchor: clock.wall_anchor.to_rfc3339(), services: Vec::new() };
        let (recorder, rec) = Recorder::start(&self.dir.join(crate::history::FILE), clock, header)
            .map_err(|e| Error::infra(format!("failed to create {}", crate::history::FILE)).cause(e))?;
        self.live.with(|l| {
            l.clock = Some(clock);
            l.recorder = Some(recorder);
        });
        Ok((clock, rec))
    }

    async fn close_history(&self) -> Result<()> {
        let recorder = self.live.with(|l| l.recorder.take()).expect("opened by open_history");
        recorder.finish().await.map_err(|e| Error::infra(format!("failed to write {}", crate::history::FILE)).cause(e))?;
        Ok(())
    }

    /// Tells of faults and the recovery as they happen, until every fault has fired and
    /// the recovery reported; true when the deadline or an abort cut the drill short.
    #[allow(clippy::too_many_arguments)]
    async fn until_recovered(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        rec: &RecorderHandle,
        mut faults: mpsc::UnboundedReceiver<FaultNotice>,
        r: &mut Recovering,
        deadline: Instant,
        abort: &mut Abort,
    ) -> Result<bool> {
        let clock = rec.clock;
        let mut faults_done = self.sc().faults.is_empty();
        while !(faults_done && (r.task.is_none() || r.report.is_some())) {
            tokio::select! {
                n = faults.recv(), if r.notices.is_some() || !faults_done => match n {
                    Some(n) => {
                        let verb = if n.healed { "healed" } else { "injected" };
                        let text = format!("fault #{} {:?} on {} {verb}", n.injected.index, n.injected.kind, n.injected.node).to_lowercase();
                        let t_ms = if n.healed { clock.now_ns() } else { n.injected.at_ns } as f64 / 1e6;
                        rep.emit(DrillEvent::Step { t_ms, text: &text })?;
                        faults_done |= n.last;
                        if let Some(tx) = &r.notices {
                            let _ = tx.send(n);
                        }
                    }
                    None => {
                        faults_done = true;
                        r.notices = None;
                    }
                },
                done = async { r.task.as_mut().expect("guarded").await }, if r.task.is_some() && r.report.is_none() => {
                    let done = done.map_err(|e| Error::infra("failed to run the failover: drdrill panicked (a bug; please report it)").cause_text(e.to_string()))?;
                    rep.emit(DrillEvent::Step { t_ms: clock.now_ns() as f64 / 1e6, text: &recovery_text(&done) })?;
                    r.report = Some(done);
                },
                _ = tokio::time::sleep_until(deadline) => {
                    rep.emit(DrillEvent::Info("workload.max_duration_ms reached before recovery"))?;
                    return Ok(true);
                }
                why = &mut *abort => {
                    self.abort(rep, rec, svc, &why).await?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Stops the workload (writes in flight are answered or time out), heals every fault,
    /// runs the `after` hooks and the steady-state probes again, and ends a recovery that
    /// never triggered.
    async fn stop(&self, rep: &mut Reporters, svc: &Service, rec: &RecorderHandle, r: &mut Recovering) -> Result<Stopped> {
        let sc = self.sc();
        self.phase(rep, "stopping the workload")?;
        rec.event(EventKind::WorkloadStop, None, None, "").await;
        let (workload, schedule) = self.live.with(|l| (l.workload.take(), l.schedule.take()));
        let end = workload.expect("started by exercise").stop().await;
        let cpu_end = crate::usage::Sample::now();
        if let Some(s) = schedule {
            s.heal_all(&svc.stack, rec).await; // (already done after an abort)
        }
        if let Some(env) = self.live.with(|l| l.after_pending.take()) {
            for line in after_hooks(&sc.hooks.after, &env, Some(rec)).await {
                rep.emit(DrillEvent::Info(&line))?;
            }
        }
        let steady_after = match sc.steady_state.probes.is_empty() {
            true => Vec::new(),
            false => steady_after(sc, &svc.stack.action_env(), rec).await,
        };
        if let Some(task) = r.task.take().filter(|_| r.report.is_none()) {
            task.abort();
            rec.event(EventKind::Note, None, None, "failover never triggered").await;
        }
        Ok(Stopped { ops: end.ops, panics: end.panics, cpu_end, steady_after })
    }

    /// An `abort_when` condition held: record it; the caller stops the faults (no more
    /// fire), heals, runs the `after` hooks and judges (verdict fail).
    pub(super) async fn abort(&self, rep: &mut Reporters, rec: &RecorderHandle, svc: &Service, why: &str) -> Result<()> {
        rec.event(EventKind::Aborted, None, None, why.to_string()).await;
        rep.emit(DrillEvent::Step { t_ms: rec.clock.now_ns() as f64 / 1e6, text: &format!("ABORTED: {why}; healing") })?;
        if let Some(s) = self.live.with(|l| l.schedule.take()) {
            s.heal_all(&svc.stack, rec).await;
        }
        Ok(())
    }
}

/// How the workload ended.
struct Stopped {
    ops: u64,
    panics: Vec<String>,
    cpu_end: crate::usage::Sample,
    steady_after: Vec<ProbeResult>,
}

fn start_recovery(svc: &Service, scene: Scene) -> Recovering {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = svc.recovery.clone().map(|r| tokio::spawn(async move { r.run(scene, rx).await }));
    Recovering { task, notices: Some(tx), report: None }
}

fn recovery_text(r: &FailoverReport) -> String {
    match (&r.new_primary, &r.error) {
        (Some(p), _) => format!("failover done: {} -> {p}", r.old_primary.clone().unwrap_or_default()),
        (None, Some(e)) => format!("failover failed: {e}"),
        _ => "failover did not trigger".to_string(),
    }
}

fn rate_text(sc: &crate::scenario::Scenario) -> String {
    match sc.workload.rate_per_s {
        Some(r) => format!("{r} writes/s each"),
        None => "unthrottled".into(),
    }
}
