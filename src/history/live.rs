//! What the runner's live view of the clients' recovery needs from the ops and events as
//! they are recorded: the latest invoke times of acknowledged and refused writes, each
//! writer's, and which nodes a promotion replaced. A write the replaced primary went on
//! acknowledging after another node was promoted is no recovery (a false failover's old
//! primary, awake again, before the orchestrator turns it into a replica): the live view
//! waits for the clients to write through a node that is still a primary.
use super::{Event, EventKind, Op};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The latest invoke time of an ok write and of a non-ok one, as ops are recorded.
#[derive(Debug, Default)]
pub struct LastInvokes {
    pub ok: AtomicU64,
    pub not_ok: AtomicU64,
    /// The rest, behind one lock (taken once per op).
    nodes: Mutex<Nodes>,
}

/// The primary of the moment as the events tell it, the nodes promotions replaced, the
/// latest invoke time of a write each node acknowledged, and each writer's latest
/// acknowledged and not acknowledged inserts (updates of a shared key left out: a conflict
/// refused is no outage), for clients that each write to a node of their own.
#[derive(Debug, Default)]
struct Nodes {
    by_writer: BTreeMap<u32, (u64, u64)>,
    primary: Option<String>,
    demoted: BTreeSet<String>,
    ok: BTreeMap<std::sync::Arc<str>, u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LastInvokes {
    /// Keeps `op`'s times (`ok`: it was acknowledged).
    pub(super) fn op(&self, op: &Op, ok: bool) {
        let relaxed = Ordering::Relaxed;
        let mut nodes = lock(&self.nodes);
        if ok {
            self.ok.fetch_max(op.invoke_ns, relaxed);
            if let Some(node) = &op.node {
                match nodes.ok.get_mut(node) {
                    Some(t) => *t = (*t).max(op.invoke_ns),
                    None => _ = nodes.ok.insert(node.clone(), op.invoke_ns),
                }
            }
        } else {
            self.not_ok.fetch_max(op.invoke_ns, relaxed);
        }
        if op.key.is_none() {
            let last = nodes.by_writer.entry(op.writer).or_default();
            match ok {
                true => last.0 = last.0.max(op.invoke_ns),
                false => last.1 = last.1.max(op.invoke_ns),
            }
        }
    }

    /// Whether every writer's latest insert was acknowledged, invoked after `since_ns`
    /// and after its latest insert that was not (false before any insert).
    pub fn every_writer_writing(&self, since_ns: u64) -> bool {
        let nodes = lock(&self.nodes);
        !nodes.by_writer.is_empty() && nodes.by_writer.values().all(|(ok, not_ok)| *ok > since_ns.max(*not_ok))
    }

    /// Follows the primary: the workload's start names it, a promotion of another node
    /// replaces it (and a node promoted again is a primary again).
    pub(super) fn event(&self, e: &Event) {
        let Some(node) = e.node.as_deref() else { return };
        let mut nodes = lock(&self.nodes);
        match e.kind {
            EventKind::WorkloadStart => nodes.primary = Some(node.to_string()),
            EventKind::OrchestratorPromoted | EventKind::FailoverPromote => {
                if let Some(old) = nodes.primary.replace(node.to_string()).filter(|old| old != node) {
                    nodes.demoted.insert(old);
                }
                nodes.demoted.remove(node);
            }
            _ => {}
        }
    }

    /// The clients' entry (a VIP) is held by `node` alone: it is the primary they reach,
    /// whatever a promotion replaced before (Keepalived's backup gave the VIP back once a
    /// cut healed).
    pub fn held_only_by(&self, node: &str) {
        let mut nodes = lock(&self.nodes);
        nodes.demoted.remove(node);
        nodes.primary = Some(node.to_string());
    }

    /// The latest invoke time of an acknowledged write, leaving out those of the nodes a
    /// promotion replaced (0: none yet).
    pub fn ok_ns(&self) -> u64 {
        let nodes = lock(&self.nodes);
        if nodes.demoted.is_empty() {
            return self.ok.load(Ordering::Relaxed);
        }
        nodes.ok.iter().filter(|(n, _)| !nodes.demoted.contains(&***n)).map(|(_, t)| *t).max().unwrap_or(0)
    }

    /// The nodes promotions replaced so far.
    pub fn demoted(&self) -> Vec<String> {
        lock(&self.nodes).demoted.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An acknowledged write by `node` invoked at `at` (its invoke time, returned too).
    fn ack(node: &str, at: u64) -> (Op, u64) {
        let op = Op::acked_by(node, at, at);
        let t = op.invoke_ns;
        (op, t)
    }

    fn event(kind: EventKind, node: &str) -> Event {
        Event::on(0, kind, node)
    }

    #[test]
    fn the_replaced_primarys_acknowledgements_stop_counting_at_the_promotion() {
        let l = LastInvokes::default();
        l.event(&event(EventKind::WorkloadStart, "n1"));
        let (first, t10) = ack("n1", 10);
        l.op(&first, true);
        assert_eq!(l.ok_ns(), t10);
        l.event(&event(EventKind::OrchestratorPromoted, "n3"));
        let (late, t20) = ack("n1", 20);
        l.op(&late, true);
        assert_eq!((l.ok_ns(), l.demoted()), (0, vec!["n1".to_string()]), "n1 was replaced: its acks are no recovery");
        let (new, t15) = ack("n3", 15);
        l.op(&new, true);
        assert_eq!(l.ok_ns(), t15);
        // a promotion naming the primary of the moment replaces nothing
        l.event(&event(EventKind::FailoverPromote, "n3"));
        assert_eq!(l.demoted(), vec!["n1".to_string()]);
        // the VIP held by n1 alone: the clients reach it again
        l.held_only_by("n1");
        assert_eq!(l.ok_ns(), t20);
        l.event(&event(EventKind::FailoverPromote, "n3"));
        // promoted back: n1 is a primary again, n3 replaced
        l.event(&event(EventKind::FailoverPromote, "n1"));
        assert_eq!((l.ok_ns(), l.demoted()), (t20, vec!["n3".to_string()]));
    }
}
