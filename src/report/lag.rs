//! The replica-lag table every report shows: per replica and phase, drdrill's percentiles
//! beside the engine's own figure sampled over the same span.
use super::Results;
use super::format::ms;
use serde::Serialize;

/// One row, already formatted (ms with one decimal; "-" where there is nothing).
#[derive(Debug, Clone, Serialize, tabled::Tabled)]
pub struct LagLine {
    #[tabled(rename = "replica")]
    pub replica: String,
    #[tabled(rename = "phase")]
    pub phase: String,
    #[tabled(rename = "heartbeats")]
    pub heartbeats: String,
    #[tabled(rename = "p50 ms")]
    pub p50: String,
    #[tabled(rename = "p95 ms")]
    pub p95: String,
    #[tabled(rename = "p99 ms")]
    pub p99: String,
    #[tabled(rename = "max ms")]
    pub max: String,
    #[tabled(rename = "engine p50/p99/max ms")]
    pub engine: String,
    #[tabled(rename = "engine behind (bytes p50/max)")]
    pub behind: String,
}

/// Each replica's whole drill (when the drill had phases), then each phase.
pub fn lag_lines(r: &Results) -> Vec<LagLine> {
    let Some(l) = &r.replica_lag else { return Vec::new() };
    let mut out = Vec::new();
    for rep in &l.replicas {
        let spans = (rep.phases.len() > 1).then_some(&rep.overall).into_iter().chain(&rep.phases);
        for s in spans {
            let e = &s.engine;
            let nulls = if e.nulls > 0 { format!(" ({} of {} null)", e.nulls, e.samples) } else { String::new() };
            let errors = if e.errors > 0 { format!(", {} unanswered", e.errors) } else { String::new() };
            let censored = if s.censored > 0 { format!(" ({} at least)", s.censored) } else { String::new() };
            let behind = match (e.behind_bytes_p50, e.behind_bytes_max) {
                (Some(a), Some(b)) => format!("{a} / {b}"),
                _ => "-".into(),
            };
            out.push(LagLine {
                replica: rep.node.clone(),
                phase: s.phase.map(|p| p.to_string()).unwrap_or_else(|| "all".into()),
                heartbeats: format!("{}{censored}", s.heartbeats),
                p50: ms(s.p50_ms),
                p95: ms(s.p95_ms),
                p99: ms(s.p99_ms),
                max: ms(s.max_ms),
                engine: format!("{} / {} / {}{nulls}{errors}", ms(e.p50_ms), ms(e.p99_ms), ms(e.max_ms)),
                behind,
            });
        }
    }
    out
}

/// What the table measures, in one sentence.
pub fn lag_caption(r: &Results) -> Option<String> {
    let l = r.replica_lag.as_ref()?;
    let res = l.resolution_p50_ms.map(|v| format!("±{v:.1} ms (median; at most ±{} ms)", ms(l.resolution_max_ms))).unwrap_or_default();
    Some(format!(
        "Replica lag: acknowledged heartbeat -> readable on the replica ({} heartbeats every {} ms, {} failed; each replica read every {} ms, resolution {res}); engine: {}, sampled every {} ms",
        l.heartbeats_acked, l.heartbeat_ms, l.heartbeats_failed, l.poll_ms, l.reported_as, l.engine_every_ms
    ))
}
