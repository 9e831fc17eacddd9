//! The measured figures every report shows under the targets, as labelled rows computed
//! once (the terminal, report.md and report.html only format them): only the rows that
//! apply to the stack (a multi-active service has no single primary and no outage of the
//! whole service; its sites say what each saw), and a row whose value is unknown says why
//! in words.
use super::Results;
use super::figures::{gap_text, rto_text};
use super::format::{Fact, count_or, fact};

/// Why nothing was read back, in words.
fn not_read_back(r: &Results) -> &'static str {
    match r.interrupted || r.interruption.is_some() {
        true => "not read back (the drill was interrupted)",
        false => "not read back (the surviving data could not be read; see the problems)",
    }
}

/// A drill time in ms, or what stands for it when it was not recorded.
fn at(v: Option<f64>, why: &str) -> String {
    v.map(|v| format!("t={v:.1} ms")).unwrap_or_else(|| why.to_string())
}

/// Whether the replicas converged, for the `converged` target's row: yes, no, or not
/// decided (nothing could be compared).
/// A figure as the tables show it: whole numbers without a decimal, others with one,
/// `none` when there is no figure.
pub(super) fn num(v: Option<f64>, none: &str) -> String {
    match v {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => none.to_string(),
    }
}

/// One target as every report shows it: its name, limit, what was measured, the verdict
/// and its note (`converged` is judged on a yes, not a number).
#[derive(Debug, Clone, serde::Serialize, tabled::Tabled)]
pub struct TargetRow {
    pub target: String,
    pub limit: String,
    pub actual: String,
    pub verdict: String,
    pub note: String,
}

/// The rows of `r`'s targets, in their order.
pub fn target_rows(r: &Results) -> Vec<TargetRow> {
    r.targets
        .iter()
        .map(|t| {
            let (limit, actual) = match t.target {
                crate::checker::Target::Converged => ("yes".to_string(), converged_word(r).to_string()),
                _ => (num(t.limit, "-"), num(t.actual, "not measured")),
            };
            TargetRow { target: t.target.name(), limit, actual, verdict: t.verdict.to_string(), note: t.note.clone() }
        })
        .collect()
}

pub fn converged_word(r: &Results) -> &'static str {
    match r.converged {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not decided",
    }
}

/// The interruption, when a signal stopped the drill.
pub fn interruption(r: &Results) -> Option<Fact> {
    let i = r.interruption.as_ref()?;
    Some(fact("INTERRUPTED", format!("{} during {} (partial history; nothing read back; verdict unknown)", i.signal, i.phase)))
}

/// RTO with the span it counts, the clients' outage (a service with one writable
/// primary), RPO, the fault's times and the longest time without an acknowledgement.
pub fn recovery(r: &Results) -> Vec<Fact> {
    let multi = r.multi_active.is_some();
    let span = match (r.outage_observed, r.recovered_at_ms) {
        (true, Some(to)) => format!("; t={:.1} ms to the recovery point t={to:.1} ms", r.rto_from_ms),
        _ => String::new(),
    };
    let mut out = vec![fact(if multi { "RTO (all sites)" } else { "RTO" }, format!("{}{span}", rto_text(r)))];
    match (r.outage_ms, r.outage_observed) {
        (Some(o), _) => out.push(fact("outage (clients)", format!("{o:.1} ms (last acknowledgement before it to the recovery point)"))),
        // each site's row says what it saw; "no outage" is RTO's to say
        _ if multi => {}
        (None, false) => {}
        (None, true) => out.push(fact("outage (clients)", "not over: no write was acknowledged again before the workload stopped")),
    }
    out.push(fact("RPO", r.rpo_ms.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| not_read_back(r).to_string())));
    if let Some(f) = r.fault_ms {
        let effect = if r.outage_observed { format!(", in effect for the clients t={:.1} ms", r.rto_from_ms) } else { String::new() };
        let applied = at(r.fault_applied_ms, "no report from the engine that it applied");
        out.push(fact("fault", format!("requested t={f:.1} ms, applied {applied}{effect}")));
    }
    out.push(fact(if multi { "ack gap, all sites" } else { "longest ack gap" }, gap_text(r)));
    out
}

/// The writes by outcome, what the read-back found of them, the writes discarded by design,
/// and who took the writes: the primary before and after, one primary per shard, or each
/// site of a multi-active service.
pub fn writes(r: &Results) -> Vec<Fact> {
    let mut out = vec![fact(
        "writes",
        format!("{} total: {} ok, {} fail, {} unknown", r.total_writes, r.acked_writes, r.failed_writes, r.unknown_writes),
    )];
    out.push(fact(
        "read back",
        match r.records_read {
            Some(n) => format!(
                "{n} records: {} lost, {} recovered, {} duplicated, {} never written",
                count_or(r.lost_writes, "?"),
                count_or(r.recovered_writes, "?"),
                count_or(r.duplicate_writes, "?"),
                count_or(r.unexpected_writes, "?")
            ),
            None => not_read_back(r).to_string(),
        },
    ));
    if let Some(n) = r.discarded_writes {
        out.push(fact("discarded", format!("{n} acknowledged writes after the recovery target (by design; not lost)")));
    }
    if let Some(c) = &r.changes {
        let text = format!(
            "{} rewrites and {} deletes acknowledged: {} rewrites lost, {} deletes undone (both among the lost); {} deleted records absent; {} records found absent by a rewrite (created anew: the writes before it lost)",
            c.rewrites_acked, c.deletes_acked, c.rewrites_lost, c.deletes_undone, c.deleted_absent, c.recreated
        );
        out.push(fact("changes", text));
    }
    out.extend(writers(r));
    out.extend(isolated_primary(r));
    out
}

/// Who took the writes, in the stack's own terms.
fn writers(r: &Results) -> Vec<Fact> {
    if let Some(m) = &r.multi_active {
        return m
            .sites
            .iter()
            .map(|(site, w)| {
                let end = if w.longest_to_end { ", to the end of the workload" } else { "" };
                let text = format!(
                    "{} ok, {} fail, {} unknown; longest without an acknowledgement {:.1} ms (from t={:.1} ms){end}",
                    w.acked, w.failed, w.unknown, w.longest_without_ack_ms, w.longest_from_ms
                );
                fact(format!("site {site}"), text)
            })
            .collect();
    }
    if let Some(s) = &r.shards {
        return vec![fact("primary", format!("one per shard ({} shards; each in the shards table)", s.shards.len()))];
    }
    vec![fact("primary", format!("{} -> {}", r.stack.initial_primary, r.stack.final_primary))]
}

/// What the isolated old primary held when last read as a primary.
fn isolated_primary(r: &Results) -> Option<Fact> {
    let i = r.isolated_primary.as_ref()?;
    let why = if i.error.is_some() { "not read" } else { "?" };
    let err = i.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
    Some(fact(
        "isolated primary",
        format!(
            "{} last read as a primary from t={:.1} ms: {} records, {} of the lost writes on it{err} (isolated-primary.json)",
            i.node,
            i.read_started_ms,
            count_or(i.records, why),
            count_or(i.lost_found_here, why)
        ),
    ))
}

/// The promotion (a failover recovery): who was promoted, who followed, what went wrong.
pub fn failover(r: &Results) -> Vec<Fact> {
    let Some(f) = &r.failover else { return Vec::new() };
    let mut out = Vec::new();
    if let (Some(old), Some(new)) = (&f.old_primary, &f.new_primary) {
        let when = match (f.started_ms, f.done_ms) {
            (Some(a), Some(b)) => format!(", t={a:.1} -> {b:.1} ms"),
            _ => String::new(),
        };
        out.push(fact("failover", format!("{old} -> {new}{when}")));
    }
    if !f.repointed.is_empty() {
        out.push(fact("repointed", f.repointed.join(", ")));
    }
    if let Some(n) = &f.rejoined {
        out.push(fact("rejoined", n.clone()));
    }
    if let Some(e) = &f.error {
        out.push(fact("failover error", e.clone()));
    }
    out
}

/// Whether every surviving replica holds the primary's records, node by node.
pub fn convergence(r: &Results) -> Vec<Fact> {
    let Some(c) = &r.convergence else { return Vec::new() };
    let said = match c.converged {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not decided (nothing could be compared)",
    };
    let excluded = if c.excluded.is_empty() { String::new() } else { format!("; not compared (not running): {}", c.excluded.join(", ")) };
    let mut out = vec![fact("replicas converged", format!("{said}, after waiting {:.0} ms{excluded}", c.waited_ms))];
    for n in c.nodes.iter().filter(|n| !n.converged) {
        let held = n.records.map(|v| format!("{v} records")).unwrap_or_else(|| "not read".into());
        let err = n.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
        out.push(fact(format!("  {}", n.node), format!("{held}: {} missing, {} extra{err}", n.missing, n.extra)));
    }
    out
}

/// The first `n` lost writes, earliest acknowledgement first, and how many more there are.
pub fn lost_writes(r: &Results, n: usize) -> Vec<Fact> {
    let mut out: Vec<Fact> = r
        .lost
        .iter()
        .take(n)
        .map(|l| fact("lost write", format!("writer {} {}, acknowledged t={:.1} ms", l.writer, l.seq_text(), l.ack_ms)))
        .collect();
    if r.lost.len() > n {
        out.push(fact("", format!("… and {} more (results.json)", r.lost.len() - n)));
    }
    out
}

/// The problems met after the workload, one each.
pub fn problems(r: &Results) -> Vec<Fact> {
    r.errors.iter().map(|e| fact("problem", e.clone())).collect()
}

/// The steady-state probes after recovery: how many held, and each one that did not.
pub fn steady_state(r: &Results) -> Vec<Fact> {
    let Some(ss) = r.steady_state.as_ref().filter(|ss| !ss.after.is_empty()) else { return Vec::new() };
    let held = ss.after.iter().filter(|p| p.ok).count();
    let mut out = vec![fact("steady state after", format!("{held} of {} probes held (reported, not a target)", ss.after.len()))];
    out.extend(ss.after.iter().filter(|p| !p.ok).map(|p| fact("  not held", format!("{}: {}", p.probe, p.detail))));
    out
}

/// An external stack's cleanup: what was removed.
pub fn cleanup(r: &Results) -> Option<Fact> {
    r.cleanup.as_ref().map(|c| fact("cleanup", c.clone()))
}

/// drdrill's own cost while it ran the workload, and the CPU each part took.
pub fn harness(r: &Results) -> Vec<Fact> {
    let Some(h) = &r.harness else { return Vec::new() };
    let per = match (h.cpu_us_per_write, h.reads_per_s, h.cpu_us_per_op) {
        (_, Some(reads), Some(op)) => format!(" and {reads:.0} reads/s, {op:.1} µs CPU per operation"),
        (Some(c), ..) => format!(", {c:.1} µs CPU per write"),
        _ => String::new(),
    };
    let mut out = vec![fact("harness", format!("{:.0} writes/s{per}, peak memory {:.1} MB", h.writes_per_s, h.peak_rss_mb))];
    out.extend(super::format::observer_text(h).map(|o| fact("CPU, workload", o)));
    out.extend(h.host.as_ref().map(|x| fact("host CPU", super::format::host_text(x))));
    out.extend(h.host.as_ref().and_then(|x| x.disk.as_ref()).map(|d| fact("host disk", super::format::disk_text(d))));
    out.extend(h.slip.as_ref().map(|s| fact("pacing slip", super::format::slip_text(s))));
    out
}

/// The block every report shows under a service's targets: the interruption (from the
/// drill's own results, `drill`), the recovery figures, the writes and who took them, the
/// places they went to (a DR region's tables), the failover and the writes refused after
/// it, the replicas' convergence, the problems and the cleanup.
pub fn block(r: &Results, drill: Option<&Results>) -> Vec<Fact> {
    let mut facts: Vec<Fact> = drill.and_then(interruption).into_iter().collect();
    facts.extend(recovery(r));
    facts.extend(writes(r));
    facts.extend(super::groups::group_facts(r));
    facts.extend(failover(r));
    facts.extend(super::holders::holder_facts(r));
    facts.extend(super::holders::promotion_facts(r));
    facts.extend(super::refusals::refusal_facts(r));
    facts.extend(convergence(r));
    facts.extend(problems(r));
    facts.extend(cleanup(r));
    facts
}

/// `--baseline`: the caption and each quantity against the baseline, regressions first.
pub fn comparison(r: &Results) -> Option<(String, Vec<Fact>)> {
    let c = r.comparison.as_ref()?;
    let caption = format!("Compared with {} baseline runs ({})", c.baseline_runs.len(), c.baseline_runs.join(", "));
    let num = |v: Option<f64>| num(v, "none");
    let rows = c.checks.iter().filter(|k| k.regression).chain(c.checks.iter().filter(|k| !k.regression));
    let facts = rows
        .map(|k| {
            let text =
                format!("{}: baseline {} (tolerance {}), now {} {}", k.quantity, num(k.baseline), num(k.tolerance), num(k.actual), k.note);
            fact(if k.regression { "REGRESSION" } else { "ok" }, text.trim_end())
        })
        .collect();
    Some((caption, facts))
}
