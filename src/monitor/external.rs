//! The users' own monitoring, watched during an external drill through read-only APIs
//! (GETs only; drdrill writes nothing to them): the alerting rules their Prometheus has
//! loaded, its scrape and evaluation intervals, and their Alertmanager's group_wait and
//! group_interval, each read from the running configuration.
use super::http::Http;
use crate::error::{Error, Result};
use crate::scenario::alert_rules::{AlertRule, AlertRules, duration_ms, loaded_selectors};
use crate::scenario::{MonitoringSpec, Timing};

/// The alerting rules the users' Prometheus has loaded (`/api/v1/rules?type=alert`).
pub async fn rules_of(http: &Http, prometheus: &str) -> Result<AlertRules> {
    let v = http.get_json(&format!("{prometheus}/api/v1/rules?type=alert")).await?;
    let mut rules = Vec::new();
    for g in v.get("groups").and_then(|g| g.as_array()).into_iter().flatten() {
        let group = text(g, "name");
        for r in g.get("rules").and_then(|r| r.as_array()).into_iter().flatten() {
            let expr = text(r, "query");
            let for_ms = r.get("duration").and_then(|d| d.as_f64()).map_or(0, |s| (s * 1e3).round() as u64);
            let labels = r
                .get("labels")
                .and_then(|l| l.as_object())
                .map(|l| l.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            let sel = loaded_selectors(&expr);
            rules.push(AlertRule { group: group.clone(), alert: text(r, "name"), expr, for_ms, labels, selectors: sel });
        }
    }
    if rules.is_empty() {
        return Err(Error::infra(format!("failed to find an alerting rule in the users' Prometheus at {prometheus}"))
            .hint("check `monitoring.prometheus_url`: its /api/v1/rules lists no alerting rule"));
    }
    Ok(AlertRules { files: vec![(format!("{prometheus} (its loaded rules)"), Default::default())], rules })
}

/// The timing their Prometheus and Alertmanager run with (each tool's default where its
/// configuration is silent; the scenario's own keys win), and a note for each figure
/// that could not be read.
pub async fn timing_of(http: &Http, spec: &MonitoringSpec) -> (Timing, Vec<String>) {
    let mut notes = Vec::new();
    let prom = config_yaml(http, &format!("{}/api/v1/status/config", spec.prometheus_url.as_deref().unwrap_or_default()), &["yaml"]).await;
    let am = match &spec.alertmanager_url {
        Some(u) => config_yaml(http, &format!("{u}/api/v2/status"), &["config", "original"]).await,
        None => Err("no alertmanager_url".into()),
    };
    let pick =
        |doc: &std::result::Result<serde_norway::Value, String>, path: &[&str], what: &str, notes: &mut Vec<String>| -> Option<u64> {
            match doc {
                Ok(d) => path.iter().try_fold(d, |v, k| v.get(*k)).and_then(|v| v.as_str()).and_then(duration_ms),
                Err(e) => {
                    notes.push(format!("{what}: not read ({e}); the tool's default assumed"));
                    None
                }
            }
        };
    let scrape = pick(&prom, &["global", "scrape_interval"], "scrape_interval", &mut notes);
    let eval = pick(&prom, &["global", "evaluation_interval"], "evaluation_interval", &mut notes);
    let wait = pick(&am, &["route", "group_wait"], "group_wait", &mut notes);
    let interval = pick(&am, &["route", "group_interval"], "group_interval", &mut notes);
    notes.dedup();
    let read = MonitoringSpec {
        scrape_interval_ms: spec.scrape_interval_ms.or(scrape),
        evaluation_interval_ms: spec.evaluation_interval_ms.or(eval),
        group_wait_ms: spec.group_wait_ms.or(wait),
        group_interval_ms: spec.group_interval_ms.or(interval),
        ..spec.clone()
    };
    (read.timing(), notes)
}

/// A YAML document held as a string inside a JSON answer (`{"data": {"yaml": "..."}}`).
async fn config_yaml(http: &Http, url: &str, path: &[&str]) -> std::result::Result<serde_norway::Value, String> {
    let v = http.get_json(url).await.map_err(|e| e.one_line())?;
    let text =
        path.iter().try_fold(&v, |v, k| v.get(*k)).and_then(|v| v.as_str()).ok_or_else(|| format!("no {} in {url}", path.join(".")))?;
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_string()
}
