//! The orchestrator's phases as rows, shared by the terminal scorecard and report.md.
use crate::checker::Phases;

/// One phase: name, from, to, duration, budget the settings imply, where that budget comes from.
pub struct PhaseRow {
    pub phase: &'static str,
    pub span: String,
    pub duration: String,
    pub budget: String,
    pub setting: String,
    /// The span in drill ms, as observed.
    pub from_ms: Option<f64>,
    pub to_ms: Option<f64>,
}

impl PhaseRow {
    /// A step beside the phases (indented), not one of them.
    pub fn beside(&self) -> bool {
        self.phase.starts_with(' ')
    }
}

fn t(v: Option<f64>) -> String {
    v.map(|v| format!("{:.3} s", v / 1e3)).unwrap_or_else(|| "not observed".into())
}

fn d(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "-".into())
}

pub fn phase_rows(p: &Phases) -> Vec<PhaseRow> {
    let b = &p.budgets;
    let row = |phase, from: Option<f64>, to: Option<f64>, dur: Option<f64>, budget: Option<f64>, setting: &str| PhaseRow {
        phase,
        span: format!("{} -> {}", t(from), t(to)),
        duration: d(dur),
        budget: budget.map(|v| format!("<= {v:.0} ms")).unwrap_or_else(|| "-".into()),
        setting: setting.to_string(),
        from_ms: from,
        to_ms: to,
    };
    let promotion = match (p.promoted_by.as_deref(), p.watcher_late_ms) {
        (Some("first acknowledged write"), Some(late)) => {
            format!("{} (seen first as the new primary's first acknowledgement; the watcher saw it {late:.1} ms later)", b.promotion_from)
        }
        (Some("first acknowledged write"), None) => format!("{} (seen first as the new primary's first acknowledged write)", b.promotion_from),
        _ => b.promotion_from.clone(),
    };
    // a first write that began before the promotion was seen waited for it: the promotion
    // phase ends where that write began (RTO's span ends at a write's start), and says so
    let (promotion_end, promotion) = match (p.promoted_ms, p.rerouted_ms) {
        (Some(seen), Some(r)) if r < seen => {
            (Some(r), format!("{promotion}; the clients' first write began {:.1} ms before it was seen at {seen:.1} ms and waited for it", seen - r))
        }
        (seen, _) => (seen, promotion),
    };
    let (rerouted, reroute_from) = match p.rerouted_early_ms {
        Some(early) if p.dns_moved_ms.is_some() => {
            (p.rerouted_ms.map(|r| r + early), format!("{} (the clients' first write began {early:.1} ms before and waited)", b.reroute_from))
        }
        _ => (p.rerouted_ms, b.reroute_from.clone()),
    };
    let mut rows = vec![
        row("detection", p.fault_ms, p.detected_ms, p.detection_ms, b.detection_ms, &b.detection_from),
        row("promotion", p.detected_ms, promotion_end, p.promotion_ms, b.promotion_ms, &promotion),
        row("reroute", promotion_end, rerouted, p.reroute_ms, b.reroute_ms, &reroute_from),
        row("stabilisation", p.rerouted_ms, p.recovered_ms, p.stabilization_ms, None, "RTO's recovery point: writes stay available"),
    ];
    if p.dns_moved_ms.is_some() && p.first_cache_expired_ms.is_none() {
        // the clients resolved once and never ask again: the record moved, nobody follows
        let update = if b.dns_from.is_empty() { "drdrill moves the service's A record to the new primary" } else { &b.dns_from };
        rows[2] = row("reroute", p.dns_moved_ms, rerouted, p.reroute_ms, None, &reroute_from);
        rows.insert(2, row("DNS updated", p.promoted_ms, p.dns_moved_ms, p.dns_update_ms, None, update));
    } else if p.dns_moved_ms.is_some() {
        // the reroute waits for the DNS: the record moves, then the clients' caches run out
        rows[2] = row("reroute", p.first_cache_expired_ms, rerouted, p.reroute_ms, b.reroute_ms, &reroute_from);
        let update = if b.dns_from.is_empty() { "drdrill moves the service's A record to the new primary" } else { &b.dns_from };
        rows.insert(2, row("DNS updated", p.promoted_ms, p.dns_moved_ms, p.dns_update_ms, None, update));
        rows.insert(3, row("waiting for the DNS TTL", p.dns_moved_ms, p.first_cache_expired_ms, p.ttl_wait_ms, b.ttl_ms, &b.ttl_from));
        let every = span(p.dns_moved_ms, p.caches_expired_ms);
        let note = "beside the phases: the last client's cache ran out, every client follows";
        rows.insert(4, row("  every cache expired", p.dns_moved_ms, p.caches_expired_ms, every, b.ttl_ms, note));
    }
    if p.moved_ms.is_some() {
        // MHA moves the VIP before it makes the new master writable: a step inside promotion
        let inside = span(p.detected_ms, p.moved_ms);
        rows.insert(2, row("  VIP moved", p.detected_ms, p.moved_ms, inside, None, "inside promotion: the VIP reaches the new master"));
    }
    rows
}

fn span(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

/// Who failed over to whom, in words.
pub fn headline(p: &Phases) -> String {
    match (&p.old_primary, &p.new_primary) {
        (Some(o), Some(n)) => format!("{}: {o} -> {n}", p.orchestrator),
        (Some(o), None) => format!("{}: no new primary promoted (primary was {o})", p.orchestrator),
        _ => format!("{}: no failover", p.orchestrator),
    }
}
