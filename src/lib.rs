//! drdrill: disaster-recovery drills for replicated databases, with measured RTO and RPO.
pub mod checker;
pub mod clock;
pub mod docker;
pub mod error;
pub mod failover;
pub mod fault;
pub mod history;
pub mod scenario;
pub mod stack;
pub mod workload;
