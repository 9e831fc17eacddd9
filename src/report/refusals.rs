//! The writes the database refused once the failover was done, by cause, as every report
//! shows them: `refused writes  412 after the failover (done t=5240.0 ms), by cause:`, then
//! `412 × 23505: duplicate key value violates unique constraint "users_pkey" … (t=5301.2 to
//! 9800.0 ms, on pg-dr-1)`.
use super::Results;
use super::format::{Fact, fact};
use crate::checker::RefusalCause;

const LABEL: &str = "refused writes";

/// The writes refused after the failover in all, then a row per cause (the first 5, then
/// how many more); `none`; nothing when no failover was done.
pub fn refusal_facts(r: &Results) -> Vec<Fact> {
    let Some(f) = &r.refused_after_failover else { return Vec::new() };
    let Some(done) = f.failover_done_ms else { return Vec::new() };
    if f.causes.is_empty() {
        return vec![fact(LABEL, format!("none after the failover (done t={done:.1} ms)"))];
    }
    let mut out = vec![fact(LABEL, format!("{} after the failover (done t={done:.1} ms), by cause:", f.refused))];
    out.extend(f.causes.iter().take(5).map(|c| fact("", cause_text(c))));
    if f.causes.len() > 5 {
        let rest: u64 = f.causes.iter().skip(5).map(|c| c.count).sum();
        out.push(fact("", format!("… and {rest} more writes of {} more causes (results.json)", f.causes.len() - 5)));
    }
    out
}

/// `412 × CAUSE … (t=… to … ms, on NODES)`: `…` where the text named one row.
pub fn cause_text(c: &RefusalCause) -> String {
    let more = if c.example != c.cause { " …" } else { "" };
    let on = if c.nodes.is_empty() { String::new() } else { format!(", on {}", c.nodes.join(", ")) };
    format!("{} × {}{more} (t={:.1} to {:.1} ms{on})", c.count, c.cause, c.first_ms, c.last_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::RefusalsReport;

    const DUP: &str = "23505: duplicate key value violates unique constraint \"users_pkey\"";

    #[test]
    fn each_cause_is_a_row_and_none_is_said_only_after_a_failover() {
        let c = RefusalCause::duplicate_users_key(7);
        assert_eq!(c.cause, DUP);
        let report = |causes| RefusalsReport { failover_done_ms: Some(5240.0), done_by: None, refused: 412, causes, store: String::new() };
        let r = Results { refused_after_failover: Some(report(vec![c.clone()])), ..Default::default() };
        let f = refusal_facts(&r);
        assert_eq!((f[0].label.as_str(), f[0].text.as_str(), f.len()), (LABEL, "412 after the failover (done t=5240.0 ms), by cause:", 2));
        assert_eq!(f[1].text, format!("412 × {DUP} … (t=5301.2 to 9800.0 ms, on pg-dr-1)"));
        let r = Results { refused_after_failover: Some(report(vec![c; 7])), ..Default::default() };
        assert_eq!(refusal_facts(&r)[6].text, "… and 824 more writes of 2 more causes (results.json)");
        let r = Results { refused_after_failover: Some(report(Vec::new())), ..Default::default() };
        assert_eq!(refusal_facts(&r)[0].text, "none after the failover (done t=5240.0 ms)");
        let r = Results { refused_after_failover: Some(RefusalsReport::default()), ..Default::default() };
        assert!(refusal_facts(&r).is_empty(), "no failover, nothing to say");
    }
}
