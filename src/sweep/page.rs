//! The judged sweep, formatted: the terminal's table, sweep.html (the curve: the setting on
//! x, the RTO's p50 and p95 against the target, the false-failover rate of each blip with
//! the interval its runs allow, the seed's value marked) and junit.xml (one case per value).
//! Every figure is the report's; nothing is judged here.
use crate::checker::{PointResult, SweepReport, Verdict};
use crate::report::xml_escape as esc;
use plotters::prelude::*;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Unknown => "unknown",
        Verdict::Undecided => "undecided",
    }
}

fn s(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |x| format!("{:.1} s", x / 1e3))
}

/// Each point's row: its values, each failure's RTO p50 / p95 / max, each blip's false
/// failovers and what they cost, its verdict and why.
fn rows(r: &SweepReport) -> Vec<Vec<String>> {
    r.points.iter().map(row).collect()
}

fn row(p: &PointResult) -> Vec<String> {
    let values = format!("{}{}", p.values.join(" × "), if p.seed { " (seed)" } else { "" });
    let failures: Vec<String> = p
        .failures
        .iter()
        .map(|f| {
            let not = if f.not_recovered > 0 { format!(", {} not recovered", f.not_recovered) } else { String::new() };
            let off = if f.perturbed + f.errors > 0 { format!(", {} not counted", f.perturbed + f.errors) } else { String::new() };
            let phases: Vec<String> = f.phases.iter().map(phase).collect();
            let phases = if phases.is_empty() { String::new() } else { format!("\n  {}", phases.join("\n  ")) };
            format!("{}: {} / {} / {}{not}{off}{phases}", f.failure, s(f.rto_p50_ms), s(f.rto_p95_ms), s(f.rto_max_ms))
        })
        .collect();
    let blips: Vec<String> = p
        .blips
        .iter()
        .map(|b| {
            let cost = match b.false_failovers.k {
                0 => format!("outage {}", s(b.outage_max_ms)),
                _ => format!("outage {}, lost {}, split {}", s(b.outage_max_ms), b.lost_writes_max.unwrap_or(0), s(b.split_max_ms)),
            };
            let off = if b.perturbed + b.errors > 0 { format!(", {} not counted", b.perturbed + b.errors) } else { String::new() };
            format!("{}: {} ({cost}{off})", b.blip, b.false_failovers.text())
        })
        .collect();
    vec![values, failures.join("\n"), blips.join("\n"), verdict_word(p.verdict).into(), p.why.join("; ")]
}

/// "detection p95 5.6 s of 6.0 s (1 run over)": a phase over the runs against its budget.
fn phase(p: &crate::checker::PhaseStat) -> String {
    let budget = p.budget_ms.map_or(String::new(), |b| format!(" of {}", s(Some(b))));
    let over = if p.over_budget > 0 { format!(" ({} over)", p.over_budget) } else { String::new() };
    format!("{} p95 {}{budget}{over}", p.phase, s(p.p95_ms))
}

const HEAD: [&str; 5] = ["value", "RTO p50 / p95 / max", "false failovers", "verdict", "why"];

/// The terminal's table (the answer follows it on stdout).
pub fn table(r: &SweepReport) -> String {
    let mut b = tabled::builder::Builder::default();
    b.push_record(HEAD);
    rows(r).into_iter().for_each(|row| b.push_record(row));
    let mut t = b.build();
    t.with(tabled::settings::Style::sharp());
    format!("Sweep of {}\n{t}", r.settings.join(" × "))
}

/// junit.xml: one test case per value, failed or skipped (unknown) with its reasons.
pub fn junit(name: &str, r: &SweepReport) -> String {
    let fails = r.points.iter().filter(|p| p.verdict == Verdict::Fail).count();
    let skips = r.points.iter().filter(|p| p.verdict != Verdict::Fail && p.verdict != Verdict::Pass).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" skipped=\"{skips}\">\n    <properties><property name=\"answer\" value=\"{}\"/></properties>\n",
        esc(name),
        r.points.len(),
        esc(&r.answer)
    );
    for p in &r.points {
        let case = format!("{} = {}", r.settings.join(" × "), p.values.join(" × "));
        let body = match p.verdict {
            Verdict::Pass => String::new(),
            Verdict::Fail => format!("<failure message=\"{}\"/>", esc(&p.why.join("; "))),
            _ => format!("<skipped message=\"{}\"/>", esc(&p.why.join("; "))),
        };
        out.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\">{body}</testcase>\n", esc(name), esc(&case)));
    }
    out + "  </testsuite>\n</testsuites>\n"
}

/// sweep.html: the answer, the two charts and the table.
pub fn page(name: &str, r: &SweepReport) -> String {
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>drdrill sweep {n}</title><style>{}</style></head><body>\
         <h1>Sweep {n}: {}</h1><p class=\"answer\"><b>Answer:</b> {}</p>",
        crate::suite::CSS,
        esc(&r.settings.join(" × ")),
        esc(&r.answer),
        n = esc(name)
    );
    for chart in [rto_chart(r), false_failover_chart(r)] {
        html.push_str(&chart.unwrap_or_else(|e| format!("<p>chart not drawn: {}</p>", esc(&e))));
    }
    html.push_str("<table><tr>");
    HEAD.iter().for_each(|h| html.push_str(&format!("<th>{h}</th>")));
    html.push_str("</tr>");
    for row in rows(r) {
        html.push_str("<tr>");
        row.iter().for_each(|c| html.push_str(&format!("<td>{}</td>", esc(c).replace('\n', "<br>"))));
        html.push_str("</tr>");
    }
    html + "</table></body></html>\n"
}

type Drawn = std::result::Result<String, String>;

/// The x axis: one place per point, named by its values; the seed's point.
fn x_axis(r: &SweepReport) -> (Vec<String>, Option<usize>) {
    (r.points.iter().map(|p| p.values.join(" × ")).collect(), r.points.iter().position(|p| p.seed))
}

/// A failure's name and its p50 and p95 points (value index, seconds).
type Curve = (String, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// RTO p50 and p95 of each failure by value, the target as a dashed line, the seed marked.
fn rto_chart(r: &SweepReport) -> Drawn {
    let (labels, seed) = x_axis(r);
    let series: Vec<Curve> = (0..r.points.first().map_or(0, |p| p.failures.len()))
        .map(|k| {
            let at = |f: fn(&crate::checker::FailureStat) -> Option<f64>| {
                r.points.iter().enumerate().filter_map(|(i, p)| Some((i as f64, f(&p.failures[k])? / 1e3))).collect::<Vec<_>>()
            };
            (r.points[0].failures[k].failure.clone(), at(|f| f.rto_p50_ms), at(|f| f.rto_p95_ms))
        })
        .collect();
    let top = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).chain(r.rto_target_ms.map(|t| t / 1e3)).fold(1.0, f64::max) * 1.15;
    draw("RTO by value (s): p50 solid, p95 dashed; the target in red", &labels, seed, top, |c| {
        for (i, (name, p50, p95)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            c.draw_series(LineSeries::new(p50.clone(), color.stroke_width(2)))?.label(name.clone());
            c.draw_series(DashedLineSeries::new(p95.clone(), 6, 4, color.stroke_width(1)))?;
            c.draw_series(p95.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
        if let Some(t) = r.rto_target_ms {
            let n = labels.len() as f64;
            c.draw_series(DashedLineSeries::new([(-0.5, t / 1e3), (n - 0.5, t / 1e3)], 8, 4, RED.stroke_width(1)))?;
        }
        Ok(())
    })
}

/// Each blip's false-failover rate (k / n) by value, with the interval its runs allow.
fn false_failover_chart(r: &SweepReport) -> Drawn {
    let (labels, seed) = x_axis(r);
    let blips = r.points.first().map_or(0, |p| p.blips.len());
    draw("False failovers by value: k of n (dot) and the rates the runs allow (bar)", &labels, seed, 1.05, |c| {
        for k in 0..blips {
            let color = Palette99::pick(k).to_rgba();
            let shift = (k as f64 - (blips as f64 - 1.0) / 2.0) * 0.08;
            let pts: Vec<(f64, &crate::checker::KOfN)> = r
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as f64 + shift, &p.blips[k].false_failovers))
                .filter(|(_, f)| f.n > 0)
                .collect();
            c.draw_series(pts.iter().map(|(x, f)| Circle::new((*x, f.k as f64 / f.n as f64), 4, color.filled())))?
                .label(r.points[0].blips[k].blip.clone());
            c.draw_series(pts.iter().map(|(x, f)| PathElement::new([(*x, f.low), (*x, f.high)], color.stroke_width(2))))?;
        }
        Ok(())
    })
}

type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;
type Plotted = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// One chart over the points, the seed's place marked with a grey band.
fn draw(title: &str, labels: &[String], seed: Option<usize>, top: f64, body: impl FnOnce(&mut Chart) -> Plotted) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = labels.len().max(1) as f64;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..top)
            .map_err(|e| e.to_string())?;
        let name = |x: &f64| {
            if (x - x.round()).abs() < 1e-6 { labels.get(x.round() as usize).cloned().unwrap_or_default() } else { String::new() }
        };
        c.configure_mesh().x_labels(labels.len().max(2) * 2 + 1).x_label_formatter(&name).draw().map_err(|e| e.to_string())?;
        if let Some(s) = seed {
            let band = Rectangle::new([(s as f64 - 0.3, 0.0), (s as f64 + 0.3, top)], RGBColor(200, 200, 200).mix(0.3).filled());
            c.draw_series([band]).map_err(|e| e.to_string())?.label("the seed's value");
        }
        body(&mut c).map_err(|e| e.to_string())?;
        c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
