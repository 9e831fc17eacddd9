//! What drdrill asks one Prometheus once the drill is over (its HTTP API, GETs only): how
//! many series each rule's selectors matched, which metrics were published, since when a
//! rule's expression held, and which exporters it could not scrape.
use super::ScrapeFailed;
use super::http::{Http, encode};
use super::watch::Observed;
use crate::clock::Clock;
use crate::scenario::alert_rules::AlertRules;
use std::collections::BTreeMap;

/// One Prometheus, the rules it runs, on the drill's clock.
pub struct Query<'a> {
    pub http: &'a Http,
    pub prometheus: &'a str,
    pub rules: &'a AlertRules,
    pub clock: &'a Clock,
    pub scrape_interval_ms: u64,
}

impl Query<'_> {
    /// How many series each selector matched from the monitoring's start to now.
    pub async fn series(&self, errors: &mut Vec<String>) -> BTreeMap<String, u64> {
        let start = self.clock.wall_anchor.timestamp() - 600;
        let end = chrono::Utc::now().timestamp() + 1;
        let mut out = BTreeMap::new();
        for sel in self.rules.rules.iter().flat_map(|r| &r.selectors) {
            let url = format!("{}/api/v1/series?match[]={}&start={start}&end={end}", self.prometheus, encode(&sel.text));
            match self.http.get_json(&url).await {
                Ok(v) => {
                    out.insert(sel.text.clone(), v.as_array().map_or(0, |a| a.len() as u64));
                }
                Err(e) => errors.push(e.one_line()),
            }
        }
        out
    }

    pub async fn published(&self, errors: &mut Vec<String>) -> Vec<String> {
        match self.http.get_json(&format!("{}/api/v1/label/__name__/values", self.prometheus)).await {
            Ok(v) => v.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect(),
            Err(e) => {
                errors.push(e.one_line());
                Vec::new()
            }
        }
    }

    /// For each rule that went pending after the fault: since when its expression had been
    /// returning a series without a break up to then (Prometheus' range query from the
    /// drill's start, 100 ms steps): when the first scrape showing the outage landed, or,
    /// before the fault, that the condition already held at steady state.
    pub async fn true_ms(&self, o: &Observed, fault: Option<f64>, errors: &mut Vec<String>) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        let Some(fault) = fault else { return out };
        let wall = |ms: f64| (self.clock.wall_anchor.timestamp_millis() as f64 + ms) / 1e3;
        for rule in &self.rules.rules {
            let Some(e) = o.rules.get(&rule.alert).and_then(|s| s.episodes.iter().find(|e| e.pending_ms >= fault)) else { continue };
            let (start, end) = (wall(0.0), wall(e.pending_ms));
            let step = ((end - start) / 10_000.0).max(0.1);
            let url =
                format!("{}/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step:.3}", self.prometheus, encode(&rule.expr));
            match self.http.get_json(&url).await {
                Ok(v) => {
                    let mut times: Vec<f64> =
                        v.get("result").and_then(|r| r.as_array()).into_iter().flatten().flat_map(sample_times).collect();
                    times.sort_by(f64::total_cmp);
                    if let Some(t) = last_run_start(&times, step) {
                        out.insert(rule.alert.clone(), t * 1e3 - self.clock.wall_anchor.timestamp_millis() as f64);
                    }
                }
                Err(e) => errors.push(e.one_line()),
            }
        }
        out
    }
    /// For each rule firing when the watch ended (its last episode never cleared): the
    /// series its expression still returns now (`instance = value`), an instant query. A
    /// rule whose condition still holds is firing rightly, not stuck.
    pub async fn holds_at_end(&self, o: &Observed, errors: &mut Vec<String>) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for rule in &self.rules.rules {
            let open = o.rules.get(&rule.alert).and_then(|s| s.episodes.last()).is_some_and(|e| e.cleared_ms.is_none());
            if !open {
                continue;
            }
            let url = format!("{}/api/v1/query?query={}", self.prometheus, encode(&rule.expr));
            match self.http.get_json(&url).await {
                Ok(v) => {
                    let series = v.get("result").and_then(|r| r.as_array()).cloned().unwrap_or_default();
                    let held: Vec<String> = series.iter().map(|x| format!("{} = {}", label(x, "instance"), instant_value(x))).collect();
                    out.insert(rule.alert.clone(), held);
                }
                Err(e) => errors.push(e.one_line()),
            }
        }
        out
    }

    /// Every exporter Prometheus failed to scrape (`up == 0`) from the fault on.
    pub async fn scrapes_failed(&self, fault: Option<f64>, end_ms: f64, errors: &mut Vec<String>) -> Vec<ScrapeFailed> {
        let Some(fault) = fault else { return Vec::new() };
        let anchor = self.clock.wall_anchor.timestamp_millis() as f64;
        let mut out = Vec::new();
        let min_step = self.scrape_interval_ms as f64 / 1e3;
        for series in range(self.http, self.prometheus, "up == 0", (anchor, fault, end_ms), min_step, errors).await {
            let label = |k: &str| label(&series, k);
            let times = sample_times(&series);
            if let (Some(first), Some(last)) = (times.first(), times.last()) {
                out.push(ScrapeFailed {
                    job: label("job"),
                    instance: label("instance"),
                    from_ms: first * 1e3 - anchor,
                    to_ms: last * 1e3 - anchor,
                });
            }
        }
        out
    }
}

/// The rules a witness Prometheus at `url` had firing from `from_ms` to `to_ms` (drill
/// ms): each (alert, instance) at its first firing sample, in time order.
pub async fn first_firing(
    http: &Http,
    url: &str,
    clock: &Clock,
    (from_ms, to_ms): (f64, f64),
    errors: &mut Vec<String>,
) -> Vec<(String, String, f64)> {
    let anchor = clock.wall_anchor.timestamp_millis() as f64;
    let mut out = Vec::new();
    for series in range(http, url, "ALERTS{alertstate=\"firing\"}", (anchor, from_ms, to_ms), 0.5, errors).await {
        let label = |k: &str| label(&series, k);
        if let Some(first) = sample_times(&series).into_iter().reduce(f64::min) {
            out.push((label("alertname"), label("instance"), first * 1e3 - anchor));
        }
    }
    out.sort_by(|a, b| a.2.total_cmp(&b.2));
    out
}

/// A range query's series from `from_ms` to `to_ms` (drill ms after the wall `anchor`, in
/// Unix ms), at most 10 000 steps and none finer than `min_step` s; an error is noted.
async fn range(
    http: &Http,
    url: &str,
    q: &str,
    (anchor, from_ms, to_ms): (f64, f64, f64),
    min_step: f64,
    errors: &mut Vec<String>,
) -> Vec<serde_json::Value> {
    let (start, end) = ((anchor + from_ms) / 1e3, (anchor + to_ms) / 1e3);
    let step = ((end - start) / 10_000.0).max(min_step);
    let q = encode(q);
    match http.get_json(&format!("{url}/api/v1/query_range?query={q}&start={start:.3}&end={end:.3}&step={step:.3}")).await {
        Ok(v) => v.get("result").and_then(|r| r.as_array()).cloned().unwrap_or_default(),
        Err(e) => {
            errors.push(e.one_line());
            Vec::new()
        }
    }
}

/// A series' label, or "".
fn label(series: &serde_json::Value, k: &str) -> String {
    series.get("metric").and_then(|m| m.get(k)).and_then(|x| x.as_str()).unwrap_or_default().to_string()
}

/// The times (Unix s) of a range query's series' samples.
fn sample_times(series: &serde_json::Value) -> Vec<f64> {
    let values = series.get("values").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    values.iter().filter_map(|p| p.get(0)?.as_f64()).collect()
}

/// The start of the last unbroken run of sorted sample times `step` apart.
fn last_run_start(times: &[f64], step: f64) -> Option<f64> {
    let mut start = *times.last()?;
    for w in times.windows(2).rev() {
        if w[1] - w[0] > step * 1.5 {
            break;
        }
        start = w[0];
    }
    Some(start)
}

/// An instant query's sample value (`"value": [t, "v"]`) as Prometheus wrote it.
fn instant_value(series: &serde_json::Value) -> String {
    series.get("value").and_then(|v| v.get(1)).and_then(|v| v.as_str()).unwrap_or("?").to_string()
}
