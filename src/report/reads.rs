//! The read path every report shows (`workload.readers`): a caption, the facts (read
//! RTO, availability, each node that stopped answering, reads of lost writes, reads back
//! in time) and a table by phase (reads, latency, staleness), computed once here; the
//! terminal, report.md and report.html only lay them out.
use super::Results;
use super::format::{Fact, Grid, fact, ms};
use crate::checker::{ReadsReport, back_text, lost_text, read_rto_text};

/// The section: its caption, facts and phase table; None without readers.
pub fn reads_section(r: &Results) -> Option<(String, Vec<Fact>, Grid)> {
    let x = r.reads.as_ref()?;
    let what = if x.key_reads > 0 {
        format!("one writer's newest record, or ({} of them) one shared key's value", x.key_reads)
    } else {
        "one writer's newest record".to_string()
    };
    let caption = format!(
        "Reads: {} readers from {}, each read asking a node for {what}; staleness: how long the oldest acknowledged write a read did not show had been acknowledged when it was invoked",
        x.readers, x.from
    );
    Some((caption, facts(x), grid(x)))
}

fn facts(x: &ReadsReport) -> Vec<Fact> {
    let mut out = vec![fact("read RTO", read_rto_text(x))];
    out.push(fact("reads", format!("{} total: {} ok, {} fail, {} unknown", x.total, x.ok, x.fail, x.unknown)));
    if let Some(rto) = &x.rto {
        out.push(fact("longest read gap", format!("{:.1} ms (from t={:.1} ms)", rto.longest_gap_ms, rto.longest_gap_start_ms)));
    }
    for n in x.nodes.iter().filter(|n| n.failed_from_ms.is_some()) {
        let (from, to) = (n.failed_from_ms.unwrap_or(0.0), n.failed_to_ms.unwrap_or(0.0));
        let back = n.back_at_ms.map_or(", never back".into(), |t| format!(", back at t={t:.1} ms"));
        let text =
            format!("{}: {} ok, {} fail, {} unknown; reads failed from t={from:.1} to t={to:.1} ms{back}", n.node, n.ok, n.fail, n.unknown);
        out.push(fact("stopped answering", text));
    }
    let s = &x.staleness;
    let stale = format!(
        "p50 {} ms, p99 {} ms, max {} ms; at most {} acknowledged writes not shown; {} of {} reads showed every acknowledged write",
        ms(s.p50_ms),
        ms(s.p99_ms),
        ms(s.max_ms),
        s.max_writes,
        s.fresh,
        s.reads
    );
    out.push(fact("staleness", stale));
    out.push(fact("reads of lost writes", lost_text(x)));
    out.extend(x.of_lost_writes.iter().flat_map(|l| &l.first).map(|l| {
        fact("read of a lost write", format!("t={:.1} ms reader {} on {}: writer {} seq {}", l.at_ms, l.reader, l.node, l.writer, l.seq))
    }));
    out.push(fact("reads back in time", back_text(x)));
    out.extend(x.back_in_time.first.iter().map(|b| {
        let text = format!(
            "t={:.1} ms reader {}, writer {}: seq {} on {} after seq {} on {}",
            b.at_ms, b.reader, b.writer, b.after_seq, b.after_node, b.before_seq, b.before_node
        );
        fact("went back in time", text)
    }));
    out
}

fn grid(x: &ReadsReport) -> Grid {
    let header =
        ["phase", "ok reads", "latency p50 ms", "latency p99 ms", "stale p50 ms", "stale p99 ms", "stale max ms", "most writes not shown"];
    let rows = x
        .staleness_by_phase
        .iter()
        .map(|p| {
            let l = x.latency.iter().find(|l| l.phase == p.phase);
            let s = &p.stats;
            vec![
                p.phase.to_string(),
                l.map_or(0, |l| l.ok_ops).to_string(),
                ms(l.and_then(|l| l.p50_ms)),
                ms(l.and_then(|l| l.p99_ms)),
                ms(s.p50_ms),
                ms(s.p99_ms),
                ms(s.max_ms),
                s.max_writes.to_string(),
            ]
        })
        .collect();
    Grid { header: header.iter().map(|h| h.to_string()).collect(), rows }
}
