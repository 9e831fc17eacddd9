//! A multi-active service as every report shows it: a row per site (its writers' writes
//! and longest time without an acknowledgement), each cut with its sides, the shared keys'
//! updates judged (conflicts, overwritten and lost updates, diverged keys), the time to
//! agree after the heal, the engine's own counts, each node's rejoin (Galera) and every
//! lost update with the two writes that prove the order. The rows are computed here once;
//! the terminal, report.md and report.html only format them.
use super::Results;
use super::format::{Fact, fact};
use crate::checker::{DivergedKey, LostUpdate, MultiActiveReport, Rejoin};
use serde::Serialize;

/// One site's row, already formatted.
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct SiteLine {
    #[tabled(rename = "site")]
    pub site: String,
    #[tabled(rename = "writes ok / fail / unknown")]
    pub writes: String,
    #[tabled(rename = "longest without an ack, ms")]
    pub gap: String,
}

pub fn site_lines(r: &Results) -> Vec<SiteLine> {
    let Some(m) = &r.multi_active else { return Vec::new() };
    m.sites
        .iter()
        .map(|(site, w)| SiteLine {
            site: site.clone(),
            writes: format!("{} / {} / {}", w.acked, w.failed, w.unknown),
            gap: format!(
                "{:.1} (from t={:.1}){}",
                w.longest_without_ack_ms,
                w.longest_from_ms,
                if w.longest_to_end { ", to the end of the workload" } else { "" }
            ),
        })
        .collect()
}

/// What the section shows, in one sentence.
pub fn caption(r: &Results) -> Option<String> {
    let m = r.multi_active.as_ref()?;
    let cut = match m.cuts.len() {
        0 => "no cut between sites".to_string(),
        n => format!("sites cut apart {n} time(s)"),
    };
    Some(format!("By site: each site's writers write to their own site's node ({cut})"))
}

/// How long drdrill's first read of every node takes at most (it reads again every 100 ms).
const FIRST_READ_MS: f64 = 100.0;

/// Every row under the sites' table: the cuts, the updates judged, the agreement after the
/// heal, the engine's counts, the rejoins and the nodes that could not be read.
pub fn facts(r: &Results) -> Vec<Fact> {
    let Some(m) = &r.multi_active else { return Vec::new() };
    let mut out = cut_facts(m);
    out.extend(update_facts(m));
    out.push(fact("converged", converged_text(m)));
    for (node, counts) in &m.engine {
        let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(fact(format!("engine ({node})"), c.join(", ")));
    }
    out.extend(m.rejoins.iter().map(rejoin_fact));
    out.extend(m.unread.iter().map(|e| fact("unread", e.clone())));
    out
}

/// Each cut: when, and the sides that could not reach each other.
fn cut_facts(m: &MultiActiveReport) -> Vec<Fact> {
    m.cuts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sides: Vec<String> = c.sides.iter().map(|s| format!("[{}]", s.join(", "))).collect();
            fact(format!("cut {}", i + 1), format!("t={:.1} to {:.1} ms: {} apart", c.from_ms, c.to_ms, sides.join(" | ")))
        })
        .collect()
}

/// The shared keys' updates judged: counts, then the diverged keys and the unaccounted.
fn update_facts(m: &MultiActiveReport) -> Vec<Fact> {
    let u = &m.updates;
    let mut out = vec![
        fact("updates", format!("{} acknowledged", u.acked_updates)),
        fact("conflicts", format!("{} updates discarded in conflicts, on {} keys", u.conflicts, u.conflict_keys)),
        fact("overwritten", format!("{} updates overwritten in order (a later write won)", u.overwritten)),
        fact("lost updates", format!("{} (overwritten by a write that completed before they were invoked)", u.lost_updates.len())),
        fact(
            "diverged keys",
            match u.diverged_keys.len() {
                0 => "0: every node holds the same value of every key".to_string(),
                n => format!("{n}: {}", preview(&u.diverged_keys)),
            },
        ),
    ];
    out.extend(u.diverged_keys.iter().take(10).map(|d| fact(format!("key {}", d.key), diverged_text(d))));
    if u.unaccounted > 0 {
        out.push(fact("unaccounted", format!("{} acknowledged updates to keys no node holds a value of drdrill's for", u.unaccounted)));
    }
    out
}

/// How long after the last heal every node held the same keys and records, in words.
fn converged_text(m: &MultiActiveReport) -> String {
    match (m.converged_after_heal_ms, m.agreement_waited_ms) {
        // agreed at the first read: they may have agreed any time before the workload stopped
        (Some(c), Some(w)) if w < FIRST_READ_MS => format!(
            "at most {c:.0} ms after the heal: every node already held the same keys and records at drdrill's first read, when the workload stopped"
        ),
        (Some(c), _) => format!("{c:.0} ms after the heal: every node held the same keys and records"),
        (None, Some(w)) if m.cuts.is_empty() => format!("no heal to count from (the nodes agreed, or not, within {w:.0} ms)"),
        (None, Some(w)) => format!("never: the nodes still differed {w:.0} ms after the workload stopped"),
        (None, None) => "not measured (drdrill did not wait for the nodes to agree)".into(),
    }
}

/// A node's leaving and return: `rejoin (gal-3)  left t=5.2 s (Initialized, non-Primary);
/// Synced t=27.3 s, 2100 ms after the heal, by IST (…)`.
fn rejoin_fact(j: &Rejoin) -> Fact {
    let states = j.states.join(" → ");
    let back = match (j.synced_ms, j.after_heal_ms) {
        (Some(s), Some(h)) => format!("Synced t={:.1} s, {h:.0} ms after the heal", s / 1e3),
        (Some(s), None) => format!("Synced t={:.1} s", s / 1e3),
        (None, _) => "never Synced again while drdrill watched".to_string(),
    };
    let how = match &j.method {
        Some(m) => format!(", by {m}"),
        None => ", its method not reported".to_string(),
    };
    fact(format!("rejoin ({})", j.node), format!("left t={:.1} s ({states}); {back}{how}", j.left_ms / 1e3))
}

/// One lost update beside the write that beat it: the two writes prove the order.
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct LostUpdateLine {
    #[tabled(rename = "key")]
    pub key: String,
    #[tabled(rename = "lost update (invoked)")]
    pub lost: String,
    #[tabled(rename = "kept instead (completed before it)")]
    pub survivor: String,
}

/// The first `n` lost updates.
pub fn lost_update_lines(r: &Results, n: usize) -> Vec<LostUpdateLine> {
    let Some(m) = &r.multi_active else { return Vec::new() };
    m.updates.lost_updates.iter().take(n).map(lost_update_line).collect()
}

/// How many lost updates `lost_update_lines(r, n)` leaves out.
pub fn lost_updates_left_out(r: &Results, n: usize) -> usize {
    r.multi_active.as_ref().map_or(0, |m| m.updates.lost_updates.len().saturating_sub(n))
}

fn lost_update_line(l: &LostUpdate) -> LostUpdateLine {
    LostUpdateLine {
        key: l.key.to_string(),
        lost: format!("{}: {} at t={:.1} ms", l.site, write_of(l.value), l.invoked_ms),
        survivor: format!("{}: {} done t={:.1} ms", l.survivor_site, write_of(l.survivor), l.survivor_completed_ms),
    }
}

/// The write an update's value names (`update_value`: the writer above bit 40, its seq below).
fn write_of(value: u64) -> String {
    format!("writer {} seq {}", value >> 40, value & ((1 << 40) - 1))
}

fn preview(keys: &[DivergedKey]) -> String {
    let shown: Vec<String> = keys.iter().take(10).map(|d| format!("{} ({})", d.key, d.cause.name())).collect();
    let more = if keys.len() > 10 { format!(" … ({} in all)", keys.len()) } else { String::new() };
    format!("keys {}{more}", shown.join(", "))
}

/// A diverged key: its cause in words, then which nodes hold which write.
fn diverged_text(d: &DivergedKey) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for h in &d.held {
        let what = match (h.writer, h.seq) {
            (Some(w), Some(s)) => {
                format!("writer {w} seq {s}{}", h.committed.as_deref().map(|c| format!(" (committed {c})")).unwrap_or_default())
            }
            _ => "no value".to_string(),
        };
        match groups.iter_mut().find(|g| g.0 == what) {
            Some(g) => g.1.push(&h.node),
            None => groups.push((what, vec![&h.node])),
        }
    }
    let held: Vec<String> = groups.iter().map(|(what, nodes)| format!("{} {what}", nodes.join(", "))).collect();
    format!("{}: {}; held: {}", d.cause.name(), d.why, held.join("; "))
}

#[cfg(test)]
mod tests {
    use crate::checker::{CutReport, LostUpdate, MultiActiveReport, Rejoin, SiteWrites, UpdatesReport};
    use serde_json::Value;

    /// A report with every field results.json can hold filled in.
    fn full() -> MultiActiveReport {
        let lost = LostUpdate {
            key: 7,
            value: 1,
            site: "dc2".into(),
            invoked_ms: 5.0,
            survivor: 2,
            survivor_site: "dc1".into(),
            survivor_completed_ms: 4.0,
        };
        let rejoin = Rejoin {
            node: "gal-3".into(),
            left_ms: 1.0,
            synced_ms: Some(2.0),
            after_heal_ms: Some(1.0),
            states: vec!["Joined".into()],
            method: Some("IST".into()),
        };
        MultiActiveReport {
            updates: UpdatesReport {
                lost_updates: vec![lost],
                diverged_keys: vec![crate::report::tests_support::tie_key(3)],
                ..Default::default()
            },
            sites: [("dc1".to_string(), SiteWrites::default())].into(),
            engine: [("gal-1".to_string(), [("conflicts".to_string(), 1)].into())].into(),
            cuts: vec![CutReport { from_ms: 1.0, to_ms: 2.0, sides: vec![vec!["dc1".into()]] }],
            unread: vec!["gal-2: refused".into()],
            converged_after_heal_ms: Some(1.0),
            agreement_waited_ms: Some(1.0),
            agreement_started_ms: Some(1.0),
            rejoins: vec![rejoin],
        }
    }

    /// Every field name in `v`, nested ones included; the keys of `sites` and `engine` are
    /// names from the drill (sites, nodes, counters), not fields.
    fn field_names(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    out.push(k.clone());
                    match (k.as_str(), x) {
                        ("sites", Value::Object(by_site)) => by_site.values().for_each(|y| field_names(y, out)),
                        ("engine", _) => {}
                        _ => field_names(x, out),
                    }
                }
            }
            Value::Array(xs) => xs.iter().for_each(|x| field_names(x, out)),
            _ => {}
        }
    }

    #[test]
    fn a_site_without_an_acknowledgement_to_the_end_says_so() {
        let gap =
            |to_end| SiteWrites { longest_without_ack_ms: 710.0, longest_from_ms: 290.0, longest_to_end: to_end, ..Default::default() };
        let lines = |to_end| {
            let m = MultiActiveReport { sites: [("dc2".to_string(), gap(to_end))].into(), ..Default::default() };
            super::site_lines(&crate::checker::Results { multi_active: Some(m), ..Default::default() })
        };
        assert_eq!(lines(true)[0].gap, "710.0 (from t=290.0), to the end of the workload");
        assert_eq!(lines(false)[0].gap, "710.0 (from t=290.0)");
    }

    #[test]
    fn docs_evidence_describes_every_field_of_multi_active() {
        let doc = include_str!("../../docs/evidence.md");
        let row = doc.lines().find(|l| l.starts_with("| `multi_active` |")).expect("docs/evidence.md has a multi_active row");
        let mut names = Vec::new();
        field_names(&serde_json::to_value(full()).unwrap(), &mut names);
        for n in names {
            assert!(row.contains(&n), "docs/evidence.md's multi_active row does not name `{n}`");
        }
    }
}
