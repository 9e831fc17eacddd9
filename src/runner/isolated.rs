//! The old primary of a split brain, read independently. From the moment a network fault
//! isolates the primary (a partition or loss that involves it), drdrill reads every record
//! it holds, again and again, for as long as it still reports itself a writable primary,
//! and keeps the last complete read taken while it was one: an isolated primary may
//! acknowledge writes until its orchestrator demotes it (Patroni: when it cannot renew its
//! leader key; Sentinel: only after the heal), and loses them when it rejoins. Reported
//! only when the orchestrator did promote another node.
use crate::checker::IsolatedPrimary;
use crate::checker::RpoResult;
use crate::clock::Clock;
use crate::fault::{FaultHook, Injected};
use crate::scenario::FaultKind;
use crate::stack::{Driver, ReadBack, Stack};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Slot = Arc<Mutex<Option<(IsolatedPrimary, ReadBack)>>>;

#[derive(Default)]
pub(super) struct IsolatedWatch {
    slot: Slot,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

/// Reads as long as the node says it is a writable primary, at most this long.
const WATCH_FOR: Duration = Duration::from_secs(120);
const PROBE: Duration = Duration::from_millis(500);
/// Probes in a row that must fail before the node counts as no longer a primary: on a
/// loaded machine one probe can miss its 500 ms while the isolated leader still
/// acknowledges writes (a CI run lost the whole read to a single miss).
const MISSES: u32 = 5;

impl IsolatedWatch {
    pub fn hook(&self, driver: Arc<dyn Driver>, stack: Arc<Stack>, initial: String, clock: Clock) -> FaultHook {
        let (slot, task) = (self.slot.clone(), self.task.clone());
        Arc::new(move |f: Injected, healing: bool| {
            let (driver, stack, initial, slot, task) = (driver.clone(), stack.clone(), initial.clone(), slot.clone(), task.clone());
            Box::pin(async move {
                let isolating = matches!(f.kind, FaultKind::Partition | FaultKind::Loss) && f.touched_primary && !healing;
                if !isolating || stack.primary() != initial || task.lock().expect("task").is_some() {
                    return;
                }
                let Ok(addr) = stack.node(&initial).map(|n| n.addr()) else { return };
                let watch = tokio::spawn(read_while_primary(driver, addr, initial, f.index, clock, slot));
                *task.lock().expect("task") = Some(watch);
            })
        })
    }

    /// Stops reading (the workload is over) and returns the last good read, when the
    /// orchestrator promoted another node than `initial`.
    pub async fn finish(self, stack: &Stack, initial: &str) -> Option<(IsolatedPrimary, ReadBack)> {
        let task = self.task.lock().expect("task").take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        let read = self.slot.lock().expect("slot").take();
        read.filter(|_| stack.primary() != initial)
    }
}

/// Reads every record the isolated node holds, again and again, while it answers as a
/// writable primary (until `MISSES` probes in a row fail, or `WATCH_FOR`), keeping in
/// `slot` the last read it finished as one.
async fn read_while_primary(driver: Arc<dyn Driver>, addr: std::net::SocketAddr, initial: String, fault: usize, clock: Clock, slot: Slot) {
    let until = tokio::time::Instant::now() + WATCH_FOR;
    let mut misses = 0;
    while tokio::time::Instant::now() < until && misses < MISSES {
        if !driver.data().probe(addr, PROBE).await {
            misses += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        misses = 0;
        let started_ms = clock.now_ns() as f64 / 1e6;
        let read = tokio::time::timeout(Duration::from_secs(5), driver.data().read_back(addr)).await;
        // only a read the node finished as a primary counts
        let still = driver.data().probe(addr, PROBE).await;
        let info = |records: Option<u64>, error: Option<String>| IsolatedPrimary {
            node: initial.clone(),
            isolated_by_fault: fault,
            read_started_ms: started_ms,
            records,
            lost_found_here: None,
            lost_acked_after_read: None,
            error,
        };
        // (a block: the guard must be gone before the next await)
        {
            let mut s = slot.lock().expect("slot");
            match read {
                Ok(Ok(rb)) if still => *s = Some((info(Some(rb.len() as u64), None), rb)),
                // an error is kept only until a good read replaces it
                Ok(Err(e)) if s.is_none() => *s = Some((info(None, Some(e.one_line())), ReadBack::default())),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Which lost writes the old primary held at its last read, and which it acknowledged only
/// after that read began; the records go to isolated-primary.json (a file that cannot be
/// written is said in `errors`: the run's problems, on the scorecard and in results.json).
pub(super) fn judge(
    mut info: IsolatedPrimary,
    rb: &ReadBack,
    rpo: Option<&RpoResult>,
    dir: &Path,
    errors: &mut Vec<String>,
) -> IsolatedPrimary {
    if let (Some(_), Some(r)) = (info.records, rpo) {
        info.lost_found_here = Some(r.lost.iter().filter(|l| rb.contains(l.writer, l.seq)).count() as u64);
        info.lost_acked_after_read = Some(r.lost.iter().filter(|l| l.ack_ms >= info.read_started_ms).count() as u64);
    }
    if let Err(e) = save(rb, &dir.join(ISOLATED_FILE)) {
        errors.push(format!("failed to write {ISOLATED_FILE} (the old primary's records at its last read): {e}"));
    }
    info
}

/// The old primary's records, as read, in the evidence.
const ISOLATED_FILE: &str = "isolated-primary.json";

fn save(rb: &ReadBack, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(&mut w, rb)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_that_cannot_be_written_is_said_not_dropped() {
        let info = IsolatedPrimary { node: "pg-1".into(), records: Some(0), ..Default::default() };
        let mut errors = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        judge(info.clone(), &ReadBack::default(), None, dir.path(), &mut errors);
        assert!(errors.is_empty() && dir.path().join(ISOLATED_FILE).is_file(), "{errors:?}");
        // a folder that is gone: the write fails and the run's problems say so
        judge(info, &ReadBack::default(), None, &dir.path().join("gone"), &mut errors);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("failed to write isolated-primary.json"), "{errors:?}");
    }
}
