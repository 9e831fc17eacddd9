//! What a region drill adds to a scenario, checked: the drill's own DNS (`dns:`,
//! docs/dns.md), how the clients look names up (`workload.resolve`), the sites and their
//! WAN links. Their types are in `model/network.rs`.
use super::locate::Problem;
use super::locate::Seg::{self, Key};
use super::model::{Resolve, Scenario};

impl Scenario {
    /// The proxy the drill runs: the scenario's, or, with sites, one that carries the
    /// clients and the replication (it runs the WAN links).
    pub fn effective_proxy(&self) -> Option<super::model::ProxySpec> {
        match (&self.proxy, self.sites.is_empty() || self.flat_sites()) {
            (Some(p), _) => Some(p.clone()),
            (None, false) => Some(super::model::ProxySpec { image: None, clients: true, replication: true }),
            (None, true) => None,
        }
    }

    /// Whether its sites are groups on the drill's one network rather than networks of
    /// their own: an orchestrator's members (Patroni and etcd, Sentinels) announce one
    /// address to every site, so no per-path proxy can carry them across sites; isolating
    /// a site cuts it off with iptables, as a partition does.
    pub fn flat_sites(&self) -> bool {
        !self.sites.is_empty() && flat_kind(&self.stack)
    }
}

/// The kinds whose members span sites on one network (`KindInfo::members_span_sites`).
fn flat_kind(st: &super::model::StackSpec) -> bool {
    st.kind.info().members_span_sites
}

/// The kinds drdrill starts and promotes in itself (`postgres`, `redis`, `mariadb`).
fn bare_kinds() -> Vec<&'static str> {
    super::kinds::kind_names(|k| !k.orchestrated() && !k.is_external())
}

/// `dns` and `workload.resolve` where they cannot work.
pub(super) fn validate_dns(s: &Scenario, p: &mut Vec<Problem>) {
    let info = s.stack.kind.info();
    if s.dns.as_ref().is_some_and(|d| d.services.is_some()) {
        p.push((vec![Key("dns"), Key("services")], "`services` names the services of a drill of several; this one has one".into()));
    }
    let Some(dns) = &s.dns else {
        if s.workload.resolve != Resolve::Ttl && s.stack.resolver.is_none() {
            p.push((
                vec![Key("workload"), Key("resolve")],
                "`resolve` needs a name to look up: the drill's DNS (`dns: {ttl_s: N}`) or an external stack's `resolver`".into(),
            ));
        }
        return;
    };
    super::bounds::check(p, vec![Key("dns"), Key("ttl_s")], "DnsSpec.ttl_s", f64::from(dns.ttl_s), "");
    if info.external {
        p.push((
            vec![Key("dns")],
            "an external stack's clients use its own endpoint and DNS; drdrill's DNS serves the stacks it starts".into(),
        ));
    } else if let Some(o) = info.orchestrator {
        p.push((
            vec![Key("dns")],
            format!(
                "the clients of {} reach it through {o}'s own entry point; drdrill's DNS fails over {}",
                info.name,
                super::kinds::spoken_list(&bare_kinds(), "and")
            ),
        ));
    }
    if s.proxy.as_ref().is_some_and(|x| x.clients) {
        p.push((
            vec![Key("proxy"), Key("clients")],
            "with `dns`, the clients reach each node at its own address, not through the proxy".into(),
        ));
    }
}

/// An orchestrator's members across sites: one network, so its WAN links carry no delay,
/// rate or loss yet, and the orchestrator, not drdrill, chooses where to promote.
fn validate_flat(s: &Scenario, p: &mut Vec<Problem>) {
    use super::locate::Seg::Index;
    let name = s.stack.kind.info().name;
    for (i, l) in s.wan.iter().enumerate() {
        if !l.is_plain() {
            p.push((
                vec![Key("wan"), Index(i)],
                format!(
                    "{name}'s members announce one address to every site, so its WAN is not run through the proxy yet: a link takes no latency, jitter, bandwidth or loss"
                ),
            ));
        }
    }
    for (i, _) in s.faults.iter().enumerate().filter(|(_, f)| f.kind == super::model::FaultKind::DegradeLink) {
        p.push((
            vec![Key("faults"), Index(i), Key("kind")],
            format!("{name}'s WAN links carry nothing to degrade yet: isolate or kill a site"),
        ));
    }
    if s.failover.as_ref().is_some_and(|f| f.site.is_some()) {
        p.push((vec![Key("failover"), Key("site")], format!("{name}'s own orchestrator chooses where to promote")));
    }
}

/// A `dns` failover step: the drill has a DNS, and `to` is a node or a site.
pub(super) fn check_dns_step(s: &Scenario, d: &super::actions::DnsMove, at: Vec<Seg>, p: &mut Vec<Problem>) {
    let mut to = at.clone();
    to.push(Key("to"));
    if s.dns.is_none() {
        p.push((at, "a `dns` step moves a name in the drill's own DNS: add `dns: {ttl_s: N}`".into()));
        return;
    }
    let nodes = s.stack.node_names();
    if !nodes.contains(&d.to) && !s.sites.contains(&d.to) {
        let sites = if s.sites.is_empty() { String::new() } else { format!("; sites: {}", s.sites.join(", ")) };
        p.push((to, format!("expected a node or a site, found `{}` (nodes: {}{sites})", d.to, nodes.join(", "))));
    }
}

/// Each `dns` step names its own service (`service` or `service.drill.`): a runbook moves
/// the record of the service it fails over.
pub(super) fn check_dns_names(s: &Scenario, service: &str, p: &mut Vec<Problem>) {
    use super::locate::Seg::Index;
    let steps = s.failover.as_ref().map(|f| f.steps.as_slice()).unwrap_or_default();
    for (i, d) in steps.iter().enumerate().filter_map(|(i, a)| a.dns.as_ref().map(|d| (i, d))) {
        let bare = d.name.trim_end_matches('.').trim_end_matches(&format!(".{}", crate::dns::ZONE.trim_end_matches('.')));
        if bare != service {
            let at = vec![Key("failover"), Key("steps"), Index(i), Key("dns"), Key("name")];
            p.push((at, format!("expected this service's name, `{service}` (or `{service}.{}`), found `{}`", crate::dns::ZONE, d.name)));
        }
    }
}

/// Whether sites `a` and `b` are one, or joined by a link.
pub(super) fn linked(s: &Scenario, a: &str, b: &str) -> bool {
    a == b || s.wan.iter().any(|l| l.between.len() == 2 && l.joins(a, b))
}

/// Every node reaches what it applies changes from through the links: a multi-active node
/// every other node; a replica the primary, in the first node's site (`replicas`: every node
/// placed, on networks of their own).
fn check_reach(s: &Scenario, placed: &[&str], replicas: bool, p: &mut Vec<Problem>) {
    let info = s.stack.kind.info();
    // at the links, or where the sites are declared when there are none to point at
    let at = || vec![Key(if s.wan.is_empty() { "sites" } else { "wan" })];
    if info.multi_active {
        if let Some((a, b)) = placed.iter().flat_map(|a| placed.iter().map(move |b| (*a, *b))).find(|(a, b)| !linked(s, a, b)) {
            let why = format!(
                "every node of a {} stack applies every other's changes, but {a} and {b} cannot reach each other: add a `wan` link between them",
                info.name
            );
            p.push((at(), why));
        }
    } else if let (Some(first), true) = (placed.first(), replicas)
        && let Some(far) = placed.iter().find(|x| !linked(s, first, x))
    {
        p.push((at(), format!("the replicas in {far} cannot reach the primary in {first}: add a `wan` link between them")));
    }
}

/// `sites`, `wan`, `stack.sites`, `workload.site` and `failover.site`, together.
pub(super) fn validate_sites(s: &Scenario, p: &mut Vec<Problem>) {
    if s.sites.is_empty() {
        stray_site_keys(s, p);
        return;
    }
    sites_and_links(s, p);
    let info = s.stack.kind.info();
    let flat = flat_kind(&s.stack);
    let placed_services = (info.placed_services)(&s.stack);
    if !placeable(s, flat, &placed_services, p) {
        return;
    }
    if flat {
        validate_flat(s, p);
    }
    // every member is placed: the nodes, and an orchestrator's own (etcd, Sentinels, HAProxy)
    let mut nodes = s.stack.node_names();
    if flat {
        nodes.extend((info.services)(&s.stack));
    }
    services_placed(s, &placed_services, p);
    members_placed(s, &nodes, if flat { &[] } else { &placed_services }, p);
    let placed: Vec<&str> = nodes.iter().filter_map(|n| site_of(s, n)).collect();
    clients_reach(s, &placed, p);
    check_reach(s, &placed, placed.len() == nodes.len() && !flat, p);
    failover_site(s, &nodes, p);
    if s.proxy.is_some() {
        p.push((vec![Key("proxy")], "with `sites`, the proxy runs the WAN links: leave `proxy` out".into()));
    }
}

/// Without `sites`, every key that places or links is refused.
fn stray_site_keys(s: &Scenario, p: &mut Vec<Problem>) {
    let stray = [
        (!s.wan.is_empty(), Key("wan")),
        (!s.stack.sites.is_empty(), Key("stack")),
        (s.workload.site.is_some(), Key("workload")),
        (s.failover.as_ref().is_some_and(|f| f.site.is_some()), Key("failover")),
    ];
    for (_, k) in stray.into_iter().filter(|x| x.0) {
        p.push((vec![k], "sites are placed and linked only in a scenario with `sites: [..]`".into()));
    }
}

/// Whether sites can place this stack: an external stack, or one running services it
/// cannot place, cannot be.
fn placeable(s: &Scenario, flat: bool, placed_services: &[String], p: &mut Vec<Problem>) -> bool {
    let info = s.stack.kind.info();
    let unplaceable = (info.services)(&s.stack).into_iter().any(|x| !placed_services.contains(&x));
    if !info.external && (flat || !unplaceable) {
        return true;
    }
    p.push((
        vec![Key("sites")],
        format!(
            "sites place the nodes of {} stacks, and the members of {}; {} runs more than its nodes",
            super::kinds::spoken_list(&bare_kinds(), "and"),
            super::kinds::spoken_list(&super::kinds::kind_names(|k| k.info().members_span_sites), "and"),
            info.name
        ),
    ));
    false
}

/// The clients' site is one of the sites, linked to every site a member stands in.
fn clients_reach(s: &Scenario, placed: &[&str], p: &mut Vec<Problem>) {
    let Some(c) = &s.workload.site else { return };
    if let Some(why) = unknown_site(s, c) {
        p.push((vec![Key("workload"), Key("site")], why));
    } else if let Some(far) = placed.iter().find(|x| !linked(s, c, x)) {
        p.push((vec![Key("workload"), Key("site")], format!("the clients in {c} cannot reach {far}: add a `wan` link between them")));
    }
}

/// The failover's site is one of the sites and holds a replica to promote (a restore
/// needs none).
fn failover_site(s: &Scenario, nodes: &[String], p: &mut Vec<Problem>) {
    let restore = s.failover_mode() == Some(super::model::FailoverMode::Restore);
    let Some(site) = s.failover.as_ref().and_then(|f| f.site.as_ref()) else { return };
    if let Some(why) = unknown_site(s, site) {
        p.push((vec![Key("failover"), Key("site")], why));
    } else if !restore && !nodes[1..].iter().any(|n| site_of(s, n) == Some(site.as_str())) {
        p.push((vec![Key("failover"), Key("site")], format!("no replica in {site} to promote")));
    }
}

/// The containers a kind places in a site of the scenario's choosing (an archive host):
/// each in one of the sites, and reachable from every node's site.
fn services_placed(s: &Scenario, services: &[String], p: &mut Vec<Problem>) {
    for svc in services {
        match site_of(s, svc) {
            None => {
                let why = format!(
                    "the archive host `{svc}` is outside the sites: place it in one of {} (`stack.sites: {{{}: [{svc}]}}`, the DR site)",
                    s.sites.join(", "),
                    s.sites.last().map(String::as_str).unwrap_or("dc2")
                );
                p.push((vec![Key("stack"), Key("sites")], why));
            }
            Some(at) if unknown_site(s, at).is_none() => {
                let far = s.stack.node_names().into_iter().filter_map(|n| site_of(s, &n)).find(|n| !linked(s, at, n));
                if let Some(far) = far {
                    let why = format!("the nodes in {far} cannot reach the archive host `{svc}` in {at}: add a `wan` link between them");
                    p.push((vec![Key("stack"), Key("sites"), Seg::Name(at.to_string())], why));
                }
            }
            Some(_) => {} // an unknown site: members_placed says so
        }
    }
}

/// The site `node` is placed in.
pub(super) fn site_of<'a>(s: &'a Scenario, node: &str) -> Option<&'a str> {
    s.stack.sites.iter().find(|(_, m)| m.iter().any(|x| x == node)).map(|(k, _)| k.as_str())
}

/// Why `site` is not one of the scenario's `sites`, or None when it is.
pub(super) fn unknown_site(s: &Scenario, site: &str) -> Option<String> {
    (!s.sites.iter().any(|y| y == site)).then(|| format!("no site `{site}` (sites: {})", s.sites.join(", ")))
}

/// The sites' names, and the `wan` links: each between two different sites, once.
fn sites_and_links(s: &Scenario, p: &mut Vec<Problem>) {
    let sites = &s.sites;
    for (i, n) in sites.iter().enumerate() {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') || sites[..i].contains(n) {
            p.push((vec![Key("sites"), Seg::Index(i)], format!("site `{n}`: expected a unique name of lowercase letters, digits and '-'")));
        }
    }
    for (i, l) in s.wan.iter().enumerate() {
        let at = |k: &'static str| vec![Key("wan"), Seg::Index(i), Key(k)];
        if l.between.len() != 2 || l.between[0] == l.between[1] || !l.between.iter().all(|x| sites.contains(x)) {
            let list = sites.join(", ");
            p.push((at("between"), format!("expected two different sites of {list}, found [{}]", l.between.join(", "))));
        } else if s.wan[..i].iter().any(|m| m.between.len() == 2 && m.joins(&l.between[0], &l.between[1])) {
            p.push((at("between"), format!("a second link between {} and {}", l.between[0], l.between[1])));
        }
        super::bounds::check(p, at("loss_percent"), "LinkSpec.loss_percent", l.loss_percent, "");
    }
}

/// `stack.sites`: every site one of `sites`, every member one of `nodes` or `services`
/// (the containers a kind lets the scenario place), every node in exactly one site, and a
/// service in at most one (`services_placed` says where one must go).
fn members_placed(s: &Scenario, nodes: &[String], services: &[String], p: &mut Vec<Problem>) {
    let all: Vec<String> = nodes.iter().chain(services).cloned().collect();
    for (site, members) in &s.stack.sites {
        let at = || vec![Key("stack"), Key("sites"), Seg::Name(site.clone())];
        if let Some(why) = unknown_site(s, site) {
            p.push((at(), why));
        }
        for m in members.iter().filter(|m| !all.contains(m)) {
            p.push((at(), format!("no node `{m}` (nodes: {})", all.join(", "))));
        }
    }
    for n in &all {
        let count = s.stack.sites.values().filter(|m| m.contains(n)).count();
        if count != 1 && !(count == 0 && services.contains(n)) {
            p.push((vec![Key("stack"), Key("sites")], format!("node `{n}` must be in exactly one site (it is in {count})")));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use crate::scenario::parse;

    /// The problems a scenario given as text is refused with (empty: accepted).
    pub(in crate::scenario) fn problems(yaml: &str) -> String {
        match parse(std::path::Path::new("t.yaml"), yaml.to_string()) {
            Ok(_) => String::new(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn dns_is_refused_where_it_cannot_work() {
        let base = "name: t\ntargets: {}\n";
        assert_eq!(problems(&format!("{base}stack: {{kind: postgres, replicas: 1}}\ndns: {{ttl_s: 5}}\n")), "");
        let e = problems(&format!("{base}stack: {{kind: patroni}}\ndns: {{ttl_s: 5}}\n"));
        assert!(e.contains("HAProxy") || e.contains("Patroni"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\nworkload: {{resolve: once}}\n"));
        assert!(e.contains("needs a name to look up"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\ndns: {{ttl_s: 100000}}\n"));
        assert!(e.contains("ttl_s must be between 0 and 86400, found 100000"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\nworkload: {{resolve: sometimes}}\n"));
        assert!(e.contains("sometimes"), "{e}");
    }

    #[test]
    fn dns_names_the_services_whose_clients_look_their_primary_up() {
        let drill = "name: t\ndns: {ttl_s: 5, services: [db]}\nservices:\n  db: {stack: {kind: postgres, replicas: 1}, targets: {}}\n  \
            cache: {stack: {kind: redis, replicas: 1}, targets: {}}\n";
        assert_eq!(problems(drill), "");
        let l = parse(std::path::Path::new("t.yaml"), drill.to_string()).unwrap();
        let dns: Vec<(String, bool)> = l.services.iter().map(|p| (p.name.clone(), p.view.dns.is_some())).collect();
        assert_eq!(dns, [("cache".to_string(), false), ("db".to_string(), true)], "only db's clients use the DNS");
        let e = problems(&drill.replace("services: [db]", "services: [dbx]"));
        assert!(e.contains("t.yaml:2:") && e.contains("unknown service `dbx` (the services are cache, db)"), "{e}");
        let one = "name: t\ntargets: {}\nstack: {kind: postgres, replicas: 1}\ndns: {ttl_s: 5, services: [postgres]}\n";
        assert!(problems(one).contains("`services` names the services of a drill of several"), "{}", problems(one));
    }

    #[test]
    fn sites_are_placed_and_linked_or_the_file_says_where() {
        let base = "name: t\ntargets: {}\nsites: [dc1, dc2]\n";
        let ok = format!(
            "{base}wan: [{{between: [dc1, dc2], latency_ms: 30}}]\nstack: {{kind: postgres, replicas: 1, sites: {{dc1: [pg-1], dc2: [pg-2]}}}}\n"
        );
        assert_eq!(problems(&ok), "");
        let e = problems(&format!("{base}stack: {{kind: postgres, replicas: 1, sites: {{dc1: [pg-1], dc2: [pg-2]}}}}\n"));
        assert!(e.contains("cannot reach the primary in dc1"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres, replicas: 1, sites: {{dc1: [pg-1]}}}}\n"));
        assert!(e.contains("`pg-2` must be in exactly one site"), "{e}");
        let e = problems(&format!("{base}wan: [{{between: [dc1, dc3]}}]\nstack: {{kind: postgres, sites: {{dc1: [pg-1]}}}}\n"));
        assert!(e.contains("expected two different sites"), "{e}");
        let lossy = ok.replace("latency_ms: 30", "latency_ms: 30, loss_percent: 1.5");
        assert_eq!(problems(&lossy), "");
        let e = problems(&ok.replace("latency_ms: 30", "loss_percent: 101"));
        assert!(e.contains("loss_percent must be between 0 and 100, found 101"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: mariadb-mha, sites: {{dc1: [db-1]}}}}\n"));
        assert!(e.contains("runs more than its nodes"), "{e}");
        let e = problems(&format!("{ok}faults: [{{at_ms: 1000, kind: isolate_site, target: dc9}}]\n"));
        assert!(e.contains("expected a site (dc1, dc2)"), "{e}");
        let e = problems("name: t\ntargets: {}\nstack: {kind: postgres}\nfaults: [{at_ms: 1000, kind: kill_site, target: dc1}]\n");
        assert!(e.contains("needs `sites`"), "{e}");
    }

    #[test]
    fn an_archive_host_outside_the_sites_is_refused_with_its_line() {
        let drill = |placed: &str| {
            format!(
                "name: t\ntargets: {{}}\nsites: [dc1, dc2]\nwan: [{{between: [dc1, dc2]}}]\nstack:\n  kind: postgres\n  replicas: 1\n  \
                 sites: {{dc1: [pg-1, pg-2]{placed}}}\n  backup: {{tool: rsync, archive_timeout_s: 10}}\n"
            )
        };
        assert_eq!(problems(&drill(", dc2: [dr-storage]")), "");
        let e = problems(&drill(""));
        assert!(e.contains("t.yaml:8:3") && e.contains("the archive host `dr-storage` is outside the sites"), "{e}");
        assert!(!e.contains("exactly one site"), "said twice: {e}");
        let e = problems(&drill(", dc3: [dr-storage]"));
        assert!(e.contains("t.yaml:8:") && e.contains("no site `dc3` (sites: dc1, dc2)"), "{e}");
        let e = problems(&drill(", dc2: [dr-storage]").replace("wan: [{between: [dc1, dc2]}]\n", ""));
        assert!(e.contains("cannot reach the archive host `dr-storage` in dc2"), "{e}");
        // pgBackRest runs no archive host: there is none to place
        let e = problems(&drill(", dc2: [dr-storage]").replace("tool: rsync, ", ""));
        assert!(e.contains("no node `dr-storage`"), "{e}");
        // the rsync archive restores to the latest state only; mariadb takes no `tool`
        let pitr = "name: t\ntargets: {}\nstack: {kind: postgres, backup: {tool: rsync}}\nfaults: [{at_ms: 1000, kind: destroy_data, target: primary}]\n\
                    failover: {mode: restore, restore_to: before_fault, trigger: {delay: {delay_ms: 1}}}\n";
        assert!(problems(pitr).contains("recovers to the latest state only (pg_basebackup + rsync over SSH)"), "{}", problems(pitr));
        let e = problems("name: t\ntargets: {}\nstack: {kind: mariadb, backup: {tool: rsync}}\n");
        assert!(e.contains("`tool` is not a mariadb setting"), "{e}");
    }

    #[test]
    fn a_dns_step_names_its_service_and_a_node_or_site_or_the_file_says_where() {
        let base = "name: t\ntargets: {}\nsites: [dc1, dc2]\nwan: [{between: [dc1, dc2]}]\n\
            stack: {kind: postgres, replicas: 1, sites: {dc1: [pg-1], dc2: [pg-2]}}\n\
            faults: [{at_ms: 1000, kind: isolate_site, target: dc1}]\n";
        let steps = |dns: &str, to: &str| {
            format!("{base}{dns}failover:\n  trigger: {{delay: {{delay_ms: 1}}}}\n  steps:\n    - dns: {{name: postgres, to: {to}}}\n")
        };
        assert_eq!(problems(&steps("dns: {ttl_s: 2}\n", "dc2")), "");
        assert_eq!(problems(&steps("dns: {ttl_s: 2}\n", "pg-2")), "");
        let e = problems(&steps("dns: {ttl_s: 2}\n", "dc9"));
        assert!(e.contains("t.yaml:11:") && e.contains("expected a node or a site, found `dc9`"), "{e}");
        let e = problems(&steps("", "dc2"));
        assert!(e.contains("add `dns: {ttl_s: N}`"), "{e}");
        let wrong = format!(
            "{base}dns: {{ttl_s: 2}}\nfailover:\n  trigger: {{delay: {{delay_ms: 1}}}}\n  steps:\n    - dns: {{name: cache, to: dc2}}\n"
        );
        let e = problems(&wrong);
        assert!(e.contains("expected this service's name, `postgres`"), "{e}");
        let hook = format!("{base}dns: {{ttl_s: 2}}\nhooks:\n  before:\n    - dns: {{name: postgres, to: dc2}}\n");
        assert!(problems(&hook).contains("it is a failover step only"), "{}", problems(&hook));
    }

    #[test]
    fn an_external_resolver_looks_a_name_up_for_named_nodes() {
        let ext = |endpoint: &str, resolver: &str, nodes: &str| {
            format!(
                "name: t\ntargets: {{}}\nstack: {{kind: external, engine: postgres, endpoint: \"{endpoint}\", resolver: \"{resolver}\"{nodes}}}\n\
                 workload: {{resolve: once}}\n"
            )
        };
        let nodes = ", nodes: {a: \"127.0.0.21:5432\", b: \"127.0.0.22:5432\"}";
        assert_eq!(problems(&ext("db.example:5432", "127.0.0.1:5353", nodes)), "");
        let e = problems(&ext("10.0.0.1:5432", "127.0.0.1:5353", nodes));
        assert!(e.contains("the endpoint `10.0.0.1` is an address"), "{e}");
        let e = problems(&ext("db.example:5432", "dns.example", nodes));
        assert!(e.contains("expected the DNS server's ip:port"), "{e}");
        let e = problems(&ext("db.example:5432", "127.0.0.1:53", ""));
        assert!(e.contains("name the `nodes`"), "{e}");
        let e = problems("name: t\ntargets: {}\nstack: {kind: postgres, resolver: \"127.0.0.1:53\"}\n");
        assert!(e.contains("`resolver` applies to an external stack"), "{e}");
    }

    #[test]
    fn an_orchestrators_members_span_sites_on_one_network_with_plain_links() {
        let base =
            "name: t\ntargets: {}\nsites: [dc1, dc2, dc3]\nwan: [{between: [dc1, dc2]}, {between: [dc1, dc3]}, {between: [dc2, dc3]}]\n";
        let patroni = |sites: &str| format!("{base}stack: {{kind: patroni, replicas: 1, sites: {{{sites}}}}}\n");
        let ok = patroni("dc1: [pg-1, etcd-1], dc2: [pg-2, etcd-2], dc3: [etcd-3, haproxy]");
        assert_eq!(problems(&ok), "");
        let e = problems(&patroni("dc1: [pg-1, etcd-1], dc2: [pg-2, etcd-2], dc3: [etcd-3]"));
        assert!(e.contains("node `haproxy` must be in exactly one site"), "{e}");
        let e = problems(&ok.replace("{between: [dc1, dc2]}", "{between: [dc1, dc2], latency_ms: 30}"));
        assert!(e.contains("its WAN is not run through the proxy yet"), "{e}");
        let e = problems(&format!("{ok}faults: [{{at_ms: 1000, kind: degrade_link, between: [dc1, dc2], latency_ms: 300}}]\n"));
        assert!(e.contains("carry nothing to degrade yet"), "{e}");
        let sentinel = format!(
            "{base}stack: {{kind: redis-sentinel, replicas: 1, sites: {{dc1: [redis-1, sentinel-1], dc2: [redis-2, sentinel-2], dc3: [sentinel-3]}}}}\n"
        );
        assert_eq!(problems(&sentinel), "");
        let e = problems(&format!("{base}stack: {{kind: mariadb-mha, sites: {{dc1: [db-1]}}}}\n"));
        assert!(e.contains("runs more than its nodes"), "{e}");
    }
}
