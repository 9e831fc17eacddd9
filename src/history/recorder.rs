//! Streams history entries to disk through one task; memory use does not grow with the
//! number of ops (a bounded channel and a bounded buffer). The file is one zstd stream of
//! JSON Lines. Entries are written in batches: whole lines only, at most `FLUSH_EVERY` after
//! they arrive, when the buffer fills, and at once for every event (fault, heal, failover
//! step: the phase boundaries). Every batch flushes the compressor (the zstd block ends, so
//! a streaming decoder reads every line of it) and the file: a crash leaves a history whose
//! decodable prefix is every line up to the last batch.
use super::{Entry, Event, EventKind, LastInvokes, Op};
use crate::clock::Clock;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Cheap to clone; every writer, the fault schedule and the failover hold one.
#[derive(Clone)]
pub struct RecorderHandle {
    tx: mpsc::Sender<Entry>,
    pub clock: Clock,
    /// Ops recorded so far by outcome (ok, fail, unknown), for the live progress line.
    pub counts: std::sync::Arc<[std::sync::atomic::AtomicU64; 3]>,
    /// Completion time of the latest acknowledged write (0: none yet), for `abort_when`.
    pub last_ok_ns: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Latest invoke times of an acknowledged write and of one that did not succeed (0:
    /// none yet), for the runner's live view of the clients' recovery.
    pub last_invoke_ns: std::sync::Arc<LastInvokes>,
    /// Stamped on every op and event recorded through this handle (`for_service`).
    service: Option<super::Service>,
    /// The drill's handle a service's handle was made from: its counts are the drill's
    /// totals, kept up too.
    drill: Option<Box<RecorderHandle>>,
}

pub struct Recorder {
    task: tokio::task::JoinHandle<std::io::Result<u64>>,
}

/// Longest an entry waits in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes of lines buffered before a write regardless of the timer.
const BUFFER: usize = 256 * 1024;
/// Entries taken from the channel at once.
const BATCH: usize = 1024;
/// Pause after a small batch (the channel holds 4096 entries, far more than arrive in it
/// meanwhile below about 100 000 writes a second). While the recorder sleeps no write wakes
/// it: at 800 writes a second a 2 ms pause meant a wake-up (a futex call from the writers,
/// a context switch here) every other write, each about 20 µs of CPU on this 2-core VM.
/// Events (the phase boundaries) wait at most this long too before their batch is written;
/// their times were taken when they happened.
const GATHER: Duration = Duration::from_millis(20);
/// zstd's fastest level: 13 to 14 bytes per op line (from about 118), at a few per cent
/// of a core for the fastest drills.
const ZSTD_LEVEL: i32 = 1;

/// Whole lines waiting to be written, and when the oldest of them arrived.
struct Lines {
    out: zstd::stream::write::Encoder<'static, std::fs::File>,
    buf: Vec<u8>,
    since: Option<Instant>,
}

impl Lines {
    fn push(&mut self, e: &Entry) -> std::io::Result<()> {
        super::encode::line(&mut self.buf, e)?;
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Compresses the buffered lines and writes them out with the compressor's own buffer
    /// (ZSTD_e_flush): everything pushed so far can be decoded from the file.
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.out.flush()?;
            self.buf.clear();
        }
        self.since = None;
        Ok(())
    }

    /// Writes what is buffered and ends the zstd frame.
    fn finish(mut self) -> std::io::Result<()> {
        self.flush()?;
        self.out.finish()?.flush()
    }

    /// How long the next wait for entries may last before the buffer is due.
    fn due_in(&self) -> Duration {
        self.since.map_or(Duration::from_secs(3600), |t| FLUSH_EVERY.saturating_sub(t.elapsed()))
    }
}

impl Recorder {
    pub fn start(path: &Path, clock: Clock, header: Entry) -> std::io::Result<(Recorder, RecorderHandle)> {
        let zst = zstd::stream::write::Encoder::new(std::fs::File::create(path)?, ZSTD_LEVEL)?;
        let (tx, mut rx) = mpsc::channel::<Entry>(4096);
        let rt = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            let mut out = Lines { out: zst, buf: Vec::with_capacity(BUFFER + 4096), since: None };
            out.push(&header)?;
            out.flush()?;
            let (mut n, mut batch) = (0u64, Vec::with_capacity(BATCH));
            loop {
                let wait = out.due_in();
                let got = rt.block_on(async { tokio::time::timeout(wait, rx.recv_many(&mut batch, BATCH)).await });
                if got == Ok(0) {
                    break; // every handle dropped and the channel drained
                }
                let mut event = false;
                for e in batch.drain(..) {
                    event |= matches!(e, Entry::Event(_));
                    n += 1;
                    out.push(&e)?;
                }
                if event || out.buf.len() >= BUFFER || out.due_in().is_zero() {
                    out.flush()?;
                }
                if !event && got.unwrap_or(0) < BATCH / 8 {
                    // a small batch: let the next one gather instead of waking per op
                    std::thread::sleep(GATHER);
                }
            }
            out.finish()?;
            Ok(n)
        });
        Ok((
            Recorder { task },
            RecorderHandle {
                tx,
                clock,
                counts: Default::default(),
                last_ok_ns: Default::default(),
                last_invoke_ns: Default::default(),
                service: None,
                drill: None,
            },
        ))
    }

    /// Waits until every handle is dropped and everything is on disk.
    pub async fn finish(self) -> std::io::Result<u64> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

impl RecorderHandle {
    /// A handle into the same history for one of the drill's services: it tags what it
    /// records with the service, and counts that service's writes on its own.
    pub fn for_service(&self, service: &str) -> RecorderHandle {
        RecorderHandle {
            tx: self.tx.clone(),
            clock: self.clock,
            counts: Default::default(),
            last_ok_ns: Default::default(),
            last_invoke_ns: Default::default(),
            service: Some(service.into()),
            drill: Some(Box::new(RecorderHandle { drill: None, ..self.clone() })),
        }
    }

    pub async fn op(&self, mut op: Op) {
        if op.service.is_none() {
            op.service.clone_from(&self.service);
        }
        let i = match op.outcome {
            super::Outcome::Ok => 0,
            super::Outcome::Fail => 1,
            super::Outcome::Unknown => 2,
        };
        self.count(i, &op);
        if let Some(d) = &self.drill {
            d.count(i, &op);
        }
        if let Some(e) = op.error.as_mut().filter(|_| crate::secrets::any()) {
            *e = crate::secrets::redact(e);
        }
        let _ = self.tx.send(Entry::Op(op)).await;
    }

    /// Records a reader's read (tagged with the service; never counted with the writes).
    pub async fn read(&self, mut read: super::Read) {
        if read.service.is_none() {
            read.service.clone_from(&self.service);
        }
        if let Some(e) = read.error.as_mut().filter(|_| crate::secrets::any()) {
            *e = crate::secrets::redact(e);
        }
        let _ = self.tx.send(Entry::Read(read)).await;
    }

    /// Counts `op` (outcome `i`: ok, fail, unknown) and keeps its times.
    fn count(&self, i: usize, op: &Op) {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.counts[i].fetch_add(1, relaxed);
        if i == 0 {
            self.last_ok_ns.fetch_max(op.complete_ns, relaxed);
        }
        self.last_invoke_ns.op(op, i == 0);
    }

    /// Records an event now; returns its time.
    pub async fn event(&self, kind: EventKind, fault: Option<usize>, node: Option<&str>, detail: impl Into<String>) -> u64 {
        self.event_at(self.clock.now_ns(), kind, fault, node, detail).await
    }

    /// Records an event that happened at `t_ns` (taken before a slow call).
    pub async fn event_at(&self, t_ns: u64, kind: EventKind, fault: Option<usize>, node: Option<&str>, detail: impl Into<String>) -> u64 {
        let e = Event {
            service: None,
            t_ns,
            kind,
            fault,
            node: node.map(str::to_string),
            detail: detail.into(),
            applied_ns: None,
            applied_from_ns: None,
        };
        self.record(e).await
    }

    /// The service this handle tags what it records with (None: the drill's own, or a drill of one).
    pub fn service(&self) -> Option<&super::Service> {
        self.service.as_ref()
    }

    /// Records a prepared event; returns its time.
    pub async fn record(&self, mut e: Event) -> u64 {
        let t_ns = e.t_ns;
        if e.service.is_none() {
            e.service.clone_from(&self.service);
        }
        if crate::secrets::any() {
            e.detail = crate::secrets::redact(&e.detail);
        }
        self.last_invoke_ns.event(&e);
        let _ = self.tx.send(Entry::Event(e)).await;
        t_ns
    }
}
