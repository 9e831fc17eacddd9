//! `clock_skew`: a node's database server set `offset_ms` off the real time. The offset is
//! written to the file the server's libfaketime reads (it shows within about a second),
//! then the server's own clock is read back until it carries the offset, and the skew it
//! shows is what the fault reports. The heal writes `+0`.
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

pub(crate) async fn inject(stack: &Stack, spec: &FaultSpec, node: &str) -> Result<Applied> {
    let clock =
        stack.clock.clone().ok_or_else(|| Error::usage("this stack's clocks cannot be skewed (validation should have refused it)"))?;
    let n = stack.node(node)?;
    let offset_ms = spec.offset_ms.unwrap_or_default();
    let script = write_script(clock.skew_file(), offset_ms);
    let (code, out) = stack.docker.exec(&n.container, &["sh", "-c", &script]).await?;
    if code != 0 {
        return Err(Error::infra(format!("failed to set {node}'s clock offset (exit {code})")).cause_text(out));
    }
    let undo = vec![Undo::Exec { container: n.container.clone(), script: write_script(clock.skew_file(), 0) }];
    let (shown, waited) = settle(&*clock, n.addr(), offset_ms as f64).await?;
    let detail = format!(
        "{node}: clock set {offset_ms:+} ms off; its server's clock reads {shown:+.0} ms off the real time ({waited} ms after the change)"
    );
    Ok(Applied { detail, undo, hit_primary: false, stamped: None })
}

/// The shell line that sets the offset (seconds with a sign, as libfaketime reads it).
fn write_script(file: &str, offset_ms: i64) -> String {
    format!("echo '{}' > {file}", offset_text(offset_ms))
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
        assert_eq!(write_script("/x/skew", -250), "echo '-0.250' > /x/skew");
    }
}
