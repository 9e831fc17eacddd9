//! Latency of acknowledged writes, per phase of the drill.
//!
//! The latency of a write is `complete - invoke`; only `ok` writes count, and each write
//! belongs to the phase its *invoke* time falls in. Phases are half-open intervals on the
//! drill clock:
//!
//! - fault start = the first `fault-inject` event. A drill without one has a single phase,
//!   `whole_drill` = [0, workload stop), and nothing else.
//! - `before_fault` = [0, fault start).
//! - fault end = the `failover-start` event if there is one; otherwise the last `fault-heal`
//!   event if any fault was healed; otherwise the RTO recovery point (`recovered_at_ms`) if
//!   writes recovered; otherwise the workload stop.
//! - `during_fault` = [fault start, fault end).
//! - `failover`, only when there is a `failover-start` = [failover start, recovery point,
//!   or the workload stop if writes never recovered).
//! - `after_recovery` = [max(fault end, recovery point if any, end of `failover` if any),
//!   workload stop). Writes invoked between a heal and a later recovery point are in no phase.
//!
//! Boundaries are clamped to [0, workload stop] and never run backwards; a phase whose
//! interval is empty is left out. A phase with no `ok` write is kept, with its figures null.
//!
//! Latencies are recorded in an HDR histogram in microseconds with 3 significant digits
//! (up to 1 hour; longer ones count as 1 hour): p50 / p95 / p99 are exact to 0.1 % (and never
//! above the maximum); the maximum and the mean are exact.
use crate::history::{Event, EventKind, Outcome};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms resolve, in µs (1 hour).
const HIGHEST_US: u64 = 3_600_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyPhase {
    /// The drill had no fault.
    WholeDrill,
    BeforeFault,
    DuringFault,
    Failover,
    AfterRecovery,
}

impl LatencyPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyPhase::WholeDrill => "whole_drill",
            LatencyPhase::BeforeFault => "before_fault",
            LatencyPhase::DuringFault => "during_fault",
            LatencyPhase::Failover => "failover",
            LatencyPhase::AfterRecovery => "after_recovery",
        }
    }
}

impl std::fmt::Display for LatencyPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Latency of the `ok` writes invoked in one phase; figures are null when there were none.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PhaseLatency {
    pub phase: LatencyPhase,
    pub from_ms: f64,
    pub to_ms: f64,
    pub ok_ops: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

/// The drill's phases as (phase, from_ns, to_ns), in order, empty ones left out.
/// `recovered_ns`: the RTO recovery point; `stop_ns`: the workload stop.
pub fn phases(events: &[Event], recovered_ns: Option<u64>, stop_ns: u64) -> Vec<(LatencyPhase, u64, u64)> {
    let first = |k: EventKind| events.iter().filter(|e| e.kind == k).map(|e| e.t_ns).min();
    let clamp = |t: u64| t.min(stop_ns);
    let Some(fault) = first(EventKind::FaultInject).map(clamp) else {
        return if stop_ns > 0 { vec![(LatencyPhase::WholeDrill, 0, stop_ns)] } else { vec![] };
    };
    let recovered = recovered_ns.map(clamp);
    let failover = first(EventKind::FailoverStart).map(|t| clamp(t).max(fault));
    let last_heal = events.iter().filter(|e| e.kind == EventKind::FaultHeal).map(|e| e.t_ns).max();
    let fault_end = clamp(failover.or(last_heal).or(recovered).unwrap_or(stop_ns)).max(fault);
    let mut p = vec![(LatencyPhase::BeforeFault, 0, fault), (LatencyPhase::DuringFault, fault, fault_end)];
    let mut after = fault_end.max(recovered.unwrap_or(0));
    if let Some(start) = failover {
        let end = recovered.unwrap_or(stop_ns);
        p.push((LatencyPhase::Failover, start, end));
        after = after.max(end);
    }
    p.push((LatencyPhase::AfterRecovery, after, stop_ns));
    p.retain(|&(_, from, to)| from < to);
    p
}

/// Per-phase latency of the `ok` ops, fed one at a time as (invoke_ns, outcome, complete_ns),
/// in any order.
pub struct PhaseLatencies {
    phases: Vec<(LatencyPhase, u64, u64)>,
    acc: Vec<Acc>,
}

impl PhaseLatencies {
    pub fn new(events: &[Event], recovered_ns: Option<u64>, stop_ns: u64) -> Self {
        let phases = phases(events, recovered_ns, stop_ns);
        let acc = phases.iter().map(|_| Acc::new()).collect();
        PhaseLatencies { phases, acc }
    }

    pub fn add(&mut self, invoke: u64, outcome: Outcome, complete: u64) {
        if outcome != Outcome::Ok {
            return;
        }
        if let Some(i) = self.phases.iter().position(|&(_, from, to)| from <= invoke && invoke < to) {
            self.acc[i].record(complete.saturating_sub(invoke));
        }
    }

    pub fn finish(self) -> Vec<PhaseLatency> {
        self.phases.into_iter().zip(self.acc).map(|((phase, from, to), a)| a.summary(phase, from, to)).collect()
    }
}

/// One phase's histogram, plus the exact maximum and sum.
struct Acc {
    hist: Histogram<u64>,
    max_ns: u64,
    sum_ns: u128,
}

impl Acc {
    fn new() -> Acc {
        let hist = Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant histogram bounds are valid");
        Acc { hist, max_ns: 0, sum_ns: 0 }
    }

    fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns / 1_000);
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += ns as u128;
    }

    fn summary(&self, phase: LatencyPhase, from_ns: u64, to_ns: u64) -> PhaseLatency {
        let n = self.hist.len();
        // a histogram reports a bucket's highest value: never above the exact maximum
        let q = |q: f64| (n > 0).then(|| (self.hist.value_at_quantile(q) as f64 / 1e3).min(self.max_ns as f64 / 1e6));
        PhaseLatency {
            phase,
            from_ms: from_ns as f64 / 1e6,
            to_ms: to_ns as f64 / 1e6,
            ok_ops: n,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: (n > 0).then(|| self.max_ns as f64 / 1e6),
            mean_ms: (n > 0).then(|| self.sum_ns as f64 / n as f64 / 1e6),
        }
    }
}
