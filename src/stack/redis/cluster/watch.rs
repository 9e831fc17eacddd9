//! The cluster as its own orchestrator, watched from outside: every node's `CLUSTER NODES`
//! every 100 ms. A node marking a primary `fail?` is PFAIL seen (a note); `fail` is the
//! majority's agreement (the detection); a replica that now calls itself a primary serving
//! slots was promoted.
use super::client::{Book, read_topology};
use super::topology::Topology;
use crate::error::{Error, Result};
use crate::scenario::ClusterSpec;
use crate::stack::{Budgets, Observed, Orchestrator, Stack};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often every node is asked.
const EVERY: Duration = Duration::from_millis(100);
/// How long one node may take to answer before this round goes on without it.
const ANSWER_WITHIN: Duration = Duration::from_millis(300);

pub struct ClusterWatch {
    pub book: Arc<OnceLock<Book>>,
    pub node_timeout_ms: u64,
    pub spec: ClusterSpec,
}

/// What the watch has seen so far.
#[derive(Default)]
struct Seen {
    pfail: HashSet<String>,
    fail: HashSet<String>,
    /// node id -> whether it called itself a primary serving slots, as it last said
    serving: HashMap<String, bool>,
}

impl Seen {
    /// What `observer`'s view says that was not seen before.
    fn observe(&mut self, observer: &str, t: &Topology, book: &Book) -> Vec<Observed> {
        let mut out = Vec::new();
        for n in &t.nodes {
            let name = book.name(n.port);
            match n.failing() {
                Some("PFAIL") if self.pfail.insert(n.id.clone()) => {
                    out.push(Observed::Note { detail: format!("{observer} marks {name} PFAIL: no answer within cluster-node-timeout") })
                }
                Some("FAIL") if self.fail.insert(n.id.clone()) => {
                    let detail = format!("{name} FAIL: a majority of primaries agreed (seen by {observer})");
                    out.push(if n.is_master() { Observed::Detected { detail } } else { Observed::Note { detail } });
                }
                None if self.pfail.contains(&n.id) || self.fail.contains(&n.id) => {
                    self.pfail.remove(&n.id);
                    self.fail.remove(&n.id);
                    out.push(Observed::Note { detail: format!("{name} answers again (seen by {observer})") });
                }
                _ => {}
            }
        }
        if let Some(me) = t.myself() {
            let serving = me.is_master() && !me.slots.is_empty();
            match self.serving.insert(me.id.clone(), serving) {
                Some(false) if serving => {
                    let slots: Vec<String> = me.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                    out.push(Observed::Promoted {
                        node: observer.to_string(),
                        detail: format!("{observer} won the election and serves slots {}", slots.join(",")),
                    });
                }
                Some(true) if !serving => {
                    let of = me.master.as_deref().and_then(|m| t.by_id(m)).map(|m| book.name(m.port)).unwrap_or_default();
                    out.push(Observed::Note { detail: format!("{observer} is a replica of {of} now") });
                }
                _ => {}
            }
        }
        out
    }
}

#[async_trait]
impl Orchestrator for ClusterWatch {
    fn name(&self) -> &'static str {
        "Redis Cluster"
    }

    async fn watch(&self, _stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()> {
        let book = self.book.get().ok_or_else(|| Error::infra("the cluster's addresses are not known yet (a bug)"))?;
        let mut seen = Seen::default();
        loop {
            let asks =
                book.seeds.iter().map(|&p| async move { (p, tokio::time::timeout(ANSWER_WITHIN, read_topology(book.addr(p))).await) });
            for (port, answer) in futures_util::future::join_all(asks).await {
                if let Ok(Ok(t)) = answer {
                    for o in seen.observe(&book.name(port), &t, book) {
                        if tx.send(o).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            tokio::time::sleep(EVERY).await;
        }
    }

    fn budgets(&self) -> Budgets {
        let nt = self.node_timeout_ms as f64;
        let worst_rank = f64::from(self.spec.replicas_per_master.max(1) - 1);
        Budgets {
            // PFAIL after the timeout; FAIL once a majority of primaries' reports reach one
            // node, gossiped in pings; a report counts for 2 × the timeout
            detection_ms: Some(nt * 2.0),
            detection_from: format!(
                "cluster-node-timeout {} ms (PFAIL), then the majority's reports gossiped (FAIL), each valid for 2 × cluster-node-timeout",
                self.node_timeout_ms
            ),
            promotion_ms: Some(1000.0 + 1000.0 * worst_rank + 500.0),
            promotion_from: format!(
                "the replica's delay 500 ms + up to 500 ms + 1000 ms per rank (worst rank {worst_rank}), and its vote (≤ 500 ms); a lost election retries after 2 × cluster-node-timeout"
            ),
            reroute_ms: None,
            reroute_from: "the clients refresh their slot map at their next error (no setting)".into(),
            claim: Some("seed 001 (Redis Cluster): RTO < 1 min".into()),
            ..Default::default()
        }
    }

    /// `CLUSTER FAILOVER` on a replica of the shard of the stack's primary.
    async fn switchover(&self, stack: &Stack) -> Result<String> {
        let book = self.book.get().ok_or_else(|| Error::infra("the cluster's addresses are not known yet (a bug)"))?;
        let primary = stack.node(&stack.primary())?;
        let t = read_topology(primary.addr()).await.map_err(|e| Error::infra("failed to read CLUSTER NODES").cause_text(e))?;
        let me = t.myself().ok_or_else(|| Error::infra("CLUSTER NODES names no node `myself`"))?;
        let replica = t.replicas_of(&me.id).into_iter().find(|r| r.connected && r.failing().is_none());
        let replica = replica.ok_or_else(|| Error::infra(format!("{} has no healthy replica to fail over to", primary.name)))?;
        crate::stack::redis::data::command(book.addr(replica.port), &["CLUSTER", "FAILOVER"]).await?;
        Ok(format!("CLUSTER FAILOVER on {}", book.name(replica.port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Book {
        let mut b = Book::default();
        for (p, n) in [(30001, "redis-1"), (30002, "redis-2"), (30004, "redis-4")] {
            b.names.insert(p, n.into());
        }
        b
    }

    const BEFORE: &str = "a 172.18.0.2:30001@40001 master - 0 0 1 connected 0-5460\n\
                          b 172.18.0.3:30002@40002 master - 0 0 2 connected 5461-16383\n\
                          d 172.18.0.5:30004@40004 myself,slave a 0 0 1 connected\n";

    #[test]
    fn pfail_fail_and_the_promotion_are_seen_once_each() {
        let (book, mut seen) = (book(), Seen::default());
        assert!(seen.observe("redis-4", &Topology::parse(BEFORE), &book).is_empty());
        let pfail = BEFORE.replace("a 172.18.0.2:30001@40001 master -", "a 172.18.0.2:30001@40001 master,fail? -");
        let o = seen.observe("redis-4", &Topology::parse(&pfail), &book);
        assert!(matches!(&o[..], [Observed::Note { detail }] if detail.contains("redis-1 PFAIL")), "{o:?}");
        assert!(seen.observe("redis-2", &Topology::parse(&pfail), &book).is_empty(), "once");
        let fail = BEFORE.replace("a 172.18.0.2:30001@40001 master -", "a 172.18.0.2:30001@40001 master,fail -");
        let o = seen.observe("redis-4", &Topology::parse(&fail), &book);
        assert!(matches!(&o[..], [Observed::Detected { detail }] if detail.starts_with("redis-1 FAIL")), "{o:?}");
        let promoted = "a 172.18.0.2:30001@40001 master,fail - 0 0 1 disconnected\n\
                        b 172.18.0.3:30002@40002 master - 0 0 2 connected 5461-16383\n\
                        d 172.18.0.5:30004@40004 myself,master - 0 0 3 connected 0-5460\n";
        let o = seen.observe("redis-4", &Topology::parse(promoted), &book);
        assert!(matches!(&o[..], [Observed::Promoted { node, .. }] if node == "redis-4"), "{o:?}");
        let back = promoted.replace("master,fail - 0 0 1 disconnected", "slave d 0 0 3 connected");
        let o = seen.observe("redis-4", &Topology::parse(&back), &book);
        assert!(matches!(&o[..], [Observed::Note { detail }] if detail.contains("redis-1 answers again")), "{o:?}");
    }
}
