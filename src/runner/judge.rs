//! The judge phase: each service's history judged against its targets (RTO, RPO, lag,
//! shards, record groups, the writes refused after the failover, multi-active, an isolated
//! old primary, an orchestrator's phases), then the drill's alerts; the drill's verdict is
//! the worst service's.
use super::exercise::Exercised;
use super::monitoring::{drill_wide, judge_alerts};
use super::state::{Drill, Service};
use super::survived::Survived;
use crate::action::ProbeResult;
use crate::checker::{Analysis, Checker, orchestrator_phases};
use crate::checker::{IsolatedPrimary, NodeInfo, Results, StackInfo, SteadyStateReport};
use crate::error::{Error, Result};
use crate::failover::FailoverReport;
use crate::history::HistoryFile;
use crate::report::{DrillEvent, Reporters};
use crate::scenario::Scenario;
use crate::stack::{ReadBack, ReplicaHealth, Stack};

/// Each service's history judged against its targets; the drill's verdict is the
/// worst service's.
pub(super) async fn judge(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svcs: &[Service],
    ex: Exercised,
    survived: Vec<Survived>,
    health: &[Vec<ReplicaHealth>],
    steady_before: Vec<ProbeResult>,
) -> Result<Results> {
    drill.phase(rep, "checking the history")?;
    let sc = drill.sc();
    let history = crate::history::path_in(&drill.dir);
    let mut end_ns = ex.clock.now_ns();
    let mut each = Vec::new();
    let parts = svcs.iter().zip(survived).zip(health).zip(ex.failovers).zip(ex.isolated).zip(ex.holders);
    for (((((svc, survived), health), failover), isolated), holders) in parts {
        let one = ServiceRun { svc, survived, health, failover, isolated, holders };
        let (r, last_ns) = judge_one(drill, rep, &ex.clock, &history, one).await?;
        end_ns = end_ns.max(last_ns);
        each.push((svc.plan.name.clone(), r));
    }
    let wall = |ns: u64| (ex.clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64)).to_rfc3339();
    for (_, r) in each.iter_mut() {
        r.finished_at = wall(end_ns);
    }
    // (one service's events are all the drill's: it holds them already)
    let events = match drill.loaded.several() {
        true => crate::history::read_history(&history, |_| {}).map(|h| h.events).unwrap_or_default(),
        false => Vec::new(),
    };
    let alerts = judge_alerts(drill, &mut each).await;
    let mut results = Results::of_services(each, events);
    if let Some(a) = alerts {
        drill_wide(&mut results, &a, drill.loaded.several());
        results.alerts = Some(a);
    }
    results.engine = drill.docker.engine.clone();
    results.steady_state =
        (!sc.steady_state.probes.is_empty()).then_some(SteadyStateReport { before: steady_before, after: ex.steady_after });
    let (start, end, writes, reads) = ex.usage;
    let (before, after) = &ex.containers;
    let footprints = crate::usage::footprints(before, after, roles(drill));
    let mut harness = crate::usage::HarnessUsage::between(start, end, writes).with_reads(writes, reads).with_containers(footprints);
    harness.host = ex.host;
    harness.slip = Some(crate::usage::slip::summarise(&ex.slips, crate::checker::slip_bound_ms(svcs.iter().map(|s| &s.sc().targets))));
    results.harness = Some(harness);
    crate::checker::judge_disturbed(&mut results);
    super::questions::ask(drill.loaded, &mut results);
    Ok(results)
}

/// The replica lag measured, its targets judged into `a` (and its verdict), and the
/// note on an RTO that `resolve: once` clients never end.
fn with_lag_targets(
    drill: &Drill<'_>,
    svc: &Service,
    events: &[crate::history::Event],
    a: &mut Analysis,
) -> Result<Option<crate::checker::LagReport>> {
    let sc = svc.sc();
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    let (replica_lag, lag_targets) =
        crate::checker::judge_lag(&crate::lag::path_in(&drill.dir), tag, events, a, sc.targets.replica_lag_ms.as_ref())
            .map_err(|e| Error::infra(format!("failed to read {} back", crate::lag::FILE)).cause(e))?;
    a.verdict = lag_targets.iter().fold(a.verdict, |v, t| v.merge(t.verdict));
    if (sc.dns.is_some() || sc.stack.resolver.is_some())
        && sc.workload.resolve == crate::scenario::Resolve::Once
        && a.rto.recovered_at_ms.is_none()
    {
        let why = "; the clients looked the name up once (`workload.resolve: once`) and never follow the DNS record to the new primary";
        a.targets.iter_mut().filter(|t| t.target == crate::checker::Target::RtoMs).for_each(|t| t.note.push_str(why));
    }
    a.targets.extend(lag_targets);
    Ok(replica_lag)
}

/// What the readers got (`workload.readers`), their targets judged into `a`.
fn judge_reads(
    svc: &Service,
    history: &std::path::Path,
    hist: &HistoryFile,
    read: Option<&ReadBack>,
    a: &mut Analysis,
) -> Result<Option<crate::checker::ReadsReport>> {
    let sc = svc.sc();
    let Some(spec) = &sc.workload.readers else { return Ok(None) };
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    // a cluster's reads each read one shard: weighed against that shard's writes
    let parts =
        svc.driver.shards().map(|s| crate::checker::shard_parts(s.list.iter().map(|x| (&x.primary, &x.replicas)))).unwrap_or_default();
    let (acks, _) = crate::checker::read_acks(history, tag, parts)
        .map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
    let (injects, fault) = crate::checker::fault_times(&hist.events, a.answered_fault);
    let recovered_ns = a.rto.recovered_at_ms.map(|ms| (ms * 1e6).round() as u64);
    let cx = crate::checker::ReadContext {
        events: &hist.events,
        acks: &acks,
        read_back: read,
        fault,
        injects,
        recovered_ns,
        checks: &sc.checks,
    };
    let report = crate::checker::judge_reads(&hist.reads, spec, &cx);
    let targets = crate::checker::judge_read_targets(&report, &sc.targets);
    a.verdict = targets.iter().fold(a.verdict, |v, t| v.merge(t.verdict));
    a.targets.extend(targets);
    Ok(Some(report))
}

/// One service's part of the drill, as judging takes it.
struct ServiceRun<'a> {
    svc: &'a Service,
    /// What the read-back and converge phases found.
    survived: Survived,
    /// Its replication as the wait-healthy phase found it.
    health: &'a [ReplicaHealth],
    /// Its recovery's report (None: it never reported).
    failover: Option<FailoverReport>,
    /// Its isolated old primary's records, read just before the heal that let it rejoin.
    isolated: Option<(IsolatedPrimary, ReadBack)>,
    /// Who held its entry (a VIP), when its driver follows one.
    holders: Option<super::holders::Watched>,
}

/// One service's results, and the time of its last event.
async fn judge_one(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    clock: &crate::clock::Clock,
    history: &std::path::Path,
    one: ServiceRun<'_>,
) -> Result<(Results, u64)> {
    let ServiceRun { svc, survived: mut s, health, mut failover, isolated, holders } = one;
    let sc = svc.sc();
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    let (mut checker, hist) = Checker::from_history_of(history, tag)
        .map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
    failover.iter_mut().for_each(|f| attribute_fault(f, &hist.events));
    let answered = failover.as_ref().and_then(|f| f.answered_fault);
    checker.recovery_target_ns = failover.as_ref().and_then(|f| f.target_ms).map(|ms| (ms * 1e6).round() as u64);
    let targets = crate::scenario::Targets { converge: sc.targets.converge && s.can_converge, ..sc.targets.clone() };
    let runs = std::mem::take(&mut checker.runs);
    checker.data_recovered_ns = data_recovered(failover.as_ref(), &runs);
    let shards = judge_shards(svc, history, &hist.events, answered, s.read.as_ref())?;
    let holders = super::holders::judge(holders, history, tag, s.read.as_ref())?;
    checker.shards_recovered_ns = shards.as_ref().and_then(crate::checker::ShardsReport::hit_recovered_ns);
    let mut a = checker
        .finish(&hist.events, answered, s.read.as_ref(), s.convergence.as_ref(), &sc.checks, &targets)
        .map_err(|e| Error::infra("failed to check the history").cause(e))?;
    let replica_lag = with_lag_targets(drill, svc, &hist.events, &mut a)?;
    let reads = judge_reads(svc, history, &hist, s.read.as_ref(), &mut a)?;
    let availability = with_availability(sc, &mut a, reads.as_ref());
    let groups = judge_groups(svc, history, &hist.events, answered, s.read.as_ref())?;
    let refused_after_failover = Some(judge_refusals(svc, history, &hist.events, &mut a)?);
    let multi_active = super::multi_active::judge(svc, history, &hist, s.agreed, &drill.dir, &mut a).await?;
    let cleanup = cleanup_external(rep, svc).await;
    let phases = phases(drill, svc, failover.as_ref(), &hist, &a, &runs);
    let isolated_primary = isolated.map(|(info, rb)| super::isolated::judge(info, &rb, a.rpo.as_ref(), &drill.dir, &mut s.errors));
    let last_ns = hist.events.last().map(|e| e.t_ns).unwrap_or(0);
    let wall = |ns: u64| (clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64)).to_rfc3339();
    let identity = (drill.sc().name.clone(), drill.run_id.clone(), wall(0), wall(last_ns));
    let info = stack_info(sc, &svc.stack, health);
    let promotions = judge_promotions(history, tag, (&hist.events, &info.initial_primary), holders.as_ref(), s.read.as_ref())?;
    let assembled = with_scenario(Results::assemble(identity, a, info, failover, s.convergence, hist.events, s.errors), sc);
    Ok((
        Results {
            engine: drill.docker.engine.clone(),
            phases,
            isolated_primary,
            shards,
            groups,
            refused_after_failover,
            multi_active,
            cleanup,
            replica_lag,
            reads,
            availability,
            holders,
            promotions,
            ..assembled
        },
        last_ns,
    ))
}

/// Every promotion of another node and the writes the replaced primary went on
/// acknowledging (none: nothing promoted).
fn judge_promotions(
    history: &std::path::Path,
    tag: Option<&str>,
    start: (&[crate::history::Event], &str),
    holders: Option<&crate::checker::HoldersReport>,
    read: Option<&ReadBack>,
) -> Result<Option<crate::checker::PromotionsReport>> {
    let r = crate::checker::judge_promotions(history, tag, start, holders, read)
        .map_err(|e| Error::infra("failed to count the writes around each promotion").cause(e))?;
    Ok((!r.promotions.is_empty()).then_some(r))
}

/// What a service's results take from its scenario as written: whether it promises an
/// RPO, the claims beside its targets, its WAN links.
fn with_scenario(r: Results, sc: &crate::scenario::Scenario) -> Results {
    Results { rpo_not_promised: sc.targets.rpo.is_some(), claims: sc.targets.claims.clone(), wan: sc.wan.clone(), ..r }
}

/// An external stack's cleanup commands, when its scenario asks for them.
async fn cleanup_external(rep: &mut Reporters, svc: &Service) -> Option<String> {
    match (&svc.external, svc.sc().stack.cleanup) {
        (Some(_), true) => Some(cleanup(rep, svc).await),
        _ => None,
    }
}

/// `targets.availability` judged into `a`: the clients' outage (the writes', the reads'
/// where readers ran) against the period's downtime budget.
fn with_availability(
    sc: &Scenario,
    a: &mut Analysis,
    reads: Option<&crate::checker::ReadsReport>,
) -> Option<crate::checker::AvailabilityReport> {
    let target = sc.targets.availability.as_ref()?;
    let (report, t) = crate::checker::judge_availability(target, &a.rto, reads);
    a.verdict = a.verdict.merge(t.verdict);
    a.targets.push(t);
    Some(report)
}

/// An orchestrated stack's RTO split into detection, promotion, reroute and
/// stabilisation; with the drill's DNS, drdrill's own recovery's too, the reroute split
/// into the record's move and the clients' caches running out.
fn phases(
    drill: &Drill<'_>,
    svc: &Service,
    f: Option<&FailoverReport>,
    hist: &HistoryFile,
    a: &Analysis,
    runs: &crate::checker::AckRuns,
) -> Option<crate::checker::Phases> {
    let answered = f.and_then(|f| f.answered_fault);
    let (old, new) = (f.and_then(|f| f.old_primary.clone()), f.and_then(|f| f.new_primary.clone()));
    let planned = answered.and_then(|i| drill.sc().faults.get(i)).is_some_and(|f| f.kind == crate::scenario::FaultKind::Switchover);
    let rto = (a.rto.from_ms, a.rto.recovered_at_ms);
    let recovery = svc.recovery.as_ref()?;
    let once = svc.sc().workload.resolve == crate::scenario::Resolve::Once;
    let dns = svc.sc().dns.as_ref().map(|d| crate::checker::ClientDns { ttl_ms: u64::from(d.ttl_s) * 1000, once });
    let (budgets, steps) = recovery.phase_budgets(dns)?;
    let name = recovery.name();
    let failover =
        crate::checker::Failover { orchestrator: &name, planned, fault: answered, old_primary: old, new_primary: new, budgets, steps };
    Some(orchestrator_phases(failover, &hist.events, runs, rto))
}

async fn cleanup(rep: &mut Reporters, svc: &Service) -> String {
    let (Some(e), Ok(addr)) = (&svc.external, svc.primary_addr()) else { return "not cleaned up: no primary".into() };
    let text = match e.cleanup(addr).await {
        Ok(t) => t,
        Err(err) => format!("cleanup failed: {}", err.one_line()),
    };
    let _ = rep.emit(DrillEvent::Info(&text));
    text
}

/// Whose each drill container is (by its name): the monitoring's, drdrill's proxies',
/// or the stack's.
fn roles<'a>(drill: &'a Drill<'_>) -> impl Fn(&str) -> crate::usage::Role + 'a {
    let nodes: Vec<String> = drill.loaded.services.iter().flat_map(|s| s.view.stack.node_names()).collect();
    let monitoring: Vec<String> = match &drill.sc().monitoring {
        Some(m) => crate::monitor::container_nodes(&nodes, m, &drill.sc().sites),
        None => Vec::new(),
    };
    let prefix = crate::docker::container_name(&drill.run_id, "");
    move |container: &str| {
        let node = container.strip_prefix(&prefix).unwrap_or(container);
        match node {
            n if monitoring.iter().any(|m| m == n) => crate::usage::Role::Monitoring,
            n if n.starts_with(crate::stack::PROXY_NODE) => crate::usage::Role::Proxy,
            _ => crate::usage::Role::Stack,
        }
    }
}

/// Each shard judged on its own records, for a stack with one primary per shard.
fn judge_shards(
    svc: &Service,
    history: &std::path::Path,
    events: &[crate::history::Event],
    answered: Option<usize>,
    read: Option<&ReadBack>,
) -> Result<Option<crate::checker::ShardsReport>> {
    let Some(sh) = svc.driver.shards() else { return Ok(None) };
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    crate::checker::judge_shards(history, tag, &sh, events, answered, read, &svc.sc().checks)
        .map(Some)
        .map_err(|e| Error::infra("failed to judge the shards").cause(e))
}

/// Each place the stack keeps its records in (a DR region's published and unpublished
/// tables) judged on its own records, for a stack whose driver names them.
fn judge_groups(
    svc: &Service,
    history: &std::path::Path,
    events: &[crate::history::Event],
    answered: Option<usize>,
    read: Option<&ReadBack>,
) -> Result<Option<crate::checker::GroupsReport>> {
    let Some(groups) = svc.driver.record_groups() else { return Ok(None) };
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    crate::checker::judge_groups(history, tag, &groups, events, answered, read, &svc.sc().checks)
        .map(Some)
        .map_err(|e| Error::infra(format!("failed to judge the {}s", groups.what)).cause(e))
}

/// The writes refused once the failover was done, by cause (every stack); with
/// `targets.max_refused_after_failover`, judged into `a` and its verdict.
fn judge_refusals(
    svc: &Service,
    history: &std::path::Path,
    events: &[crate::history::Event],
    a: &mut Analysis,
) -> Result<crate::checker::RefusalsReport> {
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    let data = svc.driver.data();
    let mut r = crate::checker::judge_refusals(history, tag, events, &|e: &str| data.is_reply(e))
        .map_err(|e| Error::infra("failed to count the writes refused after the failover").cause(e))?;
    r.store = svc.sc().stack.kind.info().store.to_string();
    if let Some(limit) = svc.sc().targets.max_refused_after_failover {
        let t = crate::checker::refusals_target(&r, limit);
        a.verdict = a.verdict.merge(t.verdict);
        a.targets.push(t);
    }
    Ok(r)
}

/// A point-in-time recovery (an operator error): the recovered node's first acknowledged
/// write after it took the data over (the fresh node ran, or the failover began).
fn data_recovered(f: Option<&FailoverReport>, runs: &crate::checker::AckRuns) -> Option<u64> {
    let f = f.filter(|f| f.target_ms.is_some())?;
    let from_ms = f.restore.as_ref().and_then(|r| r.node_ms).or(f.started_ms)?;
    runs.first_after(f.new_primary.as_deref()?, (from_ms * 1e6) as u64).map(|r| r.invoke_ns)
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

/// A failover whose recovery started before the fault's notice reached it (its probes
/// failed while the engine's kill call had not returned yet: 1252 ms once, beside two other
/// drills) answered the fault requested last before it started on its old primary; the
/// report names it, so that the RTO and the phases count from it.
fn attribute_fault(f: &mut FailoverReport, events: &[crate::history::Event]) {
    use crate::history::EventKind;
    let Some(start) = events.iter().find(|e| e.kind == EventKind::FailoverStart).map(|e| e.t_ns) else { return };
    if f.answered_fault.is_some() || f.old_primary.is_none() {
        return;
    }
    let hit =
        events.iter().filter(|e| e.kind == EventKind::FaultInject && e.t_ns <= start && e.node == f.old_primary).max_by_key(|e| e.t_ns);
    if let Some(e) = hit {
        f.answered_fault = e.fault;
        f.answered_at_ms = Some(e.t_ns as f64 / 1e6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventKind};

    fn event(t_ms: u64, kind: EventKind, fault: Option<usize>, node: &str) -> Event {
        let v = serde_json::json!({"t_ns": t_ms * 1_000_000, "kind": kind, "fault": fault, "node": node, "detail": ""});
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_recovery_that_started_before_the_faults_notice_answered_the_fault_on_its_old_primary() {
        // recorded in the order they were written: the kill's event once its call returned
        let events = [
            event(1000, EventKind::FaultInject, Some(0), "pg-2"),
            event(3324, EventKind::FailoverStart, None, "pg-1"),
            event(3002, EventKind::FaultInject, Some(1), "pg-1"),
            event(9000, EventKind::FaultInject, Some(2), "pg-1"),
        ];
        let mut f = FailoverReport { old_primary: Some("pg-1".into()), ..Default::default() };
        attribute_fault(&mut f, &events);
        assert_eq!((f.answered_fault, f.answered_at_ms), (Some(1), Some(3002.0)));
        // what the recovery reported stands
        let mut f = FailoverReport { old_primary: Some("pg-1".into()), answered_fault: Some(0), ..Default::default() };
        attribute_fault(&mut f, &events);
        assert_eq!(f.answered_fault, Some(0));
    }
}
