//! What an undecided target is: a timing target missed while the host disturbed the window
//! it measures (results.json `undecided`). Judged in `disturbed.rs`.
use crate::checker::Target;
use serde::{Deserialize, Serialize};

/// One timing target the drill could not judge, the window it measures and what disturbed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Undecided {
    /// The service whose target it is (empty: a drill-wide target).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    pub target: Target,
    /// What the target measures over: `RTO window`, `read RTO window`, `the workload`.
    pub window: String,
    pub from_ms: f64,
    pub to_ms: f64,
    /// What disturbed it inside that window.
    pub disturbed: Vec<Disturbance>,
}

/// A stretch the host or drdrill itself disturbed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disturbance {
    /// `host saturated`, `disk stalled` or `clients late`.
    pub what: String,
    pub from_ms: f64,
    pub to_ms: f64,
    /// How it was measured: `every core 99 % busy on average (/proc/stat)`.
    pub measured: String,
}

fn secs(ms: f64) -> String {
    format!("{:.1}", ms / 1000.0)
}

impl Disturbance {
    /// `host saturated t=16.5–18.3 s (every core 99 % busy on average, /proc/stat)`.
    pub fn text(&self) -> String {
        format!("{} t={}–{} s ({})", self.what, secs(self.from_ms), secs(self.to_ms), self.measured)
    }
}

impl Undecided {
    /// `host saturated t=16.5–18.3 s (…) over the RTO window t=15.0–19.0 s`.
    pub fn reason(&self) -> String {
        let by: Vec<String> = self.disturbed.iter().map(Disturbance::text).collect();
        format!("{} over the {} t={}–{} s", by.join("; "), self.window, secs(self.from_ms), secs(self.to_ms))
    }

    /// `rto_ms undecided: ` and the reason (prefixed `pg: ` for a service of several).
    pub fn text(&self) -> String {
        let who = if self.service.is_empty() { String::new() } else { format!("{}: ", self.service) };
        format!("{who}{} undecided: {}", self.target.name(), self.reason())
    }
}
