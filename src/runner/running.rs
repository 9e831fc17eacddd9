//! Each service while it is exercised (`Running`): its workload, fault schedule, recovery
//! and lag measurement started on the drill's clock; then stopped together, its faults
//! healed, the `after` hooks and steady-state probes run; and an `abort_when` answered.
use super::actions::{after_hooks, steady_after};
use super::isolated::IsolatedWatch;
use super::monitoring::{heal_monitoring, monitoring_hook};
use super::state::{Drill, Service, drill_env};
use crate::action::ProbeResult;
use crate::checker::IsolatedPrimary;
use crate::clock::Clock;
use crate::docker::cgroup::{Counters, counters};
use crate::error::Result;
use crate::failover::{FailoverReport, Scene};
use crate::fault::{FaultNotice, FaultSchedule};
use crate::history::{EventKind, RecorderHandle};
use crate::report::{DrillEvent, Reporters};
use crate::stack::ReadBack;
use crate::workload::{ClientRoute, Workload};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream, FuturesUnordered};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The `abort_when` watch: resolves with the reason once a condition holds.
pub(super) type Abort = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// What the exercise's waits share once every service runs: the services, the drill's own
/// handle into the history, the workloads' bound and the `abort_when` watch.
pub(super) struct Exercising<'a> {
    pub svcs: &'a [Service],
    pub rec: &'a RecorderHandle,
    pub deadline: Instant,
    pub abort: &'a mut Abort,
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
    pub notices: Option<mpsc::UnboundedSender<FaultNotice>>,
    pub recovery: Option<tokio::task::AbortHandle>,
    pub report: Option<FailoverReport>,
    pub faults_done: bool,
    /// The replica-lag measurement, when the service has one.
    lag: Option<crate::lag::LagMonitor>,
    /// Who holds the service's entry (a VIP), when its driver follows one.
    holders: Option<super::holders::HoldersWatch>,
}

pub(super) type Notices = stream::SelectAll<BoxStream<'static, (usize, Option<FaultNotice>)>>;
pub(super) type Reported =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, std::result::Result<FailoverReport, tokio::task::JoinError>)> + Send>>;

/// Starts every service's workload, fault schedule and recovery: each service's
/// fault notices (closed by a None once its schedule ends) and recovery reports.
pub(super) async fn start_all(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svcs: &[Service],
    clock: Clock,
    rec: &RecorderHandle,
    lag_sink: Option<&crate::lag::LagSink>,
) -> Result<(Vec<Running>, Notices, FuturesUnordered<Reported>)> {
    let (mut run, mut notices, reported) = (Vec::new(), Vec::new(), FuturesUnordered::<Reported>::new());
    // one schedule for every service: faults due at the same offset fire together
    let mut schedule = FaultSchedule::new(drill.ledger.clone());
    for (i, svc) in svcs.iter().enumerate() {
        let lag = start_lag(drill, rep, svc, clock, lag_sink).await?;
        let (r, faults, task) = start_service(drill, rep, svc, rec, lag, &mut schedule).await?;
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
    schedule.arm(clock);
    drill.live.with(|l| l.schedule = Some(schedule));
    Ok((run, stream::select_all(notices), reported))
}

/// Starts one service's workload and recovery, and adds its faults to `schedule`.
#[allow(clippy::type_complexity)]
async fn start_service(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svc: &Service,
    rec: &RecorderHandle,
    lag: Option<crate::lag::LagMonitor>,
    schedule: &mut FaultSchedule,
) -> Result<(Running, mpsc::UnboundedReceiver<FaultNotice>, Option<tokio::task::JoinHandle<FailoverReport>>)> {
    let sc = svc.sc();
    let rec = if svc.plan.tagged { rec.for_service(&svc.plan.name) } else { rec.clone() };
    let primary = svc.stack.primary();
    drill.phase(rep, &svc.say(&format!("workload: {} writers, {}", sc.workload.writers, rate_text(sc))))?;
    rec.event(EventKind::WorkloadStart, None, Some(&primary), "").await;
    let (route, client_rx) = ClientRoute::new(svc.client_target(&primary, drill.dns.get())?, drill.dns.get().cloned());
    let reads = svc.read_plan(&primary, &client_rx)?;
    let workload = Workload::start(&sc.workload, svc.driver.clone(), (client_rx, &svc.writer_homes()?), reads, rec.clone());
    svc.members.start(&svc.driver, &svc.stack, rec.clock, rec.clone());
    let (fault_tx, fault_rx) = mpsc::unbounded_channel();
    let isolated = IsolatedWatch::default();
    let hook = svc.driver.orchestrator().map(|_| isolated.hook(svc.driver.clone(), svc.stack.clone(), primary.clone(), rec.clock));
    let hook = monitoring_hook(drill, hook);
    let faults = svc.plan.faults.iter().copied().zip(sc.faults.iter().cloned()).collect();
    schedule.add(svc.stack.clone(), faults, rec.clone(), fault_tx, hook);
    let scene = Scene { stack: svc.stack.clone(), driver: svc.driver.clone(), rec: rec.clone(), clients: route.clone() };
    let (tx, rx) = mpsc::unbounded_channel();
    let task = svc.recovery.clone().map(|r| tokio::spawn(async move { r.run(scene, rx).await }));
    let recovery = task.as_ref().map(|t| t.abort_handle());
    drill.live.with(|l| {
        l.failovers.extend(recovery.clone());
        l.workloads.push(workload);
        l.recs.push((svc.plan.name.clone(), rec.clone()));
    });
    let faults_done = sc.faults.is_empty();
    let holders = super::holders::HoldersWatch::start(svc, &rec);
    let r = Running { rec, primary, route, isolated, notices: Some(tx), recovery, report: None, faults_done, lag, holders };
    Ok((r, fault_rx, task))
}

/// Starts a service's replica-lag measurement (heartbeat, readers, engine samples).
async fn start_lag(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svc: &Service,
    clock: Clock,
    sink: Option<&crate::lag::LagSink>,
) -> Result<Option<crate::lag::LagMonitor>> {
    let (Some(spec), Some(sink)) = (svc.sc().replica_lag(), sink) else { return Ok(None) };
    let text = format!("replica lag: heartbeat every {} ms, each replica read every {} ms", spec.heartbeat_ms, spec.poll_ms);
    drill.phase(rep, &svc.say(&text))?;
    let service = svc.plan.tagged.then(|| svc.plan.name.clone());
    let m = crate::lag::LagMonitor::start(&spec, svc.stack.clone(), svc.driver.clone(), clock, sink.clone(), service).await?;
    Ok(Some(m))
}

/// Stops the workloads together (writes in flight are answered or time out), heals
/// every fault, runs the `after` hooks and the steady-state probes again, and ends a
/// recovery that never triggered.
pub(super) async fn stop(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svcs: &[Service],
    rec: &RecorderHandle,
    run: &mut [Running],
) -> Result<Stopped> {
    let sc = drill.sc();
    drill.phase(rep, "stopping the workload")?;
    for r in run.iter() {
        r.rec.event(EventKind::WorkloadStop, None, None, "").await;
    }
    let (workloads, schedule) = drill.live.with(|l| (std::mem::take(&mut l.workloads), l.schedule.take()));
    let ends = futures_util::future::join_all(workloads.into_iter().map(|w| w.stop())).await;
    // the history closes once nothing records: the membership watch goes on without it
    svcs.iter().for_each(|s| s.members.detach_history());
    let cpu_end = crate::usage::Sample::now();
    let containers_end = counters(&drill.docker, &drill.run_id).await;
    futures_util::future::join_all(run.iter_mut().filter_map(|r| r.lag.take()).map(|m| m.stop())).await;
    if let (Some(s), Some(svc), Some(r)) = (schedule, svcs.first(), run.first()) {
        s.heal_all(&svc.stack, &r.rec).await; // (already done after an abort)
    }
    heal_monitoring(drill).await;
    if let Some(env) = drill.live.with(|l| l.after_pending.take()) {
        for line in after_hooks(&sc.hooks.after, &env, Some(rec)).await {
            rep.emit(DrillEvent::Info(&line))?;
        }
    }
    let steady_after = match sc.steady_state.probes.is_empty() {
        true => Vec::new(),
        false => steady_after(sc, &drill_env(svcs), rec).await,
    };
    for r in run.iter_mut() {
        if let Some(task) = r.recovery.take().filter(|_| r.report.is_none()) {
            task.abort();
            r.rec.event(EventKind::Note, None, None, "failover never triggered").await;
        }
    }
    let ops = ends.iter().map(|e| e.ops).sum();
    let reads = ends.iter().map(|e| e.reads).sum();
    let slips = ends.iter().flat_map(|e| e.slips.iter().copied()).collect();
    let panics = ends.into_iter().flat_map(|e| e.panics).collect();
    Ok(Stopped { ops, reads, panics, cpu_end, containers_end, steady_after, slips })
}

/// An `abort_when` condition held: record it; the caller stops the faults (no more
/// fire), heals, runs the `after` hooks and judges (verdict fail).
pub(super) async fn abort(drill: &Drill<'_>, rep: &mut Reporters, rec: &RecorderHandle, svcs: &[Service], why: &str) -> Result<()> {
    rec.event(EventKind::Aborted, None, None, why.to_string()).await;
    rep.emit(DrillEvent::Step { t_ms: rec.clock.now_ns() as f64 / 1e6, text: &format!("ABORTED: {why}; healing") })?;
    if let (Some(s), Some(svc)) = (drill.live.with(|l| l.schedule.take()), svcs.first()) {
        s.heal_all(&svc.stack, rec).await;
    }
    heal_monitoring(drill).await;
    Ok(())
}

/// How the workloads ended.
pub(super) struct Stopped {
    pub ops: u64,
    /// Reads made (`workload.readers`).
    pub reads: u64,
    pub panics: Vec<String>,
    pub cpu_end: crate::usage::Sample,
    pub containers_end: Vec<Counters>,
    pub steady_after: Vec<ProbeResult>,
    /// Every writer's paced operations and how late each went out.
    pub slips: Vec<crate::usage::SlipSample>,
}

/// Each service's recovery report, its isolated old primary's records, and who held its
/// entry, once stopped.
pub(super) async fn finish_services(svcs: &[Service], run: Vec<Running>) -> Finished {
    let mut done = Finished::default();
    for (svc, r) in svcs.iter().zip(run) {
        done.isolated.push(r.isolated.finish(&svc.stack, &r.primary).await);
        let holders = match r.holders {
            Some(h) => Some(h.finish(svc, &r.rec).await),
            None => None,
        };
        done.holders.push(holders);
        done.failovers.push(r.report);
        drop((r.rec, r.route));
    }
    done
}

/// What the services left once stopped, in service order.
#[derive(Default)]
pub(super) struct Finished {
    pub failovers: Vec<Option<FailoverReport>>,
    pub isolated: Vec<Option<(IsolatedPrimary, ReadBack)>>,
    pub holders: Vec<Option<super::holders::Watched>>,
}

fn rate_text(sc: &crate::scenario::Scenario) -> String {
    let writes = match sc.workload.rate_per_s {
        Some(r) => format!("{r} writes/s each"),
        None => "unthrottled".into(),
    };
    match &sc.workload.readers {
        Some(r) => format!("{writes}; {} readers from {}, {} reads/s each", r.count, r.from, r.rate_per_s),
        None => writes,
    }
}
