//! Runs the scenario's faults at their offsets, each on its own task so that faults at the
//! same offset start together; timed faults are healed after their duration, and
//! `heal_all` heals whatever is still in effect (on success, error or interrupt).
use super::{Injected, heal, inject};
use crate::history::RecorderHandle;
use crate::scenario::FaultSpec;
use crate::stack::Stack;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// Sent to the failover and the runner as faults are applied and healed.
#[derive(Debug, Clone)]
pub struct FaultNotice {
    pub injected: Injected,
    /// False for the injection, true for the heal that follows it.
    pub healed: bool,
    /// True on the notice that completes the schedule: every fault injected, every timed
    /// fault healed.
    pub last: bool,
}

pub struct FaultSchedule {
    active: Arc<Mutex<Vec<Injected>>>,
    tasks: tokio::task::JoinSet<()>,
}

impl FaultSchedule {
    /// Offsets count from the drill clock's zero (the workload start). When every task is
    /// done, `notify` closes.
    pub fn start(stack: Arc<Stack>, faults: Vec<FaultSpec>, rec: RecorderHandle, notify: mpsc::UnboundedSender<FaultNotice>) -> Self {
        let active: Arc<Mutex<Vec<Injected>>> = Arc::new(Mutex::new(Vec::new()));
        let remaining = Arc::new(AtomicUsize::new(faults.len()));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, spec) in faults.into_iter().enumerate() {
            let (stack, rec, active, notify, remaining) = (stack.clone(), rec.clone(), active.clone(), notify.clone(), remaining.clone());
            tasks.spawn(async move {
                let done = || remaining.fetch_sub(1, Ordering::SeqCst) == 1;
                tokio::time::sleep_until(rec.clock.instant_at(spec.at_ms * 1_000_000).into()).await;
                let Ok(injected) = inject(&stack, index, &spec, &rec).await else {
                    done(); // recorded as a fault-failed event
                    return;
                };
                active.lock().await.push(injected.clone());
                let needs_heal = injected.needs_heal;
                let last = !needs_heal && done();
                let _ = notify.send(FaultNotice { injected, healed: false, last });
                let Some(ms) = spec.duration_ms.filter(|_| needs_heal) else { return };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let mut list = active.lock().await;
                if let Some(f) = list.iter_mut().find(|f| f.index == index && f.needs_heal) {
                    let _ = heal(&stack, f, &rec).await;
                    let _ = notify.send(FaultNotice { injected: f.clone(), healed: true, last: done() });
                }
            });
        }
        FaultSchedule { active, tasks }
    }

    /// Stops scheduling and heals whatever is still in effect.
    pub async fn heal_all(mut self, stack: &Stack, rec: &RecorderHandle) -> Vec<Injected> {
        self.tasks.shutdown().await;
        let mut list = self.active.lock().await;
        for f in list.iter_mut() {
            let _ = heal(stack, f, rec).await;
        }
        list.clone()
    }
}
