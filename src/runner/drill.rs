//! A drill is a list of named phases, each a function: provision (`service.rs`), wait
//! healthy, start the monitoring (`monitoring.rs`), steady state, exercise
//! (`exercise.rs`), agree, read back and converge (`survived.rs`), settle the alerts,
//! judge (`judge.rs`), save. `execute` calls each in turn.
use super::actions::{before_hooks, steady_before};
use super::exercise::exercise;
use super::judge::judge;
use super::monitoring::{settle_alerts, start_monitoring};
use super::service::provision;
use super::state::{Drill, Service, drill_env};
use super::survived::{Survived, agree, converge, read_back};
use crate::action::{Outcome, ProbeResult};
use crate::checker::Results;
use crate::error::Result;
use crate::report::{DrillEvent, Reporters};
use crate::stack::{ReplicaHealth, ShardRole};
use std::time::Duration;

/// What the steady-state phase found and ran before the workload.
struct Steady {
    probes: Vec<ProbeResult>,
    hooks: Vec<(String, Outcome)>,
}

/// The drill's phases, in order: each a call to a function of this file or of the file
/// it is imported from.
pub(super) async fn execute(drill: &Drill<'_>, rep: &mut Reporters) -> Result<Results> {
    let svcs = provision(drill, rep).await?;
    let mut health = Vec::new();
    for svc in &svcs {
        health.push(wait_healthy(drill, rep, svc).await?);
    }
    start_monitoring(drill, rep, &svcs).await?;
    let steady = steady_state(drill, rep, &svcs).await?;
    let ex = exercise(drill, rep, &svcs, &steady.hooks).await?;
    let mut survived = Vec::new();
    for svc in &svcs {
        let agreed = agree(drill, rep, svc, &ex.clock).await?;
        svc.members.stop();
        let read = read_back(drill, rep, svc).await?;
        survived.push(Survived { agreed, ..converge(drill, rep, svc, read).await? });
    }
    settle_alerts(drill, rep).await?;
    let results = judge(drill, rep, &svcs, ex, survived, &health, steady.probes).await?;
    save(drill, rep, results)
}

async fn wait_healthy(drill: &Drill<'_>, rep: &mut Reporters, svc: &Service) -> Result<Vec<ReplicaHealth>> {
    drill.phase(rep, &svc.say("waiting for replication to be healthy"))?;
    let timeout = Duration::from_millis(svc.sc().stack.healthy_timeout_ms);
    let hint = format!("container logs are in {}", drill.dir.join("logs").display());
    let health = svc.driver.wait_healthy(&svc.stack, timeout).await.map_err(|e| e.hint(hint))?;
    for h in &health {
        rep.emit(DrillEvent::Info(&format!("{} {} (lag {} bytes)", h.node, h.state, h.lag_bytes)))?;
    }
    drill.live.with(|l| l.health.push((svc.plan.name.clone(), health.clone())));
    if let Some(sh) = svc.driver.shards() {
        let roles = sh.list.iter().map(|s| ShardRole { primary: s.primary.clone(), replicas: s.replicas.clone() });
        svc.stack.shards.set(roles.collect());
    }
    svc.driver.data().prepare(svc.primary_addr()?).await?;
    if let Some(r) = svc.driver.restore() {
        drill.phase(rep, &svc.say(&format!("taking a full backup ({})", r.tool())))?;
        let taken = r.backup(&svc.stack).await?;
        rep.emit(DrillEvent::Info(&taken))?;
        let _ = svc.stack.backup.set(taken);
    }
    Ok(health)
}

/// The steady-state probes must hold; the primaries they held on are the initial
/// ones; from here on the `after` hooks are owed, and the `before` hooks run. (The
/// drill's own actions see the first service's environment.)
async fn steady_state(drill: &Drill<'_>, rep: &mut Reporters, svcs: &[Service]) -> Result<Steady> {
    let sc = drill.sc();
    let env = drill_env(svcs);
    let mut probes = Vec::new();
    if !sc.steady_state.probes.is_empty() {
        drill.phase(rep, "checking the steady state")?;
        probes = steady_before(sc, &env).await?;
        for p in &probes {
            rep.emit(DrillEvent::Info(&format!("steady state: {} ({})", p.probe, p.detail)))?;
        }
    }
    for svc in svcs {
        svc.stack.mark_initial();
    }
    drill.live.with(|l| l.after_pending = Some(env.clone()));
    let hooks = before_hooks(&sc.hooks.before, &env).await;
    for (label, o) in &hooks {
        rep.emit(DrillEvent::Info(&format!("{label}: {}", o.detail)))?;
    }
    Ok(Steady { probes, hooks })
}

/// The judged results go to every reporter (results.json among them), compared with
/// the baseline when there is one.
fn save(drill: &Drill<'_>, rep: &mut Reporters, mut results: Results) -> Result<Results> {
    if !drill.baseline.is_empty() {
        results.comparison = Some(crate::checker::compare_with_baseline(&drill.baseline, &results));
    }
    rep.emit(DrillEvent::Finished(&results))?;
    Ok(results)
}
