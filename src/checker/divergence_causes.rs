//! Why a key's nodes disagree: each node's value matched to drdrill's write and to the
//! engine's commit stamp, then the first cause that the evidence shows:
//! 1. **a node behind**: a node lacks the key;
//! 2. **a tie**: the values the nodes hold were committed at the same instant (the engine's
//!    own timestamps, to the microsecond) in different places: last-update-wins without a
//!    tie-break keeps, on each node, whichever reached it last;
//! 3. **clock skew**: a node's clock was set off while one of the writes was in flight;
//! 4. **a node behind**: the engine's stamps (or, without them, the clients' times) order the
//!    values, and a node holds an older one: it never applied the later write;
//! 5. otherwise **unexplained**, with the evidence.
use super::divergence::{Cause, DivergedKey, Held, Stamp};
use super::updates::Update;
use std::collections::BTreeMap;

/// A clock set off on `node` from `from_ns` to `to_ns` (drill clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Skewed {
    pub node: String,
    pub from_ns: u64,
    pub to_ns: u64,
    pub offset_ms: i64,
}

/// What is known of one diverged key: each node's value (None: it lacks the key), the
/// acknowledged updates of the key, and each node's engine stamp of the value it holds.
pub struct KeyEvidence<'a> {
    pub key: u64,
    pub nodes: &'a [(String, Option<u64>)],
    pub updates: &'a [&'a Update],
    pub stamps: &'a BTreeMap<String, Stamp>,
}

/// Explains a diverged key.
pub fn explain(e: &KeyEvidence, skewed: &[Skewed]) -> DivergedKey {
    let held: Vec<Held> = e.nodes.iter().map(|(node, value)| held(node, *value, e)).collect();
    let (cause, why) = cause(&held, e, skewed);
    DivergedKey { key: e.key, held, cause, why }
}

fn held(node: &str, value: Option<u64>, e: &KeyEvidence) -> Held {
    let write = value.and_then(|v| e.updates.iter().find(|u| u.value == v));
    let stamp = value.and(e.stamps.get(node));
    Held {
        node: node.to_string(),
        writer: value.map(|v| (v >> 40) as u32),
        seq: value.map(|v| v & ((1 << 40) - 1)),
        site: write.map(|u| u.site.clone()),
        invoked_ms: write.map(|u| u.invoke_ns as f64 / 1e6),
        completed_ms: write.map(|u| u.complete_ns as f64 / 1e6),
        committed: stamp.map(|s| s.committed.clone()),
        origin: stamp.map(|s| s.origin.clone()),
    }
}

fn cause(held: &[Held], e: &KeyEvidence, skewed: &[Skewed]) -> (Cause, String) {
    if let Some(missing) = held.iter().find(|h| h.writer.is_none()) {
        return (Cause::Behind, format!("{} never received a write to key {}", missing.node, e.key));
    }
    let values = distinct(held);
    if let Some(why) = tie(&values) {
        return (Cause::Tie, why);
    }
    let in_flight = |s: &Skewed| {
        values.iter().any(
            |h| matches!((h.invoked_ms, h.completed_ms), (Some(i), Some(c)) if i * 1e6 <= s.to_ns as f64 && c * 1e6 >= s.from_ns as f64),
        )
    };
    if let Some(s) = skewed.iter().find(|s| in_flight(s)) {
        let why = format!(
            "{}'s clock was {:+} ms off while these writes committed: last-update-wins compared skewed timestamps and a node kept its own",
            s.node, s.offset_ms
        );
        return (Cause::ClockSkew, why);
    }
    if let Some(why) = behind(held, &values) {
        return (Cause::Behind, why);
    }
    (Cause::Unexplained, format!("the nodes hold {}: no tie, skew or missing write explains it", listing(&values)))
}

/// One `Held` per distinct value, in node order.
fn distinct(held: &[Held]) -> Vec<&Held> {
    let mut out: Vec<&Held> = Vec::new();
    for h in held {
        if !out.iter().any(|o| (o.writer, o.seq) == (h.writer, h.seq)) {
            out.push(h);
        }
    }
    out
}

/// Every value's commit stamp the same instant, from different origins.
fn tie(values: &[&Held]) -> Option<String> {
    let stamps: Vec<(&str, &str)> = values.iter().map(|h| Some((h.committed.as_deref()?, h.origin.as_deref()?))).collect::<Option<_>>()?;
    let same_instant = stamps.windows(2).all(|w| w[0].0 == w[1].0);
    // in different places: the engine's origins differ, or the writes' sites do
    let origins: std::collections::BTreeSet<&str> = stamps.iter().map(|s| s.1).collect();
    let sites: std::collections::BTreeSet<&str> = values.iter().filter_map(|h| h.site.as_deref()).collect();
    (values.len() > 1 && same_instant && (origins.len() > 1 || sites.len() > 1)).then(|| {
        format!(
            "{} were committed at the same instant ({}) in different places; last-update-wins has no tie-break, so each node kept whichever reached it last",
            values.iter().map(|h| write_name(&Held { committed: None, ..(*h).clone() })).collect::<Vec<_>>().join(" and "),
            stamps[0].0
        )
    })
}

/// A node holding a value older than another node's, by the engine's stamps or, without
/// them, by the clients' times (acknowledged before the other was invoked).
fn behind(held: &[Held], values: &[&Held]) -> Option<String> {
    let newest = values.iter().max_by(|a, b| order(a, b))?;
    let old = held.iter().find(|h| order(h, newest) == std::cmp::Ordering::Less)?;
    let by = if newest.committed.is_some() { "its commit stamp" } else { "the clients' times" };
    Some(format!("{} holds {}, older by {by} than {}: it never applied the later write", old.node, write_name(old), write_name(newest)))
}

/// Orders two held values by commit stamp (the engine's text sorts as its time does) when
/// both have one, else by the clients' times when one was acknowledged before the other
/// was invoked; Equal when nothing orders them.
fn order(a: &Held, b: &Held) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    if let (Some(x), Some(y)) = (&a.committed, &b.committed) {
        return x.cmp(y);
    }
    match (a.completed_ms, a.invoked_ms, b.completed_ms, b.invoked_ms) {
        (Some(ac), _, _, Some(bi)) if ac < bi => Less,
        (_, Some(ai), Some(bc), _) if bc < ai => Greater,
        _ => Equal,
    }
}

fn write_name(h: &Held) -> String {
    let (w, s) = (h.writer.unwrap_or_default(), h.seq.unwrap_or_default());
    let site = h.site.as_deref().map(|s| format!(" in {s}")).unwrap_or_default();
    let when = h.invoked_ms.map(|t| format!(" invoked t={t:.1} ms")).unwrap_or_default();
    let stamp = h.committed.as_deref().map(|c| format!(", committed {c}")).unwrap_or_default();
    format!("writer {w} seq {s}{site}{when}{stamp}")
}

fn listing(values: &[&Held]) -> String {
    let names: Vec<String> = values.iter().map(|h| write_name(h)).collect();
    names.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::update_value;

    const MS: u64 = 1_000_000;

    fn up(value: u64, site: &str, invoke_ms: u64, complete_ms: u64) -> Update {
        Update { key: 38, value, site: site.into(), invoke_ns: invoke_ms * MS, complete_ns: complete_ms * MS }
    }

    fn stamp(at: &str, origin: &str) -> Stamp {
        Stamp { committed: at.into(), origin: origin.into() }
    }

    #[test]
    fn equal_commit_stamps_from_two_regions_are_a_tie() {
        // seed 002's case: writers 3 and 4 at the same scheduled instant, both committed at
        // 07:18:33.011808; pgl-4 kept pgl-5's value and pgl-5 pgl-4's
        let (a, b) = (update_value(3, 901), update_value(4, 900));
        let ups = [up(a, "region-4", 36042, 36044), up(b, "region-5", 36042, 36045)];
        let refs: Vec<&Update> = ups.iter().collect();
        let nodes = [("pgl-4".to_string(), Some(b)), ("pgl-5".to_string(), Some(a))];
        let stamps = BTreeMap::from([
            ("pgl-4".to_string(), stamp("2026-11-26 07:18:33.011808+00", "pgl-5")),
            ("pgl-5".to_string(), stamp("2026-11-26 07:18:33.011808+00", "pgl-4")),
        ]);
        let d = explain(&KeyEvidence { key: 38, nodes: &nodes, updates: &refs, stamps: &stamps }, &[]);
        assert_eq!(d.cause, Cause::Tie, "{d:?}");
        assert!(d.why.contains("07:18:33.011808") && d.why.contains("writer 4 seq 900 in region-5"), "{}", d.why);
        assert_eq!((d.held[0].writer, d.held[0].site.as_deref()), (Some(4), Some("region-5")));
    }

    #[test]
    fn a_node_without_the_key_or_with_an_older_stamp_is_behind() {
        let (a, b) = (update_value(1, 1), update_value(2, 1));
        let ups = [up(a, "dc1", 0, 5), up(b, "dc2", 10, 15)];
        let refs: Vec<&Update> = ups.iter().collect();
        let none = BTreeMap::new();
        let lacking = [("n1".to_string(), Some(b)), ("n2".to_string(), None)];
        let d = explain(&KeyEvidence { key: 1, nodes: &lacking, updates: &refs, stamps: &none }, &[]);
        assert_eq!(d.cause, Cause::Behind);
        assert!(d.why.starts_with("n2 never received"), "{}", d.why);
        // by the engine's stamps
        let nodes = [("n1".to_string(), Some(b)), ("n2".to_string(), Some(a))];
        let stamps = BTreeMap::from([
            ("n1".to_string(), stamp("2026-11-26 07:00:00.2", "n2")),
            ("n2".to_string(), stamp("2026-11-26 07:00:00.1", "n1")),
        ]);
        let d = explain(&KeyEvidence { key: 1, nodes: &nodes, updates: &refs, stamps: &stamps }, &[]);
        assert_eq!(d.cause, Cause::Behind);
        assert!(d.why.starts_with("n2 holds writer 1 seq 1") && d.why.contains("commit stamp"), "{}", d.why);
        // without stamps (Galera), by the clients' times
        let d = explain(&KeyEvidence { key: 1, nodes: &nodes, updates: &refs, stamps: &none }, &[]);
        assert!(d.cause == Cause::Behind && d.why.contains("clients' times"), "{d:?}");
    }

    #[test]
    fn a_skew_in_effect_names_the_node_and_anything_else_is_unexplained() {
        let (a, b) = (update_value(1, 1), update_value(2, 1));
        let ups = [up(a, "dc1", 0, 10), up(b, "dc2", 5, 12)];
        let refs: Vec<&Update> = ups.iter().collect();
        let nodes = [("n1".to_string(), Some(a)), ("n2".to_string(), Some(b))];
        let none = BTreeMap::new();
        let skew = Skewed { node: "n1".into(), from_ns: 0, to_ns: 20 * MS, offset_ms: -2000 };
        let d = explain(&KeyEvidence { key: 1, nodes: &nodes, updates: &refs, stamps: &none }, std::slice::from_ref(&skew));
        assert!(d.cause == Cause::ClockSkew && d.why.starts_with("n1's clock was -2000 ms off"), "{d:?}");
        // concurrent writes, no stamps, no skew: nothing orders them
        let d = explain(&KeyEvidence { key: 1, nodes: &nodes, updates: &refs, stamps: &none }, &[]);
        assert_eq!(d.cause, Cause::Unexplained);
        assert!(d.why.contains("writer 1 seq 1 in dc1") && d.why.contains("writer 2 seq 1 in dc2"), "{}", d.why);
    }
}
