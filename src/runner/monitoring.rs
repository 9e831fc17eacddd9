//! The drill's monitoring as phases of the drill: started after the stacks (an exporter
//! beside every node), watched from the workload's start, given time after the drill for
//! its alerts to resolve, and judged: the alerts report and each service's alert targets.
use super::state::{Drill, Service};
use crate::checker::Results;
use crate::error::Result;
use crate::fault::FaultHook;
use crate::monitor::{FaultAt, Monitor, Plan, Target};
use crate::report::{DrillEvent, Reporters};
use crate::scenario::FaultKind;
use std::sync::Arc;

/// Starts the exporters, Prometheus and Alertmanager when the scenario has `monitoring`.
pub(super) async fn start_monitoring(drill: &Drill<'_>, rep: &mut Reporters, svcs: &[Service]) -> Result<()> {
    let Some(spec) = &drill.sc().monitoring else { return Ok(()) };
    if spec.is_external() {
        drill.phase(rep, "watching the users' own monitoring (read-only)")?;
        return started(drill, rep, Monitor::attach(spec).await?);
    }
    let Some(rules) = &drill.loaded.alert_rules else { return Ok(()) };
    let network = crate::docker::network_name(&drill.run_id);
    let mut targets = Vec::new();
    let mut site_networks = Vec::new();
    for svc in svcs {
        let Some(d) = svc.driver.deployment() else { continue };
        let sites = svc.stack.sites.as_ref();
        for n in &svc.stack.nodes {
            let node_net = sites.and_then(|s| s.network_of(&drill.run_id, &n.name)).unwrap_or_else(|| network.clone());
            if node_net != network && !site_networks.contains(&node_net) {
                site_networks.push(node_net.clone());
            }
            if let Some(exporter) = d.exporter(&n.name) {
                let site = sites.and_then(|s| s.site(&n.name)).map(str::to_string);
                targets.push(Target { service: svc.plan.name.clone(), node: n.name.clone(), exporter, network: node_net, site });
            }
        }
    }
    let placed = spec.placed_in();
    let (where_, pager_image) = match placed.is_empty() {
        true => (String::new(), None),
        false => (format!(" in {}", placed.join(" and ")), Some(crate::docker::ensure_proxy_image(&drill.docker).await?)),
    };
    drill.phase(rep, &format!("starting the drill's monitoring{where_}: Prometheus, Alertmanager and {} exporters", targets.len()))?;
    let plan = Plan {
        docker: &drill.docker,
        run_id: &drill.run_id,
        labels: &drill.labels,
        network,
        site_networks,
        dir: &drill.dir,
        spec,
        rules: &rules.files,
        pager_image,
        witness_sites: crate::monitor::witness_sites(spec, &drill.sc().sites),
    };
    started(drill, rep, Monitor::start(&plan, &targets, rules.clone()).await?)
}

/// The hook that carries a site fault to the monitoring placed in sites (a fault that
/// hits several services is carried once), composed with `other`.
pub(super) fn monitoring_hook(drill: &Drill<'_>, other: Option<FaultHook>) -> Option<FaultHook> {
    let Some(m) = drill.monitor.get().cloned().filter(|_| drill.sc().monitoring.as_ref().is_some_and(|s| !s.placed_in().is_empty())) else {
        return other;
    };
    let hook: FaultHook = Arc::new(move |f: crate::fault::Injected, healing: bool| {
        let (m, other) = (m.clone(), other.clone());
        Box::pin(async move {
            if matches!(f.kind, FaultKind::IsolateSite | FaultKind::KillSite) {
                // a site fault's node is its site, `primary` resolved when it was injected
                let site = f.node.clone();
                // beside the fault, not before its notice: the failover waits on no exec here
                let (kind, index) = (f.kind, f.index);
                let cut = tokio::spawn(async move {
                    if let Err(e) = m.site_fault(index, kind, &site, healing).await {
                        eprintln!("warning: the monitoring in {site} could not be cut off: {}", e.one_line());
                    }
                });
                if healing {
                    let _ = cut.await;
                }
            }
            if let Some(o) = other {
                o(f, healing).await;
            }
        })
    });
    Some(hook)
}

/// The monitoring's cuts healed with the drill's faults.
pub(super) async fn heal_monitoring(drill: &Drill<'_>) {
    if let Some(m) = drill.monitor.get() {
        m.heal_cuts().await;
    }
}

fn started(drill: &Drill<'_>, rep: &mut Reporters, m: Monitor) -> Result<()> {
    for line in m.describe() {
        rep.emit(DrillEvent::Info(&line))?;
    }
    let _ = drill.monitor.set(Arc::new(m));
    Ok(())
}

/// After the drill: at most `settle_ms` for the alerts that fired to resolve and be
/// notified as resolved.
pub(super) async fn settle_alerts(drill: &Drill<'_>, rep: &mut Reporters) -> Result<()> {
    let Some(m) = drill.monitor.get() else { return Ok(()) };
    let bound = m.timing().settle_ms;
    drill.phase(rep, &format!("waiting for the alerts that fired to resolve (at most {:.0} s)", bound as f64 / 1e3))?;
    if !m.settle().await {
        rep.emit(DrillEvent::Info("some alerts were still firing or owed a resolved notification when the wait ended"))?;
    }
    Ok(())
}

/// Every rule judged; each service's alert targets, and the drill-wide one that every
/// rule can fire, added to its results.
pub(super) async fn judge_alerts(drill: &Drill<'_>, each: &mut [(String, Results)]) -> Option<crate::monitor::AlertsReport> {
    let m = drill.monitor.get()?;
    let faults = faults_at(drill);
    let recovered = each.iter().filter_map(|(_, r)| r.recovered_at_ms).reduce(f64::max);
    let mut report = m.report(&faults, recovered, &down_nodes(drill).await).await;
    mark_false_pages(drill, each, &mut report);
    for ((_, r), plan) in each.iter_mut().zip(&drill.loaded.services) {
        add_targets(r, crate::checker::judge_alert_targets(&report, &plan.view.targets));
    }
    if let [(_, only)] = each {
        add_targets(only, vec![crate::checker::rules_alive(&report)]);
    }
    Some(report)
}

/// The pages for a node that answered the clients all along, from the history's
/// acknowledgements and promotions, each counted on its rule.
fn mark_false_pages(drill: &Drill<'_>, each: &[(String, Results)], report: &mut crate::monitor::AlertsReport) {
    let mut answering = crate::checker::Answering::default();
    let Ok(h) = crate::history::read_history(&crate::history::path_in(&drill.dir), |op| answering.add(&op)) else { return };
    answering.add_events(&h.events);
    for (_, r) in each.iter().filter(|(_, r)| r.records_read.is_some()) {
        answering.read_back(&r.stack.final_primary);
    }
    // the clients follow a promotion within a second, or the DNS TTL and a second
    let follow_ms = drill.sc().dns.as_ref().map_or(0, |d| u64::from(d.ttl_s) * 1000 + 1000);
    report.false_pages = crate::checker::false_pages(report, &answering, crate::clock::ms_to_ns(follow_ms));
    for rule in report.rules.iter_mut() {
        rule.false_pages = report.false_pages.iter().filter(|p| p.alert == rule.alert).count();
    }
}

/// The nodes whose containers are not running now (killed and never started again).
async fn down_nodes(drill: &Drill<'_>) -> Vec<String> {
    let stacks = drill.live.with(|l| l.stacks.clone());
    let mut down = Vec::new();
    for (_, stack) in stacks.iter().filter(|(_, s)| !s.external) {
        for n in &stack.nodes {
            if !drill.docker.is_running(&n.container).await {
                down.push(n.name.clone());
            }
        }
    }
    down
}

/// Every fault injected, on the drill's clock; a switchover is planned.
fn faults_at(drill: &Drill<'_>) -> Vec<FaultAt> {
    let history = crate::history::path_in(&drill.dir);
    let events = crate::history::read_history(&history, |_| {}).map(|h| h.events).unwrap_or_default();
    events
        .iter()
        .filter(|e| e.kind == crate::history::EventKind::FaultInject)
        .map(|e| {
            let planned = e.fault.and_then(|i| drill.sc().faults.get(i)).is_some_and(|f| f.kind == FaultKind::Switchover);
            FaultAt { at_ms: crate::clock::ms(e.t_ns), planned }
        })
        .collect()
}

/// Targets added to a result, its verdict merged with theirs.
pub(super) fn add_targets(r: &mut Results, targets: Vec<crate::checker::TargetResult>) {
    r.verdict = targets.iter().fold(r.verdict, |v, t| v.merge(t.verdict));
    r.targets.extend(targets);
}

/// A drill of several services: the drill-wide target on the drill's own results.
pub(super) fn drill_wide(results: &mut Results, report: &crate::monitor::AlertsReport, several: bool) {
    if several {
        add_targets(results, vec![crate::checker::rules_alive(report)]);
    }
}
