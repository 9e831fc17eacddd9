//! The operator's bootstrap of a quorum cluster that lost its primary component
//! (`failover: {mode: bootstrap}`), in the order an operator's runbook gives: once paged,
//! bring every stopped node's machine back with its database held, read every node's
//! saved position, bootstrap a new primary component from the most advanced node (or the
//! one `promote` names), then let every other node join it, one at a time. Done when every
//! node is a member again. What each step does in an engine is its driver's (`stack::Bootstrap`).
use super::looking::{LOOK_EVERY, within};
use super::report::{BootstrapReport, FailoverReport, SavedPosition};
use super::scene::Scene;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::FailoverSpec;
use crate::stack::{Bootstrap, MultiActive, Saved, Stack};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one node may take to become a member once asked (a state transfer).
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) async fn bootstrap(spec: &FailoverSpec, scene: Scene, mut faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
    let mut report = FailoverReport::default();
    let Some(why) = paged(spec, &scene, &mut faults, &mut report).await else { return report };
    let Scene { stack, driver, rec, .. } = scene;
    let fault = report.answered_fault;
    report.old_primary = Some(stack.primary());
    report.started_ms = Some(rec.event(EventKind::FailoverStart, fault, None, why).await as f64 / 1e6);
    let Some((multi, boot)) = driver.multi_active().and_then(|m| Some((m, m.bootstrap()?))) else {
        let msg = "this stack has no operator's bootstrap (a bug: validation should have refused it)";
        return report.failed(&rec, fault, None, msg.into()).await;
    };
    let op = Operator { stack: &stack, boot, multi, rec: &rec, fault, timeout: Duration::from_millis(spec.promote_timeout_ms) };
    let mut steps = BootstrapReport::default();
    let result = op.run(spec, &mut steps).await;
    report.candidates = steps.positions.iter().map(|p| (p.node.clone(), p.seqno)).collect();
    let chosen = (!steps.chosen.is_empty()).then(|| steps.chosen.clone());
    report.bootstrap = Some(steps);
    match result {
        Ok(done) => {
            report.new_primary = chosen;
            report.done_ms = Some(rec.event(EventKind::FailoverDone, fault, report.new_primary.as_deref(), done).await as f64 / 1e6);
            report
        }
        Err(msg) => report.failed(&rec, fault, None, msg).await,
    }
}

/// When the operator starts: `delay_ms` after the first fault that hit the service, or once
/// `failures` probes in a row found no node taking writes. None when the faults end first.
async fn paged(
    spec: &FailoverSpec,
    scene: &Scene,
    faults: &mut mpsc::UnboundedReceiver<FaultNotice>,
    report: &mut FailoverReport,
) -> Option<String> {
    let first = loop {
        let n = faults.recv().await?;
        if !n.healed {
            break n.injected;
        }
    };
    report.answered_fault = Some(first.index);
    report.answered_at_ms = Some(first.at_ns as f64 / 1e6);
    if let Some(d) = &spec.trigger.delay {
        let at = scene.rec.clock.instant_at(first.at_ns.saturating_add(crate::clock::ms_to_ns(d.delay_ms)));
        tokio::time::sleep_until(at.into()).await;
        return Some(format!("{} ms after fault #{}: the operator starts the bootstrap", d.delay_ms, first.index));
    }
    let p = spec.trigger.probe.as_ref()?;
    let (every, timeout) = (Duration::from_millis(p.interval_ms), Duration::from_millis(p.timeout_ms));
    let mut down = 0;
    while down < p.failures {
        let probes = scene.stack.nodes.iter().map(|n| scene.driver.data().probe(n.client_addr(), timeout));
        let writable = futures_util::future::join_all(probes).await.into_iter().any(|ok| ok);
        down = if writable { 0 } else { down + 1 };
        tokio::time::sleep(every).await;
    }
    Some(format!("{down} probes in a row ({} ms apart) found no node taking writes: the operator starts the bootstrap", p.interval_ms))
}

struct Operator<'a> {
    stack: &'a Stack,
    boot: &'a dyn Bootstrap,
    multi: &'a dyn MultiActive,
    rec: &'a RecorderHandle,
    fault: Option<usize>,
    /// How long a node may take to answer the operator (`promote_timeout_ms`).
    timeout: Duration,
}

impl Operator<'_> {
    async fn run(&self, spec: &FailoverSpec, steps: &mut BootstrapReport) -> Result<String, String> {
        let nodes: Vec<String> = self.stack.nodes.iter().map(|n| n.name.clone()).collect();
        let holds = nodes.iter().map(|n| self.hold(n));
        for r in futures_util::future::join_all(holds).await {
            r?;
        }
        steps.held_ms = Some(self.now_ms());
        let saved = futures_util::future::join_all(nodes.iter().map(|n| self.saved(n))).await;
        let saved: Vec<(String, Saved)> = nodes.iter().cloned().zip(saved).map(|(n, s)| s.map(|s| (n, s))).collect::<Result<_, _>>()?;
        steps.read_ms = Some(self.now_ms());
        steps.positions = saved.iter().map(|(n, s)| SavedPosition::of(n, s)).collect();
        let chosen = choose(spec, &saved);
        steps.chosen = chosen.clone();
        let (_, mine) = saved.iter().find(|(n, _)| *n == chosen).ok_or_else(|| format!("no node named {chosen}"))?;
        let why = if spec.promote == "most-advanced" { "the most advanced" } else { "named by failover.promote" };
        let detail =
            self.boot.bootstrap(self.stack, &chosen, mine).await.map_err(|e| format!("bootstrapping {chosen}: {}", e.one_line()))?;
        self.rec
            .event(EventKind::FailoverPromote, self.fault, Some(&chosen), format!("{chosen} ({why}, seqno {}): {detail}", mine.seqno))
            .await;
        self.member(&chosen).await?;
        steps.bootstrapped_ms = Some(self.now_ms());
        // one at a time, as MariaDB's documentation says: two joiners at once can take an
        // incremental transfer cut short by the other's view change ("IST didn't contain all
        // write sets"), and such a node stays out until it is restarted
        for (n, s) in saved.iter().filter(|(n, _)| *n != chosen) {
            self.join(n, s).await?;
        }
        steps.joined_ms = Some(self.now_ms());
        Ok(format!("{chosen} bootstrapped the primary component; every node is a member"))
    }

    fn now_ms(&self) -> f64 {
        self.rec.clock.now_ns() as f64 / 1e6
    }

    async fn hold(&self, node: &str) -> Result<(), String> {
        match within(self.timeout, self.boot.hold(self.stack, node)).await {
            Ok(true) => {
                self.rec.event(EventKind::Note, self.fault, Some(node), "its machine is back; the database is held for the operator").await;
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(format!("bringing {node} back held: {e}")),
        }
    }

    /// A node's saved position, asked again every 250 ms until it answers (a survivor still
    /// holding its old view) or `promote_timeout_ms` runs out.
    async fn saved(&self, node: &str) -> Result<Saved, String> {
        let mut looking =
            super::looking::Looking::new(self.rec, self.fault, format!("{node}'s saved position"), self.timeout.as_millis() as u64);
        let s = loop {
            match within(self.timeout, self.boot.saved_position(self.stack, node)).await {
                Ok(s) => break s,
                Err(e) if looking.missed(Some(node), &e).await => {}
                Err(e) => return Err(format!("reading {node}'s saved position: {}", looking.gave_up(&e))),
            }
        };
        self.rec
            .event(EventKind::Note, self.fault, Some(node), format!("saved position {} (seqno {}): {}", s.position, s.seqno, s.how))
            .await;
        Ok(s)
    }

    async fn join(&self, node: &str, saved: &Saved) -> Result<(), String> {
        let detail = self.boot.join(self.stack, node, saved).await.map_err(|e| format!("{node} joining: {}", e.one_line()))?;
        self.member(node).await?;
        self.rec.event(EventKind::Rejoin, self.fault, Some(node), format!("a member again: {detail}")).await;
        Ok(())
    }

    /// Waits until `node` is in the primary component, taking writes.
    async fn member(&self, node: &str) -> Result<(), String> {
        let addr = self.stack.node(node).map_err(|e| e.one_line())?.addr();
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            match self.multi.member_state(addr).await {
                Some(Ok((true, _))) => return Ok(()),
                Some(Ok((false, state))) => last = state,
                Some(Err(e)) => last = e,
                None => return Ok(()),
            }
            tokio::time::sleep(LOOK_EVERY / 5).await;
        }
        Err(format!("{node} was not a member within {} s (last: {last})", JOIN_TIMEOUT.as_secs()))
    }
}

/// The node `promote` names, or the highest saved seqno. Ties go to a running node (it
/// bootstraps without a restart), then to the earliest in start order, as a promotion's.
fn choose(spec: &FailoverSpec, saved: &[(String, Saved)]) -> String {
    if spec.promote != "most-advanced" {
        return spec.promote.clone();
    }
    let best = saved.iter().map(|(_, s)| (s.seqno, s.running)).max().unwrap_or_default();
    saved.iter().find(|(_, s)| (s.seqno, s.running) == best).map(|(n, _)| n.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(seqno: u64, running: bool) -> Saved {
        Saved { seqno, position: format!("u:{seqno}"), how: String::new(), running }
    }

    #[test]
    fn the_most_advanced_saved_position_is_chosen_ties_to_a_running_node_then_the_earliest() {
        let spec: FailoverSpec = serde_norway::from_str("mode: bootstrap").unwrap();
        let nodes =
            vec![("gal-1".to_string(), saved(972, false)), ("gal-2".into(), saved(1217, false)), ("gal-3".into(), saved(1217, false))];
        assert_eq!(choose(&spec, &nodes), "gal-2");
        // a running node at the same seqno needs no restart
        let survivor = vec![("gal-1".to_string(), saved(1217, false)), ("gal-2".into(), saved(1217, true))];
        assert_eq!(choose(&spec, &survivor), "gal-2");
        let ahead = vec![("gal-1".to_string(), saved(1218, false)), ("gal-2".into(), saved(1217, true))];
        assert_eq!(choose(&spec, &ahead), "gal-1", "the most advanced wins, running or not");
        let named: FailoverSpec = serde_norway::from_str("{mode: bootstrap, promote: gal-1}").unwrap();
        assert_eq!(choose(&named, &nodes), "gal-1", "the operator's choice, even when behind");
    }
}
