//! The exercise phase: every service's workload, faults and recovery on one clock, until
//! every fault has fired and every recovery is done (or the workloads' bound), then
//! `after_recovery_ms` more (`recovered.rs`); then everything stops in order
//! (`running.rs`) and the history is closed.
use super::actions::record_before;
use super::recovered::write_after_recovery;
use super::running::{Abort, Exercising, Notices, Reported, Running, abort, finish_services, start_all, stop};
use super::state::{Drill, Service, drill_env};
use crate::action::ProbeResult;
use crate::checker::IsolatedPrimary;
use crate::clock::Clock;
use crate::docker::cgroup::{Counters, counters};
use crate::error::{Error, Result};
use crate::failover::FailoverReport;
use crate::history::{Entry, Recorder, RecorderHandle};
use crate::report::{DrillEvent, Reporters};
use crate::stack::ReadBack;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

/// What the exercise phase leaves for judging.
pub(super) struct Exercised {
    pub clock: Clock,
    /// Each service's recovery report (None: it never reported), in service order.
    pub failovers: Vec<Option<FailoverReport>>,
    /// Each service's isolated old primary's records, read just before the heal that let
    /// it rejoin.
    pub isolated: Vec<Option<(IsolatedPrimary, ReadBack)>>,
    /// Who held each service's entry (a VIP), for a stack whose driver follows one.
    pub holders: Vec<Option<super::holders::Watched>>,
    pub steady_after: Vec<ProbeResult>,
    /// CPU and time at the workloads' start and end, and the writes made in between.
    /// drdrill's CPU at the workload's start and end, and the writes and reads it made.
    pub usage: (crate::usage::Sample, crate::usage::Sample, u64, u64),
    /// Every drill container's cgroup counters at the workloads' start and end.
    pub containers: (Vec<Counters>, Vec<Counters>),
    /// The host's CPU while the workloads ran, and how late their paced clients were.
    pub host: Option<crate::usage::HostLoad>,
    pub slips: Vec<crate::usage::SlipSample>,
}

/// Every service exercised on one clock (the module's doc says how), and what that
/// leaves for judging.
pub(super) async fn exercise(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svcs: &[Service],
    before: &[(String, crate::action::Outcome)],
) -> Result<Exercised> {
    let sc = drill.sc();
    let (clock, rec) = open_history(drill)?;
    let lag_file = open_lag_file(drill, svcs)?;
    record_before(&rec, before).await;
    let containers_start = counters(&drill.docker, &drill.run_id).await;
    let sampler = crate::docker::cgroup::Sampler::start(&containers_start);
    let cpu_start = crate::usage::Sample::now();
    let host = crate::usage::HostSampler::start(clock);
    let (mut run, notices, reported) = start_all(drill, rep, svcs, clock, &rec, lag_file.as_ref().map(|f| &f.1)).await?;
    drill.live.with(|l| l.rec = Some(rec.clone()));
    if let Some(m) = drill.monitor.get() {
        m.watch(clock);
    }
    // the longest of the services' bounds (each its own workload.max_duration_ms)
    let bound = super::timing::workload_bound_ms(svcs.iter().map(Service::sc), sc);
    let deadline = Instant::from_std(clock.instant_at(crate::clock::ms_to_ns(bound)));
    // boxed so it can be dropped before the recorder finishes: it holds a recorder handle
    let mut abort_when: Abort = Box::pin(super::actions::abort_watch(sc.abort_when.clone(), rec.clone(), drill_env(svcs)));
    let mut ex = Exercising { svcs, rec: &rec, deadline, abort: &mut abort_when };
    let cut_short = until_recovered(drill, rep, &mut ex, &mut run, (notices, reported)).await?;
    for r in run.iter_mut() {
        r.notices = None;
    }
    if !cut_short {
        write_after_recovery(drill, rep, &mut ex, &run).await?;
    }
    let end = stop(drill, rep, svcs, &rec, &mut run).await?;
    let host = host.end();
    record_replication_stops(svcs, &run, clock).await;
    drill.live.with(|l| {
        l.rec = None;
        l.recs.clear();
    });
    let super::running::Finished { failovers, isolated, holders } = finish_services(svcs, run).await;
    drop((abort_when, rec));
    close_files(drill, lag_file).await?;
    if !end.panics.is_empty() {
        let e = Error::infra("failed to run the workload: a writer panicked (a bug; please report it)");
        return Err(e.cause_text(end.panics.join("; ")));
    }
    rep.emit(DrillEvent::Info(&format!("{} writes recorded in {}", end.ops, crate::history::FILE)))?;
    let usage = (cpu_start, end.cpu_end, end.ops, end.reads);
    let containers = (containers_start, sampler.end(end.containers_end).await);
    Ok(Exercised { clock, failovers, isolated, holders, steady_after: end.steady_after, usage, containers, host, slips: end.slips })
}

/// Each replica that stopped applying its primary's changes, at the time its log says.
async fn record_replication_stops(svcs: &[Service], run: &[Running], clock: crate::clock::Clock) {
    for (svc, r) in svcs.iter().zip(run) {
        for s in svc.driver.replication_stops(&svc.stack).await {
            let t_ns = clock.ns_at_wall(i128::from(s.at.timestamp_nanos_opt().unwrap_or(0))).unwrap_or(0);
            let again = if s.times > 1 { format!(" (logged {} times, the apply retried)", s.times) } else { String::new() };
            let detail = format!("{} stopped applying: {}{again}", s.node, s.why);
            r.rec.event_at(t_ns, crate::history::EventKind::ReplicationStopped, None, Some(&s.node), detail).await;
        }
    }
}

/// Closes the history and the replica-lag file once nothing records any more.
async fn close_files(drill: &Drill<'_>, lag_file: Option<(crate::lag::LagFile, crate::lag::LagSink)>) -> Result<()> {
    close_history(drill).await?;
    if let Some((file, sink)) = lag_file {
        drop(sink);
        file.finish().map_err(|e| Error::infra(format!("failed to write {}", crate::lag::FILE)).cause(e))?;
    }
    Ok(())
}

/// The drill's replica-lag file, when a service measures lag.
fn open_lag_file(drill: &Drill<'_>, svcs: &[Service]) -> Result<Option<(crate::lag::LagFile, crate::lag::LagSink)>> {
    if svcs.iter().all(|s| s.sc().replica_lag().is_none()) {
        return Ok(None);
    }
    let path = crate::lag::path_in(&drill.dir);
    let f = crate::lag::LagFile::create(&path).map_err(|e| Error::infra(format!("failed to create {}", path.display())).cause(e))?;
    Ok(Some(f))
}

/// Starts the clock and the history (its recorder is kept where an interrupt finds it).
fn open_history(drill: &Drill<'_>) -> Result<(Clock, RecorderHandle)> {
    let clock = Clock::start();
    let services = match drill.loaded.several() {
        true => drill.loaded.services.iter().map(|s| s.name.clone()).collect(),
        false => Vec::new(),
    };
    let (scenario, run_id, wall_clock_anchor) = (drill.sc().name.clone(), drill.run_id.clone(), clock.wall_anchor.to_rfc3339());
    let header = Entry::Header { scenario, run_id, wall_clock_anchor, services };
    let (recorder, rec) = Recorder::start(&drill.dir.join(crate::history::FILE), clock, header)
        .map_err(|e| Error::infra(format!("failed to create {}", crate::history::FILE)).cause(e))?;
    drill.live.with(|l| {
        l.clock = Some(clock);
        l.recorder = Some(recorder);
    });
    Ok((clock, rec))
}

async fn close_history(drill: &Drill<'_>) -> Result<()> {
    let recorder = drill.live.with(|l| l.recorder.take()).expect("opened by open_history");
    recorder.finish().await.map_err(|e| Error::infra(format!("failed to write {}", crate::history::FILE)).cause(e))?;
    Ok(())
}

/// Tells of faults and recoveries as they happen, until every service's faults have
/// fired and its recovery reported; true when the deadline or an abort cut it short.
async fn until_recovered(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    ex: &mut Exercising<'_>,
    run: &mut [Running],
    (mut notices, mut reported): (Notices, FuturesUnordered<Reported>),
) -> Result<bool> {
    let clock = ex.rec.clock;
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
                rep.emit(DrillEvent::Step { t_ms: clock.now_ns() as f64 / 1e6, text: &ex.svcs[i].say(&recovery_text(&r)) })?;
                run[i].report = Some(r);
            },
            _ = tokio::time::sleep_until(ex.deadline) => {
                rep.emit(DrillEvent::Info("workload.max_duration_ms reached before recovery"))?;
                return Ok(true);
            }
            why = &mut *ex.abort => {
                abort(drill, rep, ex.rec, ex.svcs, &why).await?;
                return Ok(true);
            }
        }
    }
    Ok(false)
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
