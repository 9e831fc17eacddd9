//! A scenario's runs judged as one: the spread of a quantity over them (min, median,
//! p95, max), the spread targets (`rto_ms: {p95: …}`) and the availability budget over
//! the runs.
use super::{AvailabilityReport, Target, Verdict};
use crate::scenario::Limit;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stat {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    /// Nearest rank: the smallest sample at or above 95 % of the samples.
    pub p95: f64,
    pub max: f64,
}

impl Stat {
    /// None without samples (a quantity no run observed).
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let mut v: Vec<f64> = samples.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stat { n, min: v[0], median, p95: v[rank - 1], max: v[n - 1] })
    }

    /// The statistic a distribution target names.
    pub fn get(&self, which: &str) -> Option<f64> {
        match which {
            "min" => Some(self.min),
            "median" | "p50" => Some(self.median),
            "p95" => Some(self.p95),
            "max" => Some(self.max),
            _ => None,
        }
    }
}

/// A target judged on the spread of a scenario's runs.
#[derive(Debug, Clone, Serialize)]
pub struct SpreadResult {
    pub target: Target,
    pub statistic: String,
    pub limit: f64,
    pub actual: Option<f64>,
    pub verdict: Verdict,
    pub note: String,
}

/// The targets a scenario's spread of runs is judged on, kept in summary.json so that
/// `drdrill summary` judges merged runs as one campaign would.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SpreadLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_ms: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lost_writes: Option<Limit>,
}

impl SpreadLimits {
    pub fn of(t: &crate::scenario::Targets) -> SpreadLimits {
        let spread = |l: &Option<Limit>| l.clone().filter(|l| matches!(l, Limit::Spread(_)));
        SpreadLimits { rto_ms: spread(&t.rto_ms), rpo_ms: spread(&t.rpo_ms), max_lost_writes: spread(&t.max_lost_writes) }
    }
}

/// The targets of `target` judged on the spread of a scenario's runs, one per statistic
/// its limit names. `runs`: each run's value (`None`: the run gave no results; `Some(None)`:
/// it ran and gave no value, which for `rto_ms` means it never recovered).
pub fn judge_spread(target: Target, limit: &Option<Limit>, runs: &[Option<Option<f64>>]) -> Vec<SpreadResult> {
    let Some(Limit::Spread(m)) = limit else { return Vec::new() };
    let missing = runs.iter().filter(|r| matches!(r, Some(None))).count();
    let not_ran = runs.iter().filter(|r| r.is_none()).count();
    let stat = Stat::of(runs.iter().flatten().flatten().copied());
    m.iter()
        .map(|(which, lim)| {
            let actual = stat.and_then(|s| s.get(which));
            let (verdict, note) = if target == Target::RtoMs && missing > 0 {
                (Verdict::Fail, format!("{missing} runs never recovered"))
            } else if missing > 0 || not_ran > 0 || actual.is_none() {
                (Verdict::Unknown, format!("{} of {} runs gave no value", missing + not_ran, runs.len()))
            } else if actual.is_some_and(|a| a <= *lim as f64) {
                (Verdict::Pass, format!("over {} runs", runs.len()))
            } else {
                (Verdict::Fail, format!("over {} runs", runs.len()))
            };
            SpreadResult { target: target.clone(), statistic: which.clone(), limit: *lim as f64, actual, verdict, note }
        })
        .collect()
}

/// The availability budget over a scenario's runs: how many failures like the p95 of
/// their outages fit the period's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetOverRuns {
    pub runs: usize,
    pub p95_outage_ms: f64,
    /// None: no outage, any number fit.
    pub fit_per_period: Option<u64>,
    pub percent: f64,
    pub per: String,
    pub budget_ms: f64,
    /// A run never recovered: its outage is a lower bound.
    pub open_ended: bool,
}

/// The budget over the runs' availability reports; None without `targets.availability`.
pub fn budget_over_runs<'a>(each: impl IntoIterator<Item = &'a AvailabilityReport>) -> Option<BudgetOverRuns> {
    let each: Vec<&AvailabilityReport> = each.into_iter().collect();
    let first = each.first()?;
    let p95 = Stat::of(each.iter().map(|a| a.outage_ms))?.p95;
    Some(BudgetOverRuns {
        runs: each.len(),
        p95_outage_ms: p95,
        fit_per_period: (p95 > 0.0).then(|| (first.budget_ms / p95).floor() as u64),
        percent: first.percent,
        per: first.per.clone(),
        budget_ms: first.budget_ms,
        open_ended: each.iter().any(|a| a.open_ended),
    })
}

impl BudgetOverRuns {
    /// "at p95 of 3 runs (outage 1.7 s, 154 failures a month fit) the 99.99 % budget of
    /// 4.38 min a month".
    pub fn text(&self) -> String {
        let (pct, per) = (crate::scenario::availability::trim(self.percent), &self.per);
        let open = if self.open_ended { " (a run never recovered: its outage is a lower bound)" } else { "" };
        let fit = match self.fit_per_period {
            None => "no outage: any number fit".to_string(),
            Some(n) => format!("outage {:.1} s, {n} failures a {per} fit", self.p95_outage_ms / 1000.0),
        };
        format!("at p95 of {} runs ({fit}) the {pct} % budget of {:.2} min a {per}{open}", self.runs, self.budget_ms / 60_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_p95() {
        let s = Stat::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.p95, s.max), (3, 1.0, 2.0, 3.0, 3.0));
        let s = Stat::of((1..=20).map(f64::from)).unwrap();
        assert_eq!((s.median, s.p95), (10.5, 19.0));
        assert_eq!(Stat::of([]), None);
        assert_eq!(Stat::of([f64::NAN, 4.0]).unwrap().n, 1);
    }

    #[test]
    fn spread_targets_are_judged_on_the_statistic_and_a_run_that_never_recovered_fails_rto() {
        let limit = Some(Limit::Spread([("p95".to_string(), 2500), ("median".to_string(), 2500)].into()));
        let t = judge_spread(Target::RtoMs, &limit, &[Some(Some(1000.0)), Some(Some(3000.0)), Some(Some(2000.0))]);
        let by: std::collections::BTreeMap<&str, &SpreadResult> = t.iter().map(|t| (t.statistic.as_str(), t)).collect();
        assert_eq!((by["p95"].actual, by["p95"].verdict), (Some(3000.0), Verdict::Fail));
        assert_eq!((by["median"].actual, by["median"].verdict), (Some(2000.0), Verdict::Pass));
        let t = judge_spread(Target::RtoMs, &limit, &[Some(Some(1000.0)), Some(None)]);
        assert!(t.iter().all(|t| t.verdict == Verdict::Fail && t.note.contains("never recovered")), "{t:?}");
        let t = judge_spread(Target::RpoMs, &limit, &[Some(Some(1000.0)), None]);
        assert!(t.iter().all(|t| t.verdict == Verdict::Unknown && t.note == "1 of 2 runs gave no value"), "{t:?}");
        // a single-value limit is judged on each run, not here
        assert!(judge_spread(Target::RtoMs, &Some(Limit::Value(5)), &[Some(Some(1.0))]).is_empty());
    }

    #[test]
    fn the_budget_over_runs_fits_the_p95_outage_and_says_a_run_that_never_recovered() {
        let a = |outage_ms: f64, open_ended| AvailabilityReport {
            percent: 99.99,
            per: "month".into(),
            budget_ms: 262_980.0,
            outage_ms,
            open_ended,
            ..Default::default()
        };
        let runs = [a(1500.0, false), a(1700.0, false), a(1600.0, true)];
        let b = budget_over_runs(&runs).unwrap();
        assert_eq!((b.p95_outage_ms, b.fit_per_period, b.runs), (1700.0, Some(154), 3));
        assert_eq!(
            b.text(),
            "at p95 of 3 runs (outage 1.7 s, 154 failures a month fit) the 99.99 % budget of 4.38 min a month (a run never recovered: its outage is a lower bound)"
        );
        assert_eq!(budget_over_runs(&[a(0.0, false)]).unwrap().fit_per_period, None);
        assert!(budget_over_runs(&[]).is_none());
    }
}
