//! `replica-lag.jsonl.zst`: the replica-lag measurement's raw evidence, one JSON row per
//! line on the drill clock (docs/evidence.md). The checker judges from it alone, so
//! `drdrill report` can judge a drill again.
use crate::stack::EngineLag;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const FILE: &str = "replica-lag.jsonl.zst";

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// One row. `service` names the service in a drill of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LagRow {
    /// How the service's lag was measured; `reported_as` names the engine's own figure.
    Start {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        heartbeat_ms: u64,
        poll_ms: u64,
        engine_every_ms: u64,
        reported_as: String,
    },
    /// Heartbeat `seq` written on `node` (the primary then): invoked, and acknowledged at
    /// `ack_ns`; `ack_ns` is null when the write failed or timed out (`error`).
    Beat {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        seq: u64,
        node: String,
        invoke_ns: u64,
        ack_ns: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A read on replica `node`, sent at `sent_ns` and answered at `recv_ns`, showed
    /// heartbeat `seq`, newer than its previous successful read (sent at `after_ns`; null for
    /// the first read, which times nothing). Reads that show nothing new are not rows.
    Seen {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        node: String,
        seq: u64,
        after_ns: Option<u64>,
        sent_ns: u64,
        recv_ns: u64,
    },
    /// What the engine reported about replica `node` at `t_ns`, or why it could not tell.
    Engine {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        node: String,
        t_ns: u64,
        #[serde(flatten)]
        lag: EngineLag,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A replica's reads, written when the measurement stops: how many answered, how many
    /// failed, and the last one that answered (sent, answered, the heartbeat it showed).
    Polls {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        node: String,
        polls: u64,
        errors: u64,
        last_ok: Option<(u64, u64, u64)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
    },
}

impl LagRow {
    pub fn service(&self) -> Option<&str> {
        match self {
            LagRow::Start { service, .. }
            | LagRow::Beat { service, .. }
            | LagRow::Seen { service, .. }
            | LagRow::Engine { service, .. }
            | LagRow::Polls { service, .. } => service.as_deref(),
        }
    }
}

/// How long the writer thread lets rows gather before it writes them.
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// Where the monitors send their rows; a thread writes them (zstd, one frame).
#[derive(Clone)]
pub struct LagSink(std::sync::mpsc::Sender<LagRow>);

impl LagSink {
    pub fn send(&self, row: LagRow) {
        let _ = self.0.send(row);
    }
}

/// The writer thread of the drill's lag file.
pub struct LagFile(std::thread::JoinHandle<std::io::Result<u64>>);

impl LagFile {
    pub fn create(path: &Path) -> std::io::Result<(LagFile, LagSink)> {
        let file = std::fs::File::create(path)?;
        let (tx, rx) = std::sync::mpsc::channel::<LagRow>();
        let thread = std::thread::spawn(move || {
            let mut out = zstd::stream::write::Encoder::new(std::io::BufWriter::new(file), 3)?;
            let mut n = 0u64;
            // rows in batches, at most one wake-up per GATHER (not one per row: a heartbeat
            // every 10 ms read on two replicas makes about 300 a second)
            while let Ok(first) = rx.recv() {
                for row in std::iter::once(first).chain(rx.try_iter()) {
                    serde_json::to_writer(&mut out, &row)?;
                    out.write_all(b"\n")?;
                    n += 1;
                }
                std::thread::sleep(GATHER);
            }
            out.finish()?.flush()?;
            Ok(n)
        });
        Ok((LagFile(thread), LagSink(tx)))
    }

    /// Waits until every sink is dropped and the file is complete; the rows written.
    pub fn finish(self) -> std::io::Result<u64> {
        self.0.join().map_err(|_| std::io::Error::other("the replica-lag writer panicked"))?
    }
}

/// The rows of `service` (None: every row), in file order.
pub fn read(path: &Path, service: Option<&str>) -> std::io::Result<Vec<LagRow>> {
    let d = zstd::stream::read::Decoder::new(std::fs::File::open(path)?)?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(d).lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let row: LagRow = serde_json::from_str(&line).map_err(|e| std::io::Error::other(format!("{FILE} line {}: {e}", i + 1)))?;
        if service.is_none() || row.service() == service {
            rows.push(row);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let (file, sink) = LagFile::create(&path).unwrap();
        let rows = vec![
            LagRow::Beat { service: Some("pg".into()), seq: 1, node: "pg-1".into(), invoke_ns: 5, ack_ns: Some(9), error: None },
            LagRow::Seen { service: None, node: "pg-2".into(), seq: 1, after_ns: Some(3), sent_ns: 10, recv_ns: 12 },
            LagRow::Engine {
                service: None,
                node: "pg-2".into(),
                t_ns: 11,
                lag: EngineLag { reported_ms: None, behind_bytes: Some(0), position: Some("0/3000060".into()) },
                error: None,
            },
        ];
        for r in &rows {
            sink.send(r.clone());
        }
        drop(sink);
        assert_eq!(file.finish().unwrap(), 3);
        assert_eq!(read(&path, None).unwrap(), rows);
        assert_eq!(read(&path, Some("pg")).unwrap(), rows[..1]);
    }
}
