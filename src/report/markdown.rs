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
    if !r.several() {
        return m + &service(r, "timeline.svg");
    }
    let each = r.each_service();
    let verdicts: Vec<String> = each.iter().map(|(n, sr)| format!("{n} {}", sr.verdict)).collect();
    let _ = writeln!(m, "Services: {} (the drill's verdict is the worst).\n", verdicts.join(", "));
    for (name, sr) in each {
        let view = r.service_view(name).expect("a service of the drill");
        let _ = writeln!(m, "## Service {name}: {}\n", sr.verdict);
        m += &service(&view, &format!("timeline-{name}.svg")).replace("\n## ", "\n### ");
    }
    m
}

/// One service's part: its stack, timeline picture, targets, figures, events, lost writes.
fn service(r: &Results, timeline: &str) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "Stack: {} ({} replication, image `{}`), primary {} → {}.\n",
        r.stack.kind, r.stack.replication, r.stack.image, r.stack.initial_primary, r.stack.final_primary
    );
    // drawn from history.jsonl.zst beside this file (report.html has the same picture inline)
    let _ = writeln!(m, "![Timeline: writes per 100 ms by outcome, latency, faults, failover steps, RTO window]({timeline})\n");
    m.push_str("## Targets\n\n| target | limit | actual | verdict | note |\n|---|---|---|---|---|\n");
    for t in &r.targets {
        let (limit, actual) = match t.target.as_str() {
            "converged" => ("yes".to_string(), r.converged.map(|c| if c { "yes" } else { "no" }).unwrap_or("unknown").to_string()),
            _ => (t.limit.map(|_| num(t.limit)).unwrap_or_else(|| "-".into()), num(t.actual)),
        };
        let _ = writeln!(m, "| {} | {limit} | {actual} | {} | {} |", t.target, t.verdict, t.note.replace('|', "\\|"));
    }
    m.push_str("\n## Measured\n\n");
    if let Some(i) = &r.interruption {
        let _ = writeln!(m, "- **Interrupted** by {} during {}: partial history, nothing read back; verdict unknown", i.signal, i.phase);
    }
    let _ = writeln!(m, "- RTO: {}", super::terminal::rto_text(r));
    if let Some(o) = r.outage_ms {
        let _ = writeln!(m, "- Outage as clients saw it: {o:.1} ms (last acknowledgement before it to the recovery point)");
    }
    let _ = writeln!(m, "- RPO: {} ms", num(r.rpo_ms));
    let _ = writeln!(m, "- longest gap between acknowledgements: {:.1} ms", r.longest_gap_ms);
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
    if let Some(p) = &r.phases {
        let _ = writeln!(m, "\n## RTO by phase ({})\n", super::phases::headline(p));
        m.push_str("| phase | from -> to | duration | budget | budget from |\n|---|---|---|---|---|\n");
        for x in super::phases::phase_rows(p) {
            let _ = writeln!(m, "| {} | {} | {} | {} | {} |", x.phase, x.span, x.duration, x.budget, x.setting);
        }
        if let Some(c) = &p.budgets.claim {
            let _ = writeln!(m, "\nClaimed: {c}.");
        }
    }
    if let Some(i) = &r.isolated_primary {
        let _ = writeln!(
            m,
            "\nIsolated primary {}: last read while it was still a writable primary began at t={:.1} ms: {} records, {} of the lost writes on it (isolated-primary.json).",
            i.node,
            i.read_started_ms,
            i.records.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into()),
            i.lost_found_here.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
        );
    }
    if !r.latency.is_empty() {
        m.push_str("\n## Latency of acknowledged writes (ms, by phase of invoke time)\n\n");
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
        for l in super::terminal::shaped(r) {
            let _ = writeln!(m, "\nWAN {}: {}.", l.between.join("-"), super::terminal::link_setting(l));
        }
    }
    if let Some(caption) = super::restore::restore_caption(r) {
        let _ = writeln!(m, "\n## Restore\n\n{caption}.\n\n| step | from -> to (drill ms) | duration |\n|---|---|---|");
        for s in super::restore::restore_steps(r) {
            let _ = writeln!(m, "| {} | {} | {} |", s.step, s.span, s.duration);
        }
    }
    if let Some(caption) = super::lag::lag_caption(r) {
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
    }
    m.push_str("\n## Timeline (drill clock)\n\n| t (s) | event | node | detail |\n|---|---|---|---|\n");
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
    for (t, kind, node, detail) in rows {
        let _ = writeln!(m, "| {t:.3} | {kind} | {node} | {} |", detail.replace('|', "\\|"));
    }
    if !r.lost.is_empty() {
        let _ = writeln!(m, "\n## Lost writes ({}; first 50)\n\n| writer | seq | acknowledged at (ms) |\n|---|---|---|", r.lost.len());
        for l in r.lost.iter().take(50) {
            let _ = writeln!(m, "| {} | {} | {:.1} |", l.writer, l.seq, l.ack_ms);
        }
    }
    for e in &r.errors {
        let _ = writeln!(m, "\n> problem: {e}");
    }
    m
}
