//! What is checked before the YAML deserializer sees a file: its size, its encoding, how
//! deeply it nests, and YAML features a scenario has no use for (tags, aliases). Each is
//! refused in milliseconds with `file:line:col`, whatever the input: a 200 KB file of
//! nested brackets once took the deserializer 42 s to refuse.
use crate::error::{Error, Result};
use yaml_rust2::parser::{Event, Parser};

/// Largest scenario file read (the shipped ones are 1-3 KB).
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest nesting of mappings and sequences (the format itself needs 5).
pub const MAX_DEPTH: usize = 32;

fn refuse(file: &str, line: usize, col: usize, what: impl std::fmt::Display) -> Error {
    refuse_as("scenario", file, line, col, what)
}

/// `invalid rules file f:1:1: …` (`kind`: what the file is), with the scenario's hint for a scenario.
fn refuse_as(kind: &str, file: &str, line: usize, col: usize, what: impl std::fmt::Display) -> Error {
    let e = Error::scenario(format!("invalid {kind} {file}:{line}:{col}: {what}"));
    match kind {
        "scenario" => e.hint("`drdrill schema` prints the format; docs/scenarios.md explains every field"),
        _ => e,
    }
}

/// A YAML file's text (a scenario, `kind` "scenario", or a rules file): its size checked
/// before it is read, then decoded as `decode_as` does; `failed` words a read that failed.
pub fn read_as(kind: &str, path: &std::path::Path, failed: impl Fn(std::io::Error) -> Error) -> Result<String> {
    let file = path.display().to_string();
    let size = std::fs::metadata(path).map_err(&failed)?.len();
    if size > MAX_BYTES as u64 {
        return Err(refuse_as(kind, &file, 1, 1, format!("the file is {size} bytes; a {kind} may be at most {MAX_BYTES}")));
    }
    decode_as(kind, &file, std::fs::read(path).map_err(&failed)?)
}

/// The scenario's text: at most `MAX_BYTES`, valid UTF-8 (else where the first bad byte is).
#[cfg(test)]
fn decode(file: &str, bytes: Vec<u8>) -> Result<String> {
    decode_as("scenario", file, bytes)
}

/// A YAML file's text: at most `MAX_BYTES`, valid UTF-8 (else where the first bad byte
/// is), no control character YAML refuses.
pub fn decode_as(kind: &str, file: &str, bytes: Vec<u8>) -> Result<String> {
    if bytes.len() > MAX_BYTES {
        return Err(refuse_as(kind, file, 1, 1, format!("the file is {} bytes; a {kind} may be at most {MAX_BYTES}", bytes.len())));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (line, col) = line_col(&String::from_utf8_lossy(&e.as_bytes()[..at]), at);
        refuse_as(kind, file, line, col, format!("not UTF-8: invalid byte 0x{:02x} at byte offset {at}", e.as_bytes()[at]))
    })?;
    control_characters(kind, file, &text)?;
    Ok(text)
}

/// YAML allows no control character but tab, line feed, carriage return and NEL.
pub fn no_control_characters(file: &str, text: &str) -> Result<()> {
    control_characters("scenario", file, text)
}

fn control_characters(kind: &str, file: &str, text: &str) -> Result<()> {
    match text.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}')) {
        Some((at, c)) => {
            let (line, col) = line_col(text, at);
            Err(refuse_as(kind, file, line, col, format!("control character U+{:04X} at byte offset {at}", c as u32)))
        }
        None => Ok(()),
    }
}

/// An open mapping or sequence while the events are walked: a mapping's keys so far (with
/// where each stands), and whether its next node is a key.
enum Open {
    Map { keys: std::collections::HashMap<String, (usize, usize)>, at_key: bool },
    Seq,
}

/// The key a node is, when it is one: the open mapping's next node (and the mapping now
/// waits for its value); None for a value or a sequence's item.
fn key_of<'a>(open: &'a mut [Open], node: &Event) -> Option<&'a mut std::collections::HashMap<String, (usize, usize)>> {
    let Some(Open::Map { keys, at_key }) = open.last_mut() else { return None };
    let is_key = *at_key;
    *at_key = !is_key;
    (is_key && matches!(node, Event::Scalar(..))).then_some(keys)
}

/// Walks the YAML events once: nesting deeper than `MAX_DEPTH`, any tag (`!evil`), any
/// alias (`*name`) and any key written twice in one mapping (block or flow: `{target: a,
/// target: b}` would keep the last silently) are refused where they stand. A syntax
/// error is left to the deserializer, which words it in the scenario's own terms.
pub fn check(file: &str, src: &str) -> Result<()> {
    let mut parser = Parser::new_from_str(src);
    let mut open: Vec<Open> = Vec::new();
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(e) => e,
            // the scanner's own nesting limit: as deep as we refuse, and sooner
            Err(e) if e.info().contains("recursion") => {
                let m = e.marker();
                return Err(refuse(file, m.line(), m.col() + 1, format!("nested more than {MAX_DEPTH} levels deep")));
            }
            Err(_) => return Ok(()),
        };
        let (line, col) = (mark.line(), mark.col() + 1);
        if matches!(event, Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..) | Event::Alias(_))
            && let Some(keys) = key_of(&mut open, &event)
            && let Event::Scalar(key, ..) = &event
            && let Some((l, c)) = keys.insert(key.clone(), (line, col))
        {
            return Err(refuse(file, line, col, format!("the key `{key}` twice in one mapping (first at {l}:{c}): give each key once")));
        }
        match &event {
            Event::MappingStart(..) => open.push(Open::Map { keys: Default::default(), at_key: true }),
            Event::SequenceStart(..) => open.push(Open::Seq),
            Event::MappingEnd | Event::SequenceEnd => drop(open.pop()),
            _ => {}
        }
        let tag = match &event {
            Event::StreamEnd => return Ok(()),
            Event::Alias(_) => {
                return Err(refuse(file, line, col, "aliases (`*name`) are not supported in scenarios; write the value out"));
            }
            Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => {
                // the mappings and sequences open, this one included: the depth
                if open.len() > MAX_DEPTH {
                    return Err(refuse(file, line, col, format!("nested more than {MAX_DEPTH} levels deep")));
                }
                tag.clone()
            }
            Event::Scalar(_, _, _, tag) => tag.clone(),
            _ => None,
        };
        if let Some(t) = tag {
            // the event stands at the value; the tag was written just before it
            let text = format!("{}{}", t.handle, t.suffix);
            let at = src[..mark.index().min(src.len())].rfind(text.as_str()).unwrap_or(mark.index().min(src.len()));
            let (line, col) = line_col(src, at);
            return Err(refuse(file, line, col, format!("YAML tags (`{text}`) are not supported in scenarios; expected a plain value")));
        }
    }
}

/// 1-based line and column of byte `at`.
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        check("s.yaml", src).unwrap_err().to_string()
    }

    #[test]
    fn tags_are_refused_where_they_stand_but_not_inside_strings_or_comments() {
        assert!(
            err("name: t\nworkload:\n  writers: !evil 4\n").contains("s.yaml:3:12: YAML tags (`!evil`)"),
            "{}",
            err("name: t\nworkload:\n  writers: !evil 4\n")
        );
        check("s.yaml", "description: \"no !tag here\" # nor !here\nname: 'it''s !fine'\nnote: wow!\n").unwrap();
    }

    #[test]
    fn deep_nesting_and_aliases_are_refused_at_once() {
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(err(&deep).contains("nested more than 32 levels deep"));
        assert!(started.elapsed().as_secs_f64() < 1.0);
        let laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
        assert!(err(laughs).contains("s.yaml:2:8: aliases"), "{}", err(laughs));
    }

    #[test]
    fn a_key_twice_in_one_mapping_is_refused_at_the_second_block_or_flow() {
        let e = err("targets:\n  availability: {target: 99.9%, target: 50%}\n");
        assert!(e.contains("s.yaml:2:33: the key `target` twice in one mapping (first at 2:18)"), "{e}");
        let e = err("stack:\n  sites: {dc1: [pg-1], dc2: [pg-2], dc2: [pg-3]}\n");
        assert!(e.contains("s.yaml:2:37: the key `dc2` twice in one mapping (first at 2:24)"), "{e}");
        let e = err("stack:\n  kind: postgres\n  replicas: 2\n  replicas: 3\n");
        assert!(e.contains("s.yaml:4:3: the key `replicas` twice in one mapping (first at 3:3)"), "{e}");
        // the same key in two mappings, in a list's items, or as a value: no duplicate
        check("s.yaml", "a: {x: 1}\nb: {x: 1}\nc:\n  - {x: 1}\n  - {x: 2}\nd: x\nx: d\ne: [x, x]\n").unwrap();
        check("s.yaml", "a:\n  b:\n    c: 1\n  c: 2\nb: {c: {c: 1}}\n").unwrap();
    }

    #[test]
    fn bytes_are_checked_before_parsing() {
        let e = decode("s.yaml", b"name: t\nstack:\n  kind: \xffpostgres\n".to_vec()).unwrap_err().to_string();
        assert!(e.contains("s.yaml:3:9: not UTF-8: invalid byte 0xff at byte offset 23"), "{e}");
        let e = decode("s.yaml", vec![b'#'; MAX_BYTES + 1]).unwrap_err().to_string();
        assert!(e.contains("a scenario may be at most"), "{e}");
    }
}
