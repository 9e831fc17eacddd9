//! The stack's own failover machinery (Sentinel, Patroni, MHA) as drdrill sees it from
//! outside: what a watcher observes, and the phase budgets its settings imply. The
//! drivers implement `Orchestrator` (declared beside `Stack` in nodes.rs: the stack keeps
//! its orchestrator, and the orchestrator watches the stack); `failover::run_orchestrated`
//! records what it observes.
use serde::Serialize;

/// One thing the orchestrator was seen doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// The primary was declared down (Sentinel `+sdown`; Patroni: the leader key lapsed).
    Detected { detail: String },
    /// `node` is the new primary and accepts writes.
    Promoted { node: String, detail: String },
    /// The clients' endpoint (MHA's virtual IP) now reaches `node` (when it moved, if the
    /// watch knows, by `Said` around it).
    Moved { node: String, detail: String },
    /// Any other step (`+odown`, `+switch-master`, a leader election …).
    Note { detail: String },
    /// `what`, said at `wall_ns` (UTC ns) by whoever said it (the engine's own stamp on
    /// each line of a log, or the line's own time), which drdrill reads a little later.
    Said { wall_ns: i128, what: Box<Observed> },
}

impl Observed {
    /// What was observed, and when it was said, when the watch knows.
    pub fn said(&self) -> (&Observed, Option<i128>) {
        match self {
            Observed::Said { wall_ns, what } => (what.said().0, Some(*wall_ns)),
            o => (o, None),
        }
    }
}

/// The drill's DNS as the clients use it: the record's TTL (ms), and whether they resolve
/// once and never ask again (`workload.resolve: once`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientDns {
    pub ttl_ms: u64,
    pub once: bool,
}

/// Whose steps the phases follow: the orchestrator's (its watcher's events), or drdrill's
/// scripted recovery (failover start, promotion, the clients repointed), with the DNS
/// record's TTL when the clients find the primary through the drill's DNS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PhaseSteps {
    Orchestrator,
    Scripted { dns: Option<ClientDns> },
}

/// How long each phase may take given the settings, with the setting it comes from.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Budgets {
    pub detection_ms: Option<f64>,
    pub detection_from: String,
    pub promotion_ms: Option<f64>,
    pub promotion_from: String,
    pub reroute_ms: Option<f64>,
    pub reroute_from: String,
    /// With the drill's DNS: the record's TTL, the longest a client keeps the old address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ttl_from: String,
    /// Who moves the record (drdrill, or the runbook's `dns` step).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_from: String,
    /// What the reference documents claim for this orchestrator, shown beside the phases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

impl Budgets {
    /// Everything the settings allow, for bounding how long drdrill waits for a failover.
    pub fn total_ms(&self) -> f64 {
        [self.detection_ms, self.promotion_ms, self.reroute_ms, self.ttl_ms].iter().flatten().sum()
    }
}
