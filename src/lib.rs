//! drdrill: disaster-recovery drills for replicated databases, with measured RTO and RPO.
pub mod action;
pub mod checker;
pub mod cli;
pub mod clock;
pub mod docker;
pub mod error;
pub mod failover;
pub mod fault;
pub mod history;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod stack;
pub mod suite;
pub mod usage;
pub mod workload;
