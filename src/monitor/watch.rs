//! Prometheus' and Alertmanager's HTTP APIs polled while the drill runs (GETs only): when
//! each rule's alerts went pending and firing and when they cleared, and when Alertmanager
//! first held each alert. Prometheus' own `activeAt` dates the pending step exactly; what
//! only a poll sees is dated to within one poll.
//!
//! The answers change only when the rules are evaluated, so the polls follow the
//! evaluations: each goes out just after the next evaluation is due (the groups'
//! `lastEvaluation` + `interval`, as Prometheus answered), never sooner than `POLL_MS`
//! after the last, and every `POLL_MS` while the schedule is unknown or Alertmanager has not
//! caught up with what Prometheus fires. An answer is parsed only when it differs from the
//! last one.
use super::http::{Http, data_of};
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

/// How long after an evaluation is due its answer is asked for (the evaluation's own time
/// is added: Prometheus answers with the new state once the group's evaluation is done).
const AFTER_EVALUATION: Duration = Duration::from_millis(50);

/// The last answers, and when the next poll is due.
#[derive(Default)]
struct Answers {
    rules: String,
    alerts: String,
    /// Alert names firing in Prometheus, and held by Alertmanager, as last parsed.
    firing: Vec<String>,
    held: Vec<String>,
    /// The earliest next evaluation of any group (drill ms), as the rules last said.
    next_evaluation_ms: Option<f64>,
}

async fn poll(http: Http, (prom, am): (String, Option<String>), clock: Clock, seen: Arc<Mutex<Observed>>, stop: CancellationToken) {
    let rules_url = format!("{prom}/api/v1/rules?type=alert");
    let alerts_url = am.map(|am| format!("{am}/api/v2/alerts?silenced=false&inhibited=false"));
    let mut last = Answers::default();
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        let polled = tokio::time::Instant::now();
        let now_ms = clock.ms_of(polled.into_std());
        let rules = http.get_body(&rules_url).await;
        let alerts = match &alerts_url {
            Some(url) => Some(http.get_body(url).await),
            None => None,
        };
        let mut o = seen.lock().unwrap_or_else(|p| p.into_inner());
        o.polls += 1;
        match rules {
            Ok(body) if body == last.rules => {}
            Ok(body) => match data_of(&rules_url, &body) {
                Ok(v) => {
                    observe_rules(&mut o, &v, now_ms, &clock);
                    (last.firing, last.next_evaluation_ms) = (firing(&v), next_evaluation_ms(&v, &clock));
                    last.rules = body;
                }
                Err(e) => failed(&mut o, e.one_line()),
            },
            Err(e) => failed(&mut o, e.one_line()),
        }
        match (alerts, &alerts_url) {
            (Some(Ok(body)), _) if body == last.alerts => {}
            (Some(Ok(body)), Some(url)) => match data_of(url, &body) {
                Ok(v) => {
                    last.held = observe_alertmanager(&mut o, &v, std::mem::take(&mut last.held), now_ms);
                    last.alerts = body;
                }
                Err(e) => failed(&mut o, e.one_line()),
            },
            (Some(Err(e)), _) => failed(&mut o, e.one_line()),
            _ => {}
        }
        drop(o);
        // Prometheus sends what it fires and resolves right after the evaluation; until
        // Alertmanager holds exactly that, it is asked every POLL_MS
        let catching_up = alerts_url.is_some() && last.firing != last.held;
        let now = tokio::time::Instant::now();
        next = (now + next_poll_in(last.next_evaluation_ms, clock.ms_of(now.into_std()), catching_up)).max(polled + fast());
    }
}

/// The shortest time between two polls.
fn fast() -> Duration {
    Duration::from_millis(POLL_MS)
}

/// How long until the next poll: just after the next evaluation, at least `POLL_MS` from
/// now; `POLL_MS` when the schedule is unknown or already past, or while Alertmanager has
/// not caught up.
fn next_poll_in(next_evaluation_ms: Option<f64>, now_ms: f64, catching_up: bool) -> Duration {
    let fast = fast();
    match next_evaluation_ms.filter(|&at| at > now_ms && !catching_up) {
        Some(at) => Duration::from_secs_f64((at - now_ms) / 1e3).max(fast),
        None => fast,
    }
}

/// When the next evaluation of any group of a `/api/v1/rules` answer is due, answered
/// (drill ms): its `lastEvaluation` + `interval` + the last evaluation's own time, plus
/// `AFTER_EVALUATION`.
fn next_evaluation_ms(v: &serde_json::Value, clock: &Clock) -> Option<f64> {
    let groups = v.get("groups")?.as_array()?;
    groups
        .iter()
        .filter_map(|g| {
            let last = clock.ms_of_wall(g.get("lastEvaluation")?.as_str()?)?;
            let every_s = g.get("interval")?.as_f64().filter(|i| *i > 0.0)?;
            let took_s = g.get("evaluationTime").and_then(|t| t.as_f64()).unwrap_or(0.0);
            Some(last + (every_s + took_s) * 1e3 + AFTER_EVALUATION.as_secs_f64() * 1e3)
        })
        .reduce(f64::min)
}

/// The names of the alerts a `/api/v1/rules` answer has firing.
fn firing(v: &serde_json::Value) -> Vec<String> {
    let groups = v.get("groups").and_then(|g| g.as_array()).into_iter().flatten();
    let rules = groups.flat_map(|g| g.get("rules").and_then(|r| r.as_array()).into_iter().flatten());
    let mut names: Vec<String> = rules
        .filter(|r| r.get("alerts").and_then(|a| a.as_array()).is_some_and(|a| a.iter().any(|a| text(a, "state") == "firing")))
        .map(|r| text(r, "name"))
        .collect();
    names.sort();
    names.dedup();
    names
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

    #[test]
    fn polls_follow_the_evaluations_and_never_come_faster_than_poll_ms() {
        let clock = Clock::start();
        let wall = |ms: i64| (clock.wall_anchor + chrono::Duration::milliseconds(ms)).to_rfc3339();
        let rules = serde_json::json!({"groups": [
            {"name": "a", "interval": 5.0, "lastEvaluation": wall(1000), "evaluationTime": 0.002, "rules": [
                {"name": "Down", "alerts": [{"state": "firing"}]}, {"name": "Lag", "alerts": [{"state": "pending"}]}]},
            {"name": "b", "interval": 1.0, "lastEvaluation": wall(3000), "evaluationTime": 0.0, "rules": []},
        ]});
        // group b is due again at 4000 ms: asked 50 ms after
        let at = next_evaluation_ms(&rules, &clock).unwrap();
        assert!((at - 4050.0).abs() < 1.0, "{at}");
        assert_eq!(firing(&rules), ["Down"]);
        let ms = Duration::from_millis;
        assert_eq!(next_poll_in(Some(4050.0), 3050.0, false), ms(1000));
        assert_eq!(next_poll_in(Some(4050.0), 4000.0, false), ms(POLL_MS), "never faster than POLL_MS");
        assert_eq!(next_poll_in(Some(4050.0), 4100.0, false), ms(POLL_MS), "an evaluation overdue: polled again soon");
        assert_eq!(next_poll_in(Some(4050.0), 3050.0, true), ms(POLL_MS), "Alertmanager catching up");
        assert_eq!(next_poll_in(None, 3050.0, false), ms(POLL_MS));
        assert_eq!(next_evaluation_ms(&serde_json::json!({"groups": []}), &clock), None);
    }

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
