//! The four questions in words, as every report heads its scorecard with them (terminal,
//! report.md, report.html) and as findings.md lists what the drill found.
use super::Results;
use crate::checker::{Answer, FaultPages, Figure, Finding, Measured, Questions};
use serde::Serialize;
use std::fmt::Write;

/// One question: its answer, why in a few words, and a line per service, finding or fault.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub question: &'static str,
    pub answer: Answer,
    pub why: String,
    pub rows: Vec<String>,
}

/// The four blocks, in the seed's order.
pub fn blocks(q: &Questions) -> Vec<Block> {
    let n = q.unexpected.findings.len();
    vec![
        Block {
            question: "RTO met?",
            answer: q.rto.answer,
            why: measured_why(&q.rto),
            rows: q.rto.services.iter().map(figure_line).collect(),
        },
        Block {
            question: "RPO met?",
            answer: q.rpo.answer,
            why: measured_why(&q.rpo),
            rows: q.rpo.services.iter().map(figure_line).collect(),
        },
        Block {
            question: "Anything unexpected?",
            answer: q.unexpected.answer,
            why: match n {
                0 => "nothing found".into(),
                1 => "1 finding".into(),
                n => format!("{n} findings"),
            },
            rows: q.unexpected.findings.iter().map(finding_line).collect(),
        },
        Block {
            question: "Did alerting work?",
            answer: q.alerting.answer,
            why: q.alerting.why.clone(),
            rows: q.alerting.faults.iter().map(fault_line).collect(),
        },
    ]
}

/// Who answered it so: `every service within its target`, `missed by pg`, `undecided for cache`.
fn measured_why(m: &Measured) -> String {
    let by = |a: Answer| {
        let mut names: Vec<&str> = m.services.iter().filter(|f| f.answer == a).map(|f| f.service.as_str()).collect();
        names.dedup();
        names.join(", ")
    };
    match m.answer {
        Answer::Yes => "every service within its target".into(),
        Answer::No => format!("missed by {}", by(Answer::No)),
        Answer::Unknown => format!("undecided for {}", by(Answer::Unknown)),
        Answer::Undecided => format!("undecided for {}: the host disturbed the window a target measures", by(Answer::Undecided)),
        Answer::NotDrilled => String::new(),
        Answer::NotPromised => format!("not promised by {}", by(Answer::NotPromised)),
    }
}

/// `pg: rto_ms 1523.4 ms, limit 30000 ms: yes (note)`.
fn figure_line(f: &Figure) -> String {
    let unit = match f.target {
        crate::checker::Target::MaxLostWrites => "writes",
        crate::checker::Target::MaxReadsOfLostWrites => "reads",
        _ => "ms",
    };
    let v =
        |v: Option<f64>| v.map_or("unknown".into(), |v| if v.fract() == 0.0 { format!("{v:.0} {unit}") } else { format!("{v:.1} {unit}") });
    let limit = f.limit.map_or("no limit set".into(), |_| format!("limit {}", v(f.limit)));
    let note = if f.note.is_empty() { String::new() } else { format!(" ({})", f.note) };
    // a pass without a figure: nothing hit the service and its writes never stopped
    let figure = if f.figure.is_none() && f.answer == Answer::Yes { "none, no outage".into() } else { v(f.figure) };
    // a figure measured beside no target (the readers'): shown, not judged
    let answer = if f.answer == Answer::NotDrilled { "not judged" } else { f.answer.word() };
    if let Some(a) = &f.availability {
        return format!("{}: availability {}: {answer}{note}", f.service, a.target_text());
    }
    format!("{}: {} {figure}, {limit}: {answer}{note}", f.service, f.target)
}

/// `pg: writes failed again after recovery: 35 writes invoked after …`.
pub fn finding_line(f: &Finding) -> String {
    format!("{}: {}: {}", f.service.as_deref().unwrap_or("drill"), f.what, f.evidence)
}

/// `fault 1 kill pg-2 at t=9000.0 ms, outage: yes: paged within its limit:
/// PostgresInstanceDown paged 16.3 s after it (instance=pg-2, limit 30.0 s)`.
fn fault_line(f: &FaultPages) -> String {
    let x = &f.fault;
    let outage = if f.outage { ", outage" } else { "" };
    let pages: Vec<String> = f
        .pages
        .iter()
        .map(|p| {
            let limit = p.limit_ms.map_or("no limit".into(), |l| format!("limit {:.1} s", l / 1e3));
            format!("{} paged {:.1} s after it ({}, {limit})", p.alert, p.to_page_ms / 1e3, p.matched)
        })
        .collect();
    let pages = if pages.is_empty() { String::new() } else { format!(": {}", pages.join("; ")) };
    format!("fault {} {} {} at t={:.1} ms{outage}: {}: {}{pages}", x.index, x.kind, x.target, x.at_ms, f.answer, f.note)
}

/// The scorecard's head: the four questions, a line each, their rows indented.
pub fn terminal(r: &Results) -> String {
    let Some(q) = &r.questions else { return String::new() };
    let mut s = String::from("The four questions\n");
    for b in blocks(q) {
        let why = if b.why.is_empty() { String::new() } else { format!(" ({})", b.why) };
        let _ = writeln!(s, "  {:<21} {}{why}", b.question, b.answer.word().to_uppercase());
        for row in &b.rows {
            let _ = writeln!(s, "      {row}");
        }
    }
    s
}

/// "## The four questions" for report.md: a table of the answers, each block's rows under it.
pub fn markdown(r: &Results) -> String {
    let Some(q) = &r.questions else { return String::new() };
    let mut m = String::from("## The four questions\n\n| question | answer | why |\n|---|---|---|\n");
    let blocks = blocks(q);
    for b in &blocks {
        let _ = writeln!(m, "| {} | **{}** | {} |", b.question, b.answer, b.why.replace('|', "\\|"));
    }
    for b in blocks.iter().filter(|b| !b.rows.is_empty()) {
        let _ = writeln!(m, "\n**{}**\n", b.question);
        for row in &b.rows {
            let _ = writeln!(m, "- {}", row.replace('|', "\\|"));
        }
    }
    m + "\n"
}

/// findings.md: what the drill found, one line each with the figure that proves it (the
/// seed's "record what the drill found"); nothing without the questions.
pub fn findings_md(r: &Results) -> Option<String> {
    let q = r.questions.as_ref()?;
    let mut m = format!("# Findings: {} (run {})\n\n", r.scenario, r.run_id);
    if q.unexpected.findings.is_empty() {
        m += "Nothing unexpected was found.\n";
    }
    for f in &q.unexpected.findings {
        let _ = writeln!(m, "- {}", finding_line(f));
    }
    Some(m)
}
