//! The four questions a quarterly drill is judged by (seed 001's plan): was the RTO met?
//! was the RPO met? did anything unexpected happen? did monitoring and alerting work?
//! results.json `questions`: the answers' shape only; `answers.rs` computes them from the
//! results, `findings.rs` lists what the drill found, `questions_text.rs` words them.
use serde::{Deserialize, Serialize};

/// One question's answer. Never `yes` on an unknown: a figure not measured, or no target to
/// hold it against, answers `unknown`; a drill that did not test the question, `not drilled`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    #[serde(rename = "yes")]
    Yes,
    #[serde(rename = "no")]
    No,
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
    #[serde(rename = "not drilled")]
    NotDrilled,
    /// The service promises no such target (`rpo: none`): its figures shown, not judged.
    #[serde(rename = "not promised")]
    NotPromised,
    /// A timing target missed while the host disturbed its window (`disturbed.rs`).
    #[serde(rename = "undecided")]
    Undecided,
}

impl Answer {
    /// The answer of several rows: those not drilled or not promised left aside, any `no`
    /// is a no, `yes` only when every other row is, else `unknown`; nothing left is `not
    /// promised` when a row was, else `not drilled`.
    pub fn of(rows: impl IntoIterator<Item = Answer>) -> Answer {
        let all: Vec<Answer> = rows.into_iter().collect();
        let rows: Vec<Answer> = all.iter().copied().filter(|a| !matches!(a, Answer::NotDrilled | Answer::NotPromised)).collect();
        if rows.is_empty() && all.contains(&Answer::NotPromised) {
            Answer::NotPromised
        } else if rows.is_empty() {
            Answer::NotDrilled
        } else if rows.contains(&Answer::No) {
            Answer::No
        } else if rows.iter().all(|a| *a == Answer::Yes) {
            Answer::Yes
        } else if rows.iter().all(|a| matches!(a, Answer::Yes | Answer::Undecided)) {
            Answer::Undecided
        } else {
            Answer::Unknown
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
            Answer::NotDrilled => "not drilled",
            Answer::NotPromised => "not promised",
            Answer::Undecided => "undecided",
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// results.json `questions`: drill-wide, each service's figures in the rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Questions {
    pub rto: Measured,
    pub rpo: Measured,
    pub unexpected: Unexpected,
    pub alerting: Alerting,
}

/// Was the RTO (RPO) met: the answer, and each service's figure beside its target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Measured {
    pub answer: Answer,
    pub services: Vec<Figure>,
}

/// One service's figure beside one target (`rto_ms`, `rpo_ms`, `max_lost_writes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Figure {
    pub service: String,
    pub target: crate::checker::Target,
    /// What was measured (ms, or writes for `max_lost_writes`); null when unknown.
    pub figure: Option<f64>,
    /// The target's limit; null when the scenario sets none.
    pub limit: Option<f64>,
    pub answer: Answer,
    /// Why, in words (the target's note, or why there is no answer).
    pub note: String,
    /// The availability row's figures (`targets.availability`): the budget, the outage,
    /// the share used and how many such failures fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<crate::checker::AvailabilityReport>,
}

/// Did anything unexpected happen: `yes` when the drill found anything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Unexpected {
    pub answer: Answer,
    pub findings: Vec<Finding>,
}

/// What kind of thing a finding is (docs/evidence.md lists each; `FindingKind::iter()`,
/// derived from the enum, gives every one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Writes failed again after the recovery point.
    #[default]
    Relapse,
    /// Writes the clients were told failed are in the surviving data anyway (a timed-out
    /// write found there is no finding: it may have committed).
    RecoveredWrites,
    /// Records present twice.
    DuplicateWrites,
    /// Records no writer ever invoked.
    NeverWritten,
    /// Keys whose value differs between nodes (multi-active).
    DivergedKeys,
    /// A replica does not hold exactly the primary's records.
    NotConverged,
    /// An orchestrator's phase took longer than its settings allow.
    PhaseOverBudget,
    /// A steady-state probe failed after recovery.
    SteadyStateFailed,
    /// A service's clients saw an outage no fault of the drill targeted.
    UntargetedOutage,
    /// A fault could not be injected.
    FaultNotInjected,
    /// An alert rule whose selectors matched no series.
    AlertDead,
    /// An alert rule that fired while no fault was in effect.
    AlertNoisy,
    /// An alert rule still firing well after the recovery, its condition no longer true.
    AlertStuck,
    /// An alert rule still firing well after the recovery because its condition still
    /// holds: the drill left it true (a promoted primary without a replica).
    AlertStillTrue,
    /// A page for a node that was answering the clients from when the alert fired to
    /// when the page arrived: the on-call woken for a node that never went down.
    FalsePage,
    /// The orchestrator watcher saw the promotion after the clients' first write to it.
    WatcherLate,
    /// The drill's monitoring could not page (nothing reached the receiver, or the watch failed).
    MonitoringCouldNotPage,
    /// The host was saturated (every core 95 % busy or more) for a second or more while
    /// the workload ran: the timings in that window may be off.
    HostSaturated,
    /// The host's disk stalled (some task waited for I/O half the time or more) for a
    /// second or more while the workload ran: commit and fsync timings may be off.
    DiskStalled,
    /// A paced client invoked an operation later than the bound after it was due: drdrill
    /// itself was late.
    PacingSlipped,
    /// The database refused writes once the failover was done (a duplicate key from a
    /// sequence left behind, a missing column, a read-only node): one finding per cause.
    RefusedAfterFailover,
    /// A place the records go to that is not replicated (a table left out of the
    /// publication) lost acknowledged writes.
    NotReplicated,
    /// A replica stopped replicating on its own (a logical subscriber's apply worker
    /// erroring on a change it cannot apply), as its log says.
    ReplicationStopped,
    /// Readers saw writes the final read-back does not hold: users saw data that is gone.
    ReadsOfLostWrites,
    /// A reader saw a writer's data older than it had seen before.
    ReadsBackInTime,
    /// Two primaries took writes at once: two nodes held the clients' entry (a VIP), or
    /// the primary a promotion replaced went on acknowledging writes after it.
    SplitBrain,
    /// The orchestrator (or drdrill's failover) promoted a replica while the primary it
    /// replaced was alive: paused, slowed or cut off from the orchestrator only, and back
    /// before the promotion or before the clients recovered through it.
    FalseFailover,
    /// A failover began before any fault (drdrill's probe failed on a saturated host, the
    /// orchestrator promoted another node): it answered no fault.
    FailoverBeforeFault,
    /// Acknowledged writes the surviving data lacks, in a service whose targets do not
    /// judge data loss (no `rpo_ms`, no `max_lost_writes`): lost data is never nothing.
    LostWrites,
    /// The readers' reads never recovered after the fault (a static pool still sending
    /// reads to a dead node), in a service without a `read_rto_ms` target.
    ReadsNotRecovered,
}

/// One thing the drill found, with the figure that proves it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Finding {
    /// The service it concerns; null for the drill's own (steady state, monitoring).
    pub service: Option<String>,
    pub kind: FindingKind,
    pub what: String,
    pub evidence: String,
}

/// Did monitoring and alerting work: `yes` when every unplanned fault that caused an
/// outage paged within its target; `not drilled` without monitoring (or with no such fault).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Alerting {
    pub answer: Answer,
    pub why: String,
    pub faults: Vec<FaultPages>,
}

/// One fault and the pages for its targets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultPages {
    pub fault: FaultInjected,
    /// Whether a service it hit saw an outage from it (RTO counted from it, or writes failed
    /// again after the recovery point and it came after that point).
    pub outage: bool,
    /// The firing notifications whose `instance` is one of its nodes (or, without an
    /// `instance`, whose `service` is one of its services), first of each alert.
    pub pages: Vec<Page>,
    /// `yes` paged within its target, `no` late or nothing paged, `unknown` no target to
    /// judge by, `not drilled` planned or no outage: no page was owed.
    pub answer: Answer,
    pub note: String,
}

/// A fault as the drill injected it: the history's event, with the nodes and services it
/// hit resolved from its target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultInjected {
    /// Its index in the scenario.
    pub index: usize,
    /// `kill`, `isolate-site`, …
    pub kind: String,
    /// What it named (a node, a site, a partition's groups).
    pub target: String,
    /// When drdrill asked for it (drill ms).
    pub at_ms: f64,
    pub nodes: Vec<String>,
    pub services: Vec<String>,
    /// A switchover: planned, no page owed.
    pub planned: bool,
}

/// One alert that paged for a fault.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    pub alert: String,
    /// The label it was matched by: `instance=pg-1` or `service=pg`.
    pub matched: String,
    /// When the firing notification reached the receiver (drill ms), and fault -> that.
    pub at_ms: f64,
    pub to_page_ms: f64,
    /// Its limit: the alert's own `notified_within_ms` target, else the RTO target of the
    /// service it fired for; null when there is neither.
    pub limit_ms: Option<f64>,
}
