//! The drill's monitoring from start to report: the webhook and the containers started
//! with the stack, the watch started with the workload, the wait for alerts to resolve
//! once the drill is over, and every rule judged.
use super::cuts::{Cuts, could_not_page};
use super::deploy::{self, Deployed, Plan, Target};
use super::http::Http;
use super::judge::{FaultAt, Seen, judge};
use super::queries::Query;
use super::receiver::Receiver;
use super::watch::{Observed, POLL_MS, Watch, merge};
use super::webhook::Webhook;
use super::{AlertsReport, DarkSite, Notification, ScrapeFailed, WitnessFiring};
use crate::clock::Clock;
use crate::error::Result;
use crate::scenario::alert_rules::AlertRules;
use crate::scenario::{MonitoringSpec, Timing};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub struct Monitor {
    deployed: Deployed,
    receiver: Receiver,
    /// Monitoring placed in sites: what a site fault does to it.
    cuts: Option<Cuts>,
    http: Http,
    spec: MonitoringSpec,
    rules: AlertRules,
    /// (metric prefix, exporter) of every exporter scraped.
    exporters: Vec<(&'static str, &'static str)>,
    /// (scrape job, metric prefix) of every exporter.
    jobs: Vec<(&'static str, &'static str)>,
    /// One watch per Prometheus.
    watch: Mutex<Vec<Watch>>,
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
        let (deployed, receiver, cuts) = if plan.spec.placed_in().is_empty() {
            let webhook = Webhook::start().await?;
            let deployed = deploy::start(plan, targets, &webhook.url()).await?;
            (deployed, Receiver::InProcess(Mutex::new(Some(webhook))), None)
        } else {
            let deployed = super::placed::start(plan, targets).await?;
            let pager = Receiver::Pager { url: deployed.pager_url.clone().unwrap_or_default(), last: Mutex::new(Vec::new()) };
            let cuts = Cuts::new(plan.docker.clone(), deployed.members.clone());
            (deployed, pager, Some(cuts))
        };
        let mut exporters: Vec<(&'static str, &'static str)> = targets.iter().map(|t| (t.exporter.prefix, t.exporter.name)).collect();
        exporters.sort();
        exporters.dedup();
        let mut jobs: Vec<(&'static str, &'static str)> = targets.iter().map(|t| (t.exporter.job, t.exporter.prefix)).collect();
        jobs.sort();
        jobs.dedup();
        Ok(Monitor {
            deployed,
            receiver,
            cuts,
            http: Http::new(Duration::from_secs(5))?,
            spec: plan.spec.clone(),
            rules,
            exporters,
            jobs,
            watch: Mutex::new(Vec::new()),
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
            deployed: Deployed {
                prometheus_url,
                alertmanager_url,
                sites: Vec::new(),
                exporters: Vec::new(),
                pager_url: None,
                members: Vec::new(),
                witnesses: Vec::new(),
            },
            receiver: Receiver::None,
            cuts: None,
            http,
            spec: spec.clone(),
            rules,
            exporters: Vec::new(),
            jobs: Vec::new(),
            watch: Mutex::new(Vec::new()),
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
        let rules =
            format!("{} rules from {}; exporters: {}", self.rules.rules.len(), self.rules_files(), self.deployed.exporters.join(", "));
        let receiver = self.receiver.url();
        if !self.deployed.sites.is_empty() {
            let mut lines: Vec<String> =
                self.deployed.sites.iter().map(|(site, prom, am)| format!("in {site}: Prometheus {prom}, Alertmanager {am}")).collect();
            lines.push(format!(
                "scrape every {} ms, rules evaluated every {} ms, group_wait {} ms, group_interval {} ms; pages go to the pager outside every site ({receiver})",
                t.scrape_interval_ms, t.evaluation_interval_ms, t.group_wait_ms, t.group_interval_ms
            ));
            lines.push(rules);
            return lines;
        }
        vec![
            format!(
                "Prometheus {} (scrape every {} ms, rules evaluated every {} ms)",
                self.deployed.prometheus_url, t.scrape_interval_ms, t.evaluation_interval_ms
            ),
            format!(
                "Alertmanager {} (group_wait {} ms, group_interval {} ms) -> {receiver}",
                self.deployed.alertmanager_url, t.group_wait_ms, t.group_interval_ms
            ),
            rules,
        ]
    }

    /// Starts polling each Prometheus and Alertmanager on the drill's clock.
    pub fn watch(&self, clock: Clock) {
        let _ = self.clock.set(clock);
        let mut watches = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        for (_, prom, am) in self.deployed.pairs() {
            let am = Some(am).filter(|u| !u.is_empty());
            watches.push(Watch::start(self.http.clone(), prom, am, clock));
        }
    }

    /// What every watch saw so far, as one.
    fn seen(&self) -> Option<Observed> {
        let watches = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        (!watches.is_empty()).then(|| merge(watches.iter().map(|w| w.now()).collect()))
    }

    /// Waits, at most `settle_ms`, until no alert that fired is still firing or owed its
    /// resolved notification. Returns whether everything settled.
    pub async fn settle(&self) -> bool {
        let bound = std::time::Instant::now() + Duration::from_millis(self.timing().settle_ms);
        loop {
            let Some(seen) = self.seen() else { return true };
            if settled(&seen, &self.notifications(&seen).await) {
                return true;
            }
            if std::time::Instant::now() >= bound {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
        }
    }

    /// Every notification the receiver got, on the drill's clock; with the users' own
    /// Alertmanager, each time it was first seen holding an alert (firing) and no longer
    /// holding it (resolved).
    async fn notifications(&self, seen: &Observed) -> Vec<Notification> {
        if self.spec.is_external() {
            return super::watch::held(seen);
        }
        let Some(clock) = self.clock.get() else { return Vec::new() };
        let received = self.receiver.received(&self.http).await;
        received
            .into_iter()
            .map(|r| Notification {
                at_ms: match r.at {
                    Some(at) => clock.ms_of(at),
                    None => clock.ns_at_wall(r.wall_ns).map_or(-1.0, crate::clock::ms),
                },
                alert: r.labels.get("alertname").cloned().unwrap_or_default(),
                status: r.status,
                starts_ms: clock.ms_of_wall(&r.starts_at),
                labels: r.labels,
            })
            .collect()
    }

    /// A site fault acting on the monitoring placed in sites (`cuts.rs`): `healing` false
    /// as it is injected, true as it is healed.
    pub async fn site_fault(&self, index: usize, kind: crate::scenario::FaultKind, site: &str, healing: bool) -> Result<()> {
        let Some(cuts) = &self.cuts else { return Ok(()) };
        let now = self.clock.get().map_or(0.0, |c| c.ms_of(std::time::Instant::now()));
        match (kind, healing) {
            (crate::scenario::FaultKind::IsolateSite, false) => cuts.isolate(index, site, now).await,
            (crate::scenario::FaultKind::IsolateSite, true) => {
                cuts.heal(index, now).await;
                Ok(())
            }
            (crate::scenario::FaultKind::KillSite, false) => {
                cuts.kill(index, site, now).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Every cut still in effect taken out (the drill's faults healed).
    pub async fn heal_cuts(&self) {
        if let Some(cuts) = &self.cuts {
            cuts.heal_all(self.clock.get().map_or(0.0, |c| c.ms_of(std::time::Instant::now()))).await;
        }
    }

    /// Where the monitoring stood, when its sites went dark, and when nothing could page.
    fn dark_sites(&self, end_ms: f64) -> (Vec<DarkSite>, Vec<(f64, f64)>) {
        let Some(cuts) = &self.cuts else { return (Vec::new(), Vec::new()) };
        let dark = cuts.dark();
        let none = could_not_page(&dark, &self.spec.placed_in(), end_ms);
        (dark, none)
    }

    /// While nothing could page: what each witness Prometheus had firing.
    async fn witnessed(&self, dark: &[(f64, f64)], clock: &Clock, errors: &mut Vec<String>) -> Vec<WitnessFiring> {
        let mut out = Vec::new();
        for (from, to) in dark {
            for (site, url) in &self.deployed.witnesses {
                for (alert, instance, firing_ms) in super::queries::first_firing(&self.http, url, clock, (*from, *to), errors).await {
                    out.push(WitnessFiring { site: site.clone(), alert, instance, firing_ms });
                }
            }
        }
        out
    }

    /// Stops the watch and judges every rule.
    pub async fn report(&self, faults: &[FaultAt], recovered_ms: Option<f64>, down_nodes: &[String]) -> AlertsReport {
        let watches = std::mem::take(&mut *self.watch.lock().unwrap_or_else(|p| p.into_inner()));
        let observed = merge(futures_util::future::join_all(watches.into_iter().map(|w| w.stop())).await);
        let clock = self.clock.get().copied().unwrap_or_else(Clock::start);
        let end_ms = clock.ms_of(std::time::Instant::now());
        let notifications = self.notifications(&observed).await;
        let mut errors = observed.errors.clone();
        let q = Query {
            http: &self.http,
            prometheus: &self.deployed.prometheus_url,
            rules: &self.rules,
            clock: &clock,
            scrape_interval_ms: self.timing().scrape_interval_ms,
        };
        let series = q.series(&mut errors).await;
        let published = q.published(&mut errors).await;
        let fault = faults.iter().filter(|f| !f.planned).map(|f| f.at_ms).reduce(f64::min);
        let (true_ms, holds_at_end) = (q.true_ms(&observed, fault, &mut errors).await, q.holds_at_end(&observed, &mut errors).await);
        let scrapes_failed = q.scrapes_failed(fault, end_ms, &mut errors).await;
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
            holds_at_end: &holds_at_end,
            exporters: &self.exporters,
            published: &published,
            scrapes_failed: &silenced,
            external: self.spec.is_external(),
        };
        let rules = self.rules.rules.iter().map(|r| judge(r, &seen)).collect();
        let (dark_sites, could_not_page) = self.dark_sites(end_ms);
        let would_have_paged = self.witnessed(&could_not_page, &clock, &mut errors).await;
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
            placed_in: self.spec.placed_in(),
            dark_sites,
            could_not_page,
            would_have_paged,
            poll_ms: POLL_MS,
            polls: observed.polls,
            failed_polls: observed.failed_polls,
            false_pages: Vec::new(),
        }
    }

    /// The rules files as the scenario names them.
    fn rules_files(&self) -> String {
        self.rules.files.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Closes the webhook's port.
    pub async fn stop(&self) {
        self.receiver.stop().await;
    }
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
