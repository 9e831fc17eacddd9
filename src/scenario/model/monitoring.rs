//! `monitoring`: did the pager fire? The users' alert rules run in a real Prometheus and
//! Alertmanager beside the stack (or their own, read-only, for an external stack), and
//! every rule is measured (docs/alerts.md).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Alertmanager's own `--cluster.peer-timeout`.
pub const PEER_TIMEOUT_MS: u64 = 15_000;
/// Prometheus' own defaults (`global.scrape_interval`, `global.evaluation_interval`).
pub const PROMETHEUS_INTERVAL_MS: u64 = 60_000;
/// Alertmanager's own defaults (`route.group_wait`, `route.group_interval`).
pub const GROUP_WAIT_MS: u64 = 30_000;
pub const GROUP_INTERVAL_MS: u64 = 300_000;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSpec {
    /// The users' Prometheus rules files (paths relative to the scenario file), each
    /// mounted read-only into the drill's Prometheus: `[alerts/postgres.rules.yml]`.
    /// Required for a drill drdrill starts.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Prometheus' `scrape_interval`, ms. Default 60000 (Prometheus' own). 100 to 3600000.
    #[serde(default)]
    pub scrape_interval_ms: Option<u64>,
    /// Prometheus' `evaluation_interval`, ms. Default 60000 (Prometheus' own). 100 to 3600000.
    #[serde(default)]
    pub evaluation_interval_ms: Option<u64>,
    /// Alertmanager's `group_wait`, ms. Default 30000 (Alertmanager's own). 0 to 3600000.
    #[serde(default)]
    pub group_wait_ms: Option<u64>,
    /// Alertmanager's `group_interval`, ms: how long a group waits before it notifies a
    /// change (a resolved alert among them). Default 300000 (Alertmanager's own). 100 to
    /// 3600000.
    #[serde(default)]
    pub group_interval_ms: Option<u64>,
    /// Alertmanager's `group_by`. Default `[alertname]`.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// After the drill, how long drdrill keeps watching for alerts still pending, firing or
    /// owed a resolved notification. Default: scrape + evaluation interval + group_interval
    /// + 5 s. 0 to 3600000.
    #[serde(default)]
    pub settle_ms: Option<u64>,
    /// With `sites`: the site the drill's Prometheus and Alertmanager stand in. Scrapes of
    /// the other sites' exporters and the page to the receiver (outside every site) leave
    /// it, so a site cut off is cut off from them too.
    #[serde(default)]
    pub site: Option<String>,
    /// With `sites`: two or more sites, each with a Prometheus and an Alertmanager; the
    /// Alertmanagers form one cluster (gossip across the sites) and each Prometheus sends
    /// to all of them.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    /// With `sites`: Alertmanager's `--cluster.peer-timeout`, ms: how long the
    /// Alertmanager in position N of the cluster waits, times N, for the others to notify
    /// before it does. Default 15000 (Alertmanager's own). 0 to 3600000.
    #[serde(default)]
    pub peer_timeout_ms: Option<u64>,
    /// External drills only: the users' Prometheus (read-only API: rules, alerts, series).
    #[serde(default)]
    pub prometheus_url: Option<String>,
    /// External drills only: the users' Alertmanager (read-only API: the alerts it holds).
    #[serde(default)]
    pub alertmanager_url: Option<String>,
}

/// The timing in effect, the scenario's or the tools' own defaults (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub scrape_interval_ms: u64,
    pub evaluation_interval_ms: u64,
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub settle_ms: u64,
}

impl MonitoringSpec {
    pub fn timing(&self) -> Timing {
        let scrape = self.scrape_interval_ms.unwrap_or(PROMETHEUS_INTERVAL_MS);
        let eval = self.evaluation_interval_ms.unwrap_or(PROMETHEUS_INTERVAL_MS);
        let group_interval = self.group_interval_ms.unwrap_or(GROUP_INTERVAL_MS);
        Timing {
            scrape_interval_ms: scrape,
            evaluation_interval_ms: eval,
            group_wait_ms: self.group_wait_ms.unwrap_or(GROUP_WAIT_MS),
            group_interval_ms: group_interval,
            settle_ms: self.settle_ms.unwrap_or(scrape + eval + group_interval + 5_000),
        }
    }
    pub fn group_by(&self) -> Vec<String> {
        self.group_by.clone().unwrap_or_else(|| vec!["alertname".into()])
    }
    /// The sites the monitoring stands in (`site`, or `sites`), none when it is not placed.
    pub fn placed_in(&self) -> Vec<String> {
        match (&self.site, &self.sites) {
            (Some(s), _) => vec![s.clone()],
            (None, Some(v)) => v.clone(),
            (None, None) => Vec::new(),
        }
    }
    /// Whether it watches the users' own monitoring (an external drill).
    pub fn is_external(&self) -> bool {
        self.prometheus_url.is_some()
    }
}

/// An alert's target: notified within N ms of the fault it answers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertTarget {
    /// The longest acceptable time from the fault to the firing notification, ms.
    pub notified_within_ms: u64,
}

pub type AlertTargets = BTreeMap<String, AlertTarget>;
