//! Reads history.jsonl back, streaming, for the checker and for tests.
use super::{Entry, Event, Op};
use std::io::BufRead;
use std::path::Path;

/// Everything but the ops, which are streamed to a callback.
#[derive(Debug, Default)]
pub struct HistoryFile {
    pub scenario: String,
    pub run_id: String,
    pub wall_clock_anchor: String,
    pub events: Vec<Event>,
}

/// Calls `on_op` for every op in file order; returns the header and events.
pub fn read_history(path: &Path, mut on_op: impl FnMut(Op)) -> std::io::Result<HistoryFile> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut h = HistoryFile::default();
    for (i, line) in f.lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}:{}: {e}", path.display(), i + 1)))?;
        match entry {
            Entry::Header { scenario, run_id, wall_clock_anchor } => {
                h.scenario = scenario;
                h.run_id = run_id;
                h.wall_clock_anchor = wall_clock_anchor;
            }
            Entry::Op(op) => on_op(op),
            Entry::Event(e) => h.events.push(e),
        }
    }
    Ok(h)
}
