use crate::history::{Op, Outcome, RecorderHandle};
use crate::scenario::WorkloadSpec;
use crate::stack::{Driver, WriteError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Where clients send writes: the node a VIP / DNS name / proxy would point at.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTarget {
    pub node: String,
    pub addr: SocketAddr,
}

pub struct Workload {
    tasks: JoinSet<u64>,
    stop: watch::Sender<bool>,
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

    /// Asks every writer to stop after its current op; returns how many ops were made.
    pub async fn stop(mut self) -> u64 {
        let _ = self.stop.send(true);
        let mut n = 0;
        while let Some(r) = self.tasks.join_next().await {
            n += r.unwrap_or(0);
        }
        n
    }
}

struct Writer {
    id: u32,
    spec: crate::scenario::WorkloadSpec,
    driver: Arc<dyn Driver>,
    target: watch::Receiver<ClientTarget>,
    rec: RecorderHandle,
    stop: watch::Receiver<bool>,
}

impl Writer {
    async fn run(mut self) -> u64 {
        let clock = self.rec.clock;
        let deadline = Instant::now() + Duration::from_millis(self.spec.max_duration_ms);
        let interval = self.spec.rate_per_s.map(|r| Duration::from_secs_f64(1.0 / r));
        let timeout = Duration::from_millis(self.spec.op_timeout_ms);
        let backoff = Duration::from_millis(self.spec.fail_backoff_ms);
        let payload = format!("{:x<width$}", format!("w{}-", self.id), width = self.spec.payload_bytes.max(4));
        let mut client: Option<(String, Box<dyn crate::stack::WriteClient>)> = None;
        let mut next = Instant::now();
        let mut seq: u64 = 0;
        loop {
            if *self.stop.borrow() || Instant::now() >= deadline {
                break;
            }
            if let Some(iv) = interval {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => {}
                    _ = self.stop.changed() => break,
                }
                // a fixed schedule; after a long stall, resume from now rather than burst
                next = (next + iv).max(Instant::now());
            }
            seq += 1;
            let target = self.target.borrow().clone();
            if client.as_ref().is_some_and(|(node, _)| *node != target.node) {
                client = None;
            }
            let invoke_ns = clock.now_ns();
            let mut sent = false;
            let attempt = tokio::time::timeout(timeout, async {
                if client.is_none() {
                    let c = self.driver.connect(target.addr, timeout).await.map_err(WriteError::Fail)?;
                    client = Some((target.node.clone(), c));
                }
                sent = true;
                client.as_mut().expect("connected").1.write(self.id, seq, &payload).await
            })
            .await;
            let complete_ns = clock.now_ns();
            let (outcome, error) = match attempt {
                Ok(Ok(())) => (Outcome::Ok, None),
                Ok(Err(WriteError::Fail(e))) => (Outcome::Fail, Some(e)),
                Ok(Err(WriteError::Unknown(e))) => (Outcome::Unknown, Some(e)),
                // timed out while connecting: the write was never sent
                Err(_) if !sent => (Outcome::Fail, Some("connect timed out".to_string())),
                Err(_) => (Outcome::Unknown, Some(format!("no answer within {} ms", timeout.as_millis()))),
            };
            if outcome != Outcome::Ok {
                client = None;
            }
            let op = Op { writer: self.id, seq, invoke_ns, complete_ns, outcome, node: Some(target.node), error };
            self.rec.op(op).await;
            if outcome != Outcome::Ok && !backoff.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = self.stop.changed() => break,
                }
            }
        }
        seq
    }
}
