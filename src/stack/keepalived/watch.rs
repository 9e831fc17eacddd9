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

pub struct KeepalivedWatch {
    pub spec: KeepalivedSpec,
    pub vip: Arc<OnceLock<String>>,
    /// Whose promotion it watches: the files stack's own, or a service the servers'
    /// notify_master promotes (`keepalived.notify_master`).
    pub of: Watched,
}

/// What a Keepalived watch follows and waits for.
pub enum Watched {
    /// The files stack: its own nodes are the servers; notify_master makes the mirror the source.
    Files,
    /// `service`, whose node N runs on server N (`hosts`, the files stack's nodes).
    Carried { service: String, hosts: Vec<String> },
}

/// One server Keepalived runs on: its name, its container, and the watched stack's node
/// on it.
struct Server {
    host: String,
    container: String,
    node: String,
}

impl Watched {
    fn servers(&self, stack: &Stack) -> Vec<Server> {
        match self {
            Watched::Files => {
                stack.nodes.iter().map(|n| Server { host: n.name.clone(), container: n.container.clone(), node: n.name.clone() }).collect()
            }
            Watched::Carried { hosts, .. } => hosts
                .iter()
                .zip(&stack.nodes)
                .map(|(h, n)| Server { host: h.clone(), container: crate::docker::container_name(&stack.run_id, h), node: n.name.clone() })
                .collect(),
        }
    }

    /// What the new master's notify_master says when it has promoted, and how the
    /// promotion is told.
    fn promoted(&self, line: &str, s: &Server) -> Option<String> {
        match self {
            Watched::Files => {
                line.starts_with("drdrill: made the source").then(|| format!("notify_master on {}: the mirror takes uploads", s.host))
            }
            Watched::Carried { service, .. } => (line.trim() == format!("drdrill: promoted {service} on {}", s.node))
                .then(|| format!("notify_master on {}: {service}'s {} promoted", s.host, s.node)),
        }
    }
}

/// What one line of server `s`'s log means, while `main` is the server the primary runs on.
fn interpret(of: &Watched, s: &Server, main: &str, line: &str, vip: &str) -> Option<Observed> {
    let text = super::holders::said(line);
    let detail = format!("Keepalived on {}: {text}", s.host);
    let backup = s.host != main;
    if backup && text.contains("Receive advertisement timeout") {
        return Some(Observed::Detected { detail });
    }
    if !backup && text.contains("Entering FAULT STATE") {
        return Some(Observed::Detected { detail });
    }
    if backup && text.starts_with("Sending gratuitous ARP") && text.contains(vip) {
        return Some(Observed::Moved { node: s.node.clone(), detail });
    }
    if let Some(detail) = of.promoted(line.trim(), s).filter(|_| backup) {
        return Some(Observed::Promoted { node: s.node.clone(), detail });
    }
    // and a promotion that failed ("drdrill: promote of mysql on db-2 failed: …")
    ["Entering MASTER STATE", "Entering BACKUP STATE", "removing VIPs", "now returning", "drdrill: promote of", "drdrill: promote:"]
        .iter()
        .any(|t| text.contains(t))
        .then_some(Observed::Note { detail })
}

/// The server the stack's primary runs on.
fn main_server(servers: &[Server], stack: &Stack) -> String {
    let primary = stack.primary();
    servers.iter().find(|s| s.node == primary).map_or(primary, |s| s.host.clone())
}

#[async_trait]
impl Orchestrator for KeepalivedWatch {
    fn name(&self) -> &'static str {
        "Keepalived"
    }

    async fn watch(&self, stack: Arc<Stack>, tx: UnboundedSender<Observed>) -> Result<()> {
        let vip = self.vip.get().ok_or_else(|| Error::infra("the VIP was not placed yet (a bug)"))?.clone();
        let servers = self.of.servers(&stack);
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<(usize, Option<i128>, String)>();
        for (i, s) in servers.iter().enumerate() {
            let mut rx = stack.docker.follow_stamped(&s.container);
            let out = lines_tx.clone();
            tokio::spawn(async move {
                while let Some((at, line)) = rx.recv().await {
                    if out.send((i, at, line)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(lines_tx);
        let (mut moved, mut promoted) = (false, false);
        while let Some((i, at, line)) = lines.recv().await {
            let Some(o) = interpret(&self.of, &servers[i], &main_server(&servers, &stack), &line, &vip) else { continue };
            // the first of each: the new master sends its gratuitous ARPs five at a time
            let first = match &o {
                Observed::Moved { .. } => !std::mem::replace(&mut moved, true),
                Observed::Promoted { .. } => !std::mem::replace(&mut promoted, true),
                _ => true,
            };
            // stamped when the server said it: drdrill reads the log up to ~0.2 s later
            let o = match at {
                Some(wall_ns) => Observed::Said { wall_ns, what: Box::new(o) },
                None => o,
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
            promotion_from: match &self.of {
                Watched::Files => "no setting bounds it: notify_master reloads nginx without the read-only rule".into(),
                Watched::Carried { service, .. } => {
                    format!("no setting bounds it: notify_master makes the mirror the source, then promotes each service it names in turn ({service} among them)")
                }
            },
            reroute_ms: None,
            reroute_from: "the forwarder's next connection reaches the VIP once the new master's gratuitous ARP is in".into(),
            claim: Some("seed 004: health check detects in 3 s, the VIP moves in 5 s, the backup's services start in 20 s, verification 2 s: RTO < 30 s".into()),
            ..Default::default()
        }
    }

    /// As an operator hands the VIP over: keepalived stopped on the main server, which
    /// resigns with a priority-0 advertisement; the backup takes the VIP at once.
    async fn switchover(&self, stack: &Stack) -> Result<String> {
        let servers = self.of.servers(stack);
        let main = main_server(&servers, stack);
        let c = &servers.iter().find(|s| s.host == main).ok_or_else(|| Error::infra(format!("no server runs {main}")))?.container;
        stack.exec_ok(c, &format!("stop keepalived on {main}"), &["pkill", "-TERM", "keepalived"]).await?;
        Ok(format!("stopped keepalived on {main} (it resigns the VIP with a priority-0 advertisement)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, node: &str) -> Server {
        Server { host: host.into(), container: String::new(), node: node.into() }
    }

    #[test]
    fn the_backups_lines_say_detected_moved_and_promoted() {
        let (vip, of) = ("172.20.0.250", Watched::Files);
        let at = "Fri Nov 27 23:22:08 2026: ";
        let (main, backup) = (server("files-1", "files-1"), server("files-2", "files-2"));
        let d = interpret(&of, &backup, "files-1", &format!("{at}(files) Receive advertisement timeout"), vip);
        assert!(matches!(d, Some(Observed::Detected { .. })), "{d:?}");
        let m = interpret(&of, &backup, "files-1", &format!("{at}Sending gratuitous ARP on eth0 for {vip}"), vip);
        assert!(matches!(m, Some(Observed::Moved { ref node, .. }) if node == "files-2"), "{m:?}");
        let p = interpret(&of, &backup, "files-1", "drdrill: made the source (uploads taken)", vip);
        assert!(matches!(p, Some(Observed::Promoted { ref node, .. }) if node == "files-2"), "{p:?}");
        // the main server's own start is no failover
        assert_eq!(interpret(&of, &main, "files-1", "drdrill: made the source (uploads taken)", vip), None);
        let f = interpret(&of, &main, "files-1", &format!("{at}(files) Entering FAULT STATE"), vip);
        assert!(matches!(f, Some(Observed::Detected { .. })), "{f:?}");
    }

    #[test]
    fn a_carried_service_is_promoted_by_its_own_line_on_the_backup_server() {
        let (vip, of) = ("172.20.0.250", Watched::Carried { service: "mysql".into(), hosts: vec!["files-1".into(), "files-2".into()] });
        let backup = server("files-2", "db-2");
        let m = interpret(&of, &backup, "files-1", &format!("Sending gratuitous ARP on eth0 for {vip}"), vip);
        assert!(matches!(m, Some(Observed::Moved { ref node, .. }) if node == "db-2"), "{m:?}");
        assert_eq!(interpret(&of, &backup, "files-1", "drdrill: made the source (uploads taken)", vip), None);
        assert_eq!(interpret(&of, &backup, "files-1", "drdrill: promoted redis on redis-2", vip), None);
        let p = interpret(&of, &backup, "files-1", "drdrill: promoted mysql on db-2", vip);
        assert!(
            matches!(p, Some(Observed::Promoted { ref node, ref detail }) if node == "db-2" && detail.contains("mysql's db-2")),
            "{p:?}"
        );
        let failed = interpret(&of, &backup, "files-1", "drdrill: promote of mysql on db-2 failed: ERROR 2002", vip);
        assert!(matches!(failed, Some(Observed::Note { .. })), "a failed promotion promotes nothing: {failed:?}");
    }
}
