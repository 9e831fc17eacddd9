//! Engine calls that create a resource, carried to their end even when the drill that
//! asked is interrupted: a create whose caller's future is dropped still lands in the
//! engine, and a container created after teardown listed the run's resources would be
//! left behind ("Created", labelled, with no drill to remove it). Each create runs as a
//! task of its own; teardown waits for every one still in flight before it lists.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct InFlight(Arc<(AtomicUsize, Notify)>);

/// Counts a call as in flight until dropped (its task ended, or was cancelled).
struct Ticket(InFlight);

impl Drop for Ticket {
    fn drop(&mut self) {
        (self.0).0.0.fetch_sub(1, Ordering::SeqCst);
        (self.0).0.1.notify_waiters();
    }
}

impl InFlight {
    /// Runs `call` to its end on a task of its own, whether or not the caller still waits.
    /// None when the task could not finish (the runtime shutting down).
    pub async fn carry<T: Send + 'static>(&self, call: impl Future<Output = T> + Send + 'static) -> Option<T> {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket(self.clone());
        let task = tokio::spawn(async move {
            let out = call.await;
            drop(ticket);
            out
        });
        task.await.ok()
    }

    pub fn count(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Waits until no call is in flight, at most `bound`; false when some still were.
    pub async fn settled(&self, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let woken = self.0.1.notified();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return self.count() == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_whose_caller_gave_up_still_ends_and_is_waited_for() {
        let f = InFlight::default();
        let landed = Arc::new(AtomicUsize::new(0));
        let l = landed.clone();
        let call = f.carry(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            l.fetch_add(1, Ordering::SeqCst);
        });
        // the caller is interrupted 10 ms in: its future is dropped
        assert!(tokio::time::timeout(Duration::from_millis(10), call).await.is_err());
        assert_eq!(f.count(), 1);
        assert!(!f.settled(Duration::from_millis(20)).await, "still in flight");
        assert!(f.settled(Duration::from_secs(5)).await);
        assert_eq!(landed.load(Ordering::SeqCst), 1, "the call landed after its caller left");
        assert_eq!(f.carry(async { 7 }).await, Some(7));
        assert!(f.settled(Duration::ZERO).await);
    }
}
