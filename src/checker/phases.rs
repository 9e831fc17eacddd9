//! RTO split into what the orchestrator and the clients did: fault → detected → promoted →
//! rerouted → recovered, each phase with its duration and the budget the settings imply.
//! A phase the drill did not observe is null, never guessed.
use super::ack_runs::AckRuns;
use super::steps::Observed;
use crate::clock::ms;
use crate::history::Event;
use crate::stack::Budgets;
use crate::stack::PhaseSteps as Steps;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Phases {
    pub orchestrator: String,
    pub old_primary: Option<String>,
    pub new_primary: Option<String>,
    /// Drill times (ms) of each step; the fault's is when it took effect for the clients
    /// (RTO's start), so that the phases add up to the RTO.
    pub fault_ms: Option<f64>,
    pub detected_ms: Option<f64>,
    /// The earliest evidence that the new primary took writes: the watcher seeing it
    /// writable, or its first acknowledgement if that came first (`promoted_by`).
    pub promoted_ms: Option<f64>,
    pub promoted_by: Option<String>,
    /// When the clients got in first: how much later the watcher saw the promotion (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher_late_ms: Option<f64>,
    /// When the clients' first write to the new primary began before the step the reroute
    /// starts from (the promotion seen, or the first cache run out) and waited for it: how
    /// long before (ms). The reroute is then 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerouted_early_ms: Option<f64>,
    /// When the clients' endpoint (MHA's VIP) first reached the new primary; null for
    /// stacks without one. MHA moves the VIP before it makes the new master writable.
    pub moved_ms: Option<f64>,
    /// Invoke time of the first write the new primary acknowledged (RTO counts invokes), and
    /// when it was acknowledged: a write queued by the proxy may be invoked before the
    /// promotion, but is acknowledged after it.
    pub rerouted_ms: Option<f64>,
    pub rerouted_ack_ms: Option<f64>,
    pub recovered_ms: Option<f64>,
    /// Durations (ms): fault → detected, detected → promoted, promoted → rerouted,
    /// rerouted → recovered (RTO's recovery point).
    pub detection_ms: Option<f64>,
    pub promotion_ms: Option<f64>,
    pub reroute_ms: Option<f64>,
    pub stabilization_ms: Option<f64>,
    /// With the drill's DNS: when the service's record moved to the new primary; when the
    /// first client's cache holding the old address ran out (each client's latest answer of
    /// the old address before the move, plus the TTL; the move itself when none was still
    /// cached), the first client that could follow; and when the last one's did, every
    /// client following.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_moved_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_cache_expired_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caches_expired_ms: Option<f64>,
    /// promoted → DNS moved, DNS moved → the first cache expired (the reroute is then that
    /// → the first acknowledged write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_update_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_wait_ms: Option<f64>,
    pub budgets: Budgets,
}

/// The failover the phases split, as its recovery reported it.
#[derive(Debug, Clone)]
pub struct Failover<'a> {
    /// Who recovered: the orchestrator's name, or drdrill's own recovery's.
    pub orchestrator: &'a str,
    /// A switchover: nothing is detected, the old leader releasing its key is part of the
    /// handover, so that phase is null.
    pub planned: bool,
    /// The fault the recovery answered.
    pub fault: Option<usize>,
    pub old_primary: Option<String>,
    /// The node it promoted.
    pub new_primary: Option<String>,
    /// What each phase may take, given the recovery's settings.
    pub budgets: Budgets,
    /// Whose steps the phases follow.
    pub steps: Steps,
}

/// The phases of `failover`, read from the events and from where acknowledgements came
/// from (`runs`); `rto` is RTO's span: when the fault took effect for the clients, and the
/// recovery point.
/// A phase that took longer than its settings allow.
#[derive(Debug, Clone, PartialEq)]
pub struct OverBudget {
    pub phase: &'static str,
    pub took_ms: f64,
    pub budget_ms: f64,
    /// The setting the budget comes from.
    pub from: String,
}

impl Phases {
    /// The reroute's budget: none when the clients find the primary through the drill's
    /// DNS and resolve it once (they wait for no cache, and never follow the record).
    pub fn reroute_budget_ms(&self) -> Option<f64> {
        if self.dns_moved_ms.is_some() && self.first_cache_expired_ms.is_none() { None } else { self.budgets.reroute_ms }
    }

    /// Each phase longer than its budget, in the phases' order.
    pub fn over_budget(&self) -> Vec<OverBudget> {
        let b = &self.budgets;
        let each = [
            ("detection", self.detection_ms, b.detection_ms, &b.detection_from),
            ("promotion", self.promotion_ms, b.promotion_ms, &b.promotion_from),
            ("reroute", self.reroute_ms, self.reroute_budget_ms(), &b.reroute_from),
            ("waiting for the DNS TTL", self.ttl_wait_ms, b.ttl_ms, &b.ttl_from),
        ];
        each.into_iter()
            .filter_map(|(phase, took, budget, from)| {
                let (took_ms, budget_ms) = (took?, budget?);
                (took_ms > budget_ms).then(|| OverBudget { phase, took_ms, budget_ms, from: from.clone() })
            })
            .collect()
    }
}

pub fn phases(failover: Failover, events: &[Event], runs: &AckRuns, rto: (f64, Option<f64>)) -> Phases {
    let f = &failover;
    let seen = Observed::in_history(f.planned, events, f.fault, f.new_primary.as_deref(), runs, f.steps);
    phases_between(seen, failover, rto)
}

/// The phases between the steps the drill observed, in drill ms: the fault's time is RTO's
/// start and the recovery RTO's recovery point (`rto`), so that the phases add up to the RTO.
fn phases_between(seen: Observed, failover: Failover, rto: (f64, Option<f64>)) -> Phases {
    let Failover { orchestrator, old_primary: old, new_primary: new, budgets, .. } = failover;
    let (from_ms, recovered_ms) = rto;
    let span = |a: Option<u64>, b: Option<u64>| Some(ms(b?) - ms(a?));
    let rerouted = seen.first.map(|r| r.invoke_ns);
    // the phases split RTO's span, which ends at a write's start: when the clients' first
    // write to the new primary began before a step was seen (the promotion, the DNS record's
    // move, the first cache running out) and waited for it, the phase ending at that step
    // ends where the write began, and the reroute is 0 (clamped: never negative);
    // `rerouted_early_ms` says how long the write waited, and the steps' times stay the
    // evidence. So the phases always add up to the RTO
    let until_rerouted = |t: Option<u64>| match (t, rerouted) {
        (Some(t), Some(r)) => Some(t.min(r)),
        (t, _) => t,
    };
    // a write through a forwarder (Keepalived's VIP) may even begin before the detection
    // was seen, waiting in the forwarder's connect: the detection then ends there too
    let detection_end = until_rerouted(seen.detected);
    let (promotion_end, moved_end) = (until_rerouted(seen.promoted), until_rerouted(seen.dns_moved));
    let expired_end = until_rerouted(seen.first_expired);
    Phases {
        orchestrator: orchestrator.to_string(),
        old_primary: old,
        new_primary: new,
        fault_ms: seen.fault_ns.map(|_| from_ms),
        detected_ms: seen.detected.map(ms),
        promoted_ms: seen.promoted.map(ms),
        promoted_by: seen.promoted_by,
        watcher_late_ms: seen.watcher_late.map(|ns| ns as f64 / 1e6),
        moved_ms: seen.moved.map(ms),
        rerouted_ms: rerouted.map(ms),
        rerouted_ack_ms: seen.first.map(|r| ms(r.ack_ns)),
        recovered_ms,
        detection_ms: seen.fault_ns.and(detection_end).map(|d| ms(d) - from_ms),
        promotion_ms: span(detection_end, promotion_end),
        // from the first cache running out; with clients that resolve once, the record's move
        reroute_ms: span(expired_end.or(moved_end).or(promotion_end), rerouted),
        rerouted_early_ms: span(rerouted, seen.first_expired.or(seen.dns_moved).or(seen.promoted)).filter(|w| *w > 0.0),
        stabilization_ms: rerouted.and_then(|r| Some(recovered_ms? - ms(r))),
        dns_moved_ms: seen.dns_moved.map(ms),
        first_cache_expired_ms: seen.first_expired.map(ms),
        caches_expired_ms: seen.expired.map(ms),
        dns_update_ms: span(promotion_end, moved_end),
        ttl_wait_ms: span(moved_end, expired_end),
        budgets,
    }
}

#[cfg(test)]
#[path = "phases_tests.rs"]
pub(super) mod tests;
