//! report.md: the scorecard and the drill's timeline, for the audit trail.
use super::Results;
use std::fmt::Write;

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "unknown".into())
}

pub fn markdown(r: &Results) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Drill {}: {}\n", r.scenario, r.verdict);
    let (started, finished) = (crate::clock::readable(&r.started_at), crate::clock::readable(&r.finished_at));
    let _ = writeln!(m, "Run `{}`, started {started}, finished {finished}.\n", r.run_id);
    m += &super::questions_text::markdown(r);
    if !r.several() {
        return m + &service(r, "timeline.svg") + &observer(r) + &super::alerts::markdown(r);
    }
    let each = r.each_service();
    let verdicts: Vec<String> = each.iter().map(|(n, sr)| format!("{n} {}", sr.verdict)).collect();
    let _ = writeln!(m, "Services: {} (the drill's verdict is the worst).\n", verdicts.join(", "));
    for (name, sr) in each {
        let view = r.service_view(name).expect("a service of the drill");
        let _ = writeln!(m, "## Service {name}: {}\n", sr.verdict);
        m += &service(&view, &format!("timeline-{name}.svg")).replace("\n## ", "\n### ");
    }
    if !r.targets.is_empty() {
        m += "\n## Drill-wide targets\n";
        m += &targets(r).replace("\n## Targets\n", "\n");
    }
    m + &observer(r) + &super::alerts::markdown(r)
}

/// "## The observer's cost": the CPU drdrill, its proxies and the monitoring took while
/// the workload ran, beside the stack's.
fn observer(r: &Results) -> String {
    match r.harness.as_ref().and_then(super::format::observer_text) {
        Some(o) => format!("\n## The observer's cost\n\nCPU while the workload ran: {o}\n"),
        None => String::new(),
    }
}

/// One service's part: its stack, timeline picture, targets, figures, events, lost writes.
fn service(r: &Results, timeline: &str) -> String {
    [
        stack_and_picture(r, timeline),
        targets(r),
        measured(r),
        rto_by_phase(r),
        shards(r),
        isolated_primary(r),
        latency(r),
        restore(r),
        replica_lag(r),
        timeline_table(r),
        lost_writes(r),
        problems(r),
    ]
    .concat()
}

/// The stack line (kind, replication, image, primary before and after) and the timeline
/// picture's link.
fn stack_and_picture(r: &Results, timeline: &str) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "Stack: {} ({} replication, image `{}`), primary {} → {}.\n",
        r.stack.kind, r.stack.replication, r.stack.image, r.stack.initial_primary, r.stack.final_primary
    );
    // drawn from history.jsonl.zst beside this file (report.html has the same picture inline)
    let _ = writeln!(m, "![Timeline: writes per 100 ms by outcome, latency, faults, failover steps, RTO window]({timeline})\n");
    m
}

/// "## Targets": each target's limit, actual, verdict and note.
fn targets(r: &Results) -> String {
    let mut m = String::from("## Targets\n\n| target | limit | actual | verdict | note |\n|---|---|---|---|---|\n");
    for t in &r.targets {
        let (limit, actual) = match t.target.as_str() {
            "converged" => ("yes".to_string(), r.converged.map(|c| if c { "yes" } else { "no" }).unwrap_or("unknown").to_string()),
            _ => (t.limit.map(|_| num(t.limit)).unwrap_or_else(|| "-".into()), num(t.actual)),
        };
        let _ = writeln!(m, "| {} | {limit} | {actual} | {} | {} |", t.target, t.verdict, t.note.replace('|', "\\|"));
    }
    m
}

/// "## Measured": an interruption, RTO, the clients' outage, RPO, the longest time without
/// an acknowledgement and the write counts.
fn measured(r: &Results) -> String {
    let mut m = String::from("\n## Measured\n\n");
    if let Some(i) = &r.interruption {
        let _ = writeln!(m, "- **Interrupted** by {} during {}: partial history, nothing read back; verdict unknown", i.signal, i.phase);
    }
    let _ = writeln!(m, "- RTO: {}", super::figures::rto_text(r));
    if let Some(o) = r.outage_ms {
        let _ = writeln!(m, "- Outage as clients saw it: {o:.1} ms (last acknowledgement before it to the recovery point)");
    }
    let _ = writeln!(m, "- RPO: {} ms", num(r.rpo_ms));
    let _ = writeln!(m, "- longest time without an acknowledgement: {}", super::figures::gap_text(r));
    let _ = writeln!(
        m,
        "- writes: {} ({} ok, {} fail, {} unknown); lost {}, recovered {}",
        r.total_writes,
        r.acked_writes,
        r.failed_writes,
        r.unknown_writes,
        r.lost_writes.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into()),
        r.recovered_writes.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
    );
    m
}

/// "## RTO by phase" (orchestrated stacks): each phase beside its budget, and the claim.
fn rto_by_phase(r: &Results) -> String {
    let Some(p) = &r.phases else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## RTO by phase ({})\n", super::phases::headline(p));
    m.push_str("| phase | from -> to | duration | budget | budget from |\n|---|---|---|---|---|\n");
    for x in super::phases::phase_rows(p) {
        let _ = writeln!(m, "| {} | {} | {} | {} | {} |", x.phase, x.span, x.duration, x.budget, x.setting);
    }
    if let Some(c) = &p.budgets.claim {
        let _ = writeln!(m, "\nClaimed: {c}.");
    }
    m
}

/// What the isolated old primary held when last read as a primary, in one paragraph.
fn isolated_primary(r: &Results) -> String {
    let Some(i) = &r.isolated_primary else { return String::new() };
    format!(
        "\nIsolated primary {}: last read while it was still a writable primary began at t={:.1} ms: {} records, {} of the lost writes on it (isolated-primary.json).\n",
        i.node,
        i.read_started_ms,
        i.records.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into()),
        i.lost_found_here.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
    )
}

/// "## Latency of acknowledged writes" per phase, then the WAN links as set; nothing when
/// no phase was measured.
fn latency(r: &Results) -> String {
    if r.latency.is_empty() {
        return String::new();
    }
    let mut m = String::from("\n## Latency of acknowledged writes (ms, by phase of invoke time)\n\n");
    m.push_str("| phase | from (s) | to (s) | ok ops | p50 | p95 | p99 | max | mean |\n|---|---|---|---|---|---|---|---|---|\n");
    let v = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for l in &r.latency {
        let _ = writeln!(
            m,
            "| {} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} |",
            l.phase,
            l.from_ms / 1e3,
            l.to_ms / 1e3,
            l.ok_ops,
            v(l.p50_ms),
            v(l.p95_ms),
            v(l.p99_ms),
            v(l.max_ms),
            v(l.mean_ms)
        );
    }
    for l in super::figures::shaped(r) {
        let _ = writeln!(m, "\nWAN {}: {}.", l.between.join("-"), super::format::link_setting(l));
    }
    m
}

/// "## Restore" (a restore recovery) or "## Operator's bootstrap": its caption and steps.
fn restore(r: &Results) -> String {
    let Some((title, caption, steps)) = super::restore::recovery_section(r) else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## {title}\n\n{caption}.\n\n| step | from -> to (drill ms) | duration |\n|---|---|---|");
    for s in steps {
        let _ = writeln!(m, "| {} | {} | {} |", s.step, s.span, s.duration);
    }
    m
}

/// "## Shards" (one primary per shard): a row per shard, then the writable key space.
fn shards(r: &Results) -> String {
    let Some(caption) = super::shards::shards_caption(r) else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## Shards\n\n{caption}.\n");
    m.push_str("| shard | slots | primary | writes ok / fail / unknown | lost | RPO ms | outage ms (clients) | RTO ms |\n");
    m.push_str("|---|---|---|---|---|---|---|---|\n");
    for l in super::shards::shard_lines(r) {
        let _ =
            writeln!(m, "| {} | {} | {} | {} | {} | {} | {} | {} |", l.shard, l.slots, l.primary, l.writes, l.lost, l.rpo, l.outage, l.rto);
    }
    for l in super::shards::writable_lines(r) {
        let _ = writeln!(m, "\n{l}");
    }
    m
}

/// "## Replica lag" (when measured): per replica and phase, beside the engine's figure.
fn replica_lag(r: &Results) -> String {
    let Some(caption) = super::lag::lag_caption(r) else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## Replica lag\n\n{caption}.\n");
    m.push_str("| replica | phase | heartbeats | p50 | p95 | p99 | max | engine p50 / p99 / max | engine behind (bytes p50 / max) |\n");
    m.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for l in super::lag::lag_lines(r) {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            l.replica, l.phase, l.heartbeats, l.p50, l.p95, l.p99, l.max, l.engine, l.behind
        );
    }
    m
}

/// "## Timeline (drill clock)": the events and the measured outage's start and end, in
/// order of drill time.
fn timeline_table(r: &Results) -> String {
    let mut m = String::from("\n## Timeline (drill clock)\n\n| t (s) | event | node | detail |\n|---|---|---|---|\n");
    for (t, kind, node, detail) in timeline_rows(r) {
        let _ = writeln!(m, "| {t:.3} | {kind} | {node} | {} |", detail.replace('|', "\\|"));
    }
    m
}

/// The timeline's rows (t in s, event, node, detail): every event, then the outage's start
/// and recovery point as measured, sorted by time.
fn timeline_rows(r: &Results) -> Vec<(f64, String, String, String)> {
    let mut rows: Vec<(f64, String, String, String)> = r
        .events
        .iter()
        .map(|e| {
            let kind = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            (e.t_ns as f64 / 1e9, kind, e.node.clone().unwrap_or_default(), e.detail.clone())
        })
        .collect();
    for (t, what) in [(r.outage_start_ms, "first write not acknowledged"), (r.recovered_at_ms, "writes available again (RTO ends)")] {
        if let Some(ms) = t {
            rows.push((ms / 1e3, "measured".into(), String::new(), what.into()));
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

/// "## Lost writes": the first 50, earliest acknowledgement first.
fn lost_writes(r: &Results) -> String {
    if r.lost.is_empty() {
        return String::new();
    }
    let mut m = String::new();
    let _ = writeln!(m, "\n## Lost writes ({}; first 50)\n\n| writer | seq | acknowledged at (ms) |\n|---|---|---|", r.lost.len());
    for l in r.lost.iter().take(50) {
        let _ = writeln!(m, "| {} | {} | {:.1} |", l.writer, l.seq, l.ack_ms);
    }
    m
}

/// The problems met after the workload, one quoted line each.
fn problems(r: &Results) -> String {
    r.errors.iter().map(|e| format!("\n> problem: {e}\n")).collect()
}
