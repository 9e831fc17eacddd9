//! Every promotion of another node (by the stack's orchestrator or by drdrill's own
//! failover), and what the primary it replaced did after it. Writes that primary went on
//! acknowledging after the promotion are a split brain: two primaries took writes at once,
//! whatever moved the clients (a VIP, a proxy, a Sentinel's answer, a DNS name). Counted
//! per side from the history (the node that acknowledged each write), and lost from the
//! read-back of the surviving data.
//!
//! A side's writes are counted from the promotion to the next promotion (or the end): the
//! split lasts from the promotion to the old primary's last acknowledgement after it, and
//! the promoted node's writes are counted within that span (a second pass once the span is
//! known).
use crate::history::{Event, EventKind, Op, Outcome};
use crate::stack::ReadBack;
use serde::{Deserialize, Serialize};

/// One promotion: `new` made the primary in place of `old`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Promotion {
    /// When it was seen (drill ms): the orchestrator's promotion, or drdrill's.
    pub at_ms: f64,
    /// The primary it replaced, and the node promoted.
    pub old: String,
    pub new: String,
    /// `orchestrator` (the stack's own) or `drdrill` (its failover or runbook).
    pub by: String,
    pub detail: String,
    /// Writes `old` acknowledged after the promotion (up to the next one), and of those
    /// the ones the surviving data lacks (None: nothing was read back).
    pub old_acked: u64,
    pub old_lost: Option<u64>,
    /// Its first and last such acknowledgement (drill ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_first_ack_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_last_ack_ms: Option<f64>,
    /// Writes `new` acknowledged from the promotion to `old`'s last acknowledgement: its
    /// side of the split, and of those the ones lost.
    pub new_acked: u64,
    pub new_lost: Option<u64>,
    /// When the promoted node let the clients' entry (a VIP) go while the replaced primary
    /// still held it (Keepalived's backup back in BACKUP once a cut healed): the replaced
    /// primary is the primary again, and its writes after this are no split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_back_ms: Option<f64>,
}

impl Promotion {
    /// How long two primaries took writes: from the promotion to the old primary's last
    /// acknowledgement after it; None when it acknowledged none.
    pub fn split_ms(&self) -> Option<f64> {
        self.old_last_ack_ms.map(|t| (t - self.at_ms).max(0.0))
    }
}

/// Every promotion of another node over the drill, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionsReport {
    pub promotions: Vec<Promotion>,
    /// Whether the history names the node that acknowledged each write: without it no
    /// side of a split can be counted.
    pub nodes_recorded: bool,
}

impl PromotionsReport {
    /// The promotions the events record, starting from `initial` as the primary: an
    /// `orchestrator-promoted` or `failover-promote` naming a node other than the
    /// primary of the moment.
    pub fn from_events(events: &[Event], initial: &str) -> Self {
        let mut primary = initial.to_string();
        let mut promotions = Vec::new();
        for e in events {
            let by = match e.kind {
                EventKind::OrchestratorPromoted => "orchestrator",
                EventKind::FailoverPromote => "drdrill",
                _ => continue,
            };
            let Some(new) = e.node.as_deref().filter(|n| *n != primary) else { continue };
            promotions.push(Promotion {
                at_ms: crate::clock::ms(e.t_ns),
                old: std::mem::replace(&mut primary, new.to_string()),
                new: new.to_string(),
                by: by.into(),
                detail: e.detail.clone(),
                ..Promotion::default()
            });
        }
        PromotionsReport { promotions, nodes_recorded: false }
    }

    /// With the entry's holders watched: each promotion whose node let the entry go while
    /// the replaced primary held it ends there (`given_back_ms`).
    pub fn given_back(&mut self, h: &crate::checker::HoldersReport) {
        for p in &mut self.promotions {
            let mut holding = std::collections::BTreeSet::new();
            for c in &h.changes {
                match c.holds {
                    true => holding.insert(c.node.as_str()),
                    false => holding.remove(c.node.as_str()),
                };
                if c.at_ms > p.at_ms && !c.holds && c.node == p.new && holding.contains(p.old.as_str()) {
                    p.given_back_ms = Some(c.at_ms);
                    break;
                }
            }
        }
    }

    /// The promotion whose span (to the next promotion) holds `at_ms`.
    fn span_of(&self, at_ms: f64) -> Option<usize> {
        self.promotions.iter().rposition(|p| p.at_ms <= at_ms)
    }

    /// First pass, one op: an acknowledged write by the old primary after its promotion.
    pub fn count_old(&mut self, op: &Op, read: Option<&ReadBack>) {
        let Some((node, at)) = acked(op) else { return };
        self.nodes_recorded = true;
        let Some(i) = self.span_of(at) else { return };
        let p = &mut self.promotions[i];
        if node != p.old || p.given_back_ms.is_some_and(|g| at > g) {
            return;
        }
        p.old_acked += 1;
        p.old_first_ack_ms = Some(p.old_first_ack_ms.map_or(at, |f| f.min(at)));
        p.old_last_ack_ms = Some(p.old_last_ack_ms.map_or(at, |l| l.max(at)));
        if let Some(r) = read {
            *p.old_lost.get_or_insert(0) += u64::from(!r.contains(op.writer, op.seq));
        }
    }

    /// Second pass, one op: an acknowledged write by the promoted node within the split.
    pub fn count_new(&mut self, op: &Op, read: Option<&ReadBack>) {
        let Some((node, at)) = acked(op) else { return };
        let Some(i) = self.span_of(at) else { return };
        let p = &mut self.promotions[i];
        if node != p.new || p.old_last_ack_ms.is_none_or(|last| at > last) || p.given_back_ms.is_some_and(|g| at > g) {
            return;
        }
        p.new_acked += 1;
        if let Some(r) = read {
            *p.new_lost.get_or_insert(0) += u64::from(!r.contains(op.writer, op.seq));
        }
    }

    /// With a read-back, a side that acknowledged nothing lost nothing (0, not unknown).
    pub fn settle(&mut self, read: Option<&ReadBack>) {
        if read.is_none() {
            return;
        }
        for p in &mut self.promotions {
            p.old_lost.get_or_insert(0);
            p.new_lost.get_or_insert(0);
        }
    }

    /// The promotions whose old primary went on acknowledging writes.
    pub fn splits(&self) -> impl Iterator<Item = &Promotion> {
        self.promotions.iter().filter(|p| p.old_acked > 0)
    }
}

/// The node and completion time (drill ms) of an acknowledged plain write.
fn acked(op: &Op) -> Option<(&str, f64)> {
    let plain = op.outcome == Outcome::Ok && op.key.is_none() && op.change.is_none();
    let node = op.node.as_deref().filter(|_| plain)?;
    Some((node, crate::clock::ms(op.complete_ns)))
}

/// The promotions of one service: its events read for them (and its entry's holders,
/// where watched), then its history twice.
pub fn judge_promotions(
    history: &std::path::Path,
    tag: Option<&str>,
    (events, initial): (&[Event], &str),
    holders: Option<&crate::checker::HoldersReport>,
    read: Option<&ReadBack>,
) -> std::io::Result<PromotionsReport> {
    let mut r = PromotionsReport::from_events(events, initial);
    if r.promotions.is_empty() {
        return Ok(r);
    }
    if let Some(h) = holders {
        r.given_back(h);
    }
    let mine = |op: &Op| crate::history::belongs(op.service.as_ref(), tag);
    crate::history::read_history(history, |op| {
        if mine(&op) {
            r.count_old(&op, read)
        }
    })?;
    if r.splits().next().is_some() {
        crate::history::read_history(history, |op| {
            if mine(&op) {
                r.count_new(&op, read)
            }
        })?;
    }
    r.settle(read);
    Ok(r)
}

#[cfg(test)]
#[path = "promotions_tests.rs"]
mod tests;
