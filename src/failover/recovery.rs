//! Every way a service gets a writable primary back sits behind one trait: drdrill's
//! scripted promotion, the scenario's runbook steps, and the stack's own orchestrator,
//! watched, a restore from backup onto a fresh node, and an operator's bootstrap of a quorum
//! cluster. The runner only ever holds a
//! `dyn Recovery`: it hands it the fault notices and waits for its report.
use super::report::FailoverReport;
use super::scene::Scene;
use crate::error::{Error, Result};
use crate::fault::FaultNotice;
use crate::scenario::{FailoverMode, FailoverSpec};
use crate::stack::{Budgets, Driver, Orchestrator};
use crate::stack::{ClientDns, PhaseSteps};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::mpsc;

#[async_trait]
pub trait Recovery: Send + Sync {
    /// "scripted promotion", "runbook steps", "Patroni", shown in the drill's plan.
    fn name(&self) -> String;
    /// Runs once, reading fault notices: returns when the service has a writable primary
    /// again, when the recovery failed, or when the fault schedule ended with nothing for
    /// it to answer. Every step is an event in the history.
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport;
    /// How long the clients take, past the recovery, to reach the new primary (an
    /// orchestrator's reroute budget: HAProxy's checks); the workload writes that much longer.
    fn reroute_ms(&self) -> u64 {
        0
    }
    /// What each phase may take and how its steps are read, when its RTO is split into
    /// phases: an orchestrator's always; drdrill's own with the drill's DNS, whose record
    /// keeps the old address for the TTL (or for good: `once`).
    fn phase_budgets(&self, dns: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)>;
}

/// drdrill promotes the most advanced (or the named) replica, repoints replicas and clients.
pub struct Promotion(pub FailoverSpec);

/// The scenario's runbook steps replace drdrill's promotion.
pub struct Steps(pub FailoverSpec);

/// A fresh node restored from the stack's backup takes the destroyed primary's place.
pub struct RestoreFromBackup(pub FailoverSpec);

/// The stack's own orchestrator fails over; drdrill only watches and records.
pub struct Watch(pub Arc<dyn Orchestrator>);

/// An operator bootstraps a quorum cluster from its most advanced node.
pub struct OperatorBootstrap(pub FailoverSpec);

/// The service's recovery as its scenario declares it, or None when nothing but the
/// clients can tell when it recovered (no failover plan and no orchestrator to watch).
pub fn recovery_for(mode: Option<FailoverMode>, plan: Option<&FailoverSpec>, driver: &dyn Driver) -> Result<Option<Arc<dyn Recovery>>> {
    Ok(match (mode, plan) {
        (None, _) => None,
        (Some(FailoverMode::Orchestrator), _) => match driver.orchestrator() {
            Some(o) => Some(Arc::new(Watch(o))),
            None => return Err(Error::infra("this stack has no orchestrator to watch (a bug)")),
        },
        (Some(FailoverMode::Scripted), Some(p)) if !p.steps.is_empty() => Some(Arc::new(Steps(p.clone()))),
        (Some(FailoverMode::Scripted), Some(p)) => Some(Arc::new(Promotion(p.clone()))),
        (Some(FailoverMode::Scripted), None) => return Err(Error::infra("a scripted failover without its plan (a bug)")),
        (Some(FailoverMode::Restore), Some(p)) => Some(Arc::new(RestoreFromBackup(p.clone()))),
        (Some(FailoverMode::Restore), None) => return Err(Error::infra("a restore without its plan (a bug)")),
        (Some(FailoverMode::Bootstrap), Some(p)) => Some(Arc::new(OperatorBootstrap(p.clone()))),
        (Some(FailoverMode::Bootstrap), None) => return Err(Error::infra("a bootstrap without its plan (a bug)")),
    })
}

#[async_trait]
impl Recovery for Promotion {
    fn name(&self) -> String {
        "scripted promotion".into()
    }
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
        super::promote::promote(&self.0, scene, faults).await
    }
    fn phase_budgets(&self, dns: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)> {
        Some(super::budgets::own_recovery(&self.0, dns?))
    }
}

#[async_trait]
impl Recovery for Steps {
    fn name(&self) -> String {
        format!("runbook steps ({})", self.0.steps.len())
    }
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
        super::runbook::run_steps(&self.0, scene, faults).await
    }
    fn phase_budgets(&self, dns: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)> {
        Some(super::budgets::own_recovery(&self.0, dns?))
    }
}

#[async_trait]
impl Recovery for RestoreFromBackup {
    fn name(&self) -> String {
        "restore from backup".into()
    }
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
        super::restore::restore(&self.0, scene, faults).await
    }
    fn phase_budgets(&self, dns: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)> {
        Some(super::budgets::own_recovery(&self.0, dns?))
    }
}

#[async_trait]
impl Recovery for OperatorBootstrap {
    fn name(&self) -> String {
        match self.0.promote.as_str() {
            "most-advanced" => "operator's bootstrap (the most advanced node by saved position)".into(),
            node => format!("operator's bootstrap (from {node})"),
        }
    }
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
        super::bootstrap::bootstrap(&self.0, scene, faults).await
    }
    fn phase_budgets(&self, _: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)> {
        None
    }
}

#[async_trait]
impl Recovery for Watch {
    fn name(&self) -> String {
        self.0.name().into()
    }
    async fn run(&self, scene: Scene, faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
        super::orchestrator::run_orchestrated(self.0.clone(), scene.stack, scene.rec, faults).await
    }
    fn reroute_ms(&self) -> u64 {
        self.0.budgets().reroute_ms.map_or(0, |ms| ms.max(0.0) as u64)
    }
    fn phase_budgets(&self, _: Option<ClientDns>) -> Option<(Budgets, PhaseSteps)> {
        Some((self.0.budgets(), PhaseSteps::Orchestrator))
    }
}
