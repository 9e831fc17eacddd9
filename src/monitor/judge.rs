//! What each rule did, from what the polls and the webhook saw: dead (a selector matched
//! no series), quiet, pending only, fired, notified; the time to page from the fault it
//! answers, split into scrape, evaluation, `for` and group_wait, each beside its budget.
use super::watch::{Episode, Observed};
use super::{AlertOutcome, AlertRuleReport, AlertStep, Notification, SelectorSeen};
use crate::scenario::Timing;
use crate::scenario::alert_rules::AlertRule;
use std::collections::BTreeMap;

/// What the last step may take beyond `group_wait`: Alertmanager's dispatch and the
/// webhook's HTTP round trip on 127.0.0.1 (measured at 5-10 ms).
pub const NOTIFY_ALLOWANCE_MS: u64 = 500;

/// A fault of the drill on its clock; a planned one (a switchover) is not an outage an
/// alert answers.
#[derive(Debug, Clone, Copy)]
pub struct FaultAt {
    pub at_ms: f64,
    pub planned: bool,
}

/// Everything a rule is judged on.
pub struct Seen<'a> {
    pub observed: &'a Observed,
    pub notifications: &'a [Notification],
    pub faults: &'a [FaultAt],
    /// When the last service recovered (its RTO's end), if it did.
    pub recovered_ms: Option<f64>,
    /// The nodes down when the drill ended (killed and never started again): an alert
    /// still firing for one of them is right, not stuck.
    pub down_nodes: &'a [String],
    /// When the watch ended.
    pub end_ms: f64,
    pub timing: Timing,
    /// Selector -> series it matched over the drill.
    pub series: &'a BTreeMap<String, u64>,
    /// Alert -> the first instant after the fault its expression returned a series.
    pub true_ms: &'a BTreeMap<String, f64>,
    /// Alert -> the series (`instance = value`) its expression still returned when the
    /// watch ended, for the rules then firing.
    pub holds_at_end: &'a BTreeMap<String, Vec<String>>,
    /// The exporters scraped: (metric prefix, name and version).
    pub exporters: &'a [(&'static str, &'static str)],
    /// Every metric name Prometheus holds.
    pub published: &'a [String],
    /// The users' own monitoring: "notified" is their Alertmanager holding the alert.
    pub external: bool,
    /// Exporters that could not be scraped after the fault, with their metrics' prefix.
    pub scrapes_failed: &'a [(&'static str, &'a super::ScrapeFailed)],
}

impl Seen<'_> {
    /// The first unplanned fault: the one the time to page counts from.
    pub fn fault_ms(&self) -> Option<f64> {
        self.faults.iter().filter(|f| !f.planned).map(|f| f.at_ms).reduce(f64::min)
    }
}

pub fn judge(rule: &AlertRule, s: &Seen<'_>) -> AlertRuleReport {
    let selectors: Vec<SelectorSeen> = rule
        .selectors
        .iter()
        .map(|x| SelectorSeen { selector: x.text.clone(), series: s.series.get(&x.text).copied().unwrap_or(0) })
        .collect();
    let mut r = AlertRuleReport {
        alert: rule.alert.clone(),
        group: rule.group.clone(),
        expr: rule.expr.clone(),
        for_ms: rule.for_ms,
        selectors,
        ..Default::default()
    };
    let dead = dead_reason(rule, s);
    let fault = s.fault_ms();
    r.from_ms = fault;
    // true without a break since before the fault: the steady state matches it
    let held_from = s.true_ms.get(&rule.alert).copied().filter(|t| fault.is_some_and(|f| *t < f));
    let seen = s.observed.rules.get(&rule.alert);
    let episodes: &[Episode] = seen.map(|x| x.episodes.as_slice()).unwrap_or_default();
    // an episode that began before the fault and still held at it answers nothing
    let straddles = |e: &Episode| fault.is_some_and(|f| e.pending_ms < f && e.cleared_ms.is_none_or(|c| c >= f));
    let answering = fault.and_then(|f| episodes.iter().find(|e| e.pending_ms >= f || straddles(e)));
    let before: Vec<&Episode> = episodes.iter().filter(|e| fault.is_none_or(|f| e.pending_ms < f) && !straddles(e)).collect();
    let held_from = held_from.or(answering.filter(|e| straddles(e)).map(|e| e.pending_ms));
    r.noise = before.iter().any(|e| fired(e, rule, s).is_some());
    if let Some(e) = answering {
        fill_episode(&mut r, e, rule, s, fault);
        if held_from.is_some() {
            // not an answer to the fault: no time to page
            r.noise |= r.firing_ms.is_some();
            (r.steps, r.to_page_ms) = (Vec::new(), None);
        }
    }
    r.outcome = outcome(&r, answering, dead.is_some());
    r.reason = reason(&r, rule, s, &before, answering, dead, seen.map(|x| x.last_error.as_str()).unwrap_or_default());
    if let Some(t) = held_from {
        let what = format!("its condition held before any outage (from {} without a break): it matches the steady state", secs(t));
        r.reason = if r.reason.is_empty() { what } else { format!("{what}; {}", r.reason) };
    }
    r
}

/// The firing time of an episode: Prometheus' own (`startsAt` of its first firing
/// notification) or, without one, the first poll that saw it firing.
fn fired(e: &Episode, rule: &AlertRule, s: &Seen<'_>) -> Option<f64> {
    let end = e.cleared_ms.unwrap_or(f64::INFINITY);
    let notified = firing_notices(rule, s).find(|n| n.at_ms >= e.pending_ms && n.at_ms <= end + 1_000.0);
    notified.and_then(|n| n.starts_ms).or(e.firing_seen_ms)
}

fn firing_notices<'a>(rule: &'a AlertRule, s: &'a Seen<'_>) -> impl Iterator<Item = &'a Notification> {
    s.notifications.iter().filter(move |n| n.alert == rule.alert && n.status == "firing")
}

fn fill_episode(r: &mut AlertRuleReport, e: &Episode, rule: &AlertRule, s: &Seen<'_>, fault: Option<f64>) {
    r.pending_ms = Some(e.pending_ms);
    r.firing_ms = fired(e, rule, s);
    r.true_ms = s.true_ms.get(&rule.alert).copied().filter(|t| *t <= e.pending_ms);
    r.notified_ms = r.firing_ms.and_then(|_| firing_notices(rule, s).find(|n| n.at_ms >= e.pending_ms).map(|n| n.at_ms));
    r.resolved_ms = e.cleared_ms;
    r.resolved_notified_ms = r
        .notified_ms
        .and_then(|t| s.notifications.iter().find(|n| n.alert == rule.alert && n.status == "resolved" && n.at_ms > t).map(|n| n.at_ms));
    r.to_page_ms = fault.zip(r.notified_ms).map(|(f, n)| n - f);
    r.steps = steps(r, fault, &s.timing, s.external);
    let stuck_after = (s.timing.scrape_interval_ms + s.timing.evaluation_interval_ms) as f64 + 5_000.0;
    // an alert for a node that is still down is right to fire
    let still_down = e.instances.iter().any(|i| s.down_nodes.contains(i));
    let long_after = r.firing_ms.is_some() && e.cleared_ms.is_none() && s.recovered_ms.is_some_and(|rec| s.end_ms - rec > stuck_after);
    // what its expression measures still holds: the alert is true, not stuck
    let holds = s.holds_at_end.get(&rule.alert).filter(|h| !h.is_empty());
    r.stuck = long_after && !still_down && holds.is_none();
    // (a node killed for good is down: its alert is neither stuck nor news)
    r.still_true = if long_after && !still_down { holds.cloned().unwrap_or_default() } else { Vec::new() };
    r.instances = e.instances.clone();
}

/// The time to page split like the RTO, each step beside what the settings allow it.
fn steps(r: &AlertRuleReport, fault: Option<f64>, t: &Timing, external: bool) -> Vec<AlertStep> {
    let (Some(f), Some(pending)) = (fault, r.pending_ms) else { return Vec::new() };
    let (scrape, eval) = (t.scrape_interval_ms as f64, t.evaluation_interval_ms as f64);
    let span = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a).max(0.0));
    let mut out = Vec::new();
    // a sample carries its scrape's start; it is there to evaluate once the scrape ends
    let timeout = scrape.min(10_000.0);
    match r.true_ms {
        Some(tr) => {
            out.push(AlertStep { step: "waiting for the scrape".into(), ms: span(Some(f), Some(tr)), budget_ms: scrape });
            out.push(AlertStep { step: "scrape and rule evaluation".into(), ms: span(Some(tr), Some(pending)), budget_ms: timeout + eval });
        }
        None => out.push(AlertStep {
            step: "scrape and rule evaluation".into(),
            ms: span(Some(f), Some(pending)),
            budget_ms: scrape + timeout + eval,
        }),
    }
    // it fires at the first evaluation at least `for` after it went pending
    let for_budget = (r.for_ms as f64 / eval).ceil() * eval;
    out.push(AlertStep {
        step: format!("for ({})", crate::scenario::alert_rules::duration_text(r.for_ms)),
        ms: span(Some(pending), r.firing_ms),
        budget_ms: for_budget,
    });
    let (step, budget_ms) = match external {
        // Prometheus sends it right after the evaluation that fired it; the poll sees it
        true => ("held by the users' Alertmanager", (NOTIFY_ALLOWANCE_MS + super::watch::POLL_MS) as f64),
        false => ("group_wait and notification", (t.group_wait_ms + NOTIFY_ALLOWANCE_MS) as f64),
    };
    out.push(AlertStep { step: step.into(), ms: span(r.firing_ms, r.notified_ms), budget_ms });
    out
}

fn outcome(r: &AlertRuleReport, answering: Option<&Episode>, dead: bool) -> AlertOutcome {
    match (answering, r.firing_ms, r.notified_ms) {
        (_, Some(_), Some(_)) => AlertOutcome::Notified,
        (_, Some(_), None) => AlertOutcome::FiredNotNotified,
        (Some(_), None, _) => AlertOutcome::PendingOnly,
        (None, ..) if dead => AlertOutcome::Dead,
        (None, ..) => AlertOutcome::Quiet,
    }
}

/// Why a selector-dead rule can never fire: which metric no exporter publishes.
fn dead_reason(rule: &AlertRule, s: &Seen<'_>) -> Option<String> {
    let dead: Vec<String> = rule
        .selectors
        .iter()
        .filter(|x| !x.absent && s.series.get(&x.text).copied().unwrap_or(0) == 0)
        .map(|x| {
            let by = match s.exporters.iter().find(|(p, _)| x.metric.starts_with(p)) {
                Some((_, name)) => format!("`{}` is not published by {name}", x.metric),
                None if s.exporters.is_empty() => format!("`{}` matched no series in this Prometheus", x.metric),
                None => {
                    let names: Vec<&str> = s.exporters.iter().map(|(_, n)| *n).collect();
                    format!("`{}` is published by no exporter of the drill ({})", x.metric, names.join(", "))
                }
            };
            let near = s.published.iter().map(|p| (strsim::jaro_winkler(&x.metric, p), p)).max_by(|a, b| a.0.total_cmp(&b.0));
            match near.filter(|n| n.0 > 0.85) {
                Some((_, p)) => format!("{by} (nearest published: `{p}`)"),
                None if x.text != x.metric => format!("{by} with these labels (`{}`)", x.text),
                None => by,
            }
        })
        .collect();
    (!dead.is_empty()).then(|| dead.join("; "))
}

/// The rule's metrics vanished when their exporter could not be scraped: the outage made
/// them absent, not true.
fn silenced(rule: &AlertRule, s: &Seen<'_>) -> Option<String> {
    let down: Vec<String> = s
        .scrapes_failed
        .iter()
        .filter(|(prefix, _)| rule.selectors.iter().any(|x| x.metric.starts_with(prefix)))
        .filter(|_| !rule.selectors.iter().any(|x| x.metric == "up"))
        .map(|(_, d)| format!("{} ({}) from {}", d.instance, d.job, secs(d.from_ms)))
        .collect();
    (!down.is_empty()).then(|| {
        format!(
            "Prometheus could not scrape the exporter of {}: its metrics vanished instead of showing the outage; a rule on `up == 0` sees a scrape that fails",
            down.join(", ")
        )
    })
}

fn secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1e3)
}

fn reason(
    r: &AlertRuleReport,
    rule: &AlertRule,
    s: &Seen<'_>,
    before: &[&Episode],
    answering: Option<&Episode>,
    dead: Option<String>,
    last_error: &str,
) -> String {
    let mut why = Vec::new();
    if let Some(d) = dead {
        why.push(format!("dead: {d}"));
    }
    if !last_error.is_empty() {
        why.push(format!("Prometheus could not evaluate it: {last_error}"));
    }
    // what held before the fault matters when it fired, or was still holding at the fault
    let fault = r.from_ms.unwrap_or(f64::INFINITY);
    if let Some(e) = before.iter().find(|e| r.noise || e.cleared_ms.is_none_or(|c| c >= fault)) {
        let fired = if r.noise { ", and fired: noise" } else { "" };
        why.push(format!("its condition held before any outage (pending from {}{fired})", secs(e.pending_ms)));
    }
    match (r.outcome, answering) {
        (AlertOutcome::PendingOnly, Some(e)) => {
            let until = e.cleared_ms.unwrap_or(s.end_ms);
            let held = until - e.pending_ms;
            let ended = if e.cleared_ms.is_some() { "the condition cleared" } else { "the drill ended" };
            why.push(format!(
                "never fired: pending {} from {}, {ended} before `for: {}` ran out; it is slower than this outage",
                secs(held),
                secs(e.pending_ms),
                crate::scenario::alert_rules::duration_text(rule.for_ms)
            ));
        }
        (AlertOutcome::FiredNotNotified, _) => why.push("fired, but no notification reached the receiver".into()),
        (AlertOutcome::Quiet, _) if r.from_ms.is_none() => why.push("no outage to answer in this drill".into()),
        (AlertOutcome::Quiet, _) => why.push("its expression returned no series after the fault".into()),
        _ => {}
    }
    if matches!(r.outcome, AlertOutcome::Quiet | AlertOutcome::PendingOnly) {
        why.extend(silenced(rule, s));
    }
    if r.stuck {
        let rec = s.recovered_ms.unwrap_or_default();
        why.push(format!("stuck: still firing {} after the recovery", secs(s.end_ms - rec)));
    }
    if !r.still_true.is_empty() {
        why.push(format!("still firing after the recovery because its condition still holds: {}", r.still_true.join(", ")));
    }
    why.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::watch::RuleSeen;
    use crate::scenario::alert_rules::selectors;

    fn rule(name: &str, expr: &str, for_ms: u64) -> AlertRule {
        AlertRule {
            group: "g".into(),
            alert: name.into(),
            expr: expr.into(),
            for_ms,
            labels: Default::default(),
            selectors: selectors(expr).unwrap(),
        }
    }

    fn timing() -> Timing {
        Timing { scrape_interval_ms: 1000, evaluation_interval_ms: 1000, group_wait_ms: 2000, group_interval_ms: 5000, settle_ms: 0 }
    }

    fn judged(r: &AlertRule, episodes: Vec<Episode>, notes: &[Notification], series: u64, true_ms: Option<f64>) -> AlertRuleReport {
        judged_holding(r, episodes, notes, (series, true_ms), &BTreeMap::new())
    }

    /// As `judged`, with what each rule's expression still returned when the watch ended.
    fn judged_holding(
        r: &AlertRule,
        episodes: Vec<Episode>,
        notes: &[Notification],
        (series, true_ms): (u64, Option<f64>),
        holds: &BTreeMap<String, Vec<String>>,
    ) -> AlertRuleReport {
        let mut observed = Observed::default();
        observed.rules.insert(r.alert.clone(), RuleSeen { episodes, ..Default::default() });
        let series: BTreeMap<String, u64> = r.selectors.iter().map(|s| (s.text.clone(), series)).collect();
        let truth: BTreeMap<String, f64> = true_ms.map(|t| (r.alert.clone(), t)).into_iter().collect();
        let published = vec!["pg_up".to_string(), "pg_replication_lag".to_string()];
        let faults = [FaultAt { at_ms: 10_000.0, planned: false }];
        let down = vec!["pg-1".to_string()];
        let s = Seen {
            observed: &observed,
            notifications: notes,
            faults: &faults,
            recovered_ms: Some(15_000.0),
            end_ms: 30_000.0,
            timing: timing(),
            series: &series,
            true_ms: &truth,
            holds_at_end: holds,
            exporters: &[("pg_", "postgres_exporter 0.11")],
            published: &published,
            scrapes_failed: &[],
            down_nodes: &down,
            external: false,
        };
        judge(r, &s)
    }

    fn note(status: &str, at_ms: f64, starts_ms: f64) -> Notification {
        Notification { at_ms, alert: "Down".into(), status: status.into(), starts_ms: Some(starts_ms), labels: Default::default() }
    }

    #[test]
    fn a_paged_alert_is_split_into_steps_that_add_up() {
        let r = rule("Down", "pg_up == 0", 3000);
        let e =
            Episode { pending_ms: 11_500.0, firing_seen_ms: Some(14_600.0), cleared_ms: Some(16_000.0), instances: vec!["pg-1".into()] };
        let notes = [note("firing", 16_520.0, 14_500.0), note("resolved", 21_000.0, 14_500.0)];
        let a = judged(&r, vec![e], &notes, 2, Some(10_400.0));
        assert_eq!(a.outcome, AlertOutcome::Notified);
        assert_eq!((a.firing_ms, a.notified_ms, a.resolved_notified_ms), (Some(14_500.0), Some(16_520.0), Some(21_000.0)));
        assert_eq!(a.to_page_ms, Some(6_520.0));
        let took: Vec<f64> = a.steps.iter().map(|s| s.ms.unwrap()).collect();
        assert_eq!(took, [400.0, 1100.0, 3000.0, 2020.0]);
        let budgets: Vec<f64> = a.steps.iter().map(|s| s.budget_ms).collect();
        assert_eq!(budgets, [1000.0, 2000.0, 3000.0, 2500.0]);
        assert!(!a.noise && !a.stuck, "{a:?}");
    }

    #[test]
    fn dead_slow_and_noisy_rules_say_why() {
        let dead = judged(&rule("Lag", "pg_replication_lag_seconds > 300", 300_000), vec![], &[], 0, None);
        assert_eq!(dead.outcome, AlertOutcome::Dead);
        assert!(
            dead.reason.contains(
                "`pg_replication_lag_seconds` is not published by postgres_exporter 0.11 (nearest published: `pg_replication_lag`)"
            ),
            "{}",
            dead.reason
        );
        let kafka = judged(&rule("K", "kafka_lag > 0", 0), vec![], &[], 0, None);
        assert!(kafka.reason.contains("is published by no exporter of the drill (postgres_exporter 0.11)"), "{}", kafka.reason);
        let slow = rule("Down", "pg_up == 0", 300_000);
        let e = Episode { pending_ms: 11_000.0, cleared_ms: Some(16_000.0), ..Default::default() };
        let a = judged(&slow, vec![e], &[], 2, None);
        assert_eq!(a.outcome, AlertOutcome::PendingOnly);
        assert!(
            a.reason.contains("never fired: pending 5.0 s from 11.0 s, the condition cleared before `for: 5m` ran out"),
            "{}",
            a.reason
        );
        // true before the fault, and fired: noise; nothing after the fault
        let before = Episode { pending_ms: 2_000.0, firing_seen_ms: Some(4_000.0), cleared_ms: Some(9_000.0), ..Default::default() };
        let a = judged(&rule("Down", "pg_up == 0", 2000), vec![before], &[], 2, None);
        assert!(a.noise && a.outcome == AlertOutcome::Quiet, "{a:?}");
        assert!(a.reason.contains("held before any outage (pending from 2.0 s, and fired: noise)"), "{}", a.reason);
        // true since before the fault (a replica has no replicas at steady state): no time to page
        let e = Episode { pending_ms: 11_000.0, ..Default::default() };
        let a = judged(&rule("Down", "pg_up == 0", 300_000), vec![e], &[], 2, Some(5_000.0));
        assert!(a.reason.starts_with("its condition held before any outage (from 5.0 s without a break)"), "{}", a.reason);
        assert!(a.steps.is_empty() && a.to_page_ms.is_none() && a.outcome == AlertOutcome::PendingOnly, "{a:?}");
        // pending since before the fault and still: the steady state, not an answer
        let e = Episode { pending_ms: 4_000.0, ..Default::default() };
        let a = judged(&rule("Down", "pg_up == 0", 300_000), vec![e], &[], 2, None);
        assert_eq!(a.outcome, AlertOutcome::PendingOnly, "{a:?}");
        assert!(a.reason.starts_with("its condition held before any outage (from 4.0 s without a break)"), "{}", a.reason);
        assert!(!a.reason.contains("no series"), "{}", a.reason);
        // still firing long after the recovery, for a node that answers again: stuck
        let stuck = Episode { pending_ms: 11_000.0, firing_seen_ms: Some(13_000.0), instances: vec!["pg-2".into()], ..Default::default() };
        let a = judged(&rule("Down", "pg_up == 0", 2000), vec![stuck], &[note("firing", 15_000.0, 13_000.0)], 2, None);
        assert!(a.stuck && a.reason.contains("stuck: still firing 15.0 s after the recovery"), "{a:?}");
        assert!(a.still_true.is_empty(), "{a:?}");
        // the same, its expression still returning a series at the end: true, not stuck
        let left = Episode { pending_ms: 11_000.0, firing_seen_ms: Some(13_000.0), instances: vec!["pg-3".into()], ..Default::default() };
        let holds: BTreeMap<String, Vec<String>> = [("Down".to_string(), vec!["pg-3 = 0".to_string()])].into_iter().collect();
        let a = judged_holding(&rule("Down", "pg_up == 0", 2000), vec![left], &[note("firing", 15_000.0, 13_000.0)], (2, None), &holds);
        assert!(!a.stuck && a.still_true == ["pg-3 = 0"], "{a:?}");
        assert!(!a.reason.contains("stuck"), "{}", a.reason);
    }
}
