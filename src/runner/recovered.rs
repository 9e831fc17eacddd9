//! How long the workload keeps writing once every fault is in place. With a failover plan
//! or an orchestrator's watcher, drdrill knows when recovery happened and writes
//! `after_recovery_ms` more (plus the reroute budget its settings give the clients). With
//! neither (an external stack whose own orchestrator fails over, a container stack with
//! `failover` omitted) only the clients can tell: recovery is their first acknowledged
//! write after the outage, observed live. Either way the workload stops only once the
//! clients of every service a fault hit have been writing again for `after_recovery_ms`:
//! a promotion the clients have not yet followed (HAProxy's checks slowed by a loaded
//! machine, a DNS cache) is waited for, not cut short into an "RTO unknown". Always
//! bounded by `max_duration_ms` and `abort_when`. A write acknowledged by a primary that a
//! promotion replaced (a false failover's old primary, awake again until the orchestrator
//! demotes it) is no recovery: the clients recover through a node still a primary
//! (`history::LastInvokes`). The live view only decides when to stop; RTO is judged
//! afterwards from the history.
use super::running::{Exercising, Running, abort};
use super::state::{Drill, Service};
use crate::error::Result;
use crate::history::RecorderHandle;
use crate::report::{DrillEvent, Reporters};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// The clients' recovery as the recorder sees it, polled.
pub(super) struct ClientsRecovery {
    pub rec: RecorderHandle,
    /// Drill time from which an acknowledged write counts (every fault was in place).
    since_ns: u64,
    /// Drill time at which the clients were first seen writing again, while they still are,
    /// and the invoke time of the latest acknowledged write then: a write invoked after it
    /// that did not succeed is a relapse, even when other writers' acknowledgements came
    /// later (one client still failing among several writing is no recovery: the checker's
    /// stable window would hold that failure too).
    held_since_ns: Option<(u64, u64)>,
    /// Times they failed again after being seen writing.
    pub relapses: u32,
    /// Each writer writes to a node of its own (a multi-active stack): the clients write
    /// again once every writer's latest insert was acknowledged.
    every_writer: bool,
}

/// What a poll saw change.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    Nothing,
    /// An acknowledged write invoked after every fault and after the latest failure.
    Recovered,
    /// A write invoked after that acknowledgement did not succeed: waiting again.
    Relapsed,
}

impl ClientsRecovery {
    pub fn new(rec: RecorderHandle, every_writer: bool) -> Self {
        let since_ns = rec.clock.now_ns();
        ClientsRecovery { rec, since_ns, held_since_ns: None, relapses: 0, every_writer }
    }

    /// Whether the clients are writing: the latest acknowledged write was invoked after
    /// `since` and after the latest write that did not succeed (with `every_writer`: so
    /// was each writer's latest insert).
    fn writing(&self) -> bool {
        let last = &self.rec.last_invoke_ns;
        if self.every_writer {
            return last.every_writer_writing(self.since_ns);
        }
        last.ok_ns() > self.since_ns.max(last.not_ok.load(Ordering::Relaxed))
    }

    pub fn poll(&mut self) -> Seen {
        match (self.writing(), self.held_since_ns) {
            (true, None) => {
                self.held_since_ns = Some((self.rec.clock.now_ns(), self.rec.last_invoke_ns.ok_ns()));
                Seen::Recovered
            }
            (writing, Some((_, acked))) if !writing || self.failed_since(acked) => {
                self.held_since_ns = None;
                self.relapses += 1;
                Seen::Relapsed
            }
            _ => Seen::Nothing,
        }
    }

    /// Whether a write invoked after `acked_ns` did not succeed (with `every_writer`, each
    /// writer's own latest insert is what counts: another node's conflicts are no outage).
    fn failed_since(&self, acked_ns: u64) -> bool {
        !self.every_writer && self.rec.last_invoke_ns.not_ok.load(Ordering::Relaxed) > acked_ns
    }

    /// Whether the clients were writing at the latest poll.
    pub fn writing_now(&self) -> bool {
        self.held_since_ns.is_some()
    }

    /// Whether the clients have been writing without a failure for `hold_ms`.
    pub fn held_for(&self, hold_ms: u64) -> bool {
        self.held_since_ns.is_some_and(|(t, _)| self.rec.clock.now_ns().saturating_sub(t) >= crate::clock::ms_to_ns(hold_ms))
    }
}

/// Whether only the clients can tell when the service recovered: it has no recovery (in a
/// drill of several, a service no fault hit has nothing to recover from: it just writes on).
fn clients_only(s: &Service, services: usize) -> bool {
    s.recovery.is_none() && (services == 1 || !s.plan.faults.is_empty())
}

/// How long the workloads write on past the recoveries, and the part of it that lets the
/// clients follow: an orchestrator's promotion is not the clients' recovery, they also get
/// the reroute budget its settings imply (HAProxy's checks) and the DNS record's TTL.
fn hold_after_recovery(svcs: &[Service]) -> (u64, u64) {
    let follow = |s: &Service| {
        let dns = s.sc().dns.as_ref().map_or(0, |d| u64::from(d.ttl_s) * 1000);
        s.recovery.as_ref().map_or(0, |r| r.reroute_ms()).saturating_add(dns)
    };
    let holds = svcs.iter().filter(|s| !clients_only(s, svcs.len())).map(|s| (s.sc().workload.after_recovery_ms, follow(s)));
    let (more, reroute) = holds.max_by_key(|(m, r)| m.saturating_add(*r)).unwrap_or((0, 0));
    (more.saturating_add(reroute), reroute)
}

/// Keeps the workloads writing `after_recovery_ms` past recovery: past the recoveries'
/// end (plus an orchestrator's reroute budget), and past the clients' own recovery for
/// each service a fault hit (or no recovery tells of), as they are seen writing again;
/// never past the workloads' deadline.
pub(super) async fn write_after_recovery(drill: &Drill<'_>, rep: &mut Reporters, ex: &mut Exercising<'_>, run: &[Running]) -> Result<()> {
    let svcs = ex.svcs;
    let (hold, reroute) = hold_after_recovery(svcs);
    let end = Instant::now() + Duration::from_millis(hold);
    let watched = |s: &Service| clients_only(s, svcs.len()) || !s.plan.faults.is_empty();
    let mut watches: Vec<(usize, ClientsRecovery)> = svcs
        .iter()
        .zip(run)
        .enumerate()
        .filter(|(_, (s, _))| watched(s))
        .map(|(i, (s, r))| (i, ClientsRecovery::new(r.rec.clone(), s.driver.multi_active().is_some())))
        .collect();
    match watches.iter().find(|(i, _)| clients_only(&svcs[*i], svcs.len())) {
        Some((i, _)) => {
            let text =
                "waiting for the clients to recover (no failover plan: their first acknowledged write after the outage is the recovery)";
            drill.phase(rep, &svcs[*i].say(text))?;
        }
        None => {
            let why = if reroute > 0 {
                format!(" ({reroute} ms for the clients to follow: reroute budget, DNS TTL; + after_recovery_ms)")
            } else {
                String::new()
            };
            drill.phase(rep, &format!("writing for {hold} ms more after recovery{why}"))?;
        }
    }
    if watches.is_empty() {
        return tokio::select! {
            _ = tokio::time::sleep_until(end.min(ex.deadline)) => Ok(()),
            why = ex.abort.as_mut() => abort(drill, rep, ex.rec, svcs, &why).await,
        };
    }
    until_clients_held(drill, rep, ex, &mut watches, end).await
}

/// Polls the clients of the watched services until each has written `after_recovery_ms`
/// past its own recovery (and `end` passed), or the workloads' deadline. A service whose
/// recovery drdrill knows of is told of only once `end` passed with its clients still not
/// writing: the wait then is the clients', and the progress says so.
async fn until_clients_held(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    ex: &mut Exercising<'_>,
    watches: &mut [(usize, ClientsRecovery)],
    end: Instant,
) -> Result<()> {
    let svcs = ex.svcs;
    let mut late: Vec<bool> = vec![false; watches.len()];
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let past_end = Instant::now() >= end;
                let mut held = past_end;
                for ((i, w), late) in watches.iter_mut().zip(late.iter_mut()) {
                    let s = &svcs[*i];
                    let more = s.sc().workload.after_recovery_ms;
                    if clients_only(s, svcs.len()) || *late {
                        report_clients(drill, rep, s, w, more)?;
                    } else {
                        w.poll();
                        // (clients writing again, not yet for `more`, are waited for without a word)
                        if past_end && !w.writing_now() {
                            *late = true;
                            let text = "the recovery ended but the clients are not writing yet: waiting for them (at most until max_duration_ms)";
                            drill.phase(rep, &s.say(text))?;
                        }
                    }
                    held &= w.held_for(more);
                }
                if held {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep_until(ex.deadline) => {
                rep.emit(DrillEvent::Info("workload.max_duration_ms reached before the clients recovered"))?;
                return Ok(());
            }
            why = ex.abort.as_mut() => return abort(drill, rep, ex.rec, svcs, &why).await,
        }
    }
}

/// Polls one service's clients and says what changed; a flapping stack is told of
/// three times.
fn report_clients(drill: &Drill<'_>, rep: &mut Reporters, svc: &Service, watch: &mut ClientsRecovery, more: u64) -> Result<()> {
    let t_ms = watch.rec.clock.now_ns() as f64 / 1e6;
    match watch.poll() {
        Seen::Recovered if watch.relapses <= 3 => {
            rep.emit(DrillEvent::Step { t_ms, text: &svc.say("clients recovered: writes acknowledged again") })?;
            drill.phase(rep, &svc.say(&format!("writing for {more} ms more after the clients recovered")))
        }
        Seen::Relapsed if watch.relapses <= 3 => {
            rep.emit(DrillEvent::Step { t_ms, text: &svc.say("clients failed again: waiting for them to recover") })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Entry, EventKind, Op, Outcome, Recorder};

    fn op(invoke_ns: u64, outcome: Outcome) -> Op {
        Op {
            service: None,
            writer: 0,
            seq: invoke_ns,
            key: None,
            change: None,
            invoke_ns,
            complete_ns: invoke_ns + 1,
            outcome,
            node: None,
            error: None,
        }
    }

    #[tokio::test]
    async fn recovery_is_an_acknowledged_write_after_every_failure() {
        let dir = tempfile::tempdir().unwrap();
        let clock = crate::clock::Clock::start();
        let header = Entry::Header { scenario: "t".into(), run_id: "r".into(), wall_clock_anchor: String::new(), services: Vec::new() };
        let (recorder, rec) = Recorder::start(&dir.path().join("h.jsonl.zst"), clock, header).unwrap();
        // an ack from before the watch began does not count
        rec.op(op(1, Outcome::Ok)).await;
        let mut w = ClientsRecovery::new(rec.clone(), false);
        let t = w.since_ns;
        assert_eq!(w.poll(), Seen::Nothing);
        rec.op(op(t + 10, Outcome::Fail)).await;
        assert_eq!(w.poll(), Seen::Nothing);
        // a write that failed after it was invoked later than the ack still holds recovery off
        rec.op(op(t + 30, Outcome::Ok)).await;
        rec.op(op(t + 40, Outcome::Unknown)).await;
        assert_eq!(w.poll(), Seen::Nothing);
        rec.op(op(t + 50, Outcome::Ok)).await;
        assert_eq!(w.poll(), Seen::Recovered);
        assert!(w.held_for(0) && !w.held_for(60_000));
        // a write invoked during the outage that times out late does not undo it
        rec.op(op(t + 20, Outcome::Unknown)).await;
        assert_eq!(w.poll(), Seen::Nothing);
        // one invoked after it does
        rec.op(op(t + 60, Outcome::Fail)).await;
        assert_eq!(w.poll(), Seen::Relapsed);
        assert!(!w.held_for(0));
        // one client failing among others writing: a failure invoked after the write that
        // made them count as writing undoes it, though another's ack was invoked later still
        rec.op(op(t + 70, Outcome::Ok)).await;
        assert_eq!(w.poll(), Seen::Recovered);
        rec.op(op(t + 90, Outcome::Ok)).await;
        rec.op(op(t + 80, Outcome::Fail)).await;
        assert_eq!(w.poll(), Seen::Relapsed);
        assert_eq!(w.poll(), Seen::Recovered, "the later ack counts once the failure is behind it");
        assert_eq!(w.relapses, 2);
        drop((w, rec));
        recorder.finish().await.unwrap();
    }

    #[tokio::test]
    async fn writes_the_replaced_primary_acknowledges_after_a_promotion_are_no_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let header = Entry::Header { scenario: "t".into(), run_id: "r".into(), wall_clock_anchor: String::new(), services: Vec::new() };
        let (recorder, rec) = Recorder::start(&dir.path().join("h.jsonl.zst"), crate::clock::Clock::start(), header).unwrap();
        rec.event(EventKind::WorkloadStart, None, Some("n1"), "").await;
        let mut w = ClientsRecovery::new(rec.clone(), false);
        let t = w.since_ns;
        let on = |node: &str, at: u64, outcome: Outcome| Op { node: Some(node.into()), ..op(at, outcome) };
        // the paused primary wakes and acknowledges: the clients look recovered
        rec.op(on("n1", t + 10, Outcome::Fail)).await;
        rec.op(on("n1", t + 20, Outcome::Ok)).await;
        assert_eq!(w.poll(), Seen::Recovered);
        // the orchestrator promoted n3 meanwhile: n1's acknowledgements no longer count
        rec.event(EventKind::OrchestratorPromoted, None, Some("n3"), "").await;
        rec.op(on("n1", t + 30, Outcome::Ok)).await;
        assert_eq!(w.poll(), Seen::Relapsed);
        assert_eq!(w.poll(), Seen::Nothing);
        // n1 turned into a replica refuses; the clients reach n3
        rec.op(on("n1", t + 40, Outcome::Fail)).await;
        rec.op(on("n3", t + 50, Outcome::Ok)).await;
        assert_eq!(w.poll(), Seen::Recovered);
        drop((w, rec));
        recorder.finish().await.unwrap();
    }

    #[tokio::test]
    async fn clients_each_on_their_own_node_recover_when_every_writer_does() {
        let dir = tempfile::tempdir().unwrap();
        let header = Entry::Header { scenario: "t".into(), run_id: "r".into(), wall_clock_anchor: String::new(), services: Vec::new() };
        let (recorder, rec) = Recorder::start(&dir.path().join("h.jsonl.zst"), crate::clock::Clock::start(), header).unwrap();
        let mut w = ClientsRecovery::new(rec.clone(), true);
        let t = w.since_ns;
        let by = |writer: u32, at: u64, outcome: Outcome, key: Option<u32>| Op { writer, key, ..op(at, outcome) };
        // writer 1's node refuses; writer 0's acknowledgements do not make the clients write
        rec.op(by(0, t + 10, Outcome::Ok, None)).await;
        rec.op(by(1, t + 20, Outcome::Fail, None)).await;
        rec.op(by(0, t + 30, Outcome::Ok, None)).await;
        assert_eq!(w.poll(), Seen::Nothing);
        // an update refused by a conflict is no outage
        rec.op(by(1, t + 40, Outcome::Ok, None)).await;
        rec.op(by(0, t + 50, Outcome::Fail, Some(3))).await;
        assert_eq!(w.poll(), Seen::Recovered);
        drop((w, rec));
        recorder.finish().await.unwrap();
    }
}
