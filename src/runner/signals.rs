//! SIGINT and SIGTERM, listened to from the command's first moment: a signal that arrives
//! while the scenario files are validated, the engine is reached or between two drills of a
//! suite is kept and answered as soon as a drill can (exit 130), never lost to the default
//! action (killed with nothing said) or to a moment nobody listened.

use std::sync::Mutex;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The process's one listener, between two drills.
static HELD: Mutex<Option<Signals>> = Mutex::new(None);

pub struct Signals(Option<(Signal, Signal)>);

/// Starts listening for the whole process (once; later calls keep the first listener).
/// Call it inside the runtime, before anything slow.
pub fn listen_early() {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.is_none() {
        *held = Some(Signals::new());
    }
}

impl Signals {
    fn new() -> Signals {
        Signals(signal(SignalKind::interrupt()).ok().zip(signal(SignalKind::terminate()).ok()))
    }
    /// The process's listener (started now if nobody had), handed back when the drill ends.
    pub(super) fn take() -> Taken {
        let held = HELD.lock().unwrap_or_else(|e| e.into_inner()).take();
        Taken(Some(held.unwrap_or_else(Signals::new)))
    }
    /// Resolves on SIGINT or SIGTERM, with the signal's name.
    pub(super) async fn next(&mut self) -> &'static str {
        let Some((int, term)) = &mut self.0 else { return std::future::pending().await };
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
}

/// A drill's hold on the listener; dropping it gives the listener back to the process.
pub(super) struct Taken(Option<Signals>);

impl std::ops::Deref for Taken {
    type Target = Signals;
    fn deref(&self) -> &Signals {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Taken {
    fn deref_mut(&mut self) -> &mut Signals {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            *HELD.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        }
    }
}
