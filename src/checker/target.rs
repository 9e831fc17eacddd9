//! Every target a drill is judged by, typed: the scenario's `targets` keys, their
//! sub-keys (a percentile, an alert's name), and the drill's own checks. Each is named as
//! the scenario and results.json name it (`rto_ms`, `replica_lag_ms.p99`,
//! `alerts.PgDown.notified_within_ms`); nothing compares a target by its name.
use crate::scenario::Percentile;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Target {
    /// The drill's own checks, before any target: the workload acknowledged writes before
    /// the fault, every fault was injected, a failover answered a fault, every runbook
    /// action ran, the drill was not aborted.
    BaselineWrites,
    FaultsInjected,
    FailoverAfterFault,
    Actions,
    Aborted,
    #[default]
    RtoMs,
    RpoMs,
    MaxLostWrites,
    MaxLostPct,
    Converged,
    /// `availability`: the outage against the period's downtime budget.
    Availability,
    ReadRtoMs,
    StaleReadMs(Percentile),
    MaxReadsOfLostWrites,
    MaxReadsBackInTime,
    ReplicaLagMs(Percentile),
    MaxRefusedAfterFailover,
    MaxLostUpdates,
    MaxDivergedKeys,
    /// `alerts.rules_alive`: every rule's selectors matched a series.
    AlertRulesAlive,
    /// `alerts.NAME.notified_within_ms`.
    AlertNotified(String),
    /// `no_alert.NAME`.
    NoAlert(String),
}

/// The targets without a sub-key, with their names.
const PLAIN: [(Target, &str); 18] = [
    (Target::BaselineWrites, "baseline_writes"),
    (Target::FaultsInjected, "faults_injected"),
    (Target::FailoverAfterFault, "failover_after_fault"),
    (Target::Actions, "actions"),
    (Target::Aborted, "aborted"),
    (Target::RtoMs, "rto_ms"),
    (Target::RpoMs, "rpo_ms"),
    (Target::MaxLostWrites, "max_lost_writes"),
    (Target::MaxLostPct, "max_lost_pct"),
    (Target::Converged, "converged"),
    (Target::Availability, "availability"),
    (Target::ReadRtoMs, "read_rto_ms"),
    (Target::MaxReadsOfLostWrites, "max_reads_of_lost_writes"),
    (Target::MaxReadsBackInTime, "max_reads_back_in_time"),
    (Target::MaxRefusedAfterFailover, "max_refused_after_failover"),
    (Target::MaxLostUpdates, "max_lost_updates"),
    (Target::MaxDivergedKeys, "max_diverged_keys"),
    (Target::AlertRulesAlive, "alerts.rules_alive"),
];

impl Target {
    /// Its name in the scenario and in results.json.
    pub fn name(&self) -> String {
        match self {
            Target::StaleReadMs(p) => format!("stale_read_ms.{}", p.name()),
            Target::ReplicaLagMs(p) => format!("replica_lag_ms.{}", p.name()),
            Target::AlertNotified(a) => format!("alerts.{a}.notified_within_ms"),
            Target::NoAlert(a) => format!("no_alert.{a}"),
            t => PLAIN.iter().find(|(p, _)| p == t).map(|(_, n)| n.to_string()).unwrap_or_default(),
        }
    }

    /// The key of the scenario's `targets` it comes from (`replica_lag_ms` for
    /// `replica_lag_ms.p99`): the key `targets.claims` names.
    pub fn key(&self) -> String {
        self.name().split('.').next().unwrap_or_default().to_string()
    }

    /// The target named `name`, if any.
    pub fn parse(name: &str) -> Option<Target> {
        if let Some((_, t)) = PLAIN.iter().map(|(t, n)| (n, t)).find(|(n, _)| **n == name) {
            return Some(t.clone());
        }
        if let Some(p) = name.strip_prefix("stale_read_ms.") {
            return Percentile::parse(p).map(Target::StaleReadMs);
        }
        if let Some(p) = name.strip_prefix("replica_lag_ms.") {
            return Percentile::parse(p).map(Target::ReplicaLagMs);
        }
        if let Some(a) = name.strip_prefix("alerts.").and_then(|r| r.strip_suffix(".notified_within_ms")) {
            return Some(Target::AlertNotified(a.to_string()));
        }
        name.strip_prefix("no_alert.").map(|a| Target::NoAlert(a.to_string()))
    }

    /// Its name with the sub-key as a placeholder (`replica_lag_ms.<stat>`), as the
    /// docs list it.
    pub fn pattern(&self) -> String {
        match self {
            Target::StaleReadMs(_) => "stale_read_ms.<stat>".into(),
            Target::ReplicaLagMs(_) => "replica_lag_ms.<stat>".into(),
            Target::AlertNotified(_) => "alerts.<alert>.notified_within_ms".into(),
            Target::NoAlert(_) => "no_alert.<alert>".into(),
            t => t.name(),
        }
    }

    /// One target of every kind (a sub-key's first value), for the checks that every
    /// target is documented.
    pub fn every() -> Vec<Target> {
        let mut all: Vec<Target> = PLAIN.iter().map(|(t, _)| t.clone()).collect();
        all.extend([Target::StaleReadMs(Percentile::P50), Target::ReplicaLagMs(Percentile::P50)]);
        all.extend([Target::AlertNotified("NAME".into()), Target::NoAlert("NAME".into())]);
        all
    }

    /// The targets that judge data loss (question 2's rows): with neither, lost writes are
    /// a finding.
    pub const DATA_LOSS: [Target; 2] = [Target::RpoMs, Target::MaxLostWrites];

    /// Whether this target judges data loss (one of `DATA_LOSS`).
    pub fn judges_data_loss(&self) -> bool {
        Target::DATA_LOSS.contains(self)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let name = String::deserialize(d)?;
        Target::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown target `{name}`")))
    }
}

/// Unit tests name targets as scenarios do (`"rto_ms".into()`); an unknown name is a
/// test's own mistake.
#[cfg(test)]
impl From<&str> for Target {
    fn from(name: &str) -> Target {
        Target::parse(name).unwrap_or_else(|| panic!("no target named {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_reads_back_from_its_own_name() {
        let mut all: Vec<Target> = PLAIN.iter().map(|(t, _)| t.clone()).collect();
        for p in [Percentile::P50, Percentile::P95, Percentile::P99, Percentile::Max] {
            all.extend([Target::StaleReadMs(p), Target::ReplicaLagMs(p)]);
        }
        all.extend([Target::AlertNotified("PgDown".into()), Target::NoAlert("Noise".into())]);
        for t in &all {
            assert_eq!(Target::parse(&t.name()).as_ref(), Some(t), "{}", t.name());
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(&serde_json::from_str::<Target>(&json).unwrap(), t);
        }
        assert_eq!(Target::ReplicaLagMs(Percentile::P99).name(), "replica_lag_ms.p99");
        assert_eq!(Target::ReplicaLagMs(Percentile::P99).key(), "replica_lag_ms");
        assert_eq!(Target::AlertNotified("PgDown".into()).name(), "alerts.PgDown.notified_within_ms");
        assert_eq!(Target::parse("stale_read_ms.p42"), None);
        assert!(serde_json::from_str::<Target>("\"rto_seconds\"").is_err());
    }
}
