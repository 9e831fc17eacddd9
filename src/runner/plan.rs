//! `--dry-run`: the exact plan, every command and request in order with its offset,
//! printed without running anything (no engine is reached, no action runs). The parts come
//! from `plan_parts` (the settings), `plan_faults` (the schedule, targets resolved) and
//! `timing` (budgets, and rules that cannot fire in the drill's time).
use crate::scenario::{FailoverMode, Loaded, describe_probe};

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
    for line in super::plan_parts::region_lines(sc, &loaded.services) {
        s.push_str(&format!("  {line}\n"));
    }
    for plan in &loaded.services {
        s.push_str(&service_text(plan));
    }
    s.push_str(&monitoring_text(loaded));
    for p in &sc.steady_state.probes {
        s.push_str(&format!("  steady state before (must hold, else exit 6) and after: {}\n", describe_probe(p)));
    }
    for line in super::plan_faults::action_lines(sc, &loaded.services) {
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
        (Some(FailoverMode::Orchestrator), _) if let Some(by) = &st.carried_by => format!(
            "{}'s Keepalived (watched): the new master's notify_master promotes the node on its server ({}), clients through its VIP",
            by.carrier,
            by.hosts.iter().zip(st.node_names()).map(|(h, n)| format!("{n} on {h}")).collect::<Vec<_>>().join(", ")
        ),
        (Some(FailoverMode::Orchestrator), _) => "the stack's own orchestrator (watched)".to_string(),
        (Some(_), Some(fo)) if !fo.steps.is_empty() => format!("the scenario's {} steps", fo.steps.len()),
        (Some(FailoverMode::Restore), _) => "a restore from the stack's backup onto a fresh node".to_string(),
        (Some(FailoverMode::Bootstrap), Some(fo)) => crate::failover::Recovery::name(&crate::failover::OperatorBootstrap(fo.clone())),
        (Some(_), _) => "drdrill's scripted promotion".to_string(),
        (None, _) => "none (the clients' first acknowledged write after an outage)".to_string(),
    };
    s.push_str(&format!("  {who}recovery: {recovery}\n"));
    let more =
        [super::timing::budget_lines(v, &who), super::plan_parts::failover_lines(v, &who), super::plan_parts::judging_lines(v, &who)]
            .concat();
    for line in more {
        s.push_str(&format!("  {line}\n"));
    }
    s
}

/// Where the drill's monitoring runs, as the run places it: the users' own (external),
/// beside the drill on 127.0.0.1, or in sites (each site's Prometheus and Alertmanager, the
/// Alertmanagers clustered, the pager outside every site, a witness in each other site).
fn placement_text(m: &crate::scenario::MonitoringSpec, all_sites: &[String], nodes: &[String]) -> String {
    let exporters = format!("an exporter beside each of {}", nodes.join(", "));
    if m.is_external() {
        let am = m.alertmanager_url.as_deref().unwrap_or("no Alertmanager given");
        let prom = m.prometheus_url.as_deref().unwrap_or_default();
        return format!("  monitoring: the users' own Prometheus {prom} and Alertmanager {am}, read only; nothing started\n");
    }
    let placed = m.placed_in();
    if placed.is_empty() {
        return format!("  monitoring: {exporters}; Prometheus 2.42 and Alertmanager 0.25 on 127.0.0.1, notifying drdrill's webhook\n");
    }
    let each: Vec<String> = placed.iter().map(|site| format!("in {site}: Prometheus 2.42 and Alertmanager 0.25")).collect();
    let mut s = format!("  monitoring: {exporters}, each on its node's network; {}\n", each.join("; "));
    if placed.len() > 1 {
        s += &format!(
            "  monitoring: the Alertmanagers of {} form one cluster (gossip across the sites), each Prometheus sends to all of them\n",
            placed.join(", ")
        );
    }
    s += "  monitoring: pages go to the pager, in a container of its own outside every site (drdrill reads it back on 127.0.0.1)\n";
    let witnesses = crate::monitor::witness_sites(m, all_sites);
    if !witnesses.is_empty() {
        s += &format!(
            "  monitoring: a witness Prometheus in {} (the same rules, paging nobody: which rules would have paged from there)\n",
            witnesses.join(", ")
        );
    }
    s
}

/// The drill's monitoring: what runs, its timing, each rule with its `for`, the targets.
fn monitoring_text(loaded: &Loaded) -> String {
    let (Some(m), Some(rules)) = (&loaded.scenario.monitoring, &loaded.alert_rules) else { return String::new() };
    let t = m.timing();
    let files = &m.rules;
    let nodes: Vec<String> = loaded.services.iter().flat_map(|p| p.view.stack.node_names()).collect();
    let mut s = placement_text(m, &loaded.scenario.sites, &nodes);
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
    if let Some(longest) = super::timing::longest_watch_ms(loaded) {
        let bound = super::timing::workload_bound_ms(loaded.services.iter().map(|p| &p.view), &loaded.scenario);
        let (spoken, settle) = (super::timing::spoken_ms(longest), t.settle_ms);
        s.push_str(&format!("  monitoring: the drill watches the rules at most {spoken} (workload {bound} ms + settle {settle} ms)\n"));
    }
    for w in super::timing::rule_warnings(loaded) {
        s.push_str(&format!("  warning: {w}\n"));
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

#[cfg(test)]
mod tests {
    use super::placement_text;

    fn spec(yaml: &str) -> crate::scenario::MonitoringSpec {
        serde_json::from_value(serde_json::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn the_plan_places_the_monitoring_where_the_run_puts_it() {
        let sites = ["dc1".to_string(), "dc2".to_string()];
        let nodes = ["pg-1".to_string()];
        let plain = placement_text(&spec(r#"{"rules": ["r.yml"]}"#), &[], &nodes);
        assert!(plain.contains("Prometheus 2.42 and Alertmanager 0.25 on 127.0.0.1"), "{plain}");
        let one = placement_text(&spec(r#"{"rules": ["r.yml"], "site": "dc2"}"#), &sites, &nodes);
        assert!(one.contains("in dc2: Prometheus 2.42 and Alertmanager 0.25") && !one.contains("127.0.0.1, notifying"), "{one}");
        assert!(one.contains("the pager, in a container of its own outside every site"), "{one}");
        assert!(one.contains("a witness Prometheus in dc1") && !one.contains("cluster"), "{one}");
        let both = placement_text(&spec(r#"{"rules": ["r.yml"], "sites": ["dc1", "dc2"]}"#), &sites, &nodes);
        assert!(both.contains("in dc1: Prometheus 2.42 and Alertmanager 0.25; in dc2: Prometheus"), "{both}");
        assert!(both.contains("the Alertmanagers of dc1, dc2 form one cluster") && !both.contains("witness"), "{both}");
        let ext = placement_text(&spec(r#"{"rules": ["r.yml"], "prometheus_url": "http://127.0.0.1:9090"}"#), &[], &nodes);
        assert!(ext.contains("the users' own Prometheus http://127.0.0.1:9090") && ext.contains("nothing started"), "{ext}");
    }
}
