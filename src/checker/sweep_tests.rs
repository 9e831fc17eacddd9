use super::*;
use crate::checker::{Finding, Promotion, PromotionsReport, Questions, sample::sample};

fn plan() -> SweepPlan {
    SweepPlan {
        settings: vec!["stack.sentinel.down_after_ms".into()],
        points: vec![vec!["500".into()], vec!["5000".into()]],
        seed: vec!["5000".into()],
        failures: vec!["kill of primary".into()],
        blips: vec!["pause of primary 1500 ms".into()],
        repeat: 2,
        rto_ms: Some(10_000.0),
        max_false_failovers: 0,
    }
}

/// A failure's run: RTO `rto` (None: never recovered).
fn failed_over(rto: Option<f64>) -> Results {
    Results { rto_ms: rto, lost_writes: Some(3), ..sample() }
}

/// A blip's run: promoted (a split of 2 s) or ridden out (the clients' outage 1.6 s).
fn blipped(promoted: bool) -> Results {
    let mut r = Results { rto_ms: Some(1600.0), outage_ms: Some(1600.0), lost_writes: Some(if promoted { 4364 } else { 0 }), ..sample() };
    if promoted {
        let p = Promotion { at_ms: 7000.0, old_acked: 10, old_last_ack_ms: Some(9000.0), ..Promotion::default() };
        r.promotions = Some(PromotionsReport { promotions: vec![p], nodes_recorded: true });
    }
    r
}

fn saturated(mut r: Results) -> Results {
    let f = Finding { kind: FindingKind::HostSaturated, ..Finding::default() };
    r.questions =
        Some(Questions { unexpected: crate::checker::Unexpected { findings: vec![f], ..Default::default() }, ..Default::default() });
    r
}

fn runs<'a>(all: &'a [(usize, Role, Results)]) -> Vec<TrialRun<'a>> {
    all.iter().map(|(point, role, r)| TrialRun { point: *point, role: *role, index: 0, results: Some(r) }).collect()
}

#[test]
fn the_smallest_value_without_a_false_failover_is_the_answer_and_the_seed_is_named() {
    let all = vec![
        (0, Role::Failure, failed_over(Some(1500.0))),
        (0, Role::Failure, failed_over(Some(1800.0))),
        (0, Role::Blip, blipped(true)),
        (0, Role::Blip, blipped(false)),
        (1, Role::Failure, failed_over(Some(6100.0))),
        (1, Role::Failure, failed_over(Some(6500.0))),
        (1, Role::Blip, blipped(false)),
        (1, Role::Blip, blipped(false)),
    ];
    let r = judge_sweep(&plan(), &runs(&all));
    let (fast, seed) = (&r.points[0], &r.points[1]);
    assert_eq!((fast.verdict, seed.verdict, r.best, r.verdict), (Verdict::Fail, Verdict::Pass, Some(1), Verdict::Pass));
    assert_eq!(fast.blips[0].false_failovers, KOfN::new(1, 2));
    assert_eq!((fast.blips[0].lost_writes_max, fast.blips[0].split_max_ms), (Some(4364), Some(2000.0)));
    assert_eq!((fast.failures[0].rto_p50_ms, fast.failures[0].rto_max_ms), (Some(1500.0), Some(1800.0)));
    assert!(fast.why[0].starts_with("pause of primary 1500 ms: false failovers 1 of 2"), "{:?}", fast.why);
    assert!(seed.seed && !fast.seed);
    assert_eq!(
        r.answer,
        "the smallest stack.sentinel.down_after_ms that met rto_ms 10000 ms with no false failover under these blips in 2 runs each: \
         5000 (kill of primary RTO p95 6.5 s; pause of primary 1500 ms: false failovers 0 of 2 (up to 78 % at 95 % confidence)); \
         the seed's value 5000: met (kill of primary RTO p95 6.5 s; pause of primary 1500 ms: false failovers 0 of 2 (up to 78 % at 95 % confidence))"
    );
}

#[test]
fn a_perturbed_run_is_not_counted_and_a_point_with_none_counted_is_not_judged() {
    let all = vec![
        (0, Role::Failure, saturated(failed_over(Some(1500.0)))),
        (0, Role::Blip, saturated(blipped(true))),
        (1, Role::Failure, failed_over(None)),
        (1, Role::Blip, blipped(false)),
    ];
    let mut r = judge_sweep(&plan(), &runs(&all));
    let p = &r.points[0];
    assert_eq!((p.failures[0].perturbed, p.failures[0].counted, p.blips[0].perturbed), (1, 0, 1));
    assert_eq!(p.blips[0].false_failovers.n, 0, "a false failover on a saturated host is not counted");
    assert_eq!(p.verdict, Verdict::Unknown);
    assert_eq!(r.points[1].verdict, Verdict::Fail, "{:?}", r.points[1].why);
    assert_eq!((r.best, r.verdict), (None, Verdict::Fail));
    assert!(
        r.answer.contains(": none of 500, 5000; the seed's value 5000: missed (kill of primary: writes never became available"),
        "{}",
        r.answer
    );
    // a run that never finished counts as an error, not as a pass
    r = judge_sweep(&plan(), &[TrialRun { point: 0, role: Role::Blip, index: 0, results: None }]);
    assert_eq!((r.points[0].blips[0].errors, r.points[0].verdict), (1, Verdict::Unknown));
}

#[test]
fn the_smallest_passing_value_is_the_answer_whatever_order_the_values_were_written_in() {
    let mut p = plan();
    p.points = vec![vec!["10000".into()], vec!["2500".into()], vec!["500".into()]];
    let all = vec![
        (0, Role::Failure, failed_over(Some(9000.0))),
        (0, Role::Blip, blipped(false)),
        (1, Role::Failure, failed_over(Some(4000.0))),
        (1, Role::Blip, blipped(false)),
        (2, Role::Failure, failed_over(Some(1500.0))),
        (2, Role::Blip, blipped(true)),
    ];
    assert_eq!(judge_sweep(&p, &runs(&all)).best, Some(1));
}

#[test]
fn perturbed_says_what_the_host_did_or_that_the_verdict_is_undecided() {
    assert_eq!(perturbed(&failed_over(Some(3000.0))), None);
    let mut r = saturated(failed_over(Some(3000.0)));
    r.questions.as_mut().unwrap().unexpected.findings[0].what = "host saturated t=16.5-18.3 s".into();
    assert_eq!(perturbed(&r).as_deref(), Some("host saturated t=16.5-18.3 s"));
    let undecided = Results { verdict: Verdict::Undecided, ..failed_over(Some(3000.0)) };
    assert_eq!(perturbed(&undecided).as_deref(), Some("verdict undecided"));
}

#[test]
fn each_phase_of_a_failure_is_given_over_the_counted_runs_against_its_budget() {
    let with = |detection: f64| {
        let budgets = crate::stack::Budgets { detection_ms: Some(6000.0), detection_from: "down-after 5000".into(), ..Default::default() };
        let phases = Phases { detection_ms: Some(detection), promotion_ms: Some(500.0), budgets, ..Default::default() };
        Results { phases: Some(phases), ..failed_over(Some(detection + 1000.0)) }
    };
    let all = [(0, Role::Failure, with(5500.0)), (0, Role::Failure, with(6300.0)), (0, Role::Failure, saturated(with(9000.0)))];
    let f = failure("kill of primary", runs(&all).iter());
    let d = &f.phases[0];
    assert_eq!((d.phase.as_str(), d.p95_ms, d.budget_ms, d.over_budget), ("detection", Some(6300.0), Some(6000.0), 1), "{d:?}");
    assert_eq!(d.budget_from, "down-after 5000");
    // a phase no run measured (the reroute) is left out; the perturbed run is not counted
    assert_eq!(f.phases.iter().map(|p| p.phase.as_str()).collect::<Vec<_>>(), ["detection", "promotion"]);
    assert_eq!(f.counted, 2);
}
