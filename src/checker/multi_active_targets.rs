//! The multi-active targets, judged on the updates report: `max_lost_updates` and
//! `max_diverged_keys`.
use super::{MultiActiveReport, Target, TargetResult, Verdict};
use crate::scenario::Targets;
use std::collections::BTreeMap;

/// `max_lost_updates` and `max_diverged_keys`, when the scenario sets them.
pub fn judge_multi_active_targets(targets: &Targets, r: &MultiActiveReport) -> Vec<TargetResult> {
    let mut out = Vec::new();
    let lost = r.updates.lost_updates.len() as u64;
    let diverged = r.updates.diverged_keys.len() as u64;
    // a node whose keys were not read may hold what the others lack: no pass on divergence
    let blind = !r.unread.is_empty();
    let mut add = |target: Target, limit: Option<u64>, actual: u64, note: String| {
        let Some(limit) = limit else { return };
        let verdict = match actual <= limit {
            false => Verdict::Fail,
            true if blind && target == Target::MaxDivergedKeys => Verdict::Unknown,
            true => Verdict::Pass,
        };
        out.push(TargetResult { target, limit: Some(limit as f64), actual: Some(actual as f64), verdict, note });
    };
    let note = format!("{lost} of {} acknowledged updates lost to a write completed before they began", r.updates.acked_updates);
    add(Target::MaxLostUpdates, targets.max_lost_updates, lost, note);
    let unread = if r.unread.is_empty() { String::new() } else { format!(" ({} nodes unread)", r.unread.len()) };
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    r.updates.diverged_keys.iter().for_each(|d| *causes.entry(d.cause.name()).or_default() += 1);
    let why: Vec<String> = causes.iter().map(|(c, n)| format!("{n} {c}")).collect();
    let why = if why.is_empty() { String::new() } else { format!(": {}", why.join(", ")) };
    add(Target::MaxDivergedKeys, targets.max_diverged_keys, diverged, format!("{diverged} keys differ between nodes{why}{unread}"));
    out
}
