//! A multi-active stack's membership as its engine reports it (Galera: `Synced`, or cut
//! off from the primary component), read from every node through the drill, from the
//! workload's start until every node agrees again: when a node left the cluster and when
//! it was back. Each change is also an event of the history until the workload stops.
use crate::checker::Rejoin;
use crate::clock::{Clock, ms};
use crate::history::{Event, EventKind, RecorderHandle};
use crate::stack::{Driver, Stack};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often every node's state is read.
const EVERY: Duration = Duration::from_millis(200);
/// How long one read may take before the node counts as unreachable.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// One change of a node's state, on drdrill's clock.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Change {
    pub node: String,
    pub t_ns: u64,
    /// In the cluster, taking writes.
    pub member: bool,
    pub state: String,
}

/// The watch of one service: what it saw, and the task while it runs.
#[derive(Default)]
pub(super) struct MemberWatch {
    seen: Arc<Mutex<Vec<Change>>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
    /// The history, until the workload stops (it closes once no handle is left).
    rec: Arc<Mutex<Option<RecorderHandle>>>,
}

impl MemberWatch {
    /// Starts reading every node of the service's `stack` through its `driver`, when the
    /// stack's engine reports a state.
    pub fn start(&self, driver: &Arc<dyn Driver>, stack: &Arc<Stack>, clock: Clock, rec: RecorderHandle) {
        if driver.multi_active().is_none() {
            return;
        }
        let (driver, stack, seen) = (driver.clone(), stack.clone(), self.seen.clone());
        *lock(&self.rec) = Some(rec);
        let history = self.rec.clone();
        let task = tokio::spawn(async move {
            let Some(ma) = driver.multi_active() else { return };
            let mut last: Vec<Option<String>> = vec![None; stack.nodes.len()];
            loop {
                for (i, n) in stack.nodes.iter().enumerate() {
                    let (member, state) = match tokio::time::timeout(READ_TIMEOUT, ma.member_state(n.addr())).await {
                        Ok(Some(Ok(s))) => s,
                        Ok(Some(Err(e))) => (false, e),
                        // an engine without member states ends the watch at its first read
                        Ok(None) => return,
                        Err(_) => (false, "no answer in 2 s".to_string()),
                    };
                    if last[i].as_deref() != Some(state.as_str()) {
                        let t_ns = clock.now_ns();
                        let rec = lock(&history).clone();
                        if let Some(rec) = rec {
                            rec.event_at(t_ns, EventKind::MemberState, None, Some(&n.name), state.clone()).await;
                        }
                        lock(&seen).push(Change { node: n.name.clone(), t_ns, member, state: state.clone() });
                        last[i] = Some(state);
                    }
                }
                tokio::time::sleep(EVERY).await;
            }
        });
        *lock(&self.task) = Some(task.abort_handle());
    }

    /// Records no more changes in the history (the workload stopped; the watch goes on).
    pub fn detach_history(&self) {
        lock(&self.rec).take();
    }

    /// Stops the watch (once every node agreed, or at an interrupt).
    pub fn stop(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }

    /// Every change seen, in order.
    pub fn changes(&self) -> Vec<Change> {
        lock(&self.seen).clone()
    }
}

impl Drop for MemberWatch {
    /// A drill that ends early (an error, an interrupt) leaves no watch behind.
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Each time a node left its cluster and came back, with how long after the heal that let
/// it (the last heal of a fault between its leaving and its return).
pub(super) fn rejoins(changes: &[Change], events: &[Event]) -> Vec<Rejoin> {
    let heals: Vec<u64> = events.iter().filter(|e| e.kind == EventKind::FaultHeal).map(|e| e.t_ns).collect();
    let mut out = Vec::new();
    let nodes: std::collections::BTreeSet<&str> = changes.iter().map(|c| c.node.as_str()).collect();
    for node in nodes {
        let mut left: Option<(u64, Vec<String>)> = None;
        for c in changes.iter().filter(|c| c.node == node) {
            match (&mut left, c.member) {
                (None, false) => left = Some((c.t_ns, vec![c.state.clone()])),
                (Some((_, states)), false) => states.push(c.state.clone()),
                (Some((from, states)), true) => {
                    let heal = heals.iter().copied().filter(|h| *h >= *from && *h <= c.t_ns).max();
                    out.push(Rejoin {
                        node: node.to_string(),
                        left_ms: ms(*from),
                        synced_ms: Some(ms(c.t_ns)),
                        after_heal_ms: heal.map(|h| ms(c.t_ns - h)),
                        states: std::mem::take(states),
                        method: None,
                    });
                    left = None;
                }
                (None, true) => {}
            }
        }
        if let Some((from, states)) = left {
            out.push(Rejoin { node: node.to_string(), left_ms: ms(from), synced_ms: None, after_heal_ms: None, states, method: None });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(node: &str, t_ms: u64, member: bool, state: &str) -> Change {
        Change { node: node.into(), t_ns: t_ms * 1_000_000, member, state: state.into() }
    }

    fn heal(t_ms: u64) -> Event {
        Event {
            service: None,
            t_ns: t_ms * 1_000_000,
            kind: EventKind::FaultHeal,
            fault: Some(0),
            node: None,
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    #[test]
    fn a_rejoin_runs_from_leaving_to_the_first_read_back_in_the_cluster() {
        let changes = [
            ch("gal-1", 0, true, "Synced"),
            ch("gal-3", 0, true, "Synced"),
            ch("gal-3", 11_000, false, "Initialized, non-Primary"),
            ch("gal-3", 26_000, false, "Joining: receiving State Transfer, Primary"),
            ch("gal-3", 27_000, true, "Synced"),
            // a donor stays in the cluster: no rejoin
            ch("gal-1", 26_500, true, "Donor/Desynced, Primary"),
            ch("gal-1", 27_000, true, "Synced"),
        ];
        let r = rejoins(&changes, &[heal(1_000), heal(25_000)]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0].node.as_str(), r[0].left_ms, r[0].synced_ms, r[0].after_heal_ms),
            ("gal-3", 11_000.0, Some(27_000.0), Some(2_000.0))
        );
        assert_eq!(r[0].states, ["Initialized, non-Primary", "Joining: receiving State Transfer, Primary"]);
    }

    #[test]
    fn a_node_never_back_has_no_synced_time() {
        let r = rejoins(&[ch("gal-2", 5_000, false, "unreachable")], &[]);
        assert_eq!((r[0].synced_ms, r[0].after_heal_ms), (None, None));
    }
}
