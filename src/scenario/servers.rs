//! One Keepalived for the whole server, as seed 004 fails its main server over: a
//! `files-keepalived` service's `keepalived.notify_master` names the drill's other services
//! that run on its two servers. The new master's notify_master promotes each of them after
//! its own mirror, and their clients reach them through its VIP. Here each name is checked
//! and resolved: the carrier learns their nodes, each carried service its carrier.
use super::kinds::{Carried, CarriedBy};
use super::locate::Problem;
use super::locate::Seg::{Index, Key, Name};
use super::model::*;
use super::services::{ServiceSpec, ServicesScenario};

/// The kinds whose replica a server's own script can promote.
const CARRIABLE: [&str; 2] = ["mariadb", "redis"];

/// The services whose stack runs a Keepalived that promotes others, with the names.
fn carriers(ss: &ServicesScenario) -> impl Iterator<Item = (&String, &ServiceSpec, &Vec<String>)> {
    ss.services.iter().filter_map(|(n, s)| s.stack.keepalived.as_ref().filter(|k| !k.notify_master.is_empty()).map(|k| (n, s, &k.notify_master)))
}

/// Whether `name` is a service `carrier`'s notify_master can promote: one of the drill's
/// other services, of a kind it can promote, as many nodes as the carrier has servers,
/// with no failover or proxy of its own. Why not, when it cannot.
fn refusal(ss: &ServicesScenario, carrier: &str, spec: &ServiceSpec, name: &str) -> Option<String> {
    let known = || ss.services.keys().cloned().collect::<Vec<_>>().join(", ");
    if name == carrier {
        return Some(format!("`{name}` is this stack's own service: notify_master makes its mirror the source first; name the others"));
    }
    let Some(other) = ss.services.get(name) else {
        return Some(format!("`{name}` is not a service of this drill (its services are {})", known()));
    };
    let kind = other.stack.kind.name();
    if !CARRIABLE.contains(&kind) {
        return Some(format!("notify_master promotes a {} replica; `{name}` is a {kind} stack", CARRIABLE.join(" or ")));
    }
    if other.stack.replicas != spec.stack.replicas {
        let servers = spec.stack.replicas + 1;
        return Some(format!("`{name}` needs one node on each of the {servers} servers (replicas: {}), found replicas: {}", spec.stack.replicas, other.stack.replicas));
    }
    let same_port = spec.stack.keepalived.iter().flat_map(|k| &k.notify_master).find(|n| *n != name && ss.services.get(*n).is_some_and(|o| o.stack.kind == other.stack.kind));
    if let Some(twin) = same_port {
        return Some(format!("`{name}` and `{twin}` are both {kind} stacks: they would listen on one port of the VIP; name one of them"));
    }
    if other.failover.is_some() {
        return Some(format!("Keepalived promotes `{name}`: drop its `failover` block"));
    }
    if other.proxy.is_some() || !other.stack.sites.is_empty() {
        return Some(format!("`{name}`'s clients reach it through the VIP: drop its `proxy` and `sites`"));
    }
    None
}

/// What is wrong with each `notify_master` of the drill, at the name.
pub(super) fn check(ss: &ServicesScenario, p: &mut Vec<Problem>) {
    let mut seen: Vec<&str> = Vec::new();
    for (carrier, spec, names) in carriers(ss) {
        for (i, name) in names.iter().enumerate() {
            let at = vec![Key("services"), Name(carrier.clone()), Key("stack"), Key("keepalived"), Key("notify_master"), Index(i)];
            match refusal(ss, carrier, spec, name) {
                Some(why) => p.push((at, why)),
                None if seen.contains(&name.as_str()) => p.push((at, format!("`{name}` is promoted by one notify_master only, and named once"))),
                None => seen.push(name),
            }
        }
    }
}

/// `stack` (service `name`'s, its nodes already named) with what notify_master resolves:
/// a carrier's list keeps the services it can promote, with their nodes; a carried
/// service learns its carrier. `named` gives a service's stack with its nodes named.
pub(super) fn resolve(ss: &ServicesScenario, name: &str, stack: &mut StackSpec, named: impl Fn(&str) -> Option<StackSpec>) {
    if let Some(k) = stack.keepalived.as_mut().filter(|k| !k.notify_master.is_empty()) {
        let spec = &ss.services[name];
        k.notify_master.retain(|n| refusal(ss, name, spec, n).is_none());
        k.carries = k.notify_master.iter().filter_map(|n| Some(Carried { service: n.clone(), nodes: named(n)?.node_names() })).collect();
    }
    for (carrier, _, names) in carriers(ss) {
        let Some(order) = names.iter().position(|n| n == name) else { continue };
        let Some(host) = named(carrier) else { continue };
        if refusal(ss, carrier, &ss.services[carrier.as_str()], name).is_some() {
            continue;
        }
        let keepalived = super::KeepalivedSpec { notify_master: Vec::new(), carries: Vec::new(), ..host.keepalived.clone().unwrap_or_default() };
        let (carrier, service, image) = (carrier.clone(), name.to_string(), host.image());
        stack.carried_by = Some(CarriedBy { carrier, service, image, hosts: host.node_names(), order, keepalived });
        return;
    }
}
