//! report.html: one self-contained page per drill (inline CSS and SVG, no scripts, no
//! network fetches) that opens from a file share or an e-mail attachment: the scorecard
//! and the measured rows (measured.rs, as the terminal prints them), the timeline picture,
//! the phases, the shards or the sites of a multi-active service, latency, the lost
//! writes, replication at start (a mesh as a matrix), the comparison, the steady state,
//! the observer's cost, the alerts, the scenario as run, and the tool and engine it ran with.
use super::Results;
use super::phases::{headline, phase_rows};
use serde_json::json;

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drdrill {{ r.scenario }} {{ r.started_at|when }}</title>
<style>{{ css|safe }}</style></head><body>
<h1>{{ r.scenario }}: <span class="{{ r.verdict|lower }}">{{ r.verdict|upper }}</span></h1>
<p>Run {{ r.run_id }}, {{ r.started_at|when }} to {{ r.finished_at|when }}. drdrill {{ version }}; Docker {{ r.engine.version }} at {{ r.engine.host }}.</p>
{% if undecided %}<ul class="undecided">{% for u in undecided %}<li>{{ u }}</li>{% endfor %}</ul><p>{{ undecided_hint }}</p>{% endif %}
{% if questions %}<h2 id="questions">The four questions</h2>
<table class="questions"><tr><th>question</th><th>answer</th><th>why</th></tr>
{% for q in questions %}<tr><td>{{ q.question }}</td><td class="{{ q.answer|answer_class }}">{{ q.answer|upper }}</td><td>{{ q.why }}{% if q.rows %}<ul>{% for row in q.rows %}<li>{{ row }}</li>{% endfor %}</ul>{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
{% if claims %}<h2 id="claims">Claims</h2><p>{{ claims[0] }}.</p>
<table><tr><th>service</th><th>claim</th><th>target</th><th>measured</th><th>held</th></tr>
{% for c in claims[1] %}<tr class="claim"><td>{{ c.service }}</td><td>{{ c.claim }}</td><td>{{ c.target }}</td><td>{{ c.measured }}</td><td class="{{ c.held|answer_class }}">{{ c.held|upper }}</td></tr>
{% endfor %}</table>{% endif %}
{% for s in services %}{% if several %}<h2 class="service">Service {{ s.name }} ({{ s.r.stack.kind }}): <span class="{{ s.r.verdict|lower }}">{{ s.r.verdict|upper }}</span></h2>
{% endif %}<h2>Scorecard</h2>
<table><tr><th>target</th><th>limit</th><th>actual</th><th>verdict</th><th>note</th></tr>
{% for t in s.targets %}<tr><td>{{ t.target }}</td><td>{{ t.limit }}</td><td>{{ t.actual }}</td><td class="{{ t.verdict|lower }}">{{ t.verdict|upper }}</td><td>{{ t.note }}</td></tr>
{% endfor %}</table>
<table class="facts">
{% for f in s.facts %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>
<h2>Timeline</h2>
<figure id="timeline{{ s.suffix }}">{{ s.svg|safe }}
<figcaption>Bars: writes per 100 ms of invoke time, green ok, red fail, orange unknown. Lines: latency of the acknowledged writes (right axis).
Shaded: the RTO window. Vertical markers: dark red faults, green heals, purple failover and orchestrator steps, blue alerts firing and paging. Bands: the phases.{% if s.sites_caption %}
Below, on the same time axis: each site's longest time without an acknowledgement (red), the cuts between sites (grey).{% endif %}{% if s.reads %}
Under it, the readers: reads per 100 ms by outcome, and the staleness of the successful reads, the largest per 100 ms (blue, right axis, ms).{% endif %}</figcaption></figure>
<table><tr><th>drill time (ms)</th><th>step</th><th>node</th><th>detail</th></tr>
{% for e in s.markers %}<tr class="marker"><td>{{ num(e.t_ms) }}</td><td>{{ e.kind }}</td><td>{{ e.node or "" }}</td><td>{{ e.detail }}</td></tr>
{% endfor %}</table>
{% if s.shards_caption %}<h2>Shards</h2><p>{{ s.shards_caption }}.</p>
<table><tr><th>shard</th><th>slots</th><th>primary</th><th>writes ok / fail / unknown</th><th>lost</th><th>RPO ms</th><th>outage ms (clients)</th><th>RTO ms</th></tr>
{% for x in s.shards %}<tr class="shard"><td>{{ x.shard }}</td><td>{{ x.slots }}</td><td>{{ x.primary }}</td><td>{{ x.writes }}</td><td>{{ x.lost }}</td><td>{{ x.rpo }}</td><td>{{ x.outage }}</td><td>{{ x.rto }}</td></tr>
{% endfor %}</table>
<figure id="keyspace{{ s.suffix }}">{{ s.keyspace|safe }}
<figcaption>The share of the key space whose shard took writes, per 100 ms of invoke time (green); shaded red: no shard took a write. Markers: dark red faults, purple the cluster's FAIL and promotion.</figcaption></figure>
{% for l in s.writable %}<p>{{ l }}</p>{% endfor %}{% endif %}
{% if s.sites_caption %}<h2 id="sites{{ s.suffix }}">By site</h2><p>{{ s.sites_caption }}.</p>
<table><tr><th>site</th><th>writes ok / fail / unknown</th><th>longest without an ack, ms</th></tr>
{% for x in s.sites %}<tr class="site"><td>{{ x.site }}</td><td>{{ x.writes }}</td><td>{{ x.gap }}</td></tr>
{% endfor %}</table>
<table class="facts">{% for f in s.site_facts %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>
{% if s.lost_updates %}<h3>Lost updates (first 100), each beside the write kept instead</h3>
<table><tr><th>key</th><th>lost update (invoked)</th><th>kept instead (completed before it)</th></tr>
{% for l in s.lost_updates %}<tr class="lost-update"><td>{{ l.key }}</td><td>{{ l.lost }}</td><td>{{ l.survivor }}</td></tr>
{% endfor %}</table>{% if s.lost_updates_more %}<p>… and {{ s.lost_updates_more }} more (results.json).</p>{% endif %}{% endif %}{% endif %}
{% if s.phases %}<h2>RTO by phase ({{ s.headline }})</h2>
<table><tr><th>phase</th><th>from → to</th><th>duration</th><th>budget</th><th>budget from</th></tr>
{% for p in s.phases %}<tr><td>{{ p.phase }}</td><td>{{ p.span }}</td><td>{{ p.duration }}</td><td>{{ p.budget }}</td><td>{{ p.setting }}</td></tr>
{% endfor %}</table>{% if s.claim %}<p>Claimed: {{ s.claim }}.</p>{% endif %}{% endif %}
{% if s.restore_caption %}<h2>{{ s.restore_title }}</h2><p>{{ s.restore_caption }}.</p>
<table><tr><th>step</th><th>from → to (drill ms)</th><th>duration</th></tr>
{% for x in s.restore %}<tr><td>{{ x.step }}</td><td>{{ x.span }}</td><td>{{ x.duration }}</td></tr>
{% endfor %}</table>{% endif %}
{% if s.latency %}<h2>Latency of acknowledged writes (ms, by phase of invoke time)</h2>
<table><tr>{% for h in s.latency.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in s.latency.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>{% for w in s.wan %}<p>{{ w }}.</p>{% endfor %}{% endif %}
{% if s.lag_caption %}<h2>Replica lag</h2><p>{{ s.lag_caption }}.</p>
<table><tr><th>replica</th><th>phase</th><th>heartbeats</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>engine p50 / p99 / max ms</th><th>engine behind (bytes p50 / max)</th></tr>
{% for l in s.lag %}<tr><td>{{ l.replica }}</td><td>{{ l.phase }}</td><td>{{ l.heartbeats }}</td><td>{{ l.p50 }}</td><td>{{ l.p95 }}</td><td>{{ l.p99 }}</td><td>{{ l.max }}</td><td>{{ l.engine }}</td><td>{{ l.behind }}</td></tr>
{% endfor %}</table>{% endif %}
{% if s.reads %}<h2 id="reads{{ s.suffix }}">Reads</h2><p>{{ s.reads[0] }}.</p>
<table class="facts">{% for f in s.reads[1] %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>
<table><tr>{% for h in s.reads[2].header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in s.reads[2].rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
<h2>Lost writes ({{ s.lost_count }})</h2>
{% if s.r.lost %}<table><tr><th>writer</th><th>seq</th><th>acknowledged (ms)</th></tr>
{% for l in s.r.lost[:100] %}<tr><td>{{ l.writer }}</td><td>{{ l.seq }}</td><td>{{ num(l.ack_ms) }}</td></tr>
{% endfor %}</table>{% if s.r.lost|length > 100 %}<p>First 100 of {{ s.r.lost|length }} shown; all are in results.json.</p>{% endif %}
{% else %}<p>None.</p>{% endif %}
{% if s.replication %}<h2>Replication at start</h2><p>{{ s.replication[0] }}.</p>
<table class="replication"><tr>{% for h in s.replication[1].header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in s.replication[1].rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
{% endfor %}
{% if several and drill_targets %}<h2>Drill-wide targets</h2>
<table><tr><th>target</th><th>limit</th><th>actual</th><th>verdict</th><th>note</th></tr>
{% for t in drill_targets %}<tr><td>{{ t.target }}</td><td>{{ t.limit }}</td><td>{{ t.actual }}</td><td class="{{ t.verdict|lower }}">{{ t.verdict|upper }}</td><td>{{ t.note }}</td></tr>
{% endfor %}</table>{% endif %}
{% if comparison %}<h2 id="comparison">{{ comparison[0] }}</h2>
<table class="facts">{% for f in comparison[1] %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>{% endif %}
{% if steady %}<h2 id="steady-state">Steady state after recovery</h2>
<table class="facts">{% for f in steady %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>{% endif %}
{% if observer %}<h2 id="observer">The observer's cost</h2>
<table class="facts">{% for f in observer %}<tr><th>{{ f.label }}</th><td>{{ f.text }}</td></tr>
{% endfor %}</table>{% endif %}
{% if alerts.caption %}<h2 id="alerts">Alerts</h2><p>{{ alerts.caption }}.</p>
<table><tr><th>alert</th><th>for</th><th>outcome</th><th>pending ms</th><th>firing ms</th><th>notified ms</th><th>to page ms</th><th>budget ms</th><th>resolved / notified ms</th><th>why</th></tr>
{% for a in alerts.rules %}<tr class="alert"><td>{{ a.alert }}</td><td>{{ a.for_ }}</td><td>{{ a.outcome }}</td><td>{{ a.pending }}</td><td>{{ a.firing }}</td><td>{{ a.notified }}</td><td>{{ a.to_page }}</td><td>{{ a.budget }}</td><td>{{ a.resolved }}</td><td>{{ a.why }}</td></tr>
{% endfor %}</table>
{% if alerts.steps %}<table><tr><th>alert</th><th>step of the time to page</th><th>took ms</th><th>budget ms</th><th>within</th></tr>
{% for x in alerts.steps %}<tr><td>{{ x.alert }}</td><td>{{ x.step }}</td><td>{{ x.took }}</td><td>{{ x.budget }}</td><td>{{ x.within }}</td></tr>
{% endfor %}</table>{% endif %}{% endif %}
<h2>Scenario as run</h2>
<pre>{{ scenario }}</pre>
</body></html>
"#;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1250px}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{color:#176b2c}\
.fail{color:#b00020;font-weight:bold}.unknown,.undecided{color:#a05a00;font-weight:bold}pre{background:#f7f7f7;padding:1em;overflow:auto}\
figure{margin:0}figcaption{font-size:90%;color:#555}";

/// One service's part of the page: its results, timeline, markers, phases, and the
/// sections only some services have (lag, restore, shards).
fn service_json(r: &Results, several: bool, svg: &str, name: &str, sr: &Results) -> serde_json::Value {
    let events: Vec<_> = r.events.iter().filter(|e| !several || crate::history::belongs(e.service.as_ref(), Some(name))).collect();
    let markers: Vec<_> = events
        .iter()
        .filter(|e| super::timeline::is_marker(e.kind))
        .map(|e| json!({"t_ms": e.t_ns as f64 / 1e6, "kind": e.kind, "node": e.node, "detail": e.detail}))
        .collect();
    let phases: Vec<_> = sr
        .phases
        .as_ref()
        .map(|p| {
            phase_rows(p)
                .into_iter()
                .map(|x| json!({"phase": x.phase, "span": x.span, "duration": x.duration, "budget": x.budget, "setting": x.setting}))
                .collect()
        })
        .unwrap_or_default();
    let recovery = super::restore::recovery_section(sr);
    json!({
        "name": name,
        "suffix": if several { format!("-{name}") } else { String::new() },
        "r": sr,
        "svg": svg,
        "markers": markers,
        "phases": phases,
        "headline": sr.phases.as_ref().map(headline),
        "claim": sr.phases.as_ref().and_then(|p| p.budgets.claim.clone()),
        "lag": super::lag::lag_lines(sr),
        "restore": recovery.as_ref().map(|r| r.2.clone()).unwrap_or_default(),
        "restore_caption": recovery.as_ref().map(|r| r.1.clone()),
        "restore_title": recovery.as_ref().map(|r| r.0),
        "lag_caption": super::lag::lag_caption(sr),
        "shards_caption": super::shards::shards_caption(sr),
        "shards": super::shards::shard_lines(sr),
        "writable": super::shards::writable_lines(sr),
        "targets": super::measured::target_rows(sr),
        "facts": super::measured::block(sr, Some(r)),
        "converged": super::measured::converged_word(sr),
        "lost_count": super::format::count_or(sr.lost_writes, "not read back"),
        "latency": super::figures::latency_grid(sr),
        "wan": super::figures::wan_texts(sr),
        "sites_caption": super::multi_active::caption(sr),
        "sites": super::multi_active::site_lines(sr),
        "site_facts": super::multi_active::facts(sr),
        "lost_updates": super::multi_active::lost_update_lines(sr, 100),
        "lost_updates_more": super::multi_active::lost_updates_left_out(sr, 100),
        "replication": super::replication::replication_at_start(sr),
        "reads": super::reads::reads_section(sr),
        "keyspace": super::keyspace::keyspace_svg(name, sr, &events).map(|svg| svg.unwrap_or_else(|e| format!("<p>no picture: {e}</p>"))),
    })
}

/// The page, from the judged results, the timeline SVG and the scenario file as run.
/// `svgs`: each service's timeline, in the order of `Results::each_service`.
pub fn report_html(r: &Results, svgs: &[String], scenario: &str) -> String {
    let mut env = minijinja::Environment::new();
    env.add_function("num", |v: Option<f64>| super::measured::num(v, "not measured"));
    env.add_filter("when", |t: &str| crate::clock::readable(t));
    env.add_filter("answer_class", |a: &str| match a {
        "yes" => "pass",
        "no" => "fail",
        "undecided" => "undecided",
        _ => "unknown",
    });
    env.add_template("report.html", TEMPLATE).expect("the report template parses");
    let several = r.several();
    let services: Vec<_> = svgs.iter().zip(r.each_service()).map(|(svg, (name, sr))| service_json(r, several, svg, name, sr)).collect();
    let ctx = json!({
        "r": r,
        "css": CSS,
        "services": services,
        "drill_targets": super::measured::target_rows(r),
        "several": several,
        "scenario": scenario,
        "alerts": alerts(r),
        "observer": super::measured::harness(r),
        "comparison": super::measured::comparison(r),
        "steady": super::measured::steady_state(r),
        "questions": r.questions.as_ref().map(super::questions_text::blocks),
        "claims": super::claims::claims_section(r),
        "undecided": r.undecided.iter().map(|u| u.text()).collect::<Vec<_>>(),
        "undecided_hint": super::terminal::UNDECIDED_HINT,
        "version": env!("CARGO_PKG_VERSION"),
    });
    env.get_template("report.html")
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| format!("<!doctype html><p>report.html failed to render: {e}</p>"))
}

/// The alerts section's rows (`monitoring`), or nothing.
fn alerts(r: &Results) -> serde_json::Value {
    let a = r.alerts.as_ref();
    json!({
        "caption": super::alerts::alerts_caption(r),
        "rules": a.map(super::alerts::alert_lines).unwrap_or_default(),
        "steps": a.map(super::alerts::step_lines).unwrap_or_default(),
    })
}
