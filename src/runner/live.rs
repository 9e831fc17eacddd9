//! What a drill has running at any moment, shared with `run` so that an interrupt can stop
//! it in order (`interrupt.rs`: failover, fault schedule, workload), mark the history, and
//! still judge what was recorded before the stack is torn down.
use crate::clock::Clock;
use crate::fault::FaultSchedule;
use crate::history::{Recorder, RecorderHandle};
use crate::stack::{ReplicaHealth, Stack};
use crate::workload::Workload;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct Live {
    /// The phase reached, as the terminal printed it.
    pub phase: String,
    /// Each service's stack once it runs, by service name.
    pub stacks: Vec<(String, Arc<Stack>)>,
    pub health: Vec<(String, Vec<ReplicaHealth>)>,
    pub clock: Option<Clock>,
    /// The drill's own handle into the history.
    pub rec: Option<RecorderHandle>,
    /// Each service's handle (the drill's own in a drill of one service).
    pub recs: Vec<(String, RecorderHandle)>,
    pub recorder: Option<Recorder>,
    pub workloads: Vec<Workload>,
    /// Every service's faults, once armed.
    pub schedule: Option<FaultSchedule>,
    pub failovers: Vec<tokio::task::AbortHandle>,
    /// Set while the `after` hooks are owed (from the first action on).
    pub after_pending: Option<crate::action::ActionEnv>,
}

#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Live>>);

impl Shared {
    pub fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn phase(&self, text: &str) {
        self.with(|l| l.phase = text.to_string());
    }
    pub fn take(&self) -> Live {
        self.with(std::mem::take)
    }
}
