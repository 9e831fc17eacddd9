//! results.json: a stable, documented schema (see docs/evidence.md, "results.json"); written
//! by `to_json_value`, read back by `load_results`.
use crate::checker::{Analysis, Convergence, LostWrite, PhaseLatency, Phases, RpoResult, RtoBasis, RtoResult, TargetResult, Verdict};
use crate::docker::EngineInfo;
use crate::error::{Error, Result};
use crate::failover::FailoverReport;
use crate::history::Event;
use crate::stack::ReplicaHealth;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Bumped on any incompatible change to the fields below. 2: `services`, each service's
/// results by name; a drill of several services keeps only the drill's own fields at the
/// top level (`results_json`).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub container: String,
    /// Published on `DRDRILL_PUBLISH_IP` (127.0.0.1 by default).
    pub host_port: u16,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct StackInfo {
    pub kind: String,
    pub replication: String,
    pub image: String,
    pub initial_primary: String,
    pub final_primary: String,
    pub nodes: Vec<NodeInfo>,
    /// Replicas as seen from the primary before the workload started.
    pub replication_at_start: Vec<ReplicaHealth>,
}

impl StackInfo {
    /// What the scenario asked for, before any container ran (an early interrupt).
    pub fn planned(sc: &crate::scenario::Scenario) -> StackInfo {
        let first = sc.stack.node_names().first().cloned().unwrap_or_default();
        StackInfo {
            // the names the scenario file uses (redis-sentinel, semi-sync)
            kind: serde_name(&sc.stack.kind),
            replication: serde_name(&sc.stack.replication),
            image: sc.stack.image(),
            initial_primary: first.clone(),
            final_primary: first,
            nodes: Vec::new(),
            replication_at_start: Vec::new(),
        }
    }
}

/// A drill's judged results. Evidence of schema 1 (no `services`) reads as one service;
/// a drill of several services leaves the per-service fields at the top level at their
/// defaults (results.json omits them) and holds each service's in `services`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Results {
    pub schema_version: u32,
    pub scenario: String,
    pub run_id: String,
    /// RFC 3339, UTC: the drill clock's zero (workload start).
    pub started_at: String,
    pub finished_at: String,
    pub verdict: Verdict,
    /// null: writes never became available again, or (`no_rto_because`) nothing hit the
    /// service and its writes never stopped.
    pub rto_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_rto_because: Option<String>,
    /// Drill time RTO counts from (a fault's injection, or the outage's start).
    pub rto_from_ms: f64,
    /// `fault`, or `outage_start` when no fault was injected.
    pub rto_basis: RtoBasis,
    /// Client-observed outage: last acknowledgement before it -> recovery point.
    pub outage_ms: Option<f64>,
    pub last_ack_before_outage_ms: Option<f64>,
    pub outage_observed: bool,
    pub outage_start_ms: Option<f64>,
    pub recovered_at_ms: Option<f64>,
    pub relapses: u64,
    /// null: the surviving data could not be read back.
    pub rpo_ms: Option<f64>,
    /// RPO's recovery point and failure point (drill ms; null when nothing was lost).
    pub rpo_recovery_point_ms: Option<f64>,
    pub rpo_failure_point_ms: Option<f64>,
    /// Longest time without an acknowledgement, when it began, and whether it ran to the end.
    pub longest_gap_ms: f64,
    pub longest_gap_start_ms: f64,
    pub longest_gap_to_end: bool,
    pub total_writes: u64,
    pub acked_writes: u64,
    pub failed_writes: u64,
    pub unknown_writes: u64,
    pub acked_before_fault: u64,
    pub lost_writes: Option<u64>,
    pub recovered_writes: Option<u64>,
    /// Of `recovered_writes`, those the clients were told failed (not timed out).
    #[serde(default)]
    pub recovered_failed_writes: Option<u64>,
    pub duplicate_writes: Option<u64>,
    pub unexpected_writes: Option<u64>,
    /// Point-in-time recovery: acknowledged writes missing because they came after the
    /// recovery target (discarded by design, not counted in lost_writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded_writes: Option<u64>,
    /// The writers' rewrites and deletes of their own records (`workload.changes`), judged
    /// on the surviving data; those lost are among `lost_writes` and `lost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::checker::ChangesJudged>,
    pub records_read: Option<u64>,
    pub converged: Option<bool>,
    /// Drill time of the fault RTO and RPO are measured from: when drdrill asked for it …
    pub fault_ms: Option<f64>,
    /// … and when the engine reported it applied.
    pub fault_applied_ms: Option<f64>,
    pub answered_fault: Option<usize>,
    pub targets: Vec<TargetResult>,
    /// Latency of acknowledged writes per phase (before_fault, during_fault, failover,
    /// after_recovery; or whole_drill without a fault); phases a drill lacks are left out.
    pub latency: Vec<PhaseLatency>,
    /// With sites: the WAN links as set, shown beside the latency (a synchronous commit
    /// across one costs its round trip).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wan: Vec<crate::scenario::LinkSpec>,
    /// Replica visibility lag per replica, whole drill and per phase, beside what the
    /// engine reported (when measured; raw rows in replica-lag.jsonl.zst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_lag: Option<crate::checker::LagReport>,
    /// With `workload.readers`: what the readers got (availability and read RTO,
    /// staleness, reads of lost writes, reads back in time, latency by phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<crate::checker::ReadsReport>,
    /// With `targets.availability`: the drill's outage against the period's downtime budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<crate::checker::AvailabilityReport>,
    /// `targets.rpo: none`: the service promises no RPO (question 2 answers "not promised").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rpo_not_promised: bool,
    /// `targets.claims`: the words of the document each target comes from, by target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// Who held the clients' entry (a VIP) over the drill, and the spans with two holders
    /// (a split brain), for a stack that moves one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders: Option<crate::checker::HoldersReport>,
    /// Every promotion of another node, and the writes the primary it replaced went on
    /// acknowledging after it (a split brain, whatever moved the clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotions: Option<crate::checker::PromotionsReport>,
    pub stack: StackInfo,
    /// The Docker engine the drill ran on.
    pub engine: EngineInfo,
    pub failover: Option<FailoverReport>,
    /// Orchestrated stacks: RTO split into detection, promotion, reroute and stabilisation,
    /// next to the budgets the settings imply.
    pub phases: Option<Phases>,
    /// Orchestrated stacks: the old primary's data, read just before the heal that let it
    /// rejoin (independent evidence of what a split brain loses; records in
    /// isolated-primary.json).
    pub isolated_primary: Option<IsolatedPrimary>,
    /// A stack with one primary per shard (Redis Cluster): each shard judged on its own
    /// records, and the share of the key space taking writes over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<crate::checker::ShardsReport>,
    /// A stack whose records go to places replicated differently (a DR region's published
    /// and unpublished tables): each place judged on its own records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<crate::checker::GroupsReport>,
    /// The writes the database refused once the failover was done, by cause (null in
    /// evidence from before it was counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_after_failover: Option<crate::checker::RefusalsReport>,
    /// A stack whose every node is writable: its shared keys' updates judged, each site's
    /// writes, and the engine's own conflict counts (docs/multi-active.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_active: Option<crate::checker::MultiActiveReport>,
    pub convergence: Option<Convergence>,
    /// Every acknowledged write that is missing, earliest ack first.
    pub lost: Vec<LostWrite>,
    /// Faults, heals and failover steps, in order (times in history.jsonl.zst are ns).
    pub events: Vec<Event>,
    /// Problems met after the workload (read-back or convergence errors).
    pub errors: Vec<String>,
    /// True when SIGINT / SIGTERM stopped the drill; the verdict is then `unknown`.
    pub interrupted: bool,
    pub interruption: Option<Interruption>,
    /// `monitoring`: every alert rule of the users' rules file, measured (drill-wide: at the top level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::monitor::AlertsReport>,
    /// Timing targets missed while the host disturbed the window they measure: each
    /// undecided, with the window and what disturbed it (`disturbed.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<super::undecided::Undecided>,
    /// `--baseline`: this run compared with earlier evidence of the same scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<super::comparison::Comparison>,
    /// `steady_state` probes: before the drill (all held, else it did not start), after recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state: Option<SteadyStateReport>,
    /// External stacks with `cleanup: true`: what was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<String>,
    /// drdrill's own CPU and memory while it ran the workload (null when interrupted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<crate::usage::HarnessUsage>,
    /// The four questions (RTO met? RPO met? anything unexpected? did alerting work?),
    /// drill-wide, each service's figures in their rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<super::questions::Questions>,
    /// Schema 2: every service's results by name (one entry in a drill of one service,
    /// with the same figures as the top level).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Results>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SteadyStateReport {
    pub before: Vec<crate::action::ProbeResult>,
    pub after: Vec<crate::action::ProbeResult>,
}

/// How an interrupted drill ended.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Interruption {
    pub signal: String,
    /// The phase the drill had reached.
    pub phase: String,
    /// Drill time of the interruption, when the workload had started.
    pub at_ms: Option<f64>,
}

/// What the isolated old primary held just before it rejoined.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct IsolatedPrimary {
    pub node: String,
    /// The fault that isolated it (the reads started when it was injected).
    pub isolated_by_fault: usize,
    /// When the last complete read taken while it was still a writable primary began.
    pub read_started_ms: f64,
    /// Records found (null when it could not be read).
    pub records: Option<u64>,
    /// Lost writes (acknowledged, missing from the final primary) found on it.
    pub lost_found_here: Option<u64>,
    /// Lost writes it acknowledged after that read began (they may not be in it).
    pub lost_acked_after_read: Option<u64>,
    pub error: Option<String>,
}

impl Results {
    /// Puts the checker's analysis and the drill's facts into the documented shape.
    /// `identity` = (scenario, run id, started at, finished at).
    pub fn assemble(
        identity: (String, String, String, String),
        a: Analysis,
        stack: StackInfo,
        failover: Option<FailoverReport>,
        convergence: Option<Convergence>,
        events: Vec<Event>,
        errors: Vec<String>,
    ) -> Results {
        let (scenario, run_id, started_at, finished_at) = identity;
        let drill = Results {
            schema_version: SCHEMA_VERSION,
            scenario,
            run_id,
            started_at,
            finished_at,
            verdict: a.verdict,
            total_writes: a.total_writes,
            acked_writes: a.acked_writes,
            failed_writes: a.failed_writes,
            unknown_writes: a.unknown_writes,
            acked_before_fault: a.acked_before_fault,
            converged: convergence.as_ref().and_then(|c| c.converged),
            fault_ms: a.fault_ms,
            fault_applied_ms: a.fault_applied_ms,
            answered_fault: a.answered_fault,
            targets: a.targets,
            latency: a.latency,
            stack,
            failover,
            convergence,
            events,
            errors,
            // the rest (engine, WAN links, replica lag, phases, isolated primary, interruption,
            // comparison, steady state, cleanup, harness usage) is the caller's to fill in
            ..Default::default()
        };
        drill.with_rto(&a.rto).with_read_back(a.rpo)
    }

    /// These results with the checker's RTO figures: the outage as clients saw it, the
    /// recovery point, and the longest time without an acknowledgement.
    fn with_rto(self, rto: &RtoResult) -> Results {
        Results {
            rto_ms: rto.rto_ms,
            no_rto_because: rto.no_rto_because.clone(),
            rto_from_ms: rto.from_ms,
            rto_basis: rto.basis,
            outage_ms: rto.outage_ms,
            last_ack_before_outage_ms: rto.last_ack_before_outage_ms,
            outage_observed: rto.outage_observed,
            outage_start_ms: rto.outage_start_ms,
            recovered_at_ms: rto.recovered_at_ms,
            relapses: rto.relapses,
            longest_gap_ms: rto.longest_gap_ms,
            longest_gap_start_ms: rto.longest_gap_start_ms,
            longest_gap_to_end: rto.longest_gap_to_end,
            ..self
        }
    }

    /// These results with what the read-back found (RPO, lost, recovered, duplicated and
    /// discarded writes, the lost ones listed); all unknown when nothing was read back.
    fn with_read_back(self, rpo: Option<RpoResult>) -> Results {
        Results {
            rpo_ms: rpo.as_ref().map(|r| r.rpo_ms),
            rpo_recovery_point_ms: rpo.as_ref().and_then(|r| r.recovery_point_ms),
            rpo_failure_point_ms: rpo.as_ref().and_then(|r| r.failure_point_ms),
            lost_writes: rpo.as_ref().map(|r| r.lost_writes),
            recovered_writes: rpo.as_ref().map(|r| r.recovered_writes),
            recovered_failed_writes: rpo.as_ref().map(|r| r.recovered_failed),
            duplicate_writes: rpo.as_ref().map(|r| r.duplicate_writes),
            unexpected_writes: rpo.as_ref().map(|r| r.unexpected_writes),
            discarded_writes: rpo.as_ref().map(|r| r.discarded_after_target).filter(|&n| n > 0),
            records_read: rpo.as_ref().map(|r| r.records_read),
            changes: rpo.as_ref().and_then(|r| r.changes.clone()),
            lost: rpo.map(|r| r.lost).unwrap_or_default(),
            ..self
        }
    }
}

impl Results {
    /// The drill's results from each service's: one service's are the drill's; several
    /// give the worst verdict, every event, every error (named), and each one's under
    /// `services`. Copies under `services` hold no events (the drill's carry a service).
    pub fn of_services(mut each: Vec<(String, Results)>, events: Vec<Event>) -> Results {
        let entry = |r: &Results| Results { events: Vec::new(), ..r.clone() };
        if each.len() == 1 {
            let (name, mut r) = each.remove(0);
            r.services = BTreeMap::from([(name, entry(&r))]);
            return r;
        }
        let first = each.first().map(|(_, r)| r.clone()).unwrap_or_default();
        let verdict = each.iter().map(|(_, r)| r.verdict).reduce(Verdict::merge).unwrap_or(Verdict::Unknown);
        let errors = each.iter().flat_map(|(n, r)| r.errors.iter().map(move |e| format!("{n}: {e}"))).collect();
        Results {
            schema_version: SCHEMA_VERSION,
            scenario: first.scenario,
            run_id: first.run_id,
            started_at: first.started_at,
            finished_at: first.finished_at,
            verdict,
            events,
            errors,
            services: each.iter().map(|(n, r)| (n.clone(), entry(r))).collect(),
            ..Default::default()
        }
    }

    /// Each service's results with its name: the entries of `services`, or (evidence of
    /// schema 1) the drill's own, named after its stack kind.
    pub fn each_service(&self) -> Vec<(&str, &Results)> {
        match self.services.len() {
            0 => vec![(self.stack.kind.as_str(), self)],
            1 => vec![(self.services.keys().next().map(String::as_str).unwrap_or_default(), self)],
            _ => self.services.iter().map(|(n, r)| (n.as_str(), r)).collect(),
        }
    }

    /// One service of a drill of several as a drill of its own: its figures with the
    /// drill's identity, the events that concern it, and the comparison checks named after
    /// it.
    pub fn service_view(&self, name: &str) -> Option<Results> {
        let sr = self.services.get(name)?;
        let comparison = self.comparison.clone().map(|mut c| {
            c.checks.retain(|k| k.quantity.starts_with(&format!("{name}: ")));
            c
        });
        Some(Results {
            schema_version: self.schema_version,
            scenario: self.scenario.clone(),
            run_id: self.run_id.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            engine: self.engine.clone(),
            events: self.events.iter().filter(|e| crate::history::belongs(e.service.as_ref(), Some(name))).cloned().collect(),
            comparison,
            services: BTreeMap::new(),
            // drill-wide: each service's timeline marks the alerts too
            alerts: self.alerts.clone(),
            // drill-wide: a service's row of a summary answers them for its service
            questions: self.questions.clone(),
            // drill-wide: a signal stopped every service
            interrupted: self.interrupted,
            interruption: self.interruption.clone(),
            ..sr.clone()
        })
    }

    /// Whether the drill had several services (its top level then holds no service's figures).
    pub fn several(&self) -> bool {
        self.services.len() > 1
    }
}

/// results.json's keys that describe the drill, not one service: kept at the top level
/// only, never under `services`.
const DRILL_KEYS: [&str; 14] = [
    "schema_version",
    "scenario",
    "run_id",
    "started_at",
    "finished_at",
    "engine",
    "events",
    "interrupted",
    "interruption",
    "comparison",
    "steady_state",
    "harness",
    "questions",
    "services",
];

/// results.json's shape: each entry under `services` without the drill's keys; a drill of
/// several services without any one service's keys at the top level.
pub fn to_json_value(r: &Results) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("results serialise");
    let mut service_keys = std::collections::BTreeSet::new();
    if let Some(services) = v.get_mut("services").and_then(|s| s.as_object_mut()) {
        for entry in services.values_mut().filter_map(|e| e.as_object_mut()) {
            for k in DRILL_KEYS {
                entry.remove(k);
            }
            service_keys.extend(entry.keys().cloned());
        }
    }
    if r.several()
        && let Some(top) = v.as_object_mut()
    {
        for k in service_keys.iter().filter(|k| !["verdict", "errors"].contains(&k.as_str())) {
            top.remove(k);
        }
    }
    v
}

/// A finished drill's results.json (evidence.rs re-renders from it, baseline.rs compares
/// with it).
pub fn load_results(dir: &Path) -> Result<Results> {
    let text = std::fs::read_to_string(dir.join("results.json"))
        .map_err(|e| Error::usage(format!("failed to read {}/results.json", dir.display())).cause(e))?;
    serde_json::from_str(&text).map_err(|e| Error::usage(format!("failed to parse {}/results.json", dir.display())).cause(e))
}

fn serde_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
