//! The alerts every report shows (`monitoring`): one row per rule (what it did, when, and
//! why), and its time to page split into steps beside their budgets.
use super::Results;
use super::format::ms;
use crate::monitor::{AlertOutcome, AlertRuleReport, AlertsReport};
use serde::Serialize;

/// One rule, already formatted (drill ms; "-" where there is nothing).
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct AlertLine {
    pub alert: String,
    #[tabled(rename = "for")]
    pub for_: String,
    pub outcome: String,
    #[tabled(rename = "pending ms")]
    pub pending: String,
    #[tabled(rename = "firing ms")]
    pub firing: String,
    #[tabled(rename = "notified ms")]
    pub notified: String,
    #[tabled(rename = "to page ms")]
    pub to_page: String,
    #[tabled(rename = "budget ms")]
    pub budget: String,
    #[tabled(rename = "resolved / notified ms")]
    pub resolved: String,
    pub why: String,
}

/// One step of one rule's time to page.
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct AlertStepLine {
    pub alert: String,
    pub step: String,
    #[tabled(rename = "took ms")]
    pub took: String,
    #[tabled(rename = "budget ms")]
    pub budget: String,
    pub within: String,
}

pub fn outcome_text(o: AlertOutcome) -> &'static str {
    match o {
        AlertOutcome::Dead => "DEAD",
        AlertOutcome::Quiet => "never pending",
        AlertOutcome::PendingOnly => "pending, never fired",
        AlertOutcome::FiredNotNotified => "fired, not notified",
        AlertOutcome::Notified => "PAGED",
    }
}

/// The caption: where the alerts came from, and the timing in effect.
pub fn alerts_caption(r: &Results) -> Option<String> {
    let a = r.alerts.as_ref()?;
    let s = &a.settings;
    let paged = a.rules.iter().filter(|x| x.outcome == AlertOutcome::Notified).count();
    let dead = a.dead().len();
    Some(format!(
        "{paged} of {} rules of {} paged, {dead} dead; scrape every {} ms, evaluation every {} ms, group_wait {} ms, group_interval {} ms; times on the drill's clock, from the first unplanned fault",
        a.rules.len(),
        a.rules_file,
        s.scrape_interval_ms,
        s.evaluation_interval_ms,
        s.group_wait_ms,
        s.group_interval_ms
    ))
}

pub fn alert_lines(a: &AlertsReport) -> Vec<AlertLine> {
    a.rules.iter().map(line).collect()
}

fn line(r: &AlertRuleReport) -> AlertLine {
    let budget: f64 = r.steps.iter().map(|s| s.budget_ms).sum();
    let mut why = r.reason.clone();
    if r.noise && !why.contains("noise") {
        why = format!("noise: fired with no outage; {why}");
    }
    AlertLine {
        alert: r.alert.clone(),
        for_: crate::scenario::alert_rules::duration_text(r.for_ms),
        outcome: outcome_text(r.outcome).into(),
        pending: ms(r.pending_ms),
        firing: ms(r.firing_ms),
        notified: ms(r.notified_ms),
        to_page: ms(r.to_page_ms),
        budget: if r.steps.is_empty() { "-".into() } else { format!("{budget:.0}") },
        resolved: format!("{} / {}", ms(r.resolved_ms), ms(r.resolved_notified_ms)),
        why,
    }
}

/// The steps of every rule that went pending after the fault.
pub fn step_lines(a: &AlertsReport) -> Vec<AlertStepLine> {
    let mut out = Vec::new();
    for r in &a.rules {
        for s in &r.steps {
            let within = match crate::checker::step_within_budget(s) {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            out.push(AlertStepLine {
                alert: r.alert.clone(),
                step: s.step.clone(),
                took: ms(s.ms),
                budget: format!("{:.0}", s.budget_ms),
                within: within.into(),
            });
        }
    }
    out
}

/// "## Alerts" for report.md.
pub fn markdown(r: &Results) -> String {
    use std::fmt::Write;
    let (Some(caption), Some(a)) = (alerts_caption(r), &r.alerts) else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## Alerts\n\n{caption}.\n");
    m.push_str(
        "| alert | for | outcome | pending ms | firing ms | notified ms | to page ms | budget ms | resolved / notified ms | why |\n",
    );
    m.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for l in alert_lines(a) {
        let why = l.why.replace('|', "\\|");
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {why} |",
            l.alert, l.for_, l.outcome, l.pending, l.firing, l.notified, l.to_page, l.budget, l.resolved
        );
    }
    let steps = step_lines(a);
    if !steps.is_empty() {
        m.push_str("\nTime to page, step by step:\n\n| alert | step | took ms | budget ms | within |\n|---|---|---|---|---|\n");
        for s in steps {
            let _ = writeln!(m, "| {} | {} | {} | {} | {} |", s.alert, s.step, s.took, s.budget, s.within);
        }
    }
    m
}

/// The terminal's alerts tables.
pub fn terminal(r: &Results) -> String {
    use tabled::settings::Style;
    let (Some(caption), Some(a)) = (alerts_caption(r), &r.alerts) else { return String::new() };
    let mut table = tabled::Table::new(alert_lines(a));
    table.with(Style::rounded());
    let mut s = format!("\nAlerts ({caption})\n{table}\n");
    let steps = step_lines(a);
    if !steps.is_empty() {
        let mut t = tabled::Table::new(steps);
        t.with(Style::rounded());
        s += &format!("Time to page, step by step\n{t}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome, once; the match fails to compile when one is added and not listed.
    const OUTCOMES: [AlertOutcome; 5] =
        [AlertOutcome::Notified, AlertOutcome::FiredNotNotified, AlertOutcome::PendingOnly, AlertOutcome::Quiet, AlertOutcome::Dead];

    fn listed(o: AlertOutcome) -> bool {
        use AlertOutcome::*;
        match o {
            Dead | Quiet | PendingOnly | FiredNotNotified | Notified => OUTCOMES.contains(&o),
        }
    }

    #[test]
    fn docs_alerts_names_each_outcome_as_the_reports_print_it_and_as_results_json_keeps_it() {
        let doc = include_str!("../../docs/alerts.md");
        for o in OUTCOMES {
            assert!(listed(o));
            let json = serde_json::to_value(o).unwrap();
            let row = format!("| `{}` | `{}` |", outcome_text(o), json.as_str().unwrap());
            assert!(doc.lines().any(|l| l.starts_with(&row)), "docs/alerts.md has no row starting {row}");
        }
    }
}
