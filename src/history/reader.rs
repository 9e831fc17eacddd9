//! Reads a history back, streaming, for the checker and for tests: `history.jsonl.zst`
//! through a streaming zstd decoder, or a plain `history.jsonl` from older evidence.
use super::{Entry, Event, Op, Read};
use std::io::{BufRead, ErrorKind};
use std::path::Path;

/// Everything but the ops, which are streamed to a callback.
#[derive(Debug, Default)]
pub struct HistoryFile {
    pub scenario: String,
    pub run_id: String,
    pub wall_clock_anchor: String,
    /// The drill's services when it had several (empty: one service).
    pub services: Vec<String>,
    pub events: Vec<Event>,
    /// Every reader's reads (`workload.readers`), in file order: far fewer than the writes,
    /// and judged together, so kept whole.
    pub reads: Vec<Read>,
    /// The compressed file ends mid-frame (the drill crashed): every whole line before the
    /// cut was read, and nothing after it.
    pub truncated: bool,
}

/// How the recorder starts an op's line.
const OP_TAG: &[u8] = br#"{"type":"op","#;

/// Calls `on_op` for every op in file order; returns the header and events.
pub fn read_history(path: &Path, mut on_op: impl FnMut(Op)) -> std::io::Result<HistoryFile> {
    let mut h = HistoryFile::default();
    h.truncated = for_each_line(path, |i, line| {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        let bad = |e: serde_json::Error| std::io::Error::new(ErrorKind::InvalidData, format!("{}:{}: {e}", path.display(), i + 1));
        // nearly every line is an op, written with its tag first: read it as one directly
        // (a tagged enum is buffered field by field before it knows its variant)
        if line.starts_with(OP_TAG) {
            on_op(match super::encode::parse_op_line(line) {
                Some(op) => op,
                None => serde_json::from_slice(line).map_err(bad)?,
            });
            return Ok(());
        }
        match serde_json::from_slice(line).map_err(bad)? {
            Entry::Header { scenario, run_id, wall_clock_anchor, services } => {
                h.scenario = scenario;
                h.run_id = run_id;
                h.wall_clock_anchor = wall_clock_anchor;
                h.services = services;
            }
            Entry::Op(op) => on_op(op),
            Entry::Read(r) => h.reads.push(r),
            Entry::Event(e) => h.events.push(e),
        }
        Ok(())
    })?;
    Ok(h)
}

/// The whole (decompressed) text of a history; of a truncated one, every whole line.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let mut text = Vec::new();
    for_each_line(path, |_, line| {
        text.extend_from_slice(line);
        Ok(())
    })?;
    String::from_utf8(text).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// Calls `on_line` with the number and the bytes (newline included) of every line, decoding
/// a `.zst` file as it goes. Returns whether the file ended mid-frame; the partial line
/// decoded before such a cut is dropped. A plain file's last line may lack its newline.
fn for_each_line(path: &Path, mut on_line: impl FnMut(usize, &[u8]) -> std::io::Result<()>) -> std::io::Result<bool> {
    let file = std::fs::File::open(path)?;
    let zst = path.extension().is_some_and(|e| e == "zst");
    let mut input: Box<dyn BufRead> = match zst {
        true => Box::new(std::io::BufReader::with_capacity(1 << 16, zstd::stream::read::Decoder::new(file)?)),
        false => Box::new(std::io::BufReader::with_capacity(1 << 16, file)),
    };
    let mut line = Vec::with_capacity(512);
    for i in 0.. {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => on_line(i, &line)?,
            // the decoder reached the end of the file inside the frame
            Err(e) if zst && e.kind() == ErrorKind::UnexpectedEof => return Ok(true),
            Err(e) if zst => return Err(std::io::Error::new(ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
