//! The client workload: K writers, each writing uniquely keyed records (writer, seq,
//! payload) to whichever node the clients are pointed at, recording every op.
mod attempt;
mod changes;
mod reader;
mod resolve;
mod route;
mod writer;

pub use reader::{ReadPlan, ReadPool};
pub use route::{ClientRoute, ClientTarget, DnsTarget};

use crate::history::RecorderHandle;
use crate::scenario::WorkloadSpec;
use crate::stack::Driver;
use reader::Reader;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use writer::Writer;

/// The highest sequence number each writer has invoked, shared with the readers (an
/// engine with no query for a writer's newest record looks down from it).
pub(crate) type Invoked = Arc<[AtomicU64]>;

/// The writers run on a runtime of their own, on one thread: no op waits for another
/// thread to wake up, and the faults, failover and Docker calls on the main runtime never
/// delay a write (nor a write them).
pub struct Workload {
    done: oneshot::Receiver<WorkloadEnd>,
    stop: watch::Sender<bool>,
}

/// What the writers did: ops made, and the panic message of any writer that panicked (a
/// bug: the runner turns it into an infrastructure error, never a silent verdict).
#[derive(Debug, Default)]
pub struct WorkloadEnd {
    pub ops: u64,
    /// Reads made (`workload.readers`).
    pub reads: u64,
    pub panics: Vec<String>,
    /// Every writer's and reader's paced operations and how late each went out.
    pub slips: Vec<crate::usage::SlipSample>,
}

impl Workload {
    /// Starts `spec.writers` writers, and the readers of `reads`. They run until `stop`
    /// (or this is dropped) or `spec.max_duration_ms`. Each writer writes where `target`
    /// points, or, with `homes` (a multi-active stack's nodes, one per site), writer i
    /// always to `homes[i % len]`.
    pub fn start(
        spec: &WorkloadSpec,
        driver: Arc<dyn Driver>,
        (target, homes): (watch::Receiver<ClientTarget>, &[ClientTarget]),
        reads: Option<ReadPlan>,
        rec: RecorderHandle,
    ) -> Workload {
        let (stop, stop_rx) = watch::channel(false);
        // a home never moves: its sender lives as long as the writers
        let fixed: Vec<(watch::Sender<ClientTarget>, watch::Receiver<ClientTarget>)> =
            homes.iter().map(|h| watch::channel(h.clone())).collect();
        let invoked: Invoked = (0..spec.writers).map(|_| AtomicU64::new(0)).collect();
        let writers: Vec<Writer> = (0..u32::from(spec.writers))
            .map(|id| Writer {
                invoked: invoked.clone(),
                id,
                spec: spec.clone(),
                driver: driver.clone(),
                target: match fixed.len() {
                    0 => target.clone(),
                    n => fixed[id as usize % n].1.clone(),
                },
                rec: rec.clone(),
                stop: stop_rx.clone(),
                slips: Vec::new(),
            })
            .collect();
        let readers = readers(spec, reads, (&driver, &invoked), &rec, &stop_rx);
        let homes: Vec<watch::Sender<ClientTarget>> = fixed.into_iter().map(|f| f.0).collect();
        let (done_tx, done) = oneshot::channel();
        let spawned = std::thread::Builder::new().name("drdrill-writers".into()).spawn(move || {
            let _homes = homes;
            let end = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(run_all(writers, readers)),
                Err(e) => WorkloadEnd { panics: vec![format!("failed to start the writers' runtime: {e}")], ..WorkloadEnd::default() },
            };
            let _ = done_tx.send(end);
        });
        if let Err(e) = spawned {
            // the receiver then reports the writers as failed (done_tx was dropped with the closure)
            eprintln!("drdrill: failed to start the writers' thread: {e}");
        }
        Workload { done, stop }
    }

    /// Asks every writer to stop; each waits for its writes in flight to be answered or
    /// time out, and records them.
    pub async fn stop(self) -> WorkloadEnd {
        let _ = self.stop.send(true);
        self.done
            .await
            .unwrap_or_else(|_| WorkloadEnd { panics: vec!["the writers' thread ended without a result".into()], ..WorkloadEnd::default() })
    }
}

/// The readers of `plan`, each with the workload's deadline.
fn readers(
    spec: &WorkloadSpec,
    plan: Option<ReadPlan>,
    (driver, invoked): (&Arc<dyn Driver>, &Invoked),
    rec: &RecorderHandle,
    stop: &watch::Receiver<bool>,
) -> Vec<Reader> {
    let Some(plan) = plan else { return Vec::new() };
    let clock = &rec.clock;
    let deadline = clock.instant_at(clock.now_ns().saturating_add(crate::clock::ms_to_ns(spec.max_duration_ms)));
    (0..u32::from(plan.spec.count))
        .map(|id| Reader {
            id,
            spec: plan.spec.clone(),
            writers: u32::from(spec.writers),
            keys: spec.keys,
            driver: driver.clone(),
            invoked: invoked.clone(),
            pool: plan.pool.clone(),
            rec: rec.clone(),
            stop: stop.clone(),
            deadline: tokio::time::Instant::from_std(deadline),
        })
        .collect()
}

async fn run_all(writers: Vec<Writer>, readers: Vec<Reader>) -> WorkloadEnd {
    let mut tasks = JoinSet::new();
    for w in writers {
        tasks.spawn(async move { (false, w.run().await) });
    }
    for r in readers {
        tasks.spawn(async move { (true, r.run().await) });
    }
    let mut end = WorkloadEnd::default();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok((reader, (n, slips))) => {
                match reader {
                    true => end.reads += n,
                    false => end.ops += n,
                }
                end.slips.extend(slips);
            }
            Err(e) if e.is_panic() => end.panics.push(panic_text(e.into_panic())),
            Err(_) => {}
        }
    }
    end
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}
