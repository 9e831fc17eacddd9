//! Faults as data: each scheduled fault is injected at its offset and healed where a heal
//! applies; every inject and heal is an event in the history. An injected fault carries
//! the exact steps that undo it, so healing needs nothing but the engine (and works from
//! the runner's teardown after an error or an interrupt).
mod action;
mod clock;
mod link;
mod network;
mod node;
mod schedule;
mod site;

pub use schedule::{FaultHook, FaultLedger, FaultNotice, FaultSchedule};

use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::history::{Event, EventKind, RecorderHandle};
use crate::proxy::ProxyClient;
use crate::scenario::{FaultKind, FaultSpec, kind_name};
use crate::stack::Stack;
use std::net::SocketAddr;
use std::time::Instant;

/// One step that undoes (part of) a fault.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Start a container stopped for a duration.
    Start {
        container: String,
    },
    Unpause {
        container: String,
    },
    /// Lift a starved container's CPU quota.
    Unstarve {
        container: String,
    },
    /// Run a shell script in a container (delete iptables rules, remove a qdisc). Skipped
    /// when the container is not running: its network namespace, and the rules, are gone.
    Exec {
        container: String,
        script: String,
    },
    RemoveToxic {
        api: SocketAddr,
        proxy: String,
        toxic: String,
    },
    Enable {
        api: SocketAddr,
        proxy: String,
    },
    /// Put a path's WAN toxics back as they were (a degraded link healed).
    SetToxics {
        api: SocketAddr,
        proxy: String,
        toxics: Vec<crate::proxy::ToxicConfig>,
    },
    /// Run an action fault's `undo`.
    Action {
        spec: Box<crate::scenario::ActionSpec>,
        label: String,
        env: crate::action::ActionEnv,
    },
}

/// A fault that has been applied, and what healing it takes.
#[derive(Debug, Clone)]
pub struct Injected {
    pub index: usize,
    pub kind: FaultKind,
    /// Name from the scenario, if any (a later `heal` refers to it).
    pub name: Option<String>,
    /// The node hit, or a short description (`pg-1 | pg-2, clients`) for a partition.
    pub node: String,
    /// Drill time of the injection (just before the engine was asked).
    pub at_ns: u64,
    /// Steps still owed to heal this fault; empty when healed or nothing to heal.
    pub undo: Vec<Undo>,
    /// Whether this fault took the then-primary away from its clients.
    pub hit_primary: bool,
    /// Whether it acted on the then-primary at all (killed, paused or partitioned it, from
    /// anyone, or switched it over): an orchestrator may fail over after it.
    pub touched_primary: bool,
    /// The service whose fault it is (a drill of several): its heal is tagged with it,
    /// whichever handle records the heal.
    pub service: Option<crate::history::Service>,
}

impl Injected {
    pub fn needs_heal(&self) -> bool {
        !self.undo.is_empty()
    }
}

/// What an injector did: description, undo steps, whether the primary was hit.
pub(crate) struct Applied {
    pub detail: String,
    pub undo: Vec<Undo>,
    pub hit_primary: bool,
    /// The node's wall-clock times (ns) right before and after the fault's commit ran in
    /// it, when it ran inside a node (iptables): it took effect between the two.
    pub stamped: Option<(i128, i128)>,
}

/// Applies `spec` now. The event's time is taken before the engine call; the call's own
/// duration is recorded in the event detail.
pub async fn inject(stack: &Stack, index: usize, spec: &FaultSpec, rec: &RecorderHandle) -> Result<Injected> {
    let at_ns = rec.clock.now_ns();
    let started = Instant::now();
    let site_fault = matches!(spec.kind, FaultKind::IsolateSite | FaultKind::KillSite | FaultKind::DegradeLink);
    let target = match &spec.target {
        // a site fault's target is a site (`primary`: the primary's, as the fault finds it)
        Some(t) if site_fault => Some(stack.sites.as_ref().map_or_else(|| t.clone(), |s| site::named(stack, s, t))),
        Some(t) => Some(stack.resolve(t)?),
        None => None,
    };
    focus(stack, spec, target.as_deref(), site_fault);
    let primary = stack.primary();
    let (result, action_at) = apply(stack, index, spec, target.as_deref(), rec, &primary).await;
    // an action fault says itself when it ran
    let (at_ns, applied_at) = action_at.map_or((at_ns, None), |(at, end)| (at, Some(end)));
    let touched_primary = touches_primary(stack, spec, target.as_deref(), &primary);
    let took_ms = started.elapsed().as_millis();
    let node = match (&target, spec.kind) {
        (Some(t), _) => t.clone(),
        (None, FaultKind::DegradeLink) => spec.between.clone().unwrap_or_default().join(" <-> "),
        (None, FaultKind::Switchover) => primary.clone(),
        (None, _) => network::groups_text(stack, spec),
    };
    Injection { index, kind: spec.kind, node: &node, at_ns, applied_at, took_ms }.record(rec, &result).await;
    let applied = result?;
    if spec.kind == FaultKind::Restart {
        // the engine returned once the container runs again: that is the heal
        rec.event(EventKind::FaultHeal, Some(index), Some(&node), format!("restart of {node} complete")).await;
    }
    Ok(Injected {
        index,
        kind: spec.kind,
        name: spec.name.clone(),
        node,
        at_ns,
        undo: applied.undo,
        hit_primary: applied.hit_primary,
        touched_primary,
        service: rec.service().cloned(),
    })
}

/// Asks the injector of `spec`'s kind to apply it to `target`; an action fault also returns
/// when it started and when it ended (drill ns).
async fn apply(
    stack: &Stack,
    index: usize,
    spec: &FaultSpec,
    target: Option<&str>,
    rec: &RecorderHandle,
    primary: &str,
) -> (Result<Applied>, Option<(u64, u64)>) {
    let node = target.unwrap_or_default();
    let result = match spec.kind {
        FaultKind::Kill
        | FaultKind::Stop
        | FaultKind::Pause
        | FaultKind::Restart
        | FaultKind::Destroy
        | FaultKind::DestroyData
        | FaultKind::StarveCpu => node::inject(stack, spec, node).await,
        FaultKind::Partition | FaultKind::Loss => network::inject(stack, index, spec, target).await,
        FaultKind::Bandwidth if spec.link.is_none() => network::inject(stack, index, spec, target).await,
        FaultKind::Heal => Err(Error::usage("a heal is not injected")),
        FaultKind::IsolateSite | FaultKind::KillSite | FaultKind::DegradeLink => site::inject(stack, index, spec).await,
        FaultKind::Switchover => switchover(stack).await,
        FaultKind::ClockSkew => clock::inject(stack, spec, node, &rec.clock).await,
        FaultKind::Action => {
            let (r, at, end) = action::inject(stack, index, spec, rec, target == Some(primary)).await;
            return (r, Some((at, end)));
        }
        _ => link::inject(stack, index, spec, node).await,
    };
    (result, None)
}

/// One injection, as its event tells it.
struct Injection<'a> {
    index: usize,
    kind: FaultKind,
    /// The node hit, or what stands for it (a partition's groups).
    node: &'a str,
    /// When it was asked for (drill ns).
    at_ns: u64,
    /// When it took effect, when the injector knows (an action's end).
    applied_at: Option<u64>,
    /// How long the injector took.
    took_ms: u128,
}

impl Injection<'_> {
    /// Records the fault's inject event (or its failure): when it took effect, by the
    /// node's own clock when it ran inside a node, else when the call returned.
    async fn record(&self, rec: &RecorderHandle, result: &Result<Applied>) {
        let (at_ns, kind, node) = (self.at_ns, kind_name(self.kind), self.node);
        let now = rec.clock.now_ns();
        let on_node = result.as_ref().ok().and_then(|a| node_window(&rec.clock, a.stamped, at_ns, now));
        let (event, detail) = match result {
            Ok(a) => {
                let window = window_text(on_node, at_ns).map(|t| format!(", {t}")).unwrap_or_default();
                (EventKind::FaultInject, format!("{kind} {} ({} ms to apply{window})", a.detail, self.took_ms))
            }
            Err(e) => (EventKind::FaultFailed, format!("{kind} {node} failed: {}", e.one_line())),
        };
        let applied_ns = result.as_ref().ok().map(|_| self.applied_at.or(on_node.map(|w| w.1)).unwrap_or(now));
        let applied_from_ns = on_node.map(|w| w.0);
        rec.record(Event {
            service: None,
            t_ns: at_ns,
            kind: event,
            fault: Some(self.index),
            node: Some(node.to_string()),
            detail,
            applied_ns,
            applied_from_ns,
        })
        .await;
    }
}

/// On a sharded stack, the shard whose primary the fault hits is the one the failover
/// answers to: the target's, or a partition's first member leading a shard when the
/// current one is in no group.
fn focus(stack: &Stack, spec: &FaultSpec, target: Option<&str>, site_fault: bool) {
    if !stack.shards.is_sharded() || site_fault {
        return;
    }
    if let Some(t) = target {
        return stack.focus(t);
    }
    let members: Vec<String> = spec.groups.iter().flatten().flatten().filter_map(|m| stack.resolve(m).ok()).collect();
    if !members.contains(&stack.primary())
        && let Some(m) = members.iter().find(|m| stack.shards.leads(m))
    {
        stack.focus(m);
    }
}

fn touches_primary(stack: &Stack, spec: &FaultSpec, target: Option<&str>, primary: &str) -> bool {
    match spec.kind {
        FaultKind::Switchover => true,
        FaultKind::Partition => spec.groups.iter().flatten().flatten().any(|m| stack.resolve(m).ok().as_deref() == Some(primary)),
        // the site (`target: primary` was resolved to the primary's when the fault came)
        FaultKind::IsolateSite | FaultKind::KillSite => stack.sites.as_ref().is_some_and(|s| s.site(primary) == target),
        _ => target == Some(primary),
    }
}

/// A planned switchover, asked of the stack's orchestrator.
async fn switchover(stack: &Stack) -> Result<Applied> {
    let orch = stack.orchestrator.clone().ok_or_else(|| Error::usage("a switchover needs a stack with an orchestrator"))?;
    let detail = orch.switchover(stack).await?;
    Ok(Applied { detail, undo: Vec::new(), hit_primary: true, stamped: None })
}

/// Undoes a fault that needs it, recording the heal. Idempotent.
pub async fn heal(docker: &Docker, f: &mut Injected, rec: Option<&RecorderHandle>) -> Result<()> {
    if !f.needs_heal() {
        return Ok(());
    }
    let at_ns = rec.map(|r| r.clock.now_ns());
    let mut first_err = None;
    // when the last step took effect, as the node's own clock said (None: when the call returned)
    let mut stamped: Option<(i128, i128)> = None;
    for step in std::mem::take(&mut f.undo) {
        match undo(docker, &step).await {
            Ok(t) => stamped = stamped.max(t),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let kind = kind_name(f.kind);
    let detail = match &first_err {
        None => format!("{kind} on {} healed", f.node),
        Some(e) => format!("healing {kind} on {} failed: {}", f.node, e.one_line()),
    };
    if let (Some(rec), Some(t_ns)) = (rec, at_ns) {
        let now = rec.clock.now_ns();
        let node = node_window(&rec.clock, stamped, t_ns, now);
        let applied_ns = first_err.is_none().then(|| node.map_or(now, |n| n.1));
        let applied_from_ns = node.map(|n| n.0).filter(|_| first_err.is_none());
        let source =
            window_text(node, t_ns).unwrap_or_else(|| format!("call returned, {:.1} ms after the request", (now - t_ns) as f64 / 1e6));
        let detail = format!("{detail} (applied: {source})");
        let (fault, node) = (Some(f.index), Some(f.node.clone()));
        let service = f.service.clone();
        rec.record(Event { service, t_ns, kind: EventKind::FaultHeal, fault, node, detail, applied_ns, applied_from_ns }).await;
    }
    first_err.map_or(Ok(()), Err)
}

/// A node's stamps (wall-clock ns, see `run_stamped`) as drill times; they count only if
/// both fall between the request and now (the same kernel clock).
fn node_window(clock: &crate::clock::Clock, stamped: Option<(i128, i128)>, from_ns: u64, now_ns: u64) -> Option<(u64, u64)> {
    let on_node = |w: i128| clock.ns_at_wall(w).filter(|&n| n >= from_ns && n <= now_ns);
    stamped.and_then(|(a, b)| on_node(a).zip(on_node(b)))
}

/// "node clock, between 21.0 and 23.5 ms after the request"
fn window_text(window: Option<(u64, u64)>, request_ns: u64) -> Option<String> {
    let ms = |t: u64| t.saturating_sub(request_ns) as f64 / 1e6;
    window.map(|(a, b)| format!("node clock, between {:.1} and {:.1} ms after the request", ms(a), ms(b)))
}

/// Undoes one step; an exec step returns the node's wall-clock times (ns) right before and
/// right after its script ran, read inside the node: the heal took effect between the two,
/// and neither includes the exec round trip.
async fn undo(docker: &Docker, step: &Undo) -> Result<Option<(i128, i128)>> {
    match step {
        Undo::Exec { container, script } => {
            if !docker.is_running(container).await {
                return Ok(None);
            }
            run_stamped(docker, container, script).await
        }
        other => undo_call(docker, other).await.map(|_| None),
    }
}

async fn undo_call(docker: &Docker, step: &Undo) -> Result<()> {
    match step {
        Undo::Start { container } => docker.start(container).await,
        Undo::Unpause { container } => docker.unpause(container).await,
        Undo::Unstarve { container } => docker.set_cpu_quota(container, None).await,
        Undo::Exec { .. } => Ok(()),
        Undo::RemoveToxic { api, proxy, toxic } => match ProxyClient::new(*api).remove_toxic(proxy, toxic).await {
            // already gone (a /reset, or the proxy was recreated): healed all the same
            Err(e) if e.one_line().contains("404") => Ok(()),
            r => r,
        },
        Undo::Enable { api, proxy } => ProxyClient::new(*api).set_enabled(proxy, true).await.map(|_| ()),
        Undo::SetToxics { api, proxy, toxics } => site::set_link(&ProxyClient::new(*api), proxy, toxics).await.map(|_| ()),
        Undo::Action { spec, label, env } => action::undo(spec, label, env).await,
    }
}

/// Runs a shell script in a container and returns the container's wall-clock times (ns)
/// right before and right after the script ran, read inside it: neither includes the exec
/// round trip. A non-zero exit is an error carrying its output.
pub(crate) async fn run_stamped(docker: &Docker, container: &str, script: &str) -> Result<Option<(i128, i128)>> {
    let stamped = format!("s0=$(date +%s%N)\n{script}\nst=$?; echo \"$s0 $(date +%s%N)\"; exit $st");
    let out = exec_script(docker, container, &stamped, script).await?;
    let last = out.lines().last().unwrap_or_default();
    let mut stamps = last.split_whitespace().map(|w| w.parse::<i128>().ok());
    Ok(stamps.next().flatten().zip(stamps.next().flatten()))
}

/// Runs a shell script in a container; a non-zero exit is an error carrying its output.
pub(crate) async fn run_script(docker: &Docker, container: &str, script: &str) -> Result<()> {
    exec_script(docker, container, script, script).await.map(|_| ())
}

/// Runs `full` with `sh -c` in a container and returns its output; a non-zero exit is an
/// error naming `script` (what the caller asked for) and carrying the output.
async fn exec_script(docker: &Docker, container: &str, full: &str, script: &str) -> Result<String> {
    let (code, out) = docker.exec(container, &["sh", "-c", full]).await?;
    if code != 0 {
        return Err(Error::infra(format!("failed to run `{script}` in {container} (exit {code})")).cause_text(out.trim()));
    }
    Ok(out)
}

/// Undoes the steps of a fault that could only be applied in part.
pub(crate) async fn rollback(docker: &Docker, steps: &[Undo]) {
    for step in steps {
        let _ = undo(docker, step).await;
    }
}
