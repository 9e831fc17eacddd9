//! The drill judged as a whole, from everything it measured: the results every report
//! formats (results.json's shape), the four questions and their answers, every finding
//! with its evidence, the comparison with a baseline, and the words more than one place
//! says. The reporters and the suite only format what these return. Layers: the shapes
//! (questions, comparison, undecided, results) at the bottom, words above them, the
//! judgements (early, false_failover, perturbed, disturbed, findings, answers, baseline) on top.
mod answers;
mod baseline;
mod comparison;
mod disturbed;
mod early;
mod false_failover;
mod findings;
mod perturbed;
mod questions;
mod results;
mod undecided;
mod words;

pub use answers::answer as answer_questions;
pub use baseline::{compare as compare_with_baseline, last_run, load_baseline};
pub use comparison::{Check, Comparison};
pub use disturbed::{NOT_JUDGED, judge_disturbed, rto_window_disturbed, undecided_spread};
pub use findings::could_not_page;
pub use questions::{Alerting, Answer, FaultInjected, FaultPages, Figure, Finding, FindingKind, Measured, Page, Questions, Unexpected};
pub use results::{
    Interruption, IsolatedPrimary, NodeInfo, Results, SCHEMA_VERSION, StackInfo, SteadyStateReport, load_results, to_json_value,
};
pub use undecided::{Disturbance, Undecided};
pub use words::{held_text, ms_text, not_recovered_text, sides_text};

#[cfg(test)]
mod map_tests;

/// A complete Results for unit tests of the checker and the reporters.
#[cfg(test)]
pub(crate) mod sample;
