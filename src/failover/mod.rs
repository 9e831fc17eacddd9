//! Failover: wait for the trigger (a delay after the primary was hit, or an orchestrator-
//! style probe declaring it down), pick and promote a replica, repoint replicas and clients,
//! optionally rejoin the old primary. Every step is an event in the history.
mod orchestrator;
mod plan;

pub use orchestrator::run_orchestrated;

pub use plan::{FailoverReport, run_failover};
