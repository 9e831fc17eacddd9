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
    /// Drill time of an instant, ms (negative before the start).
    pub fn ms_of(&self, at: Instant) -> f64 {
        match at.checked_duration_since(self.start) {
            Some(d) => d.as_secs_f64() * 1e3,
            None => -(self.start.duration_since(at).as_secs_f64() * 1e3),
        }
    }
    /// Drill time of an RFC 3339 wall-clock time, ms (negative before the start).
    pub fn ms_of_wall(&self, rfc3339: &str) -> Option<f64> {
        let t = DateTime::parse_from_rfc3339(rfc3339).ok()?.with_timezone(&Utc);
        let ns = (t - self.wall_anchor).num_nanoseconds()?;
        Some(ns as f64 / 1e6)
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

/// An RFC 3339 time as people read it: `2026-11-23 17:40:05.123 UTC` (UTC, milliseconds
/// truncated). Text that is not RFC 3339 is returned as it is.
pub fn readable(rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Milliseconds to nanoseconds, saturating: no value, validated or not, can wrap.
pub fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn readable_times_are_utc_to_the_millisecond() {
        assert_eq!(readable("2026-11-23T17:40:05.123456789+00:00"), "2026-11-23 17:40:05.123 UTC");
        assert_eq!(readable("2026-11-23T17:40:05.999999999+00:00"), "2026-11-23 17:40:05.999 UTC", "truncated, not rounded");
        assert_eq!(readable("2026-11-21T00:00:00Z"), "2026-11-21 00:00:00.000 UTC");
        assert_eq!(readable("2026-11-23T18:40:05.5+01:00"), "2026-11-23 17:40:05.500 UTC");
        assert_eq!(readable(""), "");
        assert_eq!(readable("not a time"), "not a time");
    }
}
