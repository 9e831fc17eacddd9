//! MHA's side of a failover, watched from outside by two tasks:
//! - the manager's log, as it is written: detected = `Master is down!` (MHA declared the
//!   master dead, after its failed pings and its double check); its other steps as notes;
//! - every node but the primary, every 10 ms on a kept connection: promoted = the first
//!   one answering `@@read_only = 0` (MHA makes the new master writable last);
//! - moved: the VIP script's own line saying it added the VIP on the new master (its
//!   `ip addr replace` returned; the script runs inside the manager, whose output drdrill
//!   reads as it is written).
use super::data::{connect, role};
use super::mha_book::{Book, MANAGER};
use crate::error::{Error, Result};
use crate::scenario::MhaSpec;
use crate::stack::Stack;
use crate::stack::{Budgets, Observed, Orchestrator};
use async_trait::async_trait;
use mysql_async::Conn;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

const ASK: Duration = Duration::from_millis(300);

pub(super) struct MhaWatch {
    pub spec: MhaSpec,
    pub book: Arc<OnceLock<Book>>,
    pub password: String,
}

/// `text` with every node IP (a whole address, not a prefix of another) named.
fn name_ips(text: &str, book: &Book) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(rest.len(), |e| i + e);
        let word = rest[i..end].trim_end_matches('.');
        let end = i + word.len();
        match book.node_of_ip.get(word) {
            Some(node) if !out.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.') => out.push_str(node),
            _ => out.push_str(word),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    for node in book.node_of_ip.values() {
        out = out.replace(&format!("{node}({node}:3306)"), node);
    }
    out
}

/// What one line of the manager's log means, with its IPs turned into node names.
fn interpret(line: &str, book: &Book) -> Option<Observed> {
    let text = line.split_once(" - ").map(|(_, t)| t).unwrap_or(line).trim();
    let detail = name_ips(&format!("MHA: {text}"), book);
    if text.contains("Master is down!") {
        return Some(Observed::Detected { detail });
    }
    // "drdrill-vip 18:36:56.747 VIP 172.25.0.250 added on 172.25.0.3 rc=0"
    if text.starts_with("drdrill-vip") && text.ends_with("rc=0") {
        let ip = text.split(" added on ").nth(1).and_then(|t| t.split_whitespace().next());
        if let Some(node) = ip.and_then(|ip| book.node_of_ip.get(ip)) {
            // stamped when the script moved it: the followed log reaches drdrill later
            let moved = Observed::Moved { node: node.clone(), detail };
            return Some(match text.split_whitespace().nth(1).and_then(wall_ns_today) {
                Some(wall_ns) => Observed::Said { wall_ns, what: Box::new(moved) },
                None => moved,
            });
        }
    }
    let step = ["is not reachable!", "Starting master failover", "completed successfully", "[error]", "drdrill-vip", "Switching master"];
    step.iter().any(|s| text.contains(s)).then_some(Observed::Note { detail })
}

/// "18:36:56.747" (UTC, as the VIP script stamps its lines) as UTC ns on the nearest day:
/// the script runs on the host's kernel clock, so only the date is missing.
fn wall_ns_today(hms: &str) -> Option<i128> {
    let t = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S%.3f").ok()?;
    let now = chrono::Utc::now();
    let at = |d: chrono::NaiveDate| i128::from(d.and_time(t).and_utc().timestamp_nanos_opt().unwrap_or(0));
    let today = now.date_naive();
    let days = [today.pred_opt()?, today, today.succ_opt()?];
    let now_ns = i128::from(now.timestamp_nanos_opt()?);
    days.into_iter().map(at).min_by_key(|ns| (ns - now_ns).abs())
}

async fn follow_log(stack: Arc<Stack>, book: &Book, tx: UnboundedSender<Observed>) {
    let Ok(mgr) = stack.service(MANAGER) else { return };
    let mut lines = stack.docker.follow_lines(&mgr.container);
    while let Some(line) = lines.recv().await {
        if let Some(o) = interpret(&line, book)
            && tx.send(o).is_err()
        {
            return;
        }
    }
}

/// Every node but the current primary, on kept connections; a node that does not answer
/// is asked again 500 ms later (a killed node's address may swallow the connect).
async fn watch_roles(stack: Arc<Stack>, book: &Book, password: String, tx: UnboundedSender<Observed>) {
    let mut conns: HashMap<String, Conn> = HashMap::new();
    let mut not_before: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut promoted: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !tx.is_closed() {
        tick.tick().await;
        let primary = stack.primary();
        for (node, addr) in &book.addr_of {
            let now = tokio::time::Instant::now();
            if *node == primary || promoted.as_ref() == Some(node) || not_before.get(node).is_some_and(|t| *t > now) {
                continue;
            }
            let mut c = match conns.remove(node) {
                Some(c) => c,
                None => match connect(*addr, &password, ASK).await {
                    Ok(c) => c,
                    Err(_) => {
                        not_before.insert(node.clone(), now + Duration::from_millis(500));
                        continue;
                    }
                },
            };
            match tokio::time::timeout(ASK, role(&mut c)).await {
                Ok(Ok((true, _))) => {
                    promoted = Some(node.clone());
                    let detail = format!("{node} accepts writes (read_only = 0)");
                    if tx.send(Observed::Promoted { node: node.clone(), detail }).is_err() {
                        return;
                    }
                }
                Ok(Ok((false, _))) => {
                    conns.insert(node.clone(), c);
                }
                _ => {
                    not_before.insert(node.clone(), now + Duration::from_millis(500));
                }
            }
        }
    }
}

#[async_trait]
impl Orchestrator for MhaWatch {
    fn name(&self) -> &'static str {
        "MHA"
    }

    async fn watch(&self, stack: Arc<Stack>, tx: UnboundedSender<Observed>) -> Result<()> {
        let book = self.book.clone();
        if book.get().is_none() {
            return Err(Error::infra("the stack's addresses are not known yet (a bug)"));
        }
        // the tasks end with this future: dropping the set aborts them
        let mut set = JoinSet::new();
        let (s, b, t) = (stack.clone(), book.clone(), tx.clone());
        set.spawn(async move { follow_log(s, b.get().expect("checked"), t).await });
        let (s, b, pw) = (stack.clone(), book.clone(), self.password.clone());
        set.spawn(async move { watch_roles(s, b.get().expect("checked"), pw, tx).await });
        while set.join_next().await.is_some() {}
        Ok(())
    }

    fn announces_move(&self) -> bool {
        true
    }

    fn budgets(&self) -> Budgets {
        let p = f64::from(self.spec.ping_interval_s) * 1000.0;
        Budgets {
            // MHA's SSH check after the first failed ping waits up to 5 s before the next ping
            detection_ms: Some(4.0 * p + 5000.0),
            detection_from: format!(
                "ping_interval {} s × 4 (the first failed ping up to one interval after the fault, then 3 more) + MHA's 5 s SSH check",
                self.spec.ping_interval_s
            ),
            promotion_ms: None,
            promotion_from:
                "no setting bounds it: MHA re-reads the servers, runs the VIP script (stop, start), applies relay logs, then read_only = 0"
                    .into(),
            reroute_ms: None,
            reroute_from: "a client's next connection through the VIP (gratuitous ARP)".into(),
            ttl_ms: None,
            ttl_from: String::new(),
            dns_from: String::new(),
            claim: Some("seed 003 (traditional VIP): detection 10–30 s + switch 5–10 s = 15–40 s; issue: 6–40 s".into()),
        }
    }

    /// `masterha_master_switch --master_state=alive`: the running manager is stopped first
    /// (MHA refuses a switch while it monitors), and MHA picks the new master. Its output
    /// also goes to the manager container's log, where the watcher reads its steps live.
    async fn switchover(&self, stack: &Stack) -> Result<String> {
        let mgr = &stack.service(MANAGER)?.container;
        let conf = "--conf=/etc/masterha/app1.cnf";
        let _ = stack.docker.exec(mgr, &["masterha_stop", conf]).await?;
        let switch = format!(
            "masterha_master_switch --master_state=alive {conf} --orig_master_is_new_slave --running_updates_limit=10000 \
             --interactive=0 2>&1 | tee /proc/1/fd/1; exit ${{PIPESTATUS[0]}}"
        );
        let (code, out) = stack.docker.exec(mgr, &["bash", "-c", &switch]).await?;
        if code != 0 {
            return Err(Error::infra(format!("masterha_master_switch failed (exit {code})")).cause_text(crate::stack::nodes::tail(&out)));
        }
        let done = out.lines().rev().find(|l| l.contains("completed successfully")).unwrap_or("done");
        let done = done.split_once(" - ").map(|x| x.1).unwrap_or(done).trim();
        let done = match self.book.get() {
            Some(book) => name_ips(done, book),
            None => done.to_string(),
        };
        Ok(format!("masterha_master_switch --master_state=alive: {done}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_log_lines_map_to_phases_with_node_names() {
        let mut book = Book::default();
        book.node_of_ip.insert("172.24.0.2".into(), "db-1".into());
        book.node_of_ip.insert("172.24.0.3".into(), "db-2".into());
        let down = interpret("Sun Nov 22 18:24:11 2026 - [info] Master is down!", &book);
        assert!(matches!(down, Some(Observed::Detected { .. })), "{down:?}");
        let n = interpret("Sun Nov 22 18:24:08 2026 - [warning] Master 172.24.0.2(172.24.0.2:3306) is not reachable!", &book);
        assert_eq!(n, Some(Observed::Note { detail: "MHA: [warning] Master db-1 is not reachable!".into() }));
        let done =
            interpret("Sun Nov 22 18:24:19 2026 - [info] Master failover to 172.24.0.3(172.24.0.3:3306) completed successfully.", &book);
        assert_eq!(done, Some(Observed::Note { detail: "MHA: [info] Master failover to db-2 completed successfully.".into() }));
        assert_eq!(
            interpret("Sun Nov 22 18:24:01 2026 - [info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond..", &book),
            None
        );
        // the VIP (172.24.0.250) is not a node, though db-1's address is its prefix
        let moved = interpret("drdrill-vip 18:36:56.747 VIP 172.24.0.250 added on 172.24.0.3 rc=0", &book);
        let detail = "MHA: drdrill-vip 18:36:56.747 VIP 172.24.0.250 added on db-2 rc=0".to_string();
        let Some(Observed::Said { wall_ns: at, what }) = moved else { panic!("{moved:?}") };
        let Observed::Moved { node, detail: d } = *what else { panic!("{what:?}") };
        assert_eq!((node.as_str(), d), ("db-2", detail));
        let stamped = chrono::DateTime::from_timestamp_nanos(at as i64);
        assert_eq!(stamped.format("%H:%M:%S%.3f").to_string(), "18:36:56.747");
        assert!((stamped - chrono::Utc::now()).num_hours().abs() <= 12, "{stamped}");
        let failed = interpret("drdrill-vip 18:36:56.747 VIP 172.24.0.250 added on 172.24.0.3 rc=255", &book);
        assert!(matches!(failed, Some(Observed::Note { .. })), "{failed:?}");
    }
}
