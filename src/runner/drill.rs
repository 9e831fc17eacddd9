//! A drill is a list of named phases, each a function: provision, wait healthy, steady
//! state, exercise (`exercise.rs`), read back, converge, judge, save.
use super::actions::{before_hooks, steady_before};
use super::converge::converge;
use super::exercise::Exercised;
use super::service::provision;
use super::state::{Drill, Service, drill_env};
use crate::action::{Outcome, ProbeResult};
use crate::checker::{Analysis, Checker, Convergence, orchestrator_phases};
use crate::error::{Error, Result};
use crate::failover::FailoverReport;
use crate::history::HistoryFile;
use crate::report::{DrillEvent, IsolatedPrimary, NodeInfo, Reporters, Results, StackInfo, SteadyStateReport};
use crate::scenario::Scenario;
use crate::stack::{ReadBack, ReplicaHealth, ShardRole, Stack, retry_until};
use std::time::Duration;

/// What the steady-state phase found and ran before the workload.
struct Steady {
    probes: Vec<ProbeResult>,
    hooks: Vec<(String, Outcome)>,
}

/// One service's surviving data, as the read-back and converge phases found it.
struct Survived {
    read: Option<ReadBack>,
    convergence: Option<Convergence>,
    /// Whether replicas could be compared (an external stack without nodes has none).
    can_converge: bool,
    errors: Vec<String>,
    /// A multi-active stack: when its nodes came to hold the same data.
    agreed: Option<super::multi_active::Agreement>,
}

impl Drill<'_> {
    /// Whose each drill container is (by its name): the monitoring's, drdrill's proxies',
    /// or the stack's.
    fn roles(&self) -> impl Fn(&str) -> crate::usage::Role + '_ {
        let nodes: Vec<String> = self.loaded.services.iter().flat_map(|s| s.view.stack.node_names()).collect();
        let monitoring: Vec<String> = match &self.sc().monitoring {
            Some(m) => crate::monitor::container_nodes(&nodes, m, &self.sc().sites),
            None => Vec::new(),
        };
        let prefix = crate::docker::container_name(&self.run_id, "");
        move |container: &str| {
            let node = container.strip_prefix(&prefix).unwrap_or(container);
            match node {
                n if monitoring.iter().any(|m| m == n) => crate::usage::Role::Monitoring,
                n if n.starts_with(crate::stack::PROXY_NODE) => crate::usage::Role::Proxy,
                _ => crate::usage::Role::Stack,
            }
        }
    }

    pub async fn execute(&self, rep: &mut Reporters) -> Result<Results> {
        let svcs = provision(self, rep).await?;
        let mut health = Vec::new();
        for svc in &svcs {
            health.push(self.wait_healthy(rep, svc).await?);
        }
        self.start_monitoring(rep, &svcs).await?;
        let steady = self.steady_state(rep, &svcs).await?;
        let ex = self.exercise(rep, &svcs, &steady.hooks).await?;
        let mut survived = Vec::new();
        for svc in &svcs {
            let agreed = self.agree(rep, svc, &ex.clock).await?;
            svc.members.stop();
            let read = self.read_back(rep, svc).await?;
            survived.push(Survived { agreed, ..self.converge(rep, svc, read).await? });
        }
        self.settle_alerts(rep).await?;
        let results = self.judge(rep, &svcs, ex, survived, &health, steady.probes).await?;
        self.save(rep, results)
    }

    async fn wait_healthy(&self, rep: &mut Reporters, svc: &Service) -> Result<Vec<ReplicaHealth>> {
        self.phase(rep, &svc.say("waiting for replication to be healthy"))?;
        let timeout = Duration::from_millis(svc.sc().stack.healthy_timeout_ms);
        let hint = format!("container logs are in {}", self.dir.join("logs").display());
        let health = svc.driver.wait_healthy(&svc.stack, timeout).await.map_err(|e| e.hint(hint))?;
        for h in &health {
            rep.emit(DrillEvent::Info(&format!("{} {} (lag {} bytes)", h.node, h.state, h.lag_bytes)))?;
        }
        self.live.with(|l| l.health.push((svc.plan.name.clone(), health.clone())));
        if let Some(sh) = svc.driver.shards() {
            let roles = sh.list.iter().map(|s| ShardRole { primary: s.primary.clone(), replicas: s.replicas.clone() });
            svc.stack.shards.set(roles.collect());
        }
        svc.driver.data().prepare(svc.primary_addr()?).await?;
        if let Some(r) = svc.driver.restore() {
            self.phase(rep, &svc.say(&format!("taking a full backup ({})", r.tool())))?;
            let taken = r.backup(&svc.stack).await?;
            rep.emit(DrillEvent::Info(&taken))?;
            let _ = svc.stack.backup.set(taken);
        }
        Ok(health)
    }

    /// The steady-state probes must hold; the primaries they held on are the initial
    /// ones; from here on the `after` hooks are owed, and the `before` hooks run. (The
    /// drill's own actions see the first service's environment.)
    async fn steady_state(&self, rep: &mut Reporters, svcs: &[Service]) -> Result<Steady> {
        let sc = self.sc();
        let env = drill_env(svcs);
        let mut probes = Vec::new();
        if !sc.steady_state.probes.is_empty() {
            self.phase(rep, "checking the steady state")?;
            probes = steady_before(sc, &env).await?;
            for p in &probes {
                rep.emit(DrillEvent::Info(&format!("steady state: {} ({})", p.probe, p.detail)))?;
            }
        }
        for svc in svcs {
            svc.stack.mark_initial();
        }
        self.live.with(|l| l.after_pending = Some(env.clone()));
        let hooks = before_hooks(&sc.hooks.before, &env).await;
        for (label, o) in &hooks {
            rep.emit(DrillEvent::Info(&format!("{label}: {}", o.detail)))?;
        }
        Ok(Steady { probes, hooks })
    }

    /// Every record the primary holds (an external stack's primary found again first).
    async fn read_back(&self, rep: &mut Reporters, svc: &Service) -> Result<(Option<ReadBack>, Vec<String>)> {
        if let Some(e) = &svc.external
            && let Some(p) = e.find_primary(&svc.stack, Duration::from_secs(3)).await
        {
            svc.stack.set_primary(&p);
        }
        let primary = svc.stack.primary();
        self.phase(rep, &svc.say(&format!("reading back every record from {primary}")))?;
        let read = async {
            // a sharded stack is read whole from any node; its primary may be down (a lost shard)
            let primary = svc.primary_addr()?;
            let mut addrs = vec![primary];
            if svc.stack.shards.is_sharded() {
                addrs.extend(svc.stack.nodes.iter().map(|n| n.addr()).filter(|a| *a != primary));
            }
            retry_until(Duration::from_secs(30), Duration::from_millis(500), || async {
                let mut first_error = None;
                for &addr in &addrs {
                    match svc.driver.data().read_back(addr).await {
                        Ok(r) => return Ok(r),
                        Err(e) => _ = first_error.get_or_insert(e),
                    }
                }
                Err(first_error.unwrap_or_else(|| Error::infra("no node to read back from")))
            })
            .await
        };
        match read.await {
            Ok(r) => {
                rep.emit(DrillEvent::Info(&format!("{} records", r.len())))?;
                let unreadable: Vec<String> = r.unreadable.iter().map(|u| format!("read-back: {u}")).collect();
                for u in &unreadable {
                    rep.emit(DrillEvent::Info(u))?;
                }
                Ok((Some(r), unreadable))
            }
            Err(e) => Ok((None, vec![format!("read-back from {primary}: {}", e.one_line())])),
        }
    }

    async fn converge(&self, rep: &mut Reporters, svc: &Service, (read, errors): (Option<ReadBack>, Vec<String>)) -> Result<Survived> {
        // an external stack without nodes has no replica drdrill can read
        let sc = svc.sc();
        let can_converge = !(svc.stack.external && sc.stack.nodes.is_empty());
        let mut convergence = None;
        if let Some(primary) = read.as_ref().filter(|_| sc.targets.converge && can_converge) {
            self.phase(rep, &svc.say("checking that replicas converge on the primary's records"))?;
            let timeout = sc.checks.convergence_timeout_ms;
            convergence = Some(converge(&svc.stack, svc.driver.as_ref(), primary, timeout).await);
        }
        Ok(Survived { read, convergence, can_converge, errors, agreed: None })
    }

    /// A multi-active stack's nodes, once its workload stopped, read until they hold the
    /// same data: before the read-back, which would otherwise miss what is still on its way.
    async fn agree(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        clock: &crate::clock::Clock,
    ) -> Result<Option<super::multi_active::Agreement>> {
        if svc.driver.multi_active().is_none() {
            return Ok(None);
        }
        self.phase(rep, &svc.say("waiting for every node to hold the same data"))?;
        let agreed = super::multi_active::agree(svc, clock, svc.sc().checks.convergence_timeout_ms).await;
        if let Some(g) = agreed {
            let said = match g.at_ns {
                Some(_) => format!("every node holds the same keys and records ({:.0} ms after the workload stopped)", g.waited_ms),
                None => format!("the nodes still differ after {:.0} ms", g.waited_ms),
            };
            rep.emit(DrillEvent::Info(&said))?;
        }
        Ok(agreed)
    }

    /// Each service's history judged against its targets; the drill's verdict is the
    /// worst service's.
    async fn judge(
        &self,
        rep: &mut Reporters,
        svcs: &[Service],
        ex: Exercised,
        survived: Vec<Survived>,
        health: &[Vec<ReplicaHealth>],
        steady_before: Vec<ProbeResult>,
    ) -> Result<Results> {
        self.phase(rep, "checking the history")?;
        let sc = self.sc();
        let history = crate::history::path_in(&self.dir);
        let mut end_ns = ex.clock.now_ns();
        let mut each = Vec::new();
        let parts = svcs.iter().zip(survived).zip(health).zip(ex.failovers).zip(ex.isolated);
        for ((((svc, s), health), failover), isolated) in parts {
            let (r, last_ns) = self.judge_one(rep, svc, &ex.clock, &history, s, health, failover, isolated).await?;
            end_ns = end_ns.max(last_ns);
            each.push((svc.plan.name.clone(), r));
        }
        let wall = |ns: u64| (ex.clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64)).to_rfc3339();
        for (_, r) in each.iter_mut() {
            r.finished_at = wall(end_ns);
        }
        // (one service's events are all the drill's: it holds them already)
        let events = match self.loaded.several() {
            true => crate::history::read_history(&history, |_| {}).map(|h| h.events).unwrap_or_default(),
            false => Vec::new(),
        };
        let alerts = self.judge_alerts(&mut each).await;
        let mut results = Results::of_services(each, events);
        if let Some(a) = alerts {
            super::monitoring::drill_wide(&mut results, &a, self.loaded.several());
            results.alerts = Some(a);
        }
        results.engine = self.docker.engine.clone();
        results.steady_state =
            (!sc.steady_state.probes.is_empty()).then_some(SteadyStateReport { before: steady_before, after: ex.steady_after });
        let (start, end, writes) = ex.usage;
        let (before, after) = &ex.containers;
        let footprints = crate::usage::footprints(before, after, self.roles());
        results.harness = Some(crate::usage::HarnessUsage::between(start, end, writes).with_containers(footprints));
        super::questions::ask(self.loaded, &mut results);
        Ok(results)
    }

    /// The replica lag measured, its targets judged into `a` (and its verdict), and the
    /// note on an RTO that `resolve: once` clients never end.
    fn with_lag_targets(
        &self,
        svc: &Service,
        events: &[crate::history::Event],
        a: &mut Analysis,
    ) -> Result<Option<crate::checker::LagReport>> {
        let sc = svc.sc();
        let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
        let (replica_lag, lag_targets) =
            crate::checker::judge_lag(&crate::lag::path_in(&self.dir), tag, events, a, sc.targets.replica_lag_ms.as_ref())
                .map_err(|e| Error::infra(format!("failed to read {} back", crate::lag::FILE)).cause(e))?;
        a.verdict = lag_targets.iter().fold(a.verdict, |v, t| v.merge(t.verdict));
        if (sc.dns.is_some() || sc.stack.resolver.is_some())
            && sc.workload.resolve == crate::scenario::Resolve::Once
            && a.rto.recovered_at_ms.is_none()
        {
            let why = "; the clients looked the name up once (`workload.resolve: once`) and never follow the DNS record to the new primary";
            a.targets.iter_mut().filter(|t| t.target == "rto_ms").for_each(|t| t.note.push_str(why));
        }
        a.targets.extend(lag_targets);
        Ok(replica_lag)
    }

    /// One service's results, and the time of its last event.
    #[allow(clippy::too_many_arguments)]
    async fn judge_one(
        &self,
        rep: &mut Reporters,
        svc: &Service,
        clock: &crate::clock::Clock,
        history: &std::path::Path,
        s: Survived,
        health: &[ReplicaHealth],
        failover: Option<FailoverReport>,
        isolated: Option<(IsolatedPrimary, ReadBack)>,
    ) -> Result<(Results, u64)> {
        let sc = svc.sc();
        let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
        let (mut checker, hist) = Checker::from_history_of(history, tag)
            .map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
        let answered = failover.as_ref().and_then(|f| f.answered_fault);
        checker.recovery_target_ns = failover.as_ref().and_then(|f| f.target_ms).map(|ms| (ms * 1e6).round() as u64);
        let targets = crate::scenario::Targets { converge: sc.targets.converge && s.can_converge, ..sc.targets.clone() };
        let runs = std::mem::take(&mut checker.runs);
        checker.data_recovered_ns = data_recovered(failover.as_ref(), &runs);
        let shards = judge_shards(svc, history, &hist.events, answered, s.read.as_ref())?;
        checker.shards_recovered_ns = shards.as_ref().and_then(crate::checker::ShardsReport::hit_recovered_ns);
        let mut a = checker
            .finish(&hist.events, answered, s.read.as_ref(), s.convergence.as_ref(), &sc.checks, &targets)
            .map_err(|e| Error::infra("failed to check the history").cause(e))?;
        let replica_lag = self.with_lag_targets(svc, &hist.events, &mut a)?;
        let multi_active = super::multi_active::judge(svc, history, &hist, s.agreed, &self.dir, &mut a).await?;
        let cleanup = match (&svc.external, sc.stack.cleanup) {
            (Some(_), true) => Some(self.cleanup(rep, svc).await),
            _ => None,
        };
        let phases = self.phases(svc, failover.as_ref(), &hist, &a, &runs);
        let isolated_primary = isolated.map(|(info, rb)| super::isolated::judge(info, &rb, a.rpo.as_ref(), &self.dir));
        let last_ns = hist.events.last().map(|e| e.t_ns).unwrap_or(0);
        let wall = |ns: u64| (clock.wall_anchor + chrono::Duration::nanoseconds(ns as i64)).to_rfc3339();
        let identity = (self.sc().name.clone(), self.run_id.clone(), wall(0), wall(last_ns));
        let info = stack_info(sc, &svc.stack, health);
        let assembled = Results::assemble(identity, a, info, failover, s.convergence, hist.events, s.errors);
        Ok((
            Results {
                engine: self.docker.engine.clone(),
                phases,
                isolated_primary,
                shards,
                multi_active,
                cleanup,
                replica_lag,
                wan: sc.wan.clone(),
                ..assembled
            },
            last_ns,
        ))
    }

    /// An orchestrated stack's RTO split into detection, promotion, reroute and
    /// stabilisation; with the drill's DNS, drdrill's own recovery's too, the reroute split
    /// into the record's move and the clients' caches running out.
    fn phases(
        &self,
        svc: &Service,
        f: Option<&FailoverReport>,
        hist: &HistoryFile,
        a: &Analysis,
        runs: &crate::checker::AckRuns,
    ) -> Option<crate::checker::Phases> {
        let answered = f.and_then(|f| f.answered_fault);
        let (old, new) = (f.and_then(|f| f.old_primary.clone()), f.and_then(|f| f.new_primary.clone()));
        let planned = answered.and_then(|i| self.sc().faults.get(i)).is_some_and(|f| f.kind == crate::scenario::FaultKind::Switchover);
        let rto = (a.rto.from_ms, a.rto.recovered_at_ms);
        let recovery = svc.recovery.as_ref()?;
        let once = svc.sc().workload.resolve == crate::scenario::Resolve::Once;
        let dns = svc.sc().dns.as_ref().map(|d| crate::checker::ClientDns { ttl_ms: u64::from(d.ttl_s) * 1000, once });
        let (budgets, steps) = recovery.phase_budgets(dns)?;
        Some(orchestrator_phases(&recovery.name(), planned, &hist.events, answered, old, new, runs, rto, budgets, steps))
    }

    /// The judged results go to every reporter (results.json among them), compared with
    /// the baseline when there is one.
    fn save(&self, rep: &mut Reporters, mut results: Results) -> Result<Results> {
        if !self.baseline.is_empty() {
            results.comparison = Some(crate::report::compare(&self.baseline, &results));
        }
        rep.emit(DrillEvent::Finished(&results))?;
        Ok(results)
    }

    async fn cleanup(&self, rep: &mut Reporters, svc: &Service) -> String {
        let (Some(e), Ok(addr)) = (&svc.external, svc.primary_addr()) else { return "not cleaned up: no primary".into() };
        let text = match e.cleanup(addr).await {
            Ok(t) => t,
            Err(err) => format!("cleanup failed: {}", err.one_line()),
        };
        let _ = rep.emit(DrillEvent::Info(&text));
        text
    }
}

/// A point-in-time recovery (an operator error): the recovered node's first acknowledged
/// write after it took the data over (the fresh node ran, or the failover began).
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
