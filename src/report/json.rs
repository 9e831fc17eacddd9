//! Writes results.json into the evidence folder when the drill is judged.
use super::{DrillEvent, Reporter};
use crate::error::{Error, Result};
use std::path::PathBuf;

pub struct JsonReporter {
    pub path: PathBuf,
}

impl Reporter for JsonReporter {
    fn on(&mut self, event: &DrillEvent<'_>) -> Result<()> {
        if let DrillEvent::Finished(results) = event {
            let text = serde_json::to_string_pretty(results).expect("results serialise");
            std::fs::write(&self.path, text + "\n")
                .map_err(|e| Error::infra(format!("failed to write {}", self.path.display())).cause(e))?;
        }
        Ok(())
    }
}
