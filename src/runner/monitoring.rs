//! The drill's monitoring as phases of the drill: started after the stacks (an exporter
//! beside every node), watched from the workload's start, given time after the drill for
//! its alerts to resolve, and judged: the alerts report and each service's alert targets.
use super::drill::Drill;
use super::service::Service;
use crate::error::Result;
use crate::monitor::{FaultAt, Monitor, Plan, Target};
use crate::report::{DrillEvent, Reporters, Results};
use crate::scenario::FaultKind;
use std::sync::Arc;

impl Drill<'_> {
    /// Starts the exporters, Prometheus and Alertmanager when the scenario has `monitoring`.
    pub(super) async fn start_monitoring(&self, rep: &mut Reporters, svcs: &[Service]) -> Result<()> {
        let Some(spec) = &self.sc().monitoring else { return Ok(()) };
        if spec.is_external() {
            self.phase(rep, "watching the users' own monitoring (read-only)")?;
            return self.started(rep, Monitor::attach(spec).await?);
        }
        let Some(rules) = &self.loaded.alert_rules else { return Ok(()) };
        let mut targets = Vec::new();
        for svc in svcs {
            let Some(d) = svc.driver.deployment() else { continue };
            for n in &svc.stack.nodes {
                if let Some(exporter) = d.exporter(&n.name) {
                    targets.push(Target { service: svc.plan.name.clone(), node: n.name.clone(), exporter });
                }
            }
        }
        self.phase(rep, &format!("starting the drill's monitoring: Prometheus, Alertmanager and {} exporters", targets.len()))?;
        let network = crate::docker::network_name(&self.run_id);
        let plan =
            Plan { docker: &self.docker, run_id: &self.run_id, labels: &self.labels, network, dir: &self.dir, spec, rules: &rules.files };
        self.started(rep, Monitor::start(&plan, &targets, rules.clone()).await?)
    }

    fn started(&self, rep: &mut Reporters, m: Monitor) -> Result<()> {
        for line in m.describe() {
            rep.emit(DrillEvent::Info(&line))?;
        }
        let _ = self.monitor.set(Arc::new(m));
        Ok(())
    }

    /// After the drill: at most `settle_ms` for the alerts that fired to resolve and be
    /// notified as resolved.
    pub(super) async fn settle_alerts(&self, rep: &mut Reporters) -> Result<()> {
        let Some(m) = self.monitor.get() else { return Ok(()) };
        let bound = m.timing().settle_ms;
        self.phase(rep, &format!("waiting for the alerts that fired to resolve (at most {:.0} s)", bound as f64 / 1e3))?;
        if !m.settle().await {
            rep.emit(DrillEvent::Info("some alerts were still firing or owed a resolved notification when the wait ended"))?;
        }
        Ok(())
    }

    /// Every rule judged; each service's alert targets, and the drill-wide one that every
    /// rule can fire, added to its results.
    pub(super) async fn judge_alerts(&self, each: &mut [(String, Results)]) -> Option<crate::monitor::AlertsReport> {
        let m = self.monitor.get()?;
        let faults = self.faults_at();
        let recovered = each.iter().filter_map(|(_, r)| r.recovered_at_ms).reduce(f64::max);
        let report = m.report(&faults, recovered, &self.down_nodes().await).await;
        for ((_, r), plan) in each.iter_mut().zip(&self.loaded.services) {
            add_targets(r, crate::monitor::judge_targets(&report, &plan.view.targets));
        }
        if let [(_, only)] = each {
            add_targets(only, vec![crate::monitor::rules_alive(&report)]);
        }
        Some(report)
    }

    /// The nodes whose containers are not running now (killed and never started again).
    async fn down_nodes(&self) -> Vec<String> {
        let stacks = self.live.with(|l| l.stacks.clone());
        let mut down = Vec::new();
        for (_, stack) in stacks.iter().filter(|(_, s)| !s.external) {
            for n in &stack.nodes {
                if !self.docker.is_running(&n.container).await {
                    down.push(n.name.clone());
                }
            }
        }
        down
    }

    /// Every fault injected, on the drill's clock; a switchover is planned.
    fn faults_at(&self) -> Vec<FaultAt> {
        let history = crate::history::path_in(&self.dir);
        let events = crate::history::read_history(&history, |_| {}).map(|h| h.events).unwrap_or_default();
        events
            .iter()
            .filter(|e| e.kind == crate::history::EventKind::FaultInject)
            .map(|e| {
                let planned = e.fault.and_then(|i| self.sc().faults.get(i)).is_some_and(|f| f.kind == FaultKind::Switchover);
                FaultAt { at_ms: crate::clock::ms(e.t_ns), planned }
            })
            .collect()
    }
}

/// Targets added to a result, its verdict merged with theirs.
pub(super) fn add_targets(r: &mut Results, targets: Vec<crate::checker::TargetResult>) {
    r.verdict = targets.iter().fold(r.verdict, |v, t| v.merge(t.verdict));
    r.targets.extend(targets);
}

/// A drill of several services: the drill-wide target on the drill's own results.
pub(super) fn drill_wide(results: &mut Results, report: &crate::monitor::AlertsReport, several: bool) {
    if several {
        add_targets(results, vec![crate::monitor::rules_alive(report)]);
    }
}
