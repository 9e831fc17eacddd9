//! The four questions answered from what the drill produced: each service's judged
//! results, the monitoring's alerts report (in the results) and the faults injected. A pure
//! function; the runner calls it once the results are assembled.
use super::Results;
use super::findings::findings;
use super::questions::{Alerting, Answer, FaultInjected, FaultPages, Figure, Measured, Page, Questions, Unexpected};
use crate::checker::{RtoBasis, Target, TargetResult, Verdict};
use crate::monitor::{AlertsReport, Notification};

/// The four questions of the drill `r`, given the faults it injected.
pub fn answer(r: &Results, faults: &[FaultInjected]) -> Questions {
    let mut found = findings(r);
    found.extend(super::false_failover::found(r, faults));
    let mut rto = measured(r, &[Target::RtoMs], |sr| sr.rto_ms);
    with_read_rows(r, &mut rto, ReadRow::Rto);
    with_availability_rows(r, &mut rto);
    let mut rpo = measured(r, &Target::DATA_LOSS, |sr| sr.rpo_ms);
    with_read_rows(r, &mut rpo, ReadRow::LostWritesRead);
    Questions {
        rto,
        rpo,
        unexpected: Unexpected { answer: if found.is_empty() { Answer::No } else { Answer::Yes }, findings: found },
        alerting: alerting(r, faults),
    }
}

/// Each service's figure beside each of `targets` it sets; a service setting none has one
/// row, its first target's figure with no limit: `unknown`, never `yes`.
fn measured(r: &Results, targets: &[Target], figure: fn(&Results) -> Option<f64>) -> Measured {
    let mut rows = Vec::new();
    for (name, sr) in r.each_service() {
        let set: Vec<&TargetResult> = sr.targets.iter().filter(|t| targets.contains(&t.target)).collect();
        if set.is_empty() {
            rows.push(no_target_row(name, sr, targets, figure(sr)));
        }
        rows.extend(set.into_iter().map(|t| answered_no_fault(sr, target_row(name, t))));
    }
    Measured { answer: Answer::of(rows.iter().map(|f| f.answer)), services: rows }
}

/// A target met after a failover that began before any fault (`failover_after_fault`) is
/// no fault's figure: `unknown`, never `yes`.
fn answered_no_fault(sr: &Results, row: Figure) -> Figure {
    let early = sr.targets.iter().any(|t| t.target == Target::FailoverAfterFault);
    if !early || row.answer != Answer::Yes {
        return row;
    }
    let why = "the failover began before any fault, so the figure is no fault's recovery";
    let note = if row.note.is_empty() { why.to_string() } else { format!("{}; but {why}", row.note) };
    Figure { answer: Answer::Unknown, note, ..row }
}

/// A service's row for target `t`: its figure, limit, answer and note.
fn target_row(name: &str, t: &TargetResult) -> Figure {
    Figure {
        service: name.into(),
        target: t.target.clone(),
        figure: t.actual,
        limit: t.limit,
        answer: held(t),
        note: t.note.clone(),
        availability: None,
    }
}

/// A service's row where it sets none of `targets`: `unknown`, never `yes`; for question 2
/// of a service that promises no RPO (`rpo: none`), `not promised`, with what was lost.
fn no_target_row(name: &str, sr: &Results, targets: &[Target], figure: Option<f64>) -> Figure {
    let (answer, note) = if sr.rpo_not_promised && targets.contains(&Target::RpoMs) {
        let lost = match (sr.lost_writes, sr.rpo_ms) {
            (Some(n), Some(ms)) => format!("{n} acknowledged writes lost, spanning {ms:.1} ms"),
            _ => "what was lost could not be read back".into(),
        };
        (Answer::NotPromised, format!("no RPO promised (`rpo: none`): {lost}"))
    } else {
        (Answer::Unknown, format!("no {} target set", targets.iter().map(Target::name).collect::<Vec<_>>().join(" or ")))
    };
    Figure { service: name.into(), target: targets[0].clone(), figure, limit: None, answer, note, availability: None }
}

/// Each service with `targets.availability` gains a row after its others in question 1:
/// its outage against the period's downtime budget.
fn with_availability_rows(r: &Results, m: &mut Measured) {
    for (name, sr) in r.each_service() {
        let (Some(a), Some(t)) = (&sr.availability, sr.targets.iter().find(|t| t.target == Target::Availability)) else { continue };
        let row = Figure { availability: Some(a.clone()), ..target_row(name, t) };
        let at = m.services.iter().rposition(|f| f.service == row.service).map_or(m.services.len(), |i| i + 1);
        m.services.insert(at, row);
    }
    m.answer = Answer::of(m.services.iter().map(|f| f.answer));
}

/// The read row a question gains for each service with readers.
#[derive(Clone, Copy)]
enum ReadRow {
    /// Question 1: the read RTO, with the staleness by phase in its note.
    Rto,
    /// Question 2: the reads of writes the failover lost.
    LostWritesRead,
}

impl ReadRow {
    /// The target that judges the row, the figure, and what it says in words.
    fn of(self, x: &crate::checker::ReadsReport) -> (Target, Option<f64>, String) {
        match self {
            ReadRow::Rto => {
                let stale: Vec<String> =
                    x.staleness_by_phase.iter().map(|p| format!("{} {}", p.phase, super::words::ms_text(p.stats.p99_ms))).collect();
                let words = crate::checker::read_rto_text(x);
                (
                    Target::ReadRtoMs,
                    x.rto.as_ref().and_then(|t| t.rto_ms),
                    format!("{words}; stale reads p99 by phase (ms): {}", stale.join(", ")),
                )
            }
            ReadRow::LostWritesRead => {
                (Target::MaxReadsOfLostWrites, x.of_lost_writes.as_ref().map(|l| l.reads as f64), crate::checker::lost_text(x))
            }
        }
    }
}

/// Each service with readers gains a read row beside its write row(s): its figure beside
/// the read target (judged), or, without that target, shown and not judged (it leaves
/// the answer to the writes).
fn with_read_rows(r: &Results, m: &mut Measured, kind: ReadRow) {
    let mut rows = Vec::new();
    for (name, sr) in r.each_service() {
        let Some(x) = &sr.reads else { continue };
        let (target, figure, words) = kind.of(x);
        let row = match sr.targets.iter().find(|t| t.target == target) {
            Some(t) => Figure {
                service: name.into(),
                target: t.target.clone(),
                figure,
                limit: t.limit,
                answer: held(t),
                note: words,
                availability: None,
            },
            None => Figure {
                service: name.into(),
                target: target.clone(),
                figure,
                limit: None,
                answer: Answer::NotDrilled,
                note: format!("{words}; no {target} target set"),
                availability: None,
            },
        };
        rows.push(row);
    }
    for row in rows {
        let at = m.services.iter().rposition(|f| f.service == row.service).map_or(m.services.len(), |i| i + 1);
        m.services.insert(at, row);
    }
    m.answer = Answer::of(m.services.iter().map(|f| f.answer));
}

/// A target's verdict as an answer. The checker passes an RTO without a figure only when
/// nothing hit the service and its writes never stopped (its note says so); any other
/// pass without a figure is not a yes.
fn held(t: &TargetResult) -> Answer {
    match t.verdict {
        Verdict::Pass if t.actual.is_some() || t.target == Target::RtoMs => Answer::Yes,
        Verdict::Fail => Answer::No,
        Verdict::Undecided => Answer::Undecided,
        _ => Answer::Unknown,
    }
}

/// Each fault with the pages for its targets; `yes` when every unplanned fault that
/// caused an outage paged within its limit.
fn alerting(r: &Results, faults: &[FaultInjected]) -> Alerting {
    let Some(a) = &r.alerts else {
        let faults = faults.iter().map(|f| unwatched(r, faults, f)).collect();
        return Alerting { answer: Answer::NotDrilled, why: "no monitoring in this drill".into(), faults };
    };
    let judged: Vec<FaultPages> = faults.iter().map(|f| fault_pages(r, a, faults, f)).collect();
    let answer = Answer::of(judged.iter().map(|f| f.answer));
    let owed = judged.iter().filter(|f| f.answer != Answer::NotDrilled).count();
    let why = match answer {
        // (no page row is ever `not promised`)
        Answer::NotDrilled | Answer::NotPromised => "no unplanned fault caused an outage: no page was owed".into(),
        Answer::Yes => format!("all {owed} faults that caused an outage paged within their limit"),
        Answer::No => {
            let missed = judged.iter().filter(|f| f.answer == Answer::No).count();
            format!("{missed} of {owed} faults that caused an outage did not page within their limit")
        }
        Answer::Unknown | Answer::Undecided => {
            let first = judged.iter().find(|f| f.answer == answer).map(|f| f.note.as_str()).unwrap_or_default();
            format!("undecided for a fault: {first}")
        }
    };
    Alerting { answer, why: why + &false_pages_text(a), faults: judged }
}

/// `; 1 false page: DbTargetGone for pg-3 (delivered t=18.5 s; pg-3 answering the clients
/// from t=9.6 s to t=20.3 s)`, or nothing.
fn false_pages_text(a: &AlertsReport) -> String {
    if a.false_pages.is_empty() {
        return String::new();
    }
    let each: Vec<String> = a
        .false_pages
        .iter()
        .map(|p| {
            let (from, to) = (p.answered_from_ms / 1e3, p.answered_to_ms / 1e3);
            format!(
                "{} for {} (delivered t={:.1} s; {} answering the clients from t={from:.1} s to t={to:.1} s)",
                p.alert,
                p.instance,
                p.notified_ms / 1e3,
                p.instance
            )
        })
        .collect();
    let n = each.len();
    format!("; {n} false page{}: {}", if n == 1 { "" } else { "s" }, each.join(", "))
}

/// A fault of a drill without monitoring: nothing could page.
fn unwatched(r: &Results, faults: &[FaultInjected], f: &FaultInjected) -> FaultPages {
    FaultPages {
        fault: f.clone(),
        outage: caused_outage(r, faults, f),
        answer: Answer::NotDrilled,
        note: "no monitoring".into(),
        ..Default::default()
    }
}

fn fault_pages(r: &Results, a: &AlertsReport, faults: &[FaultInjected], f: &FaultInjected) -> FaultPages {
    let outage = caused_outage(r, faults, f);
    let pages = pages_for(r, a, f);
    let (answer, note) = if f.planned {
        (Answer::NotDrilled, "planned: no page owed".to_string())
    } else if !outage {
        (Answer::NotDrilled, "no outage from it: no page owed".to_string())
    } else if pages.is_empty() && a.source == "users" && !fired_after(a, f).is_empty() {
        // the users' labels are theirs: an alert that names neither our nodes nor services may be its page
        let names = fired_after(a, f).join(", ");
        (Answer::Unknown, format!("nothing labelled with its nodes or services paged; the users' monitoring notified {names} after it"))
    } else if pages.is_empty() && firing_since(a, f.at_ms).any(|n| held_back(a, n)) {
        (Answer::No, "nothing paged while the monitoring could: its page left only once its sites came back".to_string())
    } else if pages.is_empty() {
        (Answer::No, "nothing paged".to_string())
    } else if pages.iter().any(|p| p.limit_ms.is_some_and(|l| p.to_page_ms <= l)) {
        (Answer::Yes, "paged within its limit".to_string())
    } else if pages.iter().any(|p| p.limit_ms.is_some()) {
        (Answer::No, "paged, but later than its limit".to_string())
    } else {
        (Answer::Unknown, "paged; no rto_ms or alerts target to judge it by".to_string())
    };
    FaultPages { fault: f.clone(), outage, pages, answer, note }
}

/// Whether a service the fault hit saw an outage from it: its RTO counts from this fault,
/// or writes failed again after its recovery point and this is the first fault on it since
/// (the relapse's likely cause; a later one, e.g. the restart that ended it, is not).
fn caused_outage(r: &Results, faults: &[FaultInjected], f: &FaultInjected) -> bool {
    r.each_service().into_iter().filter(|(n, _)| f.services.iter().any(|s| s == n)).any(|(n, sr)| {
        let measured_from = match sr.answered_fault {
            Some(i) => i == f.index,
            None => sr.fault_ms.is_some_and(|t| (t - f.at_ms).abs() < 1e-3),
        };
        let first = sr.outage_observed && sr.rto_basis == RtoBasis::Fault && measured_from;
        let since =
            |t: f64| faults.iter().filter(|g| g.at_ms >= t && g.services.iter().any(|s| s == n)).min_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        let relapse = sr.relapses > 0 && sr.recovered_at_ms.and_then(since).is_some_and(|g| g.index == f.index && g.at_ms == f.at_ms);
        first || relapse
    })
}

/// The first firing notification of each alert that began at or after the fault and is
/// for one of its nodes (`instance`) or, without an `instance`, one of its services.
fn pages_for(r: &Results, a: &AlertsReport, f: &FaultInjected) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    for n in firing_since(a, f.at_ms).filter(|n| !held_back(a, n)) {
        let Some((matched, service)) = matched(n, f) else { continue };
        if pages.iter().any(|p| p.alert == n.alert) {
            continue;
        }
        let limit_ms = limit(r, &service, &n.alert);
        pages.push(Page { alert: n.alert.clone(), matched, at_ms: n.at_ms, to_page_ms: n.at_ms - f.at_ms, limit_ms });
    }
    pages.sort_by(|x, y| x.at_ms.total_cmp(&y.at_ms));
    pages
}

/// A notification that fired while every site the monitoring stood in was dark and left
/// only once one came back (`AlertsReport::held_back`).
fn held_back(a: &AlertsReport, n: &Notification) -> bool {
    a.held_back(n.starts_ms.unwrap_or(n.at_ms), n.at_ms).is_some()
}

/// Every alert that began firing at or after the fault, whatever its labels.
fn fired_after(a: &AlertsReport, f: &FaultInjected) -> Vec<String> {
    let mut names: Vec<String> = firing_since(a, f.at_ms).map(|n| n.alert.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The firing notifications of alerts that began firing at or after `at_ms`.
fn firing_since(a: &AlertsReport, at_ms: f64) -> impl Iterator<Item = &Notification> {
    a.notifications.iter().filter(move |n| n.status == "firing" && n.starts_ms.unwrap_or(n.at_ms) >= at_ms)
}

/// The label a notification matches the fault by, and the service it is for.
fn matched(n: &Notification, f: &FaultInjected) -> Option<(String, String)> {
    let service = n.labels.get("service").filter(|s| f.services.contains(s)).or(f.services.first()).cloned().unwrap_or_default();
    match (n.labels.get("instance"), n.labels.get("service")) {
        (Some(i), _) if f.nodes.contains(i) => Some((format!("instance={i}"), service)),
        (None, Some(s)) if f.services.contains(s) => Some((format!("service={s}"), service)),
        _ => None,
    }
}

/// An alert's limit: its own `notified_within_ms` target, else its service's RTO target.
fn limit(r: &Results, service: &str, alert: &str) -> Option<f64> {
    let sr = r.each_service().into_iter().find(|(n, _)| *n == service).map(|(_, sr)| sr)?;
    let target = |name: Target| sr.targets.iter().find(|t| t.target == name).and_then(|t| t.limit);
    target(Target::AlertNotified(alert.to_string())).or_else(|| target(Target::RtoMs))
}
