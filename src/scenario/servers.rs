//! One Keepalived for the whole server, as seed 004 fails its main server over: a
//! `files-keepalived` service's `keepalived.notify_master` names the drill's other services
//! that run on its two servers. The new master's notify_master promotes each of them after
//! its own mirror, and their clients reach them through its VIP. Here each name is checked
//! and resolved: the carrier learns their nodes, each carried service its carrier.
use super::kinds::{Carried, CarriedBy};
use super::locate::Problem;
use super::locate::Seg::{Index, Key, Name};
use super::model::*;

/// One service of the drill, as notify_master sees it.
pub(super) struct Member<'a> {
    pub name: &'a str,
    pub stack: &'a StackSpec,
    /// It has a `failover` block of its own.
    pub failover: bool,
    /// It has a `proxy` of its own.
    pub proxy: bool,
}

/// The services whose stack runs a Keepalived that promotes others, with the names.
fn carriers<'a>(all: &'a [Member<'a>]) -> impl Iterator<Item = (&'a Member<'a>, &'a Vec<String>)> {
    all.iter().filter_map(|m| m.stack.keepalived.as_ref().filter(|k| !k.notify_master.is_empty()).map(|k| (m, &k.notify_master)))
}

fn member<'a>(all: &'a [Member<'a>], name: &str) -> Option<&'a Member<'a>> {
    all.iter().find(|m| m.name == name)
}

/// Whether `name` is a service `carrier`'s notify_master can promote: one of the drill's
/// other services, of a kind it can promote, as many nodes as the carrier has servers,
/// with no failover or proxy of its own. Why not, when it cannot.
fn refusal(all: &[Member], carrier: &Member, name: &str) -> Option<String> {
    let known = || all.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
    if name == carrier.name {
        return Some(format!("`{name}` is this stack's own service: notify_master makes its mirror the source first; name the others"));
    }
    let Some(other) = member(all, name) else {
        return Some(format!("`{name}` is not a service of this drill (its services are {})", known()));
    };
    let kind = other.stack.kind.name();
    if !other.stack.kind.info().server_promotes {
        let can = super::kinds::kind_names(|k| k.info().server_promotes).join(" or ");
        return Some(format!("notify_master promotes a {can} replica; `{name}` is a {kind} stack"));
    }
    let replicas = carrier.stack.replicas;
    if other.stack.replicas != replicas {
        let servers = replicas + 1;
        return Some(format!(
            "`{name}` needs one node on each of the {servers} servers (replicas: {replicas}), found replicas: {}",
            other.stack.replicas
        ));
    }
    let names = carrier.stack.keepalived.iter().flat_map(|k| &k.notify_master);
    if let Some(twin) = names.filter(|n| *n != name).find(|n| member(all, n).is_some_and(|o| o.stack.kind == other.stack.kind)) {
        return Some(format!("`{name}` and `{twin}` are both {kind} stacks: they would listen on one port of the VIP; name one of them"));
    }
    if other.failover {
        return Some(format!("Keepalived promotes `{name}`: drop its `failover` block"));
    }
    if other.proxy || !other.stack.sites.is_empty() {
        return Some(format!("`{name}`'s clients reach it through the VIP: drop its `proxy` and `sites`"));
    }
    None
}

/// What is wrong with each `notify_master` of the drill, at the name.
pub(super) fn check(all: &[Member], p: &mut Vec<Problem>) {
    let mut seen: Vec<&str> = Vec::new();
    for (carrier, names) in carriers(all) {
        for (i, name) in names.iter().enumerate() {
            let at = vec![Key("services"), Name(carrier.name.to_string()), Key("stack"), Key("keepalived"), Key("notify_master"), Index(i)];
            match refusal(all, carrier, name) {
                Some(why) => p.push((at, why)),
                None if seen.contains(&name.as_str()) => {
                    p.push((at, format!("`{name}` is promoted by one notify_master only, and named once")))
                }
                None => seen.push(name),
            }
        }
    }
}

/// `stack` (service `name`'s, its nodes already named) with what notify_master resolves:
/// a carrier's list keeps the services it can promote, with their nodes; a carried
/// service learns its carrier. `named` gives a service's stack with its nodes named.
pub(super) fn resolve(all: &[Member], name: &str, stack: &mut StackSpec, named: impl Fn(&str) -> Option<StackSpec>) {
    if let Some(k) = stack.keepalived.as_mut().filter(|k| !k.notify_master.is_empty()) {
        let Some(me) = member(all, name) else { return };
        k.notify_master.retain(|n| refusal(all, me, n).is_none());
        k.carries = k.notify_master.iter().filter_map(|n| Some(Carried { service: n.clone(), nodes: named(n)?.node_names() })).collect();
    }
    for (carrier, names) in carriers(all) {
        let Some(order) = names.iter().position(|n| n == name) else { continue };
        let Some(host) = named(carrier.name).filter(|_| refusal(all, carrier, name).is_none()) else { continue };
        let keepalived =
            super::KeepalivedSpec { notify_master: Vec::new(), carries: Vec::new(), ..host.keepalived.clone().unwrap_or_default() };
        let (carrier, service, image) = (carrier.name.to_string(), name.to_string(), host.image());
        stack.carried_by = Some(CarriedBy { carrier, service, image, hosts: host.node_names(), order, keepalived });
        return;
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    const FILES: &str =
        "  config:\n    stack:\n      kind: files-keepalived\n      replicas: 1\n      keepalived:\n        notify_master: [";

    /// A drill of files (whose notify_master is `names`) and `others`, or what is wrong.
    fn drill(names: &str, others: &str) -> Result<crate::scenario::Loaded, String> {
        let yaml = format!("name: t\nservices:\n{FILES}{names}]\n    targets: {{}}\n{others}");
        parse(std::path::Path::new("t.yaml"), yaml).map_err(|e| e.to_string())
    }

    const MYSQL: &str = "  mysql:\n    stack: {kind: mariadb, replicas: 1}\n    targets: {}\n";
    const CACHE: &str = "  cache:\n    stack: {kind: redis, replicas: 1}\n    targets: {}\n";

    #[test]
    fn notify_master_hands_each_named_service_its_servers() {
        let l = drill("mysql, cache", &format!("{MYSQL}{CACHE}")).unwrap();
        let plan = |n: &str| l.services.iter().find(|p| p.name == n).unwrap().view.stack.clone();
        assert_eq!(l.services[0].name, "config", "the Keepalived's service starts first");
        let carries = plan("config").keepalived.unwrap().carries;
        assert_eq!(
            carries.iter().map(|c| (c.service.as_str(), c.nodes.join(","))).collect::<Vec<_>>(),
            [("mysql", "db-1,db-2".into()), ("cache", "redis-1,redis-2".into())]
        );
        let by = plan("cache").carried_by.unwrap();
        assert_eq!((by.carrier.as_str(), by.hosts.join(","), by.order), ("config", "files-1,files-2".into(), 1));
        assert_eq!(
            l.services.iter().find(|p| p.name == "cache").unwrap().view.failover_mode(),
            Some(crate::scenario::FailoverMode::Orchestrator)
        );
    }

    #[test]
    fn a_notify_master_naming_what_it_cannot_promote_is_refused_at_the_name() {
        let pg = "  pg:\n    stack: {kind: postgres, replicas: 1}\n    targets: {}\n";
        let two = "  mysql:\n    stack: {kind: mariadb, replicas: 2}\n    targets: {}\n";
        let own = "  mysql:\n    stack: {kind: mariadb, replicas: 1}\n    failover: {promote: db-2}\n    targets: {}\n";
        let cases = [
            ("db", MYSQL, "t.yaml:8:", "`db` is not a service of this drill (its services are config, mysql)"),
            ("mysql, pg", &format!("{MYSQL}{pg}"), "t.yaml:8:", "promotes a redis or mariadb replica; `pg` is a postgres stack"),
            ("config", "", "t.yaml:8:", "this stack's own service"),
            ("mysql", two, "t.yaml:8:", "one node on each of the 2 servers (replicas: 1), found replicas: 2"),
            ("mysql", own, "t.yaml:8:", "Keepalived promotes `mysql`: drop its `failover` block"),
        ];
        for (names, others, at, want) in cases {
            let e = drill(names, others).unwrap_err();
            assert!(e.contains(at) && e.contains(want), "{names}: {e}");
        }
        let single = "name: t\ntargets: {}\nstack:\n  kind: files-keepalived\n  replicas: 1\n  keepalived: {notify_master: [mysql]}\n";
        let e = parse(std::path::Path::new("t.yaml"), single.into()).unwrap_err().to_string();
        assert!(e.contains("t.yaml:6:") && e.contains("`mysql` is not a service of this drill"), "{e}");
    }

    #[test]
    fn files_beside_files_keepalived_get_names_of_their_own() {
        let lsyncd = "  uploads:\n    stack: {kind: files, replicas: 1, files: {sync: lsyncd}}\n    targets: {}\n";
        let l = drill("mysql", &format!("{MYSQL}{lsyncd}")).unwrap();
        let names = |n: &str| l.services.iter().find(|p| p.name == n).unwrap().view.stack.node_names();
        assert_eq!(
            (names("config"), names("uploads")),
            (vec!["config-files-1".to_string(), "config-files-2".into()], vec!["uploads-files-1".to_string(), "uploads-files-2".into()])
        );
        let by = l.services.iter().find(|p| p.name == "mysql").unwrap().view.stack.carried_by.clone().unwrap();
        assert_eq!(by.hosts, ["config-files-1", "config-files-2"]);
    }
}
