//! The rules of one scenario (one service's view of a drill of several) that serde cannot
//! express: each problem with its path in the file.
use super::bounds::{check, check_opt};
use super::locate::Problem;
use super::locate::Seg::{Index, Key, Name};
use super::model::*;

/// Rules serde cannot express. Returns every problem found, each with its path.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut p: Vec<Problem> = Vec::new();
    if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        p.push((vec![Key("name")], format!("name `{}` must be lowercase letters, digits and '-'", s.name)));
    }
    let st = &s.stack;
    check(&mut p, vec![Key("stack"), Key("replicas")], "StackSpec.replicas", f64::from(st.replicas), "");
    let w = &s.workload;
    check(&mut p, vec![Key("workload"), Key("writers")], "WorkloadSpec.writers", f64::from(w.writers), "");
    check_opt(&mut p, vec![Key("workload"), Key("rate_per_s")], "WorkloadSpec.rate_per_s", w.rate_per_s);
    check(&mut p, vec![Key("workload"), Key("max_duration_ms")], "WorkloadSpec.max_duration_ms", w.max_duration_ms as f64, "");
    super::ranges::check_ranges(s, &mut p);
    let nodes = st.node_names();
    super::faults::validate_faults(s, &nodes, &mut p);
    super::orchestrated::validate_orchestrated(s, &mut p);
    super::kinds::validate_kind(s, &mut p);
    super::backup::validate_backup(s, &mut p);
    super::backup::validate_delayed_promotion(s, &mut p);
    super::backup::validate_restore_faults(s, &mut p);
    super::action_checks::validate_actions(s, &mut p);
    super::action_checks::check_sql(s, &mut p);
    super::region::validate_dns(s, &mut p);
    super::region::validate_sites(s, &mut p);
    failover_problems(s, &nodes, &mut p);
    if st.kind.is_external() && s.faults.iter().any(|f| f.kind == FaultKind::Destroy) {
        let i = s.faults.iter().position(|f| f.kind == FaultKind::Destroy).unwrap_or(0);
        p.push((vec![Key("faults"), Index(i), Key("kind")], "drdrill never destroys a node of an external stack".into()));
    }
    replica_lag_problems(s, &mut p);
    super::reads::validate_reads(s, &mut p);
    if s.targets.rpo.is_some() {
        let beside = [("rpo_ms", s.targets.rpo_ms.is_some()), ("max_lost_writes", s.targets.max_lost_writes.is_some())];
        for (key, _) in beside.iter().filter(|b| b.1) {
            p.push((vec![Key("targets"), Key("rpo")], format!("`rpo: none` promises no RPO, but `{key}` sets one: keep one of them")));
        }
    }
    claim_problems(&s.targets, &mut p);
    let c = &s.checks;
    check(&mut p, vec![Key("checks"), Key("stable_ok_ratio")], "CheckSpec.stable_ok_ratio", c.stable_ok_ratio, "");
    if w.after_recovery_ms < c.stable_window_ms {
        p.push((
            vec![Key("workload"), Key("after_recovery_ms")],
            format!("after_recovery_ms ({}) must cover checks.stable_window_ms ({})", w.after_recovery_ms, c.stable_window_ms),
        ));
    }
    p
}

/// `targets.max_lost_pct` in range, and each claim naming a target the block sets.
fn claim_problems(t: &crate::scenario::Targets, p: &mut Vec<Problem>) {
    check_opt(p, vec![Key("targets"), Key("max_lost_pct")], "Targets.max_lost_pct", t.max_lost_pct);
    let set = t.set_names();
    for name in t.claims.keys().filter(|k| !set.contains(k)) {
        let msg = format!("a claim stands beside a target: `{name}` is not one this block sets (it sets {})", set.join(", "));
        p.push((vec![Key("targets"), Key("claims"), Name(name.clone())], msg));
    }
}

/// drdrill's own recovery (a promotion, a restore, an operator's bootstrap): the node it
/// promotes, its trigger, and a fault for it to answer.
fn failover_problems(s: &Scenario, nodes: &[String], p: &mut Vec<Problem>) {
    let mode = s.failover_mode();
    let (restore, bootstrap) = (mode == Some(FailoverMode::Restore), mode == Some(FailoverMode::Bootstrap));
    let Some(fo) = s.failover.as_ref().filter(|_| mode == Some(FailoverMode::Scripted) || restore || bootstrap) else { return };
    let external = s.stack.kind.is_external();
    if s.stack.replicas == 0 && !external && !restore && !bootstrap {
        p.push((vec![Key("failover")], "failover needs at least one replica".into()));
    }
    // a bootstrap may start from any node; a promotion only from a replica
    let (may, what) = if bootstrap { (nodes, "a node") } else { (&nodes[1..], "a replica") };
    if fo.promote != "most-advanced" && !external && !may.contains(&fo.promote) {
        p.push((
            vec![Key("failover"), Key("promote")],
            format!("expected `most-advanced` or {what} ({}), found `{}`", may.join(", "), fo.promote),
        ));
    }
    if bootstrap {
        super::kinds::validate_bootstrap(fo, p);
    }
    match (&fo.trigger.delay, &fo.trigger.probe) {
        (Some(_), Some(_)) | (None, None) => {
            p.push((vec![Key("failover"), Key("trigger")], "expected exactly one of `delay` or `probe`".into()))
        }
        _ => {}
    }
    if s.faults.is_empty() {
        p.push((vec![Key("failover")], "a failover plan needs a fault to answer".into()));
    }
}

/// Replica lag, measured (`workload.replica_lag`) or targeted (`targets.replica_lag_ms`):
/// only on a stack drdrill starts with a replica, and a target names a statistic.
fn replica_lag_problems(s: &Scenario, p: &mut Vec<Problem>) {
    if s.replica_lag().is_some() {
        let at = match s.workload.replica_lag {
            Some(_) => vec![Key("workload"), Key("replica_lag")],
            None => vec![Key("targets"), Key("replica_lag_ms")],
        };
        if s.stack.kind.is_external() {
            p.push((at, "replica lag is measured on stacks drdrill starts, not on an external stack".into()));
        } else if s.stack.replicas == 0 {
            p.push((at, "replica lag needs at least one replica".into()));
        }
    }
    if s.targets.replica_lag_ms.as_ref().is_some_and(|l| l.each().is_empty()) {
        p.push((vec![Key("targets"), Key("replica_lag_ms")], "`replica_lag_ms`: expected at least one of p50, p95, p99, max".into()));
    }
}

#[cfg(test)]
mod tests {
    fn problems(yaml: &str) -> String {
        match crate::scenario::parse(std::path::Path::new("t.yaml"), yaml.to_string()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_claim_stands_beside_a_target_the_block_sets() {
        let ok = "name: t\nstack: {kind: redis}\ntargets:\n  rto_ms: 30000\n  max_lost_pct: 1\n  claims: {rto_ms: RTO < 30 s, max_lost_pct: within 1 %}\n";
        assert_eq!(problems(ok), "");
        let yaml = "name: t\nstack: {kind: redis}\ntargets:\n  rto_ms: 30000\n  claims:\n    rpo_ms: at most 1 s lost\n";
        let e = problems(yaml);
        assert!(e.contains("t.yaml:6:5") && e.contains("`rpo_ms` is not one this block sets (it sets rto_ms, converged)"), "{e}");
        let e = problems("name: t\nstack: {kind: redis}\ntargets:\n  max_lost_pct: 101\n");
        assert!(e.contains("t.yaml:4:3") && e.contains("max_lost_pct must be between 0 and 100, found 101"), "{e}");
    }
}
