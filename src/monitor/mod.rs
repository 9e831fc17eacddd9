//! Did the pager fire? The drill's monitoring (Prometheus, Alertmanager and an exporter
//! next to every node, from `docker/monitoring`), or the users' own (external drills),
//! watched while the drill runs: every alert rule of the users' rules file measured for
//! whether it can match anything at all, and when it went pending, firing, notified and
//! resolved; the time to page split like the RTO, each step beside its budget.
//! - `deploy.rs`: the containers and their configuration (`exporter_files.rs`: the files
//!   an exporter reads, mounted read-only);
//! - `webhook.rs`: the receiver Alertmanager notifies, in-process on 127.0.0.1;
//! - `watch.rs`: Prometheus' and Alertmanager's HTTP APIs polled on the drill's clock;
//! - `queries.rs`: what Prometheus is asked once the drill is over;
//! - `judge.rs`: what each rule did;
//! - `drill.rs`: the drill's monitoring from start to report;
//! - `targets.rs`: `targets.alerts` and `targets.no_alert` judged on the report.
//!
//! The rules file is read with the scenario (`scenario::alert_rules`).
mod config;
mod cuts;
mod deploy;
mod drill;
mod exporter_files;
mod external;
mod http;
mod judge;
mod placed;
mod queries;
mod receiver;
mod watch;
mod webhook;

pub use deploy::Plan;
pub use deploy::{IMAGE, Target, container_nodes, witness_sites};
pub use drill::Monitor;
pub use http::Http;
pub use judge::FaultAt;
use serde::{Deserialize, Serialize};
pub use webhook::Webhook;

/// What the drill's monitoring found (results.json `alerts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsReport {
    /// `drill` (drdrill started it) or `users` (the users' own, watched read-only during an
    /// external drill).
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
    /// What could not be read of the users' own configuration (their defaults assumed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Exporters Prometheus could not scrape after the fault (`up == 0`): their metrics
    /// vanish instead of reporting the outage.
    pub scrapes_failed: Vec<ScrapeFailed>,
    /// The sites the monitoring stood in (`monitoring.site` / `sites`); empty when it
    /// was not placed in sites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placed_in: Vec<String>,
    /// Each time a site it stood in was cut off or killed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dark_sites: Vec<DarkSite>,
    /// The stretches (drill ms, from and to) when every site it stood in was dark at once:
    /// no page could leave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub could_not_page: Vec<(f64, f64)>,
    /// When nothing could page: each rule a witness Prometheus in another site (the same
    /// rules, paging nobody) had firing while nothing could, first for each instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_have_paged: Vec<WitnessFiring>,
    /// How often the APIs were polled (ms), and how many polls were made and failed.
    pub poll_ms: u64,
    pub polls: u64,
    pub failed_polls: u64,
    /// Pages for a node that was answering the clients from when the alert fired to when
    /// the page arrived (`false_pages.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub false_pages: Vec<FalsePage>,
}

impl AlertsReport {
    pub fn rule(&self, alert: &str) -> Option<&AlertRuleReport> {
        self.rules.iter().find(|r| r.alert == alert)
    }
    /// The stretch when nothing could page that held back an alert which fired at
    /// `fired_ms` (inside it) and reached the receiver at `arrived_ms` (once it ended, the
    /// drill's heal): no page a real outage of that length would have given.
    pub fn held_back(&self, fired_ms: f64, arrived_ms: f64) -> Option<(f64, f64)> {
        self.could_not_page.iter().copied().find(|(from, to)| *from <= arrived_ms && fired_ms < *to && arrived_ms >= *to)
    }
    /// Every dead rule: the drill-wide target that every rule matches a series.
    pub fn dead(&self) -> Vec<&AlertRuleReport> {
        self.rules.iter().filter(|r| r.outcome == AlertOutcome::Dead).collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimingSettings {
    pub scrape_interval_ms: u64,
    pub evaluation_interval_ms: u64,
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub settle_ms: u64,
}

impl From<crate::scenario::Timing> for TimingSettings {
    fn from(t: crate::scenario::Timing) -> Self {
        TimingSettings {
            scrape_interval_ms: t.scrape_interval_ms,
            evaluation_interval_ms: t.evaluation_interval_ms,
            group_wait_ms: t.group_wait_ms,
            group_interval_ms: t.group_interval_ms,
            settle_ms: t.settle_ms,
        }
    }
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
    /// The `instance` labels of its alerts (the nodes it fired for).
    pub instances: Vec<String>,
    /// Fired while no fault was in effect (e.g. during a planned switchover).
    pub noise: bool,
    /// Still firing well after the drill recovered (scrape + evaluation interval + 5 s),
    /// though its expression no longer returns a series: it should have resolved.
    pub stuck: bool,
    /// Still firing well after the recovery because its condition still holds: each series
    /// its expression returned when the watch ended (`instance = value`). A true alert the
    /// drill left behind (a new primary without a replica), not a stuck one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub still_true: Vec<String>,
    /// Its pages for a node that was answering the clients all along (`AlertsReport::false_pages`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub false_pages: usize,
}

/// A site the monitoring stood in, dark: cut off (`isolate_site`, until its heal) or
/// killed (`kill_site`, for good).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DarkSite {
    pub site: String,
    pub from_ms: f64,
    /// null: still dark when the drill ended.
    pub to_ms: Option<f64>,
    pub killed: bool,
}

/// A rule firing on a witness Prometheus (`monitoring.site` with other sites): what would
/// have paged from `site` had the monitoring stood there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WitnessFiring {
    pub site: String,
    pub alert: String,
    pub instance: String,
    /// When that Prometheus first had it firing (drill ms, to its evaluation step).
    pub firing_ms: f64,
}

/// An exporter Prometheus could not scrape (`up == 0`), from and to (drill ms).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScrapeFailed {
    pub job: String,
    pub instance: String,
    pub from_ms: f64,
    pub to_ms: f64,
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

/// A page for a node that never went down: the alert, the node, when it fired and was
/// delivered, and the node's answers to the clients over that stretch (drill ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FalsePage {
    pub alert: String,
    pub instance: String,
    pub fired_ms: f64,
    pub notified_ms: f64,
    pub answered_from_ms: f64,
    pub answered_to_ms: f64,
    pub acks: u64,
    pub max_gap_ms: f64,
    /// It was promoted in the stretch (it answered the promotion), and took the clients after.
    pub promoted_ms: Option<f64>,
    /// The page came after the workload stopped: the node answered the clients until then,
    /// and drdrill's read-back after it.
    pub read_back_after: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    /// Prometheus' own time it fired (`startsAt`), on the drill's clock.
    pub starts_ms: Option<f64>,
    pub labels: std::collections::BTreeMap<String, String>,
}
