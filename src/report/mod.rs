//! Reporters fed by one stream of drill events. Each reporter consumes the same events;
//! none calls another. The files stand in layers, each importing only those below it:
//! the results (results.rs, with comparison.rs and questions.rs) and the shared
//! formatting and row types (format.rs: `Fact`, `Grid`) at the bottom; the sections every
//! report shows, each computing its rows once (measured, alerts, lag, restore, shards,
//! groups, refusals, multi_active, replication, questions_text, keyspace, site_gaps,
//! timeline, figures) above them; the reporters (terminal, markdown, html, junit) above the
//! sections; evidence.rs, which writes every report, on top.
mod alerts;
mod buckets;
mod claims;
mod evidence;
mod figures;
mod file;
mod format;
mod groups;
mod holders;
mod html;
mod junit;
mod keyspace;
mod labels;
mod lag;
mod markdown;
mod measured;
mod metrics;
mod multi_active;
mod palette;
mod phases;
mod questions_text;
mod read_lane;
mod reads;
mod refusals;
mod replication;
mod restore;
mod shards;
mod site_gaps;
mod terminal;
mod timeline;

use crate::checker::Results;
pub use evidence::{MANIFEST, finish_evidence, rerender, verify};
pub use file::{FileReporter, results_json};
pub use junit::{esc as xml_escape, junit_suite, junit_suites, junit_wrap, junit_xml};
pub use markdown::markdown;
pub use metrics::{metrics_text, push as push_metrics, write_atomically};
pub use terminal::{LIVE_LINE, TerminalReporter, scorecard};

/// What happens during a drill, as reporters see it.
#[derive(Debug)]
pub enum DrillEvent<'a> {
    /// A phase begins ("starting stack", "reading back", …).
    Phase(&'a str),
    /// A detail inside the current phase.
    Info(&'a str),
    /// A fault, heal or failover step, with its drill time.
    Step { t_ms: f64, text: &'a str },
    /// The drill is judged.
    Finished(&'a Results),
}

pub trait Reporter: Send {
    fn on(&mut self, event: &DrillEvent<'_>) -> crate::error::Result<()>;
}

/// Fans one event out to every reporter.
#[derive(Default)]
pub struct Reporters(pub Vec<Box<dyn Reporter>>);

impl Reporters {
    pub fn emit(&mut self, event: DrillEvent<'_>) -> crate::error::Result<()> {
        for r in &mut self.0 {
            r.on(&event)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod parity_tests;
#[cfg(test)]
mod questions_tests;
#[cfg(test)]
mod tests;

/// A complete Results for other modules' unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    pub fn results() -> crate::checker::Results {
        crate::checker::sample::sample()
    }

    /// A diverged key explained as a tie, with one node's side.
    pub fn tie_key(key: u64) -> crate::checker::DivergedKey {
        crate::checker::DivergedKey {
            key,
            held: vec![crate::checker::Held {
                node: "pgl-1".into(),
                writer: Some(1),
                seq: Some(2),
                site: Some("dc1".into()),
                invoked_ms: Some(1.0),
                completed_ms: Some(2.0),
                committed: Some("2026-11-26 07:18:33.011808+00".into()),
                origin: Some("pgl-2".into()),
            }],
            cause: crate::checker::Cause::Tie,
            why: "writer 1 seq 2 and writer 2 seq 7 were committed at the same instant".into(),
        }
    }
}
