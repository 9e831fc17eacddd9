//! The drill's history: every client operation and every fault / failover event, on one
//! monotonic clock, streamed to `history.jsonl` as the drill runs.
mod reader;
mod recorder;

pub use reader::{HistoryFile, read_history};
pub use recorder::{Recorder, RecorderHandle};

use serde::{Deserialize, Serialize};

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
    pub writer: u32,
    pub seq: u64,
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub outcome: Outcome,
    /// Node the client was talking to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
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
    /// The stack's orchestrator declared the primary down.
    OrchestratorDetected,
    /// The stack's orchestrator made `node` the primary, and it accepts writes.
    OrchestratorPromoted,
    /// The clients' endpoint (a virtual IP) now reaches `node`.
    OrchestratorMoved,
    /// Any other step the orchestrator announced.
    OrchestratorNote,
    /// SIGINT / SIGTERM: the drill stopped early (detail: the signal and the phase).
    Interrupted,
    /// A hook, failover step or steady-state check ran and succeeded (`applied_from_ns`
    /// .. `applied_ns`: its start and end).
    Action,
    /// A hook, failover step or steady-state check failed: the verdict cannot be a pass.
    ActionFailed,
    /// An `abort_when` condition held: no fault fired after it (detail: which and why).
    Aborted,
    Note,
}

/// A fault, heal or failover step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
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

/// One line of history.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    /// First line: what ran, and the wall-clock time of t=0.
    Header {
        scenario: String,
        run_id: String,
        wall_clock_anchor: String,
    },
    Op(Op),
    Event(Event),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[tokio::test]
    async fn recorder_streams_what_the_reader_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let clock = Clock::start();
        let header = Entry::Header { scenario: "s".into(), run_id: "r".into(), wall_clock_anchor: clock.wall_anchor.to_rfc3339() };
        let (rec, h) = Recorder::start(&path, clock, header).unwrap();
        let t = h.event(EventKind::WorkloadStart, None, None, "").await;
        for seq in 1..=1000 {
            let outcome = if seq % 3 == 0 { Outcome::Unknown } else { Outcome::Ok };
            h.op(Op { writer: 1, seq, invoke_ns: seq, complete_ns: seq + 1, outcome, node: Some("pg-1".into()), error: None }).await;
        }
        h.event_at(7, EventKind::FaultInject, Some(0), Some("pg-1"), "kill").await;
        drop(h);
        assert_eq!(rec.finish().await.unwrap(), 1002);
        let mut ops = Vec::new();
        let file = read_history(&path, |op| ops.push(op)).unwrap();
        assert_eq!((file.scenario.as_str(), file.run_id.as_str()), ("s", "r"));
        assert_eq!(ops.len(), 1000);
        assert_eq!(ops.iter().filter(|o| o.outcome == Outcome::Unknown).count(), 333);
        assert_eq!(file.events.len(), 2);
        assert_eq!(file.events[0].t_ns, t);
        assert_eq!(file.events[1].t_ns, 7);
        assert_eq!(file.events[1].fault, Some(0));
    }

    /// What a crash would leave: while the recorder still runs, the file holds whole lines
    /// only, every event at once, and every op within the flush interval.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_recorder_leaves_whole_lines_and_flushes_events_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let clock = Clock::start();
        let header = Entry::Header { scenario: "s".into(), run_id: "r".into(), wall_clock_anchor: clock.wall_anchor.to_rfc3339() };
        let (rec, h) = Recorder::start(&path, clock, header).unwrap();
        for seq in 1..=5000 {
            h.op(Op { writer: 1, seq, invoke_ns: seq, complete_ns: seq + 1, outcome: Outcome::Ok, node: None, error: None }).await;
        }
        h.event(EventKind::FaultInject, Some(0), Some("pg-1"), "kill").await;
        let on_disk = |path: &std::path::Path| {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'), "a partial line on disk");
            let mut ops = 0;
            let f = read_history(path, |_| ops += 1).unwrap();
            (ops, f.events.len())
        };
        // the event is a phase boundary: written with everything before it
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while on_disk(&path) != (5000, 1) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(on_disk(&path), (5000, 1));
        h.op(Op { writer: 1, seq: 5001, invoke_ns: 1, complete_ns: 2, outcome: Outcome::Ok, node: None, error: None }).await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(on_disk(&path), (5001, 1), "an op waited longer than the flush interval");
        drop(h);
        assert_eq!(rec.finish().await.unwrap(), 5002);
    }
}
