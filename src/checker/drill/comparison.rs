//! A run compared with earlier evidence of the same scenario, as results.json keeps it
//! (`comparison`): the checks baseline.rs makes, one per quantity.
use serde::{Deserialize, Serialize};

/// One quantity compared.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub quantity: String,
    pub baseline: Option<f64>,
    pub tolerance: Option<f64>,
    pub actual: Option<f64>,
    pub regression: bool,
    pub note: String,
    /// A timing quantity worse than the baseline while the host disturbed the run's RTO
    /// window: not a regression, undecided (its note says what disturbed it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undecided: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// The baseline runs' ids.
    pub baseline_runs: Vec<String>,
    pub checks: Vec<Check>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.regression)
    }
    pub fn regressed(&self) -> bool {
        self.regressions().next().is_some()
    }
    /// Some quantity was worse than the baseline on a disturbed run (and none on an
    /// undisturbed one counts as a regression).
    pub fn undecided(&self) -> bool {
        self.checks.iter().any(|c| c.undecided)
    }
}
