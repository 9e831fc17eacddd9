//! `drdrill trend`: every past run of a scenario under --reports, oldest first, as a table
//! and trend.html with RTO, the availability budget used (with `targets.availability`), RPO
//! and lost writes per run (SVG, failed runs marked red).
use crate::checker::Results;
use crate::checker::Verdict;
use crate::error::{Error, Result, exit};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Finished runs by scenario, oldest first.
fn runs(reports: &Path, only: Option<&str>) -> BTreeMap<String, Vec<Results>> {
    let mut by: BTreeMap<String, Vec<Results>> = BTreeMap::new();
    for s in std::fs::read_dir(reports).into_iter().flatten().flatten() {
        let name = s.file_name().to_string_lossy().to_string();
        if name == "suites" || only.is_some_and(|o| o != name) {
            continue;
        }
        for d in std::fs::read_dir(s.path()).into_iter().flatten().flatten() {
            let Ok(r) = crate::checker::load_results(&d.path()) else { continue };
            if !r.several() {
                by.entry(r.scenario.clone()).or_default().push(r);
                continue;
            }
            // a drill of several services: each service's runs trend on their own
            for name in r.services.keys() {
                by.entry(format!("{}/{name}", r.scenario)).or_default().extend(r.service_view(name));
            }
        }
    }
    for v in by.values_mut() {
        v.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    }
    by
}

/// One chart: a value per run (None: not measured, drawn as a gap), failed runs red.
fn chart(title: &str, unit: &str, runs: &[Results], value: fn(&Results) -> Option<f64>) -> std::result::Result<String, String> {
    let pts: Vec<(usize, f64, bool)> =
        runs.iter().enumerate().filter_map(|(i, r)| Some((i, value(r)?, r.verdict != Verdict::Pass))).collect();
    let top = pts.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(runs.len() as f64 - 0.5).max(0.5), 0f64..top)
            .map_err(|e| e.to_string())?;
        c.configure_mesh().x_desc("run (oldest first)").y_desc(unit).draw().map_err(|e| e.to_string())?;
        c.draw_series(LineSeries::new(pts.iter().map(|p| (p.0 as f64, p.1)), BLUE.stroke_width(1))).map_err(|e| e.to_string())?;
        c.draw_series(pts.iter().map(|p| Circle::new((p.0 as f64, p.1), 4, if p.2 { RED.filled() } else { BLUE.filled() })))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

pub fn trend(reports: &Path, only: Option<&str>) -> Result<i32> {
    let by = runs(reports, only);
    if by.is_empty() {
        return Err(Error::usage(format!(
            "no finished runs{} under {}",
            only.map(|o| format!(" of {o}")).unwrap_or_default(),
            reports.display()
        )));
    }
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into());
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>drdrill trend</title><style>{}</style></head><body><h1>drdrill trend</h1>",
        super::html::CSS
    );
    for (scenario, rs) in &by {
        let mut b = tabled::builder::Builder::default();
        b.push_record(["started", "run", "verdict", "RTO ms", "RPO ms", "lost writes", "budget used %"]);
        for r in rs {
            b.push_record([
                crate::clock::readable(&r.started_at),
                r.run_id.clone(),
                r.verdict.to_string(),
                ms(r.rto_ms),
                ms(r.rpo_ms),
                ms(r.lost_writes.map(|v| v as f64)),
                r.availability.as_ref().map_or("-".into(), |a| format!("{:.2}", a.used_percent)),
            ]);
        }
        let mut t = b.build();
        t.with(tabled::settings::Style::rounded());
        println!("{scenario} ({} runs)\n{t}", rs.len());
        html.push_str(&format!("<h2>{scenario} ({} runs; red: a run that did not pass)</h2>", rs.len()));
        type Quantity = fn(&Results) -> Option<f64>;
        let charts: [(&str, &str, Quantity); 4] = [
            ("RTO per run", "ms", |r| r.rto_ms),
            ("availability budget used per run", "% of the period's budget", |r| r.availability.as_ref().map(|a| a.used_percent)),
            ("RPO per run", "ms", |r| r.rpo_ms),
            ("lost writes per run", "writes", |r| r.lost_writes.map(|v| v as f64)),
        ];
        for (title, unit, f) in charts {
            // the budget's chart only where the scenario sets `targets.availability`
            if rs.iter().all(|r| f(r).is_none()) && title.starts_with("availability") {
                continue;
            }
            html.push_str(&chart(&format!("{scenario}: {title}"), unit, rs, f).unwrap_or_else(|e| format!("<p>no chart: {e}</p>")));
        }
    }
    html.push_str("</body></html>\n");
    let path = reports.join("trend.html");
    std::fs::write(&path, html).map_err(|e| Error::infra(format!("failed to write {}", path.display())).cause(e))?;
    println!("trend: {}", path.display());
    Ok(exit::PASS)
}
