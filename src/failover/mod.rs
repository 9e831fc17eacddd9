//! Recovery: how a service gets a writable primary back after a fault. drdrill's scripted
//! promotion (a trigger, then promote, repoint replicas and clients, optionally rejoin),
//! the scenario's runbook steps, the stack's own orchestrator, watched, a restore, or an
//! operator's bootstrap of a quorum cluster; all behind `Recovery`. Every step is an event in the history.
mod bootstrap;
mod budgets;
mod looking;
mod orchestrator;
mod promote;
mod recovery;
mod report;
mod restore;
mod runbook;
mod scene;
mod trigger;

pub use recovery::{OperatorBootstrap, Promotion, Recovery, RestoreFromBackup, Steps, Watch, recovery_for};
pub use report::{BootstrapReport, FailoverReport, RestoreReport, SavedPosition};
pub use scene::Scene;
