//! Validation of the `faults` list: each kind takes its own fields, and only those.
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// Which optional fields a fault kind accepts (besides at_ms, kind, name).
fn allowed(kind: FaultKind) -> &'static [&'static str] {
    use FaultKind::*;
    match kind {
        Kill => &["target", "duration_ms"],
        Restart | Destroy => &["target"],
        DestroyData => &["target", "how"],
        Stop | Pause => &["target", "duration_ms"],
        Partition => &["groups", "direction", "duration_ms"],
        Loss => &["target", "percent", "duration_ms"],
        Bandwidth => &["target", "link", "stream", "rate_kb_per_s", "toxicity", "duration_ms"],
        Latency | Jitter => &["target", "link", "stream", "latency_ms", "jitter_ms", "toxicity", "duration_ms"],
        Down => &["target", "link", "duration_ms"],
        Timeout | ResetPeer => &["target", "link", "stream", "timeout_ms", "toxicity", "duration_ms"],
        Heal => &["heals"],
        Switchover => &[],
        Action => &["target", "action", "undo", "duration_ms"],
        IsolateSite => &["target", "duration_ms"],
        KillSite => &["target"],
        DegradeLink => &["between", "latency_ms", "jitter_ms", "rate_kb_per_s", "percent", "duration_ms"],
        ClockSkew => &["target", "offset_ms", "freeze", "duration_ms"],
        StarveCpu => &["target", "percent", "duration_ms"],
    }
}

/// The optional fields this fault sets.
fn present(f: &FaultSpec) -> Vec<&'static str> {
    let set = [
        ("target", f.target.is_some()),
        ("how", f.how.is_some()),
        ("duration_ms", f.duration_ms.is_some()),
        ("heals", f.heals.is_some()),
        ("groups", f.groups.is_some()),
        ("direction", f.direction.is_some()),
        ("link", f.link.is_some()),
        ("stream", f.stream.is_some()),
        ("percent", f.percent.is_some()),
        ("rate_kb_per_s", f.rate_kb_per_s.is_some()),
        ("latency_ms", f.latency_ms.is_some()),
        ("jitter_ms", f.jitter_ms.is_some()),
        ("timeout_ms", f.timeout_ms.is_some()),
        ("toxicity", f.toxicity.is_some()),
        ("action", f.action.is_some()),
        ("undo", f.undo.is_some()),
        ("between", f.between.is_some()),
        ("offset_ms", f.offset_ms.is_some()),
        ("freeze", f.freeze.is_some()),
    ];
    set.iter().filter(|(_, on)| *on).map(|(k, _)| *k).collect()
}

pub fn kind_name(kind: FaultKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

pub fn validate_faults(s: &Scenario, nodes: &[String], p: &mut Vec<Problem>) {
    for (i, f) in s.faults.iter().enumerate() {
        check_fields(s, i, f, p);
        check_place(s, i, f, nodes, p);
        check_attributes(s, i, f, nodes, p);
        if let (FaultKind::Heal, Some(name)) = (f.kind, &f.heals) {
            check_heal(s, i, f, name, p);
        }
        check_link(s, i, f, p);
        if let Some(name) = &f.name
            && s.faults[..i].iter().any(|g| g.name.as_ref() == Some(name))
        {
            p.push((at(i, "name"), format!("another fault is already named `{name}`")));
        }
    }
}

/// `faults[i].key`.
fn at(i: usize, key: &'static str) -> Vec<Seg> {
    vec![Key("faults"), Index(i), Key(key)]
}

/// "a latency fault needs `latency_ms`", placed on the fault.
fn needs(i: usize, f: &FaultSpec, key: &'static str, p: &mut Vec<Problem>) {
    p.push((vec![Key("faults"), Index(i)], format!("a {} fault needs `{key}`", kind_name(f.kind))));
}

/// When it fires, and the fields its kind takes (and only those).
fn check_fields(s: &Scenario, i: usize, f: &FaultSpec, p: &mut Vec<Problem>) {
    let max = s.workload.max_duration_ms;
    if f.at_ms >= max {
        p.push((at(i, "at_ms"), format!("fault at {} ms is past workload.max_duration_ms ({max})", f.at_ms)));
    }
    for key in present(f) {
        if !allowed(f.kind).contains(&key) {
            let takes = allowed(f.kind).join(", ");
            p.push((at(i, key), format!("`{key}` does not apply to a {} fault (it takes: {takes})", kind_name(f.kind))));
        }
    }
    // a killed node started again rejoins by itself only where every node is writable; a
    // primary's would come back beside the one promoted in its place
    if f.kind == FaultKind::Kill && f.duration_ms.is_some() && !s.stack.kind.info().multi_active {
        let kinds = super::kinds::spoken_list(&super::kinds::kind_names(|k| k.info().multi_active), "or");
        let msg = format!(
            "a killed node is started again after `duration_ms` only on a stack whose every node is writable ({kinds}); use `stop` with a duration, or the failover's rejoin"
        );
        p.push((at(i, "duration_ms"), msg));
    }
}

/// What it hits: a node of the stack, or a site; never several services at once here.
fn check_place(s: &Scenario, i: usize, f: &FaultSpec, nodes: &[String], p: &mut Vec<Problem>) {
    use FaultKind::*;
    match f.kind {
        Partition | Heal | Switchover | Action | DegradeLink => {}
        _ if f.target.is_none() => needs(i, f, "target", p),
        _ => {}
    }
    if f.targets.is_some() {
        let msg = "`targets` hits several services at once: it needs a scenario with `services` (one stack: one fault per target)";
        p.push((at(i, "targets"), msg.into()));
    }
    if matches!(f.kind, IsolateSite | KillSite | DegradeLink) {
        check_site_fault(s, f, i, p);
    } else if let Some(t) = &f.target
        && let Err(msg) = check_target(t, nodes, s.stack.shards())
    {
        p.push((at(i, "target"), msg));
    }
}

/// The attributes each kind needs, within their ranges.
fn check_attributes(s: &Scenario, i: usize, f: &FaultSpec, nodes: &[String], p: &mut Vec<Problem>) {
    use FaultKind::*;
    match f.kind {
        Pause if f.duration_ms.is_none() => needs(i, f, "duration_ms", p),
        StarveCpu if f.duration_ms.is_none() => needs(i, f, "duration_ms", p),
        StarveCpu => match f.percent {
            None => needs(i, f, "percent", p),
            Some(x) => super::bounds::check(p, at(i, "percent"), "FaultSpec.percent", x, "the share of one CPU left"),
        },
        Partition => check_groups(f, (nodes, s.stack.shards()), &super::service_names(&s.stack), i, p),
        Switchover if !s.stack.kind.orchestrated() => p.push((at(i, "kind"), no_switchover())),
        Loss => match f.percent {
            None => needs(i, f, "percent", p),
            Some(x) => super::bounds::check(p, at(i, "percent"), "FaultSpec.percent", x, "the share of packets dropped"),
        },
        Bandwidth => match f.rate_kb_per_s {
            None => needs(i, f, "rate_kb_per_s", p),
            Some(0) => super::bounds::check(p, at(i, "rate_kb_per_s"), "FaultSpec.rate_kb_per_s", 0.0, ""),
            _ => {}
        },
        Latency if f.latency_ms.is_none() => needs(i, f, "latency_ms", p),
        Jitter if f.jitter_ms.is_none() => needs(i, f, "jitter_ms", p),
        Action if f.action.is_none() => needs(i, f, "action", p),
        ClockSkew => check_skew(s, i, f, p),
        Action if f.duration_ms.is_some() && f.undo.is_none() => {
            p.push((at(i, "duration_ms"), "an action fault heals after duration_ms through its `undo`: give one".into()))
        }
        Heal if f.heals.is_none() => needs(i, f, "heals", p),
        _ => {}
    }
}

/// A heal names an earlier fault that stays in effect until healed.
fn check_heal(s: &Scenario, i: usize, f: &FaultSpec, name: &str, p: &mut Vec<Problem>) {
    let earlier = s.faults[..i].iter().find(|g| g.name.as_deref() == Some(name));
    match earlier {
        None => p.push((at(i, "heals"), format!("no earlier fault is named `{name}`"))),
        Some(g) if g.duration_ms.is_some() => p.push((at(i, "heals"), format!("fault `{name}` already heals itself after duration_ms"))),
        Some(g) if g.at_ms > f.at_ms => p.push((at(i, "at_ms"), format!("the heal comes before fault `{name}` (at {} ms)", g.at_ms))),
        Some(g) if g.kind == FaultKind::Action && g.undo.is_none() => {
            p.push((at(i, "heals"), format!("action fault `{name}` has no `undo` to run")))
        }
        Some(g) if !heals_later(g.kind) => p.push((at(i, "heals"), format!("a {} fault has nothing to heal", kind_name(g.kind)))),
        _ => {}
    }
}

/// A link fault acts on a link the proxy carries.
fn check_link(s: &Scenario, i: usize, f: &FaultSpec, p: &mut Vec<Problem>) {
    use FaultKind::*;
    if [Latency, Jitter, Down, Timeout, ResetPeer].contains(&f.kind) && f.link.is_none() {
        let kind = kind_name(f.kind);
        p.push((
            vec![Key("faults"), Index(i)],
            format!("a {kind} fault acts on a proxied link: give `link: client` or `link: replication`"),
        ));
    }
    if let Some(t) = f.toxicity {
        super::bounds::check(p, at(i, "toxicity"), "FaultSpec.toxicity", f64::from(t), "a probability");
    }
    let proxy = s.proxy.as_ref();
    match f.link {
        Some(LinkKind::Client) if !proxy.is_some_and(|x| x.clients) => {
            p.push((at(i, "link"), "link `client` needs `proxy: {clients: true}`".into()))
        }
        Some(LinkKind::Replication) if !proxy.is_some_and(|x| x.replication) => {
            p.push((at(i, "link"), "link `replication` needs `proxy: {replication: true}`".into()))
        }
        _ => {}
    }
}

/// Faults that stay in effect until healed (and so can be named by a `heal`).
pub fn heals_later(kind: FaultKind) -> bool {
    use FaultKind::*;
    !matches!(kind, Kill | Restart | Destroy | DestroyData | Heal | Switchover | KillSite)
}

/// A site fault names a site of the scenario (`target`), or two linked ones (`between`).
fn check_site_fault(s: &Scenario, f: &FaultSpec, i: usize, p: &mut Vec<Problem>) {
    let at = |k: &'static str| vec![Key("faults"), Index(i), Key(k)];
    let list = s.sites.join(", ");
    if s.sites.is_empty() {
        p.push((at("kind"), format!("a {} fault needs `sites`", kind_name(f.kind))));
        return;
    }
    if let Some(t) = f.target.as_ref().filter(|t| !s.sites.contains(t) && *t != "primary") {
        p.push((at("target"), format!("expected a site ({list}) or `primary` (the primary's site), found `{t}`")));
    }
    if f.kind == FaultKind::DegradeLink {
        match &f.between {
            None => p.push((vec![Key("faults"), Index(i)], "a degrade_link fault needs `between: [site, site]`".into())),
            Some(b) if b.len() != 2 || !s.wan.iter().any(|l| l.joins(&b[0], &b[1])) => {
                p.push((at("between"), format!("expected two sites a `wan` link joins, found [{}]", b.join(", "))))
            }
            _ => {}
        }
        // the link's new loss: as a link's own (0 takes a lossy link's loss away)
        if let Some(x) = f.percent {
            super::bounds::check(p, at("percent"), "LinkSpec.loss_percent", x, "the link's loss during the fault");
        }
    }
}

fn check_groups(f: &FaultSpec, (nodes, shards): (&[String], Option<(usize, usize)>), services: &[String], i: usize, p: &mut Vec<Problem>) {
    let at = || vec![Key("faults"), Index(i), Key("groups")];
    let Some(groups) = &f.groups else {
        p.push((vec![Key("faults"), Index(i)], "a partition fault needs `groups` (two or more lists of nodes)".into()));
        return;
    };
    if groups.len() < 2 || groups.iter().any(Vec::is_empty) {
        p.push((at(), "expected two or more non-empty groups".into()));
    }
    // aliases resolve against the initial topology: `primary` is the first node,
    // `replica-N` the N-th other one; two names for one node are refused
    let mut seen: Vec<(&str, String)> = Vec::new();
    let expanded: Vec<(&String, String)> = groups
        .iter()
        .flatten()
        .flat_map(|m| match super::expand_service_group(m, services) {
            Some(v) => v.into_iter().map(|x| (m, x)).collect::<Vec<_>>(),
            None => vec![(m, m.clone())],
        })
        .collect();
    for (m, one) in &expanded {
        let m = *m;
        let service = services.contains(one);
        if m != "clients"
            && !service
            && let Err(msg) = check_target(m, nodes, shards)
        {
            let also = if services.is_empty() { String::new() } else { format!(", {}", services.join(", ")) };
            p.push((at(), format!("{msg} (or `clients`{also})")));
        }
        let node = if service { one.clone() } else { initial_node(m, nodes) };
        match seen.iter().find(|(_, n)| *n == node) {
            Some((first, _)) if *first == m => p.push((at(), format!("`{m}` is in more than one group"))),
            Some((first, _)) => p.push((at(), format!("`{m}` and `{first}` are the same node ({node}) at the start of the drill"))),
            None => seen.push((m, node)),
        }
    }
}

/// The node a partition member names at the start of the drill (itself if unknown).
pub(super) fn initial_node(m: &str, nodes: &[String]) -> String {
    let by_replica = m.strip_prefix("replica-").and_then(|n| n.parse::<usize>().ok()).and_then(|k| nodes.get(k));
    // a sharded stack's first nodes are its shards' primaries, in order
    let by_shard = m.strip_prefix("shard-").and_then(|r| r.strip_suffix("/primary")).and_then(|n| n.parse::<usize>().ok());
    match (m, by_replica) {
        ("primary", _) => nodes.first().cloned().unwrap_or_default(),
        _ if by_shard.is_some_and(|n| n >= 1) => by_shard.and_then(|n| nodes.get(n - 1)).cloned().unwrap_or_default(),
        (_, Some(n)) => n.clone(),
        _ => m.to_string(),
    }
}

/// Whether `t` names a node of a stack of `nodes`; `shards` (shards, replicas of each) on
/// a stack with one primary per shard, whose roles are `shard-N/primary` and
/// `shard-N/replica-K` (`primary`: shard 1's).
pub fn check_target(t: &str, nodes: &[String], shards: Option<(usize, usize)>) -> std::result::Result<(), String> {
    if t == "primary" || nodes.iter().any(|n| n == t) {
        return Ok(());
    }
    if let Some((n, rest)) = t.strip_prefix("shard-").and_then(|r| r.split_once('/')) {
        let Some((count, replicas)) = shards else {
            return Err(format!("`{t}`: shard roles apply to a stack with one primary per shard"));
        };
        if !n.parse::<usize>().is_ok_and(|n| (1..=count).contains(&n)) {
            return Err(format!("`{t}`: this stack has shard-1 to shard-{count}"));
        }
        return match (rest, rest.strip_prefix("replica-").map(str::parse::<usize>)) {
            ("primary", _) => Ok(()),
            (_, Some(Ok(k))) if (1..=replicas).contains(&k) => Ok(()),
            _ if replicas == 0 => Err(format!("`{t}`: expected shard-{n}/primary (the shards have no replicas)")),
            _ => Err(format!("`{t}`: expected shard-{n}/primary or shard-{n}/replica-1 to replica-{replicas}")),
        };
    }
    if let Some(n) = t.strip_prefix("replica-") {
        return match n.parse::<usize>() {
            Ok(k) if k >= 1 && k < nodes.len() => Ok(()),
            _ => Err(format!("`{t}`: this stack has replica-1 to replica-{}", nodes.len() - 1)),
        };
    }
    let shard = if shards.is_some() { ", `shard-N/primary`, `shard-N/replica-K`" } else { "" };
    Err(format!("expected `primary`, `replica-N`{shard} or a node ({}), found `{t}`", nodes.join(", ")))
}

/// Why a stack without an orchestrator takes no switchover, the kinds read off the registry.
fn no_switchover() -> String {
    format!(
        "a switchover fault needs a stack with an orchestrator ({}); for {}, kill or stop the primary with a failover plan",
        super::kinds::orchestrated_kinds(),
        super::kinds::scripted_kinds()
    )
}

/// A clock_skew fault: an offset within a day, on a kind whose nodes can be skewed.
fn check_skew(s: &Scenario, i: usize, f: &FaultSpec, p: &mut Vec<Problem>) {
    let frozen = f.freeze == Some(true);
    match f.offset_ms {
        None if frozen => {}
        None => needs(i, f, "offset_ms", p),
        Some(0) if !frozen => p.push((at(i, "offset_ms"), "offset_ms must not be 0 (a skew of nothing tests nothing)".into())),
        Some(x) => super::bounds::check(p, at(i, "offset_ms"), "FaultSpec.offset_ms", x as f64, "a day either way"),
    }
    if !s.stack.kind.info().clock_skew {
        let can = super::kinds::kind_names(|k| k.info().clock_skew);
        let msg = format!(
            "a {} stack's clocks cannot be skewed: drdrill skews a node's database server with libfaketime, which its image loads only for {}",
            s.stack.kind.name(),
            super::kinds::spoken_list(&can, "and")
        );
        p.push((at(i, "kind"), msg));
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;
    use std::path::Path;

    const HEAD: &str = "name: t\nstack:\n  kind: postgres\n  replicas: 1\ntargets:\n  rto_ms: 1000\n";

    fn check(faults: &str, proxy: &str) -> Result<(), String> {
        let src = format!("{HEAD}{proxy}faults:\n{faults}");
        parse(Path::new("s.yaml"), src).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn network_faults_load() {
        let ok = "  - {at_ms: 1, kind: partition, groups: [[primary], [pg-2, clients]], direction: one-way, name: cut}\n  \
                  - {at_ms: 2, kind: heal, heals: cut}\n  \
                  - {at_ms: 3, kind: loss, target: pg-2, percent: 30, duration_ms: 100}\n  \
                  - {at_ms: 4, kind: bandwidth, target: primary, rate_kb_per_s: 8}\n  \
                  - {at_ms: 5, kind: latency, target: primary, link: client, latency_ms: 200, stream: both}\n  \
                  - {at_ms: 6, kind: reset_peer, target: pg-2, link: replication, toxicity: 0.5}\n";
        check(ok, "proxy:\n  clients: true\n  replication: true\n").unwrap();
    }

    #[test]
    fn each_kind_takes_its_own_fields_only() {
        let e = check("  - {at_ms: 1, kind: kill, target: primary, percent: 5}\n", "").unwrap_err();
        assert!(e.contains("s.yaml:8:5: `percent` does not apply to a kill fault"), "{e}");
        let e = check("  - {at_ms: 1, kind: loss, target: primary}\n", "").unwrap_err();
        assert!(e.contains("a loss fault needs `percent`"), "{e}");
        let e = check("  - {at_ms: 1, kind: loss, target: primary, percent: 150}\n", "").unwrap_err();
        assert!(e.contains("percent must be above 0 and at most 100, found 150 (the share of packets dropped)"), "{e}");
    }

    #[test]
    fn link_faults_need_a_proxied_path() {
        let e = check("  - {at_ms: 1, kind: latency, target: primary, latency_ms: 5}\n", "").unwrap_err();
        assert!(e.contains("give `link: client` or `link: replication`"), "{e}");
        let e = check("  - {at_ms: 1, kind: down, target: primary, link: client}\n", "proxy:\n  replication: true\n").unwrap_err();
        assert!(e.contains("link `client` needs `proxy: {clients: true}`"), "{e}");
    }

    #[test]
    fn partitions_and_heals_are_checked() {
        let e = check("  - {at_ms: 1, kind: partition, groups: [[pg-1]]}\n", "").unwrap_err();
        assert!(e.contains("expected two or more non-empty groups"), "{e}");
        let e = check("  - {at_ms: 1, kind: partition, groups: [[pg-1], [pg-1, pg-9]]}\n", "").unwrap_err();
        assert!(e.contains("`pg-1` is in more than one group") && e.contains("found `pg-9`"), "{e}");
        let e = check("  - {at_ms: 1, kind: heal, heals: nope}\n", "").unwrap_err();
        assert!(e.contains("no earlier fault is named `nope`"), "{e}");
        let e = check("  - {at_ms: 1, kind: partition, groups: [[primary], [pg-1]]}\n", "").unwrap_err();
        assert!(e.contains("`pg-1` and `primary` are the same node (pg-1)"), "{e}");
        let e = check("  - {at_ms: 1, kind: partition, groups: [[replica-1, clients], [pg-2]]}\n", "").unwrap_err();
        assert!(e.contains("`pg-2` and `replica-1` are the same node (pg-2)"), "{e}");
        let timed = "  - {at_ms: 1, kind: loss, target: pg-1, percent: 5, duration_ms: 9, name: x}\n  - {at_ms: 2, kind: heal, heals: x}\n";
        assert!(check(timed, "").unwrap_err().contains("already heals itself"));
    }

    /// The kinds a switchover needs are read off the registry: MHA switches over too.
    #[test]
    fn a_switchover_on_a_scripted_stack_names_every_orchestrated_kind() {
        let e = check("  - {at_ms: 1, kind: switchover}\n", "").unwrap_err();
        assert!(e.contains("(redis-sentinel / patroni / mariadb-mha / redis-cluster / files-keepalived)"), "{e}");
        assert!(e.contains("for postgres / redis / mariadb / postgres-logical / files / objects, kill or stop the primary"), "{e}");
    }

    #[test]
    fn a_clock_skew_needs_an_offset_within_a_day_on_a_kind_that_can_be_skewed() {
        check("  - {at_ms: 1, kind: clock_skew, target: pg-2, offset_ms: -2000, duration_ms: 5000}\n", "").unwrap();
        let e = check("  - {at_ms: 1, kind: clock_skew, target: pg-2}\n", "").unwrap_err();
        assert!(e.contains("a clock_skew fault needs `offset_ms`"), "{e}");
        let e = check("  - {at_ms: 1, kind: clock_skew, target: pg-2, offset_ms: 0}\n", "").unwrap_err();
        assert!(e.contains("offset_ms must not be 0"), "{e}");
        let e = check("  - {at_ms: 1, kind: clock_skew, target: pg-2, offset_ms: 90000000}\n", "").unwrap_err();
        assert!(e.contains("offset_ms must be between -86400000 and 86400000, found 90000000 (a day either way)"), "{e}");
        let redis = HEAD.replace("kind: postgres", "kind: redis");
        let src = format!("{redis}faults:\n  - {{at_ms: 1, kind: clock_skew, target: primary, offset_ms: 500}}\n");
        let e = parse(Path::new("s.yaml"), src).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("s.yaml:8:5: a redis stack's clocks cannot be skewed") && e.contains("only for postgres"), "{e}");
    }
}
