//! The key space over time, for a service with one primary per shard (Redis Cluster): the
//! share of the slots whose shard took writes, per 100 ms of invoke time, as a step line
//! under a filled area, the windows in which no shard took a write shaded, and a marker per
//! fault and promotion. Drawn below the service's timeline in report.html, on the same
//! width and margins so that the two read against each other.
use super::Results;
use super::palette::{FAIL, FAULT, OK, STEP};
use crate::checker::ShardsReport;
use crate::history::{Event, EventKind};
use plotters::prelude::*;

const WIDTH_PX: u32 = 1200;
const HEIGHT_PX: u32 = 230;

/// The picture of the service `name` (in a drill of one service, its stack's name), with
/// the drill's `events` that concern it as markers: its SVG text; None when the service has
/// no shards. (A drill of several keeps its events at the top level, not in each service's
/// results.)
pub fn keyspace_svg(name: &str, sr: &Results, events: &[&Event]) -> Option<Result<String, String>> {
    let s = sr.shards.as_ref()?;
    let last = |x: &[f64; 2]| x[0].max(x[1]);
    let end_ms = events
        .iter()
        .map(|e| e.t_ns as f64 / 1e6)
        .chain(s.writable.iter().map(|w| w[0] + s.bucket_ms as f64))
        .chain(s.whole_down.iter().map(last))
        .fold(1000.0, f64::max);
    Some(draw(&title(name, s), s, events, end_ms / 1e3))
}

/// `cache: share of the key space taking writes (per 100 ms)`.
fn title(name: &str, s: &ShardsReport) -> String {
    format!("{name}: share of the key space taking writes (per {} ms)", s.bucket_ms)
}

/// `(t_s, share)` points of a step line: each change held until the next, the last to the end.
fn steps(writable: &[[f64; 2]], end_s: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, w) in writable.iter().enumerate() {
        let (t, share) = (w[0] / 1e3, w[1] * 100.0);
        if i > 0 {
            out.push((t, out.last().map_or(share, |p: &(f64, f64)| p.1)));
        }
        out.push((t, share));
    }
    if let Some(&(_, share)) = out.last() {
        out.push((end_s, share));
    }
    out
}

fn draw(title: &str, s: &ShardsReport, events: &[&Event], end_s: f64) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..end_s, 0f64..105f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("drill time (s, by invoke time)")
            .y_desc("writable %")
            .draw()
            .map_err(|e| e.to_string())?;
        let down = s.whole_down.iter().map(|w| Rectangle::new([(w[0] / 1e3, 0.0), (w[1] / 1e3, 100.0)], FAIL.mix(0.3).filled()));
        chart
            .draw_series(down)
            .map_err(|e| e.to_string())?
            .label("no shard taking writes")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], FAIL.mix(0.3).filled()));
        let line = steps(&s.writable, end_s);
        let fill =
            line.windows(2).filter(|w| w[1].0 > w[0].0).map(|w| Rectangle::new([(w[0].0, 0.0), (w[1].0, w[0].1)], OK.mix(0.25).filled()));
        chart.draw_series(fill).map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(line, OK.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label("writable share")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], OK.mix(0.5).filled()));
        let marks = events.iter().filter_map(|e| {
            let colour = match e.kind {
                EventKind::FaultInject => FAULT,
                EventKind::OrchestratorDetected | EventKind::OrchestratorPromoted => STEP,
                _ => return None,
            };
            let t = e.t_ns as f64 / 1e9;
            Some(PathElement::new(vec![(t, 0.0), (t, 100.0)], colour.stroke_width(2)))
        });
        chart.draw_series(marks).map_err(|e| e.to_string())?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_held_until_it_changes_and_to_the_end() {
        let pts = steps(&[[0.0, 1.0], [5100.0, 0.6667], [11300.0, 0.0]], 20.0);
        let want = [(0.0, 100.0), (5.1, 100.0), (5.1, 66.67), (11.3, 66.67), (11.3, 0.0), (20.0, 0.0)];
        assert_eq!(pts.len(), want.len());
        for (p, w) in pts.iter().zip(want) {
            assert!((p.0 - w.0).abs() < 1e-9 && (p.1 - w.1).abs() < 1e-6, "{pts:?}");
        }
        assert!(steps(&[], 5.0).is_empty());
    }
}
