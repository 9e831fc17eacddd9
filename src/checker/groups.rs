//! A stack whose records go to places replicated differently (a DR region fed by logical
//! replication: published tables and tables left out): each place judged on its own
//! records, against the same read-back of the surviving primary the service's lost writes
//! are counted from.
//!
//! A place's `lost` writes are its acknowledged writes missing from that read-back, and its
//! `rpo_ms` spans them as the service's RPO does (docs/measurement.md). A place not
//! replicated whose every write acknowledged before the failover was done is missing never
//! reached the side the clients failed over to: `none_reached`.
use super::refusals::done_windows;
use super::shards::only;
use super::{Checker, Convergence};
use crate::history::{Event, Op, Outcome};
use crate::scenario::CheckSpec;
use crate::stack::{ReadBack, RecordGroups};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::path::Path;

/// One place, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// Its name in the engine (`users`).
    pub name: String,
    /// Whether its records are replicated to where the clients fail over.
    pub replicated: bool,
    /// How, in the engine's words (`in publication main_pub`).
    pub how: String,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Acknowledged writes missing from the surviving primary (null: nothing was read back).
    pub lost: Option<u64>,
    /// From its earliest lost write's invoke to the failure point (0 when none is lost).
    pub rpo_ms: Option<f64>,
    /// Writes acknowledged before the failover was done, and how many of them are lost
    /// (null when no failover was done or nothing was read back).
    pub acked_before_failover: Option<u64>,
    pub lost_before_failover: Option<u64>,
    /// Not replicated, and not one of its writes acknowledged before the failover survived.
    #[serde(default)]
    pub none_reached: bool,
}

/// Every place a service's records went to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupsReport {
    /// What a place is, as the reports say it (`table`).
    pub what: String,
    pub groups: Vec<GroupResult>,
    /// When the failover was done (drill ms): `acked_before_failover` counts up to it.
    pub failover_done_ms: Option<f64>,
}

/// Judges each place of `groups` on the ops of `service` (None: every op) in `history`.
pub fn judge_groups(
    history: &Path,
    service: Option<&str>,
    groups: &RecordGroups,
    events: &[Event],
    answered_fault: Option<usize>,
    read_back: Option<&ReadBack>,
    checks: &CheckSpec,
) -> std::io::Result<GroupsReport> {
    let done_ns = done_windows(events).0.first().map(|w| w.0);
    let mut out = GroupsReport { what: groups.what.to_string(), groups: Vec::new(), failover_done_ms: done_ns.map(|t| t as f64 / 1e6) };
    for (i, info) in groups.list.iter().enumerate() {
        let before = Cell::new(0u64);
        let mine = |op: &Op| {
            let m = crate::history::belongs(op.service.as_ref(), service) && (groups.of)(op.writer, op.seq) == i;
            if m && op.outcome == Outcome::Ok && done_ns.is_some_and(|d| op.complete_ns < d) {
                before.set(before.get() + 1);
            }
            m
        };
        let (checker, _) = Checker::from_history_where(history, mine)?;
        let rb = read_back.map(|rb| only(rb, |w, s| (groups.of)(w, s) == i));
        let a = checker.finish(events, answered_fault, rb.as_ref(), None::<&Convergence>, checks, &crate::scenario::Targets::none())?;
        let lost_before = a.rpo.as_ref().zip(done_ns).map(|(r, d)| r.lost.iter().filter(|l| l.ack_ms * 1e6 < d as f64).count() as u64);
        let acked_before = done_ns.map(|_| before.get());
        out.groups.push(GroupResult {
            name: info.name.clone(),
            replicated: info.replicated,
            how: info.how.clone(),
            acked: a.acked_writes,
            failed: a.failed_writes,
            unknown: a.unknown_writes,
            lost: a.rpo.as_ref().map(|r| r.lost_writes),
            rpo_ms: a.rpo.as_ref().map(|r| r.rpo_ms),
            none_reached: none_reached(info.replicated, acked_before, lost_before),
            acked_before_failover: acked_before,
            lost_before_failover: lost_before,
        });
    }
    Ok(out)
}

/// A place not replicated, with writes acknowledged before the failover and every one of
/// them lost.
fn none_reached(replicated: bool, acked_before: Option<u64>, lost_before: Option<u64>) -> bool {
    match (acked_before, lost_before) {
        (Some(a), Some(l)) => !replicated && a > 0 && l >= a,
        _ => false,
    }
}

impl GroupResult {
    /// `users (in publication main_pub): 1234 acknowledged, 0 lost`, and for a place not
    /// replicated that lost writes, what it lost and why.
    pub fn line(&self) -> String {
        let lost = self.lost.map_or("not read back".into(), |n| format!("{n} lost"));
        let rpo = match (self.lost, self.rpo_ms) {
            (Some(1..), Some(r)) => format!(" (RPO {r:.1} ms)"),
            _ => String::new(),
        };
        let mut s = format!("{} ({}): {} acknowledged, {lost}{rpo}", self.name, self.how, self.acked);
        if self.failed + self.unknown > 0 {
            s += &format!("; {} failed, {} unknown", self.failed, self.unknown);
        }
        if !self.replicated && self.lost.is_some_and(|n| n > 0) {
            s += " — not replicated";
            if self.none_reached {
                let n = self.acked_before_failover.unwrap_or(0);
                s += &format!(": none of its {n} acknowledged writes before the failover reached the DR region");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Entry, EventKind};
    use crate::stack::RecordGroup;
    use std::io::Write;
    use std::sync::Arc;

    const MS: u64 = 1_000_000;

    fn op(writer: u32, seq: u64, t_ms: u64, outcome: Outcome) -> Op {
        Op {
            service: None,
            writer,
            seq,
            key: None,
            change: None,
            invoke_ns: t_ms * MS,
            complete_ns: t_ms * MS + MS,
            outcome,
            node: Some("pg-1".into()),
            error: None,
        }
    }

    fn event(t_ms: u64, kind: EventKind) -> Event {
        let v = serde_json::json!({"t_ns": t_ms * MS, "kind": kind});
        serde_json::from_value(v).unwrap()
    }

    /// A plain history file of these entries (the reader takes `.jsonl` uncompressed).
    fn history(dir: &Path, entries: &[Entry]) -> std::path::PathBuf {
        let p = dir.join("history.jsonl");
        let mut f = std::fs::File::create(&p).unwrap();
        for e in entries {
            writeln!(f, "{}", serde_json::to_string(e).unwrap()).unwrap();
        }
        p
    }

    /// Writer 1 writes `users` (published), writer 2 `audit_log` (not published).
    fn dr_tables() -> RecordGroups {
        let g = |name: &str, replicated, how: &str| RecordGroup { name: name.into(), replicated, how: how.into() };
        RecordGroups {
            what: "table",
            list: vec![g("users", true, "in publication main_pub"), g("audit_log", false, "not in publication main_pub")],
            of: Arc::new(|w, _| usize::from(w == 2)),
        }
    }

    #[test]
    fn a_table_left_out_of_the_publication_loses_every_write_before_the_failover() {
        let dir = tempfile::tempdir().unwrap();
        let header = Entry::Header {
            scenario: "s".into(),
            run_id: "r".into(),
            wall_clock_anchor: "2026-11-27T00:00:00Z".into(),
            services: Vec::new(),
        };
        let mut entries = vec![header];
        // 10 writes each before the region is lost at 1 s, failover done at 2 s, 5 each after
        for seq in 1..=10 {
            entries.push(Entry::Op(op(1, seq, seq * 50, Outcome::Ok)));
            entries.push(Entry::Op(op(2, seq, seq * 50 + 1, Outcome::Ok)));
        }
        entries.push(Entry::Op(op(1, 11, 1500, Outcome::Unknown)));
        entries.push(Entry::Op(op(2, 11, 1500, Outcome::Fail)));
        for seq in 12..=16 {
            entries.push(Entry::Op(op(1, seq, 2000 + seq, Outcome::Ok)));
            entries.push(Entry::Op(op(2, seq, 2000 + seq, Outcome::Ok)));
        }
        let events = vec![event(1000, EventKind::FaultInject), event(1200, EventKind::FailoverStart), event(2000, EventKind::FailoverDone)];
        entries.extend(events.iter().cloned().map(Entry::Event));
        let path = history(dir.path(), &entries);
        // the DR side holds users 1-10 (replicated) and every write after the failover
        let mut rb = ReadBack::default();
        (1..=10).chain(12..=16).for_each(|s| rb.push(1, s));
        (12..=16).for_each(|s| rb.push(2, s));
        let r = judge_groups(&path, None, &dr_tables(), &events, None, Some(&rb), &CheckSpec::default()).unwrap();
        assert_eq!((r.what.as_str(), r.failover_done_ms), ("table", Some(2000.0)));
        let (users, audit) = (&r.groups[0], &r.groups[1]);
        assert_eq!((users.acked, users.unknown, users.lost, users.rpo_ms, users.none_reached), (15, 1, Some(0), Some(0.0), false));
        assert_eq!((audit.acked, audit.failed, audit.lost), (15, 1, Some(10)));
        assert_eq!((audit.acked_before_failover, audit.lost_before_failover, audit.none_reached), (Some(10), Some(10), true));
        // from its first lost write's invoke (51 ms) to its last acknowledgement (502 ms)… or the fault, later
        assert_eq!(audit.rpo_ms, Some(1000.0 - 51.0));
        assert_eq!(users.line(), "users (in publication main_pub): 15 acknowledged, 0 lost; 0 failed, 1 unknown");
        assert_eq!(
            audit.line(),
            "audit_log (not in publication main_pub): 15 acknowledged, 10 lost (RPO 949.0 ms); 1 failed, 0 unknown — not replicated: \
             none of its 10 acknowledged writes before the failover reached the DR region"
        );
        // nothing read back: nothing lost is claimed
        let r = judge_groups(&path, None, &dr_tables(), &events, None, None, &CheckSpec::default()).unwrap();
        assert_eq!((r.groups[1].lost, r.groups[1].none_reached), (None, false));
    }

    #[test]
    fn a_table_that_kept_some_writes_or_had_no_failover_is_not_said_to_have_kept_none() {
        assert!(!none_reached(false, Some(10), Some(9)));
        assert!(!none_reached(true, Some(10), Some(10)), "a replicated table lost them otherwise");
        assert!(!none_reached(false, Some(0), Some(0)), "nothing was acknowledged before");
        assert!(!none_reached(false, None, None), "no failover");
    }
}
