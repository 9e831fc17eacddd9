//! Reporters on a hand-built result.
use super::*;
use crate::checker::Verdict;
#[allow(unused_imports)]
use crate::checker::{
    Answer, Comparison, FaultInjected, Figure, Finding, FindingKind, Interruption, IsolatedPrimary, NodeInfo, Questions, Results,
    SCHEMA_VERSION, StackInfo, SteadyStateReport,
};
use crate::history::Event;

use crate::checker::sample::{kill_pg1, sample};

#[test]
fn junit_marks_missed_targets_as_failures_and_undecided_as_errors() {
    let x = junit_xml(&sample());
    assert!(x.contains("<testsuite name=\"pg&lt;kill&gt;\" tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
    assert!(x.contains("name=\"rto_ms\">\n      <failure message=\"limit 100, actual 250. too slow &amp; late\"/>"), "{x}");
    assert!(x.contains("name=\"rpo_ms\"/>"), "{x}");
    assert!(x.contains("<error message=\"could not decide: limit 100, actual 250. replica unreadable\"/>"), "{x}");
}

#[test]
fn markdown_has_targets_timeline_and_lost_writes() {
    let m = markdown(&sample());
    assert!(m.starts_with("# Drill pg<kill>: FAIL"));
    assert!(m.contains("| rto_ms | 100 | 250 | FAIL | too slow & late |"), "{m}");
    let fault = m.find("| 5.000 | fault-inject | pg-1 | kill pg-1 |").expect("fault row");
    let outage = m.find("| 5.001 | measured |  | first write not acknowledged |").expect("outage row");
    let back = m.find("| 5.250 | measured |  | writes available again (RTO ends) |").expect("recovery row");
    assert!(fault < outage && outage < back, "timeline out of order\n{m}");
    assert!(m.contains("| 3 | 41 | 4987.5 |"));
}

#[test]
fn scorecard_shows_each_target_and_the_figures() {
    let s = scorecard(&sample());
    assert!(s.contains("rto_ms"));
    assert!(s.contains("250.0 ms"));
    assert!(s.contains("1 lost, 1 recovered"));
    assert!(s.contains("verdict: FAIL"));
}

#[test]
fn results_json_has_the_documented_fields() {
    let v = serde_json::to_value(sample()).unwrap();
    for k in [
        "scenario",
        "run_id",
        "started_at",
        "verdict",
        "rto_ms",
        "rpo_ms",
        "longest_gap_ms",
        "acked_writes",
        "failed_writes",
        "unknown_writes",
        "lost_writes",
        "recovered_writes",
        "converged",
        "targets",
        "latency",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["targets"][0]["verdict"], "fail");
    assert_eq!(v["targets"][0]["actual"], 250.0);
}

#[test]
fn latency_per_phase_in_every_report() {
    let r = sample();
    let s = scorecard(&r);
    let row = s.lines().find(|l| l.contains("before_fault")).expect("latency row");
    let cells: Vec<&str> = row.split('│').map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cells, ["before_fault", "50", "2.0", "4.5", "9.9", "12.2"], "{s}");
    let row = s.lines().find(|l| l.contains("failover")).expect("failover row");
    assert_eq!(row.split('│').map(str::trim).filter(|c| !c.is_empty()).collect::<Vec<_>>(), ["failover", "0", "-", "-", "-", "-"]);

    let m = markdown(&r);
    assert!(m.contains("| phase | from (s) | to (s) | ok ops | p50 | p95 | p99 | max | mean |"), "{m}");
    assert!(m.contains("| before_fault | 0.000 | 5.000 | 50 | 2.0 | 4.5 | 9.9 | 12.2 | 2.5 |"), "{m}");
    assert!(m.contains("| failover | 5.100 | 5.250 | 0 | - | - | - | - | - |"), "{m}");

    let x = junit_xml(&r);
    assert!(x.contains("<property name=\"latency_before_fault_p99_ms\" value=\"9.87\"/>"), "{x}");
    assert!(x.contains("<property name=\"latency_failover_ok_ops\" value=\"0\"/>"), "{x}");
    assert!(x.contains("<property name=\"latency_failover_p50_ms\" value=\"unknown\"/>"), "{x}");

    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v["latency"][0],
        serde_json::json!({"phase": "before_fault", "from_ms": 0.0, "to_ms": 5000.0, "ok_ops": 50,
            "p50_ms": 2.003, "p95_ms": 4.5, "p99_ms": 9.87, "max_ms": 12.25, "mean_ms": 2.5})
    );
    assert_eq!(v["latency"][1]["phase"], "failover");
    assert!(v["latency"][1]["p50_ms"].is_null());
}

#[test]
fn a_drill_without_latency_figures_prints_no_latency_table() {
    let mut r = sample();
    r.latency.clear();
    assert!(!scorecard(&r).contains("p50"));
    assert!(!markdown(&r).contains("p50"));
    assert_eq!(serde_json::to_value(&r).unwrap()["latency"], serde_json::json!([]));
}

#[test]
fn orchestrated_phases_show_with_their_budgets_and_unobserved_steps() {
    use crate::checker::Phases;
    use crate::stack::Budgets;
    let mut r = sample();
    r.phases = Some(Phases {
        orchestrator: "Redis Sentinel".into(),
        old_primary: Some("redis-1".into()),
        new_primary: Some("redis-2".into()),
        fault_ms: Some(5000.0),
        detected_ms: None,
        promoted_ms: Some(11000.0),
        promoted_by: Some("watcher".into()),
        moved_ms: None,
        rerouted_ms: Some(11010.0),
        rerouted_ack_ms: Some(11012.0),
        recovered_ms: Some(11010.0),
        detection_ms: None,
        promotion_ms: None,
        reroute_ms: Some(10.0),
        stabilization_ms: Some(0.0),
        budgets: Budgets { detection_ms: Some(6000.0), detection_from: "down-after-milliseconds 5000".into(), ..Default::default() },
        ..Default::default()
    });
    let card = super::scorecard(&r);
    assert!(card.contains("RTO by phase (Redis Sentinel: redis-1 -> redis-2)"), "{card}");
    assert!(card.contains("not observed"), "an unobserved detection must say so: {card}");
    assert!(card.contains("down-after-milliseconds 5000"), "{card}");
    let md = super::markdown(&r);
    assert!(md.contains("## RTO by phase"), "{md}");
    assert!(md.contains("| reroute | 11.000 s -> 11.010 s | 10 ms |"), "{md}");
}

#[test]
fn report_html_renders_everything_and_escapes_the_scenario() {
    let html = super::html::report_html(&sample(), &["<svg id=\"t\"></svg>".to_string()], "name: x\ndescription: <b>bold</b>\n");
    assert!(!html.contains("failed to render"), "{html}");
    assert!(html.contains("<svg id=\"t\"></svg>"), "the timeline is inline");
    assert!(html.contains("&lt;b&gt;bold&lt;") && !html.contains("<b>bold"), "the scenario text must be escaped");
    for part in ["Scorecard", "Timeline", "Lost writes", "Scenario as run", "too slow &amp; late"] {
        assert!(html.contains(part), "{part} missing");
    }
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"), "self-contained, no scripts");
}

#[test]
fn header_times_are_readable_and_results_json_keeps_them_as_recorded() {
    let mut r = sample();
    r.started_at = "2026-11-23T17:40:05.123456789+00:00".into();
    r.finished_at = "2026-11-23T17:40:25.987654321+00:00".into();
    let html = super::html::report_html(&r, &[String::new()], "");
    assert!(html.contains(" 2026-11-23 17:40:05.123 UTC</title>"), "{html}");
    assert!(html.contains("2026-11-23 17:40:05.123 UTC to 2026-11-23 17:40:25.987 UTC."), "{html}");
    assert!(!html.contains("123456789"), "{html}");
    let md = super::markdown(&r);
    assert!(md.contains("started 2026-11-23 17:40:05.123 UTC, finished 2026-11-23 17:40:25.987 UTC."), "{md}");
    assert!(super::results_json(&r).contains("2026-11-23T17:40:05.123456789+00:00"));
}

/// Two services: pg missed a target, cache passed; each with its own figures.
fn two_services() -> Results {
    let pg = sample();
    let cache =
        Results { verdict: Verdict::Pass, rto_ms: None, no_rto_because: Some("nothing hit it".into()), lost: Vec::new(), ..sample() };
    let events = pg.events.clone();
    Results::of_services(vec![("pg".into(), Results { verdict: Verdict::Fail, ..pg }), ("cache".into(), cache)], events)
}

#[test]
fn a_drill_of_several_services_keeps_only_its_own_fields_at_the_top_and_the_worst_verdict() {
    let r = two_services();
    assert!(r.several());
    assert_eq!(r.verdict, Verdict::Fail);
    let v: serde_json::Value = serde_json::from_str(&file::results_json(&r)).unwrap();
    assert_eq!(v["schema_version"], 2);
    for gone in ["rto_ms", "lost_writes", "targets", "stack", "latency", "lost"] {
        assert!(v.get(gone).is_none(), "{gone} at the top level of a drill of several");
    }
    assert!(v["events"].is_array() && v["services"]["pg"]["rto_ms"].is_number());
    assert!(v["services"]["cache"]["rto_ms"].is_null() && v["services"]["cache"]["no_rto_because"] == "nothing hit it");
    for drill_only in ["events", "run_id", "engine", "schema_version", "services"] {
        assert!(v["services"]["pg"].get(drill_only).is_none(), "{drill_only} under a service");
    }
    // read back: the same services, the same worst verdict
    let back: Results = serde_json::from_value(v).unwrap();
    assert_eq!(
        back.each_service().iter().map(|(n, r)| (n.to_string(), r.verdict)).collect::<Vec<_>>(),
        [("cache".to_string(), Verdict::Pass), ("pg".to_string(), Verdict::Fail)]
    );
    let card = scorecard(&back);
    assert!(card.contains("── service pg (") && card.contains("── service cache (") && card.contains("(the worst of cache PASS, pg FAIL)"));
    let junit = junit_xml(&back);
    assert_eq!(junit.matches("<testsuite ").count(), 2, "{junit}");
    assert!(junit.contains("tests=\"6\"") && junit.contains("classname=\"pg&lt;kill&gt;/pg\""), "{junit}");
}

#[test]
fn a_drill_of_one_service_keeps_every_field_at_the_top_and_one_entry_the_same() {
    let one = Results::of_services(vec![("pg".into(), sample())], Vec::new());
    let v: serde_json::Value = serde_json::from_str(&file::results_json(&one)).unwrap();
    assert_eq!(v["rto_ms"], v["services"]["pg"]["rto_ms"]);
    assert_eq!(v["lost_writes"], v["services"]["pg"]["lost_writes"]);
    assert!(v["events"].is_array() && v["services"]["pg"].get("events").is_none());
    // schema 1 evidence (no services) reads as one service named after its stack kind
    let mut v1 = serde_json::to_value(sample()).unwrap();
    v1.as_object_mut().unwrap().remove("services");
    v1["schema_version"] = 1.into();
    let r: Results = serde_json::from_value(v1).unwrap();
    assert_eq!(r.each_service().len(), 1);
    assert_eq!(r.each_service()[0].0, r.stack.kind);
}

/// A cluster whose shard 2 was lost: shard 2 hit and never recovered, the others not hit.
fn sharded() -> Results {
    use crate::checker::{ShardResult, ShardsReport};
    let shard = |i: usize, lost: u64, hit: bool| ShardResult {
        shard: format!("shard-{i}"),
        slots: ["0-5460", "5461-10922", "10923-16383"][i - 1].into(),
        share: 1.0 / 3.0,
        primary: format!("rc-{i}"),
        replicas: Vec::new(),
        acked: 100,
        failed: 40,
        unknown: 0,
        lost: Some(lost),
        rpo_ms: Some(0.0),
        outage_ms: None,
        outage_start_ms: None,
        recovered_at_ms: None,
        hit,
        rto_ms: None,
    };
    let shards = ShardsReport {
        shards: vec![shard(1, 0, false), shard(2, 100, true), shard(3, 0, false)],
        bucket_ms: 100,
        writable: vec![[0.0, 1.0], [5100.0, 0.6667], [11300.0, 0.0]],
        whole_down: vec![[11300.0, 20000.0]],
        whole_down_ms: 8700.0,
    };
    Results { shards: Some(shards), ..sample() }
}

#[test]
fn shards_show_in_the_scorecard_the_markdown_and_the_page_with_the_key_space_picture() {
    let r = sharded();
    let (card, md) = (super::scorecard(&r), super::markdown(&r));
    let html = super::html::report_html(&r, &["<svg id=\"t\"></svg>".to_string()], "name: x\n");
    for text in [&card, &md, &html] {
        assert!(text.contains("5461-10922") && text.contains("not recovered while drilled") && text.contains("- (not hit)"), "{text}");
        assert!(text.contains("67% at 5.1 s") && text.contains("8700 ms in 1 window(s): 11.3-20.0 s"), "{text}");
    }
    assert_eq!(html.matches("class=\"shard\"").count(), 3);
    let figure = html.split("<figure id=\"keyspace\">").nth(1).expect("the key space picture");
    assert!(figure.trim_start().starts_with("<svg") && figure.contains("postgres: share of the key space taking writes"), "{figure}");
    let plain = super::html::report_html(&sample(), &["<svg id=\"t\"></svg>".to_string()], "name: x\n");
    assert!(!plain.contains("keyspace") && !plain.contains("<h2>Shards"), "one primary: no shard section");
}

#[test]
fn a_gap_that_ran_to_the_end_of_the_workload_says_so() {
    let r = Results { longest_gap_ms: 30_012.0, longest_gap_start_ms: 5012.3, longest_gap_to_end: true, ..sample() };
    let said = "30012.0 ms (from t=5012.3 ms), to the end of the workload";
    assert!(scorecard(&r).contains(&format!("longest ack gap    {said}")), "{}", scorecard(&r));
    assert!(markdown(&r).contains(&format!("- longest ack gap: {said}")), "{}", markdown(&r));
    assert_eq!(serde_json::to_value(&r).unwrap()["longest_gap_to_end"], true);
    let card = scorecard(&sample());
    assert!(card.contains("longest ack gap    260.0 ms (from t=4999.0 ms)\n"), "{card}");
}

#[test]
fn the_key_space_picture_is_titled_with_its_service_and_marks_its_fault() {
    // read back from results.json, as after a drill: a service's entry holds neither the
    // scenario's name nor the events; a drill of one service names it after its stack's kind
    let kill = |s: &str| Event { service: Some(s.into()), ..kill_pg1() };
    let one = Results::of_services(vec![("kind-name".into(), sharded())], vec![kill_pg1()]);
    let two = Results::of_services(vec![("full".into(), sharded()), ("partial".into(), sharded())], vec![kill("full"), kill("partial")]);
    for (r, names, ids) in [(one, vec!["kind-name"], vec![""]), (two, vec!["full", "partial"], vec!["-full", "-partial"])] {
        let back: Results = serde_json::from_str(&results_json(&r)).unwrap();
        let html = super::html::report_html(&back, &vec!["<svg></svg>".to_string(); names.len()], "name: x\n");
        for (name, id) in names.iter().zip(ids) {
            let figure =
                html.split(&format!("<figure id=\"keyspace{id}\">")).nth(1).expect("the picture").split("</figure>").next().unwrap();
            let title = format!("{name}: share of the key space taking writes (per 100 ms)");
            assert!(figure.lines().any(|l| l.trim() == title), "{figure}");
            assert!(figure.contains("stroke=\"#940000\""), "the kill's marker: {figure}");
        }
    }
}

#[test]
fn an_interrupted_drill_of_several_services_says_so_for_every_service_in_every_report() {
    let mut r = two_services();
    for s in r.services.values_mut() {
        s.interruption = None;
    }
    r.interrupted = true;
    r.interruption = Some(Interruption { signal: "SIGINT".into(), phase: "workload".into(), at_ms: Some(3000.0) });
    let said = "SIGINT during workload";
    let html = super::html::report_html(&r, &[String::new(), String::new()], "");
    let md = super::markdown(&r);
    assert_eq!(html.matches(said).count(), 2, "once per service: {html}");
    assert_eq!(md.matches(said).count(), 2, "once per service: {md}");
    assert!(super::terminal::scorecard(&r).contains(said));
}
