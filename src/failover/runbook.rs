//! The scenario's runbook steps instead of drdrill's promotion (`failover.steps`): each step
//! in order, a `dns` step moving the clients' record, and the node the steps made the primary.
use super::looking::{LOOK_TIMEOUT, Looking};
use super::report::FailoverReport;
use super::scene::{Scene, repoint_clients};
use super::trigger::triggered;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{DnsMove, FailoverSpec};
use crate::stack::{Driver, Stack};
use crate::workload::ClientRoute;
use tokio::sync::mpsc;

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
    let book = Runbook { spec, stack: &stack, driver: driver.as_ref(), rec: &rec, clients: &clients, fault: report.answered_fault };
    let fault = book.fault;
    let old = report.old_primary.clone().unwrap_or_default();
    let (settled, moved) = match book.steps().await {
        Ok(done) => done,
        Err(msg) => return report.failed(&rec, fault, None, msg).await,
    };
    let (new, waited) = match settled.clone() {
        Some(n) => (Some(n), String::new()),
        None => book.made_primary(&old).await,
    };
    if let (Some(new), None) = (&new, &settled) {
        stack.set_primary(new);
        rec.event(EventKind::FailoverPromote, fault, Some(new), format!("the steps made {new} the primary{waited}")).await;
        if spec.repoint_clients
            && !moved
            && driver.client_entry().is_none()
            && let Ok(n) = stack.node(new)
        {
            repoint_clients(&clients, &rec, fault, new, n.client_addr()).await;
        }
    }
    report.new_primary = new.clone();
    let to = new.unwrap_or_else(|| "(no node probes writable)".into());
    report.done_ms = Some(rec.event(EventKind::FailoverDone, fault, None, format!("{old} -> {to} (steps)")).await as f64 / 1e6);
    report
}

/// What the runbook's steps act on and record into, for the fault they answer.
struct Runbook<'a> {
    spec: &'a FailoverSpec,
    stack: &'a Stack,
    driver: &'a dyn Driver,
    rec: &'a RecorderHandle,
    clients: &'a ClientRoute,
    fault: Option<usize>,
}

impl Runbook<'_> {
    /// Every step in order: the new primary a `dns` step settled (the steps before it
    /// promoted it) and whether one moved the clients; Err with why the first failed step did.
    async fn steps(&self) -> Result<(Option<String>, bool), String> {
        let env = self.stack.action_env();
        let (mut settled, mut moved) = (None, false);
        for (i, step) in self.spec.steps.iter().enumerate() {
            let failed = match &step.dns {
                Some(d) => {
                    let r = self.dns_step(d, settled.is_none()).await;
                    r.map(|promoted| {
                        settled = settled.take().or(promoted);
                        moved = true;
                    })
                    .err()
                }
                None => {
                    let o = crate::action::perform_recorded(step, &format!("step-{i}"), &env, self.rec, self.fault).await;
                    (!o.ok).then_some(o.detail)
                }
            };
            if let Some(detail) = failed {
                return Err(format!("step {i} failed: {detail}"));
            }
        }
        Ok((settled, moved))
    }

    /// The node the steps made the primary when no `dns` step settled it: `promote` when it
    /// names a node, else the first node but `old` that probes writable, looked for until one
    /// does (why none did, once `promote_timeout_ms` ran out, is a note); and how long the
    /// looking took (" after looking …", or empty).
    async fn made_primary(&self, old: &str) -> (Option<String>, String) {
        if self.spec.promote != "most-advanced" {
            return (Some(self.spec.promote.clone()), String::new());
        }
        let what = "a node the steps made writable".to_string();
        match self.first_writable(what, |n| n != old).await {
            Ok((node, waited)) => (Some(node), waited),
            Err(why) => {
                self.rec.event(EventKind::Note, self.fault, None, why).await;
                (None, String::new())
            }
        }
    }

    /// The first node `keep` takes that probes writable, in start order, looked for again
    /// until one does or `failover.promote_timeout_ms` runs out: the node and how long that
    /// took (" after looking …", empty at the first look), or why none was found.
    async fn first_writable(&self, what: String, keep: impl Fn(&str) -> bool) -> Result<(String, String), String> {
        let mut looking = Looking::new(self.rec, self.fault, what, self.spec.promote_timeout_ms);
        loop {
            for n in self.stack.nodes.iter().filter(|n| keep(&n.name)) {
                if self.driver.data().probe(n.addr(), LOOK_TIMEOUT).await {
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
    /// its node writable settles the new primary (returned, when `settle`); the move itself is
    /// the clients' repoint. A node named is probed once: a runbook may move the record before promoting.
    async fn dns_step(&self, d: &DnsMove, settle: bool) -> Result<Option<String>, String> {
        let Runbook { stack, driver, rec, fault, .. } = *self;
        let in_site = |n: &str| stack.sites.as_ref().is_some_and(|s| s.site(n) == Some(d.to.as_str()));
        let (node, writable, waited) = match stack.node(&d.to) {
            Ok(n) => (d.to.clone(), driver.data().probe(n.addr(), LOOK_TIMEOUT).await, String::new()),
            // a site's node was found by probing it writable
            Err(_) => {
                let what = format!("a writable node in {}", d.to);
                let (n, waited) = self.first_writable(what, in_site).await?;
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
        let detail = self.clients.repoint(&node, addr).await.map_err(|e| format!("dns: {}", e.one_line()))?;
        rec.event(EventKind::FailoverRepointClients, fault, Some(&node), detail).await;
        Ok(promoted)
    }
}
