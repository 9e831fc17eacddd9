//! serde's messages in the scenario's words. A number the key's Rust type cannot hold
//! (`masters: 10000` into a u8, a negative `group_wait_ms` into a u64) is refused by the
//! deserializer before any bound is checked, and serde names the type ("expected u8");
//! the user wrote a key with a documented range, so the message names the key and that
//! range, in the words the bounds table's own checks use (`masters` and its bound, the value found).
use super::keys::row_at;

/// serde's `path: invalid value|type: integer|floating point `V`, expected TYPE` as the
/// key's range; None for any other message.
pub fn in_user_words(text: &str) -> Option<String> {
    let (path, rest) = text.split_once(": ")?;
    if let Some(words) = one_word_expected(path, rest) {
        return Some(words);
    }
    let rest = rest.strip_prefix("invalid value: ").or_else(|| rest.strip_prefix("invalid type: "))?;
    let (what, rest) = rest.split_once(" `")?;
    let whole = match what {
        "integer" => true,
        "floating point" => false,
        _ => return None,
    };
    // serde_norway names a number beyond u64 "`N` as u128"
    let (found, expected) = rest.split_once("`, expected ").or_else(|| rest.split_once("` as u128, expected "))?;
    let type_range = type_range(expected)?;
    let key = path.rsplit('.').next().unwrap_or(path).split('[').next().unwrap_or(path);
    // a value of a map-valued key (`stale_read_ms.p99`) takes the key's own documented range
    let range_of = |p: &str| row_at(p).map(|r| r.range).filter(|r| !r.is_empty());
    let documented = range_of(path).or_else(|| path.rsplit_once('.').and_then(|(parent, _)| range_of(parent)));
    let range = documented.map_or(type_range, |r| in_words(&r));
    let kind = if whole || !expected.starts_with(['u', 'i']) { "" } else { "a whole number " };
    Some(format!("{key} must be {kind}{range}, found {}", crate::error::quote(found)))
}

/// A list or a mapping where a key takes one word (`rpo: [none]`, `sync: [rsync, lsyncd]`):
/// serde_norway asks for "a YAML tag starting with '!'", the way it spells an enum's
/// variant with data; the user wrote a key whose words the key table lists.
fn one_word_expected(path: &str, rest: &str) -> Option<String> {
    let found = rest.strip_prefix("invalid type: ")?.strip_suffix(", expected a YAML tag starting with '!'")?;
    let found = match found {
        "sequence" => "a list",
        "map" => "a mapping",
        other => other,
    };
    let key = path.rsplit('.').next().unwrap_or(path);
    let kind = row_at(path).map(|r| r.kind).filter(|k| k.starts_with("one of ")).unwrap_or_else(|| "one value".into());
    Some(format!("{key} takes one word, {kind}; found {found}"))
}

/// A Rust number type's range, in the bounds' words.
fn type_range(expected: &str) -> Option<String> {
    let (lo, hi): (i128, i128) = match expected {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        "f64" | "f32" => return Some("a number".into()),
        _ => return None,
    };
    Some(format!("between {lo} and {hi}"))
}

/// The keys table's "3 to 9" / "at least 1" / "above 0, at most 1" as a sentence's end.
fn in_words(range: &str) -> String {
    match range.split_once(" to ") {
        Some((lo, hi)) if !range.contains(',') => format!("between {lo} and {hi}"),
        _ => range.replace(", ", " and "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_its_type_cannot_hold_is_told_by_its_documented_range() {
        let w = |t: &str| in_user_words(t).unwrap_or_else(|| panic!("no words for {t}"));
        assert_eq!(w("stack.cluster.masters: invalid value: integer `10000`, expected u8"), "masters must be between 3 and 9, found 10000");
        assert_eq!(
            w("monitoring.group_wait_ms: invalid type: integer `-5000`, expected u64"),
            "group_wait_ms must be between 0 and 3600000, found -5000"
        );
        assert_eq!(
            w("workload.keys: invalid value: integer `1000000000000`, expected u32"),
            "keys must be between 1 and 1000000, found 1000000000000"
        );
        assert_eq!(
            w("services.pg.workload.writers: invalid type: floating point `1.5`, expected u32"),
            "writers must be a whole number between 1 and 256, found 1.5"
        );
        assert_eq!(
            w("faults[0].at_ms: invalid type: integer `-1`, expected u64"),
            "at_ms must be between 0 and 18446744073709551615, found -1"
        );
        assert_eq!(
            w("stack.replicas: invalid type: integer `1000000000000000000000000000000` as u128, expected u8"),
            "replicas must be between 0 and 8, found 1000000000000000000000000000000"
        );
        assert_eq!(in_user_words("stack: unknown field `x`, expected `kind`"), None);
        assert_eq!(in_user_words("name: invalid type: integer `3`, expected a string"), None);
    }
}
