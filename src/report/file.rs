//! Reporters that render the judged results into one file of the evidence folder:
//! results.json, junit.xml, report.md differ only in their renderer.
use super::{DrillEvent, Reporter, Results};
use crate::error::{Error, Result};
use std::path::PathBuf;

pub struct FileReporter {
    path: PathBuf,
    render: fn(&Results) -> String,
}

impl FileReporter {
    pub fn new(path: PathBuf, render: fn(&Results) -> String) -> Self {
        FileReporter { path, render }
    }
}

/// results.json: the documented schema, pretty-printed.
pub fn results_json(r: &Results) -> String {
    serde_json::to_string_pretty(&crate::checker::to_json_value(r)).expect("results serialise") + "\n"
}

impl Reporter for FileReporter {
    fn on(&mut self, event: &DrillEvent<'_>) -> Result<()> {
        if let DrillEvent::Finished(results) = event {
            std::fs::write(&self.path, (self.render)(results))
                .map_err(|e| Error::infra(format!("failed to write {}", self.path.display())).cause(e))?;
        }
        Ok(())
    }
}
