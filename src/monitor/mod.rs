//! Did the pager fire? The drill's monitoring (Prometheus, Alertmanager and an exporter
//! next to every node, from `docker/monitoring`), or the users' own (external drills),
//! watched while the drill runs: every alert rule of the users' rules file measured for
//! whether it can match anything at all, and when it went pending, firing, notified and
//! resolved; the time to page split like the RTO, each step beside its budget.
//! - `rules.rs`: the rules file read, and the metric names each expression selects;
//! - `deploy.rs`: the containers and their configuration;
//! - `webhook.rs`: the receiver Alertmanager notifies, in-process on 127.0.0.1;
//! - `watch.rs`: Prometheus' and Alertmanager's HTTP APIs polled on the drill's clock;
//! - `judge.rs`: what each rule did, against `targets.alerts` and `targets.no_alert`.
use serde::{Deserialize, Serialize};

/// What the drill's monitoring found (results.json `alerts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsReport {
    /// `drill` (drdrill started it) or `external` (the users' own, read-only).
    pub source: String,
    /// The rules file, as the scenario names it.
    pub rules_file: String,
    /// The timing settings in effect (Prometheus' and Alertmanager's defaults where the
    /// scenario is silent).
    pub settings: TimingSettings,
    /// What was scraped: each exporter with its version and target.
    pub exporters: Vec<String>,
    pub rules: Vec<AlertRuleReport>,
    /// Every notification the webhook received, in order.
    pub notifications: Vec<Notification>,
    /// Problems met while watching (an API that did not answer, …).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimingSettings {
    pub scrape_interval_ms: u64,
    pub evaluation_interval_ms: u64,
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub resolve_timeout_ms: u64,
}

/// How a rule ended the drill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOutcome {
    /// Its expression selects a metric no exporter published: it can never fire.
    Dead,
    /// Alive, but it never went pending.
    #[default]
    Quiet,
    /// It went pending but its condition cleared before `for` ran out.
    PendingOnly,
    /// It fired, and no notification reached the receiver.
    FiredNotNotified,
    /// It fired and the receiver was notified.
    Notified,
}

/// One alert rule's drill.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRuleReport {
    pub alert: String,
    pub group: String,
    pub expr: String,
    pub for_ms: u64,
    pub outcome: AlertOutcome,
    /// The metric names its expression selects, and how many series each matched during
    /// the drill.
    pub selectors: Vec<SelectorSeen>,
    /// Why it is dead, or why it never fired (pending for less than its `for`, …).
    pub reason: String,
    /// Drill time (ms) of the fault the time to page counts from (null: no fault).
    pub from_ms: Option<f64>,
    /// Drill times (ms): the first sample that made the expression true, the evaluation
    /// that made it pending (Prometheus' activeAt), the first seen firing, the webhook's
    /// firing notification, the first seen resolved, the resolved notification.
    pub true_ms: Option<f64>,
    pub pending_ms: Option<f64>,
    pub firing_ms: Option<f64>,
    pub notified_ms: Option<f64>,
    pub resolved_ms: Option<f64>,
    pub resolved_notified_ms: Option<f64>,
    /// Fault -> firing notification (ms), the time to page.
    pub to_page_ms: Option<f64>,
    /// The time to page split: scrape, evaluation, `for`, group_wait and notification,
    /// each with its budget from the settings.
    pub steps: Vec<AlertStep>,
    /// Fired while no fault was in effect (e.g. during a planned switchover).
    pub noise: bool,
    /// Still firing `resolve_timeout_ms` after the drill recovered.
    pub stuck: bool,
}

/// How many series a selector of a rule matched during the drill.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectorSeen {
    pub selector: String,
    pub series: u64,
}

/// One step of the time to page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertStep {
    pub step: String,
    pub ms: Option<f64>,
    pub budget_ms: f64,
}

/// One notification the webhook received (or, with the users' Alertmanager, one alert it
/// was seen holding).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Notification {
    pub at_ms: f64,
    pub alert: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: std::collections::BTreeMap<String, String>,
}
