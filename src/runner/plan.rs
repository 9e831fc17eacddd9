//! `--dry-run`: the exact plan, every command and request in order with its offset,
//! printed without running anything (no engine is reached, no action runs).
use crate::scenario::{FaultKind, Scenario, StackKind, describe, describe_probe, kind_name};

/// One line per action the drill would run, in order.
pub fn action_lines(sc: &Scenario) -> Vec<String> {
    let mut v = Vec::new();
    for (i, a) in sc.hooks.before.iter().enumerate() {
        v.push(format!("before the workload: hook before-{i}: {}", describe(a)));
    }
    let mut faults: Vec<(usize, &crate::scenario::FaultSpec)> = sc.faults.iter().enumerate().collect();
    faults.sort_by_key(|(_, f)| f.at_ms);
    for (i, f) in faults {
        let what = match (&f.action, f.kind) {
            (Some(a), FaultKind::Action) => describe(a),
            (_, FaultKind::Heal) => format!("heal `{}`", f.heals.clone().unwrap_or_default()),
            (_, k) => format!("{} {}", kind_name(k), f.target.clone().unwrap_or_default()),
        };
        v.push(format!("t={} ms: fault #{i}: {what}", f.at_ms));
        if let Some(u) = &f.undo {
            let when = match f.duration_ms {
                Some(d) => format!("t={} ms", f.at_ms + d),
                None => "at a heal naming it, else when the workload stops".into(),
            };
            v.push(format!("{when}: undo of fault #{i}: {}", describe(u)));
        }
    }
    if let Some(fo) = &sc.failover {
        let trigger = match (&fo.trigger.delay, &fo.trigger.probe) {
            (Some(d), _) => format!("{} ms after the first fault that hits the primary", d.delay_ms),
            (_, Some(p)) => format!("after {} failed probes of the primary ({} ms apart)", p.failures, p.interval_ms),
            _ => "never".into(),
        };
        for (i, a) in fo.steps.iter().enumerate() {
            v.push(format!("failover ({trigger}): step {i}: {}", describe(a)));
        }
    }
    for (i, a) in sc.hooks.after.iter().enumerate() {
        v.push(format!("after the drill (always): hook after-{i}: {}", describe(a)));
    }
    v
}

/// The whole plan, as `drdrill run --dry-run` prints it.
pub fn plan_text(sc: &Scenario) -> String {
    let st = &sc.stack;
    let mut s = format!("plan of drill {} (dry run: nothing is started, no command is run)\n", sc.name);
    if st.kind == StackKind::External {
        s.push_str(&super::external::endpoints_text(sc));
    } else {
        s.push_str(&format!("  start {} containers ({}): {}\n", st.node_names().len(), st.image(), st.node_names().join(", ")));
    }
    for p in &sc.steady_state.probes {
        s.push_str(&format!("  steady state before (must hold, else exit 6) and after: {}\n", describe_probe(p)));
    }
    let w = &sc.workload;
    let rate = w.rate_per_s.map_or("unthrottled".to_string(), |r| format!("{r} writes/s each"));
    s.push_str(&format!("  workload: {} writers, {rate}, at most {} ms\n", w.writers, w.max_duration_ms));
    for line in action_lines(sc) {
        s.push_str(&format!("  {line}\n"));
    }
    if let Some(a) = &sc.abort_when {
        let mut c = Vec::new();
        if let Some(o) = a.outage_ms {
            c.push(format!("no ack for {o} ms"));
        }
        if let Some(f) = a.failed_writes {
            c.push(format!("more than {f} failed writes"));
        }
        if let Some(p) = &a.probe {
            c.push(format!("{} fails {} times", describe_probe(p), a.probe_failures));
        }
        s.push_str(&format!("  abort when: {}\n", c.join(" or ")));
    }
    crate::action::redact(&s)
}
