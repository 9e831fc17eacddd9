//! A restore instead of a promotion: after the disaster destroyed the primary (and its
//! replicas), a fresh node takes the primary's place (same name, address and port), the
//! stack's backup is restored into it, the database starts, replays what was archived and
//! takes writes; then the clients are pointed at it. Each step is an event, so the RTO
//! splits into fresh node → restore (fetch) → start → replay → reroute (docs/restore.md).
use super::report::{FailoverReport, RestoreReport};
use super::scene::{Scene, repoint_clients};
use super::trigger::triggered;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{FailoverSpec, RestoreTo};
use crate::stack::{DataPath, Restore, Stack};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the restored database may take to replay and take writes.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(20);
/// A probe of the restored node gives up this soon: a connection whose SYN went nowhere
/// while the node's address came up must not hide, for a whole retransmission timeout
/// (1 s), the moment it takes writes.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

pub(super) async fn restore(spec: &FailoverSpec, scene: Scene, mut faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
    let mut report = match triggered(spec, &scene, &mut faults).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Scene { stack, driver, rec, clients } = scene;
    let fault = report.answered_fault;
    let node = report.old_primary.clone().unwrap_or_default();
    let Some(r) = driver.restore() else {
        let msg = "this stack has no backup to restore from (a bug: validation should have refused it)";
        return report.failed(&rec, fault, None, msg.into()).await;
    };
    let (allowed_loss_ms, allowed_by) = r.allowed_loss();
    let backup = stack.backup.get().cloned().unwrap_or_default();
    let mut rr = RestoreReport { tool: r.tool().into(), backup, node: node.clone(), allowed_loss_ms, allowed_by, ..Default::default() };
    let site = spec.site.as_deref();
    let restoring = Restoring { stack: &stack, data: driver.data(), r, rec: &rec, fault, node: &node, site };
    let target = match spec.restore_to {
        RestoreTo::Latest => None,
        RestoreTo::BeforeFault => Some(restoring.before_fault(&mut report, &mut rr).await),
    };
    let restored = restoring.run(target, &mut rr).await;
    report.restore = Some(rr);
    if let Err(msg) = restored {
        return report.failed(&rec, fault, None, msg).await;
    }
    stack.set_primary(&node);
    report.new_primary = Some(node.clone());
    if spec.repoint_clients
        && let Ok(n) = stack.node(&node)
    {
        repoint_clients(&clients, &rec, fault, &node, n.client_addr()).await;
    }
    report.done_ms = restoring.event(EventKind::FailoverDone, format!("{node} restored from backup")).await;
    report
}

/// One restore of `node` from the stack's backup, each step an event about the node.
struct Restoring<'a> {
    stack: &'a Stack,
    data: &'a dyn DataPath,
    r: &'a dyn Restore,
    rec: &'a RecorderHandle,
    fault: Option<usize>,
    node: &'a str,
    /// The site the fresh node is built in (`failover.site`: the DR site); None: the node's own.
    site: Option<&'a str>,
}

impl Restoring<'_> {
    /// Records `detail` about the node; when it was recorded (drill ms).
    async fn event(&self, kind: EventKind, detail: impl Into<String>) -> Option<f64> {
        Some(self.rec.event(kind, self.fault, Some(self.node), detail).await as f64 / 1e6)
    }

    /// Point-in-time recovery: the target (recorded in the report) and, while the old
    /// primary still runs, its final archive of what it had not yet archived.
    async fn before_fault(&self, report: &mut FailoverReport, rr: &mut RestoreReport) -> DateTime<Utc> {
        let target = report.set_target(&self.rec.clock);
        let (stack, node) = (self.stack, self.node);
        if stack.running(node).await {
            let note = match self.r.point_in_time() {
                Some(p) => p.archive_now(stack, node).await.unwrap_or_else(|e| format!("final archive failed: {}", e.one_line())),
                None => format!("no final archive: a {} restore recovers to the latest state only", self.r.tool()),
            };
            rr.archived_ms = self.event(EventKind::Note, note).await;
        }
        target
    }

    /// A fresh node in the old one's place, the backup fetched into it and started, then
    /// waited on until it takes writes (recorded as its promotion); Err with why it failed.
    async fn run(&self, target: Option<DateTime<Utc>>, rr: &mut RestoreReport) -> Result<(), String> {
        let (stack, node) = (self.stack, self.node);
        let (env, cmd) = self.r.fresh_node(node);
        stack.replace_node(node, self.site, env, cmd).await.map_err(|e| format!("fresh node {node}: {}", e.one_line()))?;
        let place = self.site.map(|s| format!(" in {s}")).unwrap_or_default();
        rr.node_ms = self.event(EventKind::RestoreNode, format!("fresh node {node}{place}, empty; {}", self.r.reaches())).await;
        let detail = self.r.fetch(stack, node, target).await.map_err(|e| format!("restore into {node}: {}", e.one_line()))?;
        rr.fetched_ms = self.event(EventKind::RestoreFetched, detail.clone()).await;
        rr.fetched = detail;
        self.r.start(stack, node).await.map_err(|e| format!("start of {node}: {}", e.one_line()))?;
        self.writable(target, rr).await?;
        rr.writable_ms = self.event(EventKind::FailoverPromote, format!("restored {node} takes writes")).await;
        rr.started_ms = rr.started_ms.or(rr.writable_ms);
        Ok(())
    }

    /// Polls the started node until it takes writes; once it accepts connections, has it
    /// replay what the backup lacks up to `target`.
    async fn writable(&self, target: Option<DateTime<Utc>>, rr: &mut RestoreReport) -> Result<(), String> {
        let (stack, node) = (self.stack, self.node);
        let addr = stack.node(node).map_err(|e| e.one_line())?.addr();
        let deadline = tokio::time::Instant::now() + REPLAY_TIMEOUT;
        loop {
            if rr.started_ms.is_none() && self.r.running(stack, node, self.data).await {
                rr.started_ms = self.event(EventKind::RestoreStarted, "accepts connections, replaying").await;
                let replayed = self.r.replay(stack, node, target).await.map_err(|e| format!("replay on {node}: {}", e.one_line()))?;
                if let Some(detail) = replayed {
                    rr.replayed_ms = self.event(EventKind::Note, format!("replayed: {detail}")).await;
                    rr.replayed = detail;
                }
            }
            if self.data.probe(addr, PROBE_TIMEOUT).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{node} did not take writes within {} s", REPLAY_TIMEOUT.as_secs()));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
