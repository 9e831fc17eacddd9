//! Failover by the stack's own orchestrator (Sentinel, Patroni): drdrill never promotes,
//! repoints or fences. It watches what the orchestrator does and records it on the
//! history clock: `detected` (the primary declared down), `promoted` (a new primary
//! accepts writes), and notes for every other step the orchestrator announces.
use super::FailoverReport;
use crate::error::Result;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::stack::Stack;
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One thing the orchestrator was seen doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// The primary was declared down (Sentinel `+sdown`; Patroni: the leader key lapsed).
    Detected { detail: String },
    /// `node` is the new primary and accepts writes.
    Promoted { node: String, detail: String },
    /// The clients' endpoint (MHA's virtual IP) now reaches `node`.
    Moved { node: String, detail: String },
    /// Any other step (`+odown`, `+switch-master`, a leader election …).
    Note { detail: String },
}

/// How long each phase may take given the settings, with the setting it comes from.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Budgets {
    pub detection_ms: Option<f64>,
    pub detection_from: String,
    pub promotion_ms: Option<f64>,
    pub promotion_from: String,
    pub reroute_ms: Option<f64>,
    pub reroute_from: String,
    /// What the reference documents claim for this orchestrator, shown beside the phases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

impl Budgets {
    /// Everything the settings allow, for bounding how long drdrill waits for a failover.
    pub fn total_ms(&self) -> f64 {
        [self.detection_ms, self.promotion_ms, self.reroute_ms].iter().flatten().sum()
    }
}

/// A stack's own failover machinery, seen from outside.
#[async_trait]
pub trait Orchestrator: Send + Sync {
    /// "Redis Sentinel", "Patroni".
    fn name(&self) -> &'static str;
    /// Watches the orchestrator and sends what it does until `tx` is closed or the task
    /// is aborted. Returns an error only when it cannot watch at all.
    async fn watch(&self, stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()>;
    /// The phase budgets the settings imply.
    fn budgets(&self) -> Budgets;
    /// Asks the orchestrator for a planned switchover away from the current primary;
    /// returns what it was asked.
    async fn switchover(&self, stack: &Stack) -> Result<String>;
}

/// Records what `orch` does until it promotes a new primary after a fault touched the
/// primary, or (with no such fault) the fault schedule ends, or the settings' whole
/// budget plus 30 s passes after the last such fault with no promotion.
pub async fn run_orchestrated(
    orch: Arc<dyn Orchestrator>,
    stack: Arc<Stack>,
    rec: RecorderHandle,
    mut faults: mpsc::UnboundedReceiver<FaultNotice>,
) -> FailoverReport {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let watcher = tokio::spawn({
        let (orch, stack) = (orch.clone(), stack.clone());
        async move { orch.watch(stack, tx).await }
    });
    let grace = Duration::from_secs_f64(orch.budgets().total_ms() / 1000.0) + Duration::from_secs(30);
    let mut report = FailoverReport { old_primary: Some(stack.primary()), ..Default::default() };
    let mut touched: Option<usize> = None;
    let mut give_up: Option<tokio::time::Instant> = None;
    let mut schedule_open = true;
    loop {
        tokio::select! {
            n = faults.recv(), if schedule_open => match n {
                Some(n) if n.injected.touched_primary && !n.healed => {
                    touched = Some(n.injected.index);
                    give_up = Some(tokio::time::Instant::now() + grace);
                    // a switchover call may return only once the orchestrator has
                    // promoted: that promotion answered this fault
                    if report.done_ms.is_some_and(|d| d >= n.injected.at_ns as f64 / 1e6) {
                        break;
                    }
                }
                Some(_) => {}
                None => {
                    schedule_open = false;
                    if touched.is_none() {
                        break;
                    }
                }
            },
            o = seen.recv() => match o {
                Some(o) => {
                    if record(&o, &stack, &rec, touched, &mut report).await {
                        break;
                    }
                }
                None => {
                    let why = match watcher.is_finished() {
                        true => "stopped watching the orchestrator",
                        false => "lost the orchestrator's event stream",
                    };
                    rec.event(EventKind::Note, touched, None, why).await;
                    report.error = Some(why.into());
                    break;
                }
            },
            _ = async { tokio::time::sleep_until(give_up.expect("guarded")).await }, if give_up.is_some() && !schedule_open => {
                let msg = format!("{} did not promote a new primary within its settings' budget + 30 s", orch.name());
                rec.event(EventKind::Note, touched, None, msg.clone()).await;
                report.error = Some(msg);
                break;
            }
        }
    }
    watcher.abort();
    report.answered_fault = touched;
    report
}

/// Records one observation; true once a new primary is promoted after a fault.
async fn record(o: &Observed, stack: &Stack, rec: &RecorderHandle, fault: Option<usize>, report: &mut FailoverReport) -> bool {
    let ms = |ns: u64| ns as f64 / 1e6;
    match o {
        Observed::Detected { detail } => {
            let t = rec.event(EventKind::OrchestratorDetected, fault, Some(&stack.primary()), detail.clone()).await;
            report.started_ms.get_or_insert(ms(t));
            false
        }
        Observed::Promoted { node, detail } => {
            let old = stack.primary();
            let t = rec.event(EventKind::OrchestratorPromoted, fault, Some(node), detail.clone()).await;
            if *node == old {
                return false;
            }
            stack.set_primary(node);
            report.new_primary = Some(node.clone());
            report.done_ms = Some(ms(t));
            fault.is_some()
        }
        Observed::Moved { node, detail } => {
            rec.event(EventKind::OrchestratorMoved, fault, Some(node), detail.clone()).await;
            false
        }
        Observed::Note { detail } => {
            rec.event(EventKind::OrchestratorNote, fault, None, detail.clone()).await;
            false
        }
    }
}
