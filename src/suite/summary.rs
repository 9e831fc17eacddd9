//! One summary for a campaign: a row per run, the spread per scenario, the targets judged
//! on the spread; shown as a terminal table here, written (summary.json, junit.xml,
//! summary.html) by files.rs.
use super::answers::{DrillAnswers, RowAnswers, SuiteFinding};
use crate::checker::Results;
use crate::checker::Verdict;
use crate::checker::{SpreadLimits, SpreadResult, Stat, Target, budget_over_runs, judge_spread};
use crate::error::{Error, exit};
use crate::scenario::Loaded;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRow {
    pub scenario: String,
    /// The drill's run id (its evidence folder's), when it ran: `drdrill summary` finds the
    /// evidence by it wherever the folders were copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// 1-based run number of this scenario.
    pub run: u32,
    /// pass | fail | unknown | error | interrupted | not run
    pub status: String,
    pub exit_code: i32,
    pub rto_ms: Option<f64>,
    pub rpo_ms: Option<f64>,
    pub lost_writes: Option<u64>,
    /// With `targets.availability`: the share of the period's downtime budget this run's
    /// outage used (percent), and the budget's target and period (`99.99 % a month`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
    /// The orchestrator's phases (detection_ms, promotion_ms, reroute_ms), when observed.
    pub phases: BTreeMap<String, f64>,
    pub duration_s: f64,
    pub evidence: Option<String>,
    pub error: Option<String>,
    /// Why a run that ran did not pass: each target missed or undecided ("rto_ms 3006 >
    /// 100"), each regression against the baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// The four questions for this row: the drill's, or its service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<RowAnswers>,
    /// With `--rerun-disturbed`, when the drill ran more than once: which attempt counted
    /// and why each earlier one did not (`attempt 1 undecided: …, evidence …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<String>,
    #[serde(skip)]
    pub results: Option<Results>,
}

impl RunRow {
    pub(super) fn empty(scenario: &str, run: u32, status: &str, exit_code: i32) -> RunRow {
        RunRow {
            scenario: scenario.to_string(),
            run_id: None,
            run,
            status: status.to_string(),
            exit_code,
            rto_ms: None,
            rpo_ms: None,
            lost_writes: None,
            budget_used_percent: None,
            availability: None,
            phases: BTreeMap::new(),
            duration_s: 0.0,
            evidence: None,
            error: None,
            why: Vec::new(),
            answers: None,
            attempts: Vec::new(),
            results: None,
        }
    }

    pub fn ran(scenario: &str, run: u32, r: &Results, dir: &Path, duration_s: f64) -> RunRow {
        let regressed = r.comparison.as_ref().is_some_and(|c| c.regressed());
        let undecided = r.comparison.as_ref().is_some_and(|c| c.undecided());
        let (status, code) = match (r.verdict, regressed, undecided) {
            (Verdict::Pass, true, _) => ("regression".to_string(), exit::REGRESSION),
            (Verdict::Pass, false, true) => ("undecided".to_string(), exit::UNDECIDED),
            (v, _, _) => (v.to_string().to_lowercase(), v.exit_code()),
        };
        let mut row = RunRow::empty(scenario, run, &status, code);
        row.rto_ms = r.rto_ms;
        row.rpo_ms = r.rpo_ms;
        row.lost_writes = r.lost_writes;
        if let Some(a) = &r.availability {
            row.budget_used_percent = Some(a.used_percent);
            row.availability = Some(a.target_text());
        }
        if let Some(p) = &r.phases {
            for (k, v) in [("detection_ms", p.detection_ms), ("promotion_ms", p.promotion_ms), ("reroute_ms", p.reroute_ms)] {
                if let Some(v) = v {
                    row.phases.insert(k.into(), v);
                }
            }
        }
        row.duration_s = duration_s;
        row.evidence = Some(dir.display().to_string());
        row.run_id = Some(r.run_id.clone());
        row.why = why_not_passed(r);
        row.answers = r.questions.as_ref().map(|q| RowAnswers::of(q, None));
        row.results = Some(r.clone());
        row
    }

    /// The rows of one finished drill: one, or one per service (`scenario/service`, each
    /// with its own results and the checks of the comparison that concern it).
    pub fn ran_services(scenario: &str, run: u32, r: &Results, dir: &Path, duration_s: f64) -> Vec<RunRow> {
        if !r.several() {
            return vec![RunRow::ran(scenario, run, r, dir, duration_s)];
        }
        r.services
            .keys()
            .filter_map(|name| {
                let mut row = RunRow::ran(&format!("{scenario}/{name}"), run, &r.service_view(name)?, dir, duration_s);
                row.answers = r.questions.as_ref().map(|q| RowAnswers::of(q, Some(name)));
                Some(row)
            })
            .collect()
    }

    pub fn failed(scenario: &str, run: u32, e: &Error, duration_s: f64) -> RunRow {
        let code = e.exit_code();
        let mut row = RunRow::empty(scenario, run, if code == exit::INTERRUPTED { "interrupted" } else { "error" }, code);
        row.duration_s = duration_s;
        row.error = Some(e.one_line());
        row
    }

    pub fn not_run(scenario: &str, run: u32, why: &str) -> RunRow {
        let mut row = RunRow::empty(scenario, run, "not run", exit::PASS);
        row.error = Some(why.to_string());
        row
    }
}

/// A run's cell of the budget column: `0.61 % of 99.99 % a month`, or `-`.
pub fn budget_cell(r: &RunRow) -> String {
    match (r.budget_used_percent, &r.availability) {
        (Some(p), Some(a)) => format!("{p:.2} % of {a}"),
        _ => "-".into(),
    }
}

/// Each target a run missed or could not decide, and each regression, in a few words.
pub fn why_not_passed(r: &Results) -> Vec<String> {
    let n = |v: Option<f64>| match v {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "none".into(),
    };
    let mut why: Vec<String> = r
        .targets
        .iter()
        .filter(|t| t.verdict != Verdict::Pass)
        .map(|t| match (t.verdict, t.limit) {
            // an inequality only when it is true: a target may fail within its limit (a
            // page sent in time but only after the heal), then its note says why
            (Verdict::Fail, Some(l)) if t.actual.is_some_and(|a| a > l) => format!("{} {} > {}", t.target, n(t.actual), n(t.limit)),
            (Verdict::Fail, _) => format!("{} failed: {}", t.target, t.note),
            (Verdict::Undecided, _) => {
                let why = t.note.split_once(crate::checker::NOT_JUDGED).map_or(t.note.as_str(), |(_, w)| w);
                format!("{} {} > {} undecided, {why}", t.target, n(t.actual), n(t.limit))
            }
            _ => format!("{} undecided: {}", t.target, t.note),
        })
        .collect();
    why.extend(r.comparison.iter().flat_map(|c| c.regressions()).map(|k| format!("regression {}: {}", k.quantity, k.note)));
    let undecided = r.comparison.iter().flat_map(|c| &c.checks).filter(|k| k.undecided);
    why.extend(undecided.map(|k| format!("{} worse than the baseline, undecided: {}", k.quantity, k.note)));
    why
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub limits: SpreadLimits,
    /// Runs that produced results.
    pub runs: usize,
    pub rto_ms: Option<Stat>,
    pub rpo_ms: Option<Stat>,
    pub lost_writes: Option<Stat>,
    pub phases: BTreeMap<String, Stat>,
    pub targets: Vec<SpreadResult>,
    /// With `targets.availability`: how many failures like the p95 of its runs fit the
    /// period's budget, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub started_at: String,
    pub duration_s: f64,
    /// The worst drill's exit code (spread targets included).
    pub exit_code: i32,
    pub runs: Vec<RunRow>,
    pub scenarios: Vec<ScenarioSummary>,
    /// Each drill run's four answers (seed 001's: RTO met? RPO met? anything unexpected?
    /// did alerting work?).
    pub drills: Vec<DrillAnswers>,
    /// Every finding of every drill run.
    pub findings: Vec<SuiteFinding>,
}

/// One quantity of a run.
type Value = fn(&RunRow) -> Option<f64>;

impl ScenarioSummary {
    fn of(name: &str, t: &SpreadLimits, rows: &[&RunRow]) -> ScenarioSummary {
        let stat = |f: Value| Stat::of(rows.iter().filter_map(|r| f(r)));
        let (rto, rpo, lost): (Value, Value, Value) = (|r| r.rto_ms, |r| r.rpo_ms, |r| r.lost_writes.map(|v| v as f64));
        let mut phases = BTreeMap::new();
        for k in ["detection_ms", "promotion_ms", "reroute_ms"] {
            if let Some(s) = Stat::of(rows.iter().filter_map(|r| r.phases.get(k).copied())) {
                phases.insert(k.to_string(), s);
            }
        }
        let values = |f: Value| -> Vec<Option<Option<f64>>> { rows.iter().map(|r| r.results.as_ref().map(|_| f(r))).collect() };
        let mut targets = judge_spread(Target::RtoMs, &t.rto_ms, &values(rto));
        targets.extend(judge_spread(Target::RpoMs, &t.rpo_ms, &values(rpo)));
        targets.extend(judge_spread(Target::MaxLostWrites, &t.max_lost_writes, &values(lost)));
        crate::checker::undecided_spread(&mut targets, &rows.iter().filter_map(|r| r.results.as_ref()).collect::<Vec<_>>());
        ScenarioSummary {
            availability: budget_over_runs(rows.iter().filter_map(|r| r.results.as_ref()?.availability.as_ref())).map(|b| b.text()),
            scenario: name.to_string(),
            limits: t.clone(),
            runs: rows.iter().filter(|r| r.results.is_some()).count(),
            rto_ms: stat(rto),
            rpo_ms: stat(rpo),
            lost_writes: stat(lost),
            phases,
            targets,
        }
    }
}

/// Each scenario of the plan, or each service of a drill of several, with the targets its
/// spread is judged on.
pub fn parts(plan: &[Loaded]) -> Vec<(String, SpreadLimits)> {
    plan.iter()
        .flat_map(|l| match l.several() {
            true => l.services.iter().map(|s| (format!("{}/{}", l.scenario.name, s.name), SpreadLimits::of(&s.view.targets))).collect(),
            false => vec![(l.scenario.name.clone(), SpreadLimits::of(&l.scenario.targets))],
        })
        .collect()
}

impl Summary {
    pub fn new(started: chrono::DateTime<chrono::Utc>, duration_s: f64, runs: Vec<RunRow>, plan: &[Loaded]) -> Summary {
        Summary::of_parts(started.to_rfc3339(), duration_s, runs, &parts(plan))
    }

    /// The summary of `runs`, each scenario (or service of one) in `parts` judged on its
    /// spread: the one place a campaign and a merge of campaigns are judged.
    pub fn of_parts(started_at: String, duration_s: f64, runs: Vec<RunRow>, parts: &[(String, SpreadLimits)]) -> Summary {
        let scenarios: Vec<ScenarioSummary> = parts
            .iter()
            .map(|(name, limits)| {
                // a drill that failed before judging has one row, under the drill's name
                let drill = name.split('/').next().unwrap_or(name);
                let rows: Vec<&RunRow> = runs.iter().filter(|r| r.scenario == *name || r.scenario == drill).collect();
                ScenarioSummary::of(name, limits, &rows)
            })
            .collect();
        let spread = scenarios.iter().flat_map(|s| &s.targets).map(|t| t.verdict.exit_code());
        let exit_code = super::worst(runs.iter().map(|r| r.exit_code).chain(spread));
        let ran = runs.iter().filter_map(|r| Some((r.scenario.split('/').next().unwrap_or_default(), r.run, r.results.as_ref()?)));
        let (drills, findings) = super::answers::of_drills(ran);
        Summary { started_at, duration_s, exit_code, runs, scenarios, drills, findings }
    }

    /// The terminal table: one row per run, then the spread per scenario.
    pub fn table(&self) -> String {
        let ms = |v: Option<f64>| v.map(|v| format!("{:.0}", v)).unwrap_or_else(|| "-".into());
        let mut b = tabled::builder::Builder::default();
        b.push_record([
            "scenario",
            "run",
            "verdict",
            "RTO met?",
            "RPO met?",
            "unexpected?",
            "alerting?",
            "RTO ms",
            "RPO ms",
            "lost writes",
            "budget used",
            "duration s",
            "note",
        ]);
        let word =
            |r: &RunRow, f: fn(&RowAnswers) -> crate::checker::Answer| r.answers.as_ref().map_or("-".to_string(), |a| f(a).to_string());
        for r in &self.runs {
            let unexpected = r.answers.as_ref().map_or("-".to_string(), |a| match a.findings {
                0 => a.unexpected.to_string(),
                n => format!("{} ({n})", a.unexpected),
            });
            b.push_record([
                r.scenario.clone(),
                r.run.to_string(),
                r.status.to_uppercase(),
                word(r, |a| a.rto),
                word(r, |a| a.rpo),
                unexpected,
                word(r, |a| a.alerting),
                ms(r.rto_ms),
                ms(r.rpo_ms),
                r.lost_writes.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                budget_cell(r),
                format!("{:.0}", r.duration_s),
                r.error.clone().unwrap_or_else(|| r.attempts.iter().chain(&r.why).cloned().collect::<Vec<_>>().join("; ")),
            ]);
        }
        let mut t = b.build();
        t.with(tabled::settings::Style::rounded());
        // a drill of several services is one row per service (`name/service`), one drill
        let drills: std::collections::BTreeSet<(&str, u32)> =
            self.runs.iter().map(|r| (r.scenario.split('/').next().unwrap_or_default(), r.run)).collect();
        let mut out = format!("\nSummary ({} drills, {:.0} s)\n{t}\n", drills.len(), self.duration_s);
        out.push_str(&self.spreads_text());
        out.push_str(&self.questions_text());
        out + &format!("exit code {}\n", self.exit_code)
    }

    /// Each scenario's spread over its runs, and the targets judged on it.
    fn spreads_text(&self) -> String {
        let mut out = String::new();
        for s in self.scenarios.iter().filter(|s| s.runs > 1 || !s.targets.is_empty() || s.availability.is_some()) {
            let st = |name: &str, s: &Option<Stat>| match s {
                Some(s) => format!("  {name}: min {:.0}, median {:.0}, p95 {:.0}, max {:.0}\n", s.min, s.median, s.p95, s.max),
                None => String::new(),
            };
            out.push_str(&format!("{} over {} runs:\n", s.scenario, s.runs));
            out.push_str(&st("RTO ms", &s.rto_ms));
            out.push_str(&st("RPO ms", &s.rpo_ms));
            out.push_str(&st("lost writes", &s.lost_writes));
            if let Some(a) = &s.availability {
                out.push_str(&format!("  availability: {a}\n"));
            }
            for (k, v) in &s.phases {
                out.push_str(&st(k, &Some(*v)));
            }
            for t in &s.targets {
                let actual = t.actual.map(|a| format!("{a:.0}")).unwrap_or_else(|| "unknown".into());
                out.push_str(&format!("  target {} {} <= {:.0}: {actual} {} ({})\n", t.target, t.statistic, t.limit, t.verdict, t.note));
            }
        }
        out
    }
}

impl Summary {
    /// Each drill's four answers, then every finding, one line each.
    fn questions_text(&self) -> String {
        if self.drills.is_empty() {
            return String::new();
        }
        let mut out = String::from("The four questions, per drill:\n");
        for d in &self.drills {
            out.push_str(&format!("  {} #{}: {}\n", d.scenario, d.run, super::answers::line(&d.answers)));
        }
        match self.findings.len() {
            0 => out.push_str("What the drills found: nothing unexpected.\n"),
            n => out.push_str(&format!("What the drills found ({n}):\n")),
        }
        for f in &self.findings {
            let who = f.service.as_deref().unwrap_or("drill");
            out.push_str(&format!("  {} #{}: {who}: {} ({})\n", f.scenario, f.run, f.what, f.evidence));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_target_states_an_inequality_only_when_it_is_true() {
        use crate::checker::TargetResult;
        let t = |target: &str, actual: Option<f64>, limit: Option<f64>, note: &str| TargetResult {
            target: target.into(),
            limit,
            actual,
            verdict: Verdict::Fail,
            note: note.into(),
        };
        let mut r = crate::report::tests_support::results();
        r.targets = vec![
            // over its limit: the inequality holds
            t("rto_ms", Some(250.0), Some(100.0), ""),
            // within its limit, failed for another reason: the note says which
            t("alerts.Down.notified_within_ms", Some(74_371.6), Some(300_000.0), "paged only once the monitoring's sites came back"),
            t("availability", Some(300_000.0), Some(262_980.0), "outage 5.00 min used 114.08 %"),
            // no figure at all
            t("converged", None, None, "pg-2: 3 missing"),
        ];
        let why = why_not_passed(&r);
        assert_eq!(
            why,
            [
                "rto_ms 250 > 100",
                "alerts.Down.notified_within_ms failed: paged only once the monitoring's sites came back",
                "availability 300000 > 262980",
                "converged failed: pg-2: 3 missing"
            ]
        );
        // every inequality stated is true
        for w in &why {
            if let Some((left, right)) = w.split_once(" > ") {
                let a: f64 = left.rsplit(' ').next().unwrap().parse().unwrap();
                assert!(a > right.parse::<f64>().unwrap(), "{w}");
            }
        }
    }

    #[test]
    fn a_run_that_did_not_pass_says_which_targets_and_the_table_shows_it() {
        let r = crate::report::tests_support::results();
        let why = why_not_passed(&r);
        assert_eq!(why, ["rto_ms 250 > 100", "converged undecided: replica unreadable"]);
        let row = RunRow::ran("s", 1, &r, Path::new("/r/s/x"), 1.0);
        assert_eq!(row.why, why);
        let s = Summary {
            started_at: "2026-11-22T00:00:00Z".into(),
            duration_s: 1.0,
            exit_code: 1,
            runs: vec![row],
            scenarios: Vec::new(),
            drills: Vec::new(),
            findings: Vec::new(),
        };
        assert!(s.table().contains("rto_ms 250 > 100; converged undecided: replica unreadable"), "{}", s.table());
        let html = super::super::html::summary_html(&s, Path::new("/r/suites/x"));
        assert!(html.contains("<td>rto_ms 250 &gt; 100; converged undecided: replica unreadable</td>"), "{html}");
    }

    #[test]
    fn a_drill_of_several_services_counts_once_in_the_table() {
        let rows = ["two/pg", "two/cache"].map(|n| RunRow::empty(n, 1, "pass", 0));
        let s = Summary {
            started_at: String::new(),
            duration_s: 3.0,
            exit_code: 0,
            runs: rows.to_vec(),
            scenarios: Vec::new(),
            drills: Vec::new(),
            findings: Vec::new(),
        };
        assert!(s.table().contains("Summary (1 drills, 3 s)"), "{}", s.table());
    }
}
