//! Who held the clients' entry (a VIP) over the drill, for every report: each take and
//! release, who held it at the end, and each split brain (two holders at once) with the
//! writes each side acknowledged in it and how many of them the surviving data lacks.
use super::Results;
use super::format::{Fact, fact};
use crate::checker::{held_text, sides_text};

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
