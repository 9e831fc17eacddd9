//! Who holds the VIP over the drill, by Keepalived's own log on each server: "Entering
//! MASTER STATE" takes it, "Entering BACKUP STATE", "Entering FAULT STATE" and "removing
//! VIPs" give it up, and a server whose container stops (its log ends) holds nothing. At
//! the start and the end, the servers' own addresses say who holds it.
use crate::error::{Error, Result};
use crate::stack::{EntryHolders, Held, Stack};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedSender;

pub struct KeepalivedHolders {
    pub vip: Arc<OnceLock<String>>,
}

/// Whether `node` holds the VIP on its eth0.
pub async fn holds_vip(stack: &Stack, node: &str, vip: &str) -> Result<bool> {
    let c = &stack.node(node)?.container;
    let (_, out) = stack.docker.exec(c, &["ip", "-4", "addr", "show", "dev", "eth0"]).await?;
    Ok(out.contains(&format!("inet {vip}/")))
}

/// A line of Keepalived's log without its own time stamp (`Fri Nov 27 23:22:08 2026: `),
/// when it has one: what it said.
pub(super) fn said(line: &str) -> &str {
    line.split_once(": ").filter(|(at, _)| at.len() >= 20 && at.contains(" 20")).map_or(line, |(_, t)| t).trim()
}

/// Whether a line of Keepalived's log takes (true) or gives up (false) the VIP.
fn takes(line: &str) -> Option<bool> {
    if line.contains("Entering MASTER STATE") {
        return Some(true);
    }
    ["Entering BACKUP STATE", "Entering FAULT STATE", "removing VIPs"].iter().any(|s| line.contains(s)).then_some(false)
}

#[async_trait]
impl EntryHolders for KeepalivedHolders {
    fn entry(&self) -> String {
        format!("the VIP {}", self.vip.get().map(String::as_str).unwrap_or("?"))
    }

    async fn watch(&self, stack: Arc<Stack>, tx: UnboundedSender<Held>) -> Result<()> {
        let vip = self.vip.get().ok_or_else(|| Error::infra("the VIP was not placed yet (a bug)"))?.clone();
        let mut followed = Vec::new();
        for n in &stack.nodes {
            // follow first, then read the address: a take in between is seen twice, never missed
            let lines = stack.docker.follow_lines(&n.container);
            if holds_vip(&stack, &n.name, &vip).await.unwrap_or(false) {
                let _ =
                    tx.send(Held { node: n.name.clone(), holds: true, detail: format!("{} holds {vip} as the workload begins", n.name) });
            }
            followed.push(follow(n.name.clone(), lines, tx.clone()));
        }
        // in this task: aborting the watch stops every follow
        futures_util::future::join_all(followed).await;
        Ok(())
    }

    async fn holders_now(&self, stack: &Stack) -> Vec<String> {
        let Some(vip) = self.vip.get() else { return Vec::new() };
        let mut out = Vec::new();
        for n in &stack.nodes {
            if holds_vip(stack, &n.name, vip).await.unwrap_or(false) {
                out.push(n.name.clone());
            }
        }
        out
    }
}

/// One server's log, line by line, until it ends (the container stopped).
async fn follow(node: String, mut lines: tokio::sync::mpsc::UnboundedReceiver<String>, tx: UnboundedSender<Held>) {
    while let Some(line) = lines.recv().await {
        if let Some(holds) = takes(&line) {
            let text = said(&line);
            if tx.send(Held { node: node.clone(), holds, detail: format!("Keepalived on {node}: {text}") }).is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Held { node: node.clone(), holds: false, detail: format!("{node}'s log ended (its container stopped)") });
}

#[cfg(test)]
mod tests {
    use super::takes;

    #[test]
    fn master_takes_the_vip_and_backup_fault_or_removal_give_it_up() {
        assert_eq!(takes("Fri Nov 27 23:22:08 2026: (files) Entering MASTER STATE"), Some(true));
        assert_eq!(takes("(files) Entering BACKUP STATE"), Some(false));
        assert_eq!(takes("(files) Entering FAULT STATE"), Some(false));
        assert_eq!(takes("(files) removing VIPs."), Some(false));
        assert_eq!(takes("(files) Sending/queueing gratuitous ARPs on eth0 for 172.20.0.250"), None);
    }
}
