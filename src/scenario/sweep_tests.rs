use super::*;
use std::path::Path;

const SWEEP: &str = "name: tune\n\
stack:\n  kind: redis-sentinel\n  replicas: 2\n  sentinel:\n    down_after_ms: 5000\n\
workload:\n  max_duration_ms: 30000\n\
sweep:\n  setting: stack.sentinel.down_after_ms\n  values: [500, 5000]\n  repeat: 2\n\
failures:\n  - {at_ms: 5000, kind: kill, target: primary}\n\
blips:\n  - {at_ms: 5000, kind: pause, target: primary, duration_ms: 1500}\n\
targets:\n  rto_ms: 10000\n  max_false_failovers: 0\n";

fn err(src: &str) -> String {
    match parse_sweep(Path::new("t.yaml"), src.to_string()) {
        Ok(_) => panic!("the sweep loaded:\n{src}"),
        Err(e) => format!("{}\n{}", e.message, e.causes.join("\n")),
    }
}

#[test]
fn a_sweep_is_one_drill_per_value_and_fault_each_with_its_value_and_name() {
    let s = parse_sweep(Path::new("t.yaml"), SWEEP.into()).unwrap();
    assert_eq!(s.plan.points, [vec!["500".to_string()], vec!["5000".to_string()]]);
    assert_eq!(
        (s.plan.seed.clone(), s.plan.repeat, s.plan.rto_ms, s.plan.max_false_failovers),
        (vec!["5000".into()], 2, Some(10_000.0), 0)
    );
    assert_eq!(s.plan.failures, ["kill of primary"]);
    assert_eq!(s.plan.blips, ["pause of primary for 1500 ms"]);
    let names: Vec<&str> = s.trials.iter().map(|t| t.loaded.scenario.name.as_str()).collect();
    assert_eq!(names, ["tune-500-f1", "tune-500-b1", "tune-5000-f1", "tune-5000-b1"]);
    let first = &s.trials[1].loaded.scenario;
    assert_eq!(first.stack.sentinel.as_ref().unwrap().down_after_ms, 500);
    assert_eq!(first.faults.len(), 1);
    assert!(is_sweep(SWEEP) && !is_sweep("name: t\n"));
}

#[test]
fn a_setting_no_key_of_the_format_or_not_a_number_is_refused_at_its_place() {
    let e = err(&SWEEP.replace("setting: stack.sentinel.down_after_ms", "setting: stack.sentinel.down_after"));
    assert!(e.contains("t.yaml:10:3: `stack.sentinel.down_after` names no key of the scenario format; keys that can be swept"), "{e}");
    let e = err(&SWEEP.replace("setting: stack.sentinel.down_after_ms", "setting: stack.kind"));
    assert!(e.contains("`stack.kind` cannot be swept: it is a one of"), "{e}");
    let e = err(&SWEEP.replace("setting: stack.sentinel.down_after_ms", "setting: faults.at_ms"));
    assert!(e.contains("cannot be swept: the sweep's own faults are `failures` and `blips`"), "{e}");
    let e = err(&SWEEP.replace("[500, 5000]", "[500, fast]"));
    assert!(e.contains("t.yaml:11:3: `fast` is not a value of `stack.sentinel.down_after_ms` (a integer"), "{e}");
}

#[test]
fn a_value_out_of_range_is_blamed_on_the_value_and_a_bad_blip_on_the_blip() {
    let e = err(&SWEEP.replace("[500, 5000]", "[500, 0]"));
    assert!(e.contains("with stack.sentinel.down_after_ms = 0, the drill is invalid:"), "{e}");
    let e = err(&SWEEP.replace("kind: pause", "kind: nap"));
    assert!(e.contains("t.yaml:16:5: blips[0] is not a fault:"), "{e}");
    let e = err(&SWEEP.replace("target: primary, duration_ms", "target: pg-9, duration_ms"));
    assert!(e.contains("blips[0] makes no valid drill:") && e.contains("pg-9"), "{e}");
}

#[test]
fn a_sweep_without_failures_or_blips_with_faults_or_a_bad_repeat_is_refused() {
    let bare = SWEEP.split("failures:").next().unwrap().to_string() + "targets:\n  rto_ms: 1000\n";
    assert!(err(&bare).contains("a sweep needs a failure (what must fail over: its RTO) or a blip"), "{}", err(&bare));
    let with_faults = SWEEP.to_string() + "faults:\n  - {at_ms: 1, kind: kill, target: primary}\n";
    assert!(err(&with_faults).contains("write them there, not under `faults`"));
    assert!(err(&SWEEP.replace("repeat: 2", "repeat: 0")).contains("repeat must be 1 to 100, found 0"));
    assert!(
        err(&SWEEP.replace("max_false_failovers: 0", "max_false_failovers: -1")).contains("max_false_failovers must be a whole number")
    );
    assert!(err(&SWEEP.replace("  repeat: 2\n", "  repeat: 2\n  step: 3\n")).contains("sweep: unknown field `step`"));
}

#[test]
fn in_a_drill_of_several_services_the_setting_names_its_service() {
    let services = SWEEP.replace("stack:\n  kind:", "services:\n a:\n  stack:\n   kind:");
    let src = services.split("workload:").next().unwrap().to_string()
        + "sweep: {setting: stack.sentinel.down_after_ms, values: [500]}\nblips: [{at_ms: 1, kind: pause, target: primary, duration_ms: 1}]\n";
    assert!(err(&src).contains("name the service the setting is of: `services.<name>.stack.sentinel.down_after_ms`"), "{}", err(&src));
}
