//! summary.html: one self-contained page (no network fetches) for a campaign: every run
//! with a link to its report.html, the spread per scenario, the targets judged on it.
use super::summary::Summary;
use std::path::Path;

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drdrill summary {{ started_at|when }}</title>
<style>{{ css|safe }}</style></head><body>
<h1>drdrill summary</h1>
<p>Started {{ started_at|when }}, {{ runs|length }} drills in {{ ms(duration_s) }} s. Exit code <b>{{ exit_code }}</b>.</p>
<table><tr><th>scenario</th><th>run</th><th>verdict</th><th>RTO met?</th><th>RPO met?</th><th>unexpected?</th><th>alerting?</th><th>why</th><th>RTO ms</th><th>RPO ms</th><th>lost writes</th><th>budget used</th><th>duration s</th><th>evidence</th></tr>
{% for r in runs %}<tr class="{{ r.status|replace(' ', '-') }}"><td>{{ r.scenario }}</td><td>{{ r.run }}</td><td>{{ r.status|upper }}</td>
{% if r.answers %}<td>{{ r.answers.rto }}</td><td>{{ r.answers.rpo }}</td><td>{{ r.answers.unexpected }}{% if r.answers.findings %} ({{ r.answers.findings }}){% endif %}</td><td>{{ r.answers.alerting }}</td>{% else %}<td>-</td><td>-</td><td>-</td><td>-</td>{% endif %}
<td>{{ (r.why or [])|join("; ") }}</td>
<td>{{ ms(r.rto_ms) }}</td><td>{{ ms(r.rpo_ms) }}</td><td>{{ r.lost_writes if r.lost_writes is not none else "-" }}</td>
<td>{{ r.budget }}</td><td>{{ ms(r.duration_s) }}</td><td>{% if r.link %}<a href="{{ r.link }}">report</a>{% else %}{{ r.error or "" }}{% endif %}</td></tr>
{% endfor %}</table>
{% if drills %}<h2>The four questions, per drill</h2>
<table><tr><th>drill</th><th>run</th><th>RTO met?</th><th>RPO met?</th><th>anything unexpected?</th><th>did alerting work?</th></tr>
{% for d in drills %}<tr><td>{{ d.scenario }}</td><td>{{ d.run }}</td><td>{{ d.rto }}</td><td>{{ d.rpo }}</td><td>{{ d.unexpected }}{% if d.findings %} ({{ d.findings }}){% endif %}</td><td>{{ d.alerting }}</td></tr>
{% endfor %}</table>
<h2>What the drills found ({{ findings|length }})</h2>
{% if findings %}<ul>{% for f in findings %}<li>{{ f.scenario }} #{{ f.run }}: {{ f.service or "drill" }}: {{ f.what }} ({{ f.evidence }})</li>
{% endfor %}</ul>{% else %}<p>Nothing unexpected.</p>{% endif %}{% endif %}
{% for s in scenarios %}{% if s.runs > 1 or s.targets or s.availability %}
<h2>{{ s.scenario }}: spread over {{ s.runs }} runs</h2>
{% if s.availability %}<p>Availability: {{ s.availability }}</p>{% endif %}
<table><tr><th>quantity</th><th>min</th><th>median</th><th>p95</th><th>max</th></tr>
{% for name, st in [("RTO ms", s.rto_ms), ("RPO ms", s.rpo_ms), ("lost writes", s.lost_writes)] %}{% if st %}
<tr><td>{{ name }}</td><td>{{ ms(st.min) }}</td><td>{{ ms(st.median) }}</td><td>{{ ms(st.p95) }}</td><td>{{ ms(st.max) }}</td></tr>{% endif %}{% endfor %}
{% for name, st in s.phases|items %}<tr><td>{{ name }}</td><td>{{ ms(st.min) }}</td><td>{{ ms(st.median) }}</td><td>{{ ms(st.p95) }}</td><td>{{ ms(st.max) }}</td></tr>{% endfor %}
</table>
{% if s.targets %}<table><tr><th>target</th><th>statistic</th><th>limit</th><th>actual</th><th>verdict</th><th>note</th></tr>
{% for t in s.targets %}<tr class="{{ t.verdict|lower }}"><td>{{ t.target }}</td><td>{{ t.statistic }}</td><td>{{ t.limit }}</td><td>{{ ms(t.actual) }}</td><td>{{ t.verdict|upper }}</td><td>{{ t.note }}</td></tr>{% endfor %}
</table>{% endif %}{% endif %}{% endfor %}
</body></html>
"#;

pub const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}.pass td:nth-child(3),td.pass{color:#176b2c}\
.fail td:nth-child(3),.error td:nth-child(3),.interrupted td:nth-child(3){color:#b00020;font-weight:bold}.not-run{color:#888}";

pub fn summary_html(s: &Summary, dir: &Path) -> String {
    let mut env = minijinja::Environment::new();
    env.add_function("ms", |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into()));
    env.add_filter("when", |t: &str| crate::clock::readable(t));
    env.add_template("summary.html", TEMPLATE).expect("the summary template parses");
    let mut v = serde_json::to_value(s).expect("summary serialises");
    for (r, row) in v["runs"].as_array_mut().into_iter().flatten().zip(&s.runs) {
        let link = r["evidence"].as_str().map(|e| super::relative(dir, &Path::new(e).join("report.html")));
        r["link"] = link.into();
        r["budget"] = super::summary::budget_cell(row).into();
    }
    v["css"] = CSS.into();
    env.get_template("summary.html")
        .and_then(|t| t.render(minijinja::value::Serde(&v)))
        .unwrap_or_else(|e| format!("<!doctype html><p>summary.html failed to render: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::SpreadLimits;
    use crate::suite::Stat;
    use crate::suite::summary::{RunRow, ScenarioSummary};
    use std::collections::BTreeMap;

    #[test]
    fn summary_html_renders_rows_links_and_spreads() {
        let mut a = RunRow::empty("pg-kill", 1, "pass", 0);
        a.rto_ms = Some(1500.0);
        a.evidence = Some("/r/pg-kill/2026-x".into());
        let b = RunRow::not_run("pg-kill", 2, "interrupted");
        let s = Summary {
            started_at: "2026-11-22T00:00:00Z".into(),
            duration_s: 12.0,
            exit_code: 130,
            runs: vec![a, b],
            scenarios: vec![ScenarioSummary {
                scenario: "pg-kill".into(),
                limits: SpreadLimits::default(),
                runs: 2,
                rto_ms: Stat::of([1500.0, 1700.0]),
                rpo_ms: None,
                lost_writes: None,
                phases: BTreeMap::new(),
                targets: Vec::new(),
                availability: Some(
                    "at p95 of 2 runs (outage 1.7 s, 154 failures a month fit) the 99.99 % budget of 4.38 min a month".into(),
                ),
            }],
            drills: Vec::new(),
            findings: Vec::new(),
        };
        let html = summary_html(&s, Path::new("/r/suites/x"));
        assert!(!html.contains("failed to render"), "{html}");
        assert!(html.contains("href=\"..&#x2f;..&#x2f;pg-kill&#x2f;2026-x&#x2f;report.html\""), "{html}");
        assert!(html.contains("NOT RUN") && html.contains("1500") && html.contains("spread over 2 runs"), "{html}");
        assert!(html.contains("Started 2026-11-22 00:00:00.000 UTC,"), "{html}");
        assert!(html.contains("<p>Availability: at p95 of 2 runs (outage 1.7 s, 154 failures a month fit)"), "{html}");
    }
}
