//! drdrill's own results as Prometheus metrics (text format 0.0.4), for the dashboards the
//! users already run: `--metrics-file` (the node_exporter textfile collector's `*.prom`,
//! written to a temporary file and renamed) and `--pushgateway` (one group per scenario).
//! Labels: `scenario`, `service` and, in a drill with sites, the `site` of the service's
//! final primary.
use super::Results;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One family: name, help, and its samples (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family { name, help, samples: Vec::new() }
    }
}

/// The metrics of the latest run of each scenario (scenario name -> results, and the site
/// of each service's final primary).
pub fn metrics_text(runs: &BTreeMap<String, (Results, BTreeMap<String, String>)>) -> String {
    let mut fams = [
        Family::new("drdrill_rto_seconds", "Write unavailability the clients saw in the last drill (RTO), seconds."),
        Family::new("drdrill_rpo_seconds", "Span of acknowledged writes lost in the last drill (RPO), seconds."),
        Family::new("drdrill_lost_writes", "Acknowledged writes missing from the surviving data in the last drill."),
        Family::new("drdrill_target_met", "Whether each target of the last drill held: 1 met, 0 missed, NaN undecided."),
        Family::new(
            "drdrill_replica_lag_seconds",
            "Replica visibility lag over the last drill, by replica and quantile (1 = max), seconds.",
        ),
        Family::new("drdrill_alert_notify_seconds", "Fault to the alert's firing notification in the last drill, seconds."),
        Family::new("drdrill_last_run_timestamp_seconds", "When the last drill of the scenario finished, Unix seconds."),
        Family::new("drdrill_read_rto_seconds", "Read unavailability the readers saw in the last drill (read RTO), seconds."),
        Family::new("drdrill_stale_read_seconds", "Staleness of successful reads over the last drill, by quantile (1 = max), seconds."),
        Family::new("drdrill_reads_of_lost_writes", "Successful reads in the last drill that showed a write the surviving data lacks."),
        Family::new("drdrill_reads_back_in_time", "Reads in the last drill older than what the same reader had seen."),
        Family::new(
            "drdrill_availability_budget_used_ratio",
            "Share of the availability target's downtime budget (per its period) the last drill's outage used.",
        ),
    ];
    for (scenario, (r, sites)) in runs {
        add_run(&mut fams, scenario, r, sites);
    }
    let mut out = String::new();
    for f in fams.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", f.name, f.help, f.name);
        for (labels, v) in &f.samples {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = writeln!(out, "{}{{{}}} {}", f.name, l.join(","), value(*v));
        }
    }
    out
}

fn add_run(fams: &mut [Family; 12], scenario: &str, r: &Results, sites: &BTreeMap<String, String>) {
    for (service, sr) in r.each_service() {
        let mut base = vec![("scenario", scenario.to_string()), ("service", service.to_string())];
        if let Some(site) = sites.get(service) {
            base.push(("site", site.clone()));
        }
        let with = |extra: Vec<(&'static str, String)>| base.iter().cloned().chain(extra).collect::<Vec<_>>();
        if let Some(v) = sr.rto_ms {
            fams[0].samples.push((with(vec![]), v / 1e3));
        }
        if let Some(v) = sr.rpo_ms {
            fams[1].samples.push((with(vec![]), v / 1e3));
        }
        if let Some(v) = sr.lost_writes {
            fams[2].samples.push((with(vec![]), v as f64));
        }
        for t in &sr.targets {
            fams[3].samples.push((with(vec![("target", t.target.name())]), met(t.verdict)));
        }
        for rep in sr.replica_lag.iter().flat_map(|l| &l.replicas) {
            let o = &rep.overall;
            for (q, v) in [("0.5", o.p50_ms), ("0.95", o.p95_ms), ("0.99", o.p99_ms), ("1", o.max_ms)] {
                if let Some(v) = v {
                    fams[4].samples.push((with(vec![("replica", rep.node.clone()), ("quantile", q.into())]), v / 1e3));
                }
            }
        }
        if let Some(x) = &sr.reads {
            add_reads(fams, &with(vec![]), x);
        }
        if let Some(a) = &sr.availability {
            let labels = with(vec![("target", format!("{}%", a.percent)), ("per", a.per.clone())]);
            fams[11].samples.push((labels, a.used_percent / 100.0));
        }
    }
    let mut drill = vec![("scenario", scenario.to_string())];
    for t in r.targets.iter().filter(|_| r.several()) {
        drill.push(("target", t.target.name()));
        fams[3].samples.push((drill.clone(), met(t.verdict)));
        drill.pop();
    }
    for a in r.alerts.iter().flat_map(|a| &a.rules) {
        if let Some(v) = a.to_page_ms {
            fams[5].samples.push((vec![("scenario", scenario.to_string()), ("alert", a.alert.clone())], v / 1e3));
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&r.finished_at) {
        fams[6].samples.push((vec![("scenario", scenario.to_string())], t.timestamp_millis() as f64 / 1e3));
    }
}

/// A service's readers: read RTO, staleness by quantile, reads of lost writes, back in time.
fn add_reads(fams: &mut [Family; 12], base: &[(&'static str, String)], x: &crate::checker::ReadsReport) {
    let with = |extra: Vec<(&'static str, String)>| base.iter().cloned().chain(extra).collect::<Vec<_>>();
    if let Some(v) = x.rto.as_ref().and_then(|r| r.rto_ms) {
        fams[7].samples.push((with(vec![]), v / 1e3));
    }
    let s = &x.staleness;
    for (q, v) in [("0.5", s.p50_ms), ("0.95", s.p95_ms), ("0.99", s.p99_ms), ("1", s.max_ms)] {
        if let Some(v) = v {
            fams[8].samples.push((with(vec![("quantile", q.into())]), v / 1e3));
        }
    }
    if let Some(l) = &x.of_lost_writes {
        fams[9].samples.push((with(vec![]), l.reads as f64));
    }
    fams[10].samples.push((with(vec![]), x.back_in_time.reads as f64));
}

fn met(v: crate::checker::Verdict) -> f64 {
    match v {
        crate::checker::Verdict::Pass => 1.0,
        crate::checker::Verdict::Fail => 0.0,
        crate::checker::Verdict::Unknown | crate::checker::Verdict::Undecided => f64::NAN,
    }
}

fn value(v: f64) -> String {
    if v.is_nan() { "NaN".into() } else { format!("{v}") }
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes `text` to `path` the way the textfile collector wants it: a temporary file in
/// the same folder, then renamed over the old one.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    // readable by the collector's own user
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// PUTs one scenario's metrics to a Pushgateway, replacing its group
/// (`URL/metrics/job/drdrill/scenario/NAME`).
pub async fn push(gateway: &str, scenario: &str, text: &str) -> crate::error::Result<()> {
    let url = format!("{}/metrics/job/drdrill/scenario/{scenario}", gateway.trim_end_matches('/'));
    let http = crate::monitor::Http::new(std::time::Duration::from_secs(10))?;
    let (status, body) = http.call(hyper::Method::PUT, &url, text.as_bytes().to_vec(), Some("text/plain; version=0.0.4")).await?;
    if !(200..300).contains(&status) {
        let first: String = body.chars().take(300).collect();
        return Err(
            crate::error::Error::infra(format!("failed to push the metrics to {url}")).cause_text(format!("status {status}: {first}"))
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_and_alert_is_a_labelled_gauge() {
        let mut r = Results { scenario: "s".into(), rto_ms: Some(1500.0), rpo_ms: Some(0.0), lost_writes: Some(0), ..Default::default() };
        r.finished_at = "2026-11-25T07:00:00Z".into();
        r.targets.push(crate::checker::TargetResult {
            target: "rto_ms".into(),
            limit: Some(1.0),
            actual: Some(1.0),
            verdict: crate::checker::Verdict::Unknown,
            note: String::new(),
        });
        let rule = crate::monitor::AlertRuleReport { alert: "Down\"x".into(), to_page_ms: Some(4200.0), ..Default::default() };
        r.alerts = Some(crate::monitor::AlertsReport { rules: vec![rule], ..Default::default() });
        r.stack.kind = "db".into();
        let sites = BTreeMap::from([("db".to_string(), "dc1".to_string())]);
        let text = metrics_text(&BTreeMap::from([("s".to_string(), (r, sites))]));
        assert!(
            text.contains("# TYPE drdrill_rto_seconds gauge\ndrdrill_rto_seconds{scenario=\"s\",service=\"db\",site=\"dc1\"} 1.5\n"),
            "{text}"
        );
        assert!(text.contains("drdrill_target_met{scenario=\"s\",service=\"db\",site=\"dc1\",target=\"rto_ms\"} NaN"), "{text}");
        assert!(text.contains("drdrill_alert_notify_seconds{scenario=\"s\",alert=\"Down\\\"x\"} 4.2"), "{text}");
        assert!(text.contains("drdrill_last_run_timestamp_seconds{scenario=\"s\"} 1795590000"), "{text}");
        assert!(!text.contains("drdrill_replica_lag_seconds"), "no family without samples: {text}");
        assert!(!text.contains("drdrill_read_rto_seconds"), "no family without samples: {text}");
    }

    #[test]
    fn a_drill_with_readers_reports_their_rto_staleness_and_anomalies() {
        let mut r = Results { scenario: "s".into(), ..Default::default() };
        r.stack.kind = "pg".into();
        let rto: crate::checker::RtoResult = serde_json::from_value(serde_json::json!({"basis": "fault", "outage_ms": 700.0,
            "last_ack_before_outage_ms": 4990.0, "rto_ms": 650.0, "outage_observed": true, "recovered_at_ms": 5650.0,
            "outage_start_ms": 5001.0, "relapses": 0, "from_ms": 5000.0, "longest_gap_ms": 710.0, "longest_gap_start_ms": 4990.0}))
        .unwrap();
        let mut x = crate::checker::ReadsReport { rto: Some(rto), ..Default::default() };
        x.staleness.p99_ms = Some(812.5);
        x.of_lost_writes = Some(crate::checker::LostReads { reads: 3, ..Default::default() });
        x.back_in_time.reads = 2;
        r.reads = Some(x);
        let text = metrics_text(&BTreeMap::from([("s".to_string(), (r, BTreeMap::new()))]));
        for line in [
            "drdrill_read_rto_seconds{scenario=\"s\",service=\"pg\"} 0.65",
            "drdrill_stale_read_seconds{scenario=\"s\",service=\"pg\",quantile=\"0.99\"} 0.8125",
            "drdrill_reads_of_lost_writes{scenario=\"s\",service=\"pg\"} 3",
            "drdrill_reads_back_in_time{scenario=\"s\",service=\"pg\"} 2",
        ] {
            assert!(text.contains(line), "{line} missing: {text}");
        }
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("drdrill.prom");
        write_atomically(&f, "a 1\n").unwrap();
        write_atomically(&f, "b 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "b 2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
