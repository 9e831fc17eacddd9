//! The fault schedule as `--dry-run` prints it: every action in order with its offset,
//! each fault's parameters and heal, and on a sharded stack (a Redis Cluster) what a target
//! names when the fault fires: `shard-2/primary (rc-2, slots 5461-10922)`, the node the drill
//! resolves it to and the slots that node serves (the split the cluster is created with).
use crate::scenario::{FaultKind, FaultSpec, Scenario, ServicePlan, StackSpec, describe, kind_name};
use std::collections::BTreeMap;

/// What a target names, by the scenario's fault index and the target as the scenario
/// writes it (`full/primary` in a drill of several services).
type Notes = BTreeMap<(usize, String), String>;

/// One line per action the drill would run, in order. `services` resolves the targets of a
/// sharded stack's faults (an external stack's confirmation passes none).
pub fn action_lines(sc: &Scenario, services: &[ServicePlan]) -> Vec<String> {
    let notes: Notes = services.iter().flat_map(shard_notes).collect();
    let mut v = Vec::new();
    for (i, a) in sc.hooks.before.iter().enumerate() {
        v.push(format!("before the workload: hook before-{i}: {}", describe(a)));
    }
    let mut faults: Vec<(usize, &FaultSpec)> = sc.faults.iter().enumerate().collect();
    faults.sort_by_key(|(_, f)| f.at_ms);
    for (i, f) in faults {
        let what = match (&f.action, f.kind) {
            (Some(a), FaultKind::Action) => format!("action {}", describe(a)),
            (_, FaultKind::Heal) => format!("heal `{}`", f.heals.clone().unwrap_or_default()),
            (_, k) => {
                let named: Vec<String> =
                    targets(f).iter().map(|t| notes.get(&(i, t.to_string())).map_or(t.to_string(), |n| format!("{t} ({n})"))).collect();
                format!("{} {}", kind_name(k), named.join(" + "))
            }
        };
        let detail = fault_detail(f, &sc.faults);
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        v.push(format!("t={} ms: fault #{i}: {what}{detail}", f.at_ms));
        if let Some(u) = &f.undo {
            let when = match f.duration_ms {
                Some(d) => format!("t={} ms", f.at_ms + d),
                None => "at a heal naming it, else when the workload stops".into(),
            };
            v.push(format!("{when}: undo of fault #{i}: {}", describe(u)));
        }
    }
    if let Some(fo) = &sc.failover {
        let trigger = match (&fo.trigger.delay, &fo.trigger.probe) {
            (Some(d), _) => format!("{} ms after the first fault that hits the primary", d.delay_ms),
            (_, Some(p)) => format!("after {} failed probes of the primary ({} ms apart)", p.failures, p.interval_ms),
            _ => "never".into(),
        };
        for (i, a) in fo.steps.iter().enumerate() {
            v.push(format!("failover ({trigger}): step {i}: {}", describe(a)));
        }
    }
    for (i, a) in sc.hooks.after.iter().enumerate() {
        v.push(format!("after the drill (always): hook after-{i}: {}", describe(a)));
    }
    v
}

/// A fault's target, or its targets.
fn targets(f: &FaultSpec) -> Vec<&String> {
    f.target.iter().chain(f.targets.iter().flatten()).collect()
}

/// A fault's parameters beyond its kind and target, and when it is healed.
pub fn fault_detail(f: &FaultSpec, all: &[FaultSpec]) -> String {
    let mut j = serde_json::to_value(f).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut j {
        for k in ["at_ms", "kind", "target", "targets", "action", "undo", "duration_ms", "name", "heals"] {
            m.remove(k);
        }
    }
    let params = super::plan_parts::pairs(&j);
    let heal = match (f.duration_ms, &f.name) {
        (Some(d), _) => format!("healed after duration_ms {d}, at t={} ms", f.at_ms + d),
        _ if f.kind == FaultKind::Heal => String::new(),
        (None, Some(n)) => match all.iter().position(|g| g.heals.as_deref() == Some(n.as_str())) {
            Some(h) => format!("`{n}`, healed by fault #{h} at t={} ms", all[h].at_ms),
            None => format!("`{n}`, healed when the workload stops"),
        },
        (None, None) if matches!(f.kind, FaultKind::Kill | FaultKind::Destroy | FaultKind::DestroyData | FaultKind::KillSite) => {
            String::new()
        }
        (None, None) => "healed when the workload stops".into(),
    };
    [params, heal].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ")
}

/// A sharded stack as it is created: its nodes in start order (the first `masters` lead
/// shard 1, 2, …), each shard's slots, and whether sites place its replicas.
struct Shards {
    nodes: Vec<String>,
    masters: usize,
    slots: Vec<(u16, u16)>,
    sited: bool,
}

impl Shards {
    fn of(st: &StackSpec) -> Option<Shards> {
        let (masters, _) = st.shards().filter(|_| !st.kind.is_external())?;
        let slots = st.cluster.clone().unwrap_or_default().slot_ranges();
        Some(Shards { nodes: st.node_names(), masters, slots, sited: !st.sites.is_empty() })
    }

    /// Shard `n`'s (1-based) slots, `slots 5461-10922`.
    fn slots(&self, n: usize) -> String {
        self.slots.get(n - 1).map(|(a, b)| format!("slots {a}-{b}")).unwrap_or_default()
    }

    /// The replicas shard `n` starts with, when the stack places them itself (with sites,
    /// replica `M+i` follows primary `i` in start order); None when redis-cli pairs them.
    fn replicas(&self, n: usize) -> Option<Vec<&String>> {
        let m = self.masters;
        self.sited.then(|| (m..self.nodes.len()).filter(|j| (j - m) % m == n - 1).map(|j| &self.nodes[j]).collect())
    }

    /// The shard `target` names, whether it names the shard's primary, and what it
    /// names; `focus` is the shard `primary` means then. None for anything else.
    fn name(&self, target: &str, focus: usize, moved: bool) -> Option<(usize, bool, String)> {
        let primary = |n: usize| {
            let node = &self.nodes[n - 1];
            let who = if moved { format!("whichever node leads shard-{n} then: {node} unless it failed over") } else { node.clone() };
            (n, true, format!("{who}, {}", self.slots(n)))
        };
        if target == "primary" {
            let (n, _, said) = primary(focus);
            return Some((n, true, format!("shard-{n}'s primary: {said}")));
        }
        if let Some((n, role)) = target.strip_prefix("shard-").and_then(|r| r.split_once('/')) {
            let n: usize = n.parse().ok().filter(|n| (1..=self.masters).contains(n))?;
            if role == "primary" {
                return Some(primary(n));
            }
            let k: usize = role.strip_prefix("replica-")?.parse().ok()?;
            let node = match self.replicas(n) {
                Some(r) if r.len() == 1 => r[0].clone(),
                Some(r) => format!("one of {} in the cluster's order", r.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")),
                None => format!("{}'s replica {k}, as redis-cli --cluster create pairs them", self.nodes[n - 1]),
            };
            return Some((n, false, format!("{node}, {}", self.slots(n))));
        }
        let i = self.nodes.iter().position(|x| x == target)?;
        if i < self.masters {
            return Some((i + 1, true, format!("shard-{}'s primary at the start, {}", i + 1, self.slots(i + 1))));
        }
        let n = (1..=self.masters).find(|n| self.replicas(*n).is_some_and(|r| r.contains(&&self.nodes[i])))?;
        Some((n, false, format!("a replica of shard-{n} at the start, {}", self.slots(n))))
    }
}

/// Each target of a sharded service's faults, named as the drill will resolve it: the
/// faults in time order, `primary` the shard the last fault on a shard's primary focused
/// (shard 1 at first), a shard hit earlier possibly led by another node by then.
fn shard_notes(plan: &ServicePlan) -> Notes {
    let mut notes = Notes::new();
    let Some(shards) = Shards::of(&plan.view.stack) else { return notes };
    let mut order: Vec<(usize, &FaultSpec)> = plan.view.faults.iter().enumerate().collect();
    order.sort_by_key(|(_, f)| f.at_ms);
    let (mut focus, mut hit) = (1, BTreeMap::<usize, u64>::new());
    let by_site = [FaultKind::IsolateSite, FaultKind::KillSite, FaultKind::DegradeLink, FaultKind::Heal, FaultKind::Action];
    for (j, f) in order.into_iter().filter(|(_, f)| !by_site.contains(&f.kind)) {
        for t in targets(f) {
            let shard_of = |t: &str| shards.name(t, focus, false).map(|(n, _, _)| n);
            let moved = shard_of(t).and_then(|n| hit.get(&n)).is_some_and(|at| *at < f.at_ms);
            let Some((n, leads, said)) = shards.name(t, focus, moved) else { continue };
            if leads {
                focus = n;
            }
            hit.entry(n).or_insert(f.at_ms);
            let written = if plan.tagged { format!("{}/{t}", plan.name) } else { t.clone() };
            notes.insert((plan.faults.get(j).copied().unwrap_or(j), written), said);
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> String {
        let l = crate::scenario::parse(std::path::Path::new("t.yaml"), yaml.to_string()).unwrap();
        action_lines(&l.scenario, &l.services).join("\n")
    }

    #[test]
    fn a_shard_target_names_the_node_and_the_slots_it_hits() {
        let base = "name: t\ntargets: {}\nstack: {kind: redis-cluster}\nworkload: {max_duration_ms: 60000}\nfaults:\n";
        let kill = |at: u64, t: &str| format!("  - {{at_ms: {at}, kind: kill, target: {t}}}\n");
        let text = plan(&format!("{base}{}{}", kill(5000, "shard-2/primary"), kill(5000, "shard-2/replica-1")));
        assert!(text.contains("fault #0: kill shard-2/primary (rc-2, slots 5461-10922)"), "{text}");
        assert!(
            text.contains(
                "fault #1: kill shard-2/replica-1 (rc-2's replica 1, as redis-cli --cluster create pairs them, slots 5461-10922)"
            ),
            "{text}"
        );
        // `primary` is shard 1's until a fault hits another shard's primary, then that one's
        let text = plan(&format!("{base}{}{}{}", kill(1000, "primary"), kill(2000, "rc-3"), kill(3000, "primary")));
        assert!(text.contains("fault #0: kill primary (shard-1's primary: rc-1, slots 0-5460)"), "{text}");
        assert!(text.contains("fault #1: kill rc-3 (shard-3's primary at the start, slots 10923-16383)"), "{text}");
        assert!(
            text.contains("fault #2: kill primary (shard-3's primary: whichever node leads shard-3 then: rc-3 unless it failed over"),
            "{text}"
        );
    }

    #[test]
    fn with_sites_a_replica_target_names_its_node_and_other_stacks_say_only_the_target() {
        let text = plan(
            "name: t\ntargets: {}\nsites: [a, b, c]\nwan: [{between: [a, b]}, {between: [a, c]}, {between: [b, c]}]\n\
             stack: {kind: redis-cluster, sites: {a: [rc-1, rc-6], b: [rc-2, rc-4], c: [rc-3, rc-5]}}\n\
             faults: [{at_ms: 1000, kind: kill, target: shard-3/replica-1}]\n",
        );
        assert!(text.contains("kill shard-3/replica-1 (rc-6, slots 10923-16383)"), "{text}");
        let text = plan("name: t\ntargets: {}\nstack: {kind: postgres}\nfaults: [{at_ms: 1000, kind: kill, target: primary}]\n");
        assert!(text.ends_with("fault #0: kill primary"), "{text}");
    }
}
