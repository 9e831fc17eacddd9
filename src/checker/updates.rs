//! Updates to a shared key space written in more than one place (multi-active regions):
//! which acknowledged updates the surviving data kept, which resolution discarded in a
//! conflict, which it lost against the real order of time, and which keys still differ
//! between nodes.
//!
//! Per key, the survivor is the update whose value every node holds at the end. Every
//! other acknowledged update to the key is exactly one of:
//! - **overwritten**: it completed before the survivor was invoked (real time ordered it
//!   first; nothing is wrong);
//! - **conflict**: it was concurrent with the survivor (their invoke–complete intervals
//!   overlap, or both were acknowledged while their sites were cut apart) and from another
//!   site, and resolution discarded it;
//! - **lost update**: it was invoked after the survivor had completed. Real time ordered it
//!   last, yet the older write won: under correct clocks last-write-wins never does this;
//!   a skewed clock or a bug does. Each names the survivor, whose times prove the order.
//!
//! Updates of the survivor's own site that overlap it are ordered by that site's node, not
//! resolved between sites: they count as overwritten. A key whose nodes disagree has no
//! survivor: it is diverged, and its updates are judged on no side.
use super::divergence::DivergedKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One acknowledged update: `value` is unique to it (drdrill writes its writer and
/// sequence), times on drdrill's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub key: u64,
    pub value: u64,
    pub site: String,
    pub invoke_ns: u64,
    pub complete_ns: u64,
}

/// A window in which the sites in different `sides` could not reach each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub from_ns: u64,
    pub to_ns: u64,
    pub sides: Vec<Vec<String>>,
}

impl Cut {
    fn apart(&self, a: &str, b: &str) -> bool {
        let side = |s: &str| self.sides.iter().position(|g| g.iter().any(|x| x == s));
        matches!((side(a), side(b)), (Some(x), Some(y)) if x != y)
    }
    fn during(&self, u: &Update) -> bool {
        u.complete_ns >= self.from_ns && u.complete_ns <= self.to_ns
    }
}

/// An acknowledged update that lost to a write completed before it was invoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostUpdate {
    pub key: u64,
    /// The lost update: its value, site and invoke time (ms).
    pub value: u64,
    pub site: String,
    pub invoked_ms: f64,
    /// The survivor that beat it, and when it had completed (ms): before `invoked_ms`.
    pub survivor: u64,
    pub survivor_site: String,
    pub survivor_completed_ms: f64,
}

/// What the surviving data says of the updates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdatesReport {
    pub acked_updates: u64,
    /// Keys with at least one update discarded in a conflict, and how many were.
    pub conflict_keys: u64,
    pub conflicts: u64,
    pub overwritten: u64,
    pub lost_updates: Vec<LostUpdate>,
    /// Keys whose value differs between nodes (or that some node lacks), each explained
    /// (`divergence_causes.rs`) once the engine's stamps were read.
    #[serde(deserialize_with = "super::divergence::read_diverged")]
    pub diverged_keys: Vec<DivergedKey>,
    /// Acknowledged updates to keys no node holds a value of drdrill's for.
    pub unaccounted: u64,
}

/// What a multi-active service showed: its updates judged, each site's writes, what each
/// node's engine counted itself, and the cuts the updates were judged against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MultiActiveReport {
    pub updates: UpdatesReport,
    pub sites: BTreeMap<String, super::SiteWrites>,
    /// Node -> what its engine counted (pglogical: the conflicts it logged, by resolution).
    pub engine: BTreeMap<String, BTreeMap<String, u64>>,
    /// When sites could not reach each other (ms on the drill clock) and which sides.
    pub cuts: Vec<CutReport>,
    /// Nodes whose keys could not be read, and why (their values judged on no side).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<String>,
    /// From the last heal until every node held the same value of every key and the same
    /// records, read every 100 ms once the workload stopped; null without a heal, or when
    /// the nodes never agreed within `checks.convergence_timeout_ms`.
    pub converged_after_heal_ms: Option<f64>,
    /// How long drdrill waited for the nodes to agree after the workload stopped.
    pub agreement_waited_ms: Option<f64>,
    /// When that wait began (drill ms): after the writes in flight were answered and the
    /// faults healed, a moment after the workload's stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_started_ms: Option<f64>,
    /// Each time a node left its cluster and came back, as its engine reported it (Galera);
    /// empty for an engine whose nodes have no membership (pglogical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejoins: Vec<Rejoin>,
}

/// A node that left its cluster (unreachable, or its engine reported it out of the
/// cluster: Galera anything but Synced or a donor in the primary component) and came back,
/// read every 200 ms through the drill (ms on the drill clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejoin {
    pub node: String,
    /// The first read that found it out of the cluster.
    pub left_ms: f64,
    /// The first read that found it back in the cluster; null when it never was before drdrill
    /// stopped watching (every node agreed, or the wait ran out).
    pub synced_ms: Option<f64>,
    /// From the last heal between its leaving and its return.
    pub after_heal_ms: Option<f64>,
    /// The states it went through, in order (`Initialized, non-Primary`, `Joined, Primary`).
    pub states: Vec<String>,
    /// How it came back, in the engine's words (an incremental or a full state transfer).
    pub method: Option<String>,
}

/// A cut as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutReport {
    pub from_ms: f64,
    pub to_ms: f64,
    pub sides: Vec<Vec<String>>,
}

impl From<&Cut> for CutReport {
    fn from(c: &Cut) -> Self {
        CutReport { from_ms: c.from_ns as f64 / 1e6, to_ms: c.to_ns as f64 / 1e6, sides: c.sides.clone() }
    }
}

/// The value drdrill's update (writer, seq) writes, as one number.
pub fn update_value(writer: u32, seq: u64) -> u64 {
    (u64::from(writer) << 40) | (seq & ((1 << 40) - 1))
}

/// Judges the acknowledged `updates` against each node's final values (key -> value).
pub fn judge_updates(updates: &[Update], cuts: &[Cut], finals: &[BTreeMap<u64, u64>]) -> UpdatesReport {
    let mut out = UpdatesReport { acked_updates: updates.len() as u64, ..Default::default() };
    let mut by_key: BTreeMap<u64, Vec<&Update>> = BTreeMap::new();
    for u in updates {
        by_key.entry(u.key).or_default().push(u);
    }
    let diverged = diverged(finals);
    out.diverged_keys = diverged.iter().map(|k| DivergedKey::bare(*k)).collect();
    for (key, list) in by_key {
        if diverged.contains(&key) {
            continue;
        }
        let Some(survivor) = finals.first().and_then(|f| f.get(&key)).and_then(|v| list.iter().find(|u| u.value == *v)) else {
            out.unaccounted += list.len() as u64;
            continue;
        };
        let mut conflicted = false;
        for u in list.iter().filter(|u| u.value != survivor.value) {
            if u.invoke_ns > survivor.complete_ns {
                out.lost_updates.push(lost(u, survivor));
            } else if u.site != survivor.site && concurrent(u, survivor, cuts) {
                out.conflicts += 1;
                conflicted = true;
            } else {
                out.overwritten += 1;
            }
        }
        out.conflict_keys += u64::from(conflicted);
    }
    out
}

/// Their intervals overlap, or both were acknowledged during one cut from sides apart.
fn concurrent(a: &Update, b: &Update, cuts: &[Cut]) -> bool {
    let overlap = a.invoke_ns <= b.complete_ns && b.invoke_ns <= a.complete_ns;
    overlap || cuts.iter().any(|c| c.apart(&a.site, &b.site) && c.during(a) && c.during(b))
}

fn lost(u: &Update, survivor: &Update) -> LostUpdate {
    LostUpdate {
        key: u.key,
        value: u.value,
        site: u.site.clone(),
        invoked_ms: u.invoke_ns as f64 / 1e6,
        survivor: survivor.value,
        survivor_site: survivor.site.clone(),
        survivor_completed_ms: survivor.complete_ns as f64 / 1e6,
    }
}

/// The keys on which the nodes do not all hold the same value (a key some node lacks
/// included).
fn diverged(finals: &[BTreeMap<u64, u64>]) -> Vec<u64> {
    let mut keys: Vec<u64> = finals.iter().flat_map(|f| f.keys().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().filter(|k| finals.iter().map(|f| f.get(k)).collect::<Vec<_>>().windows(2).any(|w| w[0] != w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn up(key: u64, value: u64, site: &str, invoke_ms: u64, complete_ms: u64) -> Update {
        Update { key, value, site: site.into(), invoke_ns: invoke_ms * MS, complete_ns: complete_ms * MS }
    }

    fn finals(nodes: usize, kv: &[(u64, u64)]) -> Vec<BTreeMap<u64, u64>> {
        vec![kv.iter().copied().collect(); nodes]
    }

    #[test]
    fn under_correct_clocks_the_later_write_survives_and_nothing_is_lost() {
        // key 1: a then b in real time; key 2: a and b overlap, b's commit won
        let ups = [up(1, 10, "a", 0, 5), up(1, 11, "b", 10, 15), up(2, 20, "a", 0, 10), up(2, 21, "b", 5, 12)];
        let r = judge_updates(&ups, &[], &finals(2, &[(1, 11), (2, 21)]));
        assert_eq!((r.acked_updates, r.overwritten, r.conflicts, r.conflict_keys), (4, 1, 1, 1));
        assert!(r.lost_updates.is_empty() && r.diverged_keys.is_empty());
    }

    #[test]
    fn a_newer_write_that_loses_to_an_older_one_is_a_lost_update_naming_both() {
        // site a's clock 2 s behind: b wrote at 0-5 ms, a at 1000-1005 ms, and b's survived
        let ups = [up(1, 10, "b", 0, 5), up(1, 11, "a", 1000, 1005)];
        let r = judge_updates(&ups, &[], &finals(2, &[(1, 10)]));
        let l = &r.lost_updates[..];
        assert_eq!(l.len(), 1, "{r:?}");
        assert_eq!((l[0].value, l[0].survivor, l[0].site.as_str()), (11, 10, "a"));
        assert!(l[0].survivor_completed_ms < l[0].invoked_ms, "the times prove the order");
        assert_eq!((r.conflicts, r.overwritten), (0, 0));
    }

    #[test]
    fn writes_acknowledged_on_opposite_sides_of_a_cut_conflict_even_seconds_apart() {
        let cut = Cut { from_ns: 1000 * MS, to_ns: 21_000 * MS, sides: vec![vec!["a".into()], vec!["b".into()]] };
        // b at 2 s, a at 9 s, both inside the cut: a's (the later) survived the heal
        let ups = [up(1, 10, "b", 2000, 2003), up(1, 11, "a", 9000, 9002)];
        let r = judge_updates(&ups, std::slice::from_ref(&cut), &finals(2, &[(1, 11)]));
        assert_eq!((r.conflicts, r.conflict_keys, r.overwritten), (1, 1, 0), "{r:?}");
        // without the cut they are ordered by real time: overwritten, not a conflict
        let r = judge_updates(&ups, &[], &finals(2, &[(1, 11)]));
        assert_eq!((r.conflicts, r.overwritten), (0, 1));
        // the same site's overlapping writes are ordered by its own node, not resolved
        let same = [up(1, 10, "a", 0, 10), up(1, 11, "a", 5, 12)];
        assert_eq!(judge_updates(&same, &[cut], &finals(1, &[(1, 11)])).conflicts, 0);
    }

    #[test]
    fn nodes_that_disagree_leave_the_key_diverged_and_unjudged() {
        let ups = [up(1, 10, "a", 0, 5), up(1, 11, "b", 1000, 1005), up(2, 20, "a", 0, 5)];
        let nodes = vec![BTreeMap::from([(1, 10), (2, 20)]), BTreeMap::from([(1, 11), (2, 20)]), BTreeMap::from([(1, 10)])];
        let r = judge_updates(&ups, &[], &nodes);
        let keys: Vec<u64> = r.diverged_keys.iter().map(|d| d.key).collect();
        assert_eq!(keys, [1, 2], "key 2 is missing on the third node");
        assert!(r.lost_updates.is_empty());
        assert_eq!((r.conflicts, r.overwritten, r.unaccounted), (0, 0, 0));
    }

    #[test]
    fn an_update_whose_key_holds_none_of_drdrills_values_is_unaccounted() {
        let ups = [up(1, 10, "a", 0, 5)];
        assert_eq!(judge_updates(&ups, &[], &finals(2, &[])).unaccounted, 1);
        assert_eq!(judge_updates(&ups, &[], &finals(2, &[(1, 99)])).unaccounted, 1);
    }
}
