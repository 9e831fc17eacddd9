//! Who holds a service's entry (a VIP) while its workload runs, for a stack whose driver
//! follows it: every take and release stamped on the drill's clock; once the workload has
//! stopped, who holds it (the primary read back, when that is one node); then the spans
//! with two holders judged (`checker::HoldersReport`).
use super::state::Service;
use crate::checker::{HolderChange, HoldersReport};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::history::{EventKind, RecorderHandle};
use crate::stack::{EntryHolders, ReadBack};
use std::sync::{Arc, Mutex};

/// A service's entry followed from the workload's start.
pub(super) struct HoldersWatch {
    holders: Arc<dyn EntryHolders>,
    changes: Arc<Mutex<Vec<HolderChange>>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
    clock: Clock,
}

/// What the watch saw (the takes and releases, the splits, who held the entry at the end),
/// and after a split brain what each node held.
pub(super) struct Watched {
    report: HoldersReport,
    sides: Vec<(String, std::result::Result<ReadBack, String>)>,
}

impl HoldersWatch {
    /// Starts following, when the service's driver follows an entry. The live view of the
    /// clients' recovery learns who alone holds it (`rec`): a promoted backup that gave the
    /// VIP back leaves the old primary the one the clients reach again.
    pub fn start(svc: &Service, rec: &RecorderHandle) -> Option<HoldersWatch> {
        let holders = svc.driver.entry_holders()?;
        let changes: Arc<Mutex<Vec<HolderChange>>> = Arc::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (h, stack) = (holders.clone(), svc.stack.clone());
        let watch = tokio::spawn(async move {
            let _ = h.watch(stack, tx).await;
        });
        let (kept, clock, live) = (changes.clone(), rec.clock, rec.last_invoke_ns.clone());
        let stamp = tokio::spawn(async move {
            let mut holding = std::collections::BTreeSet::new();
            while let Some(held) = rx.recv().await {
                match held.holds {
                    true => holding.insert(held.node.clone()),
                    false => holding.remove(&held.node),
                };
                if let [only] = Vec::from_iter(&holding).as_slice() {
                    live.held_only_by(only);
                }
                let c = HolderChange { t_ns: clock.now_ns(), node: held.node, holds: held.holds, detail: held.detail };
                kept.lock().expect("holders").push(c);
            }
        });
        Some(HoldersWatch { holders, changes, tasks: [watch, stamp], clock })
    }

    /// Stops following (the workload is over) and reads who holds the entry now; one
    /// holder other than the stack's primary becomes it (an event says so), so the
    /// read-back reads the server the clients reach.
    pub async fn finish(self, svc: &Service, rec: &RecorderHandle) -> Watched {
        let end_ns = self.clock.now_ns();
        for t in &self.tasks {
            t.abort();
        }
        let at_end = self.holders.holders_now(&svc.stack).await;
        let entry = self.holders.entry();
        if let [holder] = at_end.as_slice()
            && *holder != svc.stack.primary()
        {
            let detail = format!("{holder} holds {entry} as the workload ends: the primary read back");
            rec.event(EventKind::Note, None, Some(holder), detail).await;
            svc.stack.set_primary(holder);
        }
        let changes = std::mem::take(&mut *self.changes.lock().expect("holders"));
        let report = HoldersReport::new(entry, &changes, end_ns, at_end);
        // two holders at any time: what each side holds now is part of the answer
        let mut sides = Vec::new();
        for n in svc.stack.nodes.iter().filter(|_| !report.splits.is_empty()) {
            let read = svc.driver.data().read_back(n.addr()).await.map_err(|e| e.one_line());
            sides.push((n.name.clone(), read));
        }
        Watched { report, sides }
    }
}

/// The holders judged: the spans with two holders, and the writes each acknowledged in
/// them (lost when `read` lacks them), from the service's ops in `history`.
pub(super) fn judge(
    w: Option<Watched>,
    history: &std::path::Path,
    tag: Option<&str>,
    read: Option<&ReadBack>,
) -> Result<Option<HoldersReport>> {
    let Some(w) = w else { return Ok(None) };
    let Watched { report: mut r, sides } = w;
    let sides = r.set_sides(sides);
    if !r.splits.is_empty() {
        crate::history::read_history(history, |op| {
            if crate::history::belongs(op.service.as_ref(), tag) {
                r.count(&op, read, &sides)
            }
        })
        .map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
    }
    Ok(Some(r))
}
