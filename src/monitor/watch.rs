//! Prometheus' and Alertmanager's HTTP APIs polled every 200 ms while the drill runs (GETs
//! only): when each rule's alerts went pending and firing and when they cleared, and when
//! Alertmanager first held each alert. Prometheus' own `activeAt` dates the pending step
//! exactly; what only a poll sees is dated to within one poll.
use super::http::Http;
use crate::clock::Clock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const POLL_MS: u64 = 200;

/// One stretch during which a rule had at least one alert pending or firing (drill ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Episode {
    /// Prometheus' `activeAt` of its first alert: the evaluation that made it pending.
    pub pending_ms: f64,
    /// First poll that saw one of its alerts firing.
    pub firing_seen_ms: Option<f64>,
    /// First poll that saw no alert of the rule any more.
    pub cleared_ms: Option<f64>,
    /// The `instance` labels of its alerts.
    pub instances: Vec<String>,
}

/// What the polls saw of one rule.
#[derive(Debug, Clone, Default)]
pub struct RuleSeen {
    pub episodes: Vec<Episode>,
    /// Prometheus' `health` and `lastError` of the rule's last evaluation.
    pub health: String,
    pub last_error: String,
}

/// What the polls saw, by alert name.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub rules: BTreeMap<String, RuleSeen>,
    /// Each time Alertmanager was first seen holding an alert of that name (drill ms) …
    pub alertmanager: BTreeMap<String, Vec<f64>>,
    /// … and each time it was first seen no longer holding it.
    pub alertmanager_gone: BTreeMap<String, Vec<f64>>,
    pub errors: Vec<String>,
    /// Polls made, and polls that failed.
    pub polls: u64,
    pub failed_polls: u64,
}

pub struct Watch {
    stop: CancellationToken,
    seen: Arc<Mutex<Observed>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    pub fn start(http: Http, prometheus: String, alertmanager: Option<String>, clock: Clock) -> Watch {
        let stop = CancellationToken::new();
        let seen = Arc::new(Mutex::new(Observed::default()));
        let task = tokio::spawn(poll(http, (prometheus, alertmanager), clock, seen.clone(), stop.clone()));
        Watch { stop, seen, task }
    }

    /// What was seen so far.
    pub fn now(&self) -> Observed {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops polling; what was seen.
    pub async fn stop(mut self) -> Observed {
        self.stop.cancel();
        let _ = (&mut self.task).await;
        self.now()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn poll(http: Http, (prom, am): (String, Option<String>), clock: Clock, seen: Arc<Mutex<Observed>>, stop: CancellationToken) {
    let mut held: Vec<String> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(POLL_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now_ms = clock.ms_of(std::time::Instant::now());
        let rules = http.get_json(&format!("{prom}/api/v1/rules?type=alert")).await;
        let alerts = match &am {
            Some(am) => Some(http.get_json(&format!("{am}/api/v2/alerts?silenced=false&inhibited=false")).await),
            None => None,
        };
        let mut o = seen.lock().unwrap_or_else(|p| p.into_inner());
        o.polls += 1;
        match rules {
            Ok(v) => observe_rules(&mut o, &v, now_ms, &clock),
            Err(e) => failed(&mut o, e.one_line()),
        }
        match alerts {
            Some(Ok(v)) => held = observe_alertmanager(&mut o, &v, held, now_ms),
            Some(Err(e)) => failed(&mut o, e.one_line()),
            None => {}
        }
    }
}

/// What several Prometheus saw (monitoring in several sites), as one: each rule's
/// episodes that overlap merged, the earliest of each step kept.
pub fn merge(all: Vec<Observed>) -> Observed {
    let mut out = Observed::default();
    for o in all {
        for (name, seen) in o.rules {
            let r = out.rules.entry(name).or_default();
            if r.health.is_empty() || seen.health != "ok" {
                (r.health, r.last_error) = (seen.health, seen.last_error);
            }
            r.episodes.extend(seen.episodes);
        }
        for (name, times) in o.alertmanager {
            out.alertmanager.entry(name).or_default().extend(times);
        }
        for (name, times) in o.alertmanager_gone {
            out.alertmanager_gone.entry(name).or_default().extend(times);
        }
        out.errors.extend(o.errors);
        out.polls += o.polls;
        out.failed_polls += o.failed_polls;
    }
    for r in out.rules.values_mut() {
        r.episodes = merge_episodes(std::mem::take(&mut r.episodes));
    }
    out
}

fn merge_episodes(mut list: Vec<Episode>) -> Vec<Episode> {
    list.sort_by(|a, b| a.pending_ms.total_cmp(&b.pending_ms));
    let mut out: Vec<Episode> = Vec::new();
    for e in list {
        match out.last_mut().filter(|last| last.cleared_ms.is_none_or(|c| e.pending_ms <= c)) {
            Some(last) => {
                last.firing_seen_ms = [last.firing_seen_ms, e.firing_seen_ms].into_iter().flatten().reduce(f64::min);
                last.cleared_ms = last.cleared_ms.zip(e.cleared_ms).map(|(a, b)| a.max(b));
                for i in e.instances {
                    if !last.instances.contains(&i) {
                        last.instances.push(i);
                    }
                }
            }
            None => out.push(e),
        }
    }
    out
}

fn failed(o: &mut Observed, e: String) {
    o.failed_polls += 1;
    if o.errors.len() < 5 && !o.errors.contains(&e) {
        o.errors.push(e);
    }
}

/// One answer of `/api/v1/rules?type=alert` folded into what was seen.
pub fn observe_rules(o: &mut Observed, v: &serde_json::Value, now_ms: f64, clock: &Clock) {
    let groups = v.get("groups").and_then(|g| g.as_array()).cloned().unwrap_or_default();
    for rule in groups.iter().flat_map(|g| g.get("rules").and_then(|r| r.as_array()).cloned().unwrap_or_default()) {
        let name = text(&rule, "name");
        let seen = o.rules.entry(name).or_default();
        seen.health = text(&rule, "health");
        seen.last_error = text(&rule, "lastError");
        let alerts = rule.get("alerts").and_then(|a| a.as_array()).cloned().unwrap_or_default();
        let open = seen.episodes.last_mut().filter(|e| e.cleared_ms.is_none());
        match (alerts.is_empty(), open) {
            (true, Some(e)) => e.cleared_ms = Some(now_ms),
            (true, None) => {}
            (false, open) => {
                let active_at = alerts.iter().filter_map(|a| clock.ms_of_wall(&text(a, "activeAt"))).fold(f64::INFINITY, f64::min);
                let e = match open {
                    Some(e) => e,
                    None => {
                        let pending_ms = if active_at.is_finite() { active_at } else { now_ms };
                        seen.episodes.push(Episode { pending_ms, ..Default::default() });
                        seen.episodes.last_mut().expect("just pushed")
                    }
                };
                if e.firing_seen_ms.is_none() && alerts.iter().any(|a| text(a, "state") == "firing") {
                    e.firing_seen_ms = Some(now_ms);
                }
                for a in &alerts {
                    let inst = a.get("labels").map(|l| text(l, "instance")).unwrap_or_default();
                    if !e.instances.contains(&inst) {
                        e.instances.push(inst);
                    }
                }
            }
        }
    }
}

/// Alertmanager's `/api/v2/alerts`: the alert names it holds now, each newly held one noted.
fn observe_alertmanager(o: &mut Observed, v: &serde_json::Value, before: Vec<String>, now_ms: f64) -> Vec<String> {
    let mut now: Vec<String> = v.as_array().into_iter().flatten().filter_map(|a| a.get("labels").map(|l| text(l, "alertname"))).collect();
    now.sort();
    now.dedup();
    for name in now.iter().filter(|n| !before.contains(n)) {
        o.alertmanager.entry(name.clone()).or_default().push(now_ms);
    }
    for name in before.iter().filter(|n| !now.contains(n)) {
        o.alertmanager_gone.entry(name.clone()).or_default().push(now_ms);
    }
    now
}

/// What Alertmanager was seen holding, as notifications: firing when it first held an
/// alert, resolved when it no longer did (the users' own receivers are theirs to see).
pub fn held(o: &Observed) -> Vec<super::Notification> {
    let mut out = Vec::new();
    for (status, map) in [("firing", &o.alertmanager), ("resolved", &o.alertmanager_gone)] {
        for (alert, times) in map {
            for t in times {
                out.push(super::Notification { at_ms: *t, alert: alert.clone(), status: status.into(), ..Default::default() });
            }
        }
    }
    out.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    out
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(pending: f64, firing: Option<f64>, cleared: Option<f64>, inst: &str) -> Episode {
        Episode { pending_ms: pending, firing_seen_ms: firing, cleared_ms: cleared, instances: vec![inst.into()] }
    }

    #[test]
    fn two_prometheus_seeing_one_outage_make_one_episode_with_the_earliest_steps() {
        let one = |e: Vec<Episode>| {
            let mut o = Observed { polls: 3, ..Default::default() };
            o.rules.insert("Down".into(), RuleSeen { episodes: e, health: "ok".into(), last_error: String::new() });
            o
        };
        let a = one(vec![ep(1000.0, Some(3000.0), Some(9000.0), "pg-1"), ep(20_000.0, None, Some(21_000.0), "pg-1")]);
        let b = one(vec![ep(1500.0, Some(2500.0), Some(8000.0), "pg-2")]);
        let m = merge(vec![a, b]);
        let eps = &m.rules["Down"].episodes;
        assert_eq!(eps.len(), 2, "{eps:?}");
        assert_eq!(
            eps[0],
            Episode {
                pending_ms: 1000.0,
                firing_seen_ms: Some(2500.0),
                cleared_ms: Some(9000.0),
                instances: vec!["pg-1".into(), "pg-2".into()]
            }
        );
        assert_eq!(eps[1].pending_ms, 20_000.0);
        assert_eq!(m.polls, 6);
    }
}
