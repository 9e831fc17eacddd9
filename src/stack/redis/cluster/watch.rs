//! The cluster as its own orchestrator, watched from outside: every node's `CLUSTER NODES`
//! every 100 ms. A node marking a primary `fail?` is PFAIL seen (a note); `fail` is the
//! majority's agreement (the detection); a replica that now calls itself a primary serving
//! slots was promoted. The nodes are asked on connections kept open, and each round's view
//! is the workload's slot map too (`SlotMap::publish`): the clients write by what the watch
//! saw without a read of their own.
use super::client::Book;
use super::topology::Topology;
use super::view::{Links, Map, SlotMap};
use crate::error::{Error, Result};
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
    pub timing: Arc<OnceLock<Timing>>,
    /// The workload's slot map, which each round's view updates.
    pub slots: Arc<SlotMap>,
}

/// What the cluster's budgets come from: a drill's settings, or what an external cluster
/// answers once healthy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// `cluster-node-timeout`; None when the cluster would not say (`CONFIG` refused).
    pub node_timeout_ms: Option<u64>,
    /// The most replicas one primary has: the worst rank a replica waits for.
    pub replicas_per_master: u8,
}

/// What the watch has seen so far.
#[derive(Default)]
struct Seen {
    pfail: HashSet<String>,
    fail: HashSet<String>,
    /// node id -> whether it called itself a primary serving slots, as it last said
    serving: HashMap<String, bool>,
}

/// A node some view flags failing: the worst flag, who flags it, its name, whether a primary.
type Flagged = (&'static str, String, String, bool);

impl Seen {
    /// What one round of views (`(observer, CLUSTER NODES)`) says that the last did not: a
    /// node flagged PFAIL or FAIL by any view, a node no view flags any more, a replica
    /// calling itself a primary. Views disagree while the cluster is cut apart: a node is
    /// flagged while any view flags it.
    fn round(&mut self, views: &[(String, Topology)], book: &Book) -> Vec<Observed> {
        let mut now: HashMap<String, Flagged> = HashMap::new();
        for (observer, t) in views {
            for n in &t.nodes {
                let Some(flag) = n.failing() else { continue };
                let e = now.entry(n.id.clone()).or_insert((flag, observer.clone(), book.name_of(n), n.is_master()));
                if flag == "FAIL" && e.0 != "FAIL" {
                    *e = (flag, observer.clone(), book.name_of(n), n.is_master());
                }
            }
        }
        let mut out = Vec::new();
        for (id, (flag, observer, name, master)) in &now {
            if *flag == "FAIL" && self.fail.insert(id.clone()) {
                let detail = format!("{name} FAIL: a majority of primaries agreed (seen by {observer})");
                out.push(if *master { Observed::Detected { detail } } else { Observed::Note { detail } });
            } else if *flag == "PFAIL" && !self.fail.contains(id) && self.pfail.insert(id.clone()) {
                out.push(Observed::Note { detail: format!("{observer} marks {name} PFAIL: no answer within cluster-node-timeout") });
            }
        }
        let cleared: Vec<String> = self.pfail.union(&self.fail).filter(|id| !now.contains_key(*id)).cloned().collect();
        for id in cleared {
            self.pfail.remove(&id);
            self.fail.remove(&id);
            let name = views.iter().find_map(|(_, t)| t.by_id(&id)).map(|n| book.name_of(n)).unwrap_or(id);
            out.push(Observed::Note { detail: format!("{name} answers again (no node flags it)") });
        }
        out.extend(views.iter().filter_map(|(observer, t)| self.role_change(observer, t, book)));
        out
    }

    /// `observer` promoted (it serves slots as a primary now), or demoted to a replica.
    fn role_change(&mut self, observer: &str, t: &Topology, book: &Book) -> Option<Observed> {
        let me = t.myself()?;
        let serving = me.is_master() && !me.slots.is_empty();
        match self.serving.insert(me.id.clone(), serving) {
            Some(false) if serving => {
                let slots: Vec<String> = me.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                Some(Observed::Promoted {
                    node: observer.to_string(),
                    detail: format!("{observer} won the election (config epoch {}) and serves slots {}", me.epoch, slots.join(",")),
                })
            }
            Some(true) if !serving => {
                let of = me.master.as_deref().and_then(|m| t.by_id(m)).map(|m| book.name_of(m)).unwrap_or_default();
                Some(Observed::Note { detail: format!("{observer} is a replica of {of} now") })
            }
            _ => None,
        }
    }
}

/// A primary's claim: its config epoch, where it is reached, its slot ranges.
type Claim = (u64, Option<std::net::SocketAddr>, Vec<(u16, u16)>);

/// Every primary's claim in `views`, sorted: what the merged slot map is made of.
fn claims_of(views: &[(String, Topology)]) -> Vec<Claim> {
    let mut c: Vec<_> =
        views.iter().flat_map(|(_, t)| t.nodes.iter().filter(|n| n.is_master()).map(|n| (n.epoch, n.addr, n.slots.clone()))).collect();
    c.sort();
    c.dedup();
    c
}

#[async_trait]
impl Orchestrator for ClusterWatch {
    fn name(&self) -> &'static str {
        "Redis Cluster"
    }

    async fn watch(&self, _stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()> {
        let book = self.book.get().ok_or_else(|| Error::infra("the cluster's addresses are not known yet (a bug)"))?;
        let (mut seen, mut links, mut claims, mut map) = (Seen::default(), Links::default(), Vec::new(), None);
        loop {
            let read_at = tokio::time::Instant::now();
            let views: Vec<(String, Topology)> =
                links.read_all(&book.seeds, book.login(), ANSWER_WITHIN).await.into_iter().map(|(p, t)| (book.name(p), t)).collect();
            // the slot map changes only when a primary's claim does (a promotion, a FAIL
            // cleared, a slot moved): rebuilt then, else only dated
            let now = claims_of(&views);
            if now != claims {
                let topologies: Vec<Topology> = views.iter().map(|(_, t)| t.clone()).collect();
                map = Some(Arc::new(Map::from_owners(&Topology::merged_slot_map(&topologies))));
                claims = now;
            }
            if let Some(m) = map.as_ref().filter(|_| !views.is_empty()) {
                self.slots.publish(m, read_at);
            }
            for o in seen.round(&views, book) {
                if tx.send(o).is_err() {
                    return Ok(());
                }
            }
            tokio::time::sleep(EVERY).await;
        }
    }

    fn budgets(&self) -> Budgets {
        let timing = self.timing.get().copied().unwrap_or_default();
        let worst_rank = f64::from(timing.replicas_per_master.max(1) - 1);
        let (detection_ms, detection_from) = match timing.node_timeout_ms {
            // PFAIL after the timeout; FAIL once a majority of primaries' reports reach one
            // node, gossiped in pings; a report counts for 2 × the timeout
            Some(nt) => (
                Some(nt as f64 * 2.0),
                format!(
                    "2 × cluster-node-timeout {nt} ms: PFAIL after one, then the majority's reports gossiped (FAIL), each valid for two"
                ),
            ),
            None => (None, "cluster-node-timeout unknown: the cluster refused CONFIG GET".to_string()),
        };
        Budgets {
            detection_ms,
            detection_from,
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
        let t = book.topology(primary.addr()).await.map_err(|e| Error::infra("failed to read CLUSTER NODES").cause_text(e))?;
        let me = t.myself().ok_or_else(|| Error::infra("CLUSTER NODES names no node `myself`"))?;
        let replica = t.replicas_of(&me.id).into_iter().find(|r| r.connected && r.failing().is_none());
        let replica = replica.ok_or_else(|| Error::infra(format!("{} has no healthy replica to fail over to", primary.name)))?;
        let admin = crate::stack::redis::data::RedisData::drill_with_password(book.password.clone());
        let at = replica.addr.ok_or_else(|| Error::infra(format!("the replica {} announces no address", book.name_of(replica))))?;
        admin.command(at, &["CLUSTER", "FAILOVER"]).await?;
        Ok(format!("CLUSTER FAILOVER on {}", book.name_of(replica)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Book {
        let mut b = Book::default();
        // nodes that announce no hostname are reached (and named) at their address
        for (a, n) in [("172.18.0.2:30001", "redis-1"), ("172.18.0.3:30002", "redis-2"), ("172.18.0.5:30004", "redis-4")] {
            b.names.insert(a.parse().unwrap(), n.into());
        }
        b
    }

    const BEFORE: &str = "a 172.18.0.2:30001@40001 master - 0 0 1 connected 0-5460\n\
                          b 172.18.0.3:30002@40002 master - 0 0 2 connected 5461-16383\n\
                          d 172.18.0.5:30004@40004 myself,slave a 0 0 1 connected\n";

    fn view(observer: &str, text: &str) -> (String, Topology) {
        (observer.to_string(), Topology::parse(text))
    }

    #[test]
    fn pfail_fail_and_the_promotion_are_seen_once_each() {
        let (book, mut seen) = (book(), Seen::default());
        assert!(seen.round(&[view("redis-4", BEFORE)], &book).is_empty());
        let pfail = BEFORE.replace("a 172.18.0.2:30001@40001 master -", "a 172.18.0.2:30001@40001 master,fail? -");
        let o = seen.round(&[view("redis-4", &pfail), view("redis-2", BEFORE)], &book);
        assert!(matches!(&o[..], [Observed::Note { detail }] if detail.contains("redis-4 marks redis-1 PFAIL")), "{o:?}");
        assert!(seen.round(&[view("redis-4", &pfail)], &book).is_empty(), "once");
        let fail = BEFORE.replace("a 172.18.0.2:30001@40001 master -", "a 172.18.0.2:30001@40001 master,fail -");
        let o = seen.round(&[view("redis-4", &fail), view("redis-2", &pfail)], &book);
        assert!(matches!(&o[..], [Observed::Detected { detail }] if detail.starts_with("redis-1 FAIL")), "{o:?}");
        let promoted = "a 172.18.0.2:30001@40001 master,fail - 0 0 1 disconnected\n\
                        b 172.18.0.3:30002@40002 master - 0 0 2 connected 5461-16383\n\
                        d 172.18.0.5:30004@40004 myself,master - 0 0 3 connected 0-5460\n";
        let o = seen.round(&[view("redis-4", promoted)], &book);
        assert!(matches!(&o[..], [Observed::Promoted { node, detail }] if node == "redis-4" && detail.contains("epoch 3")), "{o:?}");
        let back = promoted.replace("master,fail - 0 0 1 disconnected", "slave d 0 0 3 connected");
        let o = seen.round(&[view("redis-4", &back)], &book);
        assert!(matches!(&o[..], [Observed::Note { detail }] if detail.contains("redis-1 answers again")), "{o:?}");
    }

    #[test]
    fn views_that_disagree_while_cut_apart_do_not_flap() {
        let (book, mut seen) = (book(), Seen::default());
        // the cut-off redis-1 flags redis-2; redis-4 (the other side) flags redis-1
        let from_1 = "a 172.18.0.2:30001@40001 myself,master - 0 0 1 connected 0-5460\n\
                      b 172.18.0.3:30002@40002 master,fail? - 0 0 2 connected 5461-16383\n";
        let from_4 = BEFORE.replace("a 172.18.0.2:30001@40001 master -", "a 172.18.0.2:30001@40001 master,fail? -");
        let o = seen.round(&[view("redis-1", from_1), view("redis-4", &from_4)], &book);
        assert_eq!(o.len(), 2, "{o:?}");
        for _ in 0..3 {
            let o = seen.round(&[view("redis-4", &from_4), view("redis-1", from_1)], &book);
            assert!(o.is_empty(), "the same disagreement again says nothing: {o:?}");
        }
    }
}
