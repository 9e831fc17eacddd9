//! The readers' lane under the timeline (`workload.readers`), on the timeline's own time
//! axis (the same margins and label areas): reads per 100 ms of invoke time stacked by
//! outcome (left axis), and the staleness of the successful ones, the largest per 100 ms,
//! as a line on the right axis (ms).
use super::Results;
use super::buckets::contiguous;
use super::palette::{FAIL, OK, UNKNOWN};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const LANE_PX: u32 = 190;
const STALE: RGBColor = RGBColor(31, 119, 180);

/// The height the lane adds under the timeline: none without reads.
pub fn height_px(r: &Results) -> u32 {
    if r.reads.as_ref().is_some_and(|x| x.total > 0) { LANE_PX } else { 0 }
}

/// Draws the lane on `area` (the timeline's width, `height_px` high), to `end_s`.
pub fn draw(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    r: &Results,
    history: &Path,
    service: Option<&str>,
    end_s: f64,
) -> Result<(), String> {
    if height_px(r) == 0 {
        return Ok(());
    }
    let parts =
        r.shards.as_ref().map(|s| crate::checker::shard_parts(s.shards.iter().map(|x| (&x.primary, &x.replicas)))).unwrap_or_default();
    let lanes = crate::checker::read_buckets(history, service, parts).map_err(|e| format!("failed to read {}: {e}", history.display()))?;
    let most = lanes.values().map(|b| b.ok + b.fail + b.unknown).max().unwrap_or(1).max(1) as f64 * 1.1;
    let stalest = lanes.values().filter_map(|b| b.stale_ms).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "reads per 100 ms by outcome; staleness of the successful reads, largest per 100 ms (blue, right axis)",
            ("sans-serif", 13),
        )
        .margin_left(12)
        .margin_right(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..end_s, 0f64..most)
        .map_err(|e| e.to_string())?
        .set_secondary_coord(0f64..end_s, 0f64..stalest);
    chart.configure_mesh().disable_x_mesh().disable_y_mesh().y_desc("reads").draw().map_err(|e| e.to_string())?;
    chart.configure_secondary_axes().y_desc("stale ms").draw().map_err(|e| e.to_string())?;
    let bars = lanes.iter().flat_map(|(k, b)| {
        let (x0, x1) = (*k as f64 * 0.1, *k as f64 * 0.1 + 0.09);
        let (ok, fail) = (f64::from(b.ok), f64::from(b.fail));
        [
            (b.ok > 0).then(|| Rectangle::new([(x0, 0.0), (x1, ok)], OK.filled())),
            (b.fail > 0).then(|| Rectangle::new([(x0, ok), (x1, ok + fail)], FAIL.filled())),
            (b.unknown > 0).then(|| Rectangle::new([(x0, ok + fail), (x1, ok + fail + f64::from(b.unknown))], UNKNOWN.filled())),
        ]
    });
    chart.draw_series(bars.flatten()).map_err(|e| e.to_string())?;
    let points: Vec<(u64, f64, f64)> = lanes.iter().filter_map(|(k, b)| Some((*k, b.stale_ms?, 0.0))).collect();
    for run in contiguous(&points) {
        let line = LineSeries::new(run.iter().map(|(k, s, _)| (*k as f64 * 0.1 + 0.05, *s)), STALE.stroke_width(2));
        chart.draw_secondary_series(line).map_err(|e| e.to_string())?;
    }
    Ok(())
}
