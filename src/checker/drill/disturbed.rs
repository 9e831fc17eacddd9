//! A verdict that knows when it could not judge. A timing target (RTO, read RTO, a
//! staleness or lag percentile, a time to page) missed while the host was saturated, its
//! disk stalled or the clients' pacing slipped past its bound inside the window that target
//! measures, for at least as long as it was missed by, is undecided, not failed: the runner
//! may have been too busy to tell. A target missed outside every disturbed stretch fails as
//! before, and the targets of data loss (RPO, lost writes, reads of lost writes, …) are
//! never undecided: a lost write is lost on any host.
use super::Results;
use super::comparison::Check;
use super::undecided::{Disturbance, Undecided};
use crate::checker::{Target, Verdict};
use crate::usage::HarnessUsage;

const LATE: &str = "clients late";

/// How an undecided target's note begins.
pub const NOT_JUDGED: &str = "not judged, the host was disturbed: ";

/// Every failed timing target whose window a disturbance overlaps made undecided (its
/// note says why), the verdicts merged again, and each one listed in `r.undecided`.
pub fn judge_disturbed(r: &mut Results) {
    let Some(h) = r.harness.as_ref() else { return };
    let spans = disturbances(h);
    if spans.is_empty() || r.verdict != Verdict::Fail {
        return;
    }
    let end_ms = end_ms(h);
    let several = r.services.len() > 1;
    let mut found = Vec::new();
    for (name, sr) in r.services.iter_mut() {
        let each = decide(sr, if several { name } else { "" }, &spans, end_ms);
        if several {
            found.extend(each);
        }
    }
    found.extend(decide(r, "", &spans, end_ms));
    if several {
        r.verdict = r.services.values().map(|s| s.verdict).chain(r.targets.iter().map(|t| t.verdict)).fold(Verdict::Pass, Verdict::merge);
    }
    r.undecided = found;
}

/// The disturbed stretches of the drill: the host saturated, its disk stalled, a paced
/// client late past its bound.
fn disturbances(h: &HarnessUsage) -> Vec<Disturbance> {
    let mut out = Vec::new();
    for s in h.host.iter().flat_map(|x| &x.saturated) {
        let measured = format!("every core {:.0} % busy on average, /proc/stat", s.busy * 100.0);
        out.push(Disturbance { what: "host saturated".into(), from_ms: s.from_ms, to_ms: s.to_ms, measured });
    }
    for s in h.host.iter().flat_map(|x| &x.disk).flat_map(|d| &d.stalled) {
        let measured = format!("some task waited for I/O {:.0} % of it, /proc/pressure/io", s.share * 100.0);
        out.push(Disturbance { what: "disk stalled".into(), from_ms: s.from_ms, to_ms: s.to_ms, measured });
    }
    if let Some(s) = &h.slip {
        for o in &s.over {
            let measured = format!("{} invoked an operation {:.0} ms after it was due", o.client, o.slip_ms);
            out.push(Disturbance { what: LATE.into(), from_ms: o.at_ms - o.slip_ms, to_ms: o.at_ms, measured });
        }
    }
    out
}

/// The drill's last moment the usage saw: the workload's end, or a stretch past it.
pub(super) fn end_ms(h: &HarnessUsage) -> f64 {
    h.host.as_ref().and_then(|x| x.saturated.last()).map_or(0.0, |s| s.to_ms).max(h.workload_s * 1000.0)
}

/// One result's failed timing targets judged against the disturbances; its verdict merged again.
fn decide(r: &mut Results, service: &str, spans: &[Disturbance], end_ms: f64) -> Vec<Undecided> {
    let mut found = Vec::new();
    for i in 0..r.targets.len() {
        let t = &r.targets[i];
        if t.verdict != Verdict::Fail {
            continue;
        }
        let Some((window, from_ms, to_ms)) = window(r, &t.target, end_ms) else { continue };
        let Some(disturbed) = could_explain(spans, (from_ms, to_ms), missed_by(t.actual, t.limit)) else { continue };
        let u = Undecided { service: service.to_string(), target: t.target.clone(), window: window.into(), from_ms, to_ms, disturbed };
        let t = &mut r.targets[i];
        t.verdict = Verdict::Undecided;
        let sep = if t.note.is_empty() { "" } else { "; " };
        t.note = format!("{}{sep}{}", t.note, undecided_note(&u));
        found.push(u);
    }
    if !found.is_empty() {
        r.verdict = r.targets.iter().fold(Verdict::Pass, |v, t| v.merge(t.verdict));
    }
    found
}

/// By how much a figure missed its limit; None when it never came (writes that never
/// came back: no disturbance of a moment explains that) or came within its limit (the
/// target failed for another reason: a page sent in time but only once its sites were
/// back is not a matter of time).
fn missed_by(actual: Option<f64>, limit: Option<f64>) -> Option<f64> {
    Some(actual? - limit.unwrap_or(0.0)).filter(|m| *m > 0.0)
}

/// The disturbances inside the window (`from`, `to`), when they could explain a miss of
/// `missed_ms`: the host disturbed at least that long of the window (a target missed by
/// 300 ms with the host saturated 1.8 s of its window; not one missed by 20 s beside a
/// saturated second).
fn could_explain(spans: &[Disturbance], (from, to): (f64, f64), missed_ms: Option<f64>) -> Option<Vec<Disturbance>> {
    let inside: Vec<Disturbance> = spans.iter().filter(|d| d.to_ms > from && d.from_ms < to).cloned().collect();
    let mut cut: Vec<(f64, f64)> = inside.iter().map(|d| (d.from_ms.max(from), d.to_ms.min(to))).collect();
    cut.sort_by(|a, b| a.0.total_cmp(&b.0));
    // the union's length: overlapping stretches (a saturated host and late clients) count once
    let (mut total, mut reach) = (0.0, f64::MIN);
    for (a, b) in cut {
        let a = a.max(reach);
        if b > a {
            total += b - a;
            reach = b;
        }
    }
    (!inside.is_empty() && total > 0.0 && total >= missed_ms?).then(|| one_late(inside))
}

/// The late clients of a window said once: from the first to the last, how many, the worst.
fn one_late(mut all: Vec<Disturbance>) -> Vec<Disturbance> {
    let late: Vec<Disturbance> = all.iter().filter(|d| d.what == LATE).cloned().collect();
    if late.len() < 2 {
        return all;
    }
    all.retain(|d| d.what != LATE);
    let from_ms = late.iter().map(|d| d.from_ms).fold(f64::MAX, f64::min);
    let to_ms = late.iter().map(|d| d.to_ms).fold(0.0, f64::max);
    let worst = late.iter().max_by(|a, b| (a.to_ms - a.from_ms).total_cmp(&(b.to_ms - b.from_ms))).map(|d| d.measured.clone());
    let measured = format!("{} paced operations late past the bound, the worst: {}", late.len(), worst.unwrap_or_default());
    all.push(Disturbance { what: LATE.into(), from_ms, to_ms, measured });
    all
}

/// `not judged, the host was disturbed: host saturated t=16.5–18.3 s (…) over the RTO
/// window t=15.0–19.0 s`.
fn undecided_note(u: &Undecided) -> String {
    format!("{NOT_JUDGED}{}", u.reason())
}

/// The window a timing target measures; None for a target no host can disturb (data loss,
/// convergence, refusals, the drill's own checks).
pub(super) fn window(r: &Results, target: &Target, end_ms: f64) -> Option<(&'static str, f64, f64)> {
    match target {
        Target::RtoMs => {
            let to = r.rto_ms.map_or(end_ms, |rto| r.rto_from_ms + rto);
            Some(("RTO window", r.rto_from_ms, to))
        }
        Target::ReadRtoMs => {
            let rto = r.reads.as_ref()?.rto.as_ref()?;
            Some(("read RTO window", rto.from_ms, rto.rto_ms.map_or(end_ms, |x| rto.from_ms + x)))
        }
        Target::StaleReadMs(_) | Target::ReplicaLagMs(_) => Some(("workload", 0.0, end_ms)),
        Target::AlertNotified(_) => {
            let from = r.fault_ms.unwrap_or(r.rto_from_ms);
            Some(("time to page", from, end_ms))
        }
        _ => None,
    }
}

/// The timing quantities worse than the baseline (RTO and its phases) whose service's RTO
/// window a disturbance overlaps: undecided, not regressions. Lost data never is.
pub(super) fn undecided_checks(new: &Results, checks: &mut [Check]) {
    let Some(h) = new.harness.as_ref() else { return };
    let spans = disturbances(h);
    let end_ms = end_ms(h);
    for c in checks.iter_mut().filter(|c| c.regression) {
        let (service, quantity) = c.quantity.split_once(": ").unwrap_or(("", c.quantity.as_str()));
        if !["rto_ms", "detection_ms", "promotion_ms", "reroute_ms"].contains(&quantity) {
            continue;
        }
        let sr = new.each_service().into_iter().find(|(n, _)| service.is_empty() || *n == service).map(|(_, r)| r);
        let Some((window, from_ms, to_ms)) = sr.and_then(|sr| window(sr, &Target::RtoMs, end_ms)) else { continue };
        let allowed = c.baseline.zip(c.tolerance).map(|(b, t)| b + t);
        let Some(disturbed) = could_explain(&spans, (from_ms, to_ms), missed_by(c.actual, allowed)) else { continue };
        let u = Undecided { service: String::new(), target: Target::RtoMs, window: window.into(), from_ms, to_ms, disturbed };
        c.regression = false;
        c.undecided = true;
        c.note = format!("{}; {}", c.note, undecided_note(&u));
    }
}

/// The disturbances inside a run's RTO window (each service's), said in one line; None
/// when the host left every RTO window alone.
pub fn rto_window_disturbed(r: &Results) -> Option<String> {
    let h = r.harness.as_ref()?;
    let (spans, end_ms) = (disturbances(h), end_ms(h));
    let said: Vec<String> = r
        .each_service()
        .into_iter()
        .filter_map(|(_, sr)| {
            let (window, from_ms, to_ms) = window(sr, &Target::RtoMs, end_ms)?;
            let d = could_explain(&spans, (from_ms, to_ms), Some(0.0))?;
            Some(undecided_note(&Undecided {
                target: Target::RtoMs,
                window: window.into(),
                from_ms,
                to_ms,
                disturbed: d,
                ..Undecided::default()
            }))
        })
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

/// A spread of RTOs over a scenario's runs that missed its target while the host disturbed
/// the RTO window of one of those runs: undecided, as a single run's would be.
pub fn undecided_spread(targets: &mut [crate::checker::SpreadResult], runs: &[&Results]) {
    let disturbed = runs.iter().filter(|r| rto_window_disturbed(r).is_some()).count();
    for t in targets.iter_mut().filter(|t| t.target == Target::RtoMs && t.verdict == Verdict::Fail && t.actual.is_some()) {
        if disturbed > 0 {
            t.verdict = Verdict::Undecided;
            t.note = format!("{}; {NOT_JUDGED}the RTO window of {disturbed} of {} runs", t.note, runs.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::TargetResult;
    use crate::usage::{HostLoad, Stretch};

    /// One service: RTO 1.6 s from t=5.0 s against a 1 s target, and what else `more` adds.
    fn drill(more: Vec<TargetResult>, saturated: &[(f64, f64)]) -> Results {
        let rto =
            TargetResult { target: Target::RtoMs, limit: Some(1000.0), actual: Some(1600.0), verdict: Verdict::Fail, note: String::new() };
        let targets: Vec<TargetResult> = std::iter::once(rto).chain(more).collect();
        let verdict = targets.iter().fold(Verdict::Pass, |v, t| v.merge(t.verdict));
        let mut r = Results { rto_from_ms: 5000.0, rto_ms: Some(1600.0), outage_observed: true, targets, verdict, ..Results::default() };
        let saturated = saturated.iter().map(|(a, b)| Stretch { from_ms: *a, to_ms: *b, busy: 0.99 }).collect();
        let host = HostLoad { cores: 2, interval_ms: 250.0, samples: 48, busy_p50: 0.4, busy_max: 1.0, saturated, disk: None };
        r.harness = Some(HarnessUsage { workload_s: 12.0, host: Some(host), ..HarnessUsage::between_nothing() });
        r.services = [("pg".to_string(), r.clone())].into();
        r
    }

    #[test]
    fn an_rto_missed_while_the_host_was_saturated_in_its_window_is_undecided() {
        let mut r = drill(Vec::new(), &[(5800.0, 7600.0)]);
        judge_disturbed(&mut r);
        assert_eq!(r.verdict, Verdict::Undecided);
        assert_eq!(r.verdict.exit_code(), crate::error::exit::UNDECIDED);
        assert_eq!(r.targets[0].verdict, Verdict::Undecided);
        assert_eq!(r.services["pg"].verdict, Verdict::Undecided);
        assert_eq!(r.undecided.len(), 1);
        assert_eq!(
            r.undecided[0].text(),
            "rto_ms undecided: host saturated t=5.8–7.6 s (every core 99 % busy on average, /proc/stat) over the RTO window t=5.0–6.6 s"
        );
        assert!(r.targets[0].note.starts_with("not judged, the host was disturbed: host saturated t=5.8–7.6 s"), "{}", r.targets[0].note);
    }

    #[test]
    fn an_rto_missed_outside_every_disturbed_stretch_fails() {
        let mut r = drill(Vec::new(), &[(1000.0, 4900.0), (6700.0, 9000.0)]);
        judge_disturbed(&mut r);
        assert_eq!((r.verdict, r.targets[0].verdict), (Verdict::Fail, Verdict::Fail));
        assert!(r.undecided.is_empty());
    }

    #[test]
    fn an_rto_missed_by_more_than_the_host_was_disturbed_fails() {
        // missed by 600 ms; the host saturated 400 ms of the window
        let mut r = drill(Vec::new(), &[(6200.0, 9000.0)]);
        judge_disturbed(&mut r);
        assert_eq!((r.verdict, r.targets[0].verdict), (Verdict::Fail, Verdict::Fail));
        // writes that never came back: no stretch of a busy host explains that
        let mut r = drill(Vec::new(), &[(0.0, 12_000.0)]);
        r.rto_ms = None;
        r.targets[0].actual = None;
        r.services.get_mut("pg").unwrap().rto_ms = None;
        judge_disturbed(&mut r);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn a_target_failed_within_its_limit_failed_for_another_reason_and_stays_failed() {
        // a page sent 11.6 s after the fault against 15 s, failed because it left only once
        // the monitoring's sites were back: beside a saturated host it still fails
        let page = TargetResult {
            target: Target::AlertNotified("PgDown".into()),
            limit: Some(15_000.0),
            actual: Some(11_600.0),
            verdict: Verdict::Fail,
            note: "paged only once the monitoring's sites came back".into(),
        };
        let mut r = drill(vec![page], &[(0.0, 12_000.0)]);
        r.fault_ms = Some(4000.0);
        judge_disturbed(&mut r);
        assert_eq!(r.targets[1].verdict, Verdict::Fail, "{}", r.targets[1].note);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn lost_writes_on_a_saturated_host_still_fail_and_the_drill_with_them() {
        let lost = TargetResult {
            target: Target::MaxLostWrites,
            limit: Some(0.0),
            actual: Some(3.0),
            verdict: Verdict::Fail,
            note: String::new(),
        };
        let rpo = TargetResult { target: Target::RpoMs, limit: Some(0.0), actual: Some(40.0), verdict: Verdict::Fail, note: String::new() };
        let mut r = drill(vec![lost, rpo], &[(0.0, 12_000.0)]);
        judge_disturbed(&mut r);
        assert_eq!(r.targets.iter().map(|t| t.verdict).collect::<Vec<_>>(), [Verdict::Undecided, Verdict::Fail, Verdict::Fail]);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn a_lag_percentile_missed_on_a_saturated_host_is_undecided_over_the_workload() {
        let lag = TargetResult {
            target: Target::ReplicaLagMs(crate::scenario::Percentile::P99),
            limit: Some(100.0),
            actual: Some(900.0),
            verdict: Verdict::Fail,
            note: String::new(),
        };
        let mut r = drill(vec![lag], &[(9000.0, 10_500.0)]);
        judge_disturbed(&mut r);
        // the RTO window (5.0–6.6 s) was quiet: it fails; the lag's window is the whole workload
        assert_eq!(r.targets[0].verdict, Verdict::Fail);
        assert_eq!(r.targets[1].verdict, Verdict::Undecided);
        assert_eq!(r.undecided[0].window, "workload");
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn a_slower_rto_than_the_baseline_on_a_disturbed_run_is_undecided_not_a_regression() {
        let r = drill(Vec::new(), &[(5800.0, 7600.0)]);
        let base = Results { run_id: "b".into(), rto_ms: Some(400.0), lost_writes: Some(0), ..drill(Vec::new(), &[]) };
        let c = super::super::compare_with_baseline(std::slice::from_ref(&base), &Results { lost_writes: Some(2), ..r.clone() });
        let rto = c.checks.iter().find(|k| k.quantity == "rto_ms").unwrap();
        assert!(rto.undecided && !rto.regression, "{rto:?}");
        assert!(rto.note.contains("not judged, the host was disturbed: host saturated t=5.8–7.6 s"), "{}", rto.note);
        // a lost write is a regression on any host
        assert!(c.checks.iter().any(|k| k.quantity == "lost_writes" && k.regression));
        // on a quiet host the same RTO is a regression
        let quiet = Results { harness: drill(Vec::new(), &[]).harness, ..r };
        let c = super::super::compare_with_baseline(&[base], &quiet);
        assert!(c.regressed() && !c.undecided(), "{c:?}");
    }
}
