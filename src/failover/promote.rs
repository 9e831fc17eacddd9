//! drdrill's scripted promotion, once triggered: choose the replica (looking again until one
//! answers), promote it, repoint the clients and, beside them, the other replicas;
//! optionally rejoin the old primary.
use super::looking::{LOOK_TIMEOUT, Looking, REPOINT_TIMEOUT, within};
use super::report::FailoverReport;
use super::scene::{Scene, repoint_clients};
use super::trigger::triggered;
use crate::fault::FaultNotice;
use crate::history::{EventKind, RecorderHandle};
use crate::scenario::{FailoverSpec, RestoreTo};
use crate::stack::{Driver, Promotion, Stack};
use tokio::sync::mpsc;

/// Promotes, repoints and rejoins as `spec` says. Returns when done or failed.
pub(super) async fn promote(spec: &FailoverSpec, scene: Scene, mut faults: mpsc::UnboundedReceiver<FaultNotice>) -> FailoverReport {
    let mut report = match triggered(spec, &scene, &mut faults).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Scene { stack, driver, rec, clients } = scene;
    let (fault, old) = (report.answered_fault, report.old_primary.clone().unwrap_or_default());
    let promotion = match driver.require_promotion() {
        Ok(p) => p,
        Err(e) => return report.failed(&rec, fault, None, e.one_line()).await,
    };
    let chosen = match choose(spec, &stack, driver.as_ref(), &rec, fault).await {
        Ok(c) => c,
        Err(msg) => return report.failed(&rec, fault, None, msg).await,
    };
    report.candidates = chosen.positions.clone();
    report.looked_ms = Some(chosen.looked_ms);
    let new = chosen.node.clone();
    let promoted = match spec.restore_to {
        RestoreTo::Latest => promotion.promote(&stack, &new).await,
        RestoreTo::BeforeFault => promotion.promote_at(&stack, &new, report.set_target(&rec.clock)).await,
    };
    if let Err(e) = promoted {
        return report.failed(&rec, fault, Some(&new), e.one_line()).await;
    }
    stack.set_primary(&new);
    report.new_primary = Some(new.clone());
    rec.event(EventKind::FailoverPromote, fault, Some(&new), chosen.detail()).await;

    // the clients move as soon as the primary is promoted; the other replicas follow it
    // beside them, each looked for until it answers, so a replica that stays down delays
    // no client
    let after = Promoted { stack: &stack, promotion, rec: &rec, fault, old: &old, new: &new };
    let replicas = async { if spec.repoint_replicas { after.repoint_replicas(spec.promote_timeout_ms).await } else { Vec::new() } };
    let moved = async {
        if spec.repoint_clients {
            let addr = stack.node(&new).expect("new primary").client_addr();
            repoint_clients(&clients, &rec, fault, &new, addr).await;
        }
        rec.event(EventKind::FailoverDone, fault, Some(&new), format!("{old} -> {new}")).await as f64 / 1e6
    };
    let (repointed, done_ms) = tokio::join!(replicas, moved);
    report.repointed = repointed;
    report.done_ms = Some(done_ms);
    if spec.rejoin_old_primary {
        after.rejoin(&mut report).await;
    }
    report
}

/// The replica chosen, the positions seen, and how long it took to see them.
struct Chosen {
    node: String,
    positions: Vec<(String, u64)>,
    /// Replicas that did not answer the look that chose, and why.
    silent: Vec<String>,
    looked_ms: f64,
    waited: String,
}

impl Chosen {
    fn detail(&self) -> String {
        let seen: Vec<String> = self.positions.iter().map(|(n, p)| format!("{n}@{p}")).collect();
        let silent = if self.silent.is_empty() { String::new() } else { format!("; not answering: {}", self.silent.join(", ")) };
        format!("promoted {} (positions {}{silent}){}", self.node, seen.join(", "), self.waited)
    }
}

/// Asks every replica (in the failover's site, if any) for its position, again and again
/// until the replica wanted answers: the most advanced of those that answer, or the node
/// named. Err with the reason once `promote_timeout_ms` runs out.
async fn choose(
    spec: &FailoverSpec,
    stack: &Stack,
    driver: &dyn Driver,
    rec: &RecorderHandle,
    fault: Option<usize>,
) -> Result<Chosen, String> {
    let in_site = |r: &String| match (&spec.site, &stack.sites) {
        (Some(site), Some(sites)) => sites.site(r) == Some(site.as_str()),
        _ => true,
    };
    let replicas: Vec<String> = stack.replicas().into_iter().filter(in_site).collect();
    let within = spec.site.as_ref().map(|s| format!(" in {s}")).unwrap_or_default();
    let what = format!("a replica{within} to promote (wanted {})", spec.promote);
    let named = spec.promote != "most-advanced";
    if replicas.is_empty() || (named && !replicas.contains(&spec.promote)) {
        return Err(format!("no replica{within} to promote (wanted {}; replicas: {})", spec.promote, replicas.join(", ")));
    }
    let mut looking = Looking::new(rec, fault, what, spec.promote_timeout_ms);
    loop {
        let (positions, silent) = positions(stack, driver, &replicas).await;
        let chosen = if named {
            positions.iter().find(|(n, _)| *n == spec.promote).map(|(n, _)| n.clone())
        } else {
            // highest position; ties go to the earliest node in start order
            positions.iter().rev().max_by_key(|(_, p)| *p).map(|(n, _)| n.clone())
        };
        if let Some(node) = chosen {
            let (looked_ms, waited) = (looking.waited_ms(), looking.waited());
            return Ok(Chosen { node, positions, silent, looked_ms, waited });
        }
        let why = silent.join("; ");
        if !looking.missed(None, &why).await {
            return Err(looking.gave_up(&why));
        }
    }
}

/// One look at every replica at once: the positions of those that answered, and why each
/// other did not.
async fn positions(stack: &Stack, driver: &dyn Driver, replicas: &[String]) -> (Vec<(String, u64)>, Vec<String>) {
    let asks = replicas.iter().map(|r| async move {
        let answer = match stack.node(r) {
            Ok(n) => within(LOOK_TIMEOUT, driver.data().position(n.addr())).await,
            Err(e) => Err(e.one_line()),
        };
        (r.clone(), answer)
    });
    let (mut seen, mut silent) = (Vec::new(), Vec::new());
    for (r, answer) in futures_util::future::join_all(asks).await {
        match answer {
            Ok(p) => seen.push((r, p)),
            Err(e) => silent.push(format!("{r}: {e}")),
        }
    }
    (seen, silent)
}

/// What follows a promotion: `old` was the primary, `new` is.
#[derive(Clone, Copy)]
struct Promoted<'a> {
    stack: &'a Stack,
    promotion: &'a dyn Promotion,
    rec: &'a RecorderHandle,
    fault: Option<usize>,
    old: &'a str,
    new: &'a str,
}

impl Promoted<'_> {
    /// Points every replica but the old primary at the new one, all at once, each retried
    /// until it takes or `bound_ms` (`promote_timeout_ms`) runs out; then the promotion's
    /// own after-failover step.
    async fn repoint_replicas(&self, bound_ms: u64) -> Vec<String> {
        let Promoted { stack, promotion, rec, fault, old, new } = *self;
        let replicas: Vec<String> = stack.replicas().into_iter().filter(|r| r != old).collect();
        let each = replicas.iter().map(|r| async move {
            let mut looking = Looking::new(rec, fault, format!("{r} to follow {new}"), bound_ms);
            loop {
                match within(REPOINT_TIMEOUT, promotion.repoint(stack, r, new)).await {
                    Ok(()) => return Some(r.clone()),
                    Err(e) if looking.missed(Some(r), &e).await => continue,
                    Err(e) => {
                        rec.event(EventKind::Note, fault, Some(r), format!("repoint of {r} failed: {}", looking.gave_up(&e))).await;
                        return None;
                    }
                }
            }
        });
        let repointed: Vec<String> = futures_util::future::join_all(each).await.into_iter().flatten().collect();
        rec.event(EventKind::FailoverRepointReplicas, fault, Some(new), format!("replicas now follow {new}: {}", repointed.join(", ")))
            .await;
        if let Err(e) = promotion.after_failover(stack, new, &repointed).await {
            rec.event(EventKind::Note, fault, Some(new), e.one_line()).await;
        }
        repointed
    }

    /// Brings the old primary back as a replica of the new one, and says so.
    async fn rejoin(&self, report: &mut FailoverReport) {
        let Promoted { stack, promotion, rec, fault, old, new } = *self;
        let r = promotion.rejoin(stack, old, new).await;
        let detail = match &r {
            Ok(()) => format!("{old} rejoining as a replica of {new}"),
            Err(e) => format!("rejoin of {old} failed: {}", e.one_line()),
        };
        rec.event(EventKind::Rejoin, fault, Some(old), detail).await;
        if r.is_ok() {
            report.rejoined = Some(old.to_string());
        }
    }
}
