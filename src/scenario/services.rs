//! A drill of several services: `services:` names each one's stack, workload, failover,
//! proxy and targets; faults stay at the top level and name `service/node`. Each service
//! is checked, run and judged through its own one-service view of the scenario (the
//! single-`stack` form, its faults' targets without the service prefix), so every rule of
//! the single form holds per service unchanged.
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key, Name};
use super::model::*;
use std::collections::BTreeMap;

/// One service as the runner and checker see it.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub name: String,
    /// The service as a one-service scenario: its faults only, targets unprefixed.
    pub view: Scenario,
    /// The scenario's index of each of the view's faults (events carry these).
    pub faults: Vec<usize>,
    /// Whether the drill has several services (ops and events then carry the name).
    pub tagged: bool,
}

/// The one service of a single-`stack` scenario, named after its kind.
pub fn single(sc: &Scenario) -> ServicePlan {
    ServicePlan { name: sc.stack.kind.name().to_string(), view: sc.clone(), faults: (0..sc.faults.len()).collect(), tagged: false }
}

/// `svc/rest` -> (`svc`, `rest`).
pub fn split(target: &str) -> Option<(&str, &str)> {
    target.split_once('/')
}

/// The services a fault hits, with each one's unprefixed target.
fn hits(f: &FaultSpec) -> Vec<(String, String)> {
    let all: Vec<&String> = f.target.iter().chain(f.targets.iter().flatten()).collect();
    all.iter().filter_map(|t| split(t)).map(|(s, n)| (s.to_string(), n.to_string())).collect()
}

/// Every service a partition's groups name, and the groups without prefixes.
fn partition_of(f: &FaultSpec) -> (Vec<String>, Option<Vec<Vec<String>>>) {
    let Some(groups) = &f.groups else { return (Vec::new(), None) };
    let mut services = Vec::new();
    let bare = groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|m| match split(m) {
                    Some((s, n)) => {
                        if !services.iter().any(|x| x == s) {
                            services.push(s.to_string());
                        }
                        n.to_string()
                    }
                    None => m.clone(),
                })
                .collect()
        })
        .collect();
    (services, Some(bare))
}

/// The faults of `service`, unprefixed, with their scenario indices. A heal belongs to
/// every service the fault it names hit.
fn faults_of(ss: &ServicesScenario, service: &str) -> Vec<(usize, FaultSpec)> {
    let mut out: Vec<(usize, FaultSpec)> = Vec::new();
    for (i, f) in ss.faults.iter().enumerate() {
        let mine = match f.kind {
            FaultKind::Heal => out.iter().any(|(_, g)| g.name.is_some() && g.name == f.heals),
            FaultKind::Partition => partition_of(f).0.iter().any(|s| s == service),
            // a site fault hits every service with nodes in the site; a WAN link carries every service
            FaultKind::IsolateSite | FaultKind::KillSite => {
                ss.services.get(service).is_some_and(|x| f.target.as_ref().is_some_and(|t| x.stack.sites.contains_key(t)))
            }
            FaultKind::DegradeLink => true,
            _ => hits(f).iter().any(|(s, _)| s == service),
        };
        if !mine {
            continue;
        }
        let mut g = FaultSpec { targets: None, ..f.clone() };
        let site_fault = matches!(f.kind, FaultKind::IsolateSite | FaultKind::KillSite | FaultKind::DegradeLink);
        if let Some((_, n)) = hits(f).into_iter().find(|(s, _)| s == service).filter(|_| !site_fault) {
            // a switchover names its service only: the single form's takes no target
            g.target = (f.kind != FaultKind::Switchover).then_some(n);
        }
        if f.kind == FaultKind::Partition {
            g.groups = partition_of(f).1;
        }
        out.push((i, g));
    }
    out
}

/// Every service's plan, or what is wrong with the file (paths from its root).
pub fn plans(ss: &ServicesScenario) -> (Vec<ServicePlan>, Vec<Problem>) {
    let mut p = drill_problems(ss);
    let mut plans = Vec::new();
    for (name, spec) in &ss.services {
        let (faults, specs): (Vec<usize>, Vec<FaultSpec>) = faults_of(ss, name).into_iter().unzip();
        let view = Scenario {
            name: ss.name.clone(),
            description: ss.description.clone(),
            stack: stack_of(ss, name, spec),
            workload: spec.workload.clone(),
            faults: specs,
            failover: spec.failover.clone(),
            targets: spec.targets.clone(),
            checks: ss.checks.clone(),
            proxy: spec.proxy.clone(),
            hooks: Default::default(),
            steady_state: Default::default(),
            abort_when: None,
            secrets: Vec::new(),
            dns: dns_of(ss, name),
            sites: ss.sites.clone(),
            wan: ss.wan.clone(),
            monitoring: ss.monitoring.clone(),
        };
        let mut found = super::validate::validate(&view);
        super::region::check_dns_names(&view, name, &mut found);
        for (path, msg) in found {
            p.push((place(path, name, &faults), msg));
        }
        plans.push(ServicePlan { name: name.clone(), view, faults, tagged: true });
    }
    // a Keepalived that promotes other services runs before them: they wait for its VIP
    plans.sort_by_key(|pl| pl.view.stack.keepalived.as_ref().is_none_or(|k| k.carries.is_empty()));
    (plans, p)
}

/// A service's stack as it runs, its nodes named, with what `keepalived.notify_master`
/// resolves (servers.rs).
fn stack_of(ss: &ServicesScenario, name: &str, spec: &ServiceSpec) -> StackSpec {
    let mut stack = named_stack(ss, name, spec);
    super::servers::resolve(&members(ss), name, &mut stack, |other| ss.services.get(other).map(|s| named_stack(ss, other, s)));
    stack
}

/// The drill's services, as `keepalived.notify_master` sees them.
fn members(ss: &ServicesScenario) -> Vec<super::servers::Member<'_>> {
    ss.services
        .iter()
        .map(|(name, s)| super::servers::Member { name, stack: &s.stack, failover: s.failover.is_some(), proxy: s.proxy.is_some() })
        .collect()
}

/// A service's stack with its nodes named: when another service's nodes would share its
/// names (its kind, or `files` beside `files-keepalived`), `<service>-<kind's prefix>-N`
/// (`full-rc-1`), so that both can run; otherwise as in a drill of one service.
fn named_stack(ss: &ServicesScenario, name: &str, spec: &ServiceSpec) -> StackSpec {
    let mut stack = spec.stack.clone();
    let prefix = stack.kind.node_prefix();
    if ss.services.values().filter(|o| o.stack.kind.node_prefix() == prefix).count() > 1 {
        stack.node_prefix = Some(format!("{name}-{prefix}"));
    }
    stack
}

/// The drill as one scenario: its own faults (prefixed), hooks, steady state, abort
/// conditions and secrets, with the first service's stack, workload, failover, proxy and
/// targets (what works on a service works on the plans).
pub fn drill_scenario(ss: &ServicesScenario, plans: &[ServicePlan]) -> Scenario {
    let base = match plans.first() {
        Some(p) => p.view.clone(),
        // refused by validation (no service); a placeholder until then
        None => {
            let yaml = format!("name: {}\nstack: {{kind: {}}}\ntargets: {{}}", ss.name, super::KINDS[0].name());
            serde_norway::from_str(&yaml).expect("a minimal scenario")
        }
    };
    Scenario {
        faults: ss.faults.clone(),
        hooks: ss.hooks.clone(),
        steady_state: ss.steady_state.clone(),
        abort_when: ss.abort_when.clone(),
        secrets: ss.secrets.clone(),
        monitoring: ss.monitoring.clone(),
        ..base
    }
}

/// A path in a service's view, as a path in the scenario file.
fn place(path: Vec<Seg>, service: &str, faults: &[usize]) -> Vec<Seg> {
    let mut it = path.into_iter();
    match it.next() {
        Some(Key("faults")) => {
            let mut out = vec![Key("faults")];
            if let Some(Index(j)) = it.next() {
                out.push(Index(faults.get(j).copied().unwrap_or(j)));
            }
            out.extend(it);
            out
        }
        Some(Key(k)) if ["name", "dns", "sites", "wan", "monitoring"].contains(&k) => [Key(k)].into_iter().chain(it).collect(),
        Some(first) => [Key("services"), Name(service.to_string()), first].into_iter().chain(it).collect(),
        None => vec![Key("services"), Name(service.to_string())],
    }
}

/// What only a drill of several services can get wrong.
/// The drill's DNS as `service` sees it: none when `dns.services` leaves it out.
fn dns_of(ss: &ServicesScenario, service: &str) -> Option<super::model::DnsSpec> {
    let d = ss.dns.clone()?;
    let named = d.services.as_ref().is_none_or(|l| l.iter().any(|s| s == service));
    named.then_some(super::model::DnsSpec { services: None, ..d })
}

fn drill_problems(ss: &ServicesScenario) -> Vec<Problem> {
    let mut p = Vec::new();
    super::servers::check(&members(ss), &mut p);
    if ss.services.is_empty() {
        p.push((vec![Key("services")], "expected at least one service".into()));
    }
    for s in ss.dns.iter().flat_map(|d| d.services.iter().flatten()).filter(|s| !ss.services.contains_key(*s)) {
        let known: Vec<&str> = ss.services.keys().map(String::as_str).collect();
        p.push((vec![Key("dns"), Key("services")], format!("unknown service `{s}` (the services are {})", known.join(", "))));
    }
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (name, spec) in &ss.services {
        let at = || vec![Key("services"), Name(name.clone())];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            p.push((at(), format!("service name `{name}` must be lowercase letters, digits and '-'")));
        }
        if spec.stack.kind.is_external() && ss.services.len() > 1 {
            p.push((at(), "an external stack cannot yet be drilled together with other services".into()));
        }
        let stack = stack_of(ss, name, spec);
        let names = stack.node_names().into_iter().chain(super::kinds::service_names(&stack));
        for n in names {
            if let Some(other) = owner.insert(n.clone(), name.clone()) {
                let msg = format!(
                    "services {other} and {name} would both run a container named {n}: drill stacks of different kinds, or of one kind without services of their own (Sentinels, etcd)"
                );
                p.push((at(), msg));
            }
        }
    }
    if ss.services.values().filter(|s| s.proxy.is_some()).count() > 1 {
        p.push((vec![Key("services")], "only one service of a drill can route through the proxy (for now)".into()));
    }
    let names: Vec<&str> = ss.services.keys().map(String::as_str).collect();
    let drill = super::action_checks::DrillActions {
        hooks: &ss.hooks,
        steady_state: &ss.steady_state,
        abort_when: &ss.abort_when,
        secrets: &ss.secrets,
    };
    super::action_checks::drill_actions(drill, Some(&names), &mut p);
    for (i, f) in ss.faults.iter().enumerate() {
        fault_problems(ss, i, f, &mut p);
    }
    p
}

/// Every fault names its services, and only known ones.
fn fault_problems(ss: &ServicesScenario, i: usize, f: &FaultSpec, p: &mut Vec<Problem>) {
    let known: Vec<&str> = ss.services.keys().map(String::as_str).collect();
    if matches!(f.kind, FaultKind::IsolateSite | FaultKind::KillSite | FaultKind::DegradeLink) {
        // a site fault names a site (checked against `sites` with each service's view)
        if f.target.as_ref().is_some_and(|t| !ss.sites.contains(t)) {
            let msg = format!("expected a site ({}), found `{}`", ss.sites.join(", "), f.target.as_deref().unwrap_or_default());
            p.push((vec![Key("faults"), Index(i), Key("target")], msg));
        }
        return;
    }
    let at = |k: &'static str| vec![Key("faults"), Index(i), Key(k)];
    let check = |t: &str, key: &'static str, p: &mut Vec<Problem>| match split(t) {
        Some((s, _)) if known.contains(&s) => {}
        Some((s, _)) => p.push((at(key), format!("unknown service `{s}` in `{t}`; the services are {}", known.join(", ")))),
        None => p.push((at(key), format!("expected `service/node` (e.g. {}/primary), found `{t}`", known.first().unwrap_or(&"pg")))),
    };
    if f.target.is_some() && f.targets.is_some() {
        p.push((at("targets"), "give `target` or `targets`, not both".into()));
    }
    for t in f.target.iter() {
        check(t, "target", p);
    }
    let list = f.targets.iter().flatten().collect::<Vec<_>>();
    for t in &list {
        check(t, "targets", p);
    }
    let services: Vec<&str> = list.iter().filter_map(|t| split(t)).map(|(s, _)| s).collect();
    if (1..services.len()).any(|k| services[..k].contains(&services[k])) {
        p.push((at("targets"), "each of `targets` must hit a different service".into()));
    }
    if f.targets.as_ref().is_some_and(|t| t.is_empty()) {
        p.push((at("targets"), "expected at least one target".into()));
    }
    if f.kind == FaultKind::Partition {
        for m in f.groups.iter().flatten().flatten() {
            check(m, "groups", p);
        }
        if partition_of(f).0.len() > 1 {
            p.push((at("groups"), "a partition's groups must all be nodes of one service (sites come later)".into()));
        }
    }
    let untargeted = !matches!(f.kind, FaultKind::Heal | FaultKind::Partition) && f.target.is_none() && f.targets.is_none();
    if untargeted {
        let kind = super::faults::kind_name(f.kind);
        p.push((vec![Key("faults"), Index(i)], format!("a {kind} fault in a drill of several services needs a `target` (service/node)")));
    }
    if let Some(name) = f.heals.as_ref().filter(|_| f.kind == FaultKind::Heal)
        && !ss.faults[..i].iter().any(|g| g.name.as_ref() == Some(name))
    {
        p.push((at("heals"), format!("no earlier fault is named `{name}`")));
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;
    use std::path::Path;

    const TWO: &str = "name: two
services:
  pg:
    stack:
      kind: postgres
      replicas: 2
    failover:
      trigger:
        delay:
          delay_ms: 1000
    targets:
      rto_ms: 10000
  cache:
    stack:
      kind: redis
      replicas: 1
    targets:
      rto_ms: 1000
";

    fn load(faults: &str) -> Result<crate::scenario::Loaded, String> {
        parse(Path::new("s.yaml"), format!("{TWO}{faults}")).map_err(|e| e.to_string())
    }

    #[test]
    fn each_service_gets_its_faults_unprefixed_with_their_indices() {
        let l = load(
            "faults:
  - {at_ms: 1000, kind: kill, targets: [pg/primary, cache/primary]}
  - {at_ms: 2000, kind: pause, target: cache/replica-1, duration_ms: 500}
  - {at_ms: 3000, kind: partition, name: cut, groups: [[pg/primary], [pg/replica-1, pg/clients]]}
  - {at_ms: 4000, kind: heal, heals: cut}
",
        )
        .unwrap();
        assert!(l.several());
        let names: Vec<&str> = l.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cache", "pg"]);
        let (cache, pg) = (&l.services[0], &l.services[1]);
        assert_eq!(cache.faults, [0, 1]);
        assert_eq!(pg.faults, [0, 2, 3]);
        assert_eq!(pg.view.faults[0].target.as_deref(), Some("primary"));
        assert_eq!(cache.view.faults[1].target.as_deref(), Some("replica-1"));
        assert_eq!(pg.view.faults[1].groups.as_ref().unwrap()[1], ["replica-1", "clients"]);
        assert_eq!(l.scenario.faults.len(), 4);
        assert_eq!(l.scenario.name, "two");
    }

    #[test]
    fn a_single_stack_scenario_is_one_untagged_service_named_after_its_kind() {
        let src = "name: one\nstack:\n  kind: redis\n  replicas: 1\ntargets:\n  rto_ms: 1000\nfaults:\n  - {at_ms: 10, kind: kill, target: primary}\n";
        let l = parse(Path::new("s.yaml"), src.into()).unwrap();
        assert!(!l.several());
        let kind = l.scenario.stack.kind.name();
        assert_eq!((l.services.len(), l.services[0].name.as_str(), l.services[0].faults.as_slice()), (1, kind, &[0][..]));
    }

    #[test]
    fn faults_name_known_services_and_errors_point_into_the_file() {
        let e = load("faults:\n  - {at_ms: 1000, kind: kill, target: db/primary}\n").unwrap_err();
        assert!(e.contains("s.yaml:20:5:") && e.contains("unknown service `db` in `db/primary`; the services are cache, pg"), "{e}");
        let e = load("faults:\n  - {at_ms: 1000, kind: kill, target: primary}\n").unwrap_err();
        assert!(e.contains("expected `service/node` (e.g. cache/primary), found `primary`"), "{e}");
        let e = load("faults:\n  - {at_ms: 1000, kind: kill, target: pg/replica-7}\n").unwrap_err();
        assert!(e.contains("this stack has replica-1 to replica-2"), "{e}");
        let e = load("faults:\n  - {at_ms: 1000, kind: kill, targets: [pg/primary, pg/replica-1]}\n").unwrap_err();
        assert!(e.contains("each of `targets` must hit a different service"), "{e}");
        let e = load("faults:\n  - {at_ms: 1000, kind: partition, groups: [[pg/primary], [cache/primary]]}\n").unwrap_err();
        assert!(e.contains("must all be nodes of one service"), "{e}");
        let e = load("faults:\n  - {at_ms: 1000, kind: heal, heals: nothing}\n").unwrap_err();
        assert!(e.contains("no earlier fault is named `nothing`"), "{e}");
        // a service's own rule, placed under its key
        let bad = TWO.replace("      replicas: 1\n", "      replicas: 1\n      replication: sync\n");
        let e = parse(Path::new("s.yaml"), bad).unwrap_err().to_string();
        assert!(e.contains("s.yaml:17:7: redis has no synchronous replication"), "{e}");
    }

    #[test]
    fn services_of_one_kind_name_their_nodes_after_themselves_unless_their_sidecars_collide() {
        let kill = "faults:\n  - {at_ms: 10, kind: kill, target: pg/primary}\n";
        let src = format!("{}{kill}", TWO.replace("kind: redis", "kind: postgres"));
        let l = parse(Path::new("s.yaml"), src).unwrap();
        let names: Vec<Vec<String>> = l.services.iter().map(|p| p.view.stack.node_names()).collect();
        assert_eq!(names, [vec!["cache-pg-1", "cache-pg-2"], vec!["pg-pg-1", "pg-pg-2", "pg-pg-3"]]);
        // a kind of a different service keeps its names
        let l = parse(Path::new("s.yaml"), format!("{TWO}{kill}")).unwrap();
        assert_eq!(l.services[1].view.stack.node_names()[0], "pg-1");
        let src = TWO.replace("kind: redis", "kind: redis-sentinel").replace("kind: postgres", "kind: redis-sentinel");
        let e = parse(Path::new("s.yaml"), src).unwrap_err().to_string();
        assert!(e.contains("services cache and pg would both run a container named sentinel-1"), "{e}");
        let single = "name: one\nstack: {kind: redis}\ntargets: {}\nfaults:\n  - {at_ms: 10, kind: kill, targets: [primary]}\n";
        let e = parse(Path::new("s.yaml"), single.into()).unwrap_err().to_string();
        assert!(e.contains("`targets` hits several services at once"), "{e}");
    }
}
