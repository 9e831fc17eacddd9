//! The timeline picture (SVG, drawn with plotters): writes per 100 ms bucket of invoke
//! time stacked by outcome, write latency (p50 and max of the acknowledged writes) on the
//! right axis, a vertical marker per fault, heal and failover step, the RTO window shaded
//! from where RTO counts to the recovery point, and the phases as bands along the top.
//! Colours are fixed so that a reader (and a test) can tell the elements apart.
use super::Results;
use crate::history::{EventKind, Outcome, read_history};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const BUCKET_NS: u64 = 100_000_000;
/// Latency samples kept per bucket (the max is exact whatever the count).
const SAMPLES: usize = 2000;

pub const OK: RGBColor = RGBColor(44, 160, 44);
pub const FAIL: RGBColor = RGBColor(214, 39, 40);
pub const UNKNOWN: RGBColor = RGBColor(255, 127, 14);
/// Markers: faults, heals, failover and orchestrator steps.
pub const FAULT: RGBColor = RGBColor(148, 0, 0);
pub const HEAL: RGBColor = RGBColor(0, 110, 60);
pub const STEP: RGBColor = RGBColor(90, 40, 160);
pub const RTO: RGBColor = RGBColor(255, 170, 170);

#[derive(Default)]
struct Bucket {
    ok: u32,
    fail: u32,
    unknown: u32,
    lat_ms: Vec<f32>,
    max_ms: f32,
}

/// The marker colour of an event kind, if it gets a marker.
fn colour_of(kind: EventKind) -> Option<RGBColor> {
    match kind {
        EventKind::FaultInject | EventKind::FaultFailed => Some(FAULT),
        EventKind::FaultHeal => Some(HEAL),
        EventKind::FailoverStart
        | EventKind::FailoverPromote
        | EventKind::FailoverDone
        | EventKind::FailoverFailed
        | EventKind::Rejoin
        | EventKind::OrchestratorDetected
        | EventKind::OrchestratorPromoted
        | EventKind::OrchestratorMoved => Some(STEP),
        _ => None,
    }
}

pub fn is_marker(kind: EventKind) -> bool {
    colour_of(kind).is_some()
}

/// One marker: drill time (s), colour, label.
fn markers(r: &Results) -> Vec<(f64, RGBColor, String)> {
    r.events
        .iter()
        .filter_map(|e| {
            let colour = colour_of(e.kind)?;
            let what = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let node = e.node.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
            Some((e.t_ns as f64 / 1e9, colour, format!("{what}{node}")))
        })
        .collect()
}

/// The phases to draw as bands: the orchestrator's when observed, else the latency phases.
fn bands(r: &Results) -> Vec<(f64, f64, String)> {
    if let Some(p) = &r.phases {
        let spans = [
            ("detection", p.fault_ms, p.detected_ms),
            ("promotion", p.detected_ms, p.promoted_ms),
            ("reroute", p.promoted_ms, p.rerouted_ms),
        ];
        let v: Vec<(f64, f64, String)> =
            spans.iter().filter_map(|(n, a, b)| Some(((*a)? / 1e3, (*b)? / 1e3, n.to_string()))).filter(|(a, b, _)| b > a).collect();
        if !v.is_empty() {
            return v;
        }
    }
    r.latency.iter().map(|l| (l.from_ms / 1e3, l.to_ms / 1e3, l.phase.to_string())).collect()
}

fn read_buckets(history: &Path) -> std::io::Result<BTreeMap<u64, Bucket>> {
    let mut b: BTreeMap<u64, Bucket> = BTreeMap::new();
    read_history(history, |op| {
        let e = b.entry(op.invoke_ns / BUCKET_NS).or_default();
        match op.outcome {
            Outcome::Ok => {
                e.ok += 1;
                let ms = op.complete_ns.saturating_sub(op.invoke_ns) as f32 / 1e6;
                e.max_ms = e.max_ms.max(ms);
                if e.lat_ms.len() < SAMPLES {
                    e.lat_ms.push(ms);
                }
            }
            Outcome::Fail => e.fail += 1,
            Outcome::Unknown => e.unknown += 1,
        }
    })?;
    Ok(b)
}

fn p50(v: &mut [f32]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(f64::from(v[v.len() / 2]))
}

/// The SVG text of the timeline.
pub fn timeline_svg(r: &Results, history: &Path) -> Result<String, String> {
    let mut buckets = read_buckets(history).map_err(|e| format!("failed to read {}: {e}", history.display()))?;
    let end_s = buckets.keys().next_back().map(|k| (k + 1) as f64 * 0.1).unwrap_or(1.0).max(1.0);
    let max_ops = buckets.values().map(|b| b.ok + b.fail + b.unknown).max().unwrap_or(1).max(1) as f64 * 1.25;
    let max_lat = buckets.values().map(|b| f64::from(b.max_ms)).fold(1.0, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{}: writes per 100 ms by outcome, latency, faults and failover", r.scenario), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..end_s, 0f64..max_ops)
            .map_err(|e| e.to_string())?
            .set_secondary_coord(0f64..end_s, 0f64..max_lat);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("drill time (s, by invoke time)")
            .y_desc("writes per 100 ms")
            .draw()
            .map_err(|e| e.to_string())?;
        chart.configure_secondary_axes().y_desc("latency of acknowledged writes (ms)").draw().map_err(|e| e.to_string())?;
        // the RTO window, under everything else
        // never recovered: the window runs to the end of the history
        let to = r.recovered_at_ms.map(|t| t / 1e3).or(r.rto_ms.is_none().then_some(end_s));
        if let Some(to) = to.filter(|_| r.outage_observed) {
            let shade = Rectangle::new([(r.rto_from_ms / 1e3, 0.0), (to, max_ops)], RTO.mix(0.45).filled());
            chart
                .draw_series(std::iter::once(shade))
                .map_err(|e| e.to_string())?
                .label("RTO window")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], RTO.filled()));
        }
        let bars = buckets.iter().flat_map(|(k, b)| {
            let x0 = *k as f64 * 0.1;
            let x1 = x0 + 0.09;
            let (ok, fail) = (f64::from(b.ok), f64::from(b.fail));
            [
                (b.ok > 0).then(|| Rectangle::new([(x0, 0.0), (x1, ok)], OK.filled())),
                (b.fail > 0).then(|| Rectangle::new([(x0, ok), (x1, ok + fail)], FAIL.filled())),
                (b.unknown > 0).then(|| Rectangle::new([(x0, ok + fail), (x1, ok + fail + f64::from(b.unknown))], UNKNOWN.filled())),
            ]
        });
        chart.draw_series(bars.flatten()).map_err(|e| e.to_string())?;
        for (label, colour) in [("ok", OK), ("fail", FAIL), ("unknown", UNKNOWN)] {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        // latency lines break where a bucket acknowledged nothing (no line across an outage)
        let lat: Vec<(u64, f64, f64)> =
            buckets.iter_mut().filter_map(|(k, b)| Some((*k, p50(&mut b.lat_ms)?, f64::from(b.max_ms)))).collect();
        let runs = contiguous(&lat);
        for (i, run) in runs.iter().enumerate() {
            let at = |k: u64| k as f64 * 0.1 + 0.05;
            let p50s = LineSeries::new(run.iter().map(|(k, p, _)| (at(*k), *p)), BLUE.stroke_width(2));
            let maxes = LineSeries::new(run.iter().map(|(k, _, m)| (at(*k), *m)), BLACK.mix(0.5).stroke_width(1));
            let a = chart.draw_secondary_series(p50s).map_err(|e| e.to_string())?;
            if i == 0 {
                a.label("latency p50").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLUE.stroke_width(2)));
            }
            let b = chart.draw_secondary_series(maxes).map_err(|e| e.to_string())?;
            if i == 0 {
                b.label("latency max").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.mix(0.5)));
            }
        }
        // phases as bands along the top
        let palette = [RGBColor(200, 220, 255), RGBColor(220, 200, 255), RGBColor(200, 240, 220), RGBColor(240, 230, 200)];
        for (i, (a, b, name)) in bands(r).into_iter().enumerate() {
            let band = Rectangle::new([(a, max_ops * 0.93), (b, max_ops)], palette[i % palette.len()].filled());
            chart.draw_series(std::iter::once(band)).map_err(|e| e.to_string())?;
            let text = Text::new(name, (a, max_ops * 0.985), ("sans-serif", 11).into_font().color(&BLACK));
            chart.draw_series(std::iter::once(text)).map_err(|e| e.to_string())?;
        }
        // one marker per fault, heal and failover step, labelled
        for (i, (t, colour, label)) in markers(r).into_iter().enumerate() {
            let line = PathElement::new(vec![(t, 0.0), (t, max_ops * 0.93)], colour.stroke_width(2));
            chart.draw_series(std::iter::once(line)).map_err(|e| e.to_string())?;
            let y = max_ops * (0.88 - 0.05 * (i % 5) as f64);
            let text = Text::new(label, (t, y), ("sans-serif", 11).into_font().color(&colour));
            chart.draw_series(std::iter::once(text)).map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Runs of consecutive buckets.
fn contiguous(v: &[(u64, f64, f64)]) -> Vec<Vec<(u64, f64, f64)>> {
    let mut out: Vec<Vec<(u64, f64, f64)>> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| l.0 + 1 == x.0) => run.push(*x),
            _ => out.push(vec![*x]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn latency_lines_break_at_buckets_without_acknowledgements() {
        let v = [(1, 1.0, 2.0), (2, 1.0, 2.0), (5, 1.0, 2.0), (6, 1.0, 2.0), (9, 1.0, 2.0)];
        let runs: Vec<Vec<u64>> = super::contiguous(&v).iter().map(|r| r.iter().map(|x| x.0).collect()).collect();
        assert_eq!(runs, vec![vec![1, 2], vec![5, 6], vec![9]]);
    }
}
