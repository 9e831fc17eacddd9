//! One history line per entry, as serde_json writes it. Ops, nearly every line, are written
//! by hand (integers with itoa, strings escaped by serde_json) with no allocation per op.
use super::{Entry, Op, Outcome};

/// Appends `e` and a newline to `buf`.
pub(super) fn line(buf: &mut Vec<u8>, e: &Entry) -> std::io::Result<()> {
    match e {
        Entry::Op(op) => op_line(buf, op),
        _ => serde_json::to_writer(&mut *buf, e)?,
    }
    buf.push(b'\n');
    Ok(())
}

/// Byte for byte what `serde_json::to_writer(buf, &Entry::Op(op))` writes.
fn op_line(buf: &mut Vec<u8>, op: &Op) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(b"{\"type\":\"op\",\"writer\":");
    buf.extend_from_slice(n.format(op.writer).as_bytes());
    buf.extend_from_slice(b",\"seq\":");
    buf.extend_from_slice(n.format(op.seq).as_bytes());
    buf.extend_from_slice(b",\"invoke_ns\":");
    buf.extend_from_slice(n.format(op.invoke_ns).as_bytes());
    buf.extend_from_slice(b",\"complete_ns\":");
    buf.extend_from_slice(n.format(op.complete_ns).as_bytes());
    buf.extend_from_slice(match op.outcome {
        Outcome::Ok => b",\"outcome\":\"ok\"",
        Outcome::Fail => b",\"outcome\":\"fail\"",
        Outcome::Unknown => b",\"outcome\":\"unknown\"",
    });
    if let Some(node) = &op.node {
        buf.extend_from_slice(b",\"node\":");
        string(buf, node);
    }
    if let Some(error) = &op.error {
        buf.extend_from_slice(b",\"error\":");
        string(buf, error);
    }
    buf.push(b'}');
}

/// A JSON string, quoted and escaped by serde_json.
fn string(buf: &mut Vec<u8>, s: &str) {
    // writing a str to a Vec cannot fail
    serde_json::to_writer(&mut *buf, s).expect("a string serializes into a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(writer: u32, seq: u64, outcome: Outcome, node: Option<&str>, error: Option<&str>) -> Op {
        let (node, error) = (node.map(str::to_string), error.map(str::to_string));
        let invoke_ns = seq.wrapping_mul(1_000_003);
        Op { writer, seq, invoke_ns, complete_ns: invoke_ns.wrapping_add(417_001), outcome, node, error }
    }

    #[test]
    fn op_lines_are_what_serde_json_writes() {
        let errors = [
            None,
            Some(""),
            Some("connection refused"),
            Some("ERR \"quoted\" reply"),
            Some(r"C:\path\with\backslashes"),
            Some("two\nlines\r\nand a\ttab"),
            Some("unicode: é ü 漢字 🦀"),
            Some("control \u{0} \u{1} \u{8} \u{c} \u{1b} \u{1f} \u{7f} end"),
            Some("</script> \u{2028} \u{2029} \u{fffd}"),
        ];
        let nodes = [None, Some("redis-1"), Some("pg \"odd\"\\name\n")];
        let ints = [(0, 0), (1, 1), (u32::MAX, u64::MAX), (7, 9_999_999_999)];
        let mut checked = 0;
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Unknown] {
            for node in nodes {
                for error in errors {
                    for (writer, seq) in ints {
                        let mut o = op(writer, seq, outcome, node, error);
                        if seq == u64::MAX {
                            (o.invoke_ns, o.complete_ns) = (u64::MAX, 0);
                        }
                        let e = Entry::Op(o);
                        let mut want = serde_json::to_vec(&e).unwrap();
                        want.push(b'\n');
                        let mut got = Vec::new();
                        line(&mut got, &e).unwrap();
                        assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 3 * 9 * 4);
    }

    #[test]
    fn lines_append_to_what_is_buffered() {
        let mut buf = b"before\n".to_vec();
        line(&mut buf, &Entry::Op(op(3, 4, Outcome::Ok, Some("pg-1"), None))).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "before\n{\"type\":\"op\",\"writer\":3,\"seq\":4,\"invoke_ns\":4000012,\"complete_ns\":4417013,\"outcome\":\"ok\",\"node\":\"pg-1\"}\n"
        );
    }
}
