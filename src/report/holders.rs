//! Who held the clients' entry (a VIP) over the drill, for every report: each take and
//! release, who held it at the end, and each split brain (two holders at once) with the
//! writes each side acknowledged in it and how many of them the surviving data lacks.
use super::Results;
use super::format::{Fact, fact};
use crate::checker::Split;

/// The facts, in the order of the drill; none for a stack that moves no entry.
pub fn holder_facts(r: &Results) -> Vec<Fact> {
    let Some(h) = &r.holders else { return Vec::new() };
    let mut out: Vec<Fact> = h
        .changes
        .iter()
        .map(|c| {
            let verb = if c.holds { "took" } else { "gave up" };
            fact("entry holder", format!("t={:.1} ms {} {verb} {} ({})", c.at_ms, c.node, h.entry, c.detail))
        })
        .collect();
    let end = match h.final_holders.as_slice() {
        [] => "nobody".to_string(),
        all => all.join(" and "),
    };
    out.push(fact("entry at the end", format!("{} held by {end}", h.entry)));
    out.extend(h.splits.iter().map(|s| fact("split brain", format!("{} {}", held_text(s, &h.entry), sides_text(s)))));
    for side in &h.sides {
        let text = match (side.records, &side.error) {
            (Some(n), _) => {
                let held: Vec<String> = side.split_writes.iter().map(|(by, k)| format!("{k} taken by {by}")).collect();
                let held = if held.is_empty() { "none".into() } else { held.join(", ") };
                format!("{n} records once the workload stopped; of the split's writes: {held}")
            }
            (None, e) => format!("not read ({})", e.as_deref().unwrap_or("?")),
        };
        out.push(fact(format!("  {}", side.node), text));
    }
    out
}

/// "files-1 and files-2 both held the VIP … from t=… to t=… (9.0 s):".
pub fn held_text(s: &Split, entry: &str) -> String {
    let until = s.to_ms.map(|t| format!("to t={t:.1} ms")).unwrap_or_else(|| "to the end of the watch".into());
    let who = if s.nodes.len() == 2 { format!("{} both", s.nodes.join(" and ")) } else { format!("{} all", s.nodes.join(", ")) };
    format!("{who} held {entry} from t={:.1} ms {until} ({:.1} s):", s.from_ms, s.duration_ms / 1000.0)
}

/// "files-1 acknowledged 3 writes (0 lost), files-2 acknowledged 210 (210 lost)".
pub fn sides_text(s: &Split) -> String {
    let sides: Vec<String> = s
        .nodes
        .iter()
        .map(|n| format!("{n} acknowledged {} writes ({} lost)", s.acked.get(n).copied().unwrap_or(0), s.lost.get(n).copied().unwrap_or(0)))
        .collect();
    sides.join(", ")
}
