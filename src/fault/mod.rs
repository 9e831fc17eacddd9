//! Faults as data: each scheduled fault is injected at its offset and healed where a heal
//! applies; every inject and heal is an event in the history.
mod node;
mod schedule;

pub use node::{Injected, heal, inject};
pub use schedule::{FaultNotice, FaultSchedule};
