//! A multi-active service as every report shows it: a row per site (its writers' writes
//! and longest time without an acknowledgement), then the shared keys' updates judged,
//! the engine's own counts, and each lost update with the write that beat it.
use super::Results;
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

pub fn caption(r: &Results) -> Option<String> {
    let m = r.multi_active.as_ref()?;
    let cuts: Vec<String> = m.cuts.iter().map(|c| format!("t={:.1}..{:.1} ms", c.from_ms, c.to_ms)).collect();
    let cut = if cuts.is_empty() { "no cut between sites".to_string() } else { format!("sites cut apart {}", cuts.join(", ")) };
    Some(format!("By site: each site's writers write to their own site's node ({cut})"))
}

/// How long drdrill's first read of every node takes at most (it reads again every 100 ms).
const FIRST_READ_MS: f64 = 100.0;

/// A node's leaving and return: `rejoin gal-3   left t=5.2 s (Initialized, non-Primary), Synced
/// t=27.3 s, 2.1 s after the heal, by IST (…)`.
fn rejoin_line(j: &crate::checker::Rejoin) -> String {
    let states = j.states.join(" → ");
    let back = match (j.synced_ms, j.after_heal_ms) {
        (Some(s), Some(h)) => format!("Synced t={:.1} s, {h:.0} ms after the heal", s / 1e3),
        (Some(s), None) => format!("Synced t={:.1} s", s / 1e3),
        (None, _) => "never Synced again while drdrill watched".to_string(),
    };
    let how = j.method.as_ref().map(|m| format!(", by {m}")).unwrap_or_default();
    format!("rejoin ({})     left t={:.1} s ({states}); {back}{how}", j.node, j.left_ms / 1e3)
}

/// The updates judged, the engine's counts and every lost update, one line each.
pub fn update_lines(r: &Results) -> Vec<String> {
    let Some(m) = &r.multi_active else { return Vec::new() };
    let u = &m.updates;
    let mut out = vec![
        format!(
            "updates            {} acknowledged: {} overwritten in order, {} discarded in conflicts (on {} keys), {} lost updates",
            u.acked_updates,
            u.overwritten,
            u.conflicts,
            u.conflict_keys,
            u.lost_updates.len()
        ),
        format!(
            "diverged keys      {}",
            match u.diverged_keys.len() {
                0 => "0: every node holds the same value of every key".to_string(),
                n => format!("{n}: {}", preview(&u.diverged_keys)),
            }
        ),
    ];
    out.push(match (m.converged_after_heal_ms, m.agreement_waited_ms) {
        // agreed at the first read: they may have agreed any time before the workload stopped
        (Some(c), Some(w)) if w < FIRST_READ_MS => {
            format!("converged          at most {c:.0} ms after the heal: every node already held the same keys and records at drdrill's first read, when the workload stopped")
        }
        (Some(c), _) => format!("converged          {c:.0} ms after the heal: every node held the same keys and records"),
        (None, Some(w)) if m.cuts.is_empty() => format!("converged          no heal to count from (the nodes agreed, or not, within {w:.0} ms)"),
        (None, Some(w)) => format!("converged          never: the nodes still differed {w:.0} ms after the workload stopped"),
        (None, None) => "converged          not measured".into(),
    });
    if u.unaccounted > 0 {
        out.push(format!("unaccounted        {} acknowledged updates to keys no node holds a value of drdrill's for", u.unaccounted));
    }
    for (node, counts) in &m.engine {
        let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(format!("engine ({node})    {}", c.join(", ")));
    }
    out.extend(m.rejoins.iter().map(rejoin_line));
    for l in u.lost_updates.iter().take(5) {
        out.push(format!(
            "lost update        key {}: {}'s write invoked at t={:.1} ms lost to {}'s, completed at t={:.1} ms",
            l.key, l.site, l.invoked_ms, l.survivor_site, l.survivor_completed_ms
        ));
    }
    if u.lost_updates.len() > 5 {
        out.push(format!("                   … and {} more (results.json)", u.lost_updates.len() - 5));
    }
    out.extend(m.unread.iter().map(|e| format!("unread             {e}")));
    out
}

fn preview(keys: &[u64]) -> String {
    let shown: Vec<String> = keys.iter().take(10).map(u64::to_string).collect();
    let more = if keys.len() > 10 { format!(" … ({} in all)", keys.len()) } else { String::new() };
    format!("keys {}{more}", shown.join(", "))
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
            updates: UpdatesReport { lost_updates: vec![lost], diverged_keys: vec![3], ..Default::default() },
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
            super::site_lines(&crate::report::Results { multi_active: Some(m), ..Default::default() })
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
