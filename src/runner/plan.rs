//! `--dry-run`: the exact plan, every command and request in order with its offset,
//! printed without running anything (no engine is reached, no action runs).
use crate::scenario::{FailoverMode, FaultKind, Loaded, Scenario, describe, describe_probe, kind_name};

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
            (_, k) => {
                format!("{} {}", kind_name(k), f.target.clone().or_else(|| f.targets.as_ref().map(|t| t.join(" + "))).unwrap_or_default())
            }
        };
        let detail = super::plan_parts::fault_detail(f, &sc.faults);
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        v.push(format!("t={} ms: fault #{i}: {what}{detail}", f.at_ms));
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

/// A multi-active stack's writers by node, and the shared keys they update.
fn multi_active_text(v: &crate::scenario::Scenario, who: &str) -> String {
    if !v.stack.kind.info().multi_active {
        return String::new();
    }
    let nodes = v.stack.node_names();
    let sites = crate::stack::Sites::of(v);
    let site = |n: &str| sites.as_ref().and_then(|s| s.site(n)).map(|s| format!(" ({s})")).unwrap_or_default();
    let homes: Vec<String> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ws: Vec<String> = (0..usize::from(v.workload.writers)).filter(|w| w % nodes.len() == i).map(|w| w.to_string()).collect();
            format!("{n}{} <- writers {}", site(n), if ws.is_empty() { "none".into() } else { ws.join(", ") })
        })
        .collect();
    let mut s = format!("  {who}every node writable; each writer writes to its own node: {}\n", homes.join("; "));
    if let Some(k) = v.workload.keys {
        s.push_str(&format!("  {who}every second write updates one of {k} shared keys; judged against every node's final keys\n"));
    }
    s
}

/// The whole plan, as `drdrill run --dry-run` prints it.
pub fn plan_text(loaded: &Loaded) -> String {
    let sc = &loaded.scenario;
    let mut s = format!("plan of drill {} (dry run: nothing is started, no command is run)\n", sc.name);
    if let Some(about) = sc.description.lines().map(str::trim).find(|l| !l.is_empty()) {
        s.push_str(&format!("  about: {about}\n"));
    }
    let names: Vec<String> = loaded.services.iter().map(|p| p.name.clone()).collect();
    for line in super::plan_parts::region_lines(sc, &names) {
        s.push_str(&format!("  {line}\n"));
    }
    for plan in &loaded.services {
        s.push_str(&service_text(plan));
    }
    s.push_str(&monitoring_text(loaded));
    for p in &sc.steady_state.probes {
        s.push_str(&format!("  steady state before (must hold, else exit 6) and after: {}\n", describe_probe(p)));
    }
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

/// One service's part of the plan: its stack, workload, recovery, targets and checks.
fn service_text(plan: &crate::scenario::ServicePlan) -> String {
    let mut s = String::new();
    let (v, who) = (&plan.view, if plan.tagged { format!("service {}: ", plan.name) } else { String::new() });
    let st = &v.stack;
    if st.kind.is_external() {
        s.push_str(&super::external::endpoints_text(v));
    } else {
        s.push_str(&format!("  {who}start {} containers ({}): {}\n", st.node_names().len(), st.image(), st.node_names().join(", ")));
        for line in super::plan_parts::stack_lines(v, &who) {
            s.push_str(&format!("  {line}\n"));
        }
    }
    let w = &v.workload;
    let rate = w.rate_per_s.map_or("unthrottled".to_string(), |r| format!("{r} writes/s each"));
    s.push_str(&format!("  {who}workload: {} writers, {rate}, at most {} ms\n", w.writers, w.max_duration_ms));
    s.push_str(&format!("  {}\n", super::plan_parts::workload_line(v, &who)));
    s.push_str(&multi_active_text(v, &who));
    let recovery = match (v.failover_mode(), &v.failover) {
        (Some(FailoverMode::Orchestrator), _) => "the stack's own orchestrator (watched)".to_string(),
        (Some(_), Some(fo)) if !fo.steps.is_empty() => format!("the scenario's {} steps", fo.steps.len()),
        (Some(FailoverMode::Restore), _) => "a restore from the stack's backup onto a fresh node".to_string(),
        (Some(FailoverMode::Bootstrap), Some(fo)) => crate::failover::Recovery::name(&crate::failover::OperatorBootstrap(fo.clone())),
        (Some(_), _) => "drdrill's scripted promotion".to_string(),
        (None, _) => "none (the clients' first acknowledged write after an outage)".to_string(),
    };
    s.push_str(&format!("  {who}recovery: {recovery}\n"));
    let more = [super::plan_parts::failover_lines(v, &who), super::plan_parts::judging_lines(v, &who)].concat();
    for line in more {
        s.push_str(&format!("  {line}\n"));
    }
    s
}

/// The drill's monitoring: what runs, its timing, each rule with its `for`, the targets.
fn monitoring_text(loaded: &Loaded) -> String {
    let (Some(m), Some(rules)) = (&loaded.scenario.monitoring, &loaded.alert_rules) else { return String::new() };
    let t = m.timing();
    let files = &m.rules;
    let nodes: Vec<String> = loaded.services.iter().flat_map(|p| p.view.stack.node_names()).collect();
    let mut s = format!(
        "  monitoring: an exporter beside each of {}; Prometheus 2.42 and Alertmanager 0.25 on 127.0.0.1, notifying drdrill's webhook\n",
        nodes.join(", ")
    );
    s.push_str(&format!(
        "  monitoring: scrape every {} ms, evaluate every {} ms, group_wait {} ms, group_interval {} ms, group_by [{}]; after the drill at most {} ms for fired alerts to resolve\n",
        t.scrape_interval_ms, t.evaluation_interval_ms, t.group_wait_ms, t.group_interval_ms, m.group_by().join(", "), t.settle_ms
    ));
    s.push_str(&format!("  monitoring: alerting rules from {}\n", files.join(", ")));
    for r in &rules.rules {
        let sel: Vec<&str> = r.selectors.iter().map(|x| x.text.as_str()).collect();
        let dur = crate::scenario::alert_rules::duration_text(r.for_ms);
        s.push_str(&format!("  rule {} (for {dur}): {} [selects {}]\n", r.alert, r.expr.replace('\n', " "), sel.join(", ")));
    }
    for plan in &loaded.services {
        let who = if plan.tagged { format!("service {}: ", plan.name) } else { String::new() };
        for (name, a) in &plan.view.targets.alerts {
            s.push_str(&format!("  {who}target: {name} notified within {} ms of the fault\n", a.notified_within_ms));
        }
        for name in &plan.view.targets.no_alert {
            s.push_str(&format!("  {who}target: {name} never fires\n"));
        }
    }
    s.push_str("  target: every rule matches a series the exporters publish (alerts.rules_alive)\n");
    s
}
