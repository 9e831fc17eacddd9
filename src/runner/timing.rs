//! How long a drill may take, and what its settings imply in time: the bound the runner
//! puts on the workload (the longest `workload.max_duration_ms` of its services), the drill's
//! longest run with monitoring (that bound plus `monitoring.settle_ms`, the wait for fired
//! alerts to resolve), the alert rules whose `for` outlasts it (they can never fire), and
//! the recovery budget an orchestrator's settings imply, phase by phase: the very budgets
//! the scorecard judges the phases against (`Orchestrator::budgets`).
use crate::scenario::{FailoverMode, Loaded, Scenario};

/// How long the workload may write: the longest of the services' `max_duration_ms` (the
/// scenario's own when it has no services). The runner's deadline for the writers.
pub fn workload_bound_ms<'a>(views: impl IntoIterator<Item = &'a Scenario>, sc: &Scenario) -> u64 {
    views.into_iter().map(|v| v.workload.max_duration_ms).max().unwrap_or(sc.workload.max_duration_ms)
}

/// The longest a drill with monitoring can watch its rules: the workload's bound, then at
/// most `settle_ms` for the alerts that fired to resolve. None without monitoring.
pub fn longest_watch_ms(loaded: &Loaded) -> Option<u64> {
    let m = loaded.scenario.monitoring.as_ref()?;
    Some(workload_bound_ms(loaded.services.iter().map(|p| &p.view), &loaded.scenario) + m.timing().settle_ms)
}

/// A rule that can never fire in this drill: its `for` is longer than the drill can last.
/// `drdrill validate` and `--dry-run` say it; it changes no exit code.
pub fn rule_warnings(loaded: &Loaded) -> Vec<String> {
    let (Some(longest), Some(rules)) = (longest_watch_ms(loaded), &loaded.alert_rules) else { return Vec::new() };
    rules
        .rules
        .iter()
        .filter(|r| r.for_ms > longest)
        .map(|r| {
            let pending = crate::scenario::alert_rules::duration_text(r.for_ms);
            format!("{}'s for: {pending} is longer than this drill (at most {}): it can never fire", r.alert, spoken_ms(longest))
        })
        .collect()
}

/// `2 min`, `9 min 35 s` (rounded up to the second), `45 s`, `1.5 s`: a span as a reader
/// says it.
pub fn spoken_ms(ms: u64) -> String {
    if ms < 60_000 {
        return if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{} s", ms as f64 / 1000.0) };
    }
    let secs = ms.div_ceil(1000);
    match (secs / 60, secs % 60) {
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// What the stack's own orchestrator may take, phase by phase, with the setting each bound
/// comes from: the budgets its watch gives the scorecard (nothing for a stack drdrill
/// fails over, or one it did not start: an external cluster's timing is read at run time).
pub fn budget_lines(v: &Scenario, who: &str) -> Vec<String> {
    // an orchestrated kind, or a service another's Keepalived promotes
    let watched = v.stack.kind.orchestrated() || v.stack.carried_by.is_some();
    if !watched || v.failover_mode() != Some(FailoverMode::Orchestrator) {
        return Vec::new();
    }
    let Some(o) = crate::stack::driver_for(&v.stack).orchestrator() else { return Vec::new() };
    let b = o.budgets();
    let phase = |name: &str, ms: Option<f64>, from: &str| match ms {
        Some(ms) => format!("{name} {ms:.0} ms = {from}"),
        None => format!("{name}: {from}"),
    };
    let phases = [
        phase("detection", b.detection_ms, &b.detection_from),
        phase("promotion", b.promotion_ms, &b.promotion_from),
        phase("reroute", b.reroute_ms, &b.reroute_from),
    ];
    let bounded = [b.detection_ms, b.promotion_ms, b.reroute_ms].iter().flatten().count();
    let total = match bounded {
        3 => format!("{:.0} ms in all", b.total_ms()),
        _ => format!("{:.0} ms for the phases a setting bounds", b.total_ms()),
    };
    let mut l = vec![format!(
        "{who}recovery budget ({}'s settings; the scorecard judges each phase by it): {}; {total}",
        o.name(),
        phases.join("; ")
    )];
    if let Some(c) = &b.claim {
        l.push(format!("{who}the reference documents claim: {c}"));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Loaded {
        crate::scenario::parse(std::path::Path::new("t.yaml"), yaml.to_string()).unwrap()
    }

    #[test]
    fn spans_read_as_minutes_and_seconds() {
        assert_eq!(spoken_ms(120_000), "2 min");
        assert_eq!(spoken_ms(575_000), "9 min 35 s");
        assert_eq!(spoken_ms(45_000), "45 s");
        assert_eq!(spoken_ms(1_500), "1.5 s");
        assert_eq!(spoken_ms(90_500), "1 min 31 s");
        assert_eq!(spoken_ms(119_500), "2 min");
    }

    /// The drill lasts at most its workload's bound plus the settle: a `for` longer than
    /// that is said, a `for` that fits is not.
    #[test]
    fn a_rule_whose_for_outlasts_the_drill_is_said_to_never_fire() {
        let dir = tempfile::tempdir().unwrap();
        let rule = |name: &str, pending: &str| format!("      - alert: {name}\n        expr: pg_up == 0\n        for: {pending}\n");
        let rules = format!("groups:\n  - name: g\n    rules:\n{}{}", rule("PGDownSlow", "10m"), rule("PGDown", "30s"));
        std::fs::write(dir.path().join("r.yml"), rules).unwrap();
        let path = dir.path().join("s.yaml");
        let monitoring = "monitoring: {rules: [r.yml], scrape_interval_ms: 5000, evaluation_interval_ms: 5000, settle_ms: 30000}\n";
        std::fs::write(
            &path,
            format!("name: t\ntargets: {{}}\nstack: {{kind: postgres, replicas: 1}}\nworkload: {{max_duration_ms: 90000}}\n{monitoring}"),
        )
        .unwrap();
        let l = crate::scenario::load(&path).unwrap();
        assert_eq!(longest_watch_ms(&l), Some(120_000));
        assert_eq!(rule_warnings(&l), ["PGDownSlow's for: 10m is longer than this drill (at most 2 min): it can never fire"]);
    }

    #[test]
    fn the_workload_bound_is_the_longest_services() {
        let l = load(
            "name: t\nservices:\n  a: {stack: {kind: postgres}, workload: {max_duration_ms: 30000}, targets: {}}\n  \
             b: {stack: {kind: redis}, workload: {max_duration_ms: 70000}, targets: {}}\n",
        );
        assert_eq!(workload_bound_ms(l.services.iter().map(|p| &p.view), &l.scenario), 70_000);
        assert_eq!(longest_watch_ms(&l), None, "no monitoring, no watch");
    }

    #[test]
    fn an_orchestrators_budget_names_each_phase_and_its_setting() {
        let l = load("name: t\ntargets: {}\nstack: {kind: redis-sentinel, sentinel: {down_after_ms: 2000}}\n");
        let text = budget_lines(&l.scenario, "").join("\n");
        assert!(text.contains("recovery budget (Redis Sentinel's settings"), "{text}");
        assert!(text.contains("detection 3000 ms = down-after-milliseconds 2000 + Sentinel's 1 s PING period"), "{text}");
        assert!(text.contains("promotion 60000 ms = failover-timeout 60000"), "{text}");
        let l = load("name: t\ntargets: {}\nstack: {kind: redis-cluster, settings: {cluster-node-timeout: '2000'}}\n");
        let text = budget_lines(&l.scenario, "").join("\n");
        assert!(text.contains("detection 4000 ms = 2 × cluster-node-timeout 2000 ms: PFAIL after one"), "{text}");
        let l = load("name: t\ntargets: {}\nstack: {kind: mariadb-mha}\n");
        assert!(budget_lines(&l.scenario, "")[0].contains("promotion: no setting bounds it"), "{:?}", budget_lines(&l.scenario, ""));
        let l = load("name: t\ntargets: {}\nstack: {kind: postgres}\n");
        assert!(budget_lines(&l.scenario, "").is_empty());
    }
}
