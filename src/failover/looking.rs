//! Keeping on looking. A recovery that needs a node to answer (a replica's position before
//! a promotion, a repoint, a node a runbook waits on) asks again until one does or the
//! scenario's `failover.promote_timeout_ms` runs out, as Patroni, repmgr or an operator
//! with a runbook would: a replica a few hundred milliseconds into a restart is not gone.
//! Each missed look is a note in the history; the time spent looking belongs to the step
//! that looked (for a promotion: the promotion phase, between failover-start and promote).
use crate::history::{EventKind, RecorderHandle};
use std::time::Duration;
use tokio::time::Instant;

/// The pause between two looks.
pub const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How long one look waits for a node's answer (a paused or cut-off node never answers).
pub const LOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one repoint may take (a MariaDB replica stops and restarts its threads).
pub const REPOINT_TIMEOUT: Duration = Duration::from_secs(10);

/// One search for an answer, bounded by `promote_timeout_ms`.
pub(super) struct Looking<'a> {
    rec: &'a RecorderHandle,
    fault: Option<usize>,
    /// What is looked for, as the notes say it ("a replica to promote").
    what: String,
    started: Instant,
    deadline: Instant,
    misses: u32,
}

impl<'a> Looking<'a> {
    pub fn new(rec: &'a RecorderHandle, fault: Option<usize>, what: impl Into<String>, bound_ms: u64) -> Self {
        let started = Instant::now();
        Looking { rec, fault, what: what.into(), started, deadline: started + Duration::from_millis(bound_ms), misses: 0 }
    }

    /// Records a missed look (`why`, about `node` when one is named). Waits for the next
    /// look and returns true, or returns false once the bound has run out.
    pub async fn missed(&mut self, node: Option<&str>, why: &str) -> bool {
        self.misses += 1;
        let next = Instant::now() + LOOK_EVERY;
        let last = next > self.deadline;
        let end = if last { "; the bound has run out" } else { "; looking again" };
        let detail = format!("looking for {}: look {} missed ({why}){end}", self.what, self.misses);
        self.rec.event(EventKind::Note, self.fault, node, detail).await;
        if last {
            return false;
        }
        tokio::time::sleep_until(next).await;
        true
    }

    /// How long the search has lasted, ms.
    pub fn waited_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    /// " after 1234 ms and 5 looks" once a look has missed, else "" (found at the first).
    pub fn waited(&self) -> String {
        if self.misses == 0 {
            return String::new();
        }
        format!(" after looking {:.0} ms ({} looks)", self.waited_ms(), self.misses + 1)
    }

    /// Why the search gave up, for the failover's error.
    pub fn gave_up(&self, last: &str) -> String {
        format!(
            "gave up looking for {} after {:.0} ms (promote_timeout_ms; {} looks; last: {last})",
            self.what,
            self.waited_ms(),
            self.misses
        )
    }
}

/// `f`'s answer within `timeout`, or why not.
pub(super) async fn within<T>(timeout: Duration, f: impl std::future::Future<Output = crate::error::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.one_line()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::history::{Entry, Recorder, read_history};

    fn recording(dir: &std::path::Path) -> (std::path::PathBuf, Recorder, RecorderHandle) {
        let path = dir.join("history.jsonl.zst");
        let clock = Clock::start();
        let header = Entry::Header {
            scenario: "s".into(),
            run_id: "r".into(),
            wall_clock_anchor: clock.wall_anchor.to_rfc3339(),
            services: Vec::new(),
        };
        let (rec, h) = Recorder::start(&path, clock, header).unwrap();
        (path, rec, h)
    }

    /// A node that answers on the third look is found, each miss a note, and the wait said.
    #[tokio::test]
    async fn misses_are_notes_until_an_answer_and_the_wait_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let (path, rec, h) = recording(dir.path());
        let mut looking = Looking::new(&h, Some(0), "a replica to promote", 10_000);
        assert_eq!(looking.waited(), "", "found at the first look: no wait to say");
        // two misses, then the answer
        assert!(looking.missed(Some("pg-2"), "connection refused").await);
        assert!(looking.missed(Some("pg-2"), "connection refused").await);
        let waited = looking.waited();
        assert!(waited.starts_with(" after looking ") && waited.ends_with("(3 looks)"), "{waited}");
        assert!(looking.waited_ms() >= 2.0 * LOOK_EVERY.as_millis() as f64);
        drop(h);
        rec.finish().await.unwrap();
        let events = read_history(&path, |_| ()).unwrap().events;
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.kind == EventKind::Note && e.fault == Some(0) && e.node.as_deref() == Some("pg-2")));
        assert!(events[1].detail.contains("look 2 missed (connection refused); looking again"), "{}", events[1].detail);
    }

    /// The bound runs out: the last miss says so, no sleep past it, and the reason names it.
    #[tokio::test]
    async fn the_bound_ends_the_search_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (path, rec, h) = recording(dir.path());
        let mut looking = Looking::new(&h, None, "a replica to promote", 600);
        let mut looks = 1;
        while looking.missed(None, "no answer").await {
            looks += 1;
            assert!(looks < 10, "the bound never ran out");
        }
        assert!((3..=4).contains(&looks), "{looks} looks in 600 ms at one every 250 ms");
        assert!(looking.waited_ms() <= 600.0 + 50.0, "slept past the bound: {}", looking.waited_ms());
        let why = looking.gave_up("pg-2: connection refused");
        assert!(why.starts_with("gave up looking for a replica to promote after "), "{why}");
        assert!(why.ends_with("last: pg-2: connection refused)"), "{why}");
        drop(h);
        rec.finish().await.unwrap();
        let events = read_history(&path, |_| ()).unwrap().events;
        assert!(events.last().unwrap().detail.ends_with("the bound has run out"));
    }
}
