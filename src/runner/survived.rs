//! What survived the drill, per service, once its workload stopped: a multi-active
//! stack's nodes waited on until they agree, every record read back from the primary, and
//! the replicas compared with it.
use super::multi_active::{self, Agreement};
use super::state::{Drill, Service};
use crate::checker::Convergence;
use crate::error::{Error, Result};
use crate::report::{DrillEvent, Reporters};
use crate::stack::{ReadBack, retry_until};
use std::time::Duration;

/// One service's surviving data, as the read-back and converge phases found it.
pub(super) struct Survived {
    pub read: Option<ReadBack>,
    pub convergence: Option<Convergence>,
    /// Whether replicas could be compared (an external stack without nodes has none).
    pub can_converge: bool,
    pub errors: Vec<String>,
    /// A multi-active stack: when its nodes came to hold the same data.
    pub agreed: Option<Agreement>,
}

/// A multi-active stack's nodes, once its workload stopped, read until they hold the
/// same data: before the read-back, which would otherwise miss what is still on its way.
pub(super) async fn agree(drill: &Drill<'_>, rep: &mut Reporters, svc: &Service, clock: &crate::clock::Clock) -> Result<Option<Agreement>> {
    if svc.driver.multi_active().is_none() {
        return Ok(None);
    }
    drill.phase(rep, &svc.say("waiting for every node to hold the same data"))?;
    let agreed = multi_active::agree(svc, clock, svc.sc().checks.convergence_timeout_ms).await;
    if let Some(g) = agreed {
        let said = match g.at_ns {
            Some(_) => format!("every node holds the same keys and records ({:.0} ms after the workload stopped)", g.waited_ms),
            None => format!("the nodes still differ after {:.0} ms", g.waited_ms),
        };
        rep.emit(DrillEvent::Info(&said))?;
    }
    Ok(agreed)
}

/// Every record the primary holds (an external stack's primary found again first).
pub(super) async fn read_back(drill: &Drill<'_>, rep: &mut Reporters, svc: &Service) -> Result<(Option<ReadBack>, Vec<String>)> {
    if let Some(e) = &svc.external
        && let Some(p) = e.find_primary(&svc.stack, Duration::from_secs(3)).await
    {
        svc.stack.set_primary(&p);
    }
    let primary = svc.stack.primary();
    drill.phase(rep, &svc.say(&format!("reading back every record from {primary}")))?;
    let read = async {
        // a sharded stack is read whole from any node; its primary may be down (a lost shard)
        let primary = svc.primary_addr()?;
        let mut addrs = vec![primary];
        if svc.stack.shards.is_sharded() {
            addrs.extend(svc.stack.nodes.iter().map(|n| n.addr()).filter(|a| *a != primary));
        }
        retry_until(Duration::from_secs(30), Duration::from_millis(500), || async {
            let mut first_error = None;
            for &addr in &addrs {
                match svc.driver.data().read_back(addr).await {
                    Ok(r) => return Ok(r),
                    Err(e) => _ = first_error.get_or_insert(e),
                }
            }
            Err(first_error.unwrap_or_else(|| Error::infra("no node to read back from")))
        })
        .await
    };
    match read.await {
        Ok(r) => {
            rep.emit(DrillEvent::Info(&format!("{} records", r.len())))?;
            let unreadable: Vec<String> = r.unreadable.iter().map(|u| format!("read-back: {u}")).collect();
            for u in &unreadable {
                rep.emit(DrillEvent::Info(u))?;
            }
            Ok((Some(r), unreadable))
        }
        Err(e) => Ok((None, vec![format!("read-back from {primary}: {}", e.one_line())])),
    }
}

pub(super) async fn converge(
    drill: &Drill<'_>,
    rep: &mut Reporters,
    svc: &Service,
    (read, errors): (Option<ReadBack>, Vec<String>),
) -> Result<Survived> {
    // an external stack without nodes has no replica drdrill can read
    let sc = svc.sc();
    let can_converge = !(svc.stack.external && sc.stack.nodes.is_empty());
    let mut convergence = None;
    if let Some(primary) = read.as_ref().filter(|_| sc.targets.converge && can_converge) {
        drill.phase(rep, &svc.say("checking that replicas converge on the primary's records"))?;
        let timeout = sc.checks.convergence_timeout_ms;
        convergence = Some(super::converge::converge(&svc.stack, svc.driver.as_ref(), primary, timeout).await);
    }
    Ok(Survived { read, convergence, can_converge, errors, agreed: None })
}
