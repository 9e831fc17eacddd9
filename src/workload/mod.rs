//! The client workload: K writers, each writing uniquely keyed records (writer, seq,
//! payload) to whichever node the clients are pointed at, recording every op.
mod attempt;
mod writer;

pub use writer::ClientTarget;

use crate::history::RecorderHandle;
use crate::scenario::WorkloadSpec;
use crate::stack::Driver;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use writer::Writer;

pub struct Workload {
    tasks: JoinSet<u64>,
    stop: watch::Sender<bool>,
}

/// What the writers did: ops made, and the panic message of any writer that panicked (a
/// bug: the runner turns it into an infrastructure error, never a silent verdict).
#[derive(Debug, Default)]
pub struct WorkloadEnd {
    pub ops: u64,
    pub panics: Vec<String>,
}

impl Workload {
    /// Starts `spec.writers` writers. They run until `stop` or `spec.max_duration_ms`.
    pub fn start(spec: &WorkloadSpec, driver: Arc<dyn Driver>, target: watch::Receiver<ClientTarget>, rec: RecorderHandle) -> Workload {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for id in 0..spec.writers as u32 {
            let w =
                Writer { id, spec: spec.clone(), driver: driver.clone(), target: target.clone(), rec: rec.clone(), stop: stop_rx.clone() };
            tasks.spawn(w.run());
        }
        Workload { tasks, stop }
    }

    /// Asks every writer to stop; each waits for its writes in flight to be answered or
    /// time out, and records them.
    pub async fn stop(mut self) -> WorkloadEnd {
        let _ = self.stop.send(true);
        let mut end = WorkloadEnd::default();
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok(n) => end.ops += n,
                Err(e) if e.is_panic() => end.panics.push(panic_text(e.into_panic())),
                Err(_) => {}
            }
        }
        end
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}
