//! What the drill found that nobody planned (the third question): read from the judged
//! results alone, each finding with the figure that proves it.
use super::Results;
use super::questions::{Finding, FindingKind};
use crate::checker::RtoBasis;
use crate::history::EventKind;
use crate::monitor::{AlertOutcome, AlertsReport};

/// Every finding of the drill: each service's, then the drill's own (faults not injected,
/// steady state after recovery, the alert rules, the monitoring).
pub fn findings(r: &Results) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, sr) in r.each_service() {
        let mut found = Vec::new();
        writes(sr, &mut found);
        lost_unjudged(sr, &mut found);
        shards(sr, &mut found);
        refused(sr, &mut found);
        not_replicated(sr, &mut found);
        divergence(sr, &mut found);
        phases(sr, &mut found);
        reads(sr, &mut found);
        split_brain(sr, &mut found);
        out.extend(found.into_iter().map(|(kind, what, evidence)| Finding { service: Some(name.to_string()), kind, what, evidence }));
    }
    out.extend(super::early::failovers_before_faults(r));
    let drill = |kind, what: String, evidence: String| Finding { service: None, kind, what, evidence };
    for e in r.events.iter().filter(|e| e.kind == EventKind::FaultFailed) {
        let what = format!("fault {} could not be injected", e.fault.map_or("?".into(), |i| i.to_string()));
        out.push(Finding {
            service: e.service.as_ref().map(|s| s.to_string()),
            ..drill(FindingKind::FaultNotInjected, what, e.detail.clone())
        });
    }
    for e in r.events.iter().filter(|e| e.kind == EventKind::ReplicationStopped) {
        // a stop once the service's failover began is the failover's doing (the subscription
        // disabled, the old primary's stream cut), not a finding
        let failover = r.events.iter().filter(|f| f.kind == EventKind::FailoverStart && f.service == e.service).map(|f| f.t_ns).min();
        if failover.is_some_and(|t| t <= e.t_ns) {
            continue;
        }
        let node = e.node.as_deref().unwrap_or("a replica");
        let before = failover.map(|t| format!(", {:.1} s before the failover began", (t - e.t_ns) as f64 / 1e9)).unwrap_or_default();
        let what = format!("{node} stopped replicating at t={:.1} ms{before}", e.t_ns as f64 / 1e6);
        out.push(Finding {
            service: e.service.as_ref().map(|s| s.to_string()),
            ..drill(FindingKind::ReplicationStopped, what, e.detail.clone())
        });
    }
    for p in r.steady_state.iter().flat_map(|s| &s.after).filter(|p| !p.ok) {
        out.push(drill(FindingKind::SteadyStateFailed, format!("steady-state probe {} failed after recovery", p.probe), p.detail.clone()));
    }
    out.extend(super::perturbed::perturbed(r).into_iter().map(|(kind, what, evidence)| drill(kind, what, evidence)));
    if let Some(a) = &r.alerts {
        out.extend(alert_rules(a).into_iter().map(|(kind, what, evidence)| drill(kind, what, evidence)));
        out.extend(could_not_page(a).into_iter().map(|(what, evidence)| drill(FindingKind::MonitoringCouldNotPage, what, evidence)));
    }
    out
}

type Found = (FindingKind, String, String);

/// Reads of writes the failover lost, and reads that went back in time: findings whatever
/// the targets say.
fn reads(r: &Results, out: &mut Vec<Found>) {
    let Some(x) = &r.reads else { return };
    if let Some(u) = x.unrecovered.as_ref().filter(|_| !r.targets.iter().any(|t| t.target == crate::checker::Target::ReadRtoMs)) {
        out.push((FindingKind::ReadsNotRecovered, "the readers' reads never recovered after the fault".into(), u.text()));
    }
    if let Some(l) = x.of_lost_writes.as_ref().filter(|l| l.reads > 0) {
        let first: Vec<String> = l
            .first
            .iter()
            .take(3)
            .map(|f| format!("reader {} read writer {} seq {} on {} at t={:.1} ms", f.reader, f.writer, f.seq, f.node, f.at_ms))
            .collect();
        let what = format!("readers saw {} writes the failover then lost", l.distinct_writes);
        out.push((FindingKind::ReadsOfLostWrites, what, format!("{}: {}", crate::checker::lost_text(x), first.join("; "))));
    }
    if let Some(b) = x.back_in_time.first.first() {
        let what = "reads went back in time: a reader saw older data than it had already seen".to_string();
        let first = format!(
            "{}; first: reader {} saw writer {} seq {} on {} at t={:.1} ms after seq {} on {}",
            crate::checker::back_text(x),
            b.reader,
            b.writer,
            b.after_seq,
            b.after_node,
            b.at_ms,
            b.before_seq,
            b.before_node
        );
        out.push((FindingKind::ReadsBackInTime, what, first));
    }
}

/// Writes failing again after recovery, an outage no fault targeted, and what the
/// read-back found that was never acknowledged, twice, or never written.
fn writes(r: &Results, out: &mut Vec<Found>) {
    if r.relapses > 0 {
        let at = r.recovered_at_ms.map(|t| format!(" (t={t:.1} ms)")).unwrap_or_default();
        let evidence = format!("{} writes invoked after the recovery point{at} did not succeed", r.relapses);
        out.push((FindingKind::Relapse, "writes failed again after recovery".into(), evidence));
    }
    if r.outage_observed && r.rto_basis == RtoBasis::OutageStart {
        let span = r.outage_ms.map(|o| format!("{o:.1} ms")).unwrap_or_else(|| super::words::not_recovered_text(r));
        let from = r.outage_start_ms.map(|t| format!(" from t={t:.1} ms")).unwrap_or_default();
        out.push((FindingKind::UntargetedOutage, "its clients saw an outage no fault targeted".into(), format!("outage {span}{from}")));
    }
    if let Some(n) = r.recovered_failed_writes.filter(|n| *n > 0) {
        let timed_out = r.recovered_writes.unwrap_or(n).saturating_sub(n);
        let evidence = format!(
            "{n} of the {} writes that failed are in the {} records read back (and {timed_out} that timed out, which may commit)",
            r.failed_writes,
            opt(r.records_read)
        );
        out.push((FindingKind::RecoveredWrites, "writes the clients were told failed are in the surviving data anyway".into(), evidence));
    }
    let counted = [
        (FindingKind::DuplicateWrites, r.duplicate_writes, "records are present twice"),
        (FindingKind::NeverWritten, r.unexpected_writes, "records no writer ever invoked are in the surviving data"),
    ];
    for (kind, n, what) in counted {
        if let Some(n) = n.filter(|n| *n > 0) {
            let evidence = format!(
                "{n} of {} records read back ({} writes failed, {} unknown)",
                opt(r.records_read),
                r.failed_writes,
                r.unknown_writes
            );
            out.push((kind, what.into(), evidence));
        }
    }
}

/// Acknowledged writes lost where no target judges data loss: how many, the span of
/// their acknowledgements, and the nodes that acknowledged them.
fn lost_unjudged(r: &Results, out: &mut Vec<Found>) {
    let judged = r.targets.iter().any(|t| t.target.judges_data_loss());
    let (Some(n), false) = (r.lost_writes.filter(|n| *n > 0), judged) else { return };
    let what = format!("{n} of {} acknowledged writes were lost (no target judges data loss)", r.acked_writes);
    out.push((FindingKind::LostWrites, what, lost_evidence(&r.lost)));
}

/// The span of the lost writes' acknowledgements and, per node, how many it acknowledged.
fn lost_evidence(lost: &[crate::checker::LostWrite]) -> String {
    let first = lost.iter().map(|l| l.ack_ms).fold(f64::INFINITY, f64::min);
    let last = lost.iter().map(|l| l.ack_ms).fold(0.0, f64::max);
    let mut by: std::collections::BTreeMap<&str, u64> = Default::default();
    lost.iter().for_each(|l| *by.entry(l.node.as_deref().unwrap_or("a node not recorded")).or_default() += 1);
    let nodes: Vec<String> = by.iter().map(|(n, c)| format!("{c} on {n}")).collect();
    let span = if lost.is_empty() { String::new() } else { format!("acknowledged from t={first:.1} to t={last:.1} ms, ") };
    format!("{span}{}", nodes.join(", "))
}

/// A shard no fault hit whose clients saw an outage anyway (a cluster that stops taking
/// writes while any shard is down).
fn shards(r: &Results, out: &mut Vec<Found>) {
    for sh in r.shards.iter().flat_map(|s| &s.shards).filter(|sh| !sh.hit) {
        let Some(from) = sh.outage_start_ms else { continue };
        let span = sh.outage_ms.map_or("not recovered within the drill's window".into(), |o| format!("{o:.1} ms"));
        let what = format!("{} ({}) saw an outage no fault targeted", sh.shard, sh.slots);
        out.push((FindingKind::UntargetedOutage, what, format!("outage {span} from t={from:.1} ms")));
    }
}

/// Each cause of the writes the database refused once the failover was done (the first
/// 5), its count as evidence.
fn refused(r: &Results, out: &mut Vec<Found>) {
    let Some(f) = &r.refused_after_failover else { return };
    let done = f.failover_done_ms.map(|t| format!(" (done t={t:.1} ms)")).unwrap_or_default();
    for c in f.causes.iter().take(5) {
        let what = format!("{} refused {} writes after the failover{done}: {}", f.store(), c.count, c.cause);
        let first = if c.example == c.cause { String::new() } else { format!("; first: {}", c.example) };
        let nodes = if c.nodes.is_empty() { String::new() } else { format!(", on {}", c.nodes.join(", ")) };
        out.push((FindingKind::RefusedAfterFailover, what, format!("t={:.1} to {:.1} ms{nodes}{first}", c.first_ms, c.last_ms)));
    }
}

/// A place not replicated (a table left out of the publication) that lost acknowledged writes.
fn not_replicated(r: &Results, out: &mut Vec<Found>) {
    let Some(g) = &r.groups else { return };
    for x in g.groups.iter().filter(|x| !x.replicated && x.lost.is_some_and(|n| n > 0)) {
        let what = format!("{} {} ({}) is not replicated and lost acknowledged writes", g.what, x.name, x.how);
        let mut evidence = format!("{} of its {} acknowledged writes lost", x.lost.unwrap_or(0), x.acked);
        if x.none_reached {
            let n = x.acked_before_failover.unwrap_or(0);
            evidence += &format!("; none of its {n} acknowledged writes before the failover reached the DR region");
        }
        out.push((FindingKind::NotReplicated, what, evidence));
    }
}

/// Keys whose value differs between nodes, and replicas that do not hold the primary's records.
fn divergence(r: &Results, out: &mut Vec<Found>) {
    if let Some(keys) = r.multi_active.as_ref().map(|m| &m.updates.diverged_keys).filter(|k| !k.is_empty()) {
        let first: Vec<String> = keys.iter().take(5).map(|d| format!("{} ({})", d.key, d.cause.name())).collect();
        let evidence = format!("{} keys differ between nodes (first: {})", keys.len(), first.join(", "));
        out.push((FindingKind::DivergedKeys, "nodes hold different values for the same keys".into(), evidence));
    }
    if r.converged == Some(false) {
        let nodes = r.convergence.iter().flat_map(|c| &c.nodes).filter(|n| !n.converged);
        let each: Vec<String> = nodes.map(|n| format!("{}: {} missing, {} extra", n.node, n.missing, n.extra)).collect();
        out.push((FindingKind::NotConverged, "replicas did not converge on the primary's records".into(), each.join("; ")));
    }
}

/// An orchestrator's phase longer than its settings allow, and its watcher seeing the
/// promotion after the clients did.
fn phases(r: &Results, out: &mut Vec<Found>) {
    let Some(p) = &r.phases else { return };
    for o in p.over_budget() {
        let evidence = format!("{:.0} ms against a budget of {:.0} ms ({})", o.took_ms, o.budget_ms, o.from);
        out.push((FindingKind::PhaseOverBudget, format!("{} took longer than its settings allow", o.phase), evidence));
    }
    if let Some(late) = p.watcher_late_ms {
        let evidence = format!("{} saw the promotion {late:.1} ms after the new primary's first acknowledged write", p.orchestrator);
        out.push((FindingKind::WatcherLate, "the watcher saw the promotion late".into(), evidence));
    }
}

/// Each span in which two nodes held the clients' entry (a VIP) at once.
fn split_brain(r: &Results, out: &mut Vec<Found>) {
    let Some(h) = &r.holders else { return };
    for s in &h.splits {
        let what = format!("split brain: {}", super::words::held_text(s, &h.entry).trim_end_matches(':'));
        out.push((FindingKind::SplitBrain, what, super::words::sides_text(s)));
    }
}

/// Rules that can never fire, that fired with no fault in effect, that paged for a node
/// answering the clients all along, that kept firing after the recovery though their
/// condition no longer held (stuck), or whose condition the drill left true.
fn alert_rules(a: &AlertsReport) -> Vec<Found> {
    let mut out = Vec::new();
    for rule in &a.rules {
        let name = &rule.alert;
        if rule.outcome == AlertOutcome::Dead {
            out.push((FindingKind::AlertDead, format!("alert rule {name} can never fire"), rule.reason.clone()));
        }
        if rule.noise {
            let at = rule.firing_ms.or(rule.pending_ms).map(|t| format!("at t={t:.1} ms, ")).unwrap_or_default();
            let evidence = format!("fired {at}while no fault was in effect; for {}", instances(&rule.instances));
            out.push((FindingKind::AlertNoisy, format!("alert rule {name} fired with no outage"), evidence));
        }
        if rule.false_pages > 0 {
            for p in a.false_pages.iter().filter(|p| p.alert == rule.alert) {
                let (what, evidence) = crate::checker::false_page_words(p);
                out.push((FindingKind::FalsePage, what, evidence));
            }
        }
        if !rule.still_true.is_empty() {
            let since = rule.firing_ms.map(|t| format!("since t={t:.1} ms")).unwrap_or_default();
            let evidence = format!(
                "firing {since}, and when the drill ended its condition `{}` still held: {}",
                rule.expr,
                rule.still_true.join(", ")
            );
            out.push((FindingKind::AlertStillTrue, format!("alert rule {name} still fires: the drill left what it measures"), evidence));
        }
        if rule.stuck {
            let since = rule.firing_ms.map(|t| format!("since t={t:.1} ms ")).unwrap_or_default();
            let evidence = format!("firing {since}and not resolved well after the recovery; for {}", instances(&rule.instances));
            out.push((FindingKind::AlertStuck, format!("alert rule {name} kept firing after the recovery"), evidence));
        }
    }
    out
}

/// Why the drill's monitoring could not page, read from the alerts report alone: each
/// reason is one finding `(what, evidence)`: every site the monitoring stood in dark at once
/// (`could_not_page`), drdrill unable to watch, an alert that fired with no page.
/// What the witness Prometheus in the other sites had firing while nothing could page:
/// `; from dc2 these would have paged: PostgreSQLInstanceDown (pg-1) at t=…`.
fn witnessed(a: &AlertsReport, (from, to): (f64, f64)) -> String {
    let mut by_site: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for w in a.would_have_paged.iter().filter(|w| w.firing_ms >= from - 1.0 && w.firing_ms <= to) {
        by_site.entry(&w.site).or_default().push(format!("{} ({}) firing at t={:.1} ms", w.alert, w.instance, w.firing_ms));
    }
    by_site
        .iter()
        .map(|(site, rules)| format!("; from {site} (a witness Prometheus, same rules, paging nobody): {}", rules.join(", ")))
        .collect()
}

pub fn could_not_page(a: &AlertsReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if a.polls > 0 && a.failed_polls == a.polls {
        out.push(("drdrill could not reach Prometheus or Alertmanager at all".into(), format!("all {} polls failed", a.polls)));
    }
    for (from, to) in &a.could_not_page {
        let sites = a.placed_in.join(" and ");
        let what = match a.placed_in.len() {
            1 => format!("the only monitoring stood in {sites}, which was cut off: no page could leave it"),
            _ => format!("every site the monitoring stood in ({sites}) was dark at once: no page could leave"),
        };
        let dark: Vec<String> = a
            .dark_sites
            .iter()
            .map(|d| {
                let how = if d.killed { "killed" } else { "cut off" };
                let to = d.to_ms.map_or("the end".to_string(), |t| format!("t={t:.1} ms"));
                format!("{} {how} from t={:.1} ms to {to}", d.site, d.from_ms)
            })
            .collect();
        let mut evidence = format!("nothing could page from t={from:.1} ms to t={to:.1} ms ({})", dark.join("; "));
        evidence.push_str(&witnessed(a, (*from, *to)));
        out.push((what, evidence));
    }
    for rule in a.rules.iter().filter(|r| r.outcome == AlertOutcome::FiredNotNotified) {
        let at = rule.firing_ms.map(|t| format!(" at t={t:.1} ms")).unwrap_or_default();
        let evidence = format!("{} fired{at}; no firing notification reached the receiver", rule.alert);
        out.push(("an alert fired and nobody was paged".into(), evidence));
    }
    out
}

fn instances(list: &[String]) -> String {
    if list.is_empty() { "no instance label".into() } else { list.join(", ") }
}

fn opt(v: Option<u64>) -> String {
    v.map_or("unknown".into(), |v| v.to_string())
}
