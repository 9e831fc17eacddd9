//! The drill's monitoring from start to report: the webhook and the containers started
//! with the stack, the watch started with the workload, the wait for alerts to resolve
//! once the drill is over, and every rule judged.
use super::deploy::{self, Deployed, Plan, Target};
use super::http::{Http, encode};
use super::judge::{FaultAt, Seen, judge};
use super::watch::{Observed, POLL_MS, Watch};
use super::webhook::Webhook;
use super::{AlertsReport, Notification, ScrapeFailed};
use crate::clock::Clock;
use crate::error::Result;
use crate::scenario::alert_rules::AlertRules;
use crate::scenario::{MonitoringSpec, Timing};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub struct Monitor {
    deployed: Deployed,
    webhook: Mutex<Option<Webhook>>,
    http: Http,
    spec: MonitoringSpec,
    rules: AlertRules,
    /// (metric prefix, exporter) of every exporter scraped.
    exporters: Vec<(&'static str, &'static str)>,
    /// (scrape job, metric prefix) of every exporter.
    jobs: Vec<(&'static str, &'static str)>,
    watch: Mutex<Option<Watch>>,
    clock: OnceLock<Clock>,
    /// The timing in effect: the scenario's, or, for the users' own monitoring, what
    /// their configuration says (with a note for each figure that could not be read).
    timing: Timing,
    notes: Vec<String>,
}

impl Monitor {
    /// Starts the webhook, then the exporters, Alertmanager and Prometheus; returns once
    /// Prometheus has scraped every exporter.
    pub async fn start(plan: &Plan<'_>, targets: &[Target], rules: AlertRules) -> Result<Monitor> {
        let webhook = Webhook::start().await?;
        let deployed = deploy::start(plan, targets, &webhook.url()).await?;
        let mut exporters: Vec<(&'static str, &'static str)> = targets.iter().map(|t| (t.exporter.prefix, t.exporter.name)).collect();
        exporters.sort();
        exporters.dedup();
        let mut jobs: Vec<(&'static str, &'static str)> = targets.iter().map(|t| (t.exporter.job, t.exporter.prefix)).collect();
        jobs.sort();
        jobs.dedup();
        Ok(Monitor {
            deployed,
            webhook: Mutex::new(Some(webhook)),
            http: Http::new(Duration::from_secs(5))?,
            spec: plan.spec.clone(),
            rules,
            exporters,
            jobs,
            watch: Mutex::new(None),
            clock: OnceLock::new(),
            timing: plan.spec.timing(),
            notes: Vec::new(),
        })
    }

    /// Watches the users' own Prometheus (and Alertmanager, when given) during an external
    /// drill: their loaded rules and their configured timing; nothing is started.
    pub async fn attach(spec: &MonitoringSpec) -> Result<Monitor> {
        let http = Http::new(Duration::from_secs(5))?;
        let prometheus_url = spec.prometheus_url.clone().unwrap_or_default().trim_end_matches('/').to_string();
        let alertmanager_url = spec.alertmanager_url.clone().unwrap_or_default().trim_end_matches('/').to_string();
        let rules = super::external::rules_of(&http, &prometheus_url).await?;
        let (timing, notes) = super::external::timing_of(&http, spec).await;
        Ok(Monitor {
            deployed: Deployed { prometheus_url, alertmanager_url, exporters: Vec::new() },
            webhook: Mutex::new(None),
            http,
            spec: spec.clone(),
            rules,
            exporters: Vec::new(),
            jobs: Vec::new(),
            watch: Mutex::new(None),
            clock: OnceLock::new(),
            timing,
            notes,
        })
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// What the terminal says about it once it runs.
    pub fn describe(&self) -> Vec<String> {
        let t = self.timing();
        if self.spec.is_external() {
            let am = if self.deployed.alertmanager_url.is_empty() {
                "no Alertmanager given".to_string()
            } else {
                self.deployed.alertmanager_url.clone()
            };
            let mut lines = vec![
                format!(
                    "the users' Prometheus {} (read-only; scrape every {} ms, rules evaluated every {} ms)",
                    self.deployed.prometheus_url, t.scrape_interval_ms, t.evaluation_interval_ms
                ),
                format!(
                    "the users' Alertmanager {am} (read-only; group_wait {} ms): an alert it holds counts as notified",
                    t.group_wait_ms
                ),
                format!("{} alerting rules loaded there", self.rules.rules.len()),
            ];
            lines.extend(self.notes.iter().cloned());
            return lines;
        }
        let webhook = self.webhook.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.url()).unwrap_or_default();
        vec![
            format!(
                "Prometheus {} (scrape every {} ms, rules evaluated every {} ms)",
                self.deployed.prometheus_url, t.scrape_interval_ms, t.evaluation_interval_ms
            ),
            format!(
                "Alertmanager {} (group_wait {} ms, group_interval {} ms) -> {webhook}",
                self.deployed.alertmanager_url, t.group_wait_ms, t.group_interval_ms
            ),
            format!("{} rules from {}; exporters: {}", self.rules.rules.len(), self.rules_files(), self.deployed.exporters.join(", ")),
        ]
    }

    /// Starts polling Prometheus and Alertmanager on the drill's clock.
    pub fn watch(&self, clock: Clock) {
        let _ = self.clock.set(clock);
        let am = Some(self.deployed.alertmanager_url.clone()).filter(|u| !u.is_empty());
        let w = Watch::start(self.http.clone(), self.deployed.prometheus_url.clone(), am, clock);
        *self.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(w);
    }

    /// Waits, at most `settle_ms`, until no alert that fired is still firing or owed its
    /// resolved notification. Returns whether everything settled.
    pub async fn settle(&self) -> bool {
        let bound = std::time::Instant::now() + Duration::from_millis(self.timing().settle_ms);
        loop {
            let seen = self.watch.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.now());
            let Some(seen) = seen else { return true };
            if settled(&seen, &self.notifications(&seen)) {
                return true;
            }
            if std::time::Instant::now() >= bound {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
        }
    }

    /// Every notification the webhook received, on the drill's clock; with the users' own
    /// Alertmanager, each time it was first seen holding an alert (firing) and no longer
    /// holding it (resolved).
    fn notifications(&self, seen: &Observed) -> Vec<Notification> {
        if self.spec.is_external() {
            return super::watch::held(seen);
        }
        let Some(clock) = self.clock.get() else { return Vec::new() };
        let received = self.webhook.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.received()).unwrap_or_default();
        received
            .into_iter()
            .map(|r| Notification {
                at_ms: clock.ms_of(r.at),
                alert: r.labels.get("alertname").cloned().unwrap_or_default(),
                status: r.status,
                starts_ms: clock.ms_of_wall(&r.starts_at),
                labels: r.labels,
            })
            .collect()
    }

    /// Stops the watch and judges every rule.
    pub async fn report(&self, faults: &[FaultAt], recovered_ms: Option<f64>, down_nodes: &[String]) -> AlertsReport {
        let watch = self.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
        let observed = match watch {
            Some(w) => w.stop().await,
            None => Observed::default(),
        };
        let clock = self.clock.get().copied().unwrap_or_else(Clock::start);
        let end_ms = clock.ms_of(std::time::Instant::now());
        let notifications = self.notifications(&observed);
        let mut errors = observed.errors.clone();
        let series = self.series(&clock, &mut errors).await;
        let published = self.published(&mut errors).await;
        let fault = faults.iter().filter(|f| !f.planned).map(|f| f.at_ms).reduce(f64::min);
        let true_ms = self.true_ms(&clock, &observed, fault, &mut errors).await;
        let scrapes_failed = self.scrapes_failed(&clock, fault, end_ms, &mut errors).await;
        let silenced: Vec<(&str, &ScrapeFailed)> =
            scrapes_failed.iter().filter_map(|d| self.jobs.iter().find(|(j, _)| *j == d.job).map(|(_, p)| (*p, d))).collect();
        let seen = Seen {
            observed: &observed,
            notifications: &notifications,
            faults,
            recovered_ms,
            down_nodes,
            end_ms,
            timing: self.timing(),
            series: &series,
            true_ms: &true_ms,
            exporters: &self.exporters,
            published: &published,
            scrapes_failed: &silenced,
            external: self.spec.is_external(),
        };
        let rules = self.rules.rules.iter().map(|r| judge(r, &seen)).collect();
        AlertsReport {
            source: if self.spec.is_external() { "users".into() } else { "drill".into() },
            notes: self.notes.clone(),
            rules_file: self.rules_files(),
            settings: self.timing().into(),
            exporters: self.deployed.exporters.clone(),
            rules,
            notifications,
            errors,
            scrapes_failed,
            poll_ms: POLL_MS,
            polls: observed.polls,
            failed_polls: observed.failed_polls,
        }
    }

    /// The rules files as the scenario names them.
    fn rules_files(&self) -> String {
        self.rules.files.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Closes the webhook's port.
    pub async fn stop(&self) {
        let w = self.webhook.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = w {
            w.stop().await;
        }
    }

    /// How many series each selector matched from the monitoring's start to now.
    async fn series(&self, clock: &Clock, errors: &mut Vec<String>) -> BTreeMap<String, u64> {
        let start = clock.wall_anchor.timestamp() - 600;
        let end = chrono::Utc::now().timestamp() + 1;
        let mut out = BTreeMap::new();
        for sel in self.rules.rules.iter().flat_map(|r| &r.selectors) {
            let url = format!("{}/api/v1/series?match[]={}&start={start}&end={end}", self.deployed.prometheus_url, encode(&sel.text));
            match self.http.get_json(&url).await {
                Ok(v) => {
                    out.insert(sel.text.clone(), v.as_array().map_or(0, |a| a.len() as u64));
                }
                Err(e) => errors.push(e.one_line()),
            }
        }
        out
    }

    async fn published(&self, errors: &mut Vec<String>) -> Vec<String> {
        match self.http.get_json(&format!("{}/api/v1/label/__name__/values", self.deployed.prometheus_url)).await {
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
    async fn true_ms(&self, clock: &Clock, o: &Observed, fault: Option<f64>, errors: &mut Vec<String>) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        let Some(fault) = fault else { return out };
        let wall = |ms: f64| (clock.wall_anchor.timestamp_millis() as f64 + ms) / 1e3;
        for rule in &self.rules.rules {
            let Some(e) = o.rules.get(&rule.alert).and_then(|s| s.episodes.iter().find(|e| e.pending_ms >= fault)) else { continue };
            let (start, end) = (wall(0.0), wall(e.pending_ms));
            let step = ((end - start) / 10_000.0).max(0.1);
            let url = format!(
                "{}/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step:.3}",
                self.deployed.prometheus_url,
                encode(&rule.expr)
            );
            match self.http.get_json(&url).await {
                Ok(v) => {
                    let mut times: Vec<f64> =
                        v.get("result").and_then(|r| r.as_array()).into_iter().flatten().flat_map(sample_times).collect();
                    times.sort_by(f64::total_cmp);
                    if let Some(t) = last_run_start(&times, step) {
                        out.insert(rule.alert.clone(), t * 1e3 - clock.wall_anchor.timestamp_millis() as f64);
                    }
                }
                Err(e) => errors.push(e.one_line()),
            }
        }
        out
    }
}

impl Monitor {
    /// Every exporter Prometheus failed to scrape (`up == 0`) from the fault on.
    async fn scrapes_failed(&self, clock: &Clock, fault: Option<f64>, end_ms: f64, errors: &mut Vec<String>) -> Vec<ScrapeFailed> {
        let Some(fault) = fault else { return Vec::new() };
        let anchor = clock.wall_anchor.timestamp_millis() as f64;
        let (start, end) = ((anchor + fault) / 1e3, (anchor + end_ms) / 1e3);
        let step = ((end - start) / 10_000.0).max(self.timing().scrape_interval_ms as f64 / 1e3);
        let url = format!(
            "{}/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step:.3}",
            self.deployed.prometheus_url,
            encode("up == 0")
        );
        let v = match self.http.get_json(&url).await {
            Ok(v) => v,
            Err(e) => {
                errors.push(e.one_line());
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for series in v.get("result").and_then(|r| r.as_array()).into_iter().flatten() {
            let label = |k: &str| series.get("metric").and_then(|m| m.get(k)).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            let times: Vec<f64> =
                series.get("values").and_then(|v| v.as_array()).into_iter().flatten().filter_map(|p| p.get(0)?.as_f64()).collect();
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

/// No alert that fired is still firing, and each one's last notification is a resolved one.
fn settled(o: &Observed, notes: &[Notification]) -> bool {
    let firing = o.rules.values().any(|r| r.episodes.last().is_some_and(|e| e.cleared_ms.is_none() && e.firing_seen_ms.is_some()));
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for n in notes {
        last.insert(&n.alert, &n.status);
    }
    !firing && last.values().all(|s| *s == "resolved")
}
