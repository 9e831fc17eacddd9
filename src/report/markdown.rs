//! report.md: the scorecard and the drill's timeline, for the audit trail. Every section
//! the terminal's scorecard shows, from the same rows (measured.rs and the sections).
use super::format::Fact;
use super::{Results, measured};
use std::fmt::Write;

/// Labelled rows as a list: `- RTO: 250.0 ms (…)`.
fn bullets(facts: &[Fact]) -> String {
    facts
        .iter()
        .map(|f| match f.label.trim() {
            "" => format!("- {}\n", f.text),
            label => format!("- {label}: {}\n", f.text),
        })
        .collect()
}

pub fn markdown(r: &Results) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Drill {}: {}\n", r.scenario, r.verdict);
    let (started, finished) = (crate::clock::readable(&r.started_at), crate::clock::readable(&r.finished_at));
    let _ = writeln!(m, "Run `{}`, started {started}, finished {finished}.\n", r.run_id);
    for u in &r.undecided {
        let _ = writeln!(m, "- {}", u.text());
    }
    if !r.undecided.is_empty() {
        let _ = writeln!(m, "\n{}\n", super::terminal::UNDECIDED_HINT);
    }
    m += &super::questions_text::markdown(r);
    m += &claims(r);
    if !r.several() {
        return m + &service(r, "timeline.svg") + &drill_part(r);
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
    m + &drill_part(r)
}

/// "## Claims": each claim beside its target, what was measured, and whether it held.
fn claims(r: &Results) -> String {
    let Some((caption, rows)) = super::claims::claims_section(r) else { return String::new() };
    let mut m = format!("## Claims\n\n{caption}.\n\n| service | claim | target | measured | held |\n|---|---|---|---|---|\n");
    for c in rows {
        let _ = writeln!(m, "| {} | {} | {} | {} | {} |", c.service, c.claim, c.target, c.measured, c.held);
    }
    m + "\n"
}

/// The drill's own sections after its services': the comparison with a baseline, the
/// steady state after recovery, the observer's cost, the alerts.
fn drill_part(r: &Results) -> String {
    let mut m = String::new();
    if let Some((caption, facts)) = measured::comparison(r) {
        let _ = write!(m, "\n## {caption}\n\n{}", bullets(&facts));
    }
    let steady = measured::steady_state(r);
    if !steady.is_empty() {
        let _ = write!(m, "\n## Steady state after recovery\n\n{}", bullets(&steady));
    }
    m + &observer(r) + &super::alerts::markdown(r)
}

/// "## The observer's cost": drdrill's own cost, and the CPU drdrill, its proxies and the
/// monitoring took while the workload ran, beside the stack's.
fn observer(r: &Results) -> String {
    let facts = measured::harness(r);
    match facts.is_empty() {
        true => String::new(),
        false => format!("\n## The observer's cost\n\n{}", bullets(&facts)),
    }
}

/// One service's part: its stack, timeline picture, targets, figures, events, lost writes.
fn service(r: &Results, timeline: &str) -> String {
    [
        stack_and_picture(r, timeline),
        targets(r),
        measured_section(r),
        rto_by_phase(r),
        shards(r),
        sites(r),
        latency(r),
        restore(r),
        replica_lag(r),
        reads(r),
        timeline_table(r),
        lost_writes(r),
        replication(r),
    ]
    .concat()
}

/// The stack line (kind, replication, image, primary before and after) and the timeline
/// picture's link.
fn stack_and_picture(r: &Results, timeline: &str) -> String {
    let mut m = String::new();
    let writers = match (&r.multi_active, &r.shards) {
        (Some(m), _) => format!("every node writable, {} sites", m.sites.len()),
        (None, Some(_)) => "one primary per shard".to_string(),
        (None, None) => format!("primary {} → {}", r.stack.initial_primary, r.stack.final_primary),
    };
    let _ = writeln!(m, "Stack: {} ({} replication, image `{}`), {writers}.\n", r.stack.kind, r.stack.replication, r.stack.image);
    // drawn from history.jsonl.zst beside this file (report.html has the same picture inline)
    let _ = writeln!(m, "![Timeline: writes per 100 ms by outcome, latency, faults, failover steps, RTO window]({timeline})\n");
    m
}

/// "## Targets": each target's limit, actual, verdict and note.
fn targets(r: &Results) -> String {
    let mut m = String::from("## Targets\n\n| target | limit | actual | verdict | note |\n|---|---|---|---|---|\n");
    for t in measured::target_rows(r) {
        let _ = writeln!(m, "| {} | {} | {} | {} | {} |", t.target, t.limit, t.actual, t.verdict, t.note.replace('|', "\\|"));
    }
    m
}

/// "## Measured": an interruption, RTO, the clients' outage, RPO, the longest time without
/// an acknowledgement, the write counts, who took the writes, the failover, the replicas'
/// convergence, the problems and the cleanup: the rows the scorecard shows.
fn measured_section(r: &Results) -> String {
    format!("\n## Measured\n\n{}", bullets(&measured::block(r, Some(r))))
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

/// "## By site" (multi-active): a row per site, the cuts and the updates judged, the
/// agreement after the heal, the engine's counts, the rejoins, then the lost updates.
fn sites(r: &Results) -> String {
    let Some(caption) = super::multi_active::caption(r) else { return String::new() };
    let mut m = String::new();
    let _ = writeln!(m, "\n## By site\n\n{caption}.\n\n| site | writes ok / fail / unknown | longest without an ack, ms |\n|---|---|---|");
    for l in super::multi_active::site_lines(r) {
        let _ = writeln!(m, "| {} | {} | {} |", l.site, l.writes, l.gap);
    }
    m += "\n";
    m += &bullets(&super::multi_active::facts(r));
    let lost = super::multi_active::lost_update_lines(r, 50);
    if !lost.is_empty() {
        m += "\n### Lost updates (first 50), each beside the write kept instead\n\n";
        m += "| key | lost update (invoked) | kept instead (completed before it) |\n|---|---|---|\n";
        for l in lost {
            let _ = writeln!(m, "| {} | {} | {} |", l.key, l.lost, l.survivor);
        }
        if let n @ 1.. = super::multi_active::lost_updates_left_out(r, 50) {
            let _ = writeln!(m, "\n… and {n} more (results.json).");
        }
    }
    m
}

/// "## Reads" (with readers): the facts, then staleness and latency by phase.
fn reads(r: &Results) -> String {
    let Some((caption, facts, grid)) = super::reads::reads_section(r) else { return String::new() };
    let mut m = format!("\n## Reads\n\n{caption}.\n\n| figure | value |\n|---|---|\n");
    for f in facts {
        let _ = writeln!(m, "| {} | {} |", f.label, f.text.replace('|', "\\|"));
    }
    m.push('\n');
    m + &grid.markdown()
}

/// "## Replication at start": a row per replica, or a mesh's matrix.
fn replication(r: &Results) -> String {
    let Some((caption, grid)) = super::replication::replication_at_start(r) else { return String::new() };
    format!("\n## Replication at start\n\n{caption}.\n\n{}", grid.markdown())
}

/// "## Latency of acknowledged writes" per phase, then the WAN links as set; nothing when
/// no phase was measured.
fn latency(r: &Results) -> String {
    let Some(grid) = super::figures::latency_grid(r) else { return String::new() };
    let mut m = format!("\n## Latency of acknowledged writes (ms, by phase of invoke time)\n\n{}", grid.markdown());
    for w in super::figures::wan_texts(r) {
        let _ = writeln!(m, "\n{w}.");
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
        let _ = writeln!(m, "| {} | {} | {:.1} |", l.writer, l.seq_text().trim_start_matches("seq "), l.ack_ms);
    }
    m
}
