//! A failover nothing needed, and a split brain whatever moved the clients: read from each
//! service's promotions (`PromotionsReport`) beside the faults the drill injected.
//!
//! A promotion is **false** when the faults that concerned the service before it left the
//! primary it replaced alive (a pause, a partition, latency, loss, a slowed link, a skewed
//! clock, a cut-off site: no kill, stop, restart or destroy of that primary) and that
//! primary was demonstrably fine:
//! - it acknowledged client writes after the promotion while its fault was still in
//!   effect, and the fault left the clients' path to it (a partition from the
//!   orchestrator only, a slowed primary): it was answering the clients all along; or
//! - its fault healed before the promotion, or before the clients recovered through it:
//!   waiting for the primary would have been at least as quick (the 1.5 s pause that
//!   Sentinel answered 0.5 s after the primary woke).
//!
//! A planned switchover's promotion is never false, and a promotion before any fault is
//! `FailoverBeforeFault` (early.rs).
use super::Results;
use super::questions::{FaultInjected, Finding, FindingKind};
use crate::checker::Promotion;
use crate::history::{EventKind, belongs};

/// Fault kinds that leave the node they hit running.
const LEAVES_ALIVE: [&str; 13] = [
    "pause",
    "partition",
    "loss",
    "bandwidth",
    "latency",
    "jitter",
    "down",
    "timeout",
    "reset_peer",
    "isolate_site",
    "degrade_link",
    "clock_skew",
    "starve_cpu",
];

/// One finding per false promotion, and one per promotion whose old primary went on
/// acknowledging writes (a split brain; a service whose VIP holders are watched has those
/// splits already).
pub(super) fn found(r: &Results, faults: &[FaultInjected]) -> Vec<Finding> {
    let mut out = Vec::new();
    let many = r.services.len() > 1;
    for (name, sr) in r.each_service() {
        let Some(p) = &sr.promotions else { continue };
        let service = Some(name.to_string());
        for promo in &p.promotions {
            if let Some((what, evidence)) = false_failover(sr, many.then_some(name), promo, faults) {
                out.push(Finding { service: service.clone(), kind: FindingKind::FalseFailover, what, evidence });
            }
        }
        if sr.holders.as_ref().is_some_and(|h| !h.splits.is_empty()) {
            continue;
        }
        for promo in p.splits() {
            let (what, evidence) = split_words(promo);
            out.push(Finding { service: service.clone(), kind: FindingKind::SplitBrain, what, evidence });
        }
    }
    out
}

/// A fault of the service before the promotion, with when it healed (drill ms).
struct Before<'a> {
    fault: &'a FaultInjected,
    healed_ms: Option<f64>,
}

/// `(what, evidence)` when `p` was a false failover; `service`: its name in a drill of
/// several (a drill of one has every fault).
fn false_failover(r: &Results, service: Option<&str>, p: &Promotion, faults: &[FaultInjected]) -> Option<(String, String)> {
    let concerns = |f: &FaultInjected| service.is_none_or(|s| f.services.is_empty() || f.services.iter().any(|x| x == s));
    let before: Vec<Before> = faults
        .iter()
        .filter(|f| f.at_ms <= p.at_ms && concerns(f))
        .map(|f| Before { fault: f, healed_ms: healed_ms(r, service, f.index) })
        .collect();
    if before.is_empty() || before.iter().any(|b| b.fault.planned) {
        return None;
    }
    let hit_old = |b: &&Before| b.fault.nodes.is_empty() || b.fault.nodes.contains(&p.old);
    if before.iter().filter(hit_old).any(|b| !LEAVES_ALIVE.contains(&b.fault.kind.as_str())) {
        return None;
    }
    let on_old: Vec<&Before> = before.iter().filter(|b| b.fault.nodes.contains(&p.old)).collect();
    let judged: Vec<&Before> = if on_old.is_empty() { before.iter().collect() } else { on_old };
    let why = alive_why(r, p, &judged)?;
    let what = format!("false failover: {} promoted {} at t={:.1} s while {} was alive ({why})", by_words(p), p.new, p.at_ms / 1e3, p.old);
    Some((what, cost(r, p, &judged)))
}

/// Why `p.old` counts as alive at the promotion, if it does.
fn alive_why(r: &Results, p: &Promotion, judged: &[&Before]) -> Option<String> {
    let in_effect_until = judged.iter().map(|b| b.healed_ms.unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
    let reachable = !judged.iter().any(|b| clients_cut(b.fault, &p.old));
    let served = p.old_first_ack_ms.filter(|first| reachable && *first <= in_effect_until);
    if let Some(first) = served {
        return Some(format!(
            "it acknowledged {} client writes after the promotion, the first at t={:.1} s while the fault was still in effect",
            p.old_acked,
            first / 1e3
        ));
    }
    let back = judged.iter().map(|b| b.healed_ms).try_fold(0.0, |m: f64, h| h.map(|h| m.max(h)))?;
    let recovered = r.recovered_at_ms.unwrap_or(p.at_ms).max(p.at_ms);
    match back <= p.at_ms {
        true => Some(format!("back at t={:.1} s, {:.1} s before the promotion", back / 1e3, (p.at_ms - back) / 1e3)),
        false if back <= recovered => {
            Some(format!("back at t={:.1} s, before the clients recovered through the promotion at t={:.1} s", back / 1e3, recovered / 1e3))
        }
        false => None,
    }
}

/// Whether `f` may have cut the clients off from `old`: a cut-off site, a client link
/// taken down, a partition that puts the clients in a group without it. Writes `old`
/// acknowledged then came from clients it could still reach, and prove nothing about the
/// others: only a fault that left every client's path to it (a partition from the
/// orchestrator, latency, loss) counts them as the primary answering all along.
fn clients_cut(f: &FaultInjected, old: &str) -> bool {
    match f.kind.as_str() {
        "isolate_site" | "down" | "timeout" | "reset_peer" => true,
        "partition" => {
            let groups = &f.target;
            groups.split(']').filter(|g| g.contains("clients")).any(|g| !(g.contains(old) || g.contains("primary")))
        }
        _ => false,
    }
}

/// The faults, the clients' outage and the writes lost: what the failover cost.
fn cost(r: &Results, p: &Promotion, judged: &[&Before]) -> String {
    let faults: Vec<String> = judged
        .iter()
        .map(|b| {
            let healed = b.healed_ms.map_or("never healed".to_string(), |h| format!("healed t={:.1} s", h / 1e3));
            format!("{} of {} at t={:.1} s, {healed}", b.fault.kind, b.fault.target, b.fault.at_ms / 1e3)
        })
        .collect();
    let outage = match (r.outage_ms, r.rto_ms) {
        (_, Some(rto)) => format!("the clients' RTO {rto:.1} ms"),
        (Some(o), None) => format!("the clients' outage {o:.1} ms"),
        (None, None) => super::words::not_recovered_text(r),
    };
    let lost = r.lost_writes.map_or("lost writes unknown (nothing read back)".to_string(), |n| format!("{n} acknowledged writes lost"));
    let split = match (p.old_acked, p.old_lost) {
        (0, _) => String::new(),
        (n, Some(l)) => format!(" ({l} of them among the {n} {} acknowledged after the promotion)", p.old),
        (n, None) => format!(" ({} acknowledged {n} after the promotion)", p.old),
    };
    format!("{}; {outage}; {lost}{split}", faults.join("; "))
}

/// The split brain of `p`: how long, and each side's writes.
fn split_words(p: &Promotion) -> (String, String) {
    let split = p.split_ms().unwrap_or(0.0);
    let what = format!(
        "split brain: {} went on acknowledging writes for {:.1} s after {} promoted {} at t={:.1} s",
        p.old,
        split / 1e3,
        by_words(p),
        p.new,
        p.at_ms / 1e3
    );
    let lost = |l: Option<u64>| l.map_or("lost unknown".to_string(), |l| format!("{l} lost"));
    let evidence = format!(
        "from t={:.1} to t={:.1} ms: {} acknowledged {} writes ({}), {} acknowledged {} ({})",
        p.at_ms,
        p.old_last_ack_ms.unwrap_or(p.at_ms),
        p.old,
        p.old_acked,
        lost(p.old_lost),
        p.new,
        p.new_acked,
        lost(p.new_lost)
    );
    (what, evidence)
}

fn by_words(p: &Promotion) -> &'static str {
    if p.by == "drdrill" { "drdrill's failover" } else { "the orchestrator" }
}

/// When fault `index` of `service` healed (drill ms), if it did.
fn healed_ms(r: &Results, service: Option<&str>, index: usize) -> Option<f64> {
    r.events
        .iter()
        .filter(|e| e.kind == EventKind::FaultHeal && e.fault == Some(index) && belongs(e.service.as_ref(), service))
        .map(|e| crate::clock::ms(e.applied_ns.unwrap_or(e.t_ns)))
        .reduce(f64::min)
}

#[cfg(test)]
#[path = "false_failover_tests.rs"]
mod tests;
