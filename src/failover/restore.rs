//! A restore instead of a promotion: after the disaster destroyed the primary (and its
//! replicas), a fresh node takes the primary's place (same name, address and port), the
//! stack's backup is restored into it, the database starts, replays what was archived and
//! takes writes; then the clients are pointed at it. Each step is an event, so the RTO
//! splits into fresh node → restore (fetch) → start → replay → reroute (docs/restore.md).
use super::plan::{FailoverReport, RestoreReport, triggered};
use super::recovery::Scene;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{FailoverSpec, RestoreTo};
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
        return failed(report, &rec, fault, "this stack has no backup to restore from (a bug: validation should have refused it)".into())
            .await;
    };
    let (allowed_loss_ms, allowed_by) = r.allowed_loss();
    let backup = stack.backup.get().cloned().unwrap_or_default();
    let mut rr = RestoreReport { tool: r.tool().into(), backup, node: node.clone(), allowed_loss_ms, allowed_by, ..Default::default() };
    let ms = |ns: u64| Some(ns as f64 / 1e6);

    let target = match spec.restore_to {
        RestoreTo::Latest => None,
        RestoreTo::BeforeFault => {
            let target = report.set_target(&rec.clock);
            if stack.running(&node).await {
                let note = match r.point_in_time() {
                    Some(p) => p.archive_now(&stack, &node).await.unwrap_or_else(|e| format!("final archive failed: {}", e.one_line())),
                    None => format!("no final archive: a {} restore recovers to the latest state only", r.tool()),
                };
                rr.archived_ms = ms(rec.event(EventKind::Note, fault, Some(&node), note).await);
            }
            Some(target)
        }
    };
    let (env, cmd) = r.fresh_node(&node);
    if let Err(e) = stack.replace_node(&node, env, cmd).await {
        report.restore = Some(rr);
        return failed(report, &rec, fault, format!("fresh node {node}: {}", e.one_line())).await;
    }
    rr.node_ms =
        ms(rec.event(EventKind::RestoreNode, fault, Some(&node), format!("fresh node {node}, empty; the repository mounted")).await);
    match r.fetch(&stack, &node, target).await {
        Ok(detail) => {
            rr.fetched_ms = ms(rec.event(EventKind::RestoreFetched, fault, Some(&node), detail.clone()).await);
            rr.fetched = detail;
        }
        Err(e) => {
            report.restore = Some(rr);
            return failed(report, &rec, fault, format!("restore into {node}: {}", e.one_line())).await;
        }
    }
    if let Err(e) = r.start(&stack, &node).await {
        report.restore = Some(rr);
        return failed(report, &rec, fault, format!("start of {node}: {}", e.one_line())).await;
    }
    let addr = match stack.node(&node) {
        Ok(n) => n.addr(),
        Err(e) => return failed(report, &rec, fault, e.one_line()).await,
    };
    let deadline = tokio::time::Instant::now() + REPLAY_TIMEOUT;
    loop {
        if rr.started_ms.is_none() && r.running(&stack, &node, driver.data()).await {
            rr.started_ms = ms(rec.event(EventKind::RestoreStarted, fault, Some(&node), "accepts connections, replaying").await);
            match r.replay(&stack, &node, target).await {
                Ok(Some(detail)) => {
                    rr.replayed_ms = ms(rec.event(EventKind::Note, fault, Some(&node), format!("replayed: {detail}")).await);
                    rr.replayed = detail;
                }
                Ok(None) => {}
                Err(e) => {
                    report.restore = Some(rr);
                    return failed(report, &rec, fault, format!("replay on {node}: {}", e.one_line())).await;
                }
            }
        }
        if driver.data().probe(addr, PROBE_TIMEOUT).await {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            report.restore = Some(rr);
            return failed(report, &rec, fault, format!("{node} did not take writes within {} s", REPLAY_TIMEOUT.as_secs())).await;
        }
        tokio::time::sleep(POLL).await;
    }
    let writable = rec.event(EventKind::FailoverPromote, fault, Some(&node), format!("restored {node} takes writes")).await;
    rr.writable_ms = ms(writable);
    rr.started_ms = rr.started_ms.or(rr.writable_ms);
    stack.set_primary(&node);
    report.new_primary = Some(node.clone());
    if spec.repoint_clients
        && let Ok(n) = stack.node(&node)
    {
        super::recovery::repoint_clients(&clients, &rec, fault, &node, n.client_addr()).await;
    }
    report.done_ms = ms(rec.event(EventKind::FailoverDone, fault, Some(&node), format!("{node} restored from backup")).await);
    report.restore = Some(rr);
    report
}

async fn failed(mut report: FailoverReport, rec: &RecorderHandle, fault: Option<usize>, msg: String) -> FailoverReport {
    rec.event(EventKind::FailoverFailed, fault, None, msg.clone()).await;
    report.error = Some(msg);
    report
}
