//! One proxied connection: client <-> proxy <-> upstream. Per direction, a reader stamps
//! chunks as they are read and a writer passes them through the proxy's current toxics
//! (a `watch` of the list, so adding or removing a toxic reaches live connections).
//! As in Toxiproxy, when either direction ends, the whole connection is closed.
use super::toxics::{Chunk, Rng, Step, Stream, Toxic, ToxicKind, ToxicState};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub type ToxicList = Arc<Vec<Arc<Toxic>>>;

const READ_BUF: usize = 32 * 1024;
/// The bytes read and not yet through the toxics, per direction: the reader stops reading
/// (and the sender meets TCP's backpressure) beyond this. Bounded by bytes, not chunks: a
/// latency toxic must not hold back the reading of many small messages (a logical
/// replication stream sends a transaction as four or five), or their stamps come late and
/// the delay grows with their rate (8 chunks once let 200 ms of latency show as 274 ms).
const QUEUE_BYTES: usize = 8 * READ_BUF;
/// Chunks queued at most, whatever their size (a message of a few bytes each).
const QUEUE_CHUNKS: usize = 4096;
/// A chunk read, holding its share of the direction's byte budget until it is written.
type Queued = (Chunk, tokio::sync::OwnedSemaphorePermit);

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// source closed or a socket failed
    Done,
    /// a toxic closed the connection
    Close { reset: bool },
}

/// Runs a connection until either side closes, a toxic closes it, or `cancel` fires
/// (proxy disabled, deleted or server stopped).
pub async fn run(mut client: TcpStream, mut upstream: TcpStream, toxics: watch::Receiver<ToxicList>, cancel: CancellationToken) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let end = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let (up_tx, up_rx) = mpsc::channel(QUEUE_CHUNKS);
        let (down_tx, down_rx) = mpsc::channel(QUEUE_CHUNKS);
        let readers = async {
            tokio::join!(read_loop(&mut cr, up_tx), read_loop(&mut ur, down_tx));
            std::future::pending::<End>().await
        };
        let mut up = Link::new(Stream::Upstream, toxics.clone());
        let mut down = Link::new(Stream::Downstream, toxics);
        tokio::select! {
            _ = cancel.cancelled() => End::Done,
            e = readers => e,
            e = up.run(up_rx, &mut uw) => e,
            e = down.run(down_rx, &mut cw) => e,
        }
    };
    if end == (End::Close { reset: true }) {
        let _ = client.set_zero_linger();
        let _ = upstream.set_zero_linger();
    }
}

async fn read_loop(src: &mut (impl AsyncReadExt + Unpin), tx: mpsc::Sender<Queued>) {
    let budget = Arc::new(tokio::sync::Semaphore::new(QUEUE_BYTES));
    let mut buf = vec![0u8; READ_BUF];
    loop {
        // room for a whole read before reading, so a chunk is stamped when it was read
        let Ok(room) = budget.clone().acquire_many_owned(READ_BUF as u32).await else { return };
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => return, // dropping tx tells the writer: end of stream
            Ok(n) => {
                let chunk = Chunk { data: hyper::body::Bytes::copy_from_slice(&buf[..n]), at: Instant::now() };
                let mut room = room;
                // what the read did not use goes back at once
                drop(room.split(READ_BUF - n));
                if tx.send((chunk, room)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A toxic as this connection sees it: whether it applies here was decided once (per update).
#[derive(Clone)]
struct Active {
    toxic: Arc<Toxic>,
    applies: bool,
}

/// One direction of a connection and its view of the toxics.
struct Link {
    stream: Stream,
    rx: watch::Receiver<ToxicList>,
    active: Vec<Active>,
    states: HashMap<String, ToxicState>,
    rng: Rng,
    /// a toxic whose removal closes the connection (timeout's Cleanup) was removed
    cleanup_close: bool,
}

impl Link {
    fn new(stream: Stream, rx: watch::Receiver<ToxicList>) -> Link {
        let mut link = Link { stream, rx, active: Vec::new(), states: HashMap::new(), rng: Rng::seeded(), cleanup_close: false };
        link.refresh();
        link
    }

    /// Takes the current toxic list: keeps state of toxics it already had, rolls the toxicity
    /// of new and updated ones, and notes a removed timeout toxic.
    fn refresh(&mut self) {
        let list = self.rx.borrow_and_update().clone();
        let mut next = Vec::new();
        for t in list.iter().filter(|t| t.stream == self.stream) {
            match self.active.iter().find(|a| a.toxic.name == t.name) {
                Some(a) if a.toxic.id == t.id => next.push(a.clone()),
                _ => {
                    let applies = self.rng.unit() < t.toxicity;
                    let state = self.states.entry(t.name.clone()).or_default();
                    if applies && matches!(t.kind, ToxicKind::Timeout { .. }) && state.since.is_none() {
                        state.since = Some(Instant::now());
                    }
                    next.push(Active { toxic: t.clone(), applies });
                }
            }
        }
        for gone in self.active.iter().filter(|a| !next.iter().any(|n| n.toxic.name == a.toxic.name)) {
            self.states.remove(&gone.toxic.name);
            if matches!(gone.toxic.kind, ToxicKind::Timeout { .. }) {
                self.cleanup_close = true;
            }
        }
        self.active = next;
    }

    fn is_current(&self, toxic: &Arc<Toxic>) -> bool {
        self.active.iter().any(|a| Arc::ptr_eq(&a.toxic, toxic))
    }

    /// When an active timeout toxic closes the connection.
    fn timeout_deadline(&self) -> Option<Instant> {
        self.active
            .iter()
            .filter(|a| a.applies)
            .filter_map(|a| match a.toxic.kind {
                ToxicKind::Timeout { timeout } if timeout > 0 => {
                    self.states.get(&a.toxic.name).and_then(|s| s.since).map(|t| t + std::time::Duration::from_millis(timeout as u64))
                }
                _ => None,
            })
            .min()
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Queued>, dest: &mut (impl AsyncWriteExt + Unpin)) -> End {
        loop {
            if self.cleanup_close {
                return End::Close { reset: false };
            }
            let deadline = self.timeout_deadline();
            tokio::select! {
                changed = self.rx.changed() => match changed {
                    Ok(()) => self.refresh(),
                    Err(_) => return End::Done, // proxy gone
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => return End::Close { reset: false },
                chunk = rx.recv() => match chunk {
                    Some((c, _room)) => {
                        if let Some(end) = self.pass(c, dest).await {
                            return end;
                        }
                    }
                    None => return self.eof(dest).await,
                },
            }
        }
    }

    /// Carries one chunk through the toxics in order, depth first: a toxic's output goes
    /// through the toxics after it before its next step runs.
    async fn pass(&mut self, chunk: Chunk, dest: &mut (impl AsyncWriteExt + Unpin)) -> Option<End> {
        let chain = self.active.clone();
        let mut frames: Vec<(usize, VecDeque<Step>)> = vec![(0, VecDeque::from([Step::Emit(chunk)]))];
        while let Some((level, steps)) = frames.last_mut() {
            let level = *level;
            let Some(step) = steps.pop_front() else {
                frames.pop();
                continue;
            };
            // level 0 is the link's input; level i > 0 is the output of chain[i - 1]
            let owner = level.checked_sub(1).map(|i| chain[i].toxic.clone());
            match step {
                Step::Emit(c) => match chain.get(level) {
                    None => {
                        if dest.write_all(&c.data).await.is_err() {
                            return Some(End::Done);
                        }
                    }
                    Some(a) if a.applies && self.is_current(&a.toxic) => {
                        let state = self.states.entry(a.toxic.name.clone()).or_default();
                        let steps = a.toxic.kind.on_chunk(c, state, &mut self.rng);
                        frames.push((level + 1, steps.into()));
                    }
                    Some(_) => frames.push((level + 1, VecDeque::from([Step::Emit(c)]))),
                },
                Step::Until(t) => self.wait(t, owner.as_ref()).await,
                Step::Pause(d) => self.wait(Instant::now() + d, owner.as_ref()).await,
                Step::Close { reset } => {
                    let _ = dest.flush().await;
                    return Some(End::Close { reset });
                }
            }
            if self.cleanup_close {
                return Some(End::Close { reset: false });
            }
        }
        None
    }

    /// Sleeps until `t`, cut short if the toxic that asked for the wait is removed or updated
    /// (Toxiproxy interrupts the toxic and lets the chunk through).
    async fn wait(&mut self, t: Instant, owner: Option<&Arc<Toxic>>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(t.into()) => return,
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.refresh();
                    if owner.is_some_and(|o| !self.is_current(o)) || self.cleanup_close {
                        return;
                    }
                }
            }
        }
    }

    /// End of stream: slow_close and reset_peer get their say, then the connection closes.
    async fn eof(&mut self, dest: &mut (impl AsyncWriteExt + Unpin)) -> End {
        let _ = dest.flush().await;
        for a in self.active.clone().into_iter().filter(|a| a.applies) {
            for step in a.toxic.kind.on_eof() {
                match step {
                    Step::Pause(d) => self.wait(Instant::now() + d, Some(&a.toxic)).await,
                    Step::Close { reset } => return End::Close { reset },
                    Step::Until(_) | Step::Emit(_) => {}
                }
            }
        }
        End::Done
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
