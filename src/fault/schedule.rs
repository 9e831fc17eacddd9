//! Runs the scenario's faults at their offsets, each on its own task so that faults at the
//! same offset start together; timed faults are healed after their duration, `heal`
//! entries heal the fault they name, and whatever is still in effect at the end is healed
//! by `heal_all` (on success) or by the runner through the ledger (on error or interrupt).
use super::{Injected, heal, inject};
use crate::docker::Docker;
use crate::history::RecorderHandle;
use crate::scenario::{FaultKind, FaultSpec};
use crate::stack::Stack;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, mpsc};

/// Sent to the failover and the runner as faults are applied and healed.
#[derive(Debug, Clone)]
pub struct FaultNotice {
    pub injected: Injected,
    /// False for the injection, true for the heal that follows it.
    pub healed: bool,
    /// True on the notice that completes the schedule: every fault injected, every timed
    /// fault healed, every `heal` entry done.
    pub last: bool,
}

/// Called with a fault right after it was injected (`false`) and just before it is healed
/// (`true`), e.g. to watch an isolated primary's data before it rejoins.
pub type FaultHook = std::sync::Arc<dyn Fn(Injected, bool) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// Every fault injected in a drill, with what is still owed to heal it. Shared with the
/// runner so that a failed or interrupted drill still heals.
#[derive(Clone, Default)]
pub struct FaultLedger(Arc<Mutex<Vec<Injected>>>);

impl FaultLedger {
    /// Heals everything still in effect; records the heals when a recorder is still open.
    pub async fn heal_all(&self, docker: &Docker, rec: Option<&RecorderHandle>) -> Vec<String> {
        let mut errors = Vec::new();
        for f in self.0.lock().await.iter_mut() {
            if let Err(e) = heal(docker, f, rec).await {
                errors.push(format!("fault #{} on {}: {}", f.index, f.node, e.one_line()));
            }
        }
        errors
    }
}

pub struct FaultSchedule {
    ledger: FaultLedger,
    tasks: tokio::task::JoinSet<()>,
}

impl FaultSchedule {
    /// Runs `faults`, each with its index in the scenario. Offsets count from the drill
    /// clock's zero (the workload start). When every task is done, `notify` closes.
    pub fn start(
        stack: Arc<Stack>,
        faults: Vec<(usize, FaultSpec)>,
        rec: RecorderHandle,
        ledger: FaultLedger,
        notify: mpsc::UnboundedSender<FaultNotice>,
        hook: Option<FaultHook>,
    ) -> Self {
        let remaining = Arc::new(AtomicUsize::new(faults.len()));
        let mut tasks = tokio::task::JoinSet::new();
        let mine: Arc<Vec<usize>> = Arc::new(faults.iter().map(|(i, _)| *i).collect());
        for (index, spec) in faults {
            let mine = mine.clone();
            let (stack, rec, ledger, notify, remaining) = (stack.clone(), rec.clone(), ledger.clone(), notify.clone(), remaining.clone());
            let hooks = hook.clone();
            let hook = move |f: Injected, healing: bool| {
                let h = hooks.clone();
                async move {
                    if let Some(h) = h {
                        h(f, healing).await;
                    }
                }
            };
            tasks.spawn(async move {
                let done = || remaining.fetch_sub(1, Ordering::SeqCst) == 1;
                tokio::time::sleep_until(rec.clock.instant_at(crate::clock::ms_to_ns(spec.at_ms)).into()).await;
                if spec.kind == FaultKind::Heal {
                    let mut list = ledger.0.lock().await;
                    // (the ledger is the drill's: another service's fault may carry the name too)
                    let named =
                        list.iter_mut().find(|f| f.name.is_some() && f.name == spec.heals && f.needs_heal() && mine.contains(&f.index));
                    let healed = match named {
                        Some(f) => {
                            hook(f.clone(), true).await;
                            let _ = heal(&stack.docker, f, Some(&rec)).await;
                            Some(f.clone())
                        }
                        None => None,
                    };
                    let last = done();
                    if let Some(f) = healed {
                        let _ = notify.send(FaultNotice { injected: f, healed: true, last });
                    }
                    return;
                }
                let Ok(injected) = inject(&stack, index, &spec, &rec).await else {
                    done(); // recorded as a fault-failed event
                    return;
                };
                ledger.0.lock().await.push(injected.clone());
                hook(injected.clone(), false).await;
                // nothing more to do here unless a timed heal follows
                let timed = injected.needs_heal() && spec.duration_ms.is_some();
                let asked_ns = injected.at_ns;
                let last = !timed && done();
                let _ = notify.send(FaultNotice { injected, healed: false, last });
                let Some(ms) = spec.duration_ms.filter(|_| timed) else { return };
                // the heal is asked for `duration_ms` after the injection was (both on the drill
                // clock), however long applying it took: request to request, as scheduled
                let heal_at = asked_ns.saturating_add(crate::clock::ms_to_ns(ms));
                tokio::time::sleep_until(rec.clock.instant_at(heal_at).into()).await;
                let mut list = ledger.0.lock().await;
                if let Some(f) = list.iter_mut().find(|f| f.index == index && f.needs_heal()) {
                    hook(f.clone(), true).await;
                    let _ = heal(&stack.docker, f, Some(&rec)).await;
                    let _ = notify.send(FaultNotice { injected: f.clone(), healed: true, last: done() });
                }
            });
        }
        FaultSchedule { ledger, tasks }
    }

    /// Stops scheduling and heals whatever is still in effect.
    pub async fn heal_all(self, stack: &Stack, rec: &RecorderHandle) {
        let ledger = self.ledger.clone();
        self.stop().await;
        ledger.heal_all(&stack.docker, Some(rec)).await;
    }

    /// Stops scheduling: no fault fires or heals on its own after this returns.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}
