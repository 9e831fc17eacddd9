//! `monitoring` and the alert targets checked once for the whole drill (they are drill-wide
//! in a scenario of several services): the timing ranges, which monitoring a stack can
//! have, and that every alert a target names is a rule of the rules file.
use super::alert_rules::AlertRules;
use super::locate::Problem;
use super::locate::Seg::{self, Key, Name};
use super::model::*;
use super::services::ServicePlan;

/// Every problem of `monitoring` and of the services' alert targets.
pub fn validate(sc: &Scenario, services: &[ServicePlan], rules: Option<&AlertRules>) -> Vec<Problem> {
    let mut p = Vec::new();
    let several = services.first().is_some_and(|s| s.tagged);
    let targets_at = |svc: &str| -> Vec<Seg> {
        if several { vec![Key("services"), Name(svc.to_string()), Key("targets")] } else { vec![Key("targets")] }
    };
    match &sc.monitoring {
        Some(m) => spec_problems(sc, m, &mut p),
        None => {
            for s in services.iter().filter(|s| !s.view.targets.alerts.is_empty() || !s.view.targets.no_alert.is_empty()) {
                let key = if s.view.targets.alerts.is_empty() { "no_alert" } else { "alerts" };
                let at = targets_at(&s.name).into_iter().chain([Key(key)]).collect();
                p.push((at, "alert targets need `monitoring` (the rules to watch and how)".into()));
            }
        }
    }
    let Some(rules) = rules else { return p };
    let known: Vec<&str> = rules.rules.iter().map(|r| r.alert.as_str()).collect();
    for s in services {
        let t = &s.view.targets;
        for name in t.alerts.keys() {
            if let Some(why) = unknown(name, &known) {
                p.push((targets_at(&s.name).into_iter().chain([Key("alerts"), Name(name.clone())]).collect(), why));
            }
            if t.no_alert.contains(name) {
                let at = targets_at(&s.name).into_iter().chain([Key("no_alert")]).collect();
                p.push((at, format!("alert {name} is both expected (`alerts`) and forbidden (`no_alert`)")));
            }
        }
        for name in &t.no_alert {
            if let Some(why) = unknown(name, &known) {
                p.push((targets_at(&s.name).into_iter().chain([Key("no_alert")]).collect(), why));
            }
        }
    }
    p
}

fn unknown(name: &str, known: &[&str]) -> Option<String> {
    if known.contains(&name) {
        return None;
    }
    let best = known.iter().map(|k| (strsim::jaro_winkler(name, k), *k)).max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = best.filter(|b| b.0 > 0.7).map(|b| format!("; did you mean `{}`?", b.1)).unwrap_or_default();
    Some(format!("no alerting rule named `{name}` in the rules file (it has {}){hint}", known.join(", ")))
}

fn spec_problems(sc: &Scenario, m: &MonitoringSpec, p: &mut Vec<Problem>) {
    let at = |k: &'static str| vec![Key("monitoring"), Key(k)];
    let ranges = [
        ("scrape_interval_ms", "MonitoringSpec.scrape_interval_ms", m.scrape_interval_ms),
        ("evaluation_interval_ms", "MonitoringSpec.evaluation_interval_ms", m.evaluation_interval_ms),
        ("group_wait_ms", "MonitoringSpec.group_wait_ms", m.group_wait_ms),
        ("group_interval_ms", "MonitoringSpec.group_interval_ms", m.group_interval_ms),
        ("settle_ms", "MonitoringSpec.settle_ms", m.settle_ms),
        ("peer_timeout_ms", "MonitoringSpec.peer_timeout_ms", m.peer_timeout_ms),
    ];
    for (field, key, v) in ranges {
        super::bounds::check_opt(p, at(field), key, v.map(|v| v as f64));
    }
    if m.group_by.as_ref().is_some_and(|g| g.is_empty()) {
        p.push((at("group_by"), "expected at least one label name (Alertmanager's default is `[alertname]`)".into()));
    }
    placement_problems(sc, m, p);
    let external = sc.stack.kind.is_external();
    if external {
        if m.prometheus_url.is_none() {
            p.push((vec![Key("monitoring")], "an external drill watches the users' own monitoring: give `prometheus_url`".into()));
        }
        if !m.rules.is_empty() {
            p.push((at("rules"), "an external drill reads the rules the users' Prometheus has loaded; drop `rules`".into()));
        }
        for (key, url) in [("prometheus_url", &m.prometheus_url), ("alertmanager_url", &m.alertmanager_url)] {
            if let Some(u) = url.as_ref().filter(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
                p.push((at(key), format!("expected an http:// or https:// URL, found `{u}`")));
            }
        }
        return;
    }
    if m.rules.is_empty() {
        p.push((
            vec![Key("monitoring")],
            "give `rules`: the Prometheus rules files whose alerts the drill measures (`rules: [alerts/my.rules.yml]`)".into(),
        ));
    }
    for (key, url) in [("prometheus_url", &m.prometheus_url), ("alertmanager_url", &m.alertmanager_url)] {
        if url.is_some() {
            p.push((at(key), format!("`{key}` watches an external stack's own monitoring; drdrill runs its own beside a stack it starts")));
        }
    }
}

/// Where the monitoring stands: `site` or `sites`, each a site of the scenario, required
/// with `sites`, refused without them and on an external stack.
fn placement_problems(sc: &Scenario, m: &MonitoringSpec, p: &mut Vec<Problem>) {
    let at = |k: &'static str| vec![Key("monitoring"), Key(k)];
    let placed = m.site.is_some() || m.sites.is_some();
    if sc.stack.kind.is_external() {
        if placed {
            let k = if m.site.is_some() { "site" } else { "sites" };
            p.push((at(k), "an external drill watches the users' own monitoring, wherever it stands; drop it".into()));
        }
        return;
    }
    if m.peer_timeout_ms.is_some() && m.sites.is_none() {
        p.push((at("peer_timeout_ms"), "`peer_timeout_ms` times the clustered Alertmanagers of `sites`; this monitoring has one".into()));
    }
    if m.site.is_some() && m.sites.is_some() {
        p.push((at("sites"), "give `site` (one place) or `sites` (one Prometheus and Alertmanager in each), not both".into()));
        return;
    }
    if sc.sites.is_empty() {
        if placed {
            let k = if m.site.is_some() { "site" } else { "sites" };
            p.push((at(k), format!("`{k}` places the monitoring in the scenario's `sites`; this scenario has none")));
        }
        return;
    }
    let known = sc.sites.join(", ");
    if let Some(s) = m.site.as_ref().filter(|s| !sc.sites.contains(s)) {
        p.push((at("site"), format!("no site `{s}` in `sites` (it has {known})")));
    }
    let Some(list) = &m.sites else {
        if m.site.is_none() {
            let hint = format!(
                "with `sites`, say where the monitoring stands: `site: {}` (one Prometheus and Alertmanager), or `sites: [{known}]` (one in each, the Alertmanagers clustered)",
                sc.sites.last().map(String::as_str).unwrap_or_default()
            );
            p.push((vec![Key("monitoring")], hint));
        }
        return;
    };
    if list.len() < 2 {
        p.push((at("sites"), "`sites` places the monitoring in two sites or more; for one, write `site`".into()));
    }
    for (i, s) in list.iter().enumerate() {
        if !sc.sites.contains(s) {
            p.push((vec![Key("monitoring"), Key("sites"), Seg::Index(i)], format!("no site `{s}` in `sites` (it has {known})")));
        } else if list[..i].contains(s) {
            p.push((vec![Key("monitoring"), Key("sites"), Seg::Index(i)], format!("site `{s}` is named twice")));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A scenario beside a rules file, both in a fresh folder; the load's error, if any.
    fn load(scenario: &str, rules: &str) -> Result<crate::scenario::Loaded, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), rules).unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, scenario).unwrap();
        crate::scenario::load(&path).map_err(|e| format!("{e}"))
    }
    const RULES: &str = "groups:\n  - name: g\n    rules:\n      - alert: PgDown\n        expr: pg_up == 0\n        for: 2s\n";
    const BASE: &str = "name: t\nstack: {kind: postgres, replicas: 1}\nmonitoring:\n  rules: [r.yml]\n  scrape_interval_ms: 500\ntargets:\n  alerts: {PgDown: {notified_within_ms: 5000}}\n";

    #[test]
    fn monitoring_loads_its_rules_and_checks_the_targets_names() {
        let l = load(BASE, RULES).unwrap();
        let rules = l.alert_rules.unwrap();
        assert_eq!(rules.rules[0].alert, "PgDown");
        assert_eq!(l.scenario.monitoring.unwrap().timing().evaluation_interval_ms, 60_000, "Prometheus' own default");
        let e = load(&BASE.replace("{PgDown:", "{PgDwn:"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:7:3: no alerting rule named `PgDwn` in the rules file (it has PgDown); did you mean `PgDown`?"), "{e}");
        let e = load(&BASE.replace("targets:\n", "targets:\n  no_alert: [PgDown]\n"), RULES).unwrap_err();
        assert!(e.contains("alert PgDown is both expected (`alerts`) and forbidden (`no_alert`)"), "{e}");
        let e = load(BASE, &RULES.replace("2s", "2 sec")).unwrap_err();
        assert!(e.contains(r#"r.yml:6:9: for: not a valid duration string: "2 sec""#), "{e}");
        let e = load(&BASE.replace("r.yml", "missing.yml"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:4:3: no rules file `missing.yml` beside the scenario"), "{e}");
    }

    const SITES: &str = "name: t\nsites: [dc1, dc2]\nwan: [{between: [dc1, dc2]}]\nstack:\n  kind: postgres\n  replicas: 2\n  sites: {dc1: [pg-1, pg-2], dc2: [pg-3]}\nmonitoring:\n  rules: [r.yml]\n  site: dc2\ntargets: {converge: false}\n";

    #[test]
    fn monitoring_in_sites_names_sites_of_the_scenario() {
        load(SITES, RULES).unwrap();
        load(&SITES.replace("site: dc2", "sites: [dc1, dc2]\n  peer_timeout_ms: 2000"), RULES).unwrap();
        let e = load(&SITES.replace("site: dc2", "site: dc3"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:10:3: no site `dc3` in `sites` (it has dc1, dc2)"), "{e}");
        let e = load(&SITES.replace("site: dc2", "sites: [dc1]"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:10:3: `sites` places the monitoring in two sites or more; for one, write `site`"), "{e}");
        let e = load(&SITES.replace("site: dc2", "sites: [dc1, dc1]"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:10:3: site `dc1` is named twice"), "{e}");
        let e = load(&SITES.replace("site: dc2", "site: dc2\n  sites: [dc1, dc2]"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:11:3: give `site` (one place) or `sites`"), "{e}");
        let e = load(&SITES.replace("  site: dc2\n", ""), RULES).unwrap_err();
        assert!(e.contains("s.yaml:8:1: with `sites`, say where the monitoring stands: `site: dc2`"), "{e}");
        let e = load(&SITES.replace("site: dc2", "site: dc2\n  peer_timeout_ms: 100"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:11:3: `peer_timeout_ms` times the clustered Alertmanagers of `sites`"), "{e}");
        let e = load(&BASE.replace("  rules: [r.yml]\n", "  rules: [r.yml]\n  site: dc1\n"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:5:3: `site` places the monitoring in the scenario's `sites`; this scenario has none"), "{e}");
        let ext = "name: t\nstack:\n  kind: external\n  engine: postgres\n  endpoint: 127.0.0.1:5432\nmonitoring: {prometheus_url: http://127.0.0.1:9090, site: dc1}\ntargets: {}\n";
        let e = load(ext, RULES).unwrap_err();
        assert!(e.contains("an external drill watches the users' own monitoring, wherever it stands; drop it"), "{e}");
    }

    #[test]
    fn monitoring_is_refused_where_it_cannot_work() {
        let e = load(&BASE.replace("  rules: [r.yml]\n", ""), RULES).unwrap_err();
        assert!(e.contains("s.yaml:3:1: give `rules`"), "{e}");
        let e = load(&BASE.replace("scrape_interval_ms: 500", "scrape_interval_ms: 50"), RULES).unwrap_err();
        assert!(e.contains("s.yaml:5:3: scrape_interval_ms must be between 100 and 3600000, found 50"), "{e}");
        let e = load(&BASE.replace("monitoring:\n  rules: [r.yml]\n  scrape_interval_ms: 500\n", ""), RULES).unwrap_err();
        assert!(e.contains("s.yaml:4:3: alert targets need `monitoring`"), "{e}");
        let e = load(&BASE.replace("scrape_interval_ms: 500", "prometheus_url: http://127.0.0.1:9090"), RULES).unwrap_err();
        assert!(e.contains("`prometheus_url` watches an external stack's own monitoring"), "{e}");
        let ext = "name: t\nstack:\n  kind: external\n  engine: postgres\n  endpoint: 127.0.0.1:5432\nmonitoring: {prometheus_url: http://127.0.0.1:9090}\ntargets: {}\n";
        load(ext, RULES).unwrap();
        let e = load(&ext.replace("monitoring: {", "monitoring: {rules: [r.yml], "), RULES).unwrap_err();
        assert!(e.contains("an external drill reads the rules the users' Prometheus has loaded"), "{e}");
        let e = load(&ext.replace("http://127.0.0.1:9090", "127.0.0.1:9090"), RULES).unwrap_err();
        assert!(e.contains("expected an http:// or https:// URL, found `127.0.0.1:9090`"), "{e}");
        assert!(Path::new("s.yaml").extension().is_some());
    }
}
