//! Faults on proxied links, through the Toxiproxy API: `latency`, `jitter`, `bandwidth`,
//! `timeout`, `reset_peer` (toxics, removed on heal) and `down` (the proxy disabled:
//! connections closed and refused; enabled again on heal).
use super::{Applied, Undo, rollback};
use crate::error::{Error, Result};
use crate::proxy::{DOWNSTREAM, ToxicConfig, UPSTREAM};
use crate::scenario::{FaultKind, FaultSpec, LinkKind, StreamSpec};
use crate::stack::{ProxyRoutes, Stack};

/// The proxies a link fault acts on: the target's client proxy, or its replication link
/// to the primary (every replica's link into it, when the target is the primary).
fn proxies(stack: &Stack, link: LinkKind, node: &str) -> Vec<String> {
    let primary = stack.primary();
    match link {
        LinkKind::Client => vec![ProxyRoutes::client_proxy(node)],
        LinkKind::Replication if node == primary => {
            stack.proxy.as_ref().map(|p| p.replication_links_into(node).into_iter().map(|(_, px)| px).collect()).unwrap_or_default()
        }
        LinkKind::Replication => vec![ProxyRoutes::replication_proxy(node, &primary)],
    }
}

fn streams(s: Option<StreamSpec>) -> &'static [&'static str] {
    match s.unwrap_or_default() {
        StreamSpec::Upstream => &[UPSTREAM],
        StreamSpec::Downstream => &[DOWNSTREAM],
        StreamSpec::Both => &[UPSTREAM, DOWNSTREAM],
    }
}

pub(crate) async fn inject(stack: &Stack, index: usize, spec: &FaultSpec, node: &str) -> Result<Applied> {
    let routes = stack.proxy.as_ref().ok_or_else(|| Error::usage("a link fault needs a `proxy` in the scenario"))?;
    let link = spec.link.unwrap_or(LinkKind::Client);
    let api = routes.client();
    let targets = proxies(stack, link, node);
    let hit_primary = link == LinkKind::Client && node == stack.primary() && !matches!(spec.kind, FaultKind::Latency | FaultKind::Jitter);
    let mut undo = Vec::new();
    let mut result = Ok(());
    'outer: for px in &targets {
        if spec.kind == FaultKind::Down {
            if let Err(e) = api.set_enabled(px, false).await {
                result = Err(e);
                break;
            }
            undo.push(Undo::Enable { api: routes.api, proxy: px.clone() });
            continue;
        }
        for stream in streams(spec.stream) {
            let name = format!("drdrill-fault-{index}-{stream}");
            let toxic = match spec.kind {
                FaultKind::Latency | FaultKind::Jitter => {
                    ToxicConfig::latency(&name, *stream, spec.latency_ms.unwrap_or(0), spec.jitter_ms.unwrap_or(0))
                }
                FaultKind::Bandwidth => ToxicConfig::bandwidth(&name, *stream, spec.rate_kb_per_s.unwrap_or(1)),
                FaultKind::Timeout => ToxicConfig::timeout(&name, *stream, spec.timeout_ms.unwrap_or(0)),
                _ => ToxicConfig::reset_peer(&name, *stream, spec.timeout_ms.unwrap_or(0)),
            }
            .with_toxicity(spec.toxicity.unwrap_or(1.0));
            if let Err(e) = api.add_toxic(px, &toxic).await {
                result = Err(e);
                break 'outer;
            }
            undo.push(Undo::RemoveToxic { api: routes.api, proxy: px.clone(), toxic: name });
        }
    }
    if let Err(e) = result {
        rollback(&stack.docker, &undo).await;
        return Err(e);
    }
    let what = match spec.kind {
        FaultKind::Down => "down".to_string(),
        FaultKind::Latency | FaultKind::Jitter => {
            format!("{} ms ± {} ms", spec.latency_ms.unwrap_or(0), spec.jitter_ms.unwrap_or(0))
        }
        FaultKind::Bandwidth => format!("{} KB/s", spec.rate_kb_per_s.unwrap_or(1)),
        FaultKind::Timeout => match spec.timeout_ms.unwrap_or(0) {
            0 => "data stopped, connections held open".to_string(),
            ms => format!("data stopped, connections closed after {ms} ms"),
        },
        _ => format!("connections reset after {} ms", spec.timeout_ms.unwrap_or(0)),
    };
    Ok(Applied { detail: format!("{node} via {}: {what}", targets.join(", ")), undo, hit_primary, stamped: None })
}
