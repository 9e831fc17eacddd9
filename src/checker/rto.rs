//! RTO: from the moment the fault took effect for the clients to the invoke time of the
//! first ok write after which writes stay available. (An ok write the read-back proves
//! lost reaches here as a failed one: `analysis.rs`.) "Stay available" = among the writes invoked in the
//! `stable_window_ms` starting at that write, none is `fail` and at least
//! `stable_ok_ratio` are `ok`; the window must end before the workload stopped.
//!
//! With no fault at all (the outage came from outside the drill), RTO counts from the
//! outage's start as the clients saw it (the invoke time of the first write that did not
//! succeed) and `basis` says so; RTO is never counted from the workload's start.
//!
//! "Took effect" is estimated, as the clients saw it, by the invoke time of the first write
//! that did not succeed, clamped to [requested, applied]: no earlier than drdrill asked for
//! the fault, no later than the engine reported it applied (a `docker exec` of iptables
//! takes tens of ms, a kill ~20 ms). A fault with no applied time (evidence written before
//! it was recorded) counts from its request, as before.
//!
//! `outage_ms`, for every drill, is what the clients saw: from the last acknowledgement
//! before the outage began to the recovery point.
//!
//! "The fault" is the one the failover answered (else the first injected), unless writes
//! were already unavailable when it hit: then RTO counts from the earlier fault after
//! which writes never became available again (e.g. a replication cut that stalls
//! synchronous commits, followed by a primary kill). Before the answered fault, a point
//! is "available" by the same window rule, the window cut short at the answered fault.
use crate::clock::ms;
use crate::history::Outcome;
use serde::Serialize;

/// What RTO counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtoBasis {
    /// When a fault took effect for the clients (the answered one, or an earlier one already
    /// in effect): its first failed write, clamped to [requested, applied].
    Fault,
    #[default]
    /// No fault was injected: the client-observed start of the outage.
    OutageStart,
    /// The read RTO only: the reads went on succeeding after the fault took effect; their
    /// outage that followed counts from their first failed read at or after it
    /// (`read_rto.rs`).
    ReadsOutage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct RtoResult {
    /// What `from_ms` is.
    pub basis: RtoBasis,
    /// Client-observed outage: last acknowledgement before the outage began -> recovery
    /// point. None without an outage, or when writes never recovered.
    pub outage_ms: Option<f64>,
    /// Completion time of the last acknowledged write before the outage began.
    pub last_ack_before_outage_ms: Option<f64>,
    /// None: writes never became available again before the workload stopped, or (with
    /// `no_rto_because`) there was nothing to recover from.
    pub rto_ms: Option<f64>,
    /// Why there is no RTO although writes never stopped: no fault hit this service (in
    /// a drill of several, the untouched ones) and its clients saw no outage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_rto_because: Option<String>,
    /// False when no write completed non-ok at or after the fault.
    pub outage_observed: bool,
    /// Drill time of the write that marks recovery.
    pub recovered_at_ms: Option<f64>,
    /// First non-ok write's invoke time (start of the client-visible outage).
    pub outage_start_ms: Option<f64>,
    /// Non-ok writes invoked after the recovery point (flapping after recovery).
    pub relapses: u64,
    /// Drill time RTO counts from: when the answered fault (or an earlier one, when writes
    /// were already unavailable at the answered fault) took effect for the clients.
    pub from_ms: f64,
    /// When drdrill asked for that fault (None: no fault). `from_ms - fault_requested_ms` is
    /// the time the fault took to take effect.
    #[serde(default)]
    pub fault_requested_ms: Option<f64>,
    /// Longest time without an acknowledgement: between two consecutive ones, or from the
    /// last one to the end of the workload (its start when none came), when it began, and
    /// whether it ran to the end.
    pub longest_gap_ms: f64,
    pub longest_gap_start_ms: f64,
    #[serde(default)]
    pub longest_gap_to_end: bool,
}

/// The ops sorted by invoke time, as (invoke_ns, outcome, complete_ns), read from the start
/// as often as asked (the checker keeps them on disk, not in memory).
pub trait SortedOps: Fn() -> Self::Iter {
    type Iter: Iterator<Item = (u64, Outcome, u64)>;
}

impl<F: Fn() -> I, I: Iterator<Item = (u64, Outcome, u64)>> SortedOps for F {
    type Iter = I;
}

/// A window [t, t + width) sliding over ops sorted by invoke time: `q` holds the ops from
/// the current one (i) to the window's end (j), `n`, `ok`, `fail` count them.
struct Window<I: Iterator<Item = (u64, Outcome, u64)>> {
    rest: std::iter::Peekable<I>,
    q: std::collections::VecDeque<(u64, Outcome)>,
    width: u64,
    n: u64,
    ok: u64,
    fail: u64,
}

impl<I: Iterator<Item = (u64, Outcome, u64)>> Window<I> {
    fn new(rest: I, width: u64) -> Self {
        Window { rest: rest.peekable(), q: Default::default(), width, n: 0, ok: 0, fail: 0 }
    }

    /// The next op (i), without moving the window's end.
    fn current(&mut self) -> Option<(u64, Outcome)> {
        if self.q.is_empty() {
            let (t, o, _) = self.rest.next()?;
            self.q.push_back((t, o));
            self.count(o, true);
        }
        self.q.front().copied()
    }

    /// Extends the window to every op invoked before `t + width` (op i is in it: width ≥ 1).
    fn extend(&mut self, t: u64) {
        while let Some(&(u, o, _)) = self.rest.peek().filter(|x| x.0 < t.saturating_add(self.width)) {
            self.rest.next();
            self.q.push_back((u, o));
            self.count(o, true);
        }
    }

    /// Whether op i is available: ok, no failure in its window, enough ok writes.
    fn available(&self, o: Outcome, ok_ratio: f64) -> bool {
        o == Outcome::Ok && self.fail == 0 && (self.ok as f64) >= ok_ratio * self.n as f64
    }

    /// Op i leaves the window.
    fn leave(&mut self) {
        if let Some((_, o)) = self.q.pop_front() {
            self.count(o, false);
        }
    }

    fn count(&mut self, o: Outcome, add: bool) {
        let (ok, fail) = ((o == Outcome::Ok) as u64, (o == Outcome::Fail) as u64);
        if add {
            (self.n, self.ok, self.fail) = (self.n + 1, self.ok + ok, self.fail + fail);
        } else {
            (self.n, self.ok, self.fail) = (self.n - 1, self.ok - ok, self.fail - fail);
        }
    }

    /// Non-ok ops from op i on, to the end.
    fn not_ok_left(self) -> u64 {
        let queued = self.q.iter().filter(|x| x.1 != Outcome::Ok).count();
        (queued + self.rest.filter(|x| x.1 != Outcome::Ok).count()) as u64
    }
}

/// A fault as RTO counts from it: asked for at `at_ns`, reported applied at `applied_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultTime {
    pub at_ns: u64,
    pub applied_ns: Option<u64>,
}

impl FaultTime {
    /// When the fault took effect for the clients, given the invoke time of their first
    /// write that did not succeed: that time, clamped to [requested, applied].
    pub(super) fn effect(&self, first_bad_ns: u64) -> u64 {
        let applied = self.applied_ns.unwrap_or(self.at_ns).max(self.at_ns);
        first_bad_ns.clamp(self.at_ns, applied)
    }
}

/// The earliest of `injects` (fault times before `fault_ns`) after which no point was
/// available before `fault_ns`; else `fault_ns`.
fn outage_anchor(ops: &impl SortedOps, injects: &[FaultTime], fault: FaultTime, window_ns: u64, ok_ratio: f64) -> FaultTime {
    let fault_ns = fault.at_ns;
    let Some(first) = injects.iter().map(|f| f.at_ns).filter(|&t| t < fault_ns).min() else { return fault };
    let range = ops().skip_while(|o| o.0 < first).take_while(|o| o.0 < fault_ns);
    let mut w = Window::new(range, window_ns);
    // the last available point before the answered fault
    let mut last_available: Option<u64> = None;
    while let Some((t, o)) = w.current() {
        w.extend(t);
        if w.available(o, ok_ratio) {
            last_available = Some(t);
        }
        w.leave();
    }
    let after = last_available.unwrap_or(0);
    injects
        .iter()
        .copied()
        .filter(|f| f.at_ns < fault_ns && (last_available.is_none() || f.at_ns > after))
        .min_by_key(|f| f.at_ns)
        .unwrap_or(fault)
}

/// `ops`: sorted by invoke time; `acks`: completion times of ok ops, sorted; `injects`:
/// every fault injected; `fault`: the fault measured from, None when no fault was injected;
/// `(stop_ns, end_ns)`: the workload's stop (a recovery's stable window must end before it),
/// and its end (the stop, or its last op's completion if later: the longest gap runs to it).
pub fn rto<A: Iterator<Item = u64>>(
    ops: &impl SortedOps,
    acks: impl Fn() -> A,
    injects: &[FaultTime],
    fault: Option<FaultTime>,
    (stop_ns, end_ns): (u64, u64),
    window_ns: u64,
    ok_ratio: f64,
) -> RtoResult {
    let anchor = fault.map(|f| outage_anchor(ops, injects, f, window_ns, ok_ratio));
    let mut res = RtoResult::before_outage(fault.is_some(), anchor, longest_gap(acks(), end_ns));
    let fault_ns = anchor.map_or(0, |f| f.at_ns);
    let Some(first_bad) = outage_start(ops, fault_ns) else {
        return res;
    };
    res.outage_observed = true;
    res.outage_start_ms = Some(ms(first_bad));
    let last_ack = acks().take_while(|&t| t <= first_bad).last();
    res.last_ack_before_outage_ms = last_ack.map(ms);
    // no fault: the outage's own start is the only honest anchor
    let start_ns = anchor.map_or(first_bad, |f| f.effect(first_bad));
    res.from_ms = ms(start_ns);
    let Some((t, relapses)) = recovery_point(ops, first_bad.max(start_ns), stop_ns, window_ns, ok_ratio) else {
        res.rto_ms = None;
        return res;
    };
    res.rto_ms = Some(ms(t.saturating_sub(start_ns)));
    res.recovered_at_ms = Some(ms(t));
    res.outage_ms = Some(ms(t.saturating_sub(last_ack.unwrap_or(first_bad))));
    res.relapses = relapses;
    res
}

/// The longest time without an acknowledgement, when it began, and whether it ran to the
/// workload's end (`end_ns`): between two consecutive acknowledgements, or from the last one
/// to the end (a service that stopped acknowledging for good was without one until the
/// end); from the workload's start (0) to its end when none came. A later gap wins only
/// when it is longer.
pub(super) fn longest_gap(acks: impl Iterator<Item = u64>, end_ns: u64) -> Gap {
    let (mut best, mut prev) = (Gap::default(), None);
    for t in acks {
        if let Some(p) = prev
            && t - p > best.ns
        {
            best = Gap { ns: t - p, start_ns: p, to_end: false };
        }
        prev = Some(t);
    }
    let last = prev.unwrap_or(0);
    if end_ns.saturating_sub(last) > best.ns {
        best = Gap { ns: end_ns - last, start_ns: last, to_end: true };
    }
    best
}

/// A span without an acknowledgement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Gap {
    pub(super) ns: u64,
    pub(super) start_ns: u64,
    /// It ran to the end of the workload: no acknowledgement came after it began.
    pub(super) to_end: bool,
}

impl RtoResult {
    /// What RTO says before looking for an outage: counted from `anchor`'s request (0
    /// without a fault), RTO 0, no outage seen; the longest gap without an acknowledgement.
    fn before_outage(fault: bool, anchor: Option<FaultTime>, gap: Gap) -> RtoResult {
        RtoResult {
            basis: if fault { RtoBasis::Fault } else { RtoBasis::OutageStart },
            outage_ms: None,
            last_ack_before_outage_ms: None,
            rto_ms: Some(0.0),
            no_rto_because: None,
            outage_observed: false,
            recovered_at_ms: None,
            outage_start_ms: None,
            relapses: 0,
            from_ms: ms(anchor.map_or(0, |f| f.at_ns)),
            fault_requested_ms: anchor.map(|f| ms(f.at_ns)),
            longest_gap_ms: ms(gap.ns),
            longest_gap_start_ms: ms(gap.start_ns),
            longest_gap_to_end: gap.to_end,
        }
    }
}

/// The outage's start: the invoke time of the earliest-invoked write that ended non-ok at
/// or after `fault_ns` (a write in flight at the fault counts); None without one.
fn outage_start(ops: &impl SortedOps, fault_ns: u64) -> Option<u64> {
    ops().find(|&(_, o, done)| o != Outcome::Ok && done >= fault_ns).map(|o| o.0)
}

/// The recovery point: the first write invoked at or after `from` whose stable window is
/// available and ends by `stop_ns`, with the non-ok writes from it on (relapses); None when
/// writes never became available again before the workload stopped.
fn recovery_point(ops: &impl SortedOps, from: u64, stop_ns: u64, window_ns: u64, ok_ratio: f64) -> Option<(u64, u64)> {
    // sliding window [t, t + window) over the ops invoked from `from` on
    let mut w = Window::new(ops().skip_while(|o| o.0 < from), window_ns);
    while let Some((t, o)) = w.current() {
        if t.saturating_add(window_ns) > stop_ns {
            break;
        }
        w.extend(t);
        if w.available(o, ok_ratio) {
            return Some((t, w.not_ok_left()));
        }
        w.leave();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_longest_gap_runs_to_the_end_when_no_acknowledgement_came_after_it() {
        let gap = |acks: &[u64], end: u64| longest_gap(acks.iter().map(|t| t * MS), end * MS);
        // 23 ms between two acknowledgements, then none for the last 30 s
        let acks = [100, 110, 133, 140];
        assert_eq!(gap(&acks, 30_140), Gap { ns: 30_000 * MS, start_ns: 140 * MS, to_end: true });
        // a tail shorter than the longest gap between two leaves that gap the longest
        assert_eq!(gap(&acks, 150), Gap { ns: 23 * MS, start_ns: 110 * MS, to_end: false });
        // an equal tail does not take its place; no acknowledgement at all: the whole workload
        assert_eq!(gap(&acks, 163), Gap { ns: 23 * MS, start_ns: 110 * MS, to_end: false });
        assert_eq!(gap(&[], 5000), Gap { ns: 5000 * MS, start_ns: 0, to_end: true });
        assert_eq!(gap(&[], 0), Gap::default());
    }
}
