//! RTO: from the fault's injection to the invoke time of the first ok write after which
//! writes stay available. "Stay available" = among the writes invoked in the
//! `stable_window_ms` starting at that write, none is `fail` and at least
//! `stable_ok_ratio` are `ok`; the window must end before the workload stopped.
//!
//! With no fault at all (the outage came from outside the drill), RTO counts from the
//! outage's start as the clients saw it (the invoke time of the first write that did not
//! succeed) and `basis` says so; RTO is never counted from the workload's start.
//!
//! `outage_ms`, for every drill, is what the clients saw: from the last acknowledgement
//! before the outage began to the recovery point.
//!
//! "The fault" is the one the failover answered (else the first injected), unless writes
//! were already unavailable when it hit: then RTO counts from the earlier fault after
//! which writes never became available again (e.g. a replication cut that stalls
//! synchronous commits, followed by a primary kill). Before the answered fault, a point
//! is "available" by the same window rule, the window cut short at the answered fault.
use crate::history::Outcome;
use serde::Serialize;

/// What RTO counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtoBasis {
    /// A fault's injection (the answered one, or an earlier one already in effect).
    Fault,
    /// No fault was injected: the client-observed start of the outage.
    OutageStart,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RtoResult {
    /// What `from_ms` is.
    pub basis: RtoBasis,
    /// Client-observed outage: last acknowledgement before the outage began -> recovery
    /// point. None without an outage, or when writes never recovered.
    pub outage_ms: Option<f64>,
    /// Completion time of the last acknowledged write before the outage began.
    pub last_ack_before_outage_ms: Option<f64>,
    /// None: writes never became available again before the workload stopped.
    pub rto_ms: Option<f64>,
    /// False when no write completed non-ok at or after the fault.
    pub outage_observed: bool,
    /// Drill time of the write that marks recovery.
    pub recovered_at_ms: Option<f64>,
    /// First non-ok write's invoke time (start of the client-visible outage).
    pub outage_start_ms: Option<f64>,
    /// Non-ok writes invoked after the recovery point (flapping after recovery).
    pub relapses: u64,
    /// Drill time RTO counts from: the answered fault's injection, or an earlier fault's
    /// when writes were already unavailable at the answered fault.
    pub from_ms: f64,
    /// Longest time between two consecutive acknowledgements, anywhere in the drill.
    pub longest_gap_ms: f64,
    pub longest_gap_start_ms: f64,
}

/// Ops sorted by invoke time. The earliest of `injects` (fault times before `fault_ns`)
/// after which no point was available before `fault_ns`; else `fault_ns`.
fn outage_anchor(ops: &[(u64, Outcome, u64)], injects: &[u64], fault_ns: u64, window_ns: u64, ok_ratio: f64) -> u64 {
    let Some(&first) = injects.iter().filter(|&&t| t < fault_ns).min() else { return fault_ns };
    let start = ops.partition_point(|o| o.0 < first);
    let end = ops.partition_point(|o| o.0 < fault_ns);
    // the last available point before the answered fault
    let mut last_available: Option<u64> = None;
    let (mut j, mut n, mut ok, mut fail) = (start, 0u64, 0u64, 0u64);
    for i in start..end {
        let t = ops[i].0;
        while j < end && ops[j].0 < t + window_ns {
            n += 1;
            ok += (ops[j].1 == Outcome::Ok) as u64;
            fail += (ops[j].1 == Outcome::Fail) as u64;
            j += 1;
        }
        if ops[i].1 == Outcome::Ok && fail == 0 && (ok as f64) >= ok_ratio * n as f64 {
            last_available = Some(t);
        }
        n -= 1;
        ok -= (ops[i].1 == Outcome::Ok) as u64;
        fail -= (ops[i].1 == Outcome::Fail) as u64;
    }
    let after = last_available.unwrap_or(0);
    injects.iter().copied().filter(|&t| t < fault_ns && (last_available.is_none() || t > after)).min().unwrap_or(fault_ns)
}

/// `ops`: (invoke_ns, outcome, complete_ns), in any order (left sorted by invoke time);
/// `acks`: completion times of ok ops; `injects`: every fault injection time; `fault_ns`:
/// the fault measured from, None when no fault was injected.
pub fn rto(
    ops: &mut [(u64, Outcome, u64)],
    mut acks: Vec<u64>,
    injects: &[u64],
    fault: Option<u64>,
    stop_ns: u64,
    window_ns: u64,
    ok_ratio: f64,
) -> RtoResult {
    let ms = |ns: u64| ns as f64 / 1e6;
    acks.sort_unstable();
    let (mut gap, mut gap_start) = (0u64, 0u64);
    for w in acks.windows(2) {
        if w[1] - w[0] > gap {
            gap = w[1] - w[0];
            gap_start = w[0];
        }
    }
    let fault_ns = fault.unwrap_or(0);
    let mut res = RtoResult {
        basis: if fault.is_some() { RtoBasis::Fault } else { RtoBasis::OutageStart },
        outage_ms: None,
        last_ack_before_outage_ms: None,
        rto_ms: Some(0.0),
        outage_observed: false,
        recovered_at_ms: None,
        outage_start_ms: None,
        relapses: 0,
        from_ms: ms(fault_ns),
        longest_gap_ms: ms(gap),
        longest_gap_start_ms: ms(gap_start),
    };
    ops.sort_unstable_by_key(|o| o.0);
    let fault_ns = outage_anchor(ops, injects, fault_ns, window_ns, ok_ratio);
    res.from_ms = ms(fault_ns);
    // the outage starts with the first write invoked earliest among those that ended non-ok
    // at or after the fault (a write in flight at the fault counts)
    let first_bad = ops.iter().filter(|(_, o, done)| *o != Outcome::Ok && *done >= fault_ns).map(|o| o.0).min();
    let Some(first_bad) = first_bad else {
        return res;
    };
    res.outage_observed = true;
    res.outage_start_ms = Some(ms(first_bad));
    let last_ack = acks.partition_point(|&t| t <= first_bad).checked_sub(1).map(|i| acks[i]);
    res.last_ack_before_outage_ms = last_ack.map(ms);
    // no fault: the outage's own start is the only honest anchor
    let fault_ns = if fault.is_some() { fault_ns } else { first_bad };
    res.from_ms = ms(fault_ns);
    let from = first_bad.max(fault_ns);
    let start = ops.partition_point(|o| o.0 < from);
    // sliding window [ops[i].0, ops[i].0 + window) over the sorted ops
    let (mut j, mut n, mut ok, mut fail) = (start, 0u64, 0u64, 0u64);
    for i in start..ops.len() {
        let t = ops[i].0;
        if t + window_ns > stop_ns {
            break;
        }
        while j < ops.len() && ops[j].0 < t + window_ns {
            n += 1;
            ok += (ops[j].1 == Outcome::Ok) as u64;
            fail += (ops[j].1 == Outcome::Fail) as u64;
            j += 1;
        }
        if ops[i].1 == Outcome::Ok && fail == 0 && (ok as f64) >= ok_ratio * n as f64 {
            res.rto_ms = Some(ms(t.saturating_sub(fault_ns)));
            res.recovered_at_ms = Some(ms(t));
            res.outage_ms = Some(ms(t.saturating_sub(last_ack.unwrap_or(first_bad))));
            res.relapses = ops[i..].iter().filter(|o| o.1 != Outcome::Ok).count() as u64;
            return res;
        }
        // slide: ops[i] leaves the window
        n -= 1;
        ok -= (ops[i].1 == Outcome::Ok) as u64;
        fail -= (ops[i].1 == Outcome::Fail) as u64;
    }
    res.rto_ms = None;
    res
}
