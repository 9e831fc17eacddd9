//! Formatting helpers every report shares: a figure in ms, a WAN link's setting, the
//! observer's cost. Imports no sibling, so any section or reporter may use it.
use crate::scenario::LinkSpec;
use crate::usage::HarnessUsage;

/// A figure in ms with one decimal, or "-" when there is none.
pub(super) fn ms(v: Option<f64>) -> String {
    crate::checker::ms_text(v)
}

/// `round trip 30 ± 5 ms, 12500 KB/s each way`.
pub(super) fn link_setting(l: &LinkSpec) -> String {
    let jitter = if l.jitter_ms > 0 { format!(" ± {}", l.jitter_ms) } else { String::new() };
    let rate = l.bandwidth_kb_per_s.map(|b| format!(", {b} KB/s each way")).unwrap_or_default();
    let loss = if l.loss_percent > 0.0 { format!(", {}% loss each way", l.loss_percent) } else { String::new() };
    format!("round trip {}{jitter} ms{rate}{loss} (its setting)", l.latency_ms)
}

/// The CPU each part took while the workload ran, beside the stack's (none without the
/// containers' figures): `stack 49.1 s; drdrill 4.2 s + its proxies 1.0 s = 0.11 of it;
/// monitoring 5.1 s = 0.10 of it, 310 MB`. The scorecard, report.md and report.html say it.
pub(super) fn observer_text(h: &HarnessUsage) -> Option<String> {
    let stack = h.stack.as_ref()?;
    let mem = |m: Option<f64>| m.map(|m| format!(", peak {m:.0} MB")).unwrap_or_default();
    let share = |v: Option<f64>| v.map(|v| format!(" = {v:.2} of it")).unwrap_or_default();
    let proxies = h.proxies.as_ref().map(|p| format!(" + its proxies {:.1} s", p.cpu_s)).unwrap_or_default();
    let mut s = format!(
        "stack {:.1} s ({} containers{}); drdrill {:.1} s{proxies}{}",
        stack.cpu_s,
        stack.containers,
        mem(stack.peak_memory_mb),
        h.workload_cpu_ms / 1000.0,
        share(h.observer_share)
    );
    if let Some(m) = &h.monitoring {
        s += &format!("; monitoring {:.1} s{} ({} containers{})", m.cpu_s, share(h.monitoring_share), m.containers, mem(m.peak_memory_mb));
    }
    Some(s)
}

/// `2 cores, busy p50 41 %, max 78 %; never saturated` or `…; saturated t=5.2–8.0 s (99 %)`.
pub(super) fn host_text(h: &crate::usage::HostLoad) -> String {
    let stretches: Vec<String> =
        h.saturated.iter().map(|s| format!("t={:.1}–{:.1} s ({:.0} %)", s.from_ms / 1000.0, s.to_ms / 1000.0, s.busy * 100.0)).collect();
    let sat = match stretches.is_empty() {
        true => "never saturated (95 % busy for 1 s or more)".to_string(),
        false => format!("saturated {}", stretches.join(", ")),
    };
    format!(
        "{} cores, busy p50 {:.0} %, max {:.0} % ({} readings every {:.0} ms); {sat}",
        h.cores,
        h.busy_p50 * 100.0,
        h.busy_max * 100.0,
        h.samples,
        h.interval_ms
    )
}

/// `I/O stall p50 5 %, max 31 %; never stalled` or `…; stalled t=4.5–6.0 s (62 %)`.
pub(super) fn disk_text(d: &crate::usage::DiskStall) -> String {
    let stalls: Vec<String> =
        d.stalled.iter().map(|s| format!("t={:.1}–{:.1} s ({:.0} %)", s.from_ms / 1000.0, s.to_ms / 1000.0, s.share * 100.0)).collect();
    let stalled = match stalls.is_empty() {
        true => "never stalled (tasks waiting for I/O half the time for 1 s or more)".to_string(),
        false => format!("stalled {}", stalls.join(", ")),
    };
    format!("I/O stall p50 {:.0} %, max {:.0} %; {stalled}", d.stall_p50 * 100.0, d.stall_max * 100.0)
}

/// `p50 0.4 ms, p99 1.1 ms, max 3.2 ms over 2400 paced operations (worst: writer 2 at t=6.1 s)`.
pub(super) fn slip_text(s: &crate::usage::PacingSlip) -> String {
    if s.ops == 0 {
        return "no paced client (unthrottled writers wait on the database, not the clock)".into();
    }
    let worst = match (&s.worst_client, s.worst_at_ms) {
        (Some(c), Some(t)) => format!(" (worst: {c} at t={:.1} s)", t / 1000.0),
        _ => String::new(),
    };
    format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} paced operations{worst}", s.p50_ms, s.p99_ms, s.max_ms, s.ops)
}

/// One labelled row of a report ("RTO", "250.0 ms (…)"), computed once: the terminal pads
/// the label, report.md makes it a bullet, report.html a row of a table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fact {
    pub label: String,
    pub text: String,
}

pub(super) fn fact(label: impl Into<String>, text: impl Into<String>) -> Fact {
    Fact { label: label.into(), text: text.into() }
}

/// A table whose columns a section decides (the replication matrix has a column per
/// provider): a header and rows of already formatted cells.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Grid {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// The table as report.md writes it (a `|` in a cell escaped).
    pub(super) fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
        let mut m = line(&self.header);
        m += &format!("|{}\n", "---|".repeat(self.header.len()));
        self.rows.iter().for_each(|r| m += &line(r));
        m
    }

    /// The table as the terminal draws it.
    pub(super) fn terminal(&self) -> String {
        let mut b = tabled::builder::Builder::default();
        b.push_record(self.header.clone());
        self.rows.iter().for_each(|r| b.push_record(r.clone()));
        let mut t = b.build();
        t.with(tabled::settings::Style::rounded());
        t.to_string()
    }
}

/// A count, or `why` in words when there is none.
pub(super) fn count_or(v: Option<u64>, why: &str) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| why.to_string())
}
