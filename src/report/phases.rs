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

fn row(phase: &'static str, from: Option<f64>, to: Option<f64>, dur: Option<f64>, budget: Option<f64>, setting: &str) -> PhaseRow {
    PhaseRow {
        phase,
        span: format!("{} -> {}", t(from), t(to)),
        duration: d(dur),
        budget: budget.map(|v| format!("<= {v:.0} ms")).unwrap_or_else(|| "-".into()),
        setting: setting.to_string(),
        from_ms: from,
        to_ms: to,
    }
}

/// Where the promotion's budget comes from, and how it was seen: by the new primary's
/// first acknowledgement, or while the clients' first write waited for it.
fn promotion_setting(p: &Phases) -> String {
    let b = &p.budgets;
    let promotion = match (p.promoted_by.as_deref(), p.watcher_late_ms) {
        (Some("first acknowledged write"), Some(late)) => {
            format!("{} (seen first as the new primary's first acknowledgement; the watcher saw it {late:.1} ms later)", b.promotion_from)
        }
        (Some("first acknowledged write"), None) => {
            format!("{} (seen first as the new primary's first acknowledged write)", b.promotion_from)
        }
        _ => b.promotion_from.clone(),
    };
    waited(promotion, p.promoted_ms, p.rerouted_ms)
}

/// A phase's setting, and when the clients' first write to the new primary began before
/// the step that ends the phase was seen (so the phase ends where the write began), says so.
fn waited(setting: String, seen: Option<f64>, rerouted: Option<f64>) -> String {
    match (seen, rerouted) {
        (Some(seen), Some(r)) if r < seen => {
            format!("{setting}; the clients' first write began {:.1} ms before it was seen at {seen:.1} ms and waited for it", seen - r)
        }
        _ => setting,
    }
}

/// The phases in order, each from the step before it to its own, so that they add up to
/// the RTO; steps beside them indented.
pub fn phase_rows(p: &Phases) -> Vec<PhaseRow> {
    let b = &p.budgets;
    // as the checker splits RTO's span, which ends at a write's start: a step seen after the
    // clients' first write to the new primary began (it waited for the step) ends its
    // phase where that write began, and the reroute is 0; the notes say so
    let end = |t: Option<f64>| match (t, p.rerouted_ms) {
        (Some(t), Some(r)) => Some(t.min(r)),
        (t, _) => t,
    };
    let (detected, promotion_end) = (end(p.detected_ms), end(p.promoted_ms));
    let (moved, expired) = (end(p.dns_moved_ms), end(p.first_cache_expired_ms));
    let reroute_from = match p.rerouted_early_ms {
        Some(early) if p.dns_moved_ms.is_some() => {
            format!("{} (the clients' first write began {early:.1} ms before and waited)", b.reroute_from)
        }
        _ => b.reroute_from.clone(),
    };
    // with the drill's DNS the reroute waits for the first client cache to run out; clients
    // that resolved once never ask again: it runs from the record's move, with no budget
    let reroute_budget = p.reroute_budget_ms();
    let mut rows = vec![
        // a write through a forwarder (Keepalived's VIP) may begin before the detection is seen
        row(
            "detection",
            p.fault_ms,
            detected,
            p.detection_ms,
            b.detection_ms,
            &waited(b.detection_from.clone(), p.detected_ms, p.rerouted_ms),
        ),
        row("promotion", detected, promotion_end, p.promotion_ms, b.promotion_ms, &promotion_setting(p)),
        row("reroute", expired.or(moved).or(promotion_end), p.rerouted_ms, p.reroute_ms, reroute_budget, &reroute_from),
        row("stabilisation", p.rerouted_ms, p.recovered_ms, p.stabilization_ms, None, "RTO's recovery point: writes stay available"),
    ];
    if moved.is_some() {
        let update = if b.dns_from.is_empty() { "drdrill moves the service's A record to the new primary" } else { &b.dns_from };
        rows.insert(2, row("DNS updated", promotion_end, moved, p.dns_update_ms, None, update));
    }
    if expired.is_some() {
        rows.insert(3, row("waiting for the DNS TTL", moved, expired, p.ttl_wait_ms, b.ttl_ms, &b.ttl_from));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The phase rows of `p` (those beside the phases left out), each asserted to end where
    /// the next begins.
    fn rows_end_to_end(p: &Phases) -> Vec<PhaseRow> {
        let rows: Vec<PhaseRow> = phase_rows(p).into_iter().filter(|r| !r.beside()).collect();
        for w in rows.windows(2) {
            assert_eq!(w[0].to_ms, w[1].from_ms, "{} ends where {} begins", w[0].phase, w[1].phase);
        }
        rows
    }

    #[test]
    fn with_a_first_write_that_waited_for_the_dns_the_rows_still_run_end_to_end_and_add_up_to_the_rto() {
        // the first write began at 5.0 s, before the first cache ran out (7.0 s), and waited
        let p = Phases {
            fault_ms: Some(3000.0),
            detected_ms: Some(3600.0),
            promoted_ms: Some(3900.0),
            dns_moved_ms: Some(3950.0),
            first_cache_expired_ms: Some(7000.0),
            caches_expired_ms: Some(7000.0),
            rerouted_ms: Some(5000.0),
            recovered_ms: Some(5000.5),
            detection_ms: Some(600.0),
            promotion_ms: Some(300.0),
            dns_update_ms: Some(50.0),
            ttl_wait_ms: Some(1050.0),
            reroute_ms: Some(0.0),
            stabilization_ms: Some(0.5),
            rerouted_early_ms: Some(2000.0),
            ..Default::default()
        };
        let rows = rows_end_to_end(&p);
        let names: Vec<&str> = rows.iter().map(|r| r.phase).collect();
        assert_eq!(names, ["detection", "promotion", "DNS updated", "waiting for the DNS TTL", "reroute", "stabilisation"]);
        let spans: f64 = rows.iter().map(|r| r.to_ms.unwrap() - r.from_ms.unwrap()).sum();
        assert_eq!((rows[0].from_ms, rows[5].to_ms, spans), (Some(3000.0), Some(5000.5), 2000.5));
        assert_eq!((rows[3].span.as_str(), rows[3].duration.as_str()), ("3.950 s -> 5.000 s", "1050 ms"));
        assert!(rows[4].setting.ends_with("(the clients' first write began 2000.0 ms before and waited)"), "{}", rows[4].setting);
    }
    #[test]
    fn a_write_through_a_forwarder_that_began_before_the_detection_ends_the_detection_row_there() {
        // files-keepalived: the first write to the backup began at 7.587 s in the forwarder's
        // connect, before the backup's advertisement timeout was seen at 8.013 s
        let p = Phases {
            fault_ms: Some(5011.0),
            detected_ms: Some(8013.0),
            promoted_ms: Some(8489.0),
            rerouted_ms: Some(7587.0),
            recovered_ms: Some(8317.0),
            detection_ms: Some(2576.0),
            promotion_ms: Some(0.0),
            reroute_ms: Some(0.0),
            stabilization_ms: Some(730.0),
            ..Default::default()
        };
        let rows = rows_end_to_end(&p);
        assert_eq!((rows[0].span.as_str(), rows[0].duration.as_str()), ("5.011 s -> 7.587 s", "2576 ms"));
        assert!(rows[0].setting.ends_with("began 426.0 ms before it was seen at 8013.0 ms and waited for it"), "{}", rows[0].setting);
        assert_eq!(rows[1].span, "7.587 s -> 7.587 s");
    }
}
