//! Runs the scenario's faults at their offsets; pauses are resumed after their duration,
//! and `heal_all` resumes anything still frozen (on success, error or interrupt).
use super::{Injected, heal, inject};
use crate::history::RecorderHandle;
use crate::scenario::FaultSpec;
use crate::stack::Stack;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// Sent to the failover and the runner as faults are applied.
#[derive(Debug, Clone)]
pub struct FaultNotice {
    pub injected: Injected,
    /// False for the injection, true for the heal that follows it.
    pub healed: bool,
    /// True once the last scheduled fault has been injected and every pause healed.
    pub last: bool,
}

pub struct FaultSchedule {
    active: Arc<Mutex<Vec<Injected>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultSchedule {
    /// Offsets count from the drill clock's zero (the workload start).
    pub fn start(stack: Arc<Stack>, faults: Vec<FaultSpec>, rec: RecorderHandle, notify: mpsc::UnboundedSender<FaultNotice>) -> Self {
        let active: Arc<Mutex<Vec<Injected>>> = Arc::new(Mutex::new(Vec::new()));
        let act = active.clone();
        let task = tokio::spawn(async move {
            let mut order: Vec<(usize, FaultSpec)> = faults.into_iter().enumerate().collect();
            order.sort_by_key(|(_, f)| f.at_ms);
            let mut healers = tokio::task::JoinSet::new();
            let n = order.len();
            for (k, (index, spec)) in order.into_iter().enumerate() {
                let when = rec.clock.instant_at(spec.at_ms * 1_000_000);
                tokio::time::sleep_until(when.into()).await;
                let injected = match inject(&stack, index, &spec, &rec).await {
                    Ok(i) => i,
                    Err(_) => continue, // recorded as a failed inject event
                };
                act.lock().await.push(injected.clone());
                let _ = notify.send(FaultNotice { injected: injected.clone(), healed: false, last: k + 1 == n && !injected.needs_heal });
                if let Some(ms) = spec.duration_ms.filter(|_| injected.needs_heal) {
                    let (stack, rec, act, notify) = (stack.clone(), rec.clone(), act.clone(), notify.clone());
                    let last = k + 1 == n;
                    healers.spawn(async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        let mut list = act.lock().await;
                        if let Some(f) = list.iter_mut().find(|f| f.index == index && f.needs_heal) {
                            let _ = heal(&stack, f, &rec).await;
                            let _ = notify.send(FaultNotice { injected: f.clone(), healed: true, last });
                        }
                    });
                }
            }
            while healers.join_next().await.is_some() {}
        });
        FaultSchedule { active, task }
    }

    /// Stops scheduling and heals whatever is still in effect.
    pub async fn heal_all(self, stack: &Stack, rec: &RecorderHandle) -> Vec<Injected> {
        self.task.abort();
        let _ = self.task.await;
        let mut list = self.active.lock().await;
        for f in list.iter_mut() {
            let _ = heal(stack, f, rec).await;
        }
        list.clone()
    }
}
