//! The configuration files of the drill's Prometheus and Alertmanager, as text: the
//! scenario's timing, what each Prometheus scrapes and where it sends its alerts, and the
//! one route to the receiver.
use crate::scenario::Timing;
use std::fmt::Write as _;

/// One exporter as a Prometheus scrapes it.
pub struct Scrape<'a> {
    /// Its scrape job (`postgres`).
    pub job: &'a str,
    /// Where that Prometheus reaches it (`127.0.0.1:PORT`, or `pg-1-exporter:9187`).
    pub address: String,
    pub node: &'a str,
    pub service: &'a str,
}

/// Prometheus' configuration: the scenario's intervals, the rules files, the Alertmanagers
/// it sends to, and one job per exporter kind, each target labelled with its node
/// (`instance`) and service.
pub fn prometheus_yml(t: &Timing, alertmanagers: &[String], scraped: &[Scrape]) -> String {
    let mut y = String::new();
    let timeout = t.scrape_interval_ms.min(10_000);
    let _ = writeln!(
        y,
        "global:\n  scrape_interval: {}ms\n  evaluation_interval: {}ms\n  scrape_timeout: {timeout}ms",
        t.scrape_interval_ms, t.evaluation_interval_ms
    );
    let _ = writeln!(y, "rule_files: [/etc/drdrill/rules/*.yml]");
    // a witness sends to no Alertmanager
    if !alertmanagers.is_empty() {
        let targets: Vec<String> = alertmanagers.iter().map(|a| format!("'{a}'")).collect();
        let _ = writeln!(y, "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: [{}]}}]", targets.join(", "));
    }
    let _ = writeln!(y, "scrape_configs:");
    let mut jobs: Vec<&str> = scraped.iter().map(|s| s.job).collect();
    jobs.sort();
    jobs.dedup();
    for job in jobs {
        let _ = writeln!(y, "  - job_name: {job}\n    static_configs:");
        for s in scraped.iter().filter(|s| s.job == job) {
            let _ = writeln!(y, "      - targets: ['{}']\n        labels: {{instance: {}, service: {}}}", s.address, s.node, s.service);
        }
    }
    y
}

/// Alertmanager's configuration: one route to the drill's receiver, resolved alerts too.
pub fn alertmanager_yml(t: &Timing, group_by: &[String], webhook: &str) -> String {
    format!(
        "route:\n  receiver: drdrill\n  group_by: [{}]\n  group_wait: {}ms\n  group_interval: {}ms\n  repeat_interval: 4h\nreceivers:\n  - name: drdrill\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n",
        group_by.join(", "),
        t.group_wait_ms,
        t.group_interval_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing { scrape_interval_ms: 500, evaluation_interval_ms: 500, group_wait_ms: 1000, group_interval_ms: 2000, settle_ms: 0 }
    }

    #[test]
    fn each_prometheus_sends_to_every_alertmanager_and_labels_each_target() {
        let scraped = [
            Scrape { job: "sql", address: "pg-1-exporter:9187".into(), node: "pg-1", service: "db" },
            Scrape { job: "sql", address: "pg-3-exporter:9187".into(), node: "pg-3", service: "db" },
        ];
        let y = prometheus_yml(&timing(), &["alertmanager-dc1:9093".into(), "alertmanager-dc2:9093".into()], &scraped);
        assert!(y.contains("static_configs: [{targets: ['alertmanager-dc1:9093', 'alertmanager-dc2:9093']}]"), "{y}");
        assert!(y.contains("- targets: ['pg-3-exporter:9187']\n        labels: {instance: pg-3, service: db}"), "{y}");
        assert_eq!(y.matches("job_name").count(), 1);
        // a witness sends to no Alertmanager
        let witness = prometheus_yml(&timing(), &[], &scraped);
        assert!(!witness.contains("alerting:") && witness.contains("rule_files:"), "{witness}");
        let v: serde_norway::Value = serde_norway::from_str(&y).unwrap();
        assert_eq!(v["global"]["scrape_interval"], serde_norway::Value::from("500ms"));
        let am = alertmanager_yml(&timing(), &["alertname".into()], "http://pager:9095/alerts");
        let v: serde_norway::Value = serde_norway::from_str(&am).unwrap();
        assert_eq!(v["receivers"][0]["webhook_configs"][0]["url"], serde_norway::Value::from("http://pager:9095/alerts"));
    }
}
