//! Failover by the stack's own orchestrator (Sentinel, Patroni): drdrill never promotes,
//! repoints or fences. It watches what the orchestrator does and records it on the
//! history clock: `detected` (the primary declared down), `promoted` (a new primary
//! accepts writes), and notes for every other step the orchestrator announces.
use super::report::FailoverReport;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::stack::{Observed, Orchestrator, Stack};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Records what `orch` does until it promotes a new primary after a fault touched the
/// primary, or (with no such fault) the fault schedule ends, or the settings' whole
/// budget plus 30 s passes after the last such fault with no promotion.
pub(super) async fn run_orchestrated(
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
    let report = FailoverReport { old_primary: Some(stack.primary()), ..Default::default() };
    let mut w = Watching { stack: &stack, rec: &rec, grace, report, touched: None, give_up: None, schedule_open: true, moved: false };
    loop {
        let give_up = w.give_up;
        let done = tokio::select! {
            n = faults.recv(), if w.schedule_open => w.fault(n),
            o = seen.recv() => match o {
                Some(o) => w.observed(&o).await,
                None => {
                    let why = match watcher.is_finished() {
                        true => "stopped watching the orchestrator",
                        false => "lost the orchestrator's event stream",
                    };
                    w.stop(why.into()).await
                }
            },
            _ = async { tokio::time::sleep_until(give_up.expect("guarded")).await }, if give_up.is_some() && !w.schedule_open => {
                w.stop(format!("{} did not promote a new primary within its settings' budget + 30 s", orch.name())).await
            }
        };
        if done {
            break;
        }
    }
    let Watching { mut report, touched, moved, .. } = w;
    if report.done_ms.is_some() && orch.announces_move() && !moved {
        drain_move(&mut seen, &stack, &rec, touched, &mut report).await;
    }
    watcher.abort();
    report.answered_fault = touched;
    report
}

/// The watch so far: what it recorded and what the fault schedule said.
struct Watching<'a> {
    stack: &'a Stack,
    rec: &'a RecorderHandle,
    /// How long after the last fault that touched the primary the watch waits for a promotion.
    grace: Duration,
    report: FailoverReport,
    /// The last fault that touched the primary.
    touched: Option<usize>,
    give_up: Option<tokio::time::Instant>,
    schedule_open: bool,
    /// The orchestrator announced the endpoint's move.
    moved: bool,
}

impl Watching<'_> {
    /// A fault notice, or the schedule's end (None); true when the watch is over.
    fn fault(&mut self, n: Option<FaultNotice>) -> bool {
        match n {
            Some(n) if n.injected.touched_primary && !n.healed => {
                self.touched = Some(n.injected.index);
                // the primary the fault hit (a sharded stack's: of the shard it named)
                if self.report.new_primary.is_none() {
                    self.report.old_primary = Some(self.stack.primary());
                }
                self.give_up = Some(tokio::time::Instant::now() + self.grace);
                // a switchover call may return only once the orchestrator has
                // promoted: that promotion answered this fault
                self.report.done_ms.is_some_and(|d| d >= n.injected.at_ns as f64 / 1e6)
            }
            Some(_) => false,
            None => {
                self.schedule_open = false;
                self.touched.is_none()
            }
        }
    }

    /// Records one observation; true once a new primary is promoted after a fault.
    async fn observed(&mut self, o: &Observed) -> bool {
        self.moved |= matches!(o.said().0, Observed::Moved { .. });
        record(o, self.stack, self.rec, self.touched, &mut self.report).await
    }

    /// Ends the watch with `why` as its error (and a note); true.
    async fn stop(&mut self, why: String) -> bool {
        self.rec.event(EventKind::Note, self.touched, None, why.clone()).await;
        self.report.error = Some(why);
        true
    }
}

/// How long the watch keeps reading after a promotion for the endpoint's move, which the
/// orchestrator may have announced first on a log that drdrill reads a little late.
const MOVE_LAG: Duration = Duration::from_secs(5);

/// After the promotion: records what is still on its way until the move is seen, or
/// MOVE_LAG passes (then the drill has no `moved` time, and says so).
async fn drain_move(
    seen: &mut mpsc::UnboundedReceiver<Observed>,
    stack: &Stack,
    rec: &RecorderHandle,
    fault: Option<usize>,
    report: &mut FailoverReport,
) {
    let deadline = tokio::time::Instant::now() + MOVE_LAG;
    loop {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(o)) => {
                record(&o, stack, rec, fault, report).await;
                if matches!(o.said().0, Observed::Moved { .. }) {
                    return;
                }
            }
            Ok(None) | Err(_) => {
                let why = format!("the endpoint's move was not announced within {} s of the promotion", MOVE_LAG.as_secs());
                rec.event(EventKind::Note, fault, None, why).await;
                return;
            }
        }
    }
}

/// Records one observation, at the time it was said when the watch knows it (a line may
/// reach drdrill after what it preceded); true once a new primary is promoted after a fault.
async fn record(o: &Observed, stack: &Stack, rec: &RecorderHandle, fault: Option<usize>, report: &mut FailoverReport) -> bool {
    let ms = |ns: u64| ns as f64 / 1e6;
    let (o, said) = o.said();
    let now = rec.clock.now_ns();
    let t = said.and_then(|w| rec.clock.ns_at_wall(w)).filter(|t| *t <= now).unwrap_or(now);
    match o {
        Observed::Detected { detail } => {
            let t = rec.event_at(t, EventKind::OrchestratorDetected, fault, Some(&stack.primary()), detail.clone()).await;
            report.started_ms.get_or_insert(ms(t));
            false
        }
        Observed::Promoted { node, detail } => {
            let old = stack.primary();
            let t = rec.event_at(t, EventKind::OrchestratorPromoted, fault, Some(node), detail.clone()).await;
            if *node == old {
                return false;
            }
            stack.set_primary(node);
            report.new_primary = Some(node.clone());
            report.done_ms = Some(ms(t));
            fault.is_some()
        }
        Observed::Moved { node, detail, .. } => {
            rec.event_at(t, EventKind::OrchestratorMoved, fault, Some(node), detail.clone()).await;
            false
        }
        Observed::Note { detail } => {
            rec.event_at(t, EventKind::OrchestratorNote, fault, None, detail.clone()).await;
            false
        }
        // said() unwraps it
        Observed::Said { .. } => false,
    }
}
