//! The alert targets judged on what the drill's monitoring measured: `alerts.NAME`
//! (notified within N ms of the fault), `no_alert.NAME` (never fired), and the drill-wide
//! `alerts.rules_alive` (every rule's selectors matched a series).
use super::{Target, TargetResult, Verdict};
use crate::monitor::{AlertOutcome, AlertRuleReport, AlertStep, AlertsReport};
use crate::scenario::Targets;

/// A service's alert targets.
pub fn judge_alert_targets(report: &AlertsReport, targets: &Targets) -> Vec<TargetResult> {
    let mut out = Vec::new();
    for (name, t) in &targets.alerts {
        out.push(paged(report, name, t.notified_within_ms));
    }
    for name in &targets.no_alert {
        out.push(silent(report, name));
    }
    out
}

/// Whether a step of the time to page took no longer than its budget; None when it was
/// not observed.
pub fn step_within_budget(s: &AlertStep) -> Option<bool> {
    s.ms.map(|took| took <= s.budget_ms)
}

/// Every rule must be able to fire: none may be dead.
pub fn rules_alive(report: &AlertsReport) -> TargetResult {
    let dead = report.dead();
    let note = match dead.is_empty() {
        true => format!("all {} rules matched series the exporters publish", report.rules.len()),
        false => dead.iter().map(|r| format!("{}: {}", r.alert, r.reason)).collect::<Vec<_>>().join("; "),
    };
    TargetResult {
        target: Target::AlertRulesAlive,
        limit: Some(0.0),
        actual: Some(dead.len() as f64),
        verdict: if dead.is_empty() { Verdict::Pass } else { Verdict::Fail },
        note,
    }
}

/// A page held back while every site the monitoring stood in was dark, and sent once one
/// came back (the drill's own heal).
fn held_back(r: &AlertRuleReport, report: &AlertsReport) -> Option<String> {
    let (firing, notified) = (r.firing_ms?, r.notified_ms?);
    let (from, to) = report.held_back(firing, notified)?;
    Some(format!(
        "paged only once the monitoring's sites came back ({:.1} s after the fault, at t={:.1} s): nothing could page from t={:.1} s to t={:.1} s",
        r.to_page_ms.unwrap_or_default() / 1e3,
        notified / 1e3,
        from / 1e3,
        to / 1e3
    ))
}

fn paged(report: &AlertsReport, name: &str, limit_ms: u64) -> TargetResult {
    let rule = report.rule(name);
    let target = Target::AlertNotified(name.to_string());
    let mut t = TargetResult { target, limit: Some(limit_ms as f64), actual: None, verdict: Verdict::Unknown, note: String::new() };
    let Some(r) = rule else {
        t.note = format!("no alerting rule named `{name}` was loaded");
        return t;
    };
    if r.from_ms.is_none() {
        t.note = "no outage in this drill for it to answer".into();
        return t;
    }
    t.actual = r.to_page_ms;
    if let Some(why) = held_back(r, report) {
        (t.verdict, t.note) = (Verdict::Fail, why);
        return t;
    }
    (t.verdict, t.note) = match (r.outcome, r.to_page_ms) {
        (AlertOutcome::Notified, Some(ms)) if ms <= limit_ms as f64 => (Verdict::Pass, format!("paged {:.1} s after the fault", ms / 1e3)),
        (AlertOutcome::Notified, Some(ms)) => (Verdict::Fail, format!("late: paged {:.1} s after the fault", ms / 1e3)),
        _ => (Verdict::Fail, format!("never paged: {}", r.reason)),
    };
    t
}

fn silent(report: &AlertsReport, name: &str) -> TargetResult {
    let fired = report.notifications.iter().filter(|n| n.alert == name && n.status == "firing").count();
    let rule = report.rule(name);
    let firing = rule.is_some_and(|r| r.firing_ms.is_some() || r.noise);
    let (verdict, note) = match (fired, firing) {
        (0, false) => (Verdict::Pass, "never fired".to_string()),
        (0, true) => (Verdict::Fail, "fired (Prometheus showed it firing; no notification came)".to_string()),
        (n, _) => (Verdict::Fail, format!("fired: {n} firing notifications")),
    };
    TargetResult { target: Target::NoAlert(name.to_string()), limit: Some(0.0), actual: Some(fired as f64), verdict, note }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Notification;

    fn report(outcome: AlertOutcome, to_page: Option<f64>) -> AlertsReport {
        let r = AlertRuleReport {
            alert: "Down".into(),
            outcome,
            from_ms: Some(1000.0),
            to_page_ms: to_page,
            reason: "why".into(),
            ..Default::default()
        };
        AlertsReport { rules: vec![r], ..Default::default() }
    }

    fn targets(yaml: &str) -> Targets {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn an_alert_target_fails_late_or_never_and_passes_in_time() {
        let t = targets("alerts: {Down: {notified_within_ms: 5000}}");
        assert_eq!(judge_alert_targets(&report(AlertOutcome::Notified, Some(4000.0)), &t)[0].verdict, Verdict::Pass);
        let late = &judge_alert_targets(&report(AlertOutcome::Notified, Some(6000.0)), &t)[0];
        assert_eq!((late.verdict, late.note.as_str()), (Verdict::Fail, "late: paged 6.0 s after the fault"));
        let never = &judge_alert_targets(&report(AlertOutcome::PendingOnly, None), &t)[0];
        assert_eq!((never.verdict, never.note.as_str()), (Verdict::Fail, "never paged: why"));
        assert_eq!(
            judge_alert_targets(&report(AlertOutcome::Quiet, None), &targets("alerts: {Other: {notified_within_ms: 1}}"))[0].verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn a_page_held_back_until_the_monitorings_site_came_back_fails_its_target() {
        let t = targets("alerts: {Down: {notified_within_ms: 15000}}");
        let mut r = report(AlertOutcome::Notified, Some(11_300.0));
        (r.rules[0].firing_ms, r.rules[0].notified_ms) = (Some(7_100.0), Some(15_300.0));
        r.could_not_page = vec![(4_000.0, 14_900.0)];
        let held = &judge_alert_targets(&r, &t)[0];
        assert_eq!(held.verdict, Verdict::Fail);
        assert!(held.note.starts_with("paged only once the monitoring's sites came back (11.3 s after the fault"), "{}", held.note);
        r.could_not_page = vec![(4_000.0, 6_000.0)];
        assert_eq!(judge_alert_targets(&r, &t)[0].verdict, Verdict::Pass, "fired after the sites came back: an ordinary page");
    }

    #[test]
    fn no_alert_fails_when_it_fires_and_dead_rules_fail_the_drill() {
        let t = targets("no_alert: [Down]");
        let mut r = report(AlertOutcome::Quiet, None);
        assert_eq!(judge_alert_targets(&r, &t)[0].verdict, Verdict::Pass);
        r.notifications.push(Notification { alert: "Down".into(), status: "firing".into(), ..Default::default() });
        assert_eq!(judge_alert_targets(&r, &t)[0].verdict, Verdict::Fail);
        assert_eq!(rules_alive(&r).verdict, Verdict::Pass);
        r.rules[0].outcome = AlertOutcome::Dead;
        assert_eq!(rules_alive(&r).verdict, Verdict::Fail);
    }
}
