//! The shards of a service with one primary per shard (Redis Cluster), as every report
//! shows them: a row per shard, and the key space's writable share over time.
use super::Results;
use super::format::ms;
use serde::Serialize;

/// One shard's row, already formatted.
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct ShardLine {
    #[tabled(rename = "shard")]
    pub shard: String,
    #[tabled(rename = "slots")]
    pub slots: String,
    #[tabled(rename = "primary")]
    pub primary: String,
    #[tabled(rename = "writes ok / fail / unknown")]
    pub writes: String,
    #[tabled(rename = "lost")]
    pub lost: String,
    #[tabled(rename = "RPO ms")]
    pub rpo: String,
    #[tabled(rename = "outage ms (clients)")]
    pub outage: String,
    #[tabled(rename = "RTO ms")]
    pub rto: String,
}

pub fn shard_lines(r: &Results) -> Vec<ShardLine> {
    let Some(s) = &r.shards else { return Vec::new() };
    s.shards
        .iter()
        .map(|x| ShardLine {
            shard: x.shard.clone(),
            slots: format!("{} ({:.1}%)", x.slots, x.share * 100.0),
            primary: x.primary.clone(),
            writes: format!("{} / {} / {}", x.acked, x.failed, x.unknown),
            lost: x.lost.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            rpo: ms(x.rpo_ms),
            outage: match (x.outage_ms, x.outage_start_ms) {
                (Some(o), Some(from)) => format!("{o:.1} (from t={from:.1})"),
                (Some(o), None) => format!("{o:.1}"),
                (None, _) if x.failed + x.unknown == 0 => "none".into(),
                (None, _) => "not recovered".into(),
            },
            rto: match (x.rto_ms, x.hit) {
                (Some(v), _) => format!("{v:.1}"),
                (None, true) => "not recovered while drilled".into(),
                (None, false) => "- (not hit)".into(),
            },
        })
        .collect()
}

/// The caption: what the rows are.
pub fn shards_caption(r: &Results) -> Option<String> {
    let s = r.shards.as_ref()?;
    Some(format!("By shard ({} shards; RTO for a shard a fault hit: its primary named, or a replica promoted)", s.shards.len()))
}

/// The writable share of the key space as it changed, and the windows with no shard
/// taking writes, in a line each.
pub fn writable_lines(r: &Results) -> Vec<String> {
    let Some(s) = &r.shards else { return Vec::new() };
    let steps: Vec<String> = s.writable.iter().map(|[t, share]| format!("{:.0}% at {:.1} s", share * 100.0, t / 1e3)).collect();
    let mut out = vec![format!("key space writable (per {} ms): {}", s.bucket_ms, steps.join(" -> "))];
    let windows: Vec<String> = s.whole_down.iter().map(|[a, b]| format!("{:.1}-{:.1} s", a / 1e3, b / 1e3)).collect();
    out.push(match windows.len() {
        0 => "whole cluster refusing writes: never".into(),
        n => format!("whole cluster refusing writes: {:.0} ms in {n} window(s): {}", s.whole_down_ms, windows.join(", ")),
    });
    out
}
