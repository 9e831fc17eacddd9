use super::*;
use crate::checker::{BlipStat, FailureStat, KOfN};

fn report() -> SweepReport {
    let point = |v: &str, seed, rto: f64, k, verdict| PointResult {
        values: vec![v.into()],
        seed,
        done: true,
        failures: vec![FailureStat {
            failure: "kill of primary".into(),
            runs: 3,
            counted: 3,
            rto_p50_ms: Some(rto),
            rto_p95_ms: Some(rto + 400.0),
            rto_max_ms: Some(rto + 400.0),
            ..FailureStat::default()
        }],
        blips: vec![BlipStat {
            blip: "pause of primary for 1500 ms".into(),
            runs: 3,
            false_failovers: KOfN::new(k, 3),
            outage_max_ms: Some(1600.0),
            lost_writes_max: Some(if k > 0 { 4364 } else { 0 }),
            split_max_ms: (k > 0).then_some(5700.0),
            ..BlipStat::default()
        }],
        verdict,
        why: if k > 0 { vec![format!("pause of primary for 1500 ms: false failovers {}", KOfN::new(k, 3).text())] } else { vec![] },
    };
    SweepReport {
        settings: vec!["stack.sentinel.down_after_ms".into()],
        seed: vec!["5000".into()],
        repeat: 3,
        rto_target_ms: Some(10_000.0),
        max_false_failovers: 0,
        points: vec![point("500", false, 1500.0, 3, Verdict::Fail), point("5000", true, 6100.0, 0, Verdict::Pass)],
        best: Some(1),
        answer: "the smallest stack.sentinel.down_after_ms that met rto_ms 10000 ms …: 5000".into(),
        verdict: Verdict::Pass,
    }
}

#[test]
fn the_page_shows_every_figure_sweep_json_holds_and_marks_the_seed() {
    let r = report();
    let html = page("tune", &r);
    let json = serde_json::to_value(&r).unwrap();
    // every point's values, RTO figures and false failovers, as sweep.json has them
    for (i, p) in json["points"].as_array().unwrap().iter().enumerate() {
        assert!(html.contains(&format!("<td>{}", p["values"][0].as_str().unwrap())), "point {i}");
        for key in ["rto_p50_ms", "rto_p95_ms", "rto_max_ms"] {
            let s = format!("{:.1} s", p["failures"][0][key].as_f64().unwrap() / 1e3);
            assert!(html.contains(&s), "{key} {s} of point {i}");
        }
        assert!(html.contains(&esc(&r.points[i].blips[0].false_failovers.text())), "false failovers of point {i}");
    }
    assert!(
        html.contains("5000 (seed)") && html.contains("the seed&apos;s value") || html.contains("the seed's value"),
        "the seed is marked"
    );
    assert!(html.contains(&esc(&r.answer)));
    assert_eq!(html.matches("<svg").count(), 2, "the RTO curve and the false failovers");
    assert!(html.contains("lost 4364, split 5.7 s"));
}

#[test]
fn the_table_and_junit_say_the_same_verdicts_and_the_answer() {
    let r = report();
    let t = table(&r);
    assert!(
        t.starts_with("Sweep of stack.sentinel.down_after_ms\n") && t.contains("5000 (seed)") && t.contains("3 of 3 (at least 37 %"),
        "{t}"
    );
    let j = junit("tune", &r);
    assert!(j.contains("tests=\"2\" failures=\"1\" skipped=\"0\""), "{j}");
    assert!(
        j.contains("name=\"stack.sentinel.down_after_ms = 500\"><failure message=\"pause of primary for 1500 ms: false failovers 3 of 3"),
        "{j}"
    );
    assert!(j.contains("name=\"stack.sentinel.down_after_ms = 5000\"></testcase>"), "{j}");
}
