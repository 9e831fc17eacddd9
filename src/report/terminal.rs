//! The terminal: phases as the drill goes, then the scorecard.
use super::figures::{gap_text, rto_text, shaped};
use super::format::{link_setting, ms, observer_text};
use super::{DrillEvent, Reporter, Results};
use crate::checker::Verdict;
use crate::error::Result;
use std::io::Write;
use std::time::Instant;
use tabled::{Table, Tabled, settings::Style};

pub struct TerminalReporter {
    /// The drill's first line: its times count from there (not from the process's start,
    /// which an image build may precede).
    started: Option<Instant>,
    out: Box<dyn Write + Send>,
}

impl TerminalReporter {
    pub fn stderr() -> Self {
        TerminalReporter { started: None, out: Box::new(std::io::stderr()) }
    }

    /// Writes a line above the live progress line when one is drawn, else to the output.
    fn line(&mut self, text: String) -> std::io::Result<()> {
        match LIVE_LINE.lock().ok().and_then(|b| b.clone()) {
            Some(bar) => {
                bar.println(text);
                Ok(())
            }
            None => writeln!(self.out, "{text}"),
        }
    }
}

/// The live progress line of the drill running in a terminal, if any (runner/progress.rs).
pub static LIVE_LINE: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "target")]
    target: String,
    #[tabled(rename = "limit")]
    limit: String,
    #[tabled(rename = "actual")]
    actual: String,
    #[tabled(rename = "verdict")]
    verdict: String,
    #[tabled(rename = "note")]
    note: String,
}

#[derive(Tabled)]
struct LatencyRow {
    #[tabled(rename = "phase")]
    phase: String,
    #[tabled(rename = "ok ops")]
    ok_ops: u64,
    #[tabled(rename = "p50 ms")]
    p50: String,
    #[tabled(rename = "p95 ms")]
    p95: String,
    #[tabled(rename = "p99 ms")]
    p99: String,
    #[tabled(rename = "max ms")]
    max: String,
}

/// Latency of acknowledged writes per phase, or nothing when no phase was measured.
fn latency_table(r: &Results) -> String {
    if r.latency.is_empty() {
        return String::new();
    }
    let rows = r.latency.iter().map(|l| LatencyRow {
        phase: l.phase.to_string(),
        ok_ops: l.ok_ops,
        p50: ms(l.p50_ms),
        p95: ms(l.p95_ms),
        p99: ms(l.p99_ms),
        max: ms(l.max_ms),
    });
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    format!("\nLatency of acknowledged writes, by phase (invoke time)\n{table}\n{}", wan_lines(r))
}

/// The WAN links as set, one line each, to read the latency beside.
pub(super) fn wan_lines(r: &Results) -> String {
    shaped(r).map(|l| format!("  WAN {}: {}\n", l.between.join("-"), link_setting(l))).collect()
}

/// RTO split into the orchestrator's phases, next to the budgets the settings imply.
fn phase_table(r: &Results) -> String {
    let Some(p) = &r.phases else { return String::new() };
    let rows = super::phases::phase_rows(p).into_iter().map(|x| PhaseTableRow {
        phase: x.phase.to_string(),
        span: x.span,
        duration: x.duration,
        budget: x.budget,
        setting: x.setting,
    });
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    let claim = p.budgets.claim.as_ref().map(|c| format!("  claimed: {c}\n")).unwrap_or_default();
    format!("\nRTO by phase ({})\n{table}\n{claim}", super::phases::headline(p))
}

#[derive(Tabled)]
struct PhaseTableRow {
    phase: String,
    #[tabled(rename = "from -> to")]
    span: String,
    duration: String,
    budget: String,
    #[tabled(rename = "budget from")]
    setting: String,
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
}

/// The scorecard as text: targets against actuals, then the measured figures; in a drill
/// of several services one block per service, then the drill's own lines and the overall
/// verdict (the worst service's).
pub fn scorecard(r: &Results) -> String {
    let mut s = format!("\nScorecard: {} (run {})\n", r.scenario, r.run_id);
    s += &super::questions_text::terminal(r);
    if !r.several() {
        s += &service_block(r, Some(r));
    } else {
        for (name, sr) in r.each_service() {
            s += &format!("\n── service {name} ({}): {}\n", sr.stack.kind, sr.verdict);
            s += &service_block(sr, None);
        }
        s += "\n";
        s += &drill_lines(r);
    }
    s += &comparison_text(r);
    let word = match r.verdict {
        Verdict::Pass => "PASS: every target met",
        Verdict::Fail => "FAIL: a target was missed",
        Verdict::Unknown => "UNKNOWN: a check could not decide",
    };
    let each: Vec<String> = r.each_service().iter().map(|(n, sr)| format!("{n} {}", sr.verdict)).collect();
    let worst = if r.several() { format!(" (the worst of {})", each.join(", ")) } else { String::new() };
    s += &format!("\nverdict: {word}{worst}\n");
    s
}

/// One service's targets and figures; `drill` (a drill of one service) adds the drill's
/// own lines where they always stood.
fn service_block(r: &Results, drill: Option<&Results>) -> String {
    let mut s = targets_table(r);
    s += &drill.map(interruption_line).unwrap_or_default();
    s += &recovery_lines(r);
    s += &write_lines(r);
    s += &problem_lines(r);
    s += &drill.map(steady_lines).unwrap_or_default();
    if let Some(c) = &r.cleanup {
        s += &format!("  cleanup            {c}\n");
    }
    s += &drill.map(harness_line).unwrap_or_default();
    s += &drill.map(super::alerts::terminal).unwrap_or_default();
    s += &phase_table(r);
    s += &shard_table(r);
    s += &site_table(r);
    s += &isolated_primary_line(r);
    s += &restore_table(r);
    s += &latency_table(r);
    s += &lag_table(r);
    s
}

/// Each target's limit, actual, verdict and note, as a table.
fn targets_table(r: &Results) -> String {
    let rows: Vec<Row> = r
        .targets
        .iter()
        .map(|t| Row {
            target: t.target.clone(),
            limit: if t.target == "converged" { "yes".into() } else { num(t.limit) },
            actual: if t.target == "converged" { opt(r.converged.map(|c| if c { "yes" } else { "no" })) } else { num(t.actual) },
            verdict: t.verdict.to_string(),
            note: t.note.clone(),
        })
        .collect();
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    format!("{table}\n")
}

/// The INTERRUPTED line, when a signal stopped the drill.
fn interruption_line(r: &Results) -> String {
    let Some(i) = &r.interruption else { return String::new() };
    format!("  INTERRUPTED        {} during {} (partial history; nothing read back)\n", i.signal, i.phase)
}

/// RTO, the clients' outage, RPO, the fault's times and the longest time without an
/// acknowledgement.
fn recovery_lines(r: &Results) -> String {
    let mut s = format!("  RTO                {}\n", rto_text(r));
    if let Some(o) = r.outage_ms {
        s += &format!("  outage (clients)   {o:.1} ms (last ack before it -> recovery)\n");
    }
    s += &format!("  RPO                {}\n", r.rpo_ms.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "unknown".into()));
    if let Some(f) = r.fault_ms {
        let effect = if r.outage_observed { format!(", in effect for the clients t={:.1} ms", r.rto_from_ms) } else { String::new() };
        s += &format!("  fault              requested t={f:.1} ms, applied t={} ms{effect}\n", num(r.fault_applied_ms));
    }
    s += &format!("  longest ack gap    {}\n", gap_text(r));
    s
}

/// The writes by outcome, what the read-back found of them, the writes discarded by
/// design, and the primary before and after.
fn write_lines(r: &Results) -> String {
    let mut s = format!(
        "  writes             {} total: {} ok, {} fail, {} unknown\n",
        r.total_writes, r.acked_writes, r.failed_writes, r.unknown_writes
    );
    s += &format!(
        "  read back          {} records: {} lost, {} recovered, {} duplicated, {} never written\n",
        opt(r.records_read),
        opt(r.lost_writes),
        opt(r.recovered_writes),
        opt(r.duplicate_writes),
        opt(r.unexpected_writes)
    );
    if let Some(n) = r.discarded_writes {
        s += &format!("  discarded          {n} acknowledged writes after the recovery target (by design; not lost)\n");
    }
    s += &format!("  primary            {} -> {}\n", r.stack.initial_primary, r.stack.final_primary);
    s
}

/// The problems met after the workload, one line each.
fn problem_lines(r: &Results) -> String {
    r.errors.iter().map(|e| format!("  problem            {e}\n")).collect()
}

/// What the isolated old primary held when last read as a primary, in one line.
fn isolated_primary_line(r: &Results) -> String {
    let Some(i) = &r.isolated_primary else { return String::new() };
    format!(
        "  isolated primary   {} last read as a primary from t={:.1} ms: {} records, {} of the lost writes on it\n",
        i.node,
        i.read_started_ms,
        opt(i.records),
        opt(i.lost_found_here)
    )
}

/// A restore's RTO step by step, and its loss beside what the settings allow; or an
/// operator's bootstrap, step by step.
fn restore_table(r: &Results) -> String {
    let Some((_, caption, steps)) = super::restore::recovery_section(r) else { return String::new() };
    captioned(Some(caption), steps, Vec::new())
}

/// Each shard's writes, loss and outage, and the key space's writable share over time.
fn shard_table(r: &Results) -> String {
    captioned(super::shards::shards_caption(r), super::shards::shard_lines(r), super::shards::writable_lines(r))
}

/// A multi-active service's writes by site, and its updates judged.
fn site_table(r: &Results) -> String {
    captioned(super::multi_active::caption(r), super::multi_active::site_lines(r), super::multi_active::update_lines(r))
}

/// Replica lag per replica and phase, beside the engine's figure, when it was measured.
fn lag_table(r: &Results) -> String {
    captioned(super::lag::lag_caption(r), super::lag::lag_lines(r), Vec::new())
}

/// A captioned table and the lines under it, indented; nothing without a caption (the
/// drill has no such part).
fn captioned<T: tabled::Tabled>(caption: Option<String>, rows: Vec<T>, under: Vec<String>) -> String {
    let Some(caption) = caption else { return String::new() };
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    let lines: String = under.iter().map(|l| format!("  {l}\n")).collect();
    format!("\n{caption}\n{table}\n{lines}")
}

/// The drill's own lines (a drill of several services): an interruption, its problems,
/// the steady state after recovery, the harness's cost.
fn drill_lines(r: &Results) -> String {
    let own = if r.targets.is_empty() { String::new() } else { format!("Drill-wide targets\n{}", targets_table(r)) };
    own + &interruption_line(r) + &problem_lines(r) + &steady_lines(r) + &harness_line(r) + &super::alerts::terminal(r)
}

/// The steady-state probes after recovery: how many held, and each one that did not.
fn steady_lines(r: &Results) -> String {
    let mut s = String::new();
    if let Some(ss) = r.steady_state.as_ref().filter(|ss| !ss.after.is_empty()) {
        let held = ss.after.iter().filter(|p| p.ok).count();
        s += &format!("  steady state after {held} of {} probes held (reported, not a target)\n", ss.after.len());
        for p in ss.after.iter().filter(|p| !p.ok) {
            s += &format!("    not held         {}: {}\n", p.probe, p.detail);
        }
    }
    s
}

/// drdrill's own cost while it ran the workload: writes per second, CPU per write, peak memory.
fn harness_line(r: &Results) -> String {
    let Some(h) = &r.harness else { return String::new() };
    let per = h.cpu_us_per_write.map(|c| format!(", {c:.1} µs CPU per write")).unwrap_or_default();
    let mut s = format!("  harness            {:.0} writes/s{per}, peak memory {:.1} MB\n", h.writes_per_s, h.peak_rss_mb);
    if let Some(o) = observer_text(h) {
        s += &format!("  CPU, workload      {o}\n");
    }
    s
}

/// `--baseline`: each quantity against the baseline, regressions first.
fn comparison_text(r: &Results) -> String {
    let Some(c) = &r.comparison else { return String::new() };
    let mut s = format!("\nCompared with {} baseline runs ({})\n", c.baseline_runs.len(), c.baseline_runs.join(", "));
    for k in c.checks.iter().filter(|k| k.regression).chain(c.checks.iter().filter(|k| !k.regression)) {
        let word = if k.regression { "REGRESSION" } else { "ok" };
        s += &format!(
            "  {word:<11}{:<17} baseline {} (tolerance {}), now {} {}\n",
            k.quantity,
            num(k.baseline),
            num(k.tolerance),
            num(k.actual),
            k.note
        );
    }
    s
}

impl Reporter for TerminalReporter {
    fn on(&mut self, event: &DrillEvent<'_>) -> Result<()> {
        let t = self.started.get_or_insert_with(Instant::now).elapsed().as_secs_f64();
        let _ = match event {
            DrillEvent::Phase(p) => self.line(format!("[{t:7.1}s] == {p}")),
            DrillEvent::Info(i) => self.line(format!("[{t:7.1}s]    {i}")),
            DrillEvent::Step { t_ms, text } => self.line(format!("[{t:7.1}s]    t={:.3}s {text}", t_ms / 1000.0)),
            DrillEvent::Finished(r) => {
                let _ = self.out.flush();
                let card = scorecard(r);
                match LIVE_LINE.lock().ok().and_then(|b| b.clone()) {
                    Some(bar) => bar.suspend(|| write!(std::io::stdout(), "{card}")),
                    None => write!(std::io::stdout(), "{card}"),
                }
            }
        };
        Ok(())
    }
}
