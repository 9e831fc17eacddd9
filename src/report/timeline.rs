//! The timeline picture (SVG, drawn with plotters): writes per 100 ms bucket of invoke
//! time stacked by outcome, write latency (p50 and max of the acknowledged writes) on the
//! right axis, a vertical marker per fault, heal and failover step (labelled in rows where
//! no two labels overlap, see `labels`), the RTO window shaded from where RTO counts to the
//! recovery point, and the phases as bands along the top.
//! Colours are fixed so that a reader (and a test) can tell the elements apart.
use super::Results;
use super::buckets::{contiguous, p50};
use super::labels::{self, Corner, PAD_PX, ROW_PX, Span};
use crate::checker::{BUCKET_NS, Bucket, write_buckets};
use crate::history::EventKind;
use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::Path;

use super::palette::{FAIL, FAULT, HEAL, OK, RTO, STEP, UNKNOWN};

/// The picture's width and least height; it grows when the labels need more rows than fit
/// beside the legend.
const WIDTH_PX: u32 = 1200;
const HEIGHT_PX: u32 = 520;
/// The plot in a picture of HEIGHT_PX: less the margins (12 each side), the axes' label
/// areas (60 left, 70 right, 40 below) and the caption.
const PLOT_W_PX: f64 = 1046.0;
const PLOT_H_PX: f64 = 431.0;
/// The phase bands along the top of the plot; the labels' rows start below them.
const BAND_PX: f64 = 20.0;
const LABELS_TOP_PX: f64 = BAND_PX + 4.0;
/// The legend's box, in the plot's upper right corner (six entries).
const LEGEND_W_PX: f64 = 120.0;
const LEGEND_H_PX: f64 = 112.0;
/// Alerts firing and paging (`monitoring`).
const ALERT: RGBColor = RGBColor(0, 90, 200);
/// Rows of labels at most. Labels that find no room there are left out, with a note
/// (the table under the picture lists every step); every marker's line is drawn.
const MAX_ROWS: usize = 40;

/// The marker colour of an event kind, if it gets a marker.
fn colour_of(kind: EventKind) -> Option<RGBColor> {
    match kind {
        EventKind::FaultInject | EventKind::FaultFailed | EventKind::ReplicationStopped => Some(FAULT),
        EventKind::FaultHeal => Some(HEAL),
        EventKind::FailoverStart
        | EventKind::FailoverPromote
        | EventKind::FailoverDone
        | EventKind::FailoverFailed
        | EventKind::Rejoin
        | EventKind::RestoreNode
        | EventKind::RestoreFetched
        | EventKind::RestoreStarted
        | EventKind::OrchestratorDetected
        | EventKind::OrchestratorPromoted
        | EventKind::OrchestratorMoved => Some(STEP),
        _ => None,
    }
}

pub fn is_marker(kind: EventKind) -> bool {
    colour_of(kind).is_some()
}

/// A marker's label where it is drawn: the top row is 0.
struct Placed {
    t_s: f64,
    colour: RGBColor,
    label: String,
    /// In pixels of a plot PLOT_W_PX wide.
    span: Span,
    row: usize,
}

/// Every marker with its label's row (see `labels`); a note in the row under the last when
/// some labels found no room; the height the rows take, from the top of the plot.
struct Layout {
    placed: Vec<Placed>,
    note: Option<Placed>,
    height_px: f64,
}

fn place_labels(r: &Results, end_s: f64) -> Layout {
    let m = markers(r);
    let spans: Vec<Span> = m.iter().map(|(t, _, l)| labels::span(t / end_s * PLOT_W_PX, l, PLOT_W_PX)).collect();
    let corner = Corner { from_px: PLOT_W_PX - LEGEND_W_PX, rows: ((LEGEND_H_PX - LABELS_TOP_PX) / ROW_PX).ceil() as usize };
    let rows = labels::rows(&spans, corner);
    let placed: Vec<Placed> = m
        .into_iter()
        .zip(spans.into_iter().zip(rows))
        .map(|((t_s, colour, label), (span, row))| Placed { t_s, colour, label, span, row })
        .collect();
    let left_out: Vec<&Placed> = placed.iter().filter(|p| p.row >= MAX_ROWS).collect();
    let note = left_out.first().map(|first| {
        let label = format!("+{} more labels here: the table under the picture lists every step", left_out.len());
        let span = labels::span(first.t_s / end_s * PLOT_W_PX, &label, PLOT_W_PX);
        Placed { t_s: first.t_s, colour: BLACK, label, span, row: MAX_ROWS }
    });
    let used = placed.iter().map(|p| p.row + 1).max().unwrap_or(0).min(MAX_ROWS + 1);
    Layout { placed, note, height_px: LABELS_TOP_PX + used as f64 * ROW_PX }
}

/// One marker: drill time (s), colour, label; the alerts' firing and paging after the
/// drill's steps.
fn markers(r: &Results) -> Vec<(f64, RGBColor, String)> {
    let mut m: Vec<(f64, RGBColor, String)> = r
        .events
        .iter()
        .filter_map(|e| {
            let colour = colour_of(e.kind)?;
            let what = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let node = e.node.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
            Some((e.t_ns as f64 / 1e9, colour, format!("{what}{node}")))
        })
        .collect();
    for a in r.alerts.iter().flat_map(|a| &a.rules) {
        let at = [(a.firing_ms, "alert firing"), (a.notified_ms, "alert paged")];
        m.extend(at.into_iter().filter_map(|(t, what)| Some((t? / 1e3, ALERT, format!("{what} {}", a.alert)))).filter(|(t, ..)| *t >= 0.0));
    }
    m
}

/// The phases to draw as bands (s): the RTO table's phases when observed (DNS and TTL
/// included, the steps beside them left out), else the latency phases.
fn bands(r: &Results) -> Vec<(f64, f64, String)> {
    if let Some(p) = &r.phases {
        let v: Vec<(f64, f64, String)> = super::phases::phase_rows(p)
            .into_iter()
            .filter(|row| !row.beside())
            .filter_map(|row| Some((row.from_ms? / 1e3, row.to_ms? / 1e3, row.phase.to_string())))
            .filter(|(a, b, _)| b > a)
            .collect();
        if !v.is_empty() {
            return v;
        }
    }
    r.latency.iter().map(|l| (l.from_ms / 1e3, l.to_ms / 1e3, l.phase.to_string())).collect()
}

/// Each band's label where it fits inside its band, else none (the table under the
/// picture names every phase): labels never cross a neighbour's.
fn band_labels(bands: &[(f64, f64, String)], end_s: f64) -> Vec<Option<String>> {
    bands
        .iter()
        .map(|(a, b, name)| {
            let width_px = (b - a) / end_s * PLOT_W_PX;
            (labels::text_px(name) + 2.0 * PAD_PX <= width_px).then(|| name.clone())
        })
        .collect()
}

/// Each service's timeline (one: the drill's), in the order of `Results::each_service`;
/// the timelines of several services share one time axis.
pub fn timelines(r: &Results, history: &Path) -> Vec<String> {
    let failed = |e: String| {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">no timeline: {e}</text></svg>"
        )
    };
    if !r.several() {
        return vec![timeline_svg(r, history, None, None).unwrap_or_else(failed)];
    }
    let end_s = r.events.iter().map(|e| e.t_ns).max().map_or(1.0, |t| (t / BUCKET_NS + 1) as f64 * 0.1).max(1.0);
    r.services
        .keys()
        .map(|name| {
            let view = r.service_view(name).expect("a service of the drill");
            let view = Results { scenario: format!("{}/{name}", r.scenario), ..view };
            timeline_svg(&view, history, Some(name), Some(end_s)).unwrap_or_else(failed)
        })
        .collect()
}

/// The SVG text of the timeline of `service`'s writes (None: every write), to `end_s`
/// (None: the last write).
pub fn timeline_svg(r: &Results, history: &Path, service: Option<&str>, end_s: Option<f64>) -> Result<String, String> {
    let mut buckets = write_buckets(history, service).map_err(|e| format!("failed to read {}: {e}", history.display()))?;
    let last_s = buckets.keys().next_back().map(|k| (k + 1) as f64 * 0.1).unwrap_or(1.0).max(1.0);
    let end_s = end_s.map_or(last_s, |e| e.max(last_s));
    let layout = place_labels(r, end_s);
    let scale = Scale::of(&buckets, layout.height_px);
    let mut svg = String::new();
    {
        let height_px = HEIGHT_PX + scale.extra_px as u32;
        let (sites_px, reads_px) = (super::site_gaps::height_px(r), super::read_lane::height_px(r));
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, height_px + sites_px + reads_px)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        // a multi-active service's sites in a strip below, then the readers' lane, on the
        // same time axis
        let (main, below) = root.split_vertically(height_px);
        let (strip, lane) = below.split_vertically(sites_px);
        super::site_gaps::draw(&strip, r, end_s)?;
        super::read_lane::draw(&lane, r, history, service, end_s)?;
        let mut chart = axes(&main, r, end_s, &scale)?;
        draw_rto_window(&mut chart, r, end_s, scale.max_ops)?;
        draw_bars(&mut chart, &buckets)?;
        draw_latency(&mut chart, &mut buckets)?;
        draw_bands_and_markers(&mut chart, r, &layout, end_s, scale.max_ops)?;
        draw_legend(&mut chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The picture's vertical scales: the height it grows by for the labels' rows, the top
/// of the writes axis, and the top of the latency axis.
struct Scale {
    extra_px: f64,
    max_ops: f64,
    max_lat: f64,
}

impl Scale {
    /// Scales where the tallest bar (and 5 % headroom) fits below the labels (`labels_px`
    /// from the top) and the legend, and the slowest write below the top.
    fn of(buckets: &BTreeMap<u64, Bucket>, labels_px: f64) -> Scale {
        // the picture grows by the rows the legend's height does not cover
        let extra_px = (labels_px - LEGEND_H_PX).max(0.0);
        let plot_h = PLOT_H_PX + extra_px;
        let bars_px = plot_h - labels_px.max(LEGEND_H_PX) - 6.0;
        let most = buckets.values().map(|b| b.ok + b.fail + b.unknown).max().unwrap_or(1).max(1) as f64;
        let max_ops = most * 1.05 * plot_h / bars_px;
        let max_lat = buckets.values().map(|b| f64::from(b.max_ms)).fold(1.0, f64::max) * 1.1;
        Scale { extra_px, max_ops, max_lat }
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// The chart with latency on its secondary (right) axis.
type DualChart<'a, 'b> =
    DualCoordChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The caption, the axes and their descriptions: drill time below, writes per 100 ms on
/// the left, latency on the right.
fn axes<'a, 'b>(root: &'a DrawingArea<SVGBackend<'b>, Shift>, r: &Results, end_s: f64, scale: &Scale) -> Result<DualChart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{}: writes per 100 ms by outcome, latency, faults and failover", r.scenario), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..end_s, 0f64..scale.max_ops)
        .map_err(|e| e.to_string())?
        .set_secondary_coord(0f64..end_s, 0f64..scale.max_lat);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("drill time (s, by invoke time)")
        .y_desc("writes per 100 ms")
        .draw()
        .map_err(|e| e.to_string())?;
    chart.configure_secondary_axes().y_desc("latency of acknowledged writes (ms)").draw().map_err(|e| e.to_string())?;
    Ok(chart)
}

/// The RTO window, shaded under everything else from where RTO counts to the recovery
/// point (never recovered: to the end); none when no outage was observed.
fn draw_rto_window(chart: &mut Chart, r: &Results, end_s: f64, max_ops: f64) -> Result<(), String> {
    let to = r.recovered_at_ms.map(|t| t / 1e3).or(r.rto_ms.is_none().then_some(end_s));
    if let Some(to) = to.filter(|_| r.outage_observed) {
        let shade = Rectangle::new([(r.rto_from_ms / 1e3, 0.0), (to, max_ops)], RTO.mix(0.45).filled());
        chart
            .draw_series(std::iter::once(shade))
            .map_err(|e| e.to_string())?
            .label("RTO window")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], RTO.filled()));
    }
    Ok(())
}

/// A bar per 100 ms bucket, stacked ok, fail, unknown; and their legend entries.
fn draw_bars(chart: &mut Chart, buckets: &BTreeMap<u64, Bucket>) -> Result<(), String> {
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
    Ok(())
}

/// The latency lines (p50 and max per bucket) on the right axis; they break where a
/// bucket acknowledged nothing (no line across an outage).
fn draw_latency(chart: &mut DualChart, buckets: &mut BTreeMap<u64, Bucket>) -> Result<(), String> {
    let lat: Vec<(u64, f64, f64)> = buckets.iter_mut().filter_map(|(k, b)| Some((*k, p50(&mut b.lat_ms)?, f64::from(b.max_ms)))).collect();
    for (i, run) in contiguous(&lat).iter().enumerate() {
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
    Ok(())
}

/// The legend's box in the upper right corner, on a pale ground.
fn draw_legend<'a, 'b: 'a>(chart: &mut DualChart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| e.to_string())
}

/// The phases as bands along the top; a vertical line per fault, heal and failover step,
/// each labelled in its row below the bands.
fn draw_bands_and_markers(chart: &mut Chart, r: &Results, layout: &Layout, end_s: f64, max_ops: f64) -> Result<(), String> {
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let (x_per_px, y_per_px) = (end_s / f64::from(w.max(1)), max_ops / f64::from(h.max(1)));
    let band_bottom = max_ops - BAND_PX * y_per_px;
    let palette = [RGBColor(200, 220, 255), RGBColor(220, 200, 255), RGBColor(200, 240, 220), RGBColor(240, 230, 200)];
    let bands = bands(r);
    for (i, ((a, b, _), label)) in bands.iter().zip(band_labels(&bands, end_s)).enumerate() {
        let band = Rectangle::new([(*a, band_bottom), (*b, max_ops)], palette[i % palette.len()].filled());
        chart.draw_series(std::iter::once(band)).map_err(|e| e.to_string())?;
        if let Some(name) = label {
            let at = (a + PAD_PX * x_per_px, max_ops - 4.0 * y_per_px);
            let text = Text::new(name, at, ("sans-serif", 11).into_font().color(&BLACK));
            chart.draw_series(std::iter::once(text)).map_err(|e| e.to_string())?;
        }
    }
    for p in &layout.placed {
        let line = PathElement::new(vec![(p.t_s, 0.0), (p.t_s, band_bottom)], p.colour.stroke_width(2));
        chart.draw_series(std::iter::once(line)).map_err(|e| e.to_string())?;
    }
    // each label on a pale ground, so that the lines of the next steps do not cross its text
    let s_at = |px: f64| px * end_s / PLOT_W_PX;
    for p in layout.placed.iter().filter(|p| p.row < MAX_ROWS).chain(&layout.note) {
        let row_top = max_ops - (LABELS_TOP_PX + p.row as f64 * ROW_PX) * y_per_px;
        let (from, to) = (s_at(p.span.from_px + 1.5), s_at(p.span.to_px - 1.5));
        let ground = Rectangle::new([(from, row_top), (to, row_top - (ROW_PX - 1.0) * y_per_px)], WHITE.mix(0.8).filled());
        chart.draw_series(std::iter::once(ground)).map_err(|e| e.to_string())?;
        let (dx, side) = if p.span.leftwards { (-PAD_PX, HPos::Right) } else { (PAD_PX, HPos::Left) };
        let at = (p.t_s + dx * x_per_px, row_top - y_per_px);
        let style = ("sans-serif", 11).into_font().color(&p.colour).pos(Pos::new(side, VPos::Top));
        chart.draw_series(std::iter::once(Text::new(p.label.clone(), at, style))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn the_bands_are_the_tables_phases_and_a_label_wider_than_its_band_is_left_out() {
        let mut r = crate::report::tests_support::results();
        r.phases = Some(crate::checker::Phases {
            fault_ms: Some(1000.0),
            detected_ms: Some(9000.0),
            promoted_ms: Some(9000.0),
            dns_moved_ms: Some(9001.0),
            first_cache_expired_ms: Some(49_000.0),
            caches_expired_ms: Some(49_500.0),
            rerouted_ms: Some(49_010.0),
            recovered_ms: Some(49_010.0),
            ..Default::default()
        });
        let bands = super::bands(&r);
        let names: Vec<&str> = bands.iter().map(|b| b.2.as_str()).collect();
        // the 0-ms promotion is no band; the TTL wait is one of its own, not "reroute"
        assert_eq!(names, ["detection", "DNS updated", "waiting for the DNS TTL", "reroute"]);
        let labels = super::band_labels(&bands, 60.0);
        assert_eq!(labels, [Some("detection".to_string()), None, Some("waiting for the DNS TTL".to_string()), None]);
    }

    #[test]
    fn latency_lines_break_at_buckets_without_acknowledgements() {
        let v = [(1, 1.0, 2.0), (2, 1.0, 2.0), (5, 1.0, 2.0), (6, 1.0, 2.0), (9, 1.0, 2.0)];
        let runs: Vec<Vec<u64>> = super::contiguous(&v).iter().map(|r| r.iter().map(|x| x.0).collect()).collect();
        assert_eq!(runs, vec![vec![1, 2], vec![5, 6], vec![9]]);
    }

    #[test]
    fn every_marker_is_kept_and_labels_past_the_last_row_leave_a_note() {
        let mut r = crate::report::tests_support::results();
        let step = r.events[0].clone();
        r.events = (0..50u64)
            .map(|i| crate::history::Event { t_ns: 2_000_000_000 + i * 1_000_000, kind: EventKind::FailoverPromote, ..step.clone() })
            .collect();
        let l = super::place_labels(&r, 10.0);
        assert_eq!(l.placed.len(), 50, "one marker per step");
        let rows: Vec<usize> = l.placed.iter().map(|p| p.row).collect();
        assert_eq!(rows, (0..50).collect::<Vec<_>>(), "steps 1 ms apart: one row each");
        let note = l.note.expect("a note for the labels left out");
        assert!(note.label.starts_with("+10 more labels") && note.row == super::MAX_ROWS, "{}", note.label);
        assert_eq!(l.height_px, super::LABELS_TOP_PX + (super::MAX_ROWS + 1) as f64 * super::ROW_PX);
    }
}
