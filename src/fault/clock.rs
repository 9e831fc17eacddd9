//! `clock_skew`: a node's database server set `offset_ms` off the real time. The offset is
//! written to the file the server's libfaketime reads (it shows within about a second),
//! then the server's own clock is read back until it carries the offset, and the skew it
//! shows is what the fault reports. With `freeze` an absolute time is written instead: the
//! server's clock stands still at it until the heal. The heal writes `+0`.
use super::{Applied, Undo};
use crate::error::{Error, Result};
use crate::scenario::FaultSpec;
use crate::stack::{ServerClock, Stack};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How close the server's clock must come to the offset asked for.
const CLOSE_MS: f64 = 100.0;
/// How long libfaketime may take to show it (it rereads the file at most once a second).
const SETTLE: Duration = Duration::from_secs(5);

pub(crate) async fn inject(stack: &Stack, spec: &FaultSpec, node: &str, drill: &crate::clock::Clock) -> Result<Applied> {
    let clock =
        stack.clock.clone().ok_or_else(|| Error::usage("this stack's clocks cannot be skewed (validation should have refused it)"))?;
    let n = stack.node(node)?;
    let offset_ms = spec.offset_ms.unwrap_or_default();
    let frozen = (spec.freeze == Some(true)).then(|| frozen_at(drill, spec.at_ms, offset_ms));
    let text = frozen.map_or_else(|| offset_text(offset_ms), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let script = write_script(clock.skew_file(), &text);
    let (code, out) = stack.docker.exec(&n.container, &["sh", "-c", &script]).await?;
    if code != 0 {
        return Err(Error::infra(format!("failed to set {node}'s clock offset (exit {code})")).cause_text(out));
    }
    let undo = vec![Undo::Exec { container: n.container.clone(), script: write_script(clock.skew_file(), &offset_text(0)) }];
    let detail = match frozen {
        Some(t) => {
            let waited = settle_frozen(&*clock, n.addr(), t.timestamp() as f64).await?;
            format!(
                "{node}: clock stopped at {} UTC; its server's clock reads that instant and stands still ({waited} ms after the change)",
                t.format("%H:%M:%S")
            )
        }
        None => {
            let (shown, waited) = settle(&*clock, n.addr(), offset_ms as f64).await?;
            format!(
                "{node}: clock set {offset_ms:+} ms off; its server's clock reads {shown:+.0} ms off the real time ({waited} ms after the change)"
            )
        }
    };
    Ok(Applied { detail, undo, hit_primary: false, stamped: None })
}

/// The whole second a frozen clock stands at: the fault's scheduled instant on the drill's
/// clock plus `offset_ms`, so that faults at the same offset stop their nodes' clocks at
/// the same instant, however far apart they were applied (libfaketime reads whole seconds).
fn frozen_at(drill: &crate::clock::Clock, at_ms: u64, offset_ms: i64) -> chrono::DateTime<chrono::Utc> {
    let t = drill.wall_anchor + chrono::Duration::milliseconds(at_ms as i64 + offset_ms);
    chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Reads the server's clock until it reads `at` (unix seconds) twice, 200 ms apart: it
/// stands still there; returns how long that took.
async fn settle_frozen(clock: &dyn ServerClock, addr: SocketAddr, at: f64) -> Result<u128> {
    let started = tokio::time::Instant::now();
    loop {
        let first = clock.now(addr).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = clock.now(addr).await?;
        if (first - at).abs() < 1e-3 && (second - at).abs() < 1e-3 {
            return Ok(started.elapsed().as_millis());
        }
        if started.elapsed() >= SETTLE {
            return Err(Error::infra(format!(
                "the server at {addr} still reads its clock {:+.3} s off the instant it was stopped at, {} s after the change",
                second - at,
                SETTLE.as_secs()
            )));
        }
    }
}

/// The shell line that writes what libfaketime reads: an offset (seconds with a sign), or
/// an absolute time (the clock stands still there).
fn write_script(file: &str, text: &str) -> String {
    format!("echo '{text}' > {file}")
}

fn offset_text(offset_ms: i64) -> String {
    format!("{:+.3}", offset_ms as f64 / 1000.0)
}

/// Reads the server's clock until it is within `CLOSE_MS` of `want_ms` off the real time;
/// returns the skew it showed and how long that took.
async fn settle(clock: &dyn ServerClock, addr: SocketAddr, want_ms: f64) -> Result<(f64, u128)> {
    let started = tokio::time::Instant::now();
    loop {
        let shown = skew_ms(clock, addr).await?;
        if (shown - want_ms).abs() <= CLOSE_MS {
            return Ok((shown, started.elapsed().as_millis()));
        }
        if started.elapsed() >= SETTLE {
            return Err(Error::infra(format!(
                "the server at {addr} still reads its clock {shown:+.0} ms off the real time {} s after it was set {want_ms:+.0} ms off",
                SETTLE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server's clock minus the real time, in ms (the real time taken halfway through the read).
pub(crate) async fn skew_ms(clock: &dyn ServerClock, addr: SocketAddr) -> Result<f64> {
    let before = unix_now();
    let server = clock.now(addr).await?;
    let after = unix_now();
    Ok((server - (before + after) / 2.0) * 1e3)
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_written_in_signed_seconds_as_libfaketime_reads_it() {
        assert_eq!(offset_text(-2000), "-2.000");
        assert_eq!(offset_text(1500), "+1.500");
        assert_eq!(offset_text(0), "+0.000");
        assert_eq!(write_script("/x/skew", &offset_text(-250)), "echo '-0.250' > /x/skew");
    }
}
