//! One reader: on its schedule, asks a node of its pool for one writer's newest record,
//! one read at a time, and records each read with what it saw. Its pool is where the
//! writers write (`from: primary`, following the clients' route) or a fixed list of nodes
//! (the replicas, every node, a site's), each read going to the next node in turn, as a
//! read pool balances. A read that does not succeed drops its connection; the next read
//! to that node opens a fresh one.
use super::attempt::Conn;
use super::route::ClientTarget;
use crate::clock::Clock;
use crate::history::{Outcome, Read, RecorderHandle};
use crate::scenario::ReadersSpec;
use crate::stack::{Driver, WriteError};
use crate::usage::SlipSample;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a reader waits at most for its pool's nodes to answer a first read.
const WARM_UP: Duration = Duration::from_secs(5);

/// Where a workload's readers read.
#[derive(Clone)]
pub enum ReadPool {
    /// Wherever the writers write now.
    Follow(watch::Receiver<ClientTarget>),
    /// These nodes, a read to each in turn.
    Nodes(Vec<ClientTarget>),
}

/// A workload's readers: their settings and their pool.
pub struct ReadPlan {
    pub spec: ReadersSpec,
    pub pool: ReadPool,
}

pub(super) struct Reader {
    pub id: u32,
    pub spec: ReadersSpec,
    /// How many writers there are: reads ask for each in turn.
    pub writers: u32,
    /// The shared key space (`workload.keys`): every second read asks one key instead.
    pub keys: Option<u32>,
    pub driver: Arc<dyn Driver>,
    /// Each writer's highest sequence number invoked.
    pub invoked: super::Invoked,
    pub pool: ReadPool,
    pub rec: RecorderHandle,
    pub stop: watch::Receiver<bool>,
    /// The workload's hard bound (`max_duration_ms`).
    pub deadline: Instant,
}

impl Reader {
    /// Reads until stopped or the deadline; the reads made and the slips of those that
    /// waited on the clock alone.
    pub(super) async fn run(mut self) -> (u64, Vec<SlipSample>) {
        let interval = Duration::try_from_secs_f64(1.0 / self.spec.rate_per_s).unwrap_or(Duration::from_secs(1));
        let timeout = Duration::from_millis(self.spec.op_timeout_ms);
        // the readers spread over one interval, not all at once
        let mut due = Instant::now() + interval * self.id / u32::from(self.spec.count.max(1));
        let (mut conns, mut slips, mut n) = (self.warm_up(timeout).await, Vec::new(), 0u64);
        let mut lookup = super::resolve::Lookup::quiet();
        loop {
            if *self.stop.borrow() || Instant::now() >= self.deadline {
                break;
            }
            if Instant::now() < due {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = self.stop.changed() => break,
                }
                let slip_ns = u64::try_from(Instant::now().saturating_duration_since(due).as_nanos()).unwrap_or(u64::MAX);
                slips.push(SlipSample { t_ns: self.rec.clock.now_ns(), slip_ns, client: self.id, reader: true });
            }
            let (target, writer) = self.next(n);
            // following the primary by the drill's DNS: the reader's own resolver and cache
            let target = if target.dns.is_some() { lookup.target(target, self.id, &self.rec).await } else { target };
            let conn = conns.remove(&target.node);
            let invoked = self.invoked.get(writer as usize).map_or(0, |n| n.load(std::sync::atomic::Ordering::Relaxed));
            let ask = match self.key(n) {
                Some(k) => Ask::Key(k),
                None => Ask::Newest(writer, invoked),
            };
            let (read, conn) = read_once(self.driver.clone(), &target, conn, (self.id, ask), timeout, self.rec.clock).await;
            if let Some(c) = conn {
                conns.insert(target.node.clone(), c);
            }
            self.rec.read(read).await;
            n += 1;
            // a read slower than the interval delays the next one: it is not paced
            due = (due + interval).max(Instant::now());
        }
        (n, slips)
    }

    /// Before its first recorded read, each node of a fixed pool answers one (the table the
    /// writers write into reaches a replica a moment after it is created on the primary),
    /// for at most `WARM_UP`: a node still failing then is read, and recorded, as it is.
    async fn warm_up(&self, timeout: Duration) -> HashMap<Arc<str>, Conn> {
        let mut conns = HashMap::new();
        let ReadPool::Nodes(nodes) = &self.pool else { return conns };
        let until = Instant::now() + WARM_UP;
        for t in nodes {
            while Instant::now() < until && !*self.stop.borrow() {
                let (r, conn) = read_once(self.driver.clone(), t, None, (self.id, Ask::Newest(0, 0)), timeout, self.rec.clock).await;
                if let (Outcome::Ok, Some(c)) = (r.outcome, conn) {
                    conns.insert(t.node.clone(), c);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        conns
    }

    /// With a shared key space, read `n`'s key when it is one of every second read: the
    /// keys in turn, each reader starting at its own.
    fn key(&self, n: u64) -> Option<u32> {
        let keys = u64::from(self.keys?.max(1));
        (n % 2 == 1).then(|| ((u64::from(self.id) + n / 2) % keys) as u32)
    }

    /// Read `n`'s node and writer: the writers in turn, and the pool's nodes in turn,
    /// shifted once per round of writers so that each writer is read on every node.
    fn next(&mut self, n: u64) -> (ClientTarget, u32) {
        let writer = ((u64::from(self.id) + n) % u64::from(self.writers.max(1))) as u32;
        let target = match &mut self.pool {
            ReadPool::Follow(rx) => rx.borrow_and_update().clone(),
            ReadPool::Nodes(nodes) => {
                let i = (u64::from(self.id) + n + n / u64::from(self.writers.max(1))) % nodes.len().max(1) as u64;
                nodes[i as usize].clone()
            }
        };
        (target, writer)
    }
}

/// What one read asks: a writer's newest record (the highest sequence number it had
/// invoked when the read began), or one key's value.
#[derive(Clone, Copy)]
enum Ask {
    Newest(u32, u64),
    Key(u32),
}

/// One read on `target`, on `conn` or a fresh connection, the whole within `timeout`: a
/// connect that fails never sent the read (`fail`); no answer once sent is `unknown`. The
/// connection comes back only after a success.
async fn read_once(
    driver: Arc<dyn Driver>,
    target: &ClientTarget,
    conn: Option<Conn>,
    (reader, ask): (u32, Ask),
    timeout: Duration,
    clock: Clock,
) -> (Read, Option<Conn>) {
    let invoke_ns = clock.now_ns();
    let mut client = conn;
    let mut sent = false;
    let result = tokio::time::timeout(timeout, async {
        if client.is_none() {
            client = Some(driver.data().connect_reader(target.addr, timeout).await.map_err(WriteError::Fail)?);
        }
        sent = true;
        let c = client.as_mut().expect("connected");
        match ask {
            Ask::Newest(writer, invoked) => Ok((writer, c.read_newest(writer, invoked).await?)),
            Ask::Key(k) => c.read_key(k).await.map(|v| v.map_or((0, None), |(w, s)| (w, Some(s)))),
        }
    })
    .await;
    let complete_ns = clock.now_ns();
    let asked_writer = match ask {
        Ask::Newest(w, _) => w,
        Ask::Key(_) => 0,
    };
    let (outcome, (writer, seen), error) = match result {
        Ok(Ok(shown)) => (Outcome::Ok, shown, None),
        Ok(Err(WriteError::Fail(e))) => (Outcome::Fail, (asked_writer, None), Some(e)),
        Ok(Err(WriteError::Unknown(e))) => (Outcome::Unknown, (asked_writer, None), Some(e)),
        Err(_) if !sent => (Outcome::Fail, (asked_writer, None), Some("connect timed out".to_string())),
        Err(_) => (Outcome::Unknown, (asked_writer, None), Some(format!("no answer within {} ms", timeout.as_millis()))),
    };
    let node = client.as_ref().and_then(|c| c.node()).unwrap_or_else(|| target.node.clone());
    let key = match ask {
        Ask::Key(k) => Some(k),
        Ask::Newest(..) => None,
    };
    let read = Read { service: None, reader, writer, key, invoke_ns, complete_ns, outcome, seen, node: Some(node), error };
    (read, client.filter(|_| outcome == Outcome::Ok))
}
