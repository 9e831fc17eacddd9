//! The writes the database refused once the failover was done: a duplicate key from a
//! sequence the DR side never advanced, a column the subscriber lacks, a read-only node.
//! Such a refusal is no outage of the failover's (the clients reach a primary, and it
//! answers); it is the failover's runbook leaving the new primary unfit to take the writes.
//!
//! Counted: every op with outcome `fail` (a definite refusal; a timeout is `unknown` and
//! not counted) invoked while a failover stood done: from a `failover-done` event to the
//! next `failover-start` (another failover under way) or the end of the workload. A stack
//! whose own orchestrator fails over records no `failover-done`: its last move of the
//! clients' endpoint (`orchestrator-moved`), else its promotion, stands for it, and its
//! detection for the start. Grouped by cause: the error's text without the detail that
//! names one row (` (Key (id)=(1234) already exists.)`, a trailing `DETAIL: …`), each with
//! its count, its first and last invoke time and the nodes that refused.
use super::{TargetResult, Verdict};
use crate::history::{Event, EventKind, Op, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One cause of refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalCause {
    /// The error's text without the detail that names one row.
    pub cause: String,
    /// The first refusal's whole text.
    pub example: String,
    pub count: u64,
    /// The first and last such write's invoke time (drill ms).
    pub first_ms: f64,
    pub last_ms: f64,
    /// The nodes the clients were talking to.
    pub nodes: Vec<String>,
}

#[cfg(test)]
impl RefusalCause {
    /// The reports' tests' refusal: 412 duplicate keys on users (its first on row `id`)
    /// from t=5301.2 to 9800.0 ms, on pg-dr-1.
    pub fn duplicate_users_key(id: u64) -> RefusalCause {
        let dup = "23505: duplicate key value violates unique constraint \"users_pkey\"";
        RefusalCause {
            cause: dup.into(),
            example: format!("{dup} (Key (id)=({id}) already exists.)"),
            count: 412,
            first_ms: 5301.2,
            last_ms: 9800.0,
            nodes: vec!["pg-dr-1".into()],
        }
    }
}

/// The writes refused after the failover, by cause (most first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefusalsReport {
    /// When the (first) failover was done (drill ms); null when none was: nothing counted.
    pub failover_done_ms: Option<f64>,
    /// The event that marked it: `failover-done`, `orchestrator-moved` or `orchestrator-promoted`.
    pub done_by: Option<String>,
    /// Writes refused in all.
    pub refused: u64,
    pub causes: Vec<RefusalCause>,
    /// What refused them, in the reports' words (`the database`, `the file store`); empty in
    /// evidence written before it was recorded: `the database`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub store: String,
}

impl RefusalsReport {
    /// What refused the writes: `the database` unless the kind says otherwise.
    pub fn store(&self) -> &str {
        if self.store.is_empty() { "the database" } else { &self.store }
    }
}

/// The spans `[from, to)` (drill ns) in which a failover stood done, and the event kind that
/// marked their start; none when no failover was done.
pub fn done_windows(events: &[Event]) -> (Vec<(u64, u64)>, Option<EventKind>) {
    let kinds = [
        (EventKind::FailoverDone, EventKind::FailoverStart),
        (EventKind::OrchestratorMoved, EventKind::OrchestratorDetected),
        (EventKind::OrchestratorPromoted, EventKind::OrchestratorDetected),
    ];
    let times = |k: EventKind| -> Vec<u64> {
        let mut t: Vec<u64> = events.iter().filter(|e| e.kind == k).map(|e| e.t_ns).collect();
        t.sort_unstable();
        t
    };
    let Some((done, start)) = kinds.into_iter().find(|(done, _)| !times(*done).is_empty()) else { return (Vec::new(), None) };
    let starts = times(start);
    let mut windows: Vec<(u64, u64)> = Vec::new();
    for d in times(done) {
        let to = starts.iter().copied().find(|s| *s > d).unwrap_or(u64::MAX);
        match windows.last_mut() {
            // a second end before another start (a repeated move): the same window
            Some(w) if w.1 == to => {}
            _ => windows.push((d, to)),
        }
    }
    (windows, Some(done))
}

/// The cause a refusal's text names: the text without a trailing ` (…)` or `DETAIL: …`
/// that names the one row refused.
pub fn cause_of(text: &str) -> String {
    let mut s = text.trim();
    if let Some(i) = s.find("DETAIL:") {
        s = s[..i].trim_end();
    }
    if s.ends_with(')') {
        let mut depth = 0i32;
        for (i, c) in s.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                let head = s[..i].trim_end();
                if !head.is_empty() {
                    s = head;
                }
                break;
            }
        }
    }
    s.to_string()
}

/// Whether a failed write's text is the database's own reply (the write reached it and it
/// said no), as the engine's data path tells: a connection that never came up refuses
/// nothing.
pub type IsReply<'a> = &'a dyn Fn(&str) -> bool;

/// Collects the refusals as the ops stream past (any order).
pub struct Refusals<'a> {
    windows: Vec<(u64, u64)>,
    is_reply: IsReply<'a>,
    by_cause: BTreeMap<String, (RefusalCause, BTreeSet<String>)>,
}

impl<'a> Refusals<'a> {
    pub fn new(windows: Vec<(u64, u64)>, is_reply: IsReply<'a>) -> Self {
        Refusals { windows, is_reply, by_cause: BTreeMap::new() }
    }

    pub fn add(&mut self, op: &Op) {
        if op.outcome != Outcome::Fail || !self.windows.iter().any(|(a, b)| (*a..*b).contains(&op.invoke_ns)) {
            return;
        }
        if !op.error.as_deref().is_some_and(|e| (self.is_reply)(e)) {
            return;
        }
        let text = op.error.clone().unwrap_or_else(|| "(no error text)".into());
        let t = op.invoke_ns as f64 / 1e6;
        let (c, nodes) = self.by_cause.entry(cause_of(&text)).or_insert_with_key(|cause| {
            let c = RefusalCause { cause: cause.clone(), example: text.clone(), count: 0, first_ms: t, last_ms: t, nodes: Vec::new() };
            (c, BTreeSet::new())
        });
        c.count += 1;
        if t < c.first_ms {
            (c.first_ms, c.example) = (t, text);
        }
        c.last_ms = c.last_ms.max(t);
        nodes.extend(op.node.as_deref().map(str::to_string));
    }

    /// The causes, most refusals first; `done` the failover's end and its event.
    pub fn finish(self, done: Option<(f64, EventKind)>) -> RefusalsReport {
        let mut causes: Vec<RefusalCause> =
            self.by_cause.into_values().map(|(c, n)| RefusalCause { nodes: n.into_iter().collect(), ..c }).collect();
        causes.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_ms.total_cmp(&b.first_ms)));
        let kind = |k: EventKind| serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string));
        RefusalsReport {
            failover_done_ms: done.map(|d| d.0),
            done_by: done.and_then(|d| kind(d.1)),
            refused: causes.iter().map(|c| c.count).sum(),
            causes,
            store: String::new(),
        }
    }
}

/// The writes of `service` (None: every op) in `history` refused after the failover.
pub fn judge_refusals(history: &Path, service: Option<&str>, events: &[Event], is_reply: IsReply) -> std::io::Result<RefusalsReport> {
    let (windows, kind) = done_windows(events);
    let done = windows.first().zip(kind).map(|(w, k)| (w.0 as f64 / 1e6, k));
    let mut r = Refusals::new(windows, is_reply);
    crate::history::read_history(history, |op| {
        if crate::history::belongs(op.service.as_ref(), service) {
            r.add(&op);
        }
    })?;
    Ok(r.finish(done))
}

/// The causes as one line: `412 × 23505: duplicate key … ; 3 × 25006: …` (the first `n`).
pub fn causes_text(r: &RefusalsReport, n: usize) -> String {
    let mut each: Vec<String> = r.causes.iter().take(n).map(|c| format!("{} × {}", c.count, c.cause)).collect();
    if r.causes.len() > n {
        each.push(format!("{} more causes", r.causes.len() - n));
    }
    each.join("; ")
}

/// `targets.max_refused_after_failover`: at most `limit` writes refused once the failover
/// was done; undecided when no failover was done (nothing to count from).
pub fn refusals_target(r: &RefusalsReport, limit: u64) -> TargetResult {
    let (actual, verdict, note) = match r.failover_done_ms {
        None => (None, Verdict::Unknown, "no failover was done: nothing to count refusals from".to_string()),
        Some(_) if r.refused == 0 => (Some(0.0), Verdict::Pass, "no write refused after the failover".into()),
        Some(_) => {
            let verdict = if r.refused <= limit { Verdict::Pass } else { Verdict::Fail };
            (Some(r.refused as f64), verdict, causes_text(r, 3))
        }
    };
    TargetResult { target: super::Target::MaxRefusedAfterFailover, limit: Some(limit as f64), actual, verdict, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn event(t_ms: u64, kind: EventKind) -> Event {
        Event {
            service: None,
            t_ns: t_ms * MS,
            kind,
            fault: None,
            node: None,
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    fn op(seq: u64, t_ms: u64, outcome: Outcome, node: &str, error: Option<&str>) -> Op {
        Op {
            service: None,
            writer: 1,
            seq,
            key: None,
            change: None,
            invoke_ns: t_ms * MS,
            complete_ns: t_ms * MS + MS,
            outcome,
            node: Some(node.into()),
            error: error.map(str::to_string),
        }
    }

    const DUP: &str = "23505: duplicate key value violates unique constraint \"users_pkey\"";

    #[test]
    fn the_detail_naming_one_row_is_not_the_cause() {
        assert_eq!(cause_of(&format!("{DUP} (Key (id)=(1234) already exists.)")), DUP);
        assert_eq!(cause_of(&format!("{DUP} DETAIL: Key (id)=(7) already exists.")), DUP);
        assert_eq!(
            cause_of("25006: cannot execute INSERT in a read-only transaction"),
            "25006: cannot execute INSERT in a read-only transaction"
        );
        // a text that is only a parenthesis stays whole
        assert_eq!(cause_of("(no error text)"), "(no error text)");
    }

    #[test]
    fn only_definite_refusals_while_the_failover_stands_done_are_counted_by_cause() {
        let events = [
            event(1000, EventKind::FaultInject),
            event(1500, EventKind::FailoverStart),
            event(2000, EventKind::FailoverDone),
            event(6000, EventKind::FailoverStart), // a second failover under way: not counted
            event(6500, EventKind::FailoverDone),
        ];
        let (windows, kind) = done_windows(&events);
        assert_eq!(windows, [(2000 * MS, 6000 * MS), (6500 * MS, u64::MAX)]);
        // the server's replies are `SQLSTATE: message`; "connection refused" never reached it
        let is_reply = |e: &str| e.as_bytes().get(5) == Some(&b':');
        let mut r = Refusals::new(windows, &is_reply);
        let dup = |id: u64| format!("{DUP} (Key (id)=({id}) already exists.)");
        r.add(&op(1, 1200, Outcome::Fail, "pg-1", Some("connection refused"))); // before: not counted
        r.add(&op(9, 2400, Outcome::Fail, "pg-1", Some("connect timed out"))); // no reply: not counted
        r.add(&op(2, 2100, Outcome::Fail, "pg-dr-1", Some(&dup(5))));
        r.add(&op(3, 2050, Outcome::Fail, "pg-dr-1", Some(&dup(4))));
        r.add(&op(4, 2200, Outcome::Unknown, "pg-dr-1", Some("timed out"))); // unknown: not counted
        r.add(&op(5, 2300, Outcome::Ok, "pg-dr-1", None));
        r.add(&op(6, 3000, Outcome::Fail, "pg-dr-2", Some("25006: cannot execute INSERT in a read-only transaction")));
        r.add(&op(7, 6200, Outcome::Fail, "pg-dr-1", Some(&dup(9)))); // during the second failover
        r.add(&op(8, 7000, Outcome::Fail, "pg-dr-2", Some(&dup(10))));
        let out = r.finish(Some((2000.0, kind.unwrap())));
        assert_eq!((out.refused, out.failover_done_ms, out.done_by.as_deref()), (4, Some(2000.0), Some("failover-done")));
        let first = &out.causes[0];
        assert_eq!((first.cause.as_str(), first.count, first.first_ms, first.last_ms), (DUP, 3, 2050.0, 7000.0));
        assert_eq!(first.example, dup(4), "the first refusal's whole text");
        assert_eq!(first.nodes, ["pg-dr-1", "pg-dr-2"]);
        assert_eq!(causes_text(&out, 1), format!("3 × {DUP}; 1 more causes"));
    }

    #[test]
    fn an_orchestrators_move_stands_for_the_failovers_end() {
        let events = [
            event(100, EventKind::OrchestratorDetected),
            event(300, EventKind::OrchestratorPromoted),
            event(400, EventKind::OrchestratorMoved),
        ];
        let (w, kind) = done_windows(&events);
        assert_eq!((w, kind), (vec![(400 * MS, u64::MAX)], Some(EventKind::OrchestratorMoved)));
        assert_eq!(done_windows(&[event(100, EventKind::FaultInject)]), (Vec::new(), None));
    }

    #[test]
    fn the_target_counts_every_refusal_and_is_undecided_without_a_failover() {
        let cause = |count| RefusalCause { cause: DUP.into(), example: DUP.into(), count, first_ms: 1.0, last_ms: 2.0, nodes: Vec::new() };
        let r = RefusalsReport { failover_done_ms: Some(5.0), done_by: None, refused: 412, causes: vec![cause(412)], store: String::new() };
        let t = refusals_target(&r, 0);
        assert_eq!((t.verdict, t.actual), (Verdict::Fail, Some(412.0)));
        assert!(t.note.starts_with("412 × 23505: duplicate key"), "{}", t.note);
        assert_eq!(refusals_target(&r, 500).verdict, Verdict::Pass);
        let none = RefusalsReport { failover_done_ms: Some(5.0), ..Default::default() };
        assert_eq!((refusals_target(&none, 0).verdict, refusals_target(&none, 0).actual), (Verdict::Pass, Some(0.0)));
        assert_eq!(refusals_target(&RefusalsReport::default(), 0).verdict, Verdict::Unknown);
    }
}
