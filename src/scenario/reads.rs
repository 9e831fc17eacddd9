//! `workload.readers` and the read targets: where readers may read on this stack, and
//! targets only a drill with readers can judge.
use super::kinds::{kind_names, spoken_list};
use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;

/// The `from` every stack with readers takes, besides its sites' names.
const FROM: [&str; 3] = ["primary", "replicas", "any"];

/// The readers' settings and the targets that need them.
pub fn validate_reads(s: &Scenario, p: &mut Vec<Problem>) {
    match &s.workload.readers {
        Some(r) => readers(s, r, p),
        None => {
            for (key, set) in read_targets(&s.targets) {
                if set {
                    p.push((vec![Key("targets"), Key(key)], format!("`{key}` judges the readers: add `workload.readers`")));
                }
            }
        }
    }
}

fn read_targets(t: &Targets) -> [(&'static str, bool); 4] {
    [
        ("read_rto_ms", t.read_rto_ms.is_some()),
        ("stale_read_ms", t.stale_read_ms.is_some()),
        ("max_reads_of_lost_writes", t.max_reads_of_lost_writes.is_some()),
        ("max_reads_back_in_time", t.max_reads_back_in_time.is_some()),
    ]
}

fn readers(s: &Scenario, r: &ReadersSpec, p: &mut Vec<Problem>) {
    let at = |k: &'static str| vec![Key("workload"), Key("readers"), Key(k)];
    super::bounds::check(p, at("count"), "ReadersSpec.count", f64::from(r.count), "");
    super::bounds::check(p, at("rate_per_s"), "ReadersSpec.rate_per_s", r.rate_per_s, "");
    super::bounds::check(p, at("op_timeout_ms"), "ReadersSpec.op_timeout_ms", r.op_timeout_ms as f64, "");
    // an external stack reads as its engine's kind does
    let kind = s.stack.engine.map(|e| e.kind()).filter(|_| s.stack.kind.is_external()).unwrap_or(s.stack.kind);
    if !kind.info().reads {
        let takes = kind_names(|k| k.info().reads);
        let why = format!("readers run on {} stacks for now; `{}` takes none", spoken_list(&takes, "and"), kind.name());
        p.push((vec![Key("workload"), Key("readers")], why));
        return;
    }
    if let Some(why) = from_problem(s, &r.from) {
        p.push((at("from"), why));
    } else if let Some(why) = r.site.as_deref().and_then(|site| site_problem(s, &r.from, site)) {
        p.push((at("site"), why));
    }
    if s.targets.stale_read_ms.as_ref().is_some_and(|l| l.each().is_empty()) {
        p.push((vec![Key("targets"), Key("stale_read_ms")], "`stale_read_ms`: expected at least one of p50, p95, p99, max".into()));
    }
}

/// Why readers cannot read `from` on this stack; None when they can.
fn from_problem(s: &Scenario, from: &str) -> Option<String> {
    let mut choices: Vec<&str> = FROM.to_vec();
    choices.extend(s.stack.kind.info().read_endpoints);
    choices.extend(s.sites.iter().map(String::as_str));
    if !choices.contains(&from) {
        return Some(format!("expected {}, found `{from}`", spoken_list(&choices, "or")));
    }
    let multi = s.stack.kind.info().multi_active;
    match from {
        "read_endpoint" if s.stack.read_endpoint.is_none() => {
            Some("`from: read_endpoint` reads at `stack.read_endpoint`: give the host:port the application's reads go to".into())
        }
        "replicas" if s.stack.kind.is_external() && s.stack.nodes.len() < 2 => Some(
            "`from: replicas` on an external stack needs its `nodes` (the primary and a replica), or read `from: read_endpoint`".into(),
        ),
        "primary" | "replicas" if multi => Some(format!(
            "every node of a `{}` stack is writable: read `from: any`, or from a site's nodes ({})",
            s.stack.kind.name(),
            if s.sites.is_empty() {
                "with sites".to_string()
            } else {
                spoken_list(&s.sites.iter().map(String::as_str).collect::<Vec<_>>(), "or")
            }
        )),
        "primary" if (s.stack.kind.info().primaries)(&s.stack) > 1 => Some(format!(
            "a `{}` stack's readers read each node's own shard: read `from: replicas` (READONLY on the replicas) or `from: any`",
            s.stack.kind.name()
        )),
        "replicas" if s.stack.node_names().len() <= (s.stack.kind.info().primaries)(&s.stack) => {
            Some("`from: replicas` needs a replica: this stack has none; read `from: primary` (or `any`)".into())
        }
        site if s.sites.iter().any(|x| x == site) && read_nodes_in(s, site).is_empty() => {
            let others = s.stack.sites.get(site).filter(|m| !m.is_empty()).map(|m| format!(" (only {})", m.join(", "))).unwrap_or_default();
            Some(format!("site `{site}` holds none of the stack's database nodes{others}: read from a site that holds one (`stack.sites`)"))
        }
        _ => None,
    }
}

/// Why the readers cannot stand in `site` and read `from`; None when they can: a site
/// of the scenario, on a stack whose sites are networks of their own (not a multi-active
/// one, whose readers stand in each node's site), linked to every site they read in.
fn site_problem(s: &Scenario, from: &str, site: &str) -> Option<String> {
    use super::region::{linked, site_of, unknown_site};
    if s.sites.is_empty() {
        return Some("readers stand in a site only in a scenario with `sites: [..]`".into());
    }
    if let Some(why) = unknown_site(s, site) {
        return Some(why);
    }
    let info = s.stack.kind.info();
    if info.multi_active || info.members_span_sites {
        let why = if info.multi_active { "its readers stand in each node's site" } else { "its sites share one network" };
        return Some(format!("a `{}` stack's readers stand where its writers do: {why}; drop `site`", s.stack.kind.name()));
    }
    let writers = s.workload.site.as_deref();
    if from == "primary" && writers != Some(site) {
        return Some(
            "readers `from: primary` read where the writers write, from the writers' site: drop `site`, or read `from: replicas`".into(),
        );
    }
    let nodes = s.stack.node_names();
    let read: Vec<&String> = match from {
        "replicas" => nodes.iter().skip(1).collect(),
        "any" => nodes.iter().collect(),
        other => s.stack.sites.get(other).map(|m| m.iter().collect()).unwrap_or_default(),
    };
    let far = read.iter().filter_map(|n| site_of(s, n)).find(|x| !linked(s, site, x))?;
    Some(format!("the readers in {site} cannot reach {far}: add a `wan` link between them"))
}

/// The database nodes `stack.sites` places in `site`: what readers `from` that site read
/// (an orchestrator's members placed there, etcd or a Sentinel, serve no reads).
pub fn read_nodes_in(s: &Scenario, site: &str) -> Vec<String> {
    let data = s.stack.node_names();
    s.stack.sites.get(site).into_iter().flatten().filter(|n| data.contains(n)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;
    use std::path::Path;

    const BASE: &str = "name: t\nstack:\n  kind: postgres\n  replicas: 1\nworkload:\n  readers: {count: 2, from: replicas}\nfaults:\n  - {at_ms: 10, kind: kill, target: primary}\nfailover:\n  trigger: {delay: {delay_ms: 100}}\ntargets: {rto_ms: 1000}\n";

    fn err(src: &str) -> String {
        parse(Path::new("s.yaml"), src.to_string()).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn readers_on_replicas_of_a_postgres_stack_are_taken() {
        assert_eq!(err(BASE), "");
        assert_eq!(err(&BASE.replace("from: replicas", "from: primary")), "");
        let t = "targets: {rto_ms: 1000, read_rto_ms: 500, stale_read_ms: {p99: 100}, max_reads_of_lost_writes: 0}";
        assert_eq!(err(&BASE.replace("targets: {rto_ms: 1000}", t)), "");
    }

    /// A shipped three-site scenario with readers `from` a site.
    fn three_sites(file: &str, from: &str) -> String {
        let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file)).unwrap();
        src.replacen("workload:\n", &format!("workload:\n  readers: {{count: 2, from: {from}}}\n"), 1)
    }

    #[test]
    fn readers_from_a_site_read_its_database_nodes_and_a_site_without_one_is_refused() {
        // dc3 holds etcd-3 and HAProxy (Patroni), sentinel-3 alone (Sentinel): no database node
        let e = err(&three_sites("region-patroni-three-sites.yaml", "dc3"));
        assert!(e.contains("site `dc3` holds none of the stack's database nodes (only etcd-3, haproxy)"), "{e}");
        let e = err(&three_sites("region-sentinel-three-sites.yaml", "dc3"));
        assert!(e.contains("site `dc3` holds none of the stack's database nodes (only sentinel-3)"), "{e}");
        // dc2 is valid, and its readers read pg-2 alone, never etcd-2
        let src = three_sites("region-patroni-three-sites.yaml", "dc2");
        let loaded = parse(Path::new("s.yaml"), src).unwrap();
        assert_eq!(super::read_nodes_in(&loaded.scenario, "dc2"), ["pg-2"]);
        let src = three_sites("region-sentinel-three-sites.yaml", "dc2");
        assert_eq!(super::read_nodes_in(&parse(Path::new("s.yaml"), src).unwrap().scenario, "dc2"), ["redis-3"]);
    }

    #[test]
    fn readers_that_cannot_read_are_refused_where_they_stand() {
        let e = err(&BASE.replace("from: replicas", "from: secondary"));
        assert!(e.contains("s.yaml:6:") && e.contains("expected primary, replicas or any, found `secondary`"), "{e}");
        let e = err(&BASE.replace("replicas: 1", "replicas: 0"));
        assert!(e.contains("`from: replicas` needs a replica: this stack has none"), "{e}");
        let e = err(&BASE.replace("count: 2", "count: 0"));
        assert!(e.contains("s.yaml:6:") && e.contains("count must be between 1 and 256, found 0"), "{e}");
        let e = err(&BASE.replace("count: 2", "count: 2, rate_per_s: 0"));
        assert!(e.contains("rate_per_s"), "{e}");
        let e = err(&BASE.replace("kind: postgres", "kind: postgres-logical"));
        assert!(e.contains("readers run on ") && e.contains("for now; `postgres-logical` takes none"), "{e}");
        let cluster = BASE
            .replace("kind: postgres", "kind: redis-cluster")
            .replace("  replicas: 1\n", "")
            .replace("failover:\n  trigger: {delay: {delay_ms: 100}}\n", "");
        assert_eq!(err(&cluster), "");
        let e = err(&cluster.replace("from: replicas", "from: primary"));
        assert!(e.contains("a `redis-cluster` stack's readers read each node's own shard"), "{e}");
        let e = err(&cluster.replace("kind: redis-cluster", "kind: redis-cluster\n  cluster: {replicas_per_master: 0}"));
        assert!(e.contains("`from: replicas` needs a replica: this stack has none"), "{e}");
        let mesh = "name: t\nstack:\n  kind: galera\nworkload:\n  readers: {from: replicas}\nfaults:\n  - {at_ms: 10, kind: kill, target: gal-2}\ntargets: {rto_ms: 1000}\n";
        let e = err(mesh);
        assert!(e.contains("every node of a `galera` stack is writable: read `from: any`"), "{e}");
        assert_eq!(err(&mesh.replace("from: replicas", "from: any")), "");
        let e = err(&BASE.replace("from: replicas", "from: haproxy-replica"));
        assert!(e.contains("expected primary, replicas or any, found `haproxy-replica`"), "{e}");
        let patroni = BASE.replace("kind: postgres", "kind: patroni").replace("failover:\n  trigger: {delay: {delay_ms: 100}}\n", "");
        let e = err(&patroni.replace("from: replicas", "from: haproxy-replica"));
        assert_eq!(e, "");
    }

    #[test]
    fn an_external_stack_reads_at_its_read_endpoint_only_when_it_names_one() {
        let ext = "name: t\nstack:\n  kind: external\n  engine: postgres\n  endpoint: 127.0.0.1:5432\nworkload:\n  readers: {from: read_endpoint}\nfaults:\n  - {at_ms: 10, kind: action, target: primary, action: {command: [\"true\"]}}\ntargets: {rto_ms: 1000}\n";
        let e = err(ext);
        assert!(e.contains("`from: read_endpoint` reads at `stack.read_endpoint`"), "{e}");
        let e = err(&ext.replace("  endpoint: 127.0.0.1:5432\n", "  endpoint: 127.0.0.1:5432\n  read_endpoint: 127.0.0.1:5433\n"));
        assert!(!e.contains("read_endpoint"), "{e}");
    }

    #[test]
    fn read_targets_without_readers_are_refused() {
        let src = BASE.replace("  readers: {count: 2, from: replicas}\n", "  writers: 2\n");
        let e = err(&src.replace("rto_ms: 1000", "rto_ms: 1000, max_reads_back_in_time: 0"));
        assert!(e.contains("`max_reads_back_in_time` judges the readers: add `workload.readers`"), "{e}");
    }

    #[test]
    fn readers_stand_in_a_site_they_can_reach_from() {
        let two = "name: t\nsites: [dc1, dc2]\nstack:\n  kind: postgres\n  replicas: 2\n  sites: {dc1: [pg-1, pg-2], dc2: [pg-3]}\nworkload:\n  readers: {from: replicas, site: dc2}\nfaults:\n  - {at_ms: 10, kind: isolate_site, target: dc1, duration_ms: 100}\ntargets: {rto_ms: 1000}\n";
        assert_eq!(err(&format!("wan:\n  - {{between: [dc1, dc2]}}\n{two}")), "");
        let e = err(two);
        assert!(e.contains("s.yaml:8:") && e.contains("the readers in dc2 cannot reach dc1: add a `wan` link"), "{e}");
        let e = err(&two.replace("site: dc2}", "site: dc3}"));
        assert!(e.contains("no site `dc3` (sites: dc1, dc2)"), "{e}");
        let e = err(&two.replace("from: replicas, site: dc2", "from: primary, site: dc2"));
        assert!(e.contains("readers `from: primary` read where the writers write"), "{e}");
        let e = err(&BASE.replace("from: replicas}", "from: replicas, site: dc1}"));
        assert!(e.contains("readers stand in a site only in a scenario with `sites: [..]`"), "{e}");
    }
}
