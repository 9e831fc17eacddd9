use super::looking::{LOOK_TIMEOUT, Looking};
use super::recovery::Scene;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{DelayTrigger, FailoverSpec, ProbeTrigger};
use crate::stack::{Driver, Stack};
use serde::Serialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the failover did, for results.json.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct FailoverReport {
    pub started_ms: Option<f64>,
    pub done_ms: Option<f64>,
    pub old_primary: Option<String>,
    pub new_primary: Option<String>,
    /// Replica positions seen when choosing (node, position).
    pub candidates: Vec<(String, u64)>,
    pub repointed: Vec<String>,
    /// How long the promotion looked for the replica it chose (ms): 0 when it answered at
    /// once, longer when it was still restarting (notes in the history say each miss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_ms: Option<f64>,
    pub rejoined: Option<String>,
    pub error: Option<String>,
    /// Index of the fault the failover answered, and when it was injected (drill ms).
    pub answered_fault: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<f64>,
    /// Point-in-time recovery (`restore_to: before_fault`): the target, drill ms, just
    /// before the fault answered. Writes acknowledged after it are discarded by design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<f64>,
    /// A restore recovery's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreReport>,
    /// An operator's bootstrap: the positions read, the node chosen, its steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapReport>,
}

/// What an operator's bootstrap did, step by step (drill ms).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct BootstrapReport {
    /// Every node's saved position, as it was read.
    pub positions: Vec<SavedPosition>,
    /// The node that formed the new primary component.
    pub chosen: String,
    /// Every stopped node's machine back, its database held.
    pub held_ms: Option<f64>,
    /// Every saved position read.
    pub read_ms: Option<f64>,
    /// The chosen node in a primary component, taking writes.
    pub bootstrapped_ms: Option<f64>,
    /// Every other node a member again.
    pub joined_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SavedPosition {
    pub node: String,
    pub seqno: u64,
    pub position: String,
    /// Where it was read (a running node's last commit, a crashed node's InnoDB).
    pub how: String,
}

impl SavedPosition {
    pub(super) fn of(node: &str, s: &crate::stack::Saved) -> Self {
        SavedPosition { node: node.to_string(), seqno: s.seqno, position: s.position.clone(), how: s.how.clone() }
    }
}

impl FailoverReport {
    /// Point-in-time recovery: the answered fault's injection is the target; records it
    /// (drill ms) and returns it in UTC.
    pub(super) fn set_target(&mut self, clock: &crate::clock::Clock) -> chrono::DateTime<chrono::Utc> {
        let at_ns = self.answered_at_ms.map(|ms| (ms * 1e6) as u64).unwrap_or(0);
        self.target_ms = Some(at_ns as f64 / 1e6);
        clock.wall_anchor + chrono::Duration::nanoseconds(at_ns as i64)
    }
}

/// What a restore recovery did, step by step (drill ms), beside what its settings allow.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct RestoreReport {
    pub tool: String,
    /// The backup taken before the workload, in the tool's words.
    pub backup: String,
    pub node: String,
    /// Point-in-time recovery: the old primary archived what it had not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_ms: Option<f64>,
    /// The fresh node ran, the backup was restored into it, the database accepted
    /// connections, then writes.
    pub node_ms: Option<f64>,
    pub fetched_ms: Option<f64>,
    pub started_ms: Option<f64>,
    /// drdrill replayed what the backup lacks (a streamed binlog) and opened the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_ms: Option<f64>,
    pub writable_ms: Option<f64>,
    pub fetched: String,
    /// What was replayed on the restored node besides the backup (a streamed binlog),
    /// in the tool's words; empty when the database replayed by itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replayed: String,
    /// The acknowledged time the settings allow a restore to lose (ms), and why.
    pub allowed_loss_ms: u64,
    pub allowed_by: String,
}

/// Waits for the plan's trigger; returns why failover starts, or None if it never will.
async fn wait_trigger(
    spec: &FailoverSpec,
    stack: &Stack,
    driver: &dyn Driver,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    rec: &RecorderHandle,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    match (&spec.trigger.delay, &spec.trigger.probe) {
        (Some(d), _) => wait_delay(d, faults, rec, last_hit).await,
        (None, Some(p)) => wait_probe(p, stack, driver, faults, last_hit).await,
        (None, None) => None, // refused by validation
    }
}

/// A fixed delay after the first fault that hits the primary.
async fn wait_delay(
    d: &DelayTrigger,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    rec: &RecorderHandle,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    loop {
        let notice = faults.recv().await?;
        if notice.injected.hit_primary && !notice.healed {
            *last_hit = Some((notice.injected.index, notice.injected.at_ns));
            let at = rec.clock.instant_at(notice.injected.at_ns.saturating_add(crate::clock::ms_to_ns(d.delay_ms)));
            tokio::time::sleep_until(at.into()).await;
            return Some(format!("{} ms after fault #{}", d.delay_ms, notice.injected.index));
        }
    }
}

/// Probes the primary every `interval_ms` until `failures` probes in a row fail.
async fn wait_probe(
    p: &ProbeTrigger,
    stack: &Stack,
    driver: &dyn Driver,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    let mut down = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(p.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // with sites the health check stands where the clients do: an isolated site's
        // primary still answers drdrill's own control path
        let node = stack.node(&stack.primary()).ok()?;
        let addr = if stack.sites.is_some() { node.client_addr() } else { node.addr() };
        let up = driver.data().probe(addr, Duration::from_millis(p.timeout_ms)).await;
        // the notices of faults injected while the probe ran too: the failures that trip
        // the trigger may have begun before the fault (a lossy link), and the fault that
        // landed during the last probe is still the one the failover answers
        while let Ok(n) = faults.try_recv() {
            if n.injected.hit_primary && !n.healed {
                *last_hit = Some((n.injected.index, n.injected.at_ns));
            }
        }
        if up {
            down = 0;
            continue;
        }
        down += 1;
        if down >= p.failures {
            return Some(format!("{down} consecutive failed probes ({} ms apart, {} ms timeout)", p.interval_ms, p.timeout_ms));
        }
    }
}

/// Waits for the plan's trigger and records the failover's start; None (with the report
/// of a failover that never triggered) when the fault schedule ends first.
pub(super) async fn triggered(
    spec: &FailoverSpec,
    scene: &Scene,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
) -> std::result::Result<FailoverReport, FailoverReport> {
    let mut report = FailoverReport::default();
    let mut last_hit = None;
    let Some(why) = wait_trigger(spec, &scene.stack, scene.driver.as_ref(), faults, &scene.rec, &mut last_hit).await else {
        return Err(report);
    };
    report.answered_fault = last_hit.map(|h| h.0);
    report.answered_at_ms = last_hit.map(|h| h.1 as f64 / 1e6);
    let old = scene.stack.primary();
    report.old_primary = Some(old.clone());
    report.started_ms = Some(scene.rec.event(EventKind::FailoverStart, report.answered_fault, Some(&old), why).await as f64 / 1e6);
    Ok(report)
}

/// The scenario's own failover: its steps in order (a failed step ends the failover, and
/// leaves the verdict unknown). The new primary is `promote` when it names a node, else
/// the first other node that probes writable; clients are repointed to it only when they
/// connect to nodes directly and `repoint_clients` holds.
pub(super) async fn run_steps(spec: &FailoverSpec, scene: Scene, mut faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
    let mut report = match triggered(spec, &scene, &mut faults).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Scene { stack, driver, rec, clients } = scene;
    let fault = report.answered_fault;
    let env = stack.action_env();
    let old = report.old_primary.clone().unwrap_or_default();
    // a `dns` step settles the new primary (the steps before it promoted it) and moves
    // the clients itself
    let (mut settled, mut moved) = (None, false);
    for (i, step) in spec.steps.iter().enumerate() {
        let failed = match &step.dns {
            Some(d) => {
                let r = dns_step(spec, d, &stack, driver.as_ref(), &rec, &clients, fault, settled.is_none()).await;
                r.map(|promoted| {
                    settled = settled.take().or(promoted);
                    moved = true;
                })
                .err()
            }
            None => {
                let o = crate::action::perform_recorded(step, &format!("step-{i}"), &env, &rec, fault).await;
                (!o.ok).then_some(o.detail)
            }
        };
        if let Some(detail) = failed {
            let msg = format!("step {i} failed: {detail}");
            rec.event(EventKind::FailoverFailed, fault, None, msg.clone()).await;
            report.error = Some(msg);
            return report;
        }
    }
    let (new, waited) = match settled.clone() {
        Some(n) => (Some(n), String::new()),
        None => made_primary(spec, &stack, driver.as_ref(), &rec, fault, &old).await,
    };
    if let (Some(new), None) = (&new, &settled) {
        stack.set_primary(new);
        rec.event(EventKind::FailoverPromote, fault, Some(new), format!("the steps made {new} the primary{waited}")).await;
        if spec.repoint_clients
            && !moved
            && driver.client_entry().is_none()
            && let Ok(n) = stack.node(new)
        {
            super::recovery::repoint_clients(&clients, &rec, fault, new, n.client_addr()).await;
        }
    }
    report.new_primary = new.clone();
    let to = new.unwrap_or_else(|| "(no node probes writable)".into());
    report.done_ms = Some(rec.event(EventKind::FailoverDone, fault, None, format!("{old} -> {to} (steps)")).await as f64 / 1e6);
    report
}

/// The node the steps made the primary when no `dns` step settled it: `promote` when it
/// names a node, else the first node but `old` that probes writable, looked for until one
/// does (why none did, once `promote_timeout_ms` ran out, is a note); and how long the
/// looking took (" after looking …", or empty).
async fn made_primary(
    spec: &FailoverSpec,
    stack: &Stack,
    driver: &dyn Driver,
    rec: &RecorderHandle,
    fault: Option<usize>,
    old: &str,
) -> (Option<String>, String) {
    if spec.promote != "most-advanced" {
        return (Some(spec.promote.clone()), String::new());
    }
    let what = "a node the steps made writable".to_string();
    match first_writable(spec, stack, driver, rec, fault, what, |n| n != old).await {
        Ok((node, waited)) => (Some(node), waited),
        Err(why) => {
            rec.event(EventKind::Note, fault, None, why).await;
            (None, String::new())
        }
    }
}

/// The first node `keep` takes that probes writable, in start order, looked for again
/// until one does or `failover.promote_timeout_ms` runs out: the node and how long that
/// took (" after looking …", empty at the first look), or why none was found.
async fn first_writable(
    spec: &FailoverSpec,
    stack: &Stack,
    driver: &dyn Driver,
    rec: &RecorderHandle,
    fault: Option<usize>,
    what: String,
    keep: impl Fn(&str) -> bool,
) -> std::result::Result<(String, String), String> {
    let mut looking = Looking::new(rec, fault, what, spec.promote_timeout_ms);
    loop {
        for n in stack.nodes.iter().filter(|n| keep(&n.name)) {
            if driver.data().probe(n.addr(), LOOK_TIMEOUT).await {
                return Ok((n.name.clone(), looking.waited()));
            }
        }
        if !looking.missed(None, "no node probes writable").await {
            return Err(looking.gave_up("no node probes writable"));
        }
    }
}

/// A runbook's `dns` step: the record moves to the node named, or to the node of the site
/// named that probes writable (looked for until one does). The first such step that finds
/// its node writable settles the new primary (returned); the move itself is the clients'
/// repoint. A node named is probed once: a runbook may move the record before promoting.
#[allow(clippy::too_many_arguments)]
async fn dns_step(
    spec: &FailoverSpec,
    d: &crate::scenario::DnsMove,
    stack: &Stack,
    driver: &dyn Driver,
    rec: &RecorderHandle,
    clients: &crate::workload::ClientRoute,
    fault: Option<usize>,
    settle: bool,
) -> std::result::Result<Option<String>, String> {
    let in_site = |n: &str| stack.sites.as_ref().is_some_and(|s| s.site(n) == Some(d.to.as_str()));
    let (node, writable, waited) = match stack.node(&d.to) {
        Ok(n) => (d.to.clone(), driver.data().probe(n.addr(), LOOK_TIMEOUT).await, String::new()),
        // a site's node was found by probing it writable
        Err(_) => {
            let what = format!("a writable node in {}", d.to);
            let (n, waited) = first_writable(spec, stack, driver, rec, fault, what, in_site).await?;
            (n, true, waited)
        }
    };
    let promoted = (settle && writable).then(|| node.clone());
    if let Some(new) = &promoted {
        stack.set_primary(new);
        rec.event(EventKind::FailoverPromote, fault, Some(new), format!("the steps made {new} the primary{waited}")).await;
    } else if !writable {
        rec.event(EventKind::Note, fault, Some(&node), format!("{node} does not probe writable; the record moves anyway")).await;
    }
    let addr = stack.node(&node).map_err(|e| e.one_line())?.client_addr();
    let detail = clients.repoint(&node, addr).await.map_err(|e| format!("dns: {}", e.one_line()))?;
    rec.event(EventKind::FailoverRepointClients, fault, Some(&node), detail).await;
    Ok(promoted)
}
