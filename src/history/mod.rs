//! The drill's history: every client operation and every fault / failover event, on one
//! monotonic clock, streamed to `history.jsonl.zst` (zstd-compressed JSON Lines) as the
//! drill runs.
mod encode;
mod live;
mod reader;
mod recorder;

pub use live::LastInvokes;
pub use reader::{HistoryFile, read_history, read_text};
pub use recorder::{Recorder, RecorderHandle};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The history's name in a drill's evidence folder.
pub const FILE: &str = "history.jsonl.zst";
/// Its name in evidence from before it was compressed.
const PLAIN_FILE: &str = "history.jsonl";

/// The history in evidence folder `dir`: `history.jsonl.zst`, or the plain `history.jsonl`
/// of older evidence when only that exists.
pub fn path_in(dir: &Path) -> PathBuf {
    let zst = dir.join(FILE);
    let plain = dir.join(PLAIN_FILE);
    if !zst.exists() && plain.exists() { plain } else { zst }
}

/// A service's name as ops and events carry it (shared, not copied, per op).
pub type Service = std::sync::Arc<str>;

/// The first of `events` that `began` (a failover step) requested before the first fault
/// was (injected or not), with that fault's time (None: no fault at all): a failover that
/// answered no fault.
pub fn before_first_fault<'a>(events: &[&'a Event], began: impl Fn(&Event) -> bool) -> Option<(&'a Event, Option<u64>)> {
    let first_fault = events.iter().filter(|e| matches!(e.kind, EventKind::FaultInject | EventKind::FaultFailed)).map(|e| e.t_ns).min();
    let e = events.iter().find(|e| began(e) && first_fault.is_none_or(|f| e.t_ns < f))?;
    Some((e, first_fault))
}

/// Whether an op or event tagged `tag` belongs to `service` (None: a drill of one service,
/// whose ops carry no tag). A drill-wide event (no tag) belongs to every service.
pub fn belongs(tag: Option<&Service>, service: Option<&str>) -> bool {
    match (tag, service) {
        (None, _) => true,
        (Some(t), Some(s)) => &**t == s,
        (Some(_), None) => true,
    }
}

/// Outcome of one client operation (Jepsen's ok / fail / info).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Acknowledged by the database.
    Ok,
    /// Definitely not applied (connection refused, error reply, read-only node).
    Fail,
    /// May or may not have been applied (timeout, connection lost mid-call).
    Unknown,
}

/// One write: `writer` wrote record `seq`. Times are ns on the drill clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// The service written to; absent in a drill of one service (and in evidence written
    /// before drills had several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    pub writer: u32,
    pub seq: u64,
    /// An update of key `key` of the shared key space (`workload.keys`) to the value
    /// (writer, seq); absent for an insert of record (writer, seq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    /// A change to one of the writer's own records (`workload.changes`); the op's own
    /// (writer, seq) is then no record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub outcome: Outcome,
    /// Node the client was talking to (shared with the client's own name for it, not
    /// copied per write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<std::sync::Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a change op did to record (writer, `of`) of its own writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Rewrote it whole, at revision `rev` (its first write is revision 0); `created`: the
    /// server said the record was absent and created it anew (HTTP 201, not 204): every
    /// acknowledged write of it before was lost by then.
    Rewrite {
        of: u64,
        rev: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        created: bool,
    },
    /// Deleted it.
    Delete { of: u64 },
}

impl Change {
    /// The record changed.
    pub fn of(&self) -> u64 {
        match *self {
            Change::Rewrite { of, .. } | Change::Delete { of } => of,
        }
    }
}

/// One read: reader `reader` asked `node` for writer `writer`'s newest record, and saw
/// record `seen` (None on an ok read: the node held none of that writer's records yet).
/// Times are ns on the drill clock, like the writes'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Read {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    pub reader: u32,
    /// The writer whose newest record was asked; for a read of a key, the writer of the
    /// update it showed (0 when none).
    pub writer: u32,
    /// A read of one key of the shared key space (`workload.keys`): `writer` and `seen`
    /// are the update it showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<std::sync::Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    WorkloadStart,
    WorkloadStop,
    FaultInject,
    /// A scheduled fault could not be applied: the drill did not test what it declared.
    FaultFailed,
    FaultHeal,
    /// The probe declared the primary down, or the failover delay elapsed.
    FailoverStart,
    FailoverPromote,
    FailoverRepointReplicas,
    FailoverRepointClients,
    FailoverDone,
    FailoverFailed,
    Rejoin,
    /// A restore recovery's fresh, empty node runs in the destroyed primary's place.
    RestoreNode,
    /// The backup and the archive were restored into it (detail: the tool's words).
    RestoreFetched,
    /// The database started on the restored data and accepts connections (still replaying).
    RestoreStarted,
    /// The stack's orchestrator declared the primary down.
    OrchestratorDetected,
    /// The stack's orchestrator made `node` the primary, and it accepts writes.
    OrchestratorPromoted,
    /// The clients' endpoint (a virtual IP) now reaches `node`.
    OrchestratorMoved,
    /// Any other step the orchestrator announced.
    OrchestratorNote,
    /// A client's resolver got a fresh answer from the drill's DNS (`node`: the node at the
    /// address; detail: writer, name, address, TTL). Cached answers are not events.
    DnsAnswer,
    /// SIGINT / SIGTERM: the drill stopped early (detail: the signal and the phase).
    Interrupted,
    /// A hook, failover step or steady-state check ran and succeeded (`applied_from_ns`
    /// .. `applied_ns`: its start and end).
    Action,
    /// A hook, failover step or steady-state check failed: the verdict cannot be a pass.
    ActionFailed,
    /// An `abort_when` condition held: no fault fired after it (detail: which and why).
    Aborted,
    /// A multi-active node's membership as its engine reported it changed (detail: the
    /// new state: `Synced`, or its state and component).
    MemberState,
    /// A replica stopped applying the primary's changes, at the time its own log says
    /// (detail: the log line, and how often it was logged).
    ReplicationStopped,
    Note,
}

/// A fault, heal or failover step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The service it happened to; absent for the drill's own events (hooks, an abort, an
    /// interrupt) and in a drill of one service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    pub t_ns: u64,
    pub kind: EventKind,
    /// Index of the fault in the scenario, for fault events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Fault injections and heals: when the engine reported it applied (its call
    /// returned); `t_ns` is when drdrill asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_ns: Option<u64>,
    /// When the heal is known to have started taking effect (the node's clock just before
    /// its rules were removed): it took effect between this and `applied_ns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_from_ns: Option<u64>,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    /// First line: what ran, and the wall-clock time of t=0.
    Header {
        scenario: String,
        run_id: String,
        wall_clock_anchor: String,
        /// The drill's services, when it has several: each op and service event names one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        services: Vec<String>,
    },
    Op(Op),
    /// A reader's read (`workload.readers`).
    Read(Read),
    Event(Event),
}

#[cfg(test)]
impl Event {
    /// `kind` on `node` at `t_ms`, of no service and no fault: the tests' events.
    pub fn on(t_ms: u64, kind: EventKind, node: &str) -> Event {
        Event {
            service: None,
            t_ns: t_ms * 1_000_000,
            kind,
            fault: None,
            node: Some(node.into()),
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }
}

impl Op {
    /// Writer 0's plain write `seq`, acknowledged by `node` at `t_ms` (1 µs after its invoke):
    /// the checker's tests of who acknowledged what.
    pub fn acked_by(node: &str, seq: u64, t_ms: u64) -> Op {
        Op {
            service: None,
            writer: 0,
            seq,
            key: None,
            change: None,
            invoke_ns: t_ms * 1_000_000 - 1000,
            complete_ns: t_ms * 1_000_000,
            outcome: Outcome::Ok,
            node: Some(node.into()),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use std::io::Read;

    fn header(clock: &Clock) -> Entry {
        Entry::Header { scenario: "s".into(), run_id: "r".into(), wall_clock_anchor: clock.wall_anchor.to_rfc3339(), services: Vec::new() }
    }

    fn op(seq: u64, outcome: Outcome, node: Option<&str>) -> Op {
        Op {
            service: None,
            writer: 1,
            seq,
            key: None,
            change: None,
            invoke_ns: seq,
            complete_ns: seq + 1,
            outcome,
            node: node.map(Into::into),
            error: None,
        }
    }

    /// A recorder writing `history.jsonl.zst` in a fresh folder (kept while the dir lives).
    fn recording() -> (tempfile::TempDir, PathBuf, Recorder, RecorderHandle) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let clock = Clock::start();
        let (rec, h) = Recorder::start(&path, clock, header(&clock)).unwrap();
        (dir, path, rec, h)
    }

    /// What a streaming zstd decoder gets out of `path` before the file ends, and whether
    /// the frame was complete.
    fn decodable(path: &Path) -> (Vec<u8>, bool) {
        let mut d = zstd::stream::read::Decoder::new(std::fs::File::open(path).unwrap()).unwrap();
        let (mut out, mut chunk) = (Vec::new(), [0u8; 4096]);
        loop {
            match d.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
                    return (out, false);
                }
            }
        }
    }

    #[tokio::test]
    async fn recorder_streams_what_the_reader_reads_back() {
        let (dir, path, rec, h) = recording();
        let t = h.event(EventKind::WorkloadStart, None, None, "").await;
        for seq in 1..=1000 {
            let outcome = if seq % 3 == 0 { Outcome::Unknown } else { Outcome::Ok };
            h.op(op(seq, outcome, Some("pg-1"))).await;
        }
        h.event_at(7, EventKind::FaultInject, Some(0), Some("pg-1"), "kill").await;
        drop(h);
        assert_eq!(rec.finish().await.unwrap(), 1002);
        assert_eq!(path_in(dir.path()), path);
        let mut ops = Vec::new();
        let file = read_history(&path, |op| ops.push(op)).unwrap();
        assert_eq!((file.scenario.as_str(), file.run_id.as_str(), file.truncated), ("s", "r", false));
        assert_eq!(ops.len(), 1000);
        assert_eq!(ops.iter().filter(|o| o.outcome == Outcome::Unknown).count(), 333);
        assert_eq!(file.events.len(), 2);
        assert_eq!(file.events[0].t_ns, t);
        assert_eq!(file.events[1].t_ns, 7);
        assert_eq!(file.events[1].fault, Some(0));
        // plain JSON Lines inside, header first, one complete zstd frame
        let (text, complete) = decodable(&path);
        assert!(complete);
        assert_eq!(String::from_utf8(text).unwrap(), read_text(&path).unwrap());
        let text = read_text(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1003);
        assert!(lines[0].starts_with(r#"{"type":"header","scenario":"s","run_id":"r","#), "{}", lines[0]);
        assert_eq!(lines[2], r#"{"type":"op","writer":1,"seq":1,"invoke_ns":1,"complete_ns":2,"outcome":"ok","node":"pg-1"}"#);
    }

    /// What a crash would leave: while the recorder still runs, everything it flushed
    /// decodes, ends with a whole line, every event at once, every op within the flush
    /// interval.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_recorder_leaves_whole_lines_and_flushes_events_at_once() {
        let (_dir, path, rec, h) = recording();
        for seq in 1..=5000 {
            h.op(op(seq, Outcome::Ok, None)).await;
        }
        h.event(EventKind::FaultInject, Some(0), Some("pg-1"), "kill").await;
        // `whole`: the recorder is idle (its flush is done), so what decodes ends with a whole
        // line; while it writes, a read can see part of a block it is appending (found by CI)
        let on_disk = |path: &Path, whole: bool| {
            let (text, complete) = decodable(path);
            assert!(!complete, "the frame ended while the recorder runs");
            assert!(!whole || text.is_empty() || text.ends_with(b"\n"), "a partial line decodes");
            let mut ops = 0;
            let f = read_history(path, |_| ops += 1).unwrap();
            assert!(f.truncated);
            (ops, f.events.len())
        };
        // the event is a phase boundary: written with everything before it
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while on_disk(&path, false) != (5000, 1) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(on_disk(&path, true), (5000, 1));
        h.op(Op {
            service: None,
            writer: 1,
            seq: 5001,
            key: None,
            change: None,
            invoke_ns: 1,
            complete_ns: 2,
            outcome: Outcome::Ok,
            node: None,
            error: None,
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(on_disk(&path, true), (5001, 1), "an op waited longer than the flush interval");
        drop(h);
        assert_eq!(rec.finish().await.unwrap(), 5002);
        assert!(!read_history(&path, |_| ()).unwrap().truncated);
    }

    /// A drill killed mid-write: cut anywhere, the file reads as a prefix of whole entries.
    #[tokio::test]
    async fn a_truncated_history_reads_up_to_the_cut() {
        let (dir, path, rec, h) = recording();
        for seq in 1..=3000 {
            h.op(op(seq, Outcome::Ok, Some("pg-1"))).await;
            if seq % 500 == 0 {
                // an event flushes the batch: several blocks in the frame
                h.event(EventKind::Note, None, None, format!("after {seq}")).await;
            }
        }
        drop(h);
        rec.finish().await.unwrap();
        let full = std::fs::read(&path).unwrap();
        let text = read_text(&path).unwrap();
        let cut = dir.path().join("cut").join(FILE);
        std::fs::create_dir(cut.parent().unwrap()).unwrap();
        let (mut last_ops, mut whole_prefixes) = (0, 0);
        // in increasing order: the stepped cuts stop where the last 16 begin (a stepped cut
        // inside them came before smaller ones, and a file whose last block decodes only
        // from its last bytes then read as fewer ops at the later, smaller cut)
        let offsets = (0..16).chain((16..full.len() - 16).step_by(37)).chain(full.len() - 16..full.len());
        for at in offsets {
            std::fs::write(&cut, &full[..at]).unwrap();
            let mut ops = Vec::new();
            let f = read_history(&cut, |o| ops.push(o.seq)).unwrap_or_else(|e| panic!("cut at {at}: {e}"));
            assert!(f.truncated, "cut at {at}");
            assert_eq!(ops, (1..=ops.len() as u64).collect::<Vec<_>>(), "cut at {at}");
            assert_eq!(f.events.len(), ops.len() / 500, "cut at {at}");
            assert!(ops.len() >= last_ops, "cut at {at}");
            last_ops = ops.len();
            let prefix = read_text(&cut).unwrap();
            assert!(text.starts_with(&prefix) && (prefix.is_empty() || prefix.ends_with('\n')), "cut at {at}");
            whole_prefixes += usize::from(f.events.len() == 6);
        }
        // the last block (the frame's end) was cut: everything flushed before still reads
        assert!(whole_prefixes > 0 && last_ops == 3000);
        let f = read_history(&path, |_| ()).unwrap();
        assert!(!f.truncated && f.events.len() == 6);
    }

    #[test]
    fn a_plain_history_from_older_evidence_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(path_in(dir.path()), dir.path().join(FILE));
        let clock = Clock::start();
        let entries = [header(&clock), Entry::Op(op(1, Outcome::Ok, Some("pg-1"))), Entry::Op(op(2, Outcome::Fail, None))];
        let mut text: String = entries.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
        text += r#"{"type":"event","t_ns":9,"kind":"fault-inject","fault":0}"#; // no newline at the end
        std::fs::write(dir.path().join("history.jsonl"), &text).unwrap();
        let path = path_in(dir.path());
        assert_eq!(path, dir.path().join("history.jsonl"));
        let mut ops = Vec::new();
        let f = read_history(&path, |o| ops.push(o)).unwrap();
        assert_eq!((f.run_id.as_str(), f.truncated, f.events.len()), ("r", false, 1));
        assert_eq!(ops.iter().map(|o| (o.seq, o.outcome)).collect::<Vec<_>>(), [(1, Outcome::Ok), (2, Outcome::Fail)]);
        assert_eq!(read_text(&path).unwrap(), text);
        std::fs::write(dir.path().join(FILE), b"").unwrap();
        assert_eq!(path_in(dir.path()), dir.path().join(FILE), "the compressed history wins");
    }

    /// 100 000 writes as a fast drill records them (8 writers, 100-900 µs each, a few µs
    /// between) take at most 30 bytes each on disk.
    #[tokio::test]
    async fn the_history_takes_at_most_30_bytes_per_write() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ops = Vec::new();
        let mut next = [2_000_000_000u64; 8];
        for seq in 1..=100_000 / 8 {
            for (w, t) in next.iter_mut().enumerate() {
                let invoke_ns = *t + rand(30_000);
                let complete_ns = invoke_ns + 100_000 + rand(800_000);
                *t = complete_ns;
                let node = Some("redis-1".to_string());
                ops.push(Op {
                    service: None,
                    writer: w as u32 + 1,
                    seq,
                    key: None,
                    change: None,
                    invoke_ns,
                    complete_ns,
                    outcome: Outcome::Ok,
                    node: node.map(Into::into),
                    error: None,
                });
            }
        }
        ops.sort_by_key(|o| o.complete_ns); // recorded as they complete
        let (_dir, path, rec, h) = recording();
        let n = ops.len() as u64;
        for o in ops {
            h.op(o).await;
        }
        drop(h);
        assert_eq!(rec.finish().await.unwrap(), n);
        let per_op = std::fs::metadata(&path).unwrap().len() as f64 / n as f64;
        eprintln!("{per_op:.1} bytes per op on disk ({n} ops)");
        assert!(per_op <= 30.0, "{per_op:.1} bytes per op");
        let mut read = 0u64;
        read_history(&path, |_| read += 1).unwrap();
        assert_eq!(read, n);
    }
}
