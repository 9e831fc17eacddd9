//! The exercise phase: every service's workload, faults and recovery on one clock, until
//! every fault has fired and every recovery is done (or the workloads' bound), then
//! `after_recovery_ms` more; then everything stops in order and the history is closed.
use super::actions::{after_hooks, record_before, steady_after};
use super::isolated::IsolatedWatch;
use super::monitoring::{heal_monitoring, monitoring_hook};
use super::state::{Drill, Service};
use crate::action::ProbeResult;
use crate::clock::Clock;
use crate::docker::cgroup::{Counters, counters};
use crate::error::{Error, Result};
use crate::failover::{FailoverReport, Scene};
use crate::fault::{FaultNotice, FaultSchedule};
use crate::history::{Entry, EventKind, Recorder, RecorderHandle};
use crate::report::{DrillEvent, IsolatedPrimary, Reporters};
use crate::stack::ReadBack;
use crate::workload::{ClientRoute, Workload};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream, FuturesUnordered};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The `abort_when` watch: resolves with the reason once a condition holds.
pub(super) type Abort = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// What the exercise phase leaves for judging.
pub(super) struct Exercised {
    pub clock: Clock,
    /// Each service's recovery report (None: it never reported), in service order.
    pub failovers: Vec<Option<FailoverReport>>,
    /// Each service's isolated old primary's records, read just before the heal that let
    /// it rejoin.
    pub isolated: Vec<Option<(IsolatedPrimary, ReadBack)>>,
    pub steady_after: Vec<ProbeResult>,
    /// CPU and time at the workloads' start and end, and the writes made in between.
    pub usage: (crate::usage::Sample, crate::usage::Sample, u64),
    /// Every drill container's cgroup counters at the workloads' start and end.
    pub containers: (Vec<Counters>, Vec<Counters>),
}

/// One service while it is exercised.
pub(super) struct Running {
    pub rec: RecorderHandle,
    pub primary: String,
    /// Kept for the recovery's repoints while the service runs.
    route: ClientRoute,
    isolated: IsolatedWatch,
    /// Closed once the service's schedule is done, so a delay trigger with no fault to
    /// answer ends.
    notices: Option<mpsc::UnboundedSender<FaultNotice>>,
    recovery: Option<tokio::task::AbortHandle>,
    pub report: Option<FailoverReport>,
    faults_done: bool,
    /// The replica-lag measurement, when the service has one.
    lag: Option<crate::lag::LagMonitor>,
}

type Notices = stream::SelectAll<BoxStream<'static, (usize, Option<FaultNotice>)>>;
type Reported =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, std::result::Result<FailoverReport, tokio::task::JoinError>)> + Send>>;

/// Each service's recovery report and its isolated old primary's records, once stopped.
async fn finish_services(svcs: &[Service], run: Vec<Running>) -> (Vec<Option<FailoverReport>>, Vec<Option<(IsolatedPrimary, ReadBack)>>) {
    let (mut failovers, mut isolated) = (Vec::new(), Vec::new());
    for (svc, r) in svcs.iter().zip(run) {
        isolated.push(r.isolated.finish(&svc.stack, &r.primary).await);
        failovers.push(r.report);
        drop((r.rec, r.route));
    }
    (failovers, isolated)
}

impl Drill<'_> {
    pub(super) async fn exercise(
        &self,
        rep: &mut Reporters,
        svcs: &[Service],
        before: &[(String, crate::action::Outcome)],
    ) -> Result<Exercised> {
        let sc = self.sc();
        let (clock, rec) = self.open_history()?;
        let lag_file = self.open_lag_file(svcs)?;
        record_before(&rec, before).await;
        let containers_start = counters(&self.docker, &self.run_id).await;
        let cpu_start = crate::usage::Sample::now();
        let (mut run, notices, reported) = self.start_all(rep, svcs, clock, &rec, lag_file.as_ref().map(|f| &f.1)).await?;
        self.live.with(|l| l.rec = Some(rec.clone()));
        if let Some(m) = self.monitor.get() {
            m.watch(clock);
        }
        // the longest of the services' bounds (each its own workload.max_duration_ms)
        let bound = super::timing::workload_bound_ms(svcs.iter().map(Service::sc), sc);
        let deadline = Instant::from_std(clock.instant_at(crate::clock::ms_to_ns(bound)));
        // boxed so it can be dropped before the recorder finishes: it holds a recorder handle
        let mut abort: Abort = Box::pin(super::actions::abort_watch(sc.abort_when.clone(), rec.clone(), super::state::drill_env(svcs)));
        let cut_short = self.until_recovered(rep, svcs, &rec, &mut run, (notices, reported), deadline, &mut abort).await?;
        for r in run.iter_mut() {
            r.notices = None;
        }
        if !cut_short {
            self.write_after_recovery(rep, svcs, &rec, &run, deadline, &mut abort).await?;
        }
        let end = self.stop(rep, svcs, &rec, &mut run).await?;
        self.live.with(|l| {
            l.rec = None;
            l.recs.clear();
        });
        let (failovers, isolated) = finish_services(svcs, run).await;
        drop((abort, rec));
        self.close_files(lag_file).await?;
        if !end.panics.is_empty() {
            let e = Error::infra("failed to run the workload: a writer panicked (a bug; please report it)");
            return Err(e.cause_text(end.panics.join("; ")));
        }
        rep.emit(DrillEvent::Info(&format!("{} writes recorded in {}", end.ops, crate::history::FILE)))?;
        let usage = (cpu_start, end.cpu_end, end.ops);
        let containers = (containers_start, end.containers_end);
        Ok(Exercised { clock, failovers, isolated, steady_after: end.steady_after, usage, containers })
    }

    /// Starts every service's workload, fault schedule and recovery: each service's
    /// fault notices (closed by a None once its schedule ends) and recovery reports.
    async fn start_all(
        &self,
        rep: &mut Reporters,
        svcs: &[Service],
        clock: Clock,
        rec: &RecorderHandle,
        lag_sink: Option<&crate::lag::LagSink>,
    ) -> Result<(Vec<Running>, Notices, FuturesUnordered<Reported>)> {
        let (mut run, mut notices, reported) = (Vec::new(), Vec::new(), FuturesUnordered::<Reported>::new());
        for (i, svc) in svcs.iter().enumerate() {
            let lag = self.start_lag(rep, svc, clock, lag_sink).await?;
            let (r, faults, task) = self.start_service(rep, svc, rec, lag).await?;
            notices.push(
                stream::unfold(faults, |mut rx| async { rx.recv().await.map(|n| (n, rx)) })
                    .map(move |n| (i, Some(n)))
                    .chain(stream::once(async move { (i, None) }))
                    .boxed(),
            );
            if let Some(t) = task {
                reported.push(Box::pin(async move { (i, t.await) }));
            }
            run.push(r);
        }
        Ok((run, stream::select_all(notices), reported))
    }

    /// Closes the history and the replica-lag file once nothing records any more.
    async fn close_files(&self, lag_file: Option<(crate::lag::LagFile, crate::lag::LagSink)>) -> Result<()> {
        self.close_history().await?;
        if let Some((file, sink)) = lag_file {
            drop(sink);
            file.finish().map_err(|e| Error::infra(format!("failed to write {}", crate::lag::FILE)).cause(e))?;
        }
        Ok(())
    }

    /// Starts one service's workload, fault schedule and recovery.
    #[allow(clippy::type_complexity)]
    async fn start_service(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        rec: &RecorderHandle,
        lag: Option<crate::lag::LagMonitor>,
    ) -> Result<(Running, mpsc::UnboundedReceiver<FaultNotice>, Option<tokio::task::JoinHandle<FailoverReport>>)> {
        let sc = svc.sc();
        let rec = if svc.plan.tagged { rec.for_service(&svc.plan.name) } else { rec.clone() };
        let primary = svc.stack.primary();
        self.phase(rep, &svc.say(&format!("workload: {} writers, {}", sc.workload.writers, rate_text(sc))))?;
        rec.event(EventKind::WorkloadStart, None, Some(&primary), "").await;
        let (route, client_rx) = ClientRoute::new(svc.client_target(&primary, self.dns.get())?, self.dns.get().cloned());
        let workload = Workload::start(&sc.workload, svc.driver.clone(), client_rx, &svc.writer_homes()?, rec.clone());
        svc.members.start(&svc.driver, &svc.stack, rec.clock, rec.clone());
        let (fault_tx, fault_rx) = mpsc::unbounded_channel();
        let isolated = IsolatedWatch::default();
        let hook = svc.driver.orchestrator().map(|_| isolated.hook(svc.driver.clone(), svc.stack.clone(), primary.clone(), rec.clock));
        let hook = monitoring_hook(self, hook);
        let faults = svc.plan.faults.iter().copied().zip(sc.faults.iter().cloned()).collect();
        let schedule = FaultSchedule::start(svc.stack.clone(), faults, rec.clone(), self.ledger.clone(), fault_tx, hook);
        let scene = Scene { stack: svc.stack.clone(), driver: svc.driver.clone(), rec: rec.clone(), clients: route.clone() };
        let (tx, rx) = mpsc::unbounded_channel();
        let task = svc.recovery.clone().map(|r| tokio::spawn(async move { r.run(scene, rx).await }));
        let recovery = task.as_ref().map(|t| t.abort_handle());
        self.live.with(|l| {
            l.failovers.extend(recovery.clone());
            l.workloads.push(workload);
            l.schedules.push(schedule);
            l.recs.push((svc.plan.name.clone(), rec.clone()));
        });
        let faults_done = sc.faults.is_empty();
        let r = Running { rec, primary, route, isolated, notices: Some(tx), recovery, report: None, faults_done, lag };
        Ok((r, fault_rx, task))
    }

    /// The drill's replica-lag file, when a service measures lag.
    fn open_lag_file(&self, svcs: &[Service]) -> Result<Option<(crate::lag::LagFile, crate::lag::LagSink)>> {
        if svcs.iter().all(|s| s.sc().replica_lag().is_none()) {
            return Ok(None);
        }
        let path = crate::lag::path_in(&self.dir);
        let f = crate::lag::LagFile::create(&path).map_err(|e| Error::infra(format!("failed to create {}", path.display())).cause(e))?;
        Ok(Some(f))
    }

    /// Starts a service's replica-lag measurement (heartbeat, readers, engine samples).
    async fn start_lag(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        clock: Clock,
        sink: Option<&crate::lag::LagSink>,
    ) -> Result<Option<crate::lag::LagMonitor>> {
        let (Some(spec), Some(sink)) = (svc.sc().replica_lag(), sink) else { return Ok(None) };
        let text = format!("replica lag: heartbeat every {} ms, each replica read every {} ms", spec.heartbeat_ms, spec.poll_ms);
        self.phase(rep, &svc.say(&text))?;
        let service = svc.plan.tagged.then(|| svc.plan.name.clone());
        let m = crate::lag::LagMonitor::start(&spec, svc.stack.clone(), svc.driver.clone(), clock, sink.clone(), service).await?;
        Ok(Some(m))
    }

    /// Starts the clock and the history (its recorder is kept where an interrupt finds it).
    fn open_history(&self) -> Result<(Clock, RecorderHandle)> {
        let clock = Clock::start();
        let services = match self.loaded.several() {
            true => self.loaded.services.iter().map(|s| s.name.clone()).collect(),
            false => Vec::new(),
        };
        let (scenario, run_id, wall_clock_anchor) = (self.sc().name.clone(), self.run_id.clone(), clock.wall_anchor.to_rfc3339());
        let header = Entry::Header { scenario, run_id, wall_clock_anchor, services };
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

    /// Tells of faults and recoveries as they happen, until every service's faults have
    /// fired and its recovery reported; true when the deadline or an abort cut it short.
    #[allow(clippy::too_many_arguments)]
    async fn until_recovered(
        &self,
        rep: &mut Reporters,
        svcs: &[Service],
        rec: &RecorderHandle,
        run: &mut [Running],
        (mut notices, mut reported): (Notices, FuturesUnordered<Reported>),
        deadline: Instant,
        abort: &mut Abort,
    ) -> Result<bool> {
        let clock = rec.clock;
        let done = |run: &[Running]| run.iter().all(|r| r.faults_done && (r.recovery.is_none() || r.report.is_some()));
        while !done(run) {
            tokio::select! {
                Some((i, n)) = notices.next() => match n {
                    Some(n) => {
                        let verb = if n.healed { "healed" } else { "injected" };
                        let kind = crate::scenario::kind_name(n.injected.kind);
                        let text = format!("fault #{} {kind} on {} {verb}", n.injected.index, n.injected.node);
                        let t_ms = if n.healed { clock.now_ns() } else { n.injected.at_ns } as f64 / 1e6;
                        rep.emit(DrillEvent::Step { t_ms, text: &text })?;
                        run[i].faults_done |= n.last;
                        if let Some(tx) = &run[i].notices {
                            let _ = tx.send(n);
                        }
                    }
                    None => {
                        run[i].faults_done = true;
                        run[i].notices = None;
                    }
                },
                Some((i, r)) = reported.next() => {
                    let r = r.map_err(|e| Error::infra("failed to run the failover: drdrill panicked (a bug; please report it)").cause_text(e.to_string()))?;
                    rep.emit(DrillEvent::Step { t_ms: clock.now_ns() as f64 / 1e6, text: &svcs[i].say(&recovery_text(&r)) })?;
                    run[i].report = Some(r);
                },
                _ = tokio::time::sleep_until(deadline) => {
                    rep.emit(DrillEvent::Info("workload.max_duration_ms reached before recovery"))?;
                    return Ok(true);
                }
                why = &mut *abort => {
                    self.abort(rep, rec, svcs, &why).await?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Stops the workloads together (writes in flight are answered or time out), heals
    /// every fault, runs the `after` hooks and the steady-state probes again, and ends a
    /// recovery that never triggered.
    async fn stop(&self, rep: &mut Reporters, svcs: &[Service], rec: &RecorderHandle, run: &mut [Running]) -> Result<Stopped> {
        let sc = self.sc();
        self.phase(rep, "stopping the workload")?;
        for r in run.iter() {
            r.rec.event(EventKind::WorkloadStop, None, None, "").await;
        }
        let (workloads, schedules) = self.live.with(|l| (std::mem::take(&mut l.workloads), std::mem::take(&mut l.schedules)));
        let ends = futures_util::future::join_all(workloads.into_iter().map(|w| w.stop())).await;
        // the history closes once nothing records: the membership watch goes on without it
        svcs.iter().for_each(|s| s.members.detach_history());
        let cpu_end = crate::usage::Sample::now();
        let containers_end = counters(&self.docker, &self.run_id).await;
        futures_util::future::join_all(run.iter_mut().filter_map(|r| r.lag.take()).map(|m| m.stop())).await;
        for ((s, svc), r) in schedules.into_iter().zip(svcs).zip(run.iter()) {
            s.heal_all(&svc.stack, &r.rec).await; // (already done after an abort)
        }
        heal_monitoring(self).await;
        if let Some(env) = self.live.with(|l| l.after_pending.take()) {
            for line in after_hooks(&sc.hooks.after, &env, Some(rec)).await {
                rep.emit(DrillEvent::Info(&line))?;
            }
        }
        let steady_after = match sc.steady_state.probes.is_empty() {
            true => Vec::new(),
            false => steady_after(sc, &super::state::drill_env(svcs), rec).await,
        };
        for r in run.iter_mut() {
            if let Some(task) = r.recovery.take().filter(|_| r.report.is_none()) {
                task.abort();
                r.rec.event(EventKind::Note, None, None, "failover never triggered").await;
            }
        }
        let ops = ends.iter().map(|e| e.ops).sum();
        let panics = ends.into_iter().flat_map(|e| e.panics).collect();
        Ok(Stopped { ops, panics, cpu_end, containers_end, steady_after })
    }

    /// An `abort_when` condition held: record it; the caller stops the faults (no more
    /// fire), heals, runs the `after` hooks and judges (verdict fail).
    pub(super) async fn abort(&self, rep: &mut Reporters, rec: &RecorderHandle, svcs: &[Service], why: &str) -> Result<()> {
        rec.event(EventKind::Aborted, None, None, why.to_string()).await;
        rep.emit(DrillEvent::Step { t_ms: rec.clock.now_ns() as f64 / 1e6, text: &format!("ABORTED: {why}; healing") })?;
        let schedules = self.live.with(|l| std::mem::take(&mut l.schedules));
        for (s, svc) in schedules.into_iter().zip(svcs) {
            s.heal_all(&svc.stack, rec).await;
        }
        heal_monitoring(self).await;
        Ok(())
    }
}

/// How the workloads ended.
struct Stopped {
    ops: u64,
    panics: Vec<String>,
    cpu_end: crate::usage::Sample,
    containers_end: Vec<Counters>,
    steady_after: Vec<ProbeResult>,
}

fn recovery_text(r: &FailoverReport) -> String {
    match (&r.new_primary, &r.error) {
        (Some(p), None) if r.bootstrap.is_some() => format!("bootstrap done: {p} formed a new primary component; every node is a member"),
        (Some(p), _) => {
            // a promotion that had to look again for a replica says how long it looked
            let looked = r.looked_ms.filter(|ms| *ms >= 1.0).map(|ms| format!(" (looked {ms:.0} ms for a replica that answered)"));
            format!("failover done: {} -> {p}{}", r.old_primary.clone().unwrap_or_default(), looked.unwrap_or_default())
        }
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
