//! Keepalived's side of a failover, read from both servers' logs as they are written:
//! detected = the backup's "Receive advertisement timeout" (3 advertisements missed) or the
//! main's "Entering FAULT STATE" (its health check failed `fall` times); moved = the new
//! master's first gratuitous ARP for the VIP; promoted = its `notify_master` saying the
//! mirror takes uploads (`drdrill-files promote` checks nginx before it says so).
use crate::error::{Error, Result};
use crate::scenario::KeepalivedSpec;
use crate::stack::{Budgets, Observed, Orchestrator, Stack};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedSender;

pub(super) struct KeepalivedWatch {
    pub spec: KeepalivedSpec,
    pub vip: Arc<OnceLock<String>>,
}

/// What one line of `node`'s log means, while `primary` is the main server.
fn interpret(node: &str, primary: &str, line: &str, vip: &str) -> Option<Observed> {
    let text = line.split_once(": ").filter(|_| line.contains(" 20")).map_or(line, |(_, t)| t).trim();
    let detail = format!("Keepalived on {node}: {text}");
    let backup = node != primary;
    if backup && text.contains("Receive advertisement timeout") {
        return Some(Observed::Detected { detail });
    }
    if !backup && text.contains("Entering FAULT STATE") {
        return Some(Observed::Detected { detail });
    }
    if backup && text.starts_with("Sending gratuitous ARP") && text.contains(vip) {
        return Some(Observed::Moved { node: node.to_string(), detail, at_wall_ns: None });
    }
    if backup && text.starts_with("drdrill: made the source") {
        let detail = format!("notify_master on {node}: the mirror takes uploads");
        return Some(Observed::Promoted { node: node.to_string(), detail });
    }
    ["Entering MASTER STATE", "Entering BACKUP STATE", "removing VIPs", "now returning"]
        .iter()
        .any(|s| text.contains(s))
        .then_some(Observed::Note { detail })
}

#[async_trait]
impl Orchestrator for KeepalivedWatch {
    fn name(&self) -> &'static str {
        "Keepalived"
    }

    async fn watch(&self, stack: Arc<Stack>, tx: UnboundedSender<Observed>) -> Result<()> {
        let vip = self.vip.get().ok_or_else(|| Error::infra("the VIP was not placed yet (a bug)"))?.clone();
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        for n in &stack.nodes {
            let mut rx = stack.docker.follow_lines(&n.container);
            let (name, out) = (n.name.clone(), lines_tx.clone());
            tokio::spawn(async move {
                while let Some(line) = rx.recv().await {
                    if out.send((name.clone(), line)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(lines_tx);
        let (mut moved, mut promoted) = (false, false);
        while let Some((node, line)) = lines.recv().await {
            let Some(o) = interpret(&node, &stack.primary(), &line, &vip) else { continue };
            // the first of each: the new master sends its gratuitous ARPs five at a time
            let first = match &o {
                Observed::Moved { .. } => !std::mem::replace(&mut moved, true),
                Observed::Promoted { .. } => !std::mem::replace(&mut promoted, true),
                _ => true,
            };
            if first && tx.send(o).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn announces_move(&self) -> bool {
        true
    }

    fn budgets(&self) -> Budgets {
        let advert = f64::from(self.spec.advert_int_s) * 1000.0;
        // VRRP's master-down interval: 3 advertisements and the backup's skew, (256 - 50) / 256 of one
        let down = 3.0 * advert + (256.0 - 50.0) / 256.0 * advert;
        Budgets {
            detection_ms: Some(down),
            detection_from: format!("VRRP's master-down interval: 3 × advert_int {} s + the backup's skew (priority 50)", self.spec.advert_int_s),
            promotion_ms: None,
            promotion_from: "no setting bounds it: notify_master reloads nginx without the read-only rule".into(),
            reroute_ms: None,
            reroute_from: "the forwarder's next connection reaches the VIP once the new master's gratuitous ARP is in".into(),
            claim: Some("seed 004: health check detects in 3 s, the VIP moves in 5 s, the backup's services start in 20 s, verification 2 s: RTO < 30 s".into()),
            ..Default::default()
        }
    }

    /// As an operator hands the VIP over: keepalived stopped on the main server, which
    /// resigns with a priority-0 advertisement; the backup takes the VIP at once.
    async fn switchover(&self, stack: &Stack) -> Result<String> {
        let main = stack.primary();
        let c = &stack.node(&main)?.container;
        stack.exec_ok(c, &format!("stop keepalived on {main}"), &["pkill", "-TERM", "keepalived"]).await?;
        Ok(format!("stopped keepalived on {main} (it resigns the VIP with a priority-0 advertisement)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backups_lines_say_detected_moved_and_promoted() {
        let vip = "172.20.0.250";
        let at = "Fri Nov 27 23:22:08 2026: ";
        let d = interpret("files-2", "files-1", &format!("{at}(files) Receive advertisement timeout"), vip);
        assert!(matches!(d, Some(Observed::Detected { .. })), "{d:?}");
        let m = interpret("files-2", "files-1", &format!("{at}Sending gratuitous ARP on eth0 for {vip}"), vip);
        assert!(matches!(m, Some(Observed::Moved { ref node, .. }) if node == "files-2"), "{m:?}");
        let p = interpret("files-2", "files-1", "drdrill: made the source (uploads taken)", vip);
        assert!(matches!(p, Some(Observed::Promoted { ref node, .. }) if node == "files-2"), "{p:?}");
        // the main server's own start is no failover
        assert_eq!(interpret("files-1", "files-1", "drdrill: made the source (uploads taken)", vip), None);
        let f = interpret("files-1", "files-1", &format!("{at}(files) Entering FAULT STATE"), vip);
        assert!(matches!(f, Some(Observed::Detected { .. })), "{f:?}");
    }
}
