//! `targets`: what the drill must show: RTO, RPO, lost writes, convergence, replica lag.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Longest acceptable write outage: a number (each run), or statistics over the runs
    /// (`{p95: 30000}`; min, median, p95, max).
    #[serde(default)]
    pub rto_ms: Option<crate::scenario::limits::Limit>,
    /// `none`: the service promises no RPO (seed 001's Redis "may lose data"): question 2
    /// answers "not promised" with what was lost, never "unknown". Not beside `rpo_ms` or
    /// `max_lost_writes`.
    #[serde(default)]
    pub rpo: Option<NoRpo>,
    /// The service's availability target as its SLA states it: `99.99%` (over a month), or
    /// `{target: 99.95%, per: week | month | year}`. The drill's outage is weighed against
    /// the downtime it allows: the share of the budget used, how many such failures fit.
    #[serde(default)]
    pub availability: Option<crate::scenario::availability::Availability>,
    /// Longest acceptable span of acknowledged writes lost (a number or statistics).
    #[serde(default)]
    pub rpo_ms: Option<crate::scenario::limits::Limit>,
    /// Most acknowledged writes that may be lost (a number or statistics).
    #[serde(default)]
    pub max_lost_writes: Option<crate::scenario::limits::Limit>,
    /// Surviving replicas must hold exactly the primary's records. Default true.
    #[serde(default = "yes")]
    pub converge: bool,
    /// Replica visibility lag each replica may show over the drill, in ms: any of p50,
    /// p95, p99 and max (`{p99: 1000}`). Turns the measurement on.
    #[serde(default)]
    pub replica_lag_ms: Option<LagLimit>,
    /// With `monitoring`: alerts that must page, each within N ms of the fault
    /// (`{PostgresPrimaryDown: {notified_within_ms: 60000}}`); a late or missing firing
    /// notification fails the target.
    #[serde(default)]
    pub alerts: super::AlertTargets,
    /// With `monitoring`: alerts that must not fire (e.g. during a planned switchover).
    #[serde(default)]
    pub no_alert: Vec<String>,
    /// With `workload.keys`: most acknowledged updates that may lose to a write completed
    /// before they started (docs/multi-active.md).
    #[serde(default)]
    pub max_lost_updates: Option<u64>,
    /// With `workload.keys`: most keys whose value may still differ between nodes once the
    /// drill has waited for them to converge.
    #[serde(default)]
    pub max_diverged_keys: Option<u64>,
    /// Most writes the database may refuse once the failover is done (an error reply after
    /// the clients were moved: a duplicate key from a sequence left behind, a missing
    /// column, a read-only node). Default: not judged; each cause is reported either way.
    #[serde(default)]
    pub max_refused_after_failover: Option<u64>,
    /// With `workload.readers`: longest acceptable read outage (ms), from the fault to the
    /// point after which reads succeed again.
    #[serde(default)]
    pub read_rto_ms: Option<u64>,
    /// With `workload.readers`: how stale a successful read may be, in ms (how long the
    /// oldest acknowledged write it did not show had been acknowledged): any of p50, p95,
    /// p99 and max over the drill.
    #[serde(default)]
    pub stale_read_ms: Option<LagLimit>,
    /// With `workload.readers`: most successful reads that may return a write the final
    /// read-back does not hold (data users saw that the failover lost).
    #[serde(default)]
    pub max_reads_of_lost_writes: Option<u64>,
    /// With `workload.readers`: most reads that may show a writer's data older than the
    /// same reader saw before.
    #[serde(default)]
    pub max_reads_back_in_time: Option<u64>,
    /// Most acknowledged writes that may be lost, as a percentage of those acknowledged
    /// in the drill (a checklist's "data 100 % equal": 0; "within 1 %": 1).
    #[serde(default)]
    pub max_lost_pct: Option<f64>,
    /// The words of the document a target comes from, by target (`{rto_ms: "RTO < 30 s"}`):
    /// the report's claims table puts each beside what was measured and says whether it
    /// held. Each names a target this block sets.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub claims: std::collections::BTreeMap<String, String>,
}

/// `rpo: none`: no RPO is promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoRpo {
    None,
}

impl Targets {
    /// No target at all (a part of a service judged for its figures only: a shard).
    pub fn none() -> Targets {
        Targets {
            rto_ms: None,
            rpo: None,
            availability: None,
            rpo_ms: None,
            max_lost_writes: None,
            converge: false,
            replica_lag_ms: None,
            alerts: Default::default(),
            no_alert: Vec::new(),
            max_lost_updates: None,
            max_diverged_keys: None,
            max_refused_after_failover: None,
            read_rto_ms: None,
            stale_read_ms: None,
            max_reads_of_lost_writes: None,
            max_reads_back_in_time: None,
            max_lost_pct: None,
            claims: Default::default(),
        }
    }

    /// The targets this block sets, by name (what a claim may name).
    pub fn set_names(&self) -> Vec<String> {
        let Ok(serde_json::Value::Object(m)) = serde_json::to_value(self) else { return Vec::new() };
        let set = |v: &serde_json::Value| match v {
            serde_json::Value::Null | serde_json::Value::Bool(_) => false,
            serde_json::Value::Object(o) => !o.is_empty(),
            serde_json::Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        let mut names: Vec<String> = m.iter().filter(|(k, v)| *k != "claims" && set(v)).map(|(k, _)| k.clone()).collect();
        if self.converge {
            names.push("converged".into());
        }
        names
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LagLimit {
    /// The median lag may be at most this many ms. Default: not judged.
    #[serde(default)]
    pub p50: Option<u64>,
    /// The 95th percentile, ms. Default: not judged.
    #[serde(default)]
    pub p95: Option<u64>,
    /// The 99th percentile, ms. Default: not judged.
    #[serde(default)]
    pub p99: Option<u64>,
    /// The largest lag seen, ms. Default: not judged.
    #[serde(default)]
    pub max: Option<u64>,
}

/// A statistic of a distribution a target limits: a percentile, or the largest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Percentile {
    P50,
    P95,
    P99,
    Max,
}

impl Percentile {
    pub fn name(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P95 => "p95",
            Percentile::P99 => "p99",
            Percentile::Max => "max",
        }
    }

    pub fn parse(name: &str) -> Option<Percentile> {
        [Percentile::P50, Percentile::P95, Percentile::P99, Percentile::Max].into_iter().find(|p| p.name() == name)
    }
}

impl LagLimit {
    /// (statistic, limit) for each one given.
    pub fn each(&self) -> Vec<(Percentile, u64)> {
        [(Percentile::P50, self.p50), (Percentile::P95, self.p95), (Percentile::P99, self.p99), (Percentile::Max, self.max)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }
}

fn yes() -> bool {
    true
}
