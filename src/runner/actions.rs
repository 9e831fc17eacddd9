//! The drill's own actions around the exercise: steady-state probes, `before` and `after`
//! hooks, and the `abort_when` watch.
use crate::action::{ActionEnv, DbProbe, Outcome, ProbeResult, check_probe, perform, perform_recorded};
use crate::error::{Error, Result};
use crate::history::{Event, EventKind, RecorderHandle};
use crate::scenario::{AbortWhen, ActionSpec, ProbeSpec, Scenario, describe_probe};
use crate::stack::{Driver, External, Stack};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Probes the stack's clients' path: the entry service, or the current primary.
pub(super) struct StackProbe {
    pub driver: Arc<dyn Driver>,
    pub external: Option<Arc<External>>,
    pub stack: Weak<Stack>,
}

impl StackProbe {
    fn client_addr(&self) -> std::result::Result<std::net::SocketAddr, String> {
        let stack = self.stack.upgrade().ok_or("the drill is over")?;
        let n = match self.driver.client_entry() {
            Some(e) => stack.service(e),
            None => stack.node(&stack.primary()),
        };
        n.map(|n| n.client_addr()).map_err(|e| e.one_line())
    }
}

#[async_trait::async_trait]
impl DbProbe for StackProbe {
    /// Through an entry (Sentinel, HAProxy, a virtual IP), the node a client's connection
    /// reaches is checked: a Sentinel is no data port of its own.
    async fn writable(&self, timeout: Duration) -> std::result::Result<(), String> {
        let addr = self.client_addr()?;
        let mut check = addr;
        if self.driver.client_entry().is_some() {
            let client = self.driver.data().connect(addr, timeout).await.map_err(|e| format!("no connection through {addr}: {e}"))?;
            let stack = self.stack.upgrade().ok_or("the drill is over")?;
            if let Some(n) = client.node().and_then(|name| stack.node(&name).ok().map(|n| n.client_addr())) {
                check = n;
            }
        }
        match self.driver.data().probe(check, timeout).await {
            true => Ok(()),
            false if check != addr => Err(format!("{check}, reached through {addr}, is not a writable primary")),
            false => Err(format!("{addr} is not a reachable writable primary")),
        }
    }
    async fn max_lag(&self, _timeout: Duration) -> std::result::Result<u64, String> {
        let ext = self.external.as_ref().ok_or("max_lag_bytes probes apply to external stacks")?;
        ext.max_lag(self.client_addr()?).await
    }
    async fn sql(&self, node: &str, run: &str) -> std::result::Result<String, Option<String>> {
        let stack = self.stack.upgrade().ok_or_else(|| Some("the drill is over".to_string()))?;
        let addr = stack.node(node).map_err(|_| None)?.addr();
        self.driver.data().execute(addr, run).await.map_err(|e| Some(e.one_line()))
    }
}

async fn probe_all(probes: &[ProbeSpec], env: &ActionEnv) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for p in probes {
        let f = check_probe(p, env).await;
        out.push(ProbeResult { probe: describe_probe(p), ok: f.ok, detail: crate::action::redact(&f.summary) });
    }
    out
}

/// The steady state before anything is injected: every probe must hold, else the drill
/// does not start (exit 6).
pub(super) async fn steady_before(sc: &Scenario, env: &ActionEnv) -> Result<Vec<ProbeResult>> {
    let results = probe_all(&sc.steady_state.probes, env).await;
    let failed: Vec<String> = results.iter().filter(|r| !r.ok).map(|r| format!("{}: {}", r.probe, r.detail)).collect();
    if !failed.is_empty() {
        return Err(Error::steady_state(format!("failed to see the steady state before the drill: {}", failed.join("; ")))
            .hint("nothing was injected; fix the system (or the probe) and run again"));
    }
    Ok(results)
}

/// The steady state once the drill has recovered, recorded; a failing probe leaves the
/// verdict unknown.
/// The steady state after recovery is reported (results.json, scorecard, a note in the
/// history), not judged: a probe that no longer holds (no replica left to lag behind the new
/// primary) is a finding about the system, not a check that could not decide.
pub(super) async fn steady_after(sc: &Scenario, env: &ActionEnv, rec: &RecorderHandle) -> Vec<ProbeResult> {
    let results = probe_all(&sc.steady_state.probes, env).await;
    for (i, r) in results.iter().enumerate() {
        let held = if r.ok { "held" } else { "NOT held" };
        rec.event(EventKind::Note, None, None, format!("steady-state-after-{i}: {} {held}: {}", r.probe, r.detail)).await;
    }
    results
}

/// `before` hooks, run before the drill clock starts; recorded at t = 0 once it has.
pub(super) async fn before_hooks(list: &[ActionSpec], env: &ActionEnv) -> Vec<(String, Outcome)> {
    let clock = crate::clock::Clock::start();
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let label = format!("before-{i}");
        out.push((label.clone(), perform(a, &label, env, &clock).await));
    }
    out
}

pub(super) async fn record_before(rec: &RecorderHandle, done: &[(String, Outcome)]) {
    for (label, o) in done {
        let kind = if o.ok { EventKind::Action } else { EventKind::ActionFailed };
        let detail = format!("{label}: {} (before the workload)", o.detail);
        rec.record(Event { service: None, t_ns: 0, kind, fault: None, node: None, detail, applied_ns: None, applied_from_ns: None }).await;
    }
}

/// `after` hooks, each recorded when a recorder is still open.
pub(super) async fn after_hooks(list: &[ActionSpec], env: &ActionEnv, rec: Option<&RecorderHandle>) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let label = format!("after-{i}");
        let o = match rec {
            Some(r) => perform_recorded(a, &label, env, r, None).await,
            None => perform(a, &label, env, &crate::clock::Clock::start()).await,
        };
        lines.push(format!("{label}: {}", o.detail));
    }
    lines
}

/// Resolves with the reason once an `abort_when` condition holds (never without one).
pub(super) async fn abort_watch(cond: Option<AbortWhen>, rec: RecorderHandle, env: ActionEnv) -> String {
    let Some(c) = cond else { return std::future::pending().await };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut failures = 0u32;
    let mut next_probe = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = rec.clock.now_ns();
        if let Some(limit) = c.outage_ms {
            let last = rec.last_ok_ns.load(Ordering::Relaxed);
            let since = now.saturating_sub(last) / 1_000_000;
            if last > 0 && since > limit {
                return format!("no write acknowledged for {since} ms (abort_when.outage_ms {limit})");
            }
        }
        if let Some(limit) = c.failed_writes {
            let bad = rec.counts[1].load(Ordering::Relaxed) + rec.counts[2].load(Ordering::Relaxed);
            if bad > limit {
                return format!("{bad} writes failed or timed out (abort_when.failed_writes {limit})");
            }
        }
        if let Some(p) = c.probe.as_ref().filter(|_| tokio::time::Instant::now() >= next_probe) {
            next_probe = tokio::time::Instant::now() + Duration::from_millis(p.every_ms);
            let f = check_probe(p, &env).await;
            failures = if f.ok { 0 } else { failures + 1 };
            if failures >= c.probe_failures {
                return format!("{} failed {failures} times in a row: {}", describe_probe(p), crate::action::redact(&f.summary));
            }
        }
    }
}
