//! The terminal: phases as the drill goes, then the scorecard.
use super::figures::shaped;
use super::format::{Fact, link_setting, ms};
use super::{DrillEvent, Reporter, Results, measured};
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

/// The scorecard as text: targets against actuals, then the measured figures; in a drill
/// of several services one block per service, then the drill's own lines and the overall
/// verdict (the worst service's).
pub fn scorecard(r: &Results) -> String {
    let mut s = format!("\nScorecard: {} (run {})\n", r.scenario, r.run_id);
    s += &super::questions_text::terminal(r);
    s += &claims_table(r);
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
        Verdict::Undecided => "UNDECIDED: a timing target was missed while the host disturbed its window",
    };
    for u in &r.undecided {
        s += &format!("\n{}", u.text());
    }
    if !r.undecided.is_empty() {
        s += &format!("\n{UNDECIDED_HINT}\n");
    }
    let each: Vec<String> = r.each_service().iter().map(|(n, sr)| format!("{n} {}", sr.verdict)).collect();
    let worst = if r.several() { format!(" (the worst of {})", each.join(", ")) } else { String::new() };
    s += &format!("\nverdict: {word}{worst}\n");
    s
}

/// What to do with an undecided drill.
pub(super) const UNDECIDED_HINT: &str = "The host was too busy to tell whether the system met these targets: run the drill again on a quiet host, \
or with `--rerun-disturbed N` to run it again, up to N times, until a run the host did not disturb decides.";

/// Each claim beside its target, what was measured, and whether it held.
fn claims_table(r: &Results) -> String {
    let Some((caption, rows)) = super::claims::claims_section(r) else { return String::new() };
    captioned(Some(caption), rows, Vec::new())
}

/// One service's targets and figures; `drill` (a drill of one service) adds the drill's
/// own lines where they always stood.
fn service_block(r: &Results, drill: Option<&Results>) -> String {
    let mut facts = measured::block(r, drill);
    facts.extend(measured::lost_writes(r, 5));
    facts.extend(drill.map(measured::steady_state).unwrap_or_default());
    facts.extend(drill.map(measured::harness).unwrap_or_default());
    let mut s = targets_table(r) + &fact_lines(&facts);
    s += &drill.map(super::alerts::terminal).unwrap_or_default();
    s += &phase_table(r);
    s += &shard_table(r);
    s += &site_table(r);
    s += &restore_table(r);
    s += &latency_table(r);
    s += &lag_table(r);
    s += &reads_table(r);
    s += &replication_table(r);
    s
}

/// Labelled rows, the label padded: `  RTO                250.0 ms (…)`.
fn fact_lines(facts: &[Fact]) -> String {
    facts.iter().map(|f| format!("  {:<18} {}\n", f.label, f.text)).collect()
}

/// Each target's limit, actual, verdict and note, as a table.
fn targets_table(r: &Results) -> String {
    let rows = measured::target_rows(r);
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    format!("{table}\n")
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

/// A multi-active service's writes by site, its cuts and updates judged, its rejoins, and
/// the first lost updates beside the writes kept instead.
fn site_table(r: &Results) -> String {
    let mut s = captioned(super::multi_active::caption(r), super::multi_active::site_lines(r), Vec::new());
    s += &fact_lines(&super::multi_active::facts(r));
    let lost = super::multi_active::lost_update_lines(r, 5);
    if !lost.is_empty() {
        let more = match super::multi_active::lost_updates_left_out(r, 5) {
            0 => Vec::new(),
            n => vec![format!("… and {n} more (results.json)")],
        };
        s += &captioned(Some("Lost updates, each beside the write kept instead".into()), lost, more);
    }
    s
}

/// The replication state before the workload: a row per replica, or a mesh's matrix.
fn replication_table(r: &Results) -> String {
    let Some((caption, grid)) = super::replication::replication_at_start(r) else { return String::new() };
    format!("\nReplication at start: {caption}\n{}\n", grid.terminal())
}

/// What the readers got, when the workload had readers.
fn reads_table(r: &Results) -> String {
    let Some((caption, facts, grid)) = super::reads::reads_section(r) else { return String::new() };
    format!("\n{caption}\n{}{}\n", fact_lines(&facts), grid.terminal())
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
    let mut facts: Vec<Fact> = measured::interruption(r).into_iter().collect();
    facts.extend(measured::problems(r));
    facts.extend(measured::steady_state(r));
    facts.extend(measured::harness(r));
    own + &fact_lines(&facts) + &super::alerts::terminal(r)
}

/// `--baseline`: each quantity against the baseline, regressions first.
fn comparison_text(r: &Results) -> String {
    let Some((caption, facts)) = measured::comparison(r) else { return String::new() };
    let lines: String = facts.iter().map(|f| format!("  {:<11}{}\n", f.label, f.text)).collect();
    format!("\n{caption}\n{lines}")
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
