//! Patroni's side of a failover, watched from outside every 50 ms: the leader key in etcd
//! (`/service/drdrill/leader`) and the PostgreSQL role of the node that holds it.
//! - detected: the leader key lapsed (its lease ran out: ttl) or was released;
//! - a note when a node takes the key (the election);
//! - promoted: the key's holder answers `pg_is_in_recovery() = false` on its own port,
//!   watched every 5 ms once it holds the key.
//!
//! The resolution of detection and election is the 50 ms polling period; of promotion, 5 ms.
use super::etcd;
use super::patroni_book::{Book, SCOPE};
use crate::error::{Error, Result};
use crate::scenario::{HaproxySpec, PatroniSpec};
use crate::stack::Stack;
use crate::stack::{Budgets, Observed, Orchestrator};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

const POLL: Duration = Duration::from_millis(50);
const ASK: Duration = Duration::from_millis(300);

pub(super) struct PatroniWatch {
    pub spec: PatroniSpec,
    pub haproxy: HaproxySpec,
    pub book: Arc<OnceLock<Book>>,
}

/// The leader key as last seen, and a holder not yet confirmed as a writable primary.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    leader: Option<String>,
    pending: Option<String>,
    etcd_down: bool,
    /// The lease the leader key was attached to at the last reading.
    lease: Option<String>,
}

impl Seen {
    /// What a new reading of the leader key means.
    fn key(&mut self, now: Option<String>) -> Option<Observed> {
        self.etcd_down = false;
        if now == self.leader {
            return None;
        }
        let before = std::mem::replace(&mut self.leader, now.clone());
        match (before, now) {
            (Some(old), None) => {
                self.pending = None;
                Some(Observed::Detected { detail: format!("leader key of {old} lapsed (its lease ran out, or it was released)") })
            }
            (_, Some(new)) => {
                self.pending = Some(new.clone());
                Some(Observed::Note { detail: format!("{new} took the leader key") })
            }
            (None, None) => None,
        }
    }
}

/// The key passed from one holder to another between two readings: a switchover's
/// handover (the old holder deleted it, its lease lives on), or a lapse that a replica
/// filled before the next reading (a slow read beside other drills once missed a gap of
/// about 200 ms). Its lease tells them apart: when the old holder's lease no longer exists,
/// the key lapsed, seen at this reading (at most one reading late).
async fn lapsed_between_reads(seen: &Seen, now: Option<&etcd::Leased>, etcd: &[std::net::SocketAddr]) -> Option<Observed> {
    let (old, new, lease) = (seen.leader.as_ref()?, now?, seen.lease.as_deref()?);
    if *old == new.value || etcd::lease_alive(etcd, lease, ASK).await.unwrap_or(true) {
        return None;
    }
    let detail = format!("leader key of {old} lapsed between two reads (its lease ran out); {} took it", new.value);
    Some(Observed::Detected { detail })
}

/// Watches the new leader's role closely (every 5 ms on one connection) for up to a
/// second, so its promotion is seen within a few ms; false if it is not primary by then
/// (the caller tries again on its next poll).
async fn until_primary(addr: std::net::SocketAddr, tx: &mpsc::UnboundedSender<Observed>) -> bool {
    let Ok(c) = super::data::connect(addr, "postgres", ASK).await else { return false };
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until && !tx.is_closed() {
        match tokio::time::timeout(ASK, super::data::is_writable(&c)).await {
            Ok(Ok(true)) => return true,
            Ok(Ok(false)) => tokio::time::sleep(Duration::from_millis(5)).await,
            _ => return false,
        }
    }
    false
}

#[async_trait]
impl Orchestrator for PatroniWatch {
    fn name(&self) -> &'static str {
        "Patroni"
    }

    async fn watch(&self, stack: Arc<Stack>, tx: mpsc::UnboundedSender<Observed>) -> Result<()> {
        let book = self.book.get().ok_or_else(|| Error::infra("the stack's addresses are not known yet (a bug)"))?;
        let key = etcd::leader_key(SCOPE);
        // the leader as the stack knows it is where we start from: no event for it
        let mut seen = Seen { leader: Some(stack.primary()), ..Default::default() };
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let o = match etcd::get_any(&book.etcd, &key, ASK).await {
                Ok(now) => {
                    let lapsed = lapsed_between_reads(&seen, now.as_ref(), &book.etcd).await;
                    if let Some(d) = lapsed
                        && tx.send(d).is_err()
                    {
                        return Ok(());
                    }
                    seen.lease = now.as_ref().and_then(|n| n.lease.clone());
                    seen.key(now.map(|n| n.value))
                }
                Err(e) if !seen.etcd_down => {
                    seen.etcd_down = true;
                    Some(Observed::Note { detail: format!("etcd unreachable from drdrill: {e}") })
                }
                Err(_) => None,
            };
            if let Some(o) = o
                && tx.send(o).is_err()
            {
                return Ok(());
            }
            if let Some(node) = seen.pending.clone()
                && let Some(addr) = book.addr_of.get(&node)
                && until_primary(*addr, &tx).await
            {
                seen.pending = None;
                let detail = format!("{node} holds the leader key and accepts writes");
                if tx.send(Observed::Promoted { node, detail }).is_err() {
                    return Ok(());
                }
            }
        }
    }

    fn budgets(&self) -> Budgets {
        let (s, h) = (&self.spec, &self.haproxy);
        let inter = h.fastinter_ms.unwrap_or(h.inter_ms);
        Budgets {
            detection_ms: Some(f64::from(s.ttl) * 1000.0),
            detection_from: format!("ttl {} s (the leader key's lease)", s.ttl),
            promotion_ms: Some(f64::from(s.loop_wait) * 1000.0),
            promotion_from: format!("loop_wait {} s (a replica's next HA cycle), + PostgreSQL's own promotion", s.loop_wait),
            reroute_ms: Some(f64::from(h.rise) * inter as f64 + h.inter_ms as f64),
            reroute_from: format!("HAProxy rise {} × {} ms + one inter {} ms until the first check", h.rise, inter, h.inter_ms),
            ttl_ms: None,
            ttl_from: String::new(),
            dns_from: String::new(),
            claim: Some("seed 001 (PostgreSQL, Patroni + etcd + HAProxy): RTO < 5 min, RPO < 1 min".into()),
        }
    }

    async fn switchover(&self, stack: &Stack) -> Result<String> {
        let book = self.book.get().ok_or_else(|| Error::infra("the stack's addresses are not known yet (a bug)"))?;
        let leader = stack.primary();
        let container = book.container_of.get(&leader).ok_or_else(|| Error::infra(format!("no container for {leader}")))?;
        let body = format!("{{\"leader\":\"{leader}\"}}");
        // the body, then the HTTP status on a line of its own
        let cmd = ["curl", "-s", "-w", "\n%{http_code}", "-XPOST", "-d", &body, "http://localhost:8008/switchover"];
        let (code, out) = stack.docker.exec(container, &cmd).await?;
        let status = out.trim_end().rsplit('\n').next().unwrap_or_default().trim().to_string();
        if code != 0 || status != "200" {
            return Err(Error::infra(format!("Patroni refused the switchover away from {leader}")).cause_text(out));
        }
        Ok(format!("POST /switchover {{leader: {leader}}} on {leader}'s Patroni REST API"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_key_readings_map_to_phases() {
        let mut s = Seen { leader: Some("pg-1".into()), ..Default::default() };
        assert_eq!(s.key(Some("pg-1".into())), None);
        assert!(matches!(s.key(None), Some(Observed::Detected { .. })));
        assert_eq!(s.key(None), None);
        assert!(matches!(s.key(Some("pg-2".into())), Some(Observed::Note { .. })));
        assert_eq!(s.pending.as_deref(), Some("pg-2"));
        // a switchover hands the key over without a gap: no detection
        let mut s = Seen { leader: Some("pg-1".into()), ..Default::default() };
        assert!(matches!(s.key(Some("pg-3".into())), Some(Observed::Note { .. })));
    }
}
