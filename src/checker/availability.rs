//! `targets.availability` judged: the downtime budget the target allows in its period,
//! the outage the drill measured for the clients (the writes'; the reads' too where readers
//! ran, the larger counting), the share of the budget it used and how many such failures
//! fit in the period. One judgement gives the verdict and the note's numbers.
use super::{ReadsReport, RtoResult, TargetResult, Verdict};
use crate::scenario::Availability;
use serde::{Deserialize, Serialize};

/// results.json `availability` of a service, and question 1's availability row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AvailabilityReport {
    /// The target, in percent, and its period (`month`, `week`, `year`).
    pub percent: f64,
    pub per: String,
    /// The downtime the target allows in the period.
    pub budget_ms: f64,
    /// The clients' outage this drill measured (ms): the writes', the reads'.
    pub write_outage_ms: f64,
    pub read_outage_ms: Option<f64>,
    /// The outage counted against the budget: the larger of the two.
    pub outage_ms: f64,
    /// The outage ran to the end of the workload: it lasted at least `outage_ms`.
    pub open_ended: bool,
    /// `outage_ms` as a share of the budget, in percent.
    pub used_percent: f64,
    /// How many such failures fit in the period's budget (None: no outage, any number).
    pub fit_per_period: Option<u64>,
}

/// The downtime `rto` measured for one kind of client: the outage (last success before it
/// to the recovery point), 0 when none was seen, and whether it never ended (then the gap
/// from the last success to the workload's end, a lower bound).
fn downtime(rto: &RtoResult) -> (f64, bool) {
    match (rto.outage_observed, rto.outage_ms) {
        (false, _) => (0.0, false),
        (true, Some(ms)) => (ms, false),
        (true, None) => (rto.longest_gap_ms, true),
    }
}

/// The readers' downtime: as `downtime`, but reads that never recovered (a static pool
/// still sending reads to a dead node, its longest gap short) were out at least from their
/// outage's start to the end.
fn read_downtime(reads: &ReadsReport) -> Option<(f64, bool)> {
    match &reads.unrecovered {
        Some(u) => Some((u.at_least_ms(), true)),
        None => reads.rto.as_ref().map(downtime),
    }
}

/// The report and the target's result for `target`, given the writes' RTO and the reads.
pub fn judge_availability(target: &Availability, writes: &RtoResult, reads: Option<&ReadsReport>) -> (AvailabilityReport, TargetResult) {
    let budget = target.budget_ms();
    let (write_ms, write_open) = downtime(writes);
    let read = reads.and_then(read_downtime);
    let (outage, open) = match read {
        Some((r, o)) if r > write_ms => (r, o),
        _ => (write_ms, write_open),
    };
    let report = AvailabilityReport {
        percent: target.percent,
        per: target.per.name().into(),
        budget_ms: budget,
        write_outage_ms: write_ms,
        read_outage_ms: read.map(|r| r.0),
        outage_ms: outage,
        open_ended: open,
        used_percent: outage / budget * 100.0,
        fit_per_period: (outage > 0.0).then(|| (budget / outage).floor() as u64),
    };
    let verdict = match (outage <= budget, open) {
        (false, _) => Verdict::Fail,
        (true, false) => Verdict::Pass,
        // a lower bound within the budget decides nothing
        (true, true) => Verdict::Unknown,
    };
    let result = TargetResult {
        target: super::Target::Availability,
        limit: Some(budget),
        actual: Some(outage),
        verdict,
        note: availability_text(&report),
    };
    (report, result)
}

impl AvailabilityReport {
    /// The target as every report names it: "99.99 % a month".
    pub fn target_text(&self) -> String {
        format!("{} % a {}", crate::scenario::availability::trim(self.percent), self.per)
    }
}

/// "outage 1.6 s used 0.61 % of the 4.38 min a month 99.99 % allows: 164 such failures fit a month".
pub fn availability_text(a: &AvailabilityReport) -> String {
    let (pct, per) = (crate::scenario::availability::trim(a.percent), &a.per);
    let budget = duration(a.budget_ms);
    let which = match a.read_outage_ms {
        Some(r) if r > a.write_outage_ms => format!(" (the reads'; the writes' {})", duration(a.write_outage_ms)),
        Some(_) => " (the writes'; the reads' no longer)".to_string(),
        None => String::new(),
    };
    if a.outage_ms <= 0.0 {
        return format!("no outage: none of the {budget} a {per} {pct} % allows was used");
    }
    let used = format!("{:.2} %", a.used_percent);
    if a.open_ended {
        return format!(
            "outage at least {}{which}, never recovered within the drill: at least {used} of the {budget} a {per} {pct} % allows",
            duration(a.outage_ms)
        );
    }
    let fit = match a.fit_per_period {
        Some(0) => format!("not one such failure fits a {per}"),
        Some(1) => format!("1 such failure fits a {per}"),
        Some(n) => format!("{n} such failures fit a {per}"),
        None => String::new(),
    };
    format!("outage {}{which} used {used} of the {budget} a {per} {pct} % allows: {fit}", duration(a.outage_ms))
}

/// A duration as an SLA reads it: ms below 1 s, s below 2 min, else min (h above 2 h).
fn duration(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 120_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 7_200_000.0 {
        format!("{:.2} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Period;

    fn rto(observed: bool, outage: Option<f64>, gap: f64) -> RtoResult {
        RtoResult { outage_observed: observed, outage_ms: outage, longest_gap_ms: gap, ..Default::default() }
    }

    #[test]
    fn an_outage_uses_a_share_of_the_budget_and_says_how_many_fit() {
        let a = Availability { percent: 99.99, per: Period::Month };
        let (r, t) = judge_availability(&a, &rto(true, Some(1600.0), 1600.0), None);
        assert_eq!(t.verdict, Verdict::Pass);
        assert_eq!(r.fit_per_period, Some(164));
        assert_eq!(t.note, "outage 1.6 s used 0.61 % of the 4.38 min a month 99.99 % allows: 164 such failures fit a month");
        // the note's numbers are the judgement's: actual against limit
        assert_eq!((t.actual, t.limit), (Some(1600.0), Some(a.budget_ms())));
        // longer than the budget: fails, and says none fits
        let (_, t) = judge_availability(&a, &rto(true, Some(300_000.0), 300_000.0), None);
        assert_eq!(t.verdict, Verdict::Fail);
        assert!(t.note.contains("used 114.08 %") && t.note.contains("not one such failure fits a month"), "{}", t.note);
    }

    #[test]
    fn the_reads_outage_counts_when_it_is_the_longer_and_an_open_outage_is_a_lower_bound() {
        let a = Availability { percent: 99.9, per: Period::Week };
        let reads = |rto| ReadsReport { rto: Some(rto), ..Default::default() };
        let (r, t) = judge_availability(&a, &rto(true, Some(1000.0), 1000.0), Some(&reads(rto(true, Some(3000.0), 3000.0))));
        assert_eq!(r.outage_ms, 3000.0);
        assert!(t.note.starts_with("outage 3.0 s (the reads'; the writes' 1.0 s) used"), "{}", t.note);
        let (r, t) = judge_availability(&a, &rto(true, None, 20_000.0), None);
        assert!(r.open_ended && t.verdict == Verdict::Unknown, "{t:?}");
        assert!(t.note.contains("at least 20.0 s") && t.note.contains("never recovered"), "{}", t.note);
        // reads that never recovered count from their outage's start to the end, not their
        // short longest gap (a dead node in a static pool fails a third of them)
        let unrecovered = crate::checker::Unrecovered { from_ms: 6000.0, to_ms: 16_000.0, ..Default::default() };
        let dead = ReadsReport { unrecovered: Some(unrecovered), ..reads(rto(true, None, 40.0)) };
        let (r, t) = judge_availability(&a, &rto(true, Some(1000.0), 1000.0), Some(&dead));
        assert_eq!((r.outage_ms, r.open_ended, t.verdict), (10_000.0, true, Verdict::Unknown), "{t:?}");
        let (r, t) = judge_availability(&a, &rto(false, None, 20.0), None);
        assert_eq!((r.outage_ms, r.fit_per_period, t.verdict), (0.0, None, Verdict::Pass));
        assert_eq!(t.note, "no outage: none of the 10.08 min a week 99.9 % allows was used");
    }
}
