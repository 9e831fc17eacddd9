//! Node-level faults: kill (SIGKILL), stop (graceful), pause (freeze), restart, destroy
//! (SIGKILL, then the container and its data removed), starve_cpu (a CPU quota).
use super::{Applied, Undo};
use crate::error::Result;
use crate::scenario::{FaultKind, FaultSpec};
use crate::stack::Stack;

pub(crate) async fn inject(stack: &Stack, spec: &FaultSpec, node: &str) -> Result<Applied> {
    let hit_primary = node == stack.primary();
    let container = stack.node(node)?.container.clone();
    let d = &stack.docker;
    let mut undo = Vec::new();
    let mut stamped = None;
    match spec.kind {
        FaultKind::Kill => {
            let asked = wall_ns();
            d.kill(&container, "SIGKILL").await?;
            // the instant it died, as the engine recorded it (the API call takes longer)
            stamped = died_at(d, &container, asked).await.map(|t| (t, t));
            // a crash with a duration is followed by a start (validation allows it where a
            // node rejoins by itself)
            if spec.duration_ms.is_some() {
                undo.push(Undo::Start { container });
            }
        }
        FaultKind::Destroy => {
            d.kill(&container, "SIGKILL").await?;
            // its log is evidence: kept before the container goes (logs/NODE-destroyed.log)
            if let (Some(env), Ok(text)) = (stack.actions.get(), d.logs(&container).await) {
                let _ = std::fs::write(env.dir.join("logs").join(format!("{node}-destroyed.log")), text);
            }
            d.remove(&container).await?;
        }
        FaultKind::DestroyData => {
            let how = spec.how.unwrap_or_default();
            let cmd = &stack.destroy_data[how as usize];
            if cmd.is_empty() {
                return Err(crate::error::Error::infra("this stack has no operator command to destroy its data"));
            }
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let (code, out) = d.exec(&container, &args).await?;
            if code != 0 {
                return Err(crate::error::Error::infra(format!("the operator's command failed on {node} (exit {code})")).cause_text(out));
            }
            let target = spec.target.as_deref().unwrap_or_default();
            let what = format!("{node} (target {target}): `{}` -> {}", cmd.last().cloned().unwrap_or_default(), out.trim());
            return Ok(Applied { detail: what, undo, hit_primary, stamped: None });
        }
        FaultKind::Stop => {
            d.stop(&container, 10).await?;
            // a stop with a duration is followed by a start
            if spec.duration_ms.is_some() {
                undo.push(Undo::Start { container });
            }
        }
        FaultKind::Pause => {
            d.pause(&container).await?;
            undo.push(Undo::Unpause { container });
        }
        FaultKind::StarveCpu => return starve(stack, spec, node, container).await,
        _ => d.restart(&container, 10).await?,
    }
    let target = spec.target.as_deref().unwrap_or_default();
    Ok(Applied { detail: format!("{node} (target {target})"), undo, hit_primary, stamped })
}

/// The node left `percent` of one CPU until the heal lifts its quota.
async fn starve(stack: &Stack, spec: &FaultSpec, node: &str, container: String) -> Result<Applied> {
    let percent = spec.percent.unwrap_or(100.0);
    stack.docker.set_cpu_quota(&container, Some(percent)).await?;
    let target = spec.target.as_deref().unwrap_or_default();
    Ok(Applied {
        detail: format!("{node} (target {target}) to {percent} % of one CPU"),
        undo: vec![Undo::Unstarve { container }],
        hit_primary: node == stack.primary(),
        stamped: None,
    })
}

fn wall_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

/// When the killed container's process exited (not before `asked`), as the engine records
/// it shortly after the kill returns; None when it has not within a second.
async fn died_at(d: &crate::docker::Docker, container: &str, asked: i128) -> Option<i128> {
    for _ in 0..50 {
        if let Some(t) = d.finished_at(container).await.filter(|t| *t >= asked) {
            return Some(t);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}
