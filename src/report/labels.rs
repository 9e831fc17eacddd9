//! Where the timeline's marker labels go. A label sits right of its marker (left of it
//! where it would run past the plot's right edge), and labels get rows greedily, so that
//! two labels on one row never overlap however close their steps are, and none enters the
//! corner the legend covers. Widths are estimates in pixels: the SVG leaves the font to
//! the browser.

/// A label's font size in the SVG: plotters writes a font of size 11 as 11 / 1.24 px.
pub const FONT_PX: f64 = 11.0 / 1.24;
/// Space between a marker and its label.
pub const PAD_PX: f64 = 3.0;
/// Space kept between two labels on one row.
pub const GAP_PX: f64 = 8.0;
/// Height of a row of labels.
pub const ROW_PX: f64 = 12.0;

/// The width of `text` in pixels, estimated per character from the advances of DejaVu
/// Sans, the widest of the usual sans-serif fonts (Arial and Liberation Sans are some 15 %
/// narrower), rounded up: an estimate should not fall short.
pub fn text_px(text: &str) -> f64 {
    let em = |c: char| match c {
        'i' | 'j' | 'l' | '|' | '.' | ',' | ':' | ';' | '\'' | '!' => 0.32,
        ' ' | '-' | 'f' | 'r' | 't' | '(' | ')' => 0.4,
        'm' | 'w' | 'M' | 'W' => 1.0,
        c if !c.is_ascii() => 1.0,
        c if c.is_ascii_uppercase() => 0.75,
        _ => 0.64,
    };
    text.chars().map(em).sum::<f64>() * FONT_PX
}

/// A label's horizontal extent in pixels from the plot's left edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from_px: f64,
    pub to_px: f64,
    /// Drawn left of its marker, ending at it.
    pub leftwards: bool,
}

/// The extent of `label` for a marker at `x_px` in a plot `width_px` wide.
pub fn span(x_px: f64, label: &str, width_px: f64) -> Span {
    let w = PAD_PX + text_px(label);
    if x_px + w > width_px && x_px - w >= 0.0 {
        Span { from_px: x_px - w, to_px: x_px, leftwards: true }
    } else {
        Span { from_px: x_px, to_px: x_px + w, leftwards: false }
    }
}

/// The part of the top rows no label may enter: from `from_px` to the right edge, in rows
/// 0 to `rows` - 1 (the legend's box).
#[derive(Debug, Clone, Copy)]
pub struct Corner {
    pub from_px: f64,
    pub rows: usize,
}

/// A row for each span, in the spans' order: the lowest row in which the label keeps
/// GAP_PX from the labels already there and stays out of `corner`. Spans are placed by
/// left edge, so a row's last label is always its rightmost.
pub fn rows(spans: &[Span], corner: Corner) -> Vec<usize> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].from_px.total_cmp(&spans[b].from_px));
    // the right edge of each row's last label
    let mut ends: Vec<f64> = Vec::new();
    let mut row = vec![0; spans.len()];
    for i in order {
        let s = spans[i];
        let free = |r: usize| {
            let clear = ends.get(r).is_none_or(|&end| s.from_px >= end + GAP_PX);
            clear && !(r < corner.rows && s.to_px > corner.from_px)
        };
        // a row past both the last used one and the corner is always free
        let r = (0..=ends.len().max(corner.rows)).find(|&r| free(r)).unwrap_or(ends.len().max(corner.rows));
        if ends.len() <= r {
            ends.resize(r + 1, f64::NEG_INFINITY);
        }
        ends[r] = s.to_px;
        row[i] = r;
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CORNER: Corner = Corner { from_px: f64::INFINITY, rows: 0 };

    /// No two labels on one row overlap or come closer than GAP_PX.
    fn assert_apart(spans: &[Span], rows: &[usize]) {
        for i in 0..spans.len() {
            for j in i + 1..spans.len() {
                let (a, b) = (spans[i], spans[j]);
                let apart = a.to_px + GAP_PX <= b.from_px || b.to_px + GAP_PX <= a.from_px;
                assert!(rows[i] != rows[j] || apart, "labels {i} {a:?} and {j} {b:?} share row {}", rows[i]);
            }
        }
    }

    #[test]
    fn widths_are_estimated_above_what_a_browser_draws() {
        // Chromium with Liberation Sans at 8.87 px drew these 92.9, 104.4 and 84.2 px wide
        for (text, drawn) in [("fault-inject pg-1 | clients", 92.9), ("orchestrator-detected pg-1", 104.4), ("failover-promote pg-2", 84.2)]
        {
            let est = text_px(text);
            assert!(est > drawn * 1.1 && est < drawn * 1.4, "{text}: {est} px estimated, {drawn} drawn");
        }
    }

    #[test]
    fn labels_of_close_steps_never_share_a_row() {
        // a fault and four failover steps within 200 ms on a 10 s axis 1046 px wide, then a
        // heal far away, then two steps at the right edge
        let px_per_s = 1046.0 / 10.0;
        let steps = [
            (2.00, "fault-inject pg-1 | clients"),
            (2.05, "failover-start pg-1"),
            (2.12, "failover-promote pg-2"),
            (2.19, "failover-done pg-2"),
            (2.20, "rejoin pg-1"),
            (6.00, "fault-heal pg-1 | clients"),
            (9.90, "fault-heal pg-2"),
            (9.95, "rejoin pg-2"),
        ];
        let spans: Vec<Span> = steps.iter().map(|(t, l)| span(t * px_per_s, l, 1046.0)).collect();
        let rows = rows(&spans, NO_CORNER);
        assert_apart(&spans, &rows);
        assert_eq!(&rows[..5], [0, 1, 2, 3, 4], "five close steps, five rows");
        assert_eq!(rows[5], 0, "a step far from the others goes back to the top row");
        assert!(spans[6].leftwards && spans[7].leftwards, "labels at the right edge end at their marker");
        assert!(spans.iter().all(|s| s.from_px >= 0.0 && s.to_px <= 1046.0), "{spans:?}");
        assert_eq!(&rows[6..], [0, 1], "{rows:?}");
    }

    #[test]
    fn many_labels_in_any_order_stay_apart_and_out_of_the_corner() {
        let labels = ["fault-inject pg-1", "failover-promote pg-3", "rejoin pg-1", "orchestrator-moved pg-2", "x"];
        // 60 markers, unsorted, some at the same instant
        let spans: Vec<Span> = (0..60u32).map(|i| span(f64::from((i * 37) % 1000), labels[i as usize % 5], 1000.0)).collect();
        let corner = Corner { from_px: 880.0, rows: 6 };
        let rows = rows(&spans, corner);
        assert_apart(&spans, &rows);
        for (s, r) in spans.iter().zip(&rows) {
            assert!(*r >= corner.rows || s.to_px <= corner.from_px, "{s:?} in row {r} enters the legend's corner");
        }
        assert_eq!(super::rows(&[], corner), Vec::<usize>::new());
    }
}
