//! The convergence phase: poll the replicas until they hold the primary's records.
use crate::checker::{Convergence, NodeConvergence, compare};
use crate::stack::{Driver, ReadBack, Stack};
use std::time::Duration;

/// Polls every running replica until each holds exactly the primary's records, or the timeout.
pub async fn converge(stack: &Stack, driver: &dyn Driver, primary: &ReadBack, timeout_ms: u64) -> Convergence {
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_millis(timeout_ms);
    let final_primary = stack.primary();
    let mut excluded = Vec::new();
    let mut survivors = Vec::new();
    for n in &stack.nodes {
        if n.name == final_primary {
            continue;
        }
        if stack.running(&n.name).await { survivors.push(n.clone()) } else { excluded.push(n.name.clone()) }
    }
    loop {
        let mut nodes = Vec::new();
        for n in &survivors {
            nodes.push(match driver.data().read_back(n.addr()).await {
                Ok(rb) => {
                    let (missing, extra) = compare(primary, &rb);
                    NodeConvergence {
                        node: n.name.clone(),
                        records: Some(rb.len() as u64),
                        missing,
                        extra,
                        converged: missing == 0 && extra == 0,
                        error: None,
                    }
                }
                Err(e) => NodeConvergence {
                    node: n.name.clone(),
                    records: None,
                    missing: 0,
                    extra: 0,
                    converged: false,
                    error: Some(e.one_line()),
                },
            });
        }
        let all = nodes.iter().all(|n| n.converged);
        if all || tokio::time::Instant::now() >= deadline {
            // a readable replica that differs fails; an unreadable one leaves the check undecided
            let converged = if nodes.iter().any(|n| n.records.is_some() && !n.converged) {
                Some(false)
            } else if nodes.iter().any(|n| n.records.is_none()) {
                None
            } else {
                Some(true)
            };
            return Convergence { converged, waited_ms: started.elapsed().as_secs_f64() * 1e3, nodes, excluded };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
