//! A sweep judged: for each value of the swept setting (a point of the grid with two), the
//! failures' RTO over the repeats, and for each blip the false failovers as k of n with the
//! rates n runs allow; the verdict per value, and the answer in one line: the smallest
//! value that met `rto_ms` with no more false failovers than allowed.
//!
//! A blip's run is a false failover when anything promoted another node during it (the
//! scenario says the blip must not fail over). A run the host perturbed (saturated, a
//! stalled disk, the clients' pacing slipped: the drill's own findings) or whose verdict
//! is undecided is marked and not counted; an error counts as nothing either.
use super::Phases;
use super::drill::{FindingKind, Results};
use super::k_of_n::KOfN;
use super::{Verdict, pct};
use crate::scenario::{Role, SweepPlan};
use serde::{Deserialize, Serialize};

/// One drill of the sweep as it ran: its point, what it was for, and its results (None:
/// it did not run to the end).
pub struct TrialRun<'a> {
    pub point: usize,
    pub role: Role,
    /// Its index among the failures or the blips.
    pub index: usize,
    pub results: Option<&'a Results>,
}

/// One failure at one point: its RTO over the runs counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureStat {
    pub failure: String,
    pub runs: u32,
    pub counted: u32,
    /// Runs the host perturbed, and runs that did not finish: not counted.
    pub perturbed: u32,
    pub errors: u32,
    /// Counted runs whose writes never became available again.
    pub not_recovered: u32,
    pub rto_p50_ms: Option<f64>,
    pub rto_p95_ms: Option<f64>,
    pub rto_max_ms: Option<f64>,
    pub lost_writes_max: Option<u64>,
    /// The RTO's phases over the counted runs, each against what the value allows it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseStat>,
}

/// One phase of a failure's RTO over the counted runs (detection, promotion, reroute),
/// against the budget the value's settings give it (the drills' own: the same at a value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseStat {
    pub phase: String,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub budget_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub budget_from: String,
    /// Counted runs in which it took longer than its budget.
    pub over_budget: u32,
}

/// One blip at one point: how often it was answered with a promotion, and what that cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlipStat {
    pub blip: String,
    pub runs: u32,
    pub perturbed: u32,
    pub errors: u32,
    pub false_failovers: KOfN,
    /// Over the counted runs: the clients' longest outage (the blip's own where nothing was
    /// promoted), the most acknowledged writes lost, the longest split brain.
    pub outage_max_ms: Option<f64>,
    pub lost_writes_max: Option<u64>,
    pub split_max_ms: Option<f64>,
}

/// One point of the sweep, judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    pub values: Vec<String>,
    /// The file's own values: the seed's setting.
    pub seed: bool,
    /// Every drill of the point ran to the end, `repeat` times (false: interrupted first,
    /// or a drill failed to run).
    pub done: bool,
    pub failures: Vec<FailureStat>,
    pub blips: Vec<BlipStat>,
    pub verdict: Verdict,
    /// Why it did not pass.
    pub why: Vec<String>,
}

/// The sweep, judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub settings: Vec<String>,
    pub seed: Vec<String>,
    pub repeat: u32,
    pub rto_target_ms: Option<f64>,
    pub max_false_failovers: u32,
    pub points: Vec<PointResult>,
    /// The point the answer names (the smallest that passed).
    pub best: Option<usize>,
    pub answer: String,
    /// Pass when some point met the targets; unknown when none was judged on counted runs.
    pub verdict: Verdict,
}

/// The sweep judged from its drills.
pub fn judge_sweep(plan: &SweepPlan, runs: &[TrialRun]) -> SweepReport {
    let points: Vec<PointResult> = plan.points.iter().enumerate().map(|(i, values)| point(plan, i, values, runs)).collect();
    let best = smallest(points.iter().enumerate().filter(|(_, p)| p.verdict == Verdict::Pass).map(|(i, p)| (i, p.values.as_slice())));
    let verdict = match best {
        Some(_) => Verdict::Pass,
        None if points.iter().any(|p| p.verdict == Verdict::Fail) => Verdict::Fail,
        None => Verdict::Unknown,
    };
    let mut r = SweepReport {
        settings: plan.settings.clone(),
        seed: plan.seed.clone(),
        repeat: plan.repeat,
        rto_target_ms: plan.rto_ms,
        max_false_failovers: plan.max_false_failovers,
        points,
        best,
        answer: String::new(),
        verdict,
    };
    r.answer = answer(&r);
    r
}

/// The index of the smallest point by its values read as numbers, the first setting's
/// first (a switch: false before true); the order they were written in breaks a tie.
fn smallest<'a>(points: impl Iterator<Item = (usize, &'a [String])>) -> Option<usize> {
    let key = |v: &[String]| -> Vec<f64> { v.iter().map(|x| x.parse::<f64>().unwrap_or(if x == "true" { 1.0 } else { 0.0 })).collect() };
    points.min_by(|a, b| key(a.1).partial_cmp(&key(b.1)).unwrap_or(std::cmp::Ordering::Equal).then(a.0.cmp(&b.0))).map(|(i, _)| i)
}

fn point(plan: &SweepPlan, i: usize, values: &[String], runs: &[TrialRun]) -> PointResult {
    let mine = |role: Role, index: usize| runs.iter().filter(move |t| t.point == i && t.role == role && t.index == index);
    let failures: Vec<FailureStat> = plan.failures.iter().enumerate().map(|(k, f)| failure(f, mine(Role::Failure, k))).collect();
    let blips: Vec<BlipStat> = plan.blips.iter().enumerate().map(|(k, b)| blip(b, mine(Role::Blip, k))).collect();
    let (verdict, why) = verdict(plan, &failures, &blips);
    let ran = |runs: u32, errors: u32| runs == plan.repeat && errors == 0;
    let done = failures.iter().all(|f| ran(f.runs, f.errors)) && blips.iter().all(|b| ran(b.runs, b.errors));
    PointResult { values: values.to_vec(), seed: values == plan.seed.as_slice(), done, failures, blips, verdict, why }
}

/// Whether a run counts: it finished, was decided, and the host did not perturb it.
enum Counted<'a> {
    Yes(&'a Results),
    Perturbed,
    Error,
}

fn counted<'a>(t: &TrialRun<'a>) -> Counted<'a> {
    let Some(r) = t.results else { return Counted::Error };
    if perturbed(r).is_some() { Counted::Perturbed } else { Counted::Yes(r) }
}

/// Whether the host perturbed a run, so that a sweep does not count it: its verdict is
/// undecided, or the host was saturated, its disk stalled or the clients' pacing slipped
/// at any time of the drill (a blip's false failover may hang on a second's delay
/// anywhere, not only in a target's window). Says how: the host's findings, or the verdict.
pub fn perturbed(r: &Results) -> Option<String> {
    let host = [FindingKind::HostSaturated, FindingKind::DiskStalled, FindingKind::PacingSlipped];
    let found = r.questions.iter().flat_map(|q| &q.unexpected.findings).filter(|f| host.contains(&f.kind));
    let said: Vec<String> = found.map(|f| f.what.clone()).collect();
    match (said.is_empty(), r.verdict == Verdict::Undecided) {
        (false, _) => Some(said.join("; ")),
        (true, true) => Some("verdict undecided".into()),
        (true, false) => None,
    }
}

fn failure<'a>(label: &str, runs: impl Iterator<Item = &'a TrialRun<'a>>) -> FailureStat {
    let mut s = FailureStat { failure: label.into(), ..FailureStat::default() };
    let (mut rtos, mut lost, mut judged) = (Vec::new(), None, Vec::new());
    for t in runs {
        s.runs += 1;
        match counted(t) {
            Counted::Yes(r) => {
                s.counted += 1;
                judged.extend(r.phases.as_ref());
                match r.rto_ms {
                    Some(x) => rtos.push(x),
                    None => s.not_recovered += 1,
                }
                lost = r.lost_writes.max(lost);
            }
            Counted::Perturbed => s.perturbed += 1,
            Counted::Error => s.errors += 1,
        }
    }
    rtos.sort_by(f64::total_cmp);
    (s.rto_p50_ms, s.rto_p95_ms, s.rto_max_ms) = (pct(&rtos, 50.0), pct(&rtos, 95.0), rtos.last().copied());
    s.lost_writes_max = lost;
    s.phases = phase_stats(&judged);
    s
}

/// Each phase the counted runs measured, over the runs, against its budget.
fn phase_stats(all: &[&Phases]) -> Vec<PhaseStat> {
    let Some(first) = all.first() else { return Vec::new() };
    let b = &first.budgets;
    type Took = fn(&Phases) -> Option<f64>;
    let each: [(&str, Took, Option<f64>, &String); 3] = [
        ("detection", |p| p.detection_ms, b.detection_ms, &b.detection_from),
        ("promotion", |p| p.promotion_ms, b.promotion_ms, &b.promotion_from),
        ("reroute", |p| p.reroute_ms, first.reroute_budget_ms(), &b.reroute_from),
    ];
    let stat = |(phase, took, budget_ms, from): (&str, Took, Option<f64>, &String)| {
        let mut xs: Vec<f64> = all.iter().filter_map(|p| took(p)).collect();
        xs.sort_by(f64::total_cmp);
        let over = all.iter().filter(|p| p.over_budget().iter().any(|o| o.phase == phase)).count() as u32;
        let (p50_ms, p95_ms) = (pct(&xs, 50.0), pct(&xs, 95.0));
        (!xs.is_empty()).then(|| PhaseStat { phase: phase.into(), p50_ms, p95_ms, budget_ms, budget_from: from.clone(), over_budget: over })
    };
    each.into_iter().filter_map(stat).collect()
}

fn blip<'a>(label: &str, runs: impl Iterator<Item = &'a TrialRun<'a>>) -> BlipStat {
    let mut s = BlipStat { blip: label.into(), ..BlipStat::default() };
    let (mut k, mut n) = (0, 0);
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for t in runs {
        s.runs += 1;
        let r = match counted(t) {
            Counted::Yes(r) => r,
            Counted::Perturbed => {
                s.perturbed += 1;
                continue;
            }
            Counted::Error => {
                s.errors += 1;
                continue;
            }
        };
        n += 1;
        let promotions = r.promotions.as_ref().map(|p| p.promotions.as_slice()).unwrap_or_default();
        k += u32::from(!promotions.is_empty());
        s.outage_max_ms = max(s.outage_max_ms, r.outage_ms.or(r.rto_ms));
        s.lost_writes_max = r.lost_writes.max(s.lost_writes_max);
        s.split_max_ms = promotions.iter().filter_map(|p| p.split_ms()).fold(s.split_max_ms, |m, x| max(m, Some(x)));
    }
    s.false_failovers = KOfN::new(k, n);
    s
}

fn verdict(plan: &SweepPlan, failures: &[FailureStat], blips: &[BlipStat]) -> (Verdict, Vec<String>) {
    let (mut missed, mut unjudged) = (Vec::new(), Vec::new());
    for f in failures {
        if f.counted == 0 {
            unjudged.push(format!("{}: no run counted", f.failure));
        } else if f.not_recovered > 0 {
            missed.push(format!("{}: writes never became available again in {} of {} runs", f.failure, f.not_recovered, f.counted));
        } else if let (Some(p95), Some(t)) = (f.rto_p95_ms, plan.rto_ms)
            && p95 > t
        {
            missed.push(format!("{}: RTO p95 {p95:.0} ms > {t:.0} ms", f.failure));
        }
    }
    unjudged.extend(blips.iter().filter(|b| b.false_failovers.n == 0).map(|b| format!("{}: no run counted", b.blip)));
    if blips.iter().map(|b| b.false_failovers.k).sum::<u32>() > plan.max_false_failovers {
        missed.extend(
            blips.iter().filter(|b| b.false_failovers.k > 0).map(|b| format!("{}: false failovers {}", b.blip, b.false_failovers.text())),
        );
    }
    let v = match (missed.is_empty(), unjudged.is_empty()) {
        (false, _) => Verdict::Fail,
        (true, false) => Verdict::Unknown,
        (true, true) => Verdict::Pass,
    };
    missed.extend(unjudged);
    (v, missed)
}

/// "the smallest value that met rto_ms 10000 ms with no false failover under these blips in
/// 3 runs each: 2000 (RTO p95 4.6 s; …); the seed's value 5000: met (RTO p95 6.1 s)".
fn answer(r: &SweepReport) -> String {
    let name = r.settings.join(" × ");
    let target = r.rto_target_ms.map_or("recovered".to_string(), |t| format!("met rto_ms {t:.0} ms"));
    let allowed = match r.max_false_failovers {
        0 => "no false failover".to_string(),
        n => format!("at most {n} false failovers"),
    };
    let head = format!("the smallest {name} that {target} with {allowed} under these blips in {} runs each", r.repeat);
    let best = match r.best.map(|i| &r.points[i]) {
        Some(p) => format!("{head}: {} ({})", p.values.join(" × "), figures(p)),
        None => format!("{head}: none of {}", r.points.iter().map(|p| p.values.join(" × ")).collect::<Vec<_>>().join(", ")),
    };
    let seed = match r.points.iter().find(|p| p.seed) {
        Some(p) => {
            // why it missed, then the figures that do not say it again
            let said = |word: &str| {
                let rest = figure_list(p).into_iter().filter(|f| !p.why.iter().any(|w| w.contains(f.as_str())));
                format!("{word} ({})", p.why.iter().cloned().chain(rest).collect::<Vec<_>>().join("; "))
            };
            let said = match p.verdict {
                Verdict::Pass => format!("met ({})", figures(p)),
                Verdict::Fail => said("missed"),
                _ => said("not judged"),
            };
            format!("the seed's value {}: {said}", p.values.join(" × "))
        }
        None => format!("the seed's value {} was not swept", r.seed.join(" × ")),
    };
    format!("{best}; {seed}")
}

/// A point's figures: each failure's RTO p95, each blip's false failovers.
fn figures(p: &PointResult) -> String {
    figure_list(p).join("; ")
}

fn figure_list(p: &PointResult) -> Vec<String> {
    let mut out: Vec<String> = p
        .failures
        .iter()
        .map(|f| match f.rto_p95_ms {
            Some(x) if f.not_recovered == 0 => format!("{} RTO p95 {:.1} s", f.failure, x / 1e3),
            _ => format!("{} not recovered", f.failure),
        })
        .collect();
    out.extend(p.blips.iter().map(|b| format!("{}: false failovers {}", b.blip, b.false_failovers.text())));
    out
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
