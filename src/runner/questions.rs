//! The four questions asked of a drill's assembled results: the faults it injected, read
//! from the history's events with the nodes and services each hit, handed with the results
//! to `report::answer_questions`.
use crate::checker::{FaultInjected, Results};
use crate::history::{Event, EventKind};
use crate::scenario::{FaultKind, Loaded};

/// The results with their four questions answered.
pub(super) fn ask(loaded: &Loaded, results: &mut Results) {
    let faults = faults_injected(loaded, &results.events);
    results.questions = Some(crate::checker::answer_questions(results, &faults));
}

/// Every fault injected (a fault that failed to inject is a finding, not here), in the
/// order they were asked for (an event is recorded once its fault is applied).
pub(super) fn faults_injected(loaded: &Loaded, events: &[Event]) -> Vec<FaultInjected> {
    let injects = events.iter().filter(|e| e.kind == EventKind::FaultInject);
    let mut faults: Vec<FaultInjected> = injects.filter_map(|e| Some((e, e.fault?))).map(|(e, index)| injected(loaded, e, index)).collect();
    faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    faults
}

/// One fault: the service its event names (else every service whose fault it is), and its
/// nodes it named: the node itself, every node of a site it named, every member of a
/// partition's groups.
fn injected(loaded: &Loaded, e: &Event, index: usize) -> FaultInjected {
    let spec = loaded.scenario.faults.get(index);
    let target = e.node.clone().or_else(|| spec.and_then(|s| s.target.clone())).unwrap_or_default();
    let words: Vec<&str> = target.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).collect();
    let mut services = Vec::new();
    let mut nodes = Vec::new();
    for plan in &loaded.services {
        let hit = match e.service.as_deref() {
            Some(s) => s == plan.name,
            None => plan.faults.contains(&index),
        };
        if !hit {
            continue;
        }
        services.push(plan.name.clone());
        let stack = &plan.view.stack;
        let in_site = |n: &String| words.iter().any(|w| stack.sites.get(*w).is_some_and(|s| s.contains(n)));
        nodes.extend(stack.node_names().into_iter().filter(|n| words.contains(&n.as_str()) || in_site(n)));
    }
    FaultInjected {
        index,
        kind: spec.map(|s| crate::scenario::kind_name(s.kind)).unwrap_or_default(),
        target,
        at_ms: crate::clock::ms(e.t_ns),
        nodes,
        services,
        planned: spec.is_some_and(|s| s.kind == FaultKind::Switchover),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(yaml: &str) -> Loaded {
        crate::scenario::parse(std::path::Path::new("t.yaml"), yaml.to_string()).expect("the scenario loads")
    }

    fn inject(index: usize, node: &str, service: Option<&str>) -> Event {
        Event {
            service: service.map(Into::into),
            t_ns: 5_000_000_000,
            kind: EventKind::FaultInject,
            fault: Some(index),
            node: Some(node.into()),
            detail: String::new(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    #[test]
    fn a_fault_hits_the_node_it_names_or_every_node_of_the_site_it_names() {
        let l = loaded(
            "name: t\nsites: [dc1, dc2]\nwan: [{between: [dc1, dc2]}]\nstack: {kind: postgres, replicas: 2, sites: {dc1: [pg-1], dc2: [pg-2, pg-3]}}\n\
             faults:\n  - {at_ms: 1000, kind: kill, target: primary}\n  - {at_ms: 2000, kind: isolate_site, target: dc2}\ntargets: {rto_ms: 30000}\n",
        );
        let mut site = inject(1, "dc2", None);
        site.t_ns = 2_000_000_000; // asked for before the kill, recorded after it
        let f = faults_injected(&l, &[inject(0, "pg-1", None), site]);
        assert_eq!(f.iter().map(|x| x.index).collect::<Vec<_>>(), [1, 0], "in the order they were asked for");
        let (site, kill) = (&f[0], &f[1]);
        assert_eq!(
            (kill.kind.as_str(), kill.nodes.clone(), kill.services.clone()),
            ("kill", vec!["pg-1".to_string()], vec![l.services[0].name.clone()])
        );
        assert_eq!((site.target.as_str(), site.nodes.clone(), site.at_ms), ("dc2", vec!["pg-2".to_string(), "pg-3".to_string()], 2000.0));
        assert!(!kill.planned);
    }
}
