//! Runs the scenario's faults at their offsets, every service's in one schedule: the faults
//! due at the same offset are fired by one task, all in the same poll, so that they are
//! requested at the same instant however busy the runtime is (one task per fault once
//! woke 452 ms apart under CI's load); timed faults are healed after their duration,
//! `heal` entries heal the fault they name, and whatever is still in effect at the end is
//! healed by `heal_all` (on success) or by the runner through the ledger (on error or
//! interrupt).
use super::{Injected, heal, inject};
use crate::docker::Docker;
use crate::history::RecorderHandle;
use crate::scenario::{FaultKind, FaultSpec};
use crate::stack::Stack;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
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
    /// The faults added and not yet armed, by the drill-clock instant they are due.
    due: BTreeMap<u64, Vec<BoxFuture<'static, ()>>>,
    tasks: tokio::task::JoinSet<()>,
}

impl FaultSchedule {
    /// An empty schedule over the drill's ledger.
    pub fn new(ledger: FaultLedger) -> Self {
        FaultSchedule { ledger, due: BTreeMap::new(), tasks: tokio::task::JoinSet::new() }
    }

    /// Adds one service's `faults`, each with its index in the scenario. Offsets count
    /// from the drill clock's zero (the workload start). Nothing fires before `arm`; when
    /// every fault of the service is done, `notify` closes.
    pub fn add(
        &mut self,
        stack: Arc<Stack>,
        faults: Vec<(usize, FaultSpec)>,
        rec: RecorderHandle,
        notify: mpsc::UnboundedSender<FaultNotice>,
        hook: Option<FaultHook>,
    ) {
        let remaining = Arc::new(AtomicUsize::new(faults.len()));
        let mine = Arc::new(faults.iter().map(|(i, _)| *i).collect());
        let shared = Shared { stack, rec, ledger: self.ledger.clone(), notify, hook, remaining, mine };
        for (index, spec) in faults {
            let at = crate::clock::ms_to_ns(spec.at_ms);
            self.due.entry(at).or_default().push(Box::pin(shared.clone().run(index, spec)));
        }
    }

    /// Starts the clock of every fault added: one task per offset, which wakes at it and
    /// fires that offset's faults together.
    pub fn arm(&mut self, clock: crate::clock::Clock) {
        for (at, faults) in std::mem::take(&mut self.due) {
            self.tasks.spawn(async move {
                tokio::time::sleep_until(clock.instant_at(at).into()).await;
                futures_util::future::join_all(faults).await;
            });
        }
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

/// What every fault's task of one schedule shares.
#[derive(Clone)]
struct Shared {
    stack: Arc<Stack>,
    rec: RecorderHandle,
    ledger: FaultLedger,
    notify: mpsc::UnboundedSender<FaultNotice>,
    hook: Option<FaultHook>,
    /// Faults whose task has not finished yet.
    remaining: Arc<AtomicUsize>,
    /// The scenario indices of the schedule's faults.
    mine: Arc<Vec<usize>>,
}

impl Shared {
    /// Counts one fault's task finished; true for the last one.
    fn done(&self) -> bool {
        self.remaining.fetch_sub(1, Ordering::SeqCst) == 1
    }

    async fn hook(&self, f: Injected, healing: bool) {
        if let Some(h) = &self.hook {
            h(f, healing).await;
        }
    }

    /// One fault, polled first at its offset: injected (and healed after its duration), or,
    /// for a `heal` entry, the fault it names healed.
    async fn run(self, index: usize, spec: FaultSpec) {
        let rec = &self.rec;
        if spec.kind == FaultKind::Heal {
            return self.heal_named(&spec).await;
        }
        let Ok(injected) = inject(&self.stack, index, &spec, rec).await else {
            self.done(); // recorded as a fault-failed event
            return;
        };
        self.ledger.0.lock().await.push(injected.clone());
        self.hook(injected.clone(), false).await;
        // nothing more to do here unless a timed heal follows
        let timed = injected.needs_heal() && spec.duration_ms.is_some();
        let asked_ns = injected.at_ns;
        let last = !timed && self.done();
        let _ = self.notify.send(FaultNotice { injected, healed: false, last });
        let Some(ms) = spec.duration_ms.filter(|_| timed) else { return };
        // the heal is asked for `duration_ms` after the injection was (both on the drill
        // clock), however long applying it took: request to request, as scheduled
        let heal_at = asked_ns.saturating_add(crate::clock::ms_to_ns(ms));
        tokio::time::sleep_until(rec.clock.instant_at(heal_at).into()).await;
        let mut list = self.ledger.0.lock().await;
        if let Some(f) = list.iter_mut().find(|f| f.index == index && f.needs_heal()) {
            self.hook(f.clone(), true).await;
            let _ = heal(&self.stack.docker, f, Some(rec)).await;
            let _ = self.notify.send(FaultNotice { injected: f.clone(), healed: true, last: self.done() });
        }
    }

    /// A `heal` entry: heals the fault of this schedule it names, if still in effect.
    async fn heal_named(&self, spec: &FaultSpec) {
        let mut list = self.ledger.0.lock().await;
        // (the ledger is the drill's: another service's fault may carry the name too)
        let named = list.iter_mut().find(|f| f.name.is_some() && f.name == spec.heals && f.needs_heal() && self.mine.contains(&f.index));
        let healed = match named {
            Some(f) => {
                self.hook(f.clone(), true).await;
                let _ = heal(&self.stack.docker, f, Some(&self.rec)).await;
                Some(f.clone())
            }
            None => None,
        };
        let last = self.done();
        if let Some(f) = healed {
            let _ = self.notify.send(FaultNotice { injected: f, healed: true, last });
        }
    }
}
