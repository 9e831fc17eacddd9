//! One history line per entry, as serde_json writes it. Ops, nearly every line, are written
//! by hand (integers with itoa, strings escaped by serde_json) with no allocation per op.
use super::{Entry, Op, Outcome, Service};

/// Appends `e` and a newline to `buf`.
pub(super) fn line(buf: &mut Vec<u8>, e: &Entry) -> std::io::Result<()> {
    match e {
        // a change op (`workload.changes`, rare) as serde_json writes it
        Entry::Op(op) if op.change.is_none() => op_line(buf, op),
        _ => serde_json::to_writer(&mut *buf, e)?,
    }
    buf.push(b'\n');
    Ok(())
}

/// Byte for byte what `serde_json::to_writer(buf, &Entry::Op(op))` writes.
fn op_line(buf: &mut Vec<u8>, op: &Op) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(b"{\"type\":\"op\",");
    if let Some(s) = &op.service {
        buf.extend_from_slice(b"\"service\":");
        string(buf, s);
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"writer\":");
    buf.extend_from_slice(n.format(op.writer).as_bytes());
    buf.extend_from_slice(b",\"seq\":");
    buf.extend_from_slice(n.format(op.seq).as_bytes());
    if let Some(key) = op.key {
        buf.extend_from_slice(b",\"key\":");
        buf.extend_from_slice(n.format(key).as_bytes());
    }
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

/// The inverse of `op_line` for the lines it writes whose strings need no escape, which
/// is nearly every op: the same `Op` serde_json would read, without its generic machinery.
/// Anything else (another field order, an escape, a number JSON would refuse) is `None`,
/// and the caller reads the line with serde_json, which also reports what is wrong.
pub(super) fn parse_op_line(line: &[u8]) -> Option<Op> {
    let mut p = Cursor(line);
    p.tag(b"{\"type\":\"op\",")?;
    let service = p.optional_string(b"\"service\":")?.map(Service::from);
    if service.is_some() {
        p.tag(b",")?;
    }
    p.tag(b"\"writer\":")?;
    let writer = u32::try_from(p.number()?).ok()?;
    p.tag(b",\"seq\":")?;
    let seq = p.number()?;
    let key = match p.tag(b",\"key\":") {
        Some(()) => Some(u32::try_from(p.number()?).ok()?),
        None => None,
    };
    p.tag(b",\"invoke_ns\":")?;
    let invoke_ns = p.number()?;
    p.tag(b",\"complete_ns\":")?;
    let complete_ns = p.number()?;
    p.tag(b",\"outcome\":\"")?;
    let outcome = if p.tag(b"ok\"").is_some() {
        Outcome::Ok
    } else if p.tag(b"fail\"").is_some() {
        Outcome::Fail
    } else {
        p.tag(b"unknown\"")?;
        Outcome::Unknown
    };
    let node = p.optional_string(b",\"node\":")?;
    let error = p.optional_string(b",\"error\":")?;
    p.tag(b"}")?;
    p.0.is_empty().then_some(Op {
        service,
        writer,
        seq,
        key,
        change: None,
        invoke_ns,
        complete_ns,
        outcome,
        node: node.map(Into::into),
        error,
    })
}

/// What is left of a line being read.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn tag(&mut self, t: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(t)?;
        Some(())
    }

    /// An unsigned integer as JSON writes it (no sign, no leading zero) that fits a u64.
    fn number(&mut self) -> Option<u64> {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at(n);
        if n == 0 || (n > 1 && digits[0] == b'0') {
            return None;
        }
        let v = digits.iter().try_fold(0u64, |v, d| v.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
        self.0 = rest;
        Some(v)
    }

    /// `key` and its string, or nothing when the line does not go on with `key`.
    fn optional_string(&mut self, key: &[u8]) -> Option<Option<String>> {
        if self.tag(key).is_none() {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A quoted string without escapes or control characters.
    fn string(&mut self) -> Option<String> {
        let rest = self.0.strip_prefix(b"\"")?;
        let end = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[end] != b'"' {
            return None;
        }
        let s = std::str::from_utf8(&rest[..end]).ok()?.to_string();
        self.0 = &rest[end + 1..];
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(writer: u32, seq: u64, outcome: Outcome, node: Option<&str>, error: Option<&str>) -> Op {
        let (node, error) = (node.map(str::to_string), error.map(str::to_string));
        let invoke_ns = seq.wrapping_mul(1_000_003);
        Op {
            service: None,
            writer,
            seq,
            key: None,
            change: None,
            invoke_ns,
            complete_ns: invoke_ns.wrapping_add(417_001),
            outcome,
            node: node.map(Into::into),
            error,
        }
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
        let services = [None, Some("pg"), Some("odd \"svc\"")];
        let (mut checked, mut fast) = (0, 0);
        for (outcome, service) in [Outcome::Ok, Outcome::Fail, Outcome::Unknown].into_iter().zip(services) {
            for node in nodes {
                for error in errors {
                    for (writer, seq) in ints {
                        let mut o = op(writer, seq, outcome, node, error);
                        o.service = service.map(Service::from);
                        if seq == u64::MAX {
                            (o.invoke_ns, o.complete_ns) = (u64::MAX, 0);
                        }
                        let e = Entry::Op(o);
                        let mut want = serde_json::to_vec(&e).unwrap();
                        want.push(b'\n');
                        let mut got = Vec::new();
                        line(&mut got, &e).unwrap();
                        assert_eq!(String::from_utf8(got.clone()).unwrap(), String::from_utf8(want).unwrap());
                        let body = &got[..got.len() - 1];
                        let Entry::Op(o) = e else { unreachable!() };
                        match parse_op_line(body) {
                            Some(read) => assert_eq!(read, o, "{}", String::from_utf8_lossy(body)),
                            // only strings that need an escape are left to serde_json
                            None => assert!(body.contains(&b'\\'), "{}", String::from_utf8_lossy(body)),
                        }
                        fast += usize::from(parse_op_line(body).is_some());
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 3 * 9 * 4);
        // every line whose service (2 of 3), node (2 of 3) and error (5 of 9) need no escape
        assert_eq!(fast, 2 * 2 * 5 * 4, "the direct reader took {fast} of {checked} lines");
    }

    #[test]
    fn lines_json_would_refuse_or_that_are_laid_out_otherwise_are_left_to_serde_json() {
        let good = br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok","node":"pg-1"}"#;
        assert!(parse_op_line(good).is_some());
        let tagged = br#"{"type":"op","service":"pg","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#;
        assert_eq!(parse_op_line(tagged).and_then(|o| o.service).as_deref(), Some("pg"));
        for bad in [
            &br#"{"type":"op","writer":01,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#[..],
            br#"{"type":"op","writer":4294967296,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            br#"{"type":"op","writer":1,"seq":18446744073709551616,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            br#"{"type":"op","writer":1,"seq":-2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"maybe"}"#,
            br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"} "#,
            br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok","node":"a	b"}"#,
            br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok","node":"a"#,
            br#"{"type":"op","seq":2,"writer":1,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            br#"{"type":"op","writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok","error":"e","node":"n"}"#,
            br#"{"type":"op","service":"pg""writer":1,"seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            br#"{"type":"op","writer":1,"service":"pg","seq":2,"invoke_ns":3,"complete_ns":4,"outcome":"ok"}"#,
            b"{\"type\":\"op\",\"writer\":1,\"seq\":2,\"invoke_ns\":3,\"complete_ns\":4,\"outcome\":\"ok\",\"node\":\"\xff\"}",
        ] {
            assert_eq!(parse_op_line(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_change_op_is_written_and_read_as_serde_json_has_it() {
        for change in [crate::history::Change::Delete { of: 7 }, crate::history::Change::Rewrite { of: 7, rev: 3, created: true }] {
            let e = Entry::Op(Op { change: Some(change), ..op(3, 9, Outcome::Ok, Some("files-1"), None) });
            let mut got = Vec::new();
            line(&mut got, &e).unwrap();
            let mut want = serde_json::to_vec(&e).unwrap();
            want.push(b'\n');
            assert_eq!(got, want);
            let body = &got[..got.len() - 1];
            assert_eq!(parse_op_line(body), None, "left to serde_json: {}", String::from_utf8_lossy(body));
            let Entry::Op(read) = serde_json::from_slice::<Entry>(body).unwrap() else { panic!("an op") };
            assert_eq!(read.change, Some(change));
        }
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
