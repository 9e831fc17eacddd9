//! Site faults (docs/regions.md), acting on the WAN links the chaos proxy runs and on the
//! site's containers: `isolate_site` (every path that leaves the site stops passing data;
//! the nodes keep running), `kill_site` (every node SIGKILLed), `degrade_link` (a link's
//! delay and rate changed; the heal puts the link back).
use super::{Applied, Undo, rollback};
use crate::error::{Error, Result};
use crate::proxy::{DOWNSTREAM, ToxicConfig, UPSTREAM};
use crate::scenario::{FaultKind, FaultSpec, LinkSpec};
use crate::stack::{Sites, Stack, iptables_script, is_wan_toxic, set_loss, wan_loss_rules, wan_toxics};

pub(crate) async fn inject(stack: &Stack, index: usize, spec: &FaultSpec) -> Result<Applied> {
    let sites = stack.sites.as_ref().ok_or_else(|| Error::usage("a site fault needs `sites`"))?;
    match spec.kind {
        FaultKind::KillSite => kill(stack, sites, spec).await,
        FaultKind::IsolateSite => isolate(stack, sites, index, spec).await,
        _ => degrade(stack, sites, spec).await,
    }
}

/// The site a fault names: a site, or `primary`, the site the primary is in now.
fn target(stack: &Stack, sites: &Sites, spec: &FaultSpec) -> String {
    named(stack, sites, spec.target.as_deref().unwrap_or_default())
}

/// `name` as a site: itself, or for `primary`, the site the primary is in now.
pub(super) fn named(stack: &Stack, sites: &Sites, name: &str) -> String {
    match name {
        "primary" => sites.site(&stack.primary()).unwrap_or_default().to_string(),
        site => site.to_string(),
    }
}

/// Every member of the site (its nodes, and an orchestrator's own there), SIGKILLed.
async fn kill(stack: &Stack, sites: &Sites, spec: &FaultSpec) -> Result<Applied> {
    let site = &target(stack, sites, spec);
    let members = sites.members(site);
    for n in &members {
        stack.docker.kill(&stack.member(n)?.container, "SIGKILL").await?;
    }
    let hit_primary = members.contains(&stack.primary());
    Ok(Applied { detail: format!("{site}: {} killed", members.join(", ")), undo: Vec::new(), hit_primary, stamped: None })
}

/// Sites that are groups on one network: the site's members on one side of a partition,
/// every other member on the other, the clients with their own site, or left alone when
/// they sit in every site (iptables in each member, both ways, all at once).
async fn isolate_flat(stack: &Stack, sites: &Sites, index: usize, spec: &FaultSpec) -> Result<Applied> {
    let site = &target(stack, sites, spec);
    let (mut inside, mut outside): (Vec<String>, Vec<String>) = sites.nodes.keys().cloned().partition(|n| sites.site(n) == Some(site));
    match (sites.clients_everywhere, sites.clients.as_deref() == Some(site)) {
        (true, _) => {}
        (false, true) => inside.push(super::network::CLIENTS.to_string()),
        (false, false) => outside.push(super::network::CLIENTS.to_string()),
    }
    let partition = FaultSpec { kind: FaultKind::Partition, groups: Some(vec![inside, outside]), direction: None, ..spec.clone() };
    let applied = super::network::inject(stack, index, &partition, None).await?;
    Ok(Applied { detail: format!("{site} cut off from the other sites: {}", applied.detail), ..applied })
}

/// Every path with one end in the site (replication across sites, clients outside it)
/// stops passing data, both ways; connections stay open, as a partition leaves them.
async fn isolate(stack: &Stack, sites: &Sites, index: usize, spec: &FaultSpec) -> Result<Applied> {
    if sites.flat {
        return isolate_flat(stack, sites, index, spec).await;
    }
    let site = &target(stack, sites, spec);
    let routes = stack.proxy.as_ref().ok_or_else(|| Error::infra("a drill with sites runs its WAN links through the proxy (a bug)"))?;
    let api = routes.client();
    // every path at once, as a partition cuts them: one after another, the last cut would
    // come milliseconds after the first, and the writes acknowledged in between would
    // replicate through the paths still open
    let mut cuts = Vec::new();
    for c in sites.crossings(routes).into_iter().filter(|c| Sites::leaves(&c.ends, site)) {
        for stream in [UPSTREAM, DOWNSTREAM] {
            cuts.push((c.proxy.clone(), format!("drdrill-fault-{index}-{stream}"), stream));
        }
    }
    let toxics: Vec<ToxicConfig> = cuts.iter().map(|(_, name, stream)| ToxicConfig::timeout(name, *stream, 0)).collect();
    let added = futures_util::future::join_all(cuts.iter().zip(&toxics).map(|((px, _, _), t)| api.add_toxic(px, t))).await;
    let mut undo = Vec::new();
    let mut failed = None;
    for ((px, name, _), r) in cuts.iter().zip(added) {
        match r {
            Ok(_) => undo.push(Undo::RemoveToxic { api: routes.api, proxy: px.clone(), toxic: name.clone() }),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        rollback(&stack.docker, &undo).await;
        return Err(e);
    }
    let cut = cuts.len() / 2;
    let primary = stack.primary();
    let clients_outside = sites.clients.as_deref() != Some(site);
    let hit_primary = clients_outside && sites.site(&primary) == Some(site);
    let detail = format!("{site}: {cut} paths out of it stop passing data (its nodes keep running)");
    Ok(Applied { detail, undo, hit_primary, stamped: None })
}

/// The link's toxics replaced by the degraded ones on every path that crosses it.
async fn degrade(stack: &Stack, sites: &Sites, spec: &FaultSpec) -> Result<Applied> {
    let between = spec.between.clone().unwrap_or_default();
    let (a, b) = (between.first().cloned().unwrap_or_default(), between.get(1).cloned().unwrap_or_default());
    let link = sites.link(Some(&a), Some(&b)).ok_or_else(|| Error::usage(format!("no WAN link between {a} and {b}")))?;
    let degraded = LinkSpec {
        latency_ms: spec.latency_ms.unwrap_or(link.latency_ms),
        jitter_ms: spec.jitter_ms.unwrap_or(link.jitter_ms),
        bandwidth_kb_per_s: spec.rate_kb_per_s.or(link.bandwidth_kb_per_s),
        loss_percent: spec.percent.unwrap_or(link.loss_percent),
        ..link.clone()
    };
    let routes = stack.proxy.as_ref().ok_or_else(|| Error::infra("a drill with sites runs its WAN links through the proxy (a bug)"))?;
    let api = routes.client();
    let mut undo = Vec::new();
    let crossing = sites.crossing_link(routes, &a, &b);
    let ports: Vec<u16> = crossing.iter().map(|c| c.listen).collect();
    let (was, now) = (wan_loss_rules(&ports, link.loss_percent), wan_loss_rules(&ports, degraded.loss_percent));
    if was != now {
        let container = &routes.container;
        set_loss(&stack.docker, container, "-D", &was).await?;
        set_loss(&stack.docker, container, "-I", &now).await?;
        let script = format!("{}\n{}", iptables_script("-D", &now), iptables_script("-I", &was));
        undo.push(Undo::Exec { container: container.clone(), script });
    }
    for c in crossing {
        let step = set_link(&api, &c.proxy, &wan_toxics(&degraded)).await;
        match step {
            Ok(before) => undo.push(Undo::SetToxics { api: routes.api, proxy: c.proxy, toxics: before }),
            Err(e) => {
                rollback(&stack.docker, &undo).await;
                return Err(e);
            }
        }
    }
    let rate = degraded.bandwidth_kb_per_s.map(|r| format!(", {r} KB/s")).unwrap_or_default();
    let loss = if degraded.loss_percent > 0.0 { format!(", {}% loss each way", degraded.loss_percent) } else { String::new() };
    let detail = format!("{a} <-> {b}: {} ± {} ms round trip{rate}{loss}", degraded.latency_ms, degraded.jitter_ms);
    Ok(Applied { detail, undo, hit_primary: false, stamped: None })
}

/// Puts `toxics` in place of a path's WAN toxics; returns the ones it had.
pub(crate) async fn set_link(api: &crate::proxy::ProxyClient, proxy: &str, toxics: &[ToxicConfig]) -> Result<Vec<ToxicConfig>> {
    let before: Vec<ToxicConfig> = api.toxics(proxy).await?.into_iter().filter(|t| is_wan_toxic(&t.name)).collect();
    for t in &before {
        api.remove_toxic(proxy, &t.name).await?;
    }
    for t in toxics {
        api.add_toxic(proxy, t).await?;
    }
    Ok(before)
}
