//! Recovery: how a service gets a writable primary back after a fault. drdrill's scripted
//! promotion (a trigger, then promote, repoint replicas and clients, optionally rejoin),
//! the scenario's runbook steps, the stack's own orchestrator, watched, a restore, or an
//! operator's bootstrap of a quorum cluster; all behind `Recovery`. Every step is an event in the history.
mod bootstrap;
mod budgets;
mod looking;
mod orchestrator;
mod plan;
mod promote;
mod recovery;
mod restore;

pub use plan::{BootstrapReport, FailoverReport, RestoreReport, SavedPosition};
pub use recovery::{OperatorBootstrap, Promotion, Recovery, RestoreFromBackup, Scene, Steps, Watch, recovery_for};
