//! Packet-level faults, applied inside the nodes' own network namespaces (every node
//! runs with NET_ADMIN): `partition` (iptables DROP between groups), `loss` (iptables
//! `statistic`) and `bandwidth` (a tc `tbf` on the node's egress). There is no netem on
//! this kernel: latency and jitter come from the proxy (see link.rs).
//!
//! Traffic that goes through the proxy never crosses two nodes' addresses directly, so a
//! partition also blackholes the proxied links between its groups (a `timeout` toxic of
//! 0 ms: data stops, connections stay open, as with dropped packets).
use super::{Applied, Undo, rollback, run_script, run_stamped};
use crate::error::Result;
use crate::proxy::{DOWNSTREAM, ToxicConfig, UPSTREAM};
use crate::scenario::{Direction, FaultKind, FaultSpec};
use crate::stack::{ProxyRoutes, Stack};
use std::collections::BTreeMap;

pub(super) const CLIENTS: &str = "clients";

/// Every rule carries this comment, so a heal deletes exactly what the fault added.
fn comment(index: usize) -> String {
    format!("-m comment --comment drdrill-fault-{index}")
}

pub(crate) async fn inject(stack: &Stack, index: usize, spec: &FaultSpec, target: Option<&str>) -> Result<Applied> {
    match spec.kind {
        FaultKind::Partition => partition(stack, index, spec).await,
        FaultKind::Loss => {
            let node = target.unwrap_or_default();
            let p = spec.percent.unwrap_or(100.0) / 100.0;
            let c = comment(index);
            let rules = vec![
                format!("INPUT -i eth0 -m statistic --mode random --probability {p:.6} {c} -j DROP"),
                format!("OUTPUT -o eth0 -m statistic --mode random --probability {p:.6} {c} -j DROP"),
            ];
            let container = stack.node(node)?.container.clone();
            let (undo, stamped) = apply_rules(stack, &container, &rules).await?;
            let detail = format!("{node}: {}% of packets dropped", spec.percent.unwrap_or(100.0));
            Ok(Applied { detail, undo: vec![undo], hit_primary: false, stamped })
        }
        _ => {
            let node = target.unwrap_or_default();
            let kb = spec.rate_kb_per_s.unwrap_or(1);
            let bytes = kb.saturating_mul(1024);
            let burst = (bytes / 50).max(3200);
            let script = format!("tc qdisc add dev eth0 root tbf rate {}bit burst {burst} latency 1000ms", bytes.saturating_mul(8));
            let container = stack.node(node)?.container.clone();
            run_script(&stack.docker, &container, &script).await?;
            let undo = vec![Undo::Exec { container, script: "tc qdisc del dev eth0 root".into() }];
            Ok(Applied { detail: format!("{node}: egress limited to {kb} KB/s"), undo, hit_primary: false, stamped: None })
        }
    }
}

/// Inserts iptables rules in one container, all in one atomic `iptables-restore --noflush`
/// commit (the fault starts at one instant, not rule by rule); returns the step that
/// deletes them the same way.
/// Also returns the node's wall-clock times (ns) right before and after the commit.
async fn apply_rules(stack: &Stack, container: &str, rules: &[String]) -> Result<(Undo, Option<(i128, i128)>)> {
    let stamped = run_stamped(&stack.docker, container, &crate::stack::iptables_script("-I", rules)).await?;
    Ok((Undo::Exec { container: container.to_string(), script: crate::stack::iptables_script("-D", rules) }, stamped))
}

/// `pg-1 | pg-2, clients`
pub(crate) fn groups_text(stack: &Stack, spec: &FaultSpec) -> String {
    let groups = spec.groups.clone().unwrap_or_default();
    let resolve = |m: &String| if m == CLIENTS { m.clone() } else { stack.resolve(m).unwrap_or_else(|_| m.clone()) };
    groups.iter().map(|g| g.iter().map(resolve).collect::<Vec<_>>().join(", ")).collect::<Vec<_>>().join(" | ")
}

async fn partition(stack: &Stack, index: usize, spec: &FaultSpec) -> Result<Applied> {
    let groups = resolve_groups(stack, spec)?;
    let one_way = spec.direction == Some(Direction::OneWay);
    let proxy = stack.proxy.as_ref();
    let proxied_clients = proxy.is_some_and(|p| p.clients);
    let ip = addresses(stack, &groups, proxied_clients).await?;
    let cuts = cuts(&groups, &ip, &comment(index), one_way, proxy);
    let (undo, stamped) = apply_cuts(stack, index, cuts).await?;
    let primary = stack.primary();
    let group_of = |m: &str| groups.iter().position(|g| g.iter().any(|x| x == m));
    let hit_primary = match (group_of(CLIENTS), group_of(&primary)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    let how = if one_way { "one way" } else { "both ways" };
    Ok(Applied { detail: format!("{} ({how})", groups_text(stack, spec)), undo, hit_primary, stamped })
}

/// The partition's groups as they stand now: services expanded, `primary` / `replica-N`
/// resolved; refused when a member is named twice.
fn resolve_groups(stack: &Stack, spec: &FaultSpec) -> Result<Vec<Vec<String>>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let services: Vec<String> = stack.services.iter().map(|s| s.name.clone()).collect();
    for g in spec.groups.clone().unwrap_or_default() {
        let mut out = Vec::new();
        for m in g {
            if let Some(all) = crate::scenario::expand_service_group(&m, &services) {
                out.extend(all);
            } else if m == CLIENTS || services.contains(&m) {
                out.push(m);
            } else {
                out.push(stack.resolve(&m)?);
            }
        }
        groups.push(out);
    }
    // names that were distinct at validation may meet after a failover (`primary`, `pg-2`)
    let mut members: Vec<&String> = groups.iter().flatten().collect();
    members.sort();
    if let Some(w) = members.windows(2).find(|w| w[0] == w[1]) {
        return Err(crate::error::Error::usage(format!("partition groups name {} twice (after resolving primary / replica-N now)", w[0])));
    }
    Ok(groups)
}

/// Each member's address: a node's, and the clients' (the gateway, when they come through
/// published ports; none when they come through the proxy).
async fn addresses(stack: &Stack, groups: &[Vec<String>], proxied_clients: bool) -> Result<BTreeMap<String, String>> {
    let mut ip: BTreeMap<String, String> = BTreeMap::new();
    for m in groups.iter().flatten() {
        let addr = if m == CLIENTS {
            if proxied_clients {
                continue;
            }
            stack.docker.gateway(&stack.network).await?
        } else {
            stack.docker.ip(&stack.member(m)?.container, &stack.network).await?
        };
        ip.insert(m.clone(), addr);
    }
    Ok(ip)
}

/// What cuts a partition's groups apart.
struct Cuts {
    /// The iptables rules of each member.
    rules: BTreeMap<String, Vec<String>>,
    /// The (proxy, stream) pairs to blackhole.
    holes: Vec<(String, &'static str)>,
}

/// What cuts the groups apart, each rule tagged with comment `c`.
fn cuts(groups: &[Vec<String>], ip: &BTreeMap<String, String>, c: &str, one_way: bool, proxy: Option<&ProxyRoutes>) -> Cuts {
    let proxied_clients = proxy.is_some_and(|p| p.clients);
    let mut rules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut holes: Vec<(String, &str)> = Vec::new();
    let drop_from = |x: &String, y: &String, rules: &mut BTreeMap<String, Vec<String>>| {
        // packets from x to y are dropped: in x on the way out, in y on the way in
        if x != CLIENTS {
            rules.entry(x.clone()).or_default().push(format!("OUTPUT -d {} {c} -j DROP", ip[y]));
        }
        if y != CLIENTS {
            rules.entry(y.clone()).or_default().push(format!("INPUT -s {} {c} -j DROP", ip[x]));
        }
    };
    for (i, gi) in groups.iter().enumerate() {
        for gj in &groups[i + 1..] {
            for (a, b) in gi.iter().flat_map(|a| gj.iter().map(move |b| (a, b))) {
                let client_side = a == CLIENTS || b == CLIENTS;
                if !(client_side && proxied_clients) {
                    drop_from(a, b, &mut rules);
                    if !one_way {
                        drop_from(b, a, &mut rules);
                    }
                }
                holes.extend(proxied_holes(proxy, a, b, one_way));
            }
        }
    }
    Cuts { rules, holes }
}

/// Applies the rules, every member at once, then the proxy's blackholes; on any failure
/// undoes what was applied (nothing is left half-applied) and returns the first error.
/// Returns the undo steps and the latest commit's wall-clock stamps.
async fn apply_cuts(stack: &Stack, index: usize, Cuts { rules, holes }: Cuts) -> Result<(Vec<Undo>, Option<(i128, i128)>)> {
    let mut undo = Vec::new();
    let applied = futures_util::future::join_all(rules.iter().map(|(node, r)| async move {
        let container = stack.member(node)?.container.clone();
        apply_rules(stack, &container, r).await
    }))
    .await;
    let (mut first_err, mut stamped) = (None, None);
    for r in applied {
        match r {
            Ok((u, t)) => {
                undo.push(u);
                stamped = stamped.max(t);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let (Some(p), None) = (stack.proxy.as_ref(), &first_err) {
        let api = p.client();
        for (px, stream) in holes {
            let toxic = format!("drdrill-fault-{index}-{stream}");
            match api.add_toxic(&px, &ToxicConfig::timeout(&toxic, stream, 0)).await {
                Ok(_) => undo.push(Undo::RemoveToxic { api: p.api, proxy: px, toxic }),
                Err(e) => {
                    first_err.get_or_insert(e);
                    break;
                }
            }
        }
    }
    if let Some(e) = first_err {
        // leave nothing half-applied behind
        rollback(&stack.docker, &undo).await;
        return Err(e);
    }
    Ok((undo, stamped))
}

/// Proxied links that cross from `a` (earlier group) to `b`: (proxy, stream) to blackhole.
fn proxied_holes(proxy: Option<&ProxyRoutes>, a: &str, b: &str, one_way: bool) -> Vec<(String, &'static str)> {
    let Some(p) = proxy else { return Vec::new() };
    let mut out = Vec::new();
    // a client proxy's upstream runs clients -> node; a replication proxy repl-r-s runs r -> s upstream
    let mut add = |name: String, a_to_b: &'static str, b_to_a: &'static str| {
        out.push((name.clone(), a_to_b));
        if !one_way {
            out.push((name, b_to_a));
        }
    };
    if a == CLIENTS && p.clients {
        add(ProxyRoutes::client_proxy(b), UPSTREAM, DOWNSTREAM);
    } else if b == CLIENTS && p.clients {
        add(ProxyRoutes::client_proxy(a), DOWNSTREAM, UPSTREAM);
    } else if a != CLIENTS && b != CLIENTS && p.replication {
        add(ProxyRoutes::replication_proxy(a, b), UPSTREAM, DOWNSTREAM);
        add(ProxyRoutes::replication_proxy(b, a), DOWNSTREAM, UPSTREAM);
    }
    out
}
