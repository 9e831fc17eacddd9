//! The four questions on hand-built results: each answer (unknown figures, no target, not
//! drilled), each finding kind, the pages matched to faults, the words the reports print.
use super::*;
use crate::checker::answer_questions as answer;
#[allow(unused_imports)]
use crate::checker::{
    Answer, Comparison, FaultInjected, Figure, Finding, FindingKind, Interruption, IsolatedPrimary, NodeInfo, Questions, Results,
    SCHEMA_VERSION, StackInfo, SteadyStateReport,
};
use crate::checker::{RtoBasis, TargetResult, Verdict};
use crate::monitor::{AlertOutcome, AlertRuleReport, AlertsReport, Notification};

fn target(name: &str, limit: f64, actual: Option<f64>, verdict: Verdict) -> TargetResult {
    TargetResult { target: name.into(), limit: Some(limit), actual, verdict, note: String::new() }
}

/// pg-1 killed at 5 s, writes back 1.5 s later, 2 lost writes; every target met; no
/// monitoring; nothing unexpected.
fn clean() -> Results {
    Results {
        rto_ms: Some(1500.0),
        outage_observed: true,
        rto_basis: RtoBasis::Fault,
        recovered_at_ms: Some(6500.0),
        rpo_ms: Some(40.0),
        lost_writes: Some(2),
        recovered_writes: Some(0),
        duplicate_writes: Some(0),
        unexpected_writes: Some(0),
        converged: Some(true),
        fault_ms: Some(5000.0),
        answered_fault: Some(0),
        targets: vec![target("rto_ms", 30000.0, Some(1500.0), Verdict::Pass), target("rpo_ms", 1000.0, Some(40.0), Verdict::Pass)],
        ..tests_support::results()
    }
}

/// The one service's name: its stack's kind.
fn svc() -> String {
    tests_support::results().stack.kind
}

fn kill(index: usize, node: &str, at_ms: f64) -> FaultInjected {
    FaultInjected {
        index,
        kind: "kill".into(),
        target: node.into(),
        at_ms,
        nodes: vec![node.into()],
        services: vec![svc()],
        planned: false,
    }
}

fn firing(alert: &str, at_ms: f64, labels: &[(&str, &str)]) -> Notification {
    Notification {
        at_ms,
        alert: alert.into(),
        status: "firing".into(),
        starts_ms: Some(at_ms - 5000.0),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

fn monitored(notifications: Vec<Notification>) -> Option<AlertsReport> {
    Some(AlertsReport { notifications, polls: 100, ..Default::default() })
}

fn kinds(r: &Results) -> Vec<FindingKind> {
    answer(r, &[]).unexpected.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn rto_and_rpo_are_yes_only_with_a_measured_figure_within_a_set_target() {
    let q = answer(&clean(), &[kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.rto.answer, q.rpo.answer, q.unexpected.answer), (Answer::Yes, Answer::Yes, Answer::No));
    assert_eq!((q.rto.services[0].figure, q.rto.services[0].limit), (Some(1500.0), Some(30000.0)));
    // a missed target is a no
    let mut r = clean();
    r.targets[0] = target("rto_ms", 1000.0, Some(1500.0), Verdict::Fail);
    assert_eq!(answer(&r, &[]).rto.answer, Answer::No);
    // the surviving data unread: the checker cannot decide, and the answer is no yes
    let mut r = clean();
    r.rpo_ms = None;
    r.targets[1] = target("rpo_ms", 1000.0, None, Verdict::Unknown);
    assert_eq!(answer(&r, &[]).rpo.answer, Answer::Unknown);
    // a pass without a figure (never the checker's, but never a yes either)
    r.targets[1] = target("rpo_ms", 1000.0, None, Verdict::Pass);
    assert_eq!(answer(&r, &[]).rpo.answer, Answer::Unknown);
    // no target set: the figure is shown, the answer unknown
    let mut r = clean();
    r.targets.clear();
    let q = answer(&r, &[]);
    assert_eq!((q.rto.answer, q.rto.services[0].figure, q.rto.services[0].limit), (Answer::Unknown, Some(1500.0), None));
    assert_eq!((q.rpo.answer, q.rpo.services[0].note.as_str()), (Answer::Unknown, "no rpo_ms or max_lost_writes target set"));
    // RPO as lost writes counts too
    r.targets = vec![target("max_lost_writes", 0.0, Some(2.0), Verdict::Fail)];
    assert_eq!(answer(&r, &[]).rpo.answer, Answer::No);
}

#[test]
fn a_service_nothing_hit_meets_its_rto_and_a_drill_of_several_has_each_services_rows() {
    let mut quiet = clean();
    (quiet.rto_ms, quiet.outage_observed, quiet.fault_ms, quiet.answered_fault) = (None, false, None, None);
    quiet.no_rto_because = Some("nothing to recover from".into());
    quiet.targets = vec![target("rto_ms", 30000.0, None, Verdict::Pass)];
    let mut late = clean();
    late.targets[0] = target("rto_ms", 1000.0, Some(1500.0), Verdict::Fail);
    let r = Results::of_services(vec![("pg".into(), late), ("cache".into(), quiet)], Vec::new());
    let q = answer(&r, &[]);
    let rows: Vec<(&str, Answer)> = q.rto.services.iter().map(|f| (f.service.as_str(), f.answer)).collect();
    assert_eq!(rows, [("cache", Answer::Yes), ("pg", Answer::No)]);
    assert_eq!(q.rto.answer, Answer::No);
    // cache set no RPO target: unknown beside pg's yes
    assert_eq!(q.rpo.answer, Answer::Unknown);
    let blocks = questions_text::blocks(&q);
    assert!(blocks[0].rows[0].starts_with("cache: rto_ms none, no outage, limit 30000 ms: yes"), "{:?}", blocks[0]);
    assert_eq!((blocks[0].why.as_str(), blocks[1].why.as_str()), ("missed by pg", "undecided for cache"));
}

#[test]
fn each_finding_about_the_writes_and_the_data_is_listed_with_its_figure() {
    let mut r = clean();
    r.relapses = 35;
    (r.recovered_writes, r.duplicate_writes, r.unexpected_writes) = (Some(3), Some(1), Some(2));
    r.recovered_failed_writes = Some(1);
    r.converged = Some(false);
    let node =
        crate::checker::NodeConvergence { node: "pg-3".into(), records: Some(8), missing: 2, extra: 0, converged: false, error: None };
    r.convergence =
        Some(crate::checker::Convergence { converged: Some(false), waited_ms: 30000.0, nodes: vec![node], excluded: Vec::new() });
    let mut ma = crate::checker::MultiActiveReport::default();
    ma.updates.diverged_keys = vec![crate::checker::DivergedKey::bare(7), crate::checker::DivergedKey::bare(9)];
    r.multi_active = Some(ma);
    let q = answer(&r, &[]);
    let kinds: Vec<FindingKind> = q.unexpected.findings.iter().map(|f| f.kind).collect();
    use FindingKind::*;
    assert_eq!(kinds, [Relapse, RecoveredWrites, DuplicateWrites, NeverWritten, DivergedKeys, NotConverged]);
    assert_eq!(q.unexpected.answer, Answer::Yes);
    let relapse = &q.unexpected.findings[0];
    assert_eq!(relapse.service.as_deref(), Some(svc().as_str()));
    assert_eq!(relapse.evidence, "35 writes invoked after the recovery point (t=6500.0 ms) did not succeed");
    assert!(q.unexpected.findings[4].evidence.starts_with("2 keys differ between nodes (first: 7 (unexplained), 9 (unexplained))"));
    assert_eq!(q.unexpected.findings[5].evidence, "pg-3: 2 missing, 0 extra");
    assert!(q.unexpected.findings[1].evidence.contains("and 2 that timed out, which may commit"), "{:?}", q.unexpected.findings[1]);
    // writes that timed out and committed anyway are no finding: a timeout is not a refusal
    r.recovered_failed_writes = Some(0);
    let q = answer(&r, &[]);
    assert!(q.unexpected.findings.iter().all(|f| f.kind != RecoveredWrites), "{:?}", q.unexpected.findings);
}

#[test]
fn an_outage_no_fault_targeted_a_fault_not_injected_and_a_failed_probe_are_findings() {
    let mut r = clean();
    (r.rto_basis, r.fault_ms, r.outage_ms, r.outage_start_ms) = (RtoBasis::OutageStart, None, Some(2100.0), Some(3000.0));
    let mut failed = r.events[0].clone();
    (failed.kind, failed.fault, failed.detail) = (crate::history::EventKind::FaultFailed, Some(1), "kill pg-9 failed: no such node".into());
    r.events.push(failed);
    let probe = |ok| crate::action::ProbeResult { probe: "orders-api".into(), ok, detail: "HTTP 503".into() };
    r.steady_state = Some(SteadyStateReport { before: vec![probe(true)], after: vec![probe(false), probe(true)] });
    use FindingKind::*;
    assert_eq!(kinds(&r), [UntargetedOutage, FaultNotInjected, SteadyStateFailed]);
    let q = answer(&r, &[]);
    assert_eq!(q.unexpected.findings[0].evidence, "outage 2100.0 ms from t=3000.0 ms");
    assert_eq!((q.unexpected.findings[2].service.as_deref(), q.unexpected.findings[2].evidence.as_str()), (None, "HTTP 503"));
}

#[test]
fn a_replica_that_stopped_replicating_is_a_finding_with_its_log_line() {
    use crate::history::EventKind;
    let mut r = clean();
    let mut stop = r.events[0].clone();
    let why = "pg-3 stopped applying: logical replication target relation \"public.users\" is missing replicated column: \"region\"";
    (stop.kind, stop.t_ns, stop.node, stop.fault, stop.detail) =
        (EventKind::ReplicationStopped, 5_064_000_000, Some("pg-3".into()), None, why.into());
    let mut failover = r.events[0].clone();
    (failover.kind, failover.t_ns, failover.fault) = (EventKind::FailoverStart, 18_085_000_000, None);
    r.events.extend([stop, failover]);
    assert_eq!(kinds(&r), [FindingKind::ReplicationStopped]);
    let f = &answer(&r, &[]).unexpected.findings[0];
    assert_eq!(f.what, "pg-3 stopped replicating at t=5064.0 ms, 13.0 s before the failover began");
    assert_eq!(f.evidence, why);
    // a stop once the failover began (the subscription disabled, the stream cut) is not one
    let mut late = r.events[r.events.len() - 2].clone();
    late.t_ns = 20_000_000_000;
    r.events.push(late);
    assert_eq!(kinds(&r), [FindingKind::ReplicationStopped]);
    // without a failover after it, no "before"
    r.events.truncate(r.events.len() - 2);
    assert_eq!(answer(&r, &[]).unexpected.findings[0].what, "pg-3 stopped replicating at t=5064.0 ms");
}

#[test]
fn a_shard_no_fault_hit_with_an_outage_is_a_finding() {
    let shard = |name: &str, hit, outage_start_ms: Option<f64>| crate::checker::ShardResult {
        shard: name.into(),
        slots: "0-5460".into(),
        share: 1.0 / 3.0,
        primary: String::new(),
        replicas: Vec::new(),
        acked: 100,
        failed: 10,
        unknown: 0,
        lost: Some(0),
        rpo_ms: Some(0.0),
        outage_ms: outage_start_ms.map(|_| 1800.0),
        outage_start_ms,
        recovered_at_ms: outage_start_ms.map(|t| t + 1800.0),
        hit,
        rto_ms: None,
    };
    let mut r = clean();
    let quiet = shard("shard-3", false, None);
    r.shards = Some(crate::checker::ShardsReport {
        shards: vec![shard("shard-1", true, Some(5000.0)), shard("shard-2", false, Some(5100.0)), quiet],
        ..Default::default()
    });
    let q = answer(&r, &[]);
    let f = &q.unexpected.findings;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].kind, f[0].what.as_str()), (FindingKind::UntargetedOutage, "shard-2 (0-5460) saw an outage no fault targeted"));
    assert_eq!(f[0].evidence, "outage 1800.0 ms from t=5100.0 ms");
}

#[test]
fn refusals_after_the_failover_and_a_table_not_replicated_that_lost_writes_are_findings() {
    use crate::checker::{GroupResult, GroupsReport, RefusalCause, RefusalsReport};
    let dup = "23505: duplicate key value violates unique constraint \"users_pkey\"";
    let cause = RefusalCause::duplicate_users_key(3);
    let table = |name: &str, replicated: bool, lost: u64| GroupResult {
        name: name.into(),
        replicated,
        how: format!("{}in publication main_pub", if replicated { "" } else { "not " }),
        acked: 1200,
        failed: 0,
        unknown: 0,
        lost: Some(lost),
        rpo_ms: Some(1.0),
        acked_before_failover: Some(1180),
        lost_before_failover: Some(lost),
        none_reached: !replicated,
    };
    let mut r = clean();
    let refusals =
        RefusalsReport { failover_done_ms: Some(5240.0), done_by: None, refused: 412, causes: vec![cause], store: String::new() };
    r.refused_after_failover = Some(refusals.clone());
    let groups = vec![table("users", true, 2), table("audit_log", false, 1180), table("sessions", false, 0)];
    r.groups = Some(GroupsReport { what: "table".into(), groups, failover_done_ms: Some(5240.0) });
    let q = answer(&r, &[]);
    let f = &q.unexpected.findings;
    assert_eq!(q.unexpected.answer, Answer::Yes);
    assert_eq!(kinds(&r), [FindingKind::RefusedAfterFailover, FindingKind::NotReplicated], "{f:?}");
    assert_eq!(f[0].what, format!("the database refused 412 writes after the failover (done t=5240.0 ms): {dup}"));
    // a file store's refusals are the file store's, not a database's
    let mut files = r.clone();
    files.refused_after_failover = Some(RefusalsReport { store: "the file store".into(), ..refusals });
    assert!(answer(&files, &[]).unexpected.findings[0].what.starts_with("the file store refused 412 writes"));
    assert!(f[0].evidence.starts_with(&format!("t=5301.2 to 9800.0 ms, on pg-dr-1; first: {dup} (Key (id)=(3)")), "{}", f[0].evidence);
    assert_eq!(f[1].what, "table audit_log (not in publication main_pub) is not replicated and lost acknowledged writes");
    assert_eq!(
        f[1].evidence,
        "1180 of its 1200 acknowledged writes lost; none of its 1180 acknowledged writes before the failover reached the DR region"
    );
    // nothing refused and nothing lost: no finding
    r.refused_after_failover = Some(RefusalsReport { failover_done_ms: Some(5240.0), ..Default::default() });
    r.groups.as_mut().unwrap().groups.truncate(1);
    assert!(kinds(&r).is_empty());
}

#[test]
fn a_phase_over_its_budget_and_a_late_watcher_are_findings() {
    let mut r = clean();
    let mut p = crate::checker::Phases {
        orchestrator: "Patroni".into(),
        detection_ms: Some(31000.0),
        promotion_ms: Some(900.0),
        ..Default::default()
    };
    (p.budgets.detection_ms, p.budgets.detection_from) = (Some(30000.0), "ttl 30 s".into());
    p.budgets.promotion_ms = Some(1000.0);
    p.watcher_late_ms = Some(12.5);
    r.phases = Some(p);
    assert_eq!(kinds(&r), [FindingKind::PhaseOverBudget, FindingKind::WatcherLate]);
    let q = answer(&r, &[]);
    assert_eq!(q.unexpected.findings[0].evidence, "31000 ms against a budget of 30000 ms (ttl 30 s)");
    assert!(q.unexpected.findings[1].evidence.starts_with("Patroni saw the promotion 12.5 ms after"));
}

#[test]
fn drdrills_cpu_share_is_information_and_a_saturated_host_is_the_finding() {
    use crate::usage::{Footprint, HarnessUsage, HostLoad, Role, Stretch};
    let stack = Footprint { containers: 6, cpu_s: 10.0, peak_memory_mb: None };
    let h = HarnessUsage { workload_cpu_ms: 6600.0, writes_per_s: 680.0, ..HarnessUsage::between_nothing() };
    let mut r = clean();
    r.harness = Some(h.with_containers([(Role::Stack, Some(stack)), (Role::Monitoring, None), (Role::Proxy, None)]));
    assert!(kinds(&r).is_empty(), "66 % of the stack's CPU on an idle host perturbs nothing");
    let saturated = vec![Stretch { from_ms: 1000.0, to_ms: 2500.0, busy: 0.98 }];
    r.harness.as_mut().unwrap().host = Some(HostLoad { cores: 2, saturated, ..HostLoad::default() });
    assert_eq!(kinds(&r), [FindingKind::HostSaturated]);
    assert_eq!(answer(&r, &[]).unexpected.findings[0].service, None, "the drill's own");
}

#[test]
fn dead_noisy_and_stuck_rules_and_monitoring_that_could_not_page_are_findings() {
    let rule = |alert: &str, outcome| AlertRuleReport { alert: alert.into(), outcome, firing_ms: Some(9000.0), ..Default::default() };
    let mut a = AlertsReport { polls: 50, ..Default::default() };
    a.rules = vec![
        AlertRuleReport { reason: "no pg_replication_lag_seconds".into(), ..rule("Lag", AlertOutcome::Dead) },
        AlertRuleReport { noise: true, instances: vec!["redis-2".into()], ..rule("NoReplicas", AlertOutcome::Notified) },
        AlertRuleReport { stuck: true, ..rule("Down", AlertOutcome::Notified) },
        rule("Quiet", AlertOutcome::FiredNotNotified),
    ];
    let mut r = clean();
    r.alerts = Some(a.clone());
    use FindingKind::*;
    assert_eq!(kinds(&r), [AlertDead, AlertNoisy, AlertStuck, MonitoringCouldNotPage]);
    // every poll failed: monitoring could not page, said once
    a.rules.clear();
    a.failed_polls = 50;
    r.alerts = Some(a);
    let q = answer(&r, &[]);
    assert_eq!(q.unexpected.findings.len(), 1);
    assert_eq!(
        (q.unexpected.findings[0].kind, q.unexpected.findings[0].evidence.as_str()),
        (MonitoringCouldNotPage, "all 50 polls failed")
    );
}

#[test]
fn monitoring_that_could_not_page_says_what_would_have_paged_from_the_other_site() {
    let w = |alert: &str, instance: &str, at: f64| crate::monitor::WitnessFiring {
        site: "dc2".into(),
        alert: alert.into(),
        instance: instance.into(),
        firing_ms: at,
    };
    let mut a = AlertsReport { polls: 50, placed_in: vec!["dc1".into()], could_not_page: vec![(4000.0, 30_000.0)], ..Default::default() };
    a.would_have_paged = vec![w("PgDown", "pg-1", 7000.0), w("RedisDown", "redis-1", 7100.0), w("Late", "pg-2", 31_000.0)];
    let mut r = clean();
    r.alerts = Some(a);
    let q = answer(&r, &[]);
    let e = &q.unexpected.findings[0].evidence;
    assert!(
        e.ends_with("; from dc2 (a witness Prometheus, same rules, paging nobody): PgDown (pg-1) firing at t=7000.0 ms, RedisDown (redis-1) firing at t=7100.0 ms"),
        "{e}"
    );
}

#[test]
fn alerting_is_not_drilled_without_monitoring_and_never_yes() {
    let q = answer(&clean(), &[kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.alerting.answer, q.alerting.why.as_str()), (Answer::NotDrilled, "no monitoring in this drill"));
    assert_eq!((q.alerting.faults.len(), q.alerting.faults[0].outage), (1, true));
}

#[test]
fn a_fault_pages_when_an_alert_for_its_node_reaches_the_receiver_within_the_rto_target() {
    let mut r = clean();
    let service = svc();
    let labels = [("instance", "pg-1"), ("service", service.as_str())];
    r.alerts = monitored(vec![firing("PostgresDown", 21300.0, &labels), firing("ReplicaDown", 21000.0, &[("instance", "pg-2")])]);
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    assert_eq!(q.alerting.answer, Answer::Yes);
    let pages = &q.alerting.faults[0].pages;
    assert_eq!(pages.len(), 1, "pg-2's alert is not for pg-1: {pages:?}");
    assert_eq!((pages[0].matched.as_str(), pages[0].to_page_ms, pages[0].limit_ms), ("instance=pg-1", 16300.0, Some(30000.0)));
    // the alert's own target is its limit: late against it
    r.targets.push(target("alerts.PostgresDown.notified_within_ms", 10000.0, Some(16300.0), Verdict::Fail));
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.alerting.answer, q.alerting.faults[0].note.as_str()), (Answer::No, "paged, but later than its limit"));
    // no target at all: paged, but no yes
    r.targets.clear();
    assert_eq!(answer(&r, &[kill(0, "pg-1", 5000.0)]).alerting.answer, Answer::Unknown);
}

#[test]
fn nothing_paged_is_a_no_and_an_alert_without_instance_matches_by_service() {
    let mut r = clean();
    r.alerts = monitored(Vec::new());
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.alerting.answer, q.alerting.faults[0].note.as_str()), (Answer::No, "nothing paged"));
    // an alert that began firing before the fault is not its page; one for the service is
    r.alerts =
        monitored(vec![firing("Noisy", 9000.0, &[("instance", "pg-1")]), firing("NoPrimary", 14000.0, &[("service", svc().as_str())])]);
    r.alerts.as_mut().unwrap().notifications[0].starts_ms = Some(1000.0);
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    let pages: Vec<&str> = q.alerting.faults[0].pages.iter().map(|p| p.matched.as_str()).collect();
    assert_eq!((q.alerting.answer, pages), (Answer::Yes, vec!["service=postgres"]));
}

#[test]
fn with_the_users_own_monitoring_an_alert_labelled_otherwise_leaves_the_fault_undecided() {
    let mut r = clean();
    r.alerts = monitored(vec![firing("DatabaseDown", 21300.0, &[("instance", "10.0.0.5:9187")])]);
    assert_eq!(answer(&r, &[kill(0, "pg-1", 5000.0)]).alerting.answer, Answer::No, "drdrill's own labels are known");
    r.alerts.as_mut().unwrap().source = "users".into();
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    assert_eq!(q.alerting.answer, Answer::Unknown);
    assert!(q.alerting.faults[0].note.ends_with("the users' monitoring notified DatabaseDown after it"), "{}", q.alerting.faults[0].note);
}

#[test]
fn planned_faults_and_faults_without_an_outage_owe_no_page_and_a_relapse_does() {
    let mut r = clean();
    r.alerts = monitored(Vec::new());
    let switchover = FaultInjected { planned: true, kind: "switchover".into(), ..kill(0, "pg-1", 5000.0) };
    let q = answer(&r, &[switchover]);
    assert_eq!((q.alerting.answer, q.alerting.faults[0].answer), (Answer::NotDrilled, Answer::NotDrilled));
    assert_eq!(q.alerting.why, "no unplanned fault caused an outage: no page was owed");
    // a replica stopped before the kill: RTO counts from the kill, the stop owed no page
    let q = answer(&r, &[kill(1, "pg-3", 1000.0), kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.alerting.faults[0].outage, q.alerting.faults[1].outage), (false, true));
    // the new primary killed after the recovery, and writes failed again: owed, unpaged
    r.relapses = 12;
    r.alerts = monitored(vec![firing("PostgresDown", 21300.0, &[("instance", "pg-1")])]);
    let restart = FaultInjected { kind: "restart".into(), ..kill(2, "pg-2", 10000.0) };
    let q = answer(&r, &[kill(0, "pg-1", 5000.0), kill(1, "pg-2", 9000.0), restart]);
    let each: Vec<Answer> = q.alerting.faults.iter().map(|f| f.answer).collect();
    // the restart that brought pg-2 back is not the relapse's cause: no page owed for it
    assert_eq!((each, q.alerting.answer), (vec![Answer::Yes, Answer::No, Answer::NotDrilled], Answer::No));
}

#[test]
fn the_reports_head_their_scorecard_with_the_four_questions_and_findings_md_lists_each() {
    let mut r = clean();
    r.relapses = 35;
    r.questions = Some(answer(&r, &[kill(0, "pg-1", 5000.0)]));
    let card = scorecard(&r);
    let head = card.find("The four questions").expect("the questions");
    assert!(head < card.find("rto_ms  ").unwrap_or(usize::MAX) && head < card.find("RTO   ").unwrap(), "{card}");
    assert!(
        card.contains(
            "  RTO met?              YES (every service within its target)\n      postgres: rto_ms 1500 ms, limit 30000 ms: yes\n"
        ),
        "{card}"
    );
    assert!(card.contains("  Did alerting work?    NOT DRILLED (no monitoring in this drill)\n"), "{card}");
    assert!(card.contains("      fault 0 kill pg-1 at t=5000.0 ms, outage: not drilled: no monitoring\n"), "{card}");
    let md = markdown(&r);
    assert!(md.contains("| Anything unexpected? | **yes** | 1 finding |"), "{md}");
    let html = html::report_html(&r, &[String::new()], "");
    assert!(html.contains("<tr><td>RTO met?</td><td class=\"pass\">YES</td><td>every service within its target<ul><li>"), "{html}");
    assert!(html.contains("<tr><td>Did alerting work?</td><td class=\"unknown\">NOT DRILLED</td>"), "{html}");
    let found = questions_text::findings_md(&r).unwrap();
    assert_eq!(found.lines().filter(|l| l.starts_with("- ")).count(), 1, "{found}");
    assert!(found.contains("- postgres: writes failed again after recovery: 35 writes invoked after the recovery point"), "{found}");
}

/// The kinds docs/evidence.md has no row for, of `kinds` (every kind: derived from the
/// enum, so a kind added to it cannot escape the docs).
fn undocumented(kinds: impl Iterator<Item = FindingKind>, doc: &str) -> Vec<String> {
    let name = |k: FindingKind| serde_json::to_value(k).unwrap().as_str().unwrap().to_string();
    kinds.map(name).filter(|n| !doc.contains(&format!("| `{n}` |"))).collect()
}

#[test]
fn docs_evidence_names_each_finding_kind_and_each_answer() {
    use strum::IntoEnumIterator;
    let doc = include_str!("../../docs/evidence.md");
    assert!(FindingKind::iter().count() >= 29, "every kind, from the enum");
    assert_eq!(undocumented(FindingKind::iter(), doc), Vec::<String>::new(), "docs/evidence.md has no row for these kinds");
    // planted: a page without the split-brain row fails the check
    let planted = doc.replace("| `split_brain` |", "| split brain |");
    assert_eq!(undocumented(FindingKind::iter(), &planted), ["split_brain"]);
    for a in [Answer::Yes, Answer::No, Answer::Unknown, Answer::NotDrilled] {
        assert!(doc.contains(&format!("`{}`", a.word())), "docs/evidence.md does not name the answer `{a}`");
    }
}

#[test]
fn a_service_with_readers_has_a_read_row_judged_only_by_its_read_target() {
    let mut r = clean();
    let rto = crate::checker::RtoResult {
        rto_ms: Some(650.0),
        outage_observed: true,
        recovered_at_ms: Some(5650.0),
        from_ms: 5000.0,
        ..clean_rto()
    };
    r.reads =
        Some(crate::checker::ReadsReport { readers: 4, from: "replicas".into(), total: 10, ok: 10, rto: Some(rto), ..Default::default() });
    let q = answer(&r, &[]);
    let rows: Vec<(String, Answer)> = q.rto.services.iter().map(|f| (f.target.name(), f.answer)).collect();
    // without read_rto_ms the read row is shown and not judged: the writes answer
    assert_eq!(rows, [("rto_ms".to_string(), Answer::Yes), ("read_rto_ms".to_string(), Answer::NotDrilled)]);
    assert_eq!(q.rto.answer, Answer::Yes);
    let text = super::questions_text::blocks(&q)[0].rows[1].clone();
    assert!(
        text.contains("read_rto_ms 650 ms, no limit set: not judged (650.0 ms (t=5000.0 ms to the recovery point t=5650.0 ms)"),
        "{text}"
    );
    // question 2 says whether anyone read a write that is gone (not known: nothing read back)
    let rpo: Vec<(String, Answer)> = q.rpo.services.iter().map(|f| (f.target.name(), f.answer)).collect();
    assert_eq!(rpo[1], ("max_reads_of_lost_writes".to_string(), Answer::NotDrilled), "{rpo:?}");
    assert!(super::questions_text::blocks(&q)[1].rows[1].contains("not known: the surviving data could not be read back"));
    // with it, a missed read RTO answers the question no
    r.targets.push(target("read_rto_ms", 500.0, Some(650.0), Verdict::Fail));
    let q = answer(&r, &[]);
    assert_eq!((q.rto.services[1].answer, q.rto.answer), (Answer::No, Answer::No));
}

fn clean_rto() -> crate::checker::RtoResult {
    serde_json::from_value(serde_json::json!({"basis": "fault", "outage_ms": null, "last_ack_before_outage_ms": null, "rto_ms": 0.0,
        "outage_observed": false, "recovered_at_ms": null, "outage_start_ms": null, "relapses": 0, "from_ms": 0.0,
        "longest_gap_ms": 0.0, "longest_gap_start_ms": 0.0}))
    .unwrap()
}

#[test]
fn lost_writes_no_target_judges_are_still_unexpected_with_their_span_and_nodes() {
    let mut r = clean();
    r.targets.retain(|t| t.target == crate::checker::Target::RtoMs);
    (r.lost_writes, r.acked_writes) = (Some(3), 8372);
    let lost = |seq, ack_ms, node: &str| crate::checker::LostWrite { writer: 1, seq, ack_ms, node: Some(node.into()), change: None };
    r.lost = vec![lost(10, 6100.0, "redis-1"), lost(11, 6200.5, "redis-1"), lost(12, 6300.0, "redis-3")];
    let q = answer(&r, &[kill(0, "pg-1", 5000.0)]);
    assert_eq!((q.rpo.answer, q.unexpected.answer), (Answer::Unknown, Answer::Yes));
    let f = &q.unexpected.findings[0];
    assert_eq!(f.kind, FindingKind::LostWrites);
    assert!(f.what.contains("3 of 8372 acknowledged writes were lost"), "{}", f.what);
    assert_eq!(f.evidence, "acknowledged from t=6100.0 to t=6300.0 ms, 2 on redis-1, 1 on redis-3");
    // a target that judges data loss answers it instead: no finding
    r.targets.push(target("max_lost_writes", 0.0, Some(3.0), Verdict::Fail));
    assert_eq!(kinds(&r), []);
}
