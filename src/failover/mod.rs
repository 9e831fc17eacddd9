//! Recovery: how a service gets a writable primary back after a fault. drdrill's scripted
//! promotion (a trigger, then promote, repoint replicas and clients, optionally rejoin),
//! the scenario's runbook steps, or the stack's own orchestrator, watched; all behind
//! `Recovery`. Every step is an event in the history.
mod budgets;
mod looking;
mod orchestrator;
mod plan;
mod promote;
mod recovery;
mod restore;

pub use plan::{FailoverReport, RestoreReport};
pub use recovery::{Promotion, Recovery, RestoreFromBackup, Scene, Steps, Watch, recovery_for};
