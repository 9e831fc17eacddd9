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
            gap: format!("{:.1} (from t={:.1})", w.longest_without_ack_ms, w.longest_from_ms),
        })
        .collect()
}

pub fn caption(r: &Results) -> Option<String> {
    let m = r.multi_active.as_ref()?;
    let cuts: Vec<String> = m.cuts.iter().map(|c| format!("t={:.1}..{:.1} ms", c.from_ms, c.to_ms)).collect();
    let cut = if cuts.is_empty() { "no cut between sites".to_string() } else { format!("sites cut apart {}", cuts.join(", ")) };
    Some(format!("By site: each site's writers write to their own site's node ({cut})"))
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
        format!("diverged keys      {}", match u.diverged_keys.len() {
            0 => "0: every node holds the same value of every key".to_string(),
            n => format!("{n}: {}", preview(&u.diverged_keys)),
        }),
    ];
    out.push(match (m.converged_after_heal_ms, m.agreement_waited_ms) {
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
