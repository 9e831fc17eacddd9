//! A multi-active service's sites under its timeline, on the timeline's own time axis (the
//! same margins and label areas, so a second here is a second there): a row per site, its
//! longest time without an acknowledgement drawn as a bar and labelled, the cuts shaded.
use super::Results;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Each site's row, and the caption above the rows.
const ROW_PX: u32 = 22;
const CAPTION_PX: u32 = 30;
/// The longest gap's bar, and the cuts behind it.
const GAP: RGBColor = RGBColor(214, 39, 40);
const CUT: RGBColor = RGBColor(230, 230, 230);

/// The height the strip adds under the timeline: none without sites.
pub fn height_px(r: &Results) -> u32 {
    match r.multi_active.as_ref().map(|m| m.sites.len() as u32) {
        Some(n) if n > 0 => CAPTION_PX + ROW_PX * n,
        _ => 0,
    }
}

/// Draws the strip on `area` (the timeline's width, `height_px` high), to `end_s`.
pub fn draw(area: &DrawingArea<SVGBackend<'_>, Shift>, r: &Results, end_s: f64) -> Result<(), String> {
    let Some(m) = r.multi_active.as_ref().filter(|m| !m.sites.is_empty()) else { return Ok(()) };
    let n = m.sites.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("each site's longest time without an acknowledgement (red), cuts between sites (grey)", ("sans-serif", 13))
        .margin_left(12)
        .margin_right(12)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..end_s, 0f64..n)
        .map_err(|e| e.to_string())?;
    let cuts = m.cuts.iter().map(|c| Rectangle::new([((c.from_ms / 1e3).min(end_s), 0.0), ((c.to_ms / 1e3).min(end_s), n)], CUT.filled()));
    chart.draw_series(cuts).map_err(|e| e.to_string())?;
    let x_per_px = end_s / f64::from(chart.plotting_area().dim_in_pixel().0.max(1));
    for (i, (site, w)) in m.sites.iter().enumerate() {
        let top = n - i as f64;
        let from = (w.longest_from_ms / 1e3).min(end_s);
        let to = ((w.longest_from_ms + w.longest_without_ack_ms) / 1e3).min(end_s);
        let bar = Rectangle::new([(from, top - 0.75), (to, top - 0.25)], GAP.mix(0.8).filled());
        chart.draw_series(std::iter::once(bar)).map_err(|e| e.to_string())?;
        let end = if w.longest_to_end { ", to the end" } else { "" };
        let label = format!("{site}: {:.0} ms without an ack from t={:.1} s{end}", w.longest_without_ack_ms, from);
        // beside the bar, on the side with room
        let (x, side) = if to < end_s * 0.6 { (to + 4.0 * x_per_px, HPos::Left) } else { (from - 4.0 * x_per_px, HPos::Right) };
        let style = ("sans-serif", 11).into_font().color(&BLACK).pos(Pos::new(side, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(label, (x, top - 0.5), style))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::checker::{MultiActiveReport, SiteWrites};

    #[test]
    fn each_site_gets_a_row_with_its_longest_gap_labelled() {
        let gap = SiteWrites { acked: 1, longest_without_ack_ms: 710.0, longest_from_ms: 2900.0, ..Default::default() };
        let m = MultiActiveReport {
            sites: [("dc1".to_string(), SiteWrites::default()), ("dc2".to_string(), gap)].into(),
            ..Default::default()
        };
        let r = crate::checker::Results { multi_active: Some(m), ..Default::default() };
        assert_eq!(super::height_px(&r), 30 + 2 * 22);
        let mut svg = String::new();
        {
            use plotters::prelude::{IntoDrawingArea, SVGBackend};
            let root = SVGBackend::with_string(&mut svg, (1200, super::height_px(&r))).into_drawing_area();
            super::draw(&root, &r, 10.0).unwrap();
        }
        assert!(svg.contains("dc2: 710 ms without an ack from t=2.9 s"), "{svg}");
        assert!(svg.contains("dc1: 0 ms without an ack"), "{svg}");
        assert_eq!(super::height_px(&crate::checker::Results::default()), 0, "no sites, no strip");
    }
}
