//! A failover that began before any fault of the drill: drdrill's own trigger (a probe
//! that failed on a saturated host) or the orchestrator's promotion of another node. It
//! answered no fault, so the RTO and the loss measured after it are not a fault's: the
//! fault may then hit a node nobody uses, and the scorecard read RTO 0.
use super::Results;
use super::questions::{Finding, FindingKind};
use crate::history::{Event, EventKind, before_first_fault, belongs};

/// One finding per service whose failover began before the first fault that concerns it.
pub(super) fn failovers_before_faults(r: &Results) -> Vec<Finding> {
    r.each_service()
        .into_iter()
        .filter_map(|(name, sr)| {
            let events: Vec<&Event> = r.events.iter().filter(|e| belongs(e.service.as_ref(), Some(name))).collect();
            let (what, evidence) = early(&events, &sr.stack.initial_primary, r)?;
            Some(Finding { service: Some(name.to_string()), kind: FindingKind::FailoverBeforeFault, what, evidence })
        })
        .collect()
}

/// `(what, evidence)` of the first failover step before the first fault, if any.
fn early(events: &[&Event], initial: &str, r: &Results) -> Option<(String, String)> {
    let began = |e: &Event| match e.kind {
        EventKind::FailoverStart => true,
        EventKind::OrchestratorPromoted => e.node.as_deref().is_some_and(|n| n != initial),
        _ => false,
    };
    let (e, first_fault) = before_first_fault(events, began)?;
    let ms = |ns: u64| ns as f64 / 1e6;
    let how = match e.kind {
        EventKind::FailoverStart => "drdrill's failover began".to_string(),
        _ => format!("the orchestrator promoted {}", e.node.as_deref().unwrap_or("?")),
    };
    let before =
        first_fault.map_or("and no fault was injected".into(), |f| format!("{:.1} s before the first fault", ms(f - e.t_ns) / 1e3));
    let what = format!(
        "{how} at t={:.1} s, {before}: it answered no fault, and the RTO and loss measured after it are not a fault's",
        ms(e.t_ns) / 1e3
    );
    let mut evidence = if e.detail.is_empty() { "no reason given".to_string() } else { e.detail.clone() };
    if let Some(s) = saturated_at(r, ms(e.t_ns)) {
        evidence.push_str(&format!("; the host was saturated then (t={:.1}–{:.1} s, {:.0} % busy)", s.0 / 1e3, s.1 / 1e3, s.2 * 100.0));
    }
    Some((what, evidence))
}

/// The saturated stretch `(from ms, to ms, busy)` that holds `t_ms`, or ends within a
/// second before it (a probe's failures lead its verdict).
fn saturated_at(r: &Results, t_ms: f64) -> Option<(f64, f64, f64)> {
    let host = r.harness.as_ref()?.host.as_ref()?;
    host.saturated.iter().find(|s| s.from_ms <= t_ms && t_ms <= s.to_ms + 1000.0).map(|s| (s.from_ms, s.to_ms, s.busy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{HarnessUsage, HostLoad, Stretch};

    fn event(t_ms: u64, kind: EventKind, node: &str, detail: &str) -> Event {
        let node = (!node.is_empty()).then(|| node.to_string());
        Event {
            service: None,
            t_ns: t_ms * 1_000_000,
            kind,
            fault: None,
            node,
            detail: detail.into(),
            applied_ns: None,
            applied_from_ns: None,
        }
    }

    fn drill(events: Vec<Event>) -> Results {
        let mut r = crate::checker::sample::sample();
        r.stack.initial_primary = "pg-1".into();
        r.events = events;
        r
    }

    #[test]
    fn a_probe_that_tripped_before_the_fault_on_a_saturated_host_is_a_finding_that_says_so() {
        let mut r = drill(vec![
            event(1500, EventKind::FailoverStart, "pg-1", "3 consecutive failed probes (500 ms apart, 500 ms timeout)"),
            event(4000, EventKind::FaultInject, "pg-1", "kill pg-1"),
        ]);
        let host = HostLoad {
            cores: 2,
            interval_ms: 250.0,
            samples: 40,
            busy_p50: 0.9,
            busy_max: 1.0,
            saturated: vec![Stretch { from_ms: 0.0, to_ms: 1250.0, busy: 0.98 }],
            disk: None,
        };
        r.harness = Some(HarnessUsage { host: Some(host), ..HarnessUsage::between_nothing() });
        let f = failovers_before_faults(&r);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::FailoverBeforeFault);
        assert!(f[0].what.starts_with("drdrill's failover began at t=1.5 s, 2.5 s before the first fault"), "{}", f[0].what);
        assert!(
            f[0].evidence.contains("3 consecutive failed probes") && f[0].evidence.contains("saturated then (t=0.0–1.2 s, 98 % busy)"),
            "{}",
            f[0].evidence
        );
    }

    #[test]
    fn targets_met_after_a_failover_before_any_fault_answer_unknown_and_one_missed_still_no() {
        use super::super::answers::answer;
        use super::super::questions::Answer;
        use crate::checker::{TargetResult, Verdict};
        let row = |target: &str, verdict| TargetResult { target: target.into(), limit: None, actual: None, verdict, note: String::new() };
        let mut r = drill(vec![event(200, EventKind::FailoverStart, "pg-1", "probes"), event(3000, EventKind::FaultInject, "pg-1", "")]);
        r.rto_ms = Some(0.0);
        r.targets = vec![row("failover_after_fault", Verdict::Unknown), row("rto_ms", Verdict::Pass), row("rpo_ms", Verdict::Fail)];
        r.targets[1].limit = Some(5000.0);
        r.targets[1].actual = Some(0.0);
        r.targets[2].limit = Some(0.0);
        r.targets[2].actual = Some(2769.0);
        let q = answer(&r, &[]);
        assert_eq!((q.rto.answer, q.rpo.answer, q.unexpected.answer), (Answer::Unknown, Answer::No, Answer::Yes));
        assert!(q.rto.services[0].note.contains("the failover began before any fault"), "{:?}", q.rto.services[0]);
        // without the early failover the same figure is a yes
        r.targets.remove(0);
        r.events.remove(0);
        assert_eq!(answer(&r, &[]).rto.answer, Answer::Yes);
    }

    #[test]
    fn an_orchestrator_promoting_another_node_before_the_fault_is_one_and_its_first_leader_or_a_later_failover_is_not() {
        let promoted = |t, node| event(t, EventKind::OrchestratorPromoted, node, "promoted self to leader");
        let kill = event(4000, EventKind::FaultInject, "pg-1", "kill pg-1");
        let f = failovers_before_faults(&drill(vec![promoted(800, "pg-2"), kill.clone()]));
        assert!(f.len() == 1 && f[0].what.starts_with("the orchestrator promoted pg-2 at t=0.8 s"), "{f:?}");
        assert!(failovers_before_faults(&drill(vec![promoted(800, "pg-1"), kill.clone(), promoted(6000, "pg-2")])).is_empty());
        let start = event(4000, EventKind::FailoverStart, "pg-1", "1000 ms after fault #0");
        assert!(failovers_before_faults(&drill(vec![kill, start])).is_empty(), "a failover at the fault's request answers it");
    }
}
