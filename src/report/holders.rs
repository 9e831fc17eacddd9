//! Who held the clients' entry (a VIP) over the drill, for every report: each take and
//! release, who held it at the end, and each split brain (two holders at once) with the
//! writes each side acknowledged in it and how many of them the surviving data lacks.
//! Also who was the primary: each promotion of another node, and the writes the primary
//! it replaced went on acknowledging after it (a second primary, whatever moved the clients).
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

/// Each promotion of another node, and the second primary after it where there was one.
pub fn promotion_facts(r: &Results) -> Vec<Fact> {
    let Some(p) = &r.promotions else { return Vec::new() };
    let mut out = Vec::new();
    for x in &p.promotions {
        let by = if x.by == "drdrill" { "drdrill's failover" } else { "the orchestrator" };
        let detail = if x.detail.is_empty() { String::new() } else { format!(" ({})", x.detail) };
        out.push(fact("promotion", format!("t={:.1} ms {by} promoted {} in place of {}{detail}", x.at_ms, x.new, x.old)));
        if x.old_acked > 0 {
            let lost = |l: Option<u64>| l.map_or("lost unknown".to_string(), |l| format!("{l} lost"));
            let text = format!(
                "{} went on acknowledging {} writes ({}) for {:.1} s after it; {} acknowledged {} ({}) meanwhile",
                x.old,
                x.old_acked,
                lost(x.old_lost),
                x.split_ms().unwrap_or(0.0) / 1e3,
                x.new,
                x.new_acked,
                lost(x.new_lost)
            );
            out.push(fact("second primary", text));
        }
    }
    out
}
