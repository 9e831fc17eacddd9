//! False pages: a firing notification that says a node is down while that node was
//! answering the clients throughout the stretch the alert claims, from when it fired (or
//! from its promotion, when it took over the clients in that stretch) to when the page
//! reached the pager. The on-call is woken for a node that never went down: a monitoring
//! site that lost sight of the other sites through a cut, then paged once the cut healed.
use super::answering::{ANSWER_GAP_NS, Answering};
use crate::monitor::{AlertsReport, FalsePage, Notification};

fn ns(ms: f64) -> u64 {
    (ms.max(0.0) * 1e6).round() as u64
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

/// The node a notification names: its `instance` label, a `:port` left off.
fn instance(n: &Notification) -> Option<&str> {
    let i = n.labels.get("instance")?;
    Some(i.rsplit_once(':').map_or(i.as_str(), |(host, _)| host))
}

/// Whether rule `alert` says a node is down: its expression selects `up` or an
/// exporter's `*_up`. Only such a page can be false by the clients' answers: a rule on
/// what the node reports (`redis_connected_slaves < 1`: a new primary without a replica)
/// is true while the node answers.
fn says_down(report: &AlertsReport, alert: &str) -> bool {
    let metric = |sel: &str| sel.split(['{', ' ', '[']).next().unwrap_or_default().trim().to_string();
    report.rule(alert).is_some_and(|r| r.selectors.iter().map(|s| metric(&s.selector)).any(|m| m == "up" || m.ends_with("_up")))
}

/// Each false page, the first firing notification of each (alert, instance) only, of the
/// rules that say a node is down. (`report.rule` gives the firing time when the
/// notification carries none.)
pub fn false_pages(report: &AlertsReport, answering: &Answering, follow_ns: u64) -> Vec<FalsePage> {
    let mut out: Vec<FalsePage> = Vec::new();
    for n in report.notifications.iter().filter(|n| n.status == "firing" && says_down(report, &n.alert)) {
        let Some(node) = instance(n) else { continue };
        if out.iter().any(|p| p.alert == n.alert && p.instance == node) {
            continue;
        }
        let fired_ms = n.starts_ms.or_else(|| report.rule(&n.alert).and_then(|r| r.firing_ms)).unwrap_or(n.at_ms);
        if let Some(p) = judge(answering, n, node, fired_ms, follow_ns) {
            out.push(p);
        }
    }
    out
}

/// The page is false when `node` was answering the clients when it arrived, without a
/// gap of a second, since within a second of the alert firing (or before). A promotion
/// counts as an answer (the node answered drdrill's promotion) when the clients came to
/// the node within `follow_ns` of it (the time they need to follow: a second, or the DNS
/// TTL and a second). A node seen answering only later may have been down when the alert
/// fired: that page was late, not false.
fn judge(answering: &Answering, n: &Notification, node: &str, fired_ms: f64, follow_ns: u64) -> Option<FalsePage> {
    let (fired, paged) = (ns(fired_ms), ns(n.at_ms));
    let (a, read_back) = answering.at(node, paged)?;
    let promoted = answering.promoted_before(node, a.from_ns).filter(|p| a.from_ns <= p.saturating_add(follow_ns.max(ANSWER_GAP_NS)));
    let since = promoted.unwrap_or(a.from_ns);
    if since > fired.saturating_add(ANSWER_GAP_NS) {
        return None;
    }
    Some(FalsePage {
        alert: n.alert.clone(),
        instance: node.to_string(),
        fired_ms,
        notified_ms: n.at_ms,
        answered_from_ms: ms(a.from_ns),
        answered_to_ms: ms(a.to_ns),
        acks: a.acks,
        max_gap_ms: ms(a.max_gap_ns),
        promoted_ms: promoted.map(ms),
        read_back_after: read_back,
    })
}

/// `DbTargetGone paged at t=18.5 s that pg-3 was down (firing since t=9.9 s); pg-3
/// acknowledged 440 writes from t=9.6 s to t=20.3 s, never more than 21 ms apart (promoted
/// at t=9.6 s)`: what the finding says, in two parts.
pub fn words(p: &FalsePage) -> (String, String) {
    let what = format!("alert rule {} paged that {} was down, while it was answering the clients", p.alert, p.instance);
    let promoted = p.promoted_ms.map(|t| format!(" (promoted at t={:.1} s: it answered drdrill's promotion)", t / 1e3)).unwrap_or_default();
    let then = if p.read_back_after { ", until the workload stopped; drdrill then read every record back from it" } else { "" };
    let evidence = format!(
        "firing since t={:.1} s, the page delivered at t={:.1} s; {} acknowledged {} writes from t={:.1} s to t={:.1} s, never more than {:.0} ms apart{promoted}{then}",
        p.fired_ms / 1e3,
        p.notified_ms / 1e3,
        p.instance,
        p.acks,
        p.answered_from_ms / 1e3,
        p.answered_to_ms / 1e3,
        p.max_gap_ms
    );
    (what, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventKind, Op, Outcome};

    fn ok(node: &str, t_ms: u64) -> Op {
        let t = t_ms * 1_000_000;
        Op {
            service: None,
            writer: 0,
            seq: t_ms,
            key: None,
            change: None,
            invoke_ns: t - 1,
            complete_ns: t,
            outcome: Outcome::Ok,
            node: Some(node.into()),
            error: None,
        }
    }

    fn firing(alert: &str, instance: &str, starts_ms: f64, at_ms: f64) -> Notification {
        let labels = [("instance".to_string(), instance.to_string()), ("alertname".to_string(), alert.to_string())].into();
        Notification { at_ms, alert: alert.into(), status: "firing".into(), starts_ms: Some(starts_ms), labels }
    }

    /// pg-1 the primary until 8 s (isolated with dc1), pg-3 promoted at 9.6 s and writing
    /// every 20 ms from then on.
    fn answering() -> Answering {
        let mut a = Answering::default();
        (1000..8000).step_by(20).for_each(|t| a.add(&ok("pg-1", t)));
        (9620..21000).step_by(20).for_each(|t| a.add(&ok("pg-3", t)));
        a.add_events(&[promote()]);
        a
    }

    fn promote() -> Event {
        Event {
            service: None,
            t_ns: 9_600_000_000,
            kind: EventKind::FailoverPromote,
            fault: None,
            node: Some("pg-3".into()),
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    /// The notifications, and the rules: the two that say a node is down (`up`, `pg_up`),
    /// one on what the node reports.
    fn report(notifications: Vec<Notification>) -> AlertsReport {
        let rule = |alert: &str, sel: &str| crate::monitor::AlertRuleReport {
            alert: alert.into(),
            selectors: vec![crate::monitor::SelectorSeen { selector: sel.into(), series: 1 }],
            ..Default::default()
        };
        let rules = vec![
            rule("DbTargetGone", "up{job=\"postgres\"}"),
            rule("PostgresInstanceDown", "pg_up"),
            rule("RedisReplicationBroken", "redis_connected_slaves"),
        ];
        AlertsReport { notifications, rules, ..Default::default() }
    }

    #[test]
    fn a_page_on_what_the_node_reports_is_true_while_it_answers() {
        // the new primary runs without a replica: true, however well it answers
        let r = report(vec![firing("RedisReplicationBroken", "pg-3", 9100.0, 18_500.0)]);
        assert!(false_pages(&r, &answering(), 0).is_empty());
    }

    #[test]
    fn a_page_for_the_new_primary_answering_since_its_promotion_is_false() {
        let r = report(vec![firing("DbTargetGone", "pg-3:9187", 9100.0, 18_500.0), firing("DbTargetGone", "pg-3", 9100.0, 19_000.0)]);
        let p = false_pages(&r, &answering(), 0);
        assert_eq!(p.len(), 1, "the first notification of each alert and instance: {p:?}");
        assert_eq!((p[0].instance.as_str(), p[0].promoted_ms, p[0].answered_from_ms), ("pg-3", Some(9600.0), 9620.0));
        let (what, evidence) = words(&p[0]);
        assert_eq!(what, "alert rule DbTargetGone paged that pg-3 was down, while it was answering the clients");
        assert!(evidence.starts_with("firing since t=9.1 s, the page delivered at t=18.5 s; pg-3 acknowledged 569 writes"), "{evidence}");
        assert!(evidence.ends_with("never more than 20 ms apart (promoted at t=9.6 s: it answered drdrill's promotion)"), "{evidence}");
    }

    #[test]
    fn clients_that_follow_a_dns_ttl_to_the_promoted_node_keep_its_answers_whole() {
        // the clients reached pg-3 2.5 s after its promotion (a 3 s TTL): the promotion is
        // its first answer only when the clients need that long to follow
        let mut a = Answering::default();
        (8300..16000).step_by(20).for_each(|t| a.add(&ok("pg-3", t)));
        a.add_events(&[Event { t_ns: 5_780_000_000, ..promote() }]);
        let r = report(vec![firing("PostgresInstanceDown", "pg-3", 7244.0, 15_396.0)]);
        assert!(false_pages(&r, &a, 0).is_empty(), "2.5 s without an answer, clients that follow in 1 s");
        let p = false_pages(&r, &a, 4_000_000_000);
        assert_eq!((p.len(), p[0].promoted_ms), (1, Some(5780.0)), "{p:?}");
    }

    #[test]
    fn a_page_for_a_node_that_stopped_answering_is_true() {
        // pg-1 cut off at 8 s: paged at 12 s, nothing acknowledged since 8 s
        let r = report(vec![firing("DbTargetGone", "pg-1", 9000.0, 12_000.0), firing("Other", "pg-3", 5000.0, 12_000.0)]);
        assert!(
            false_pages(&r, &answering(), 0).is_empty(),
            "pg-1 silent since 8 s; pg-3 answered (promoted) only 4.6 s after Other fired: late, not false"
        );
        let resolved = Notification { status: "resolved".into(), ..firing("DbTargetGone", "pg-3", 9100.0, 18_500.0) };
        assert!(false_pages(&report(vec![resolved]), &answering(), 0).is_empty(), "a resolved notification pages nobody");
    }
}
