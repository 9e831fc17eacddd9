//! One monotonic clock per drill. Every op and event carries nanoseconds since the drill's
//! start instant; the wall-clock anchor is recorded once, in the history header.
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    pub wall_anchor: DateTime<Utc>,
}

impl Clock {
    pub fn start() -> Self {
        Clock { start: Instant::now(), wall_anchor: Utc::now() }
    }
    /// Nanoseconds since the drill started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
    /// Drill time of a wall-clock time (ns since the Unix epoch), if it is not before zero.
    pub fn ns_at_wall(&self, wall_ns: i128) -> Option<u64> {
        let anchor = i128::from(self.wall_anchor.timestamp_nanos_opt()?);
        u64::try_from(wall_ns - anchor).ok()
    }
    /// The instant `ns` nanoseconds after the start (far in the future if that overflows).
    pub fn instant_at(&self, ns: u64) -> Instant {
        let far = self.start + Duration::from_secs(86_400 * 365);
        self.start.checked_add(Duration::from_nanos(ns)).map_or(far, |t| t.min(far))
    }
}

pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Milliseconds to nanoseconds, saturating: no value, validated or not, can wrap.
pub fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}
