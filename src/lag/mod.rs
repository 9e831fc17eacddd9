//! Replica visibility lag, as a client sees it (docs/measurement.md, "Replica lag"): a
//! heartbeat record on the primary is set to 1, 2, 3, … every `heartbeat_ms`, each write's
//! invoke and acknowledgement on the drill clock; every replica is read every `poll_ms`,
//! and each read that shows a newer heartbeat brackets when it became visible there
//! (after the previous read was sent, before this one was answered). Beside it, every
//! `engine_every_ms`, what the engine itself reports. The rows go to `replica-lag.jsonl.zst`
//! (`rows.rs`); the checker turns them into percentiles (`checker::lag`).
mod rows;

pub use rows::{FILE, LagFile, LagRow, LagSink, path_in, read};

use crate::clock::Clock;
use crate::error::Result;
use crate::scenario::LagSpec;
use crate::stack::{Driver, Heartbeat, ReplicaAt, Stack};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, interval, timeout};

/// How long a heartbeat write or a replica read may take before it counts as failed.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// After a node refused a connection, the next attempt waits this long.
const RECONNECT_AFTER: Duration = Duration::from_millis(100);
/// At the end, replicas get this long to show the last acknowledged heartbeat.
const DRAIN: Duration = Duration::from_secs(2);

/// What the measurement's tasks share.
struct Shared {
    stack: Arc<Stack>,
    driver: Arc<dyn Driver>,
    clock: Clock,
    sink: LagSink,
    service: Option<String>,
    /// The node the heartbeat is written on now (replicas are every other node).
    writing_on: Mutex<String>,
    /// The last acknowledged heartbeat.
    acked: watch::Sender<u64>,
}

/// One service's measurement while it runs.
pub struct LagMonitor {
    /// true: stop the heartbeat and the sampler.
    stop: watch::Sender<bool>,
    /// true (once the heartbeat has stopped): the readers drain.
    drain: watch::Sender<bool>,
    writer: JoinHandle<()>,
    readers: Vec<JoinHandle<()>>,
    engine: JoinHandle<()>,
}

impl LagMonitor {
    /// Creates the heartbeat record, starts a reader on every node, waits for their first
    /// reads (≤ 2 s), then starts the heartbeat and the engine sampler.
    pub async fn start(
        spec: &LagSpec,
        stack: Arc<Stack>,
        driver: Arc<dyn Driver>,
        clock: Clock,
        sink: LagSink,
        service: Option<String>,
    ) -> Result<LagMonitor> {
        let primary = stack.primary();
        driver.data().lag().prepare_heartbeat(stack.node(&primary)?.addr()).await?;
        sink.send(LagRow::Start {
            service: service.clone(),
            heartbeat_ms: spec.heartbeat_ms,
            poll_ms: spec.poll_ms,
            engine_every_ms: spec.engine_every_ms,
            reported_as: driver.data().lag().reported_as().to_string(),
        });
        let mut replicas = Vec::new();
        for n in &stack.nodes {
            let ip = stack.docker.ip(&n.container, &stack.network).await.ok();
            replicas.push(ReplicaAt { name: n.name.clone(), addr: n.addr(), ip });
        }
        let shared = Arc::new(Shared { stack, driver, clock, sink, service, writing_on: Mutex::new(primary), acked: watch::channel(0).0 });
        let (stop, stop_rx) = watch::channel(false);
        let (drain, drain_rx) = watch::channel(false);
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(replicas.len().max(1));
        let poll = Duration::from_millis(spec.poll_ms);
        let readers =
            replicas.iter().map(|r| tokio::spawn(read_node(shared.clone(), r.clone(), poll, drain_rx.clone(), ready_tx.clone()))).collect();
        drop(ready_tx);
        let _ = timeout(DRAIN, async { while ready_rx.recv().await.is_some() {} }).await;
        let writer = tokio::spawn(beat(shared.clone(), Duration::from_millis(spec.heartbeat_ms), stop_rx.clone()));
        let engine = tokio::spawn(sample_engine(shared, replicas, Duration::from_millis(spec.engine_every_ms), stop_rx));
        Ok(LagMonitor { stop, drain, writer, readers, engine })
    }

    /// Stops the heartbeat and the sampler; the readers go on until their replica shows the
    /// last acknowledged heartbeat (or 2 s), then write their totals.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.writer.await;
        let _ = self.drain.send(true);
        let _ = self.engine.await;
        for r in self.readers {
            let _ = r.await;
        }
    }
}

/// The heartbeat: every `every`, the next sequence number on the node it writes on.
async fn beat(s: Arc<Shared>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut conn: Option<(String, Box<dyn Heartbeat>)> = None;
    let (mut seq, mut failures) = (0u64, 0u32);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let node = s.writing_on.lock().expect("lag lock").clone();
        if conn.as_ref().is_none_or(|(n, _)| *n != node) {
            conn = connect(&s, &node).await.map(|c| (node.clone(), c));
        }
        seq += 1;
        let invoke_ns = s.clock.now_ns();
        let r = match conn.as_mut() {
            Some((_, c)) => timeout(OP_TIMEOUT, c.beat(seq)).await.unwrap_or_else(|_| Err("timed out".into())),
            None => Err("no connection".into()),
        };
        let ack_ns = s.clock.now_ns();
        let (ack, error) = match r {
            Ok(()) => {
                s.acked.send_replace(seq);
                failures = 0;
                (Some(ack_ns), None)
            }
            Err(e) => {
                conn = None;
                failures += 1;
                (None, Some(e))
            }
        };
        s.sink.send(LagRow::Beat { service: s.service.clone(), seq, node: node.clone(), invoke_ns, ack_ns: ack, error });
        if failures >= 3 {
            follow_primary(&s).await;
        }
    }
}

/// After failed heartbeats: the stack's primary if drdrill knows a new one, else the one
/// node that says it is a writable primary (an orchestrator promoted it).
async fn follow_primary(s: &Shared) {
    let current = s.writing_on.lock().expect("lag lock").clone();
    let mut next = Some(s.stack.primary()).filter(|p| *p != current);
    if next.is_none() {
        let mut writable = Vec::new();
        for n in &s.stack.nodes {
            if s.driver.data().probe(n.addr(), Duration::from_millis(500)).await {
                writable.push(n.name.clone());
            }
        }
        next = (writable.len() == 1).then(|| writable.remove(0)).filter(|p| *p != current);
    }
    if let Some(p) = next {
        *s.writing_on.lock().expect("lag lock") = p;
    }
}

async fn connect(s: &Shared, node: &str) -> Option<Box<dyn Heartbeat>> {
    let addr = s.stack.node(node).ok()?.addr();
    s.driver.data().lag().heartbeat(addr, OP_TIMEOUT).await.ok()
}

/// One node's reads, while it is not the node the heartbeat is written on: at once when
/// a heartbeat is acknowledged, then every `every` until the node shows it.
async fn read_node(
    s: Arc<Shared>,
    node: ReplicaAt,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let mut acked = s.acked.subscribe();
    let mut r = Reader {
        node,
        ready: Some(ready),
        conn: None,
        prev_sent: None,
        last_seq: None,
        polls: 0,
        errors: 0,
        last_ok: None,
        last_error: None,
    };
    let (mut drain_until, mut next_at) = (None, tokio::time::Instant::now());
    loop {
        let primary = *s.writing_on.lock().expect("lag lock") == r.node.name;
        if primary {
            // the primary itself: nothing to time, and its next reads start afresh
            (r.prev_sent, r.last_seq, r.ready) = (None, None, None);
        }
        let caught_up = primary || r.last_seq.is_some_and(|q| q >= *acked.borrow_and_update());
        if caught_up && drain_until.is_some() {
            break;
        }
        tokio::select! {
            biased;
            _ = stop.changed(), if drain_until.is_none() => {
                drain_until = Some(tokio::time::Instant::now() + DRAIN);
                continue;
            }
            _ = tokio::time::sleep_until(drain_until.unwrap_or(next_at)), if drain_until.is_some_and(|d| d <= next_at) => break,
            _ = acked.changed(), if caught_up => {
                next_at = tokio::time::Instant::now();
                continue;
            }
            _ = tokio::time::sleep_until(next_at), if !caught_up => {}
        }
        next_at = r.read(&s, every).await;
    }
    let Reader { node, polls, errors, last_ok, last_error, .. } = r;
    s.sink.send(LagRow::Polls { service: s.service.clone(), node: node.name, polls, errors, last_ok, last_error });
}

/// One node's reader: its connection, and what its reads saw.
struct Reader {
    node: ReplicaAt,
    /// Told once the node first answered, unless it was the primary by then.
    ready: Option<tokio::sync::mpsc::Sender<()>>,
    conn: Option<Box<dyn Heartbeat>>,
    /// When the previous read was sent (drill ns), and the heartbeat it showed.
    prev_sent: Option<u64>,
    last_seq: Option<u64>,
    polls: u64,
    errors: u64,
    /// The last answered read: sent, answered (drill ns), the heartbeat it showed.
    last_ok: Option<(u64, u64, u64)>,
    last_error: Option<String>,
}

impl Reader {
    /// One read of the node's heartbeat (connecting first when it has no connection); a
    /// newer heartbeat than the last read showed is a row. Returns when the next read is due.
    async fn read(&mut self, s: &Shared, every: Duration) -> tokio::time::Instant {
        if self.conn.is_none() {
            match s.driver.data().lag().heartbeat(self.node.addr, OP_TIMEOUT).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    (self.errors, self.last_error) = (self.errors + 1, Some(e));
                    return tokio::time::Instant::now() + RECONNECT_AFTER;
                }
            }
        }
        let next_at = tokio::time::Instant::now() + every;
        let sent_ns = s.clock.now_ns();
        let r = timeout(OP_TIMEOUT, self.conn.as_mut().expect("connected above").read()).await.unwrap_or_else(|_| Err("timed out".into()));
        let recv_ns = s.clock.now_ns();
        match r {
            Ok(seq) => {
                self.polls += 1;
                if self.last_seq != Some(seq) {
                    let (node, after_ns) = (self.node.name.clone(), self.prev_sent);
                    s.sink.send(LagRow::Seen { service: s.service.clone(), node, seq, after_ns, sent_ns, recv_ns });
                }
                (self.prev_sent, self.last_seq, self.last_ok) = (Some(sent_ns), Some(seq), Some((sent_ns, recv_ns, seq)));
                if let Some(r) = self.ready.take() {
                    let _ = r.send(()).await;
                }
            }
            Err(e) => (self.errors, self.last_error, self.conn) = (self.errors + 1, Some(e), None),
        }
        next_at
    }
}

/// Every `every`, what the engine reports about each node but the one written on, on
/// connections kept open (one to the primary, or one per replica for MariaDB).
async fn sample_engine(s: Arc<Shared>, nodes: Vec<ReplicaAt>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let on_replica = s.driver.data().lag().lag_on_replica();
    let mut conns: std::collections::HashMap<String, Box<dyn Heartbeat>> = Default::default();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let primary = s.writing_on.lock().expect("lag lock").clone();
        for r in nodes.iter().filter(|r| r.name != primary) {
            let asked = if on_replica { r.name.clone() } else { primary.clone() };
            let sent = s.clock.now_ns();
            let (lag, error) = match engine_sample(&s, &mut conns, &asked, r).await {
                Ok(l) => (l, None),
                Err(e) => {
                    conns.remove(&asked);
                    (Default::default(), Some(e))
                }
            };
            let t_ns = sent + (s.clock.now_ns() - sent) / 2;
            s.sink.send(LagRow::Engine { service: s.service.clone(), node: r.name.clone(), t_ns, lag, error });
        }
    }
}

/// One engine figure about `r`, asked on `asked`'s connection (opened if need be).
async fn engine_sample(
    s: &Shared,
    conns: &mut std::collections::HashMap<String, Box<dyn Heartbeat>>,
    asked: &str,
    r: &ReplicaAt,
) -> std::result::Result<crate::stack::EngineLag, String> {
    if !conns.contains_key(asked) {
        let c = connect(s, asked).await.ok_or_else(|| format!("no connection to {asked}"))?;
        conns.insert(asked.to_string(), c);
    }
    let c = conns.get_mut(asked).expect("inserted above");
    timeout(OP_TIMEOUT, c.engine_lag(r)).await.unwrap_or_else(|_| Err("timed out".into()))
}
