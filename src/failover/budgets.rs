//! What each phase of a recovery may take, given its settings, and how its steps are read
//! from the history: an orchestrator's budgets come from its own settings; drdrill's own
//! recovery (a promotion, a runbook, a restore) is split into phases when the clients find
//! the primary through the drill's DNS.
use crate::scenario::FailoverSpec;
use crate::stack::Budgets;
use crate::stack::{ClientDns, PhaseSteps};

/// What drdrill's own recovery allows each phase: detection its trigger (the probe's
/// failures, or the delay), the TTL the clients' caches keep the old address (no bound
/// for clients that resolve once: they never follow).
pub(super) fn own_recovery(spec: &FailoverSpec, dns: ClientDns) -> (Budgets, PhaseSteps) {
    let trigger = &spec.trigger;
    let (detection_ms, detection_from) = match (trigger.probe.as_ref(), trigger.delay.as_ref()) {
        (Some(p), _) => (
            Some((p.interval_ms * u64::from(p.failures) + p.timeout_ms) as f64),
            format!("probe every {} ms × {} failures + its {} ms timeout", p.interval_ms, p.failures, p.timeout_ms),
        ),
        (None, Some(d)) => (Some(d.delay_ms as f64), format!("failover {} ms after the fault", d.delay_ms)),
        _ => (None, String::new()),
    };
    let (promotion_from, dns_from) = if spec.steps.is_empty() {
        ("drdrill promotes at once (no setting)", "drdrill moves the service's A record to the new primary")
    } else {
        ("the runbook's steps (no setting)", "the runbook's `dns` step")
    };
    let budgets = Budgets {
        detection_ms,
        detection_from,
        promotion_from: promotion_from.into(),
        dns_from: dns_from.into(),
        reroute_from: match dns.once {
            true => "never: the clients resolved the name once and never ask again (`resolve: once`)".into(),
            false => "the clients' next write after their caches ran out (no setting)".into(),
        },
        ttl_ms: (!dns.once).then_some(dns.ttl_ms as f64),
        ttl_from: format!("the record's TTL, {} s", dns.ttl_ms / 1000),
        ..Default::default()
    };
    (budgets, PhaseSteps::Scripted { dns: Some(dns) })
}
