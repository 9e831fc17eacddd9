//! When drdrill's own recovery starts: the plan's trigger, a delay after the fault that hit
//! the primary or probes of the primary failing in a row.
use super::report::FailoverReport;
use super::scene::Scene;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{DelayTrigger, FailoverSpec, ProbeTrigger};
use crate::stack::{Driver, Stack};
use std::time::Duration;
use tokio::sync::mpsc;

/// Waits for the plan's trigger; returns why failover starts, or None if it never will.
async fn wait_trigger(
    spec: &FailoverSpec,
    stack: &Stack,
    driver: &dyn Driver,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    rec: &RecorderHandle,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    match (&spec.trigger.delay, &spec.trigger.probe) {
        (Some(d), _) => wait_delay(d, faults, rec, last_hit).await,
        (None, Some(p)) => wait_probe(p, stack, driver, faults, last_hit).await,
        (None, None) => None, // refused by validation
    }
}

/// A fixed delay after the first fault that hits the primary.
async fn wait_delay(
    d: &DelayTrigger,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    rec: &RecorderHandle,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    loop {
        let notice = faults.recv().await?;
        if notice.injected.hit_primary && !notice.healed {
            *last_hit = Some((notice.injected.index, notice.injected.at_ns));
            let at = rec.clock.instant_at(notice.injected.at_ns.saturating_add(crate::clock::ms_to_ns(d.delay_ms)));
            tokio::time::sleep_until(at.into()).await;
            return Some(format!("{} ms after fault #{}", d.delay_ms, notice.injected.index));
        }
    }
}

/// Probes the primary every `interval_ms` until `failures` probes in a row fail.
async fn wait_probe(
    p: &ProbeTrigger,
    stack: &Stack,
    driver: &dyn Driver,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    last_hit: &mut Option<(usize, u64)>,
) -> Option<String> {
    let mut down = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(p.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // with sites the health check stands where the clients do: an isolated site's
        // primary still answers drdrill's own control path
        let node = stack.node(&stack.primary()).ok()?;
        let addr = if stack.sites.is_some() { node.client_addr() } else { node.addr() };
        let up = driver.data().probe(addr, Duration::from_millis(p.timeout_ms)).await;
        // the notices of faults injected while the probe ran too: the failures that trip
        // the trigger may have begun before the fault (a lossy link), and the fault that
        // landed during the last probe is still the one the failover answers
        while let Ok(n) = faults.try_recv() {
            if n.injected.hit_primary && !n.healed {
                *last_hit = Some((n.injected.index, n.injected.at_ns));
            }
        }
        if up {
            down = 0;
            continue;
        }
        down += 1;
        if down >= p.failures {
            return Some(format!("{down} consecutive failed probes ({} ms apart, {} ms timeout)", p.interval_ms, p.timeout_ms));
        }
    }
}

/// Waits for the plan's trigger and records the failover's start; None (with the report
/// of a failover that never triggered) when the fault schedule ends first.
pub(super) async fn triggered(
    spec: &FailoverSpec,
    scene: &Scene,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
) -> std::result::Result<FailoverReport, FailoverReport> {
    let mut report = FailoverReport::default();
    let mut last_hit = None;
    let Some(why) = wait_trigger(spec, &scene.stack, scene.driver.as_ref(), faults, &scene.rec, &mut last_hit).await else {
        return Err(report);
    };
    report.answered_fault = last_hit.map(|h| h.0);
    report.answered_at_ms = last_hit.map(|h| h.1 as f64 / 1e6);
    let old = scene.stack.primary();
    report.old_primary = Some(old.clone());
    report.started_ms = Some(scene.rec.event(EventKind::FailoverStart, report.answered_fault, Some(&old), why).await as f64 / 1e6);
    Ok(report)
}
