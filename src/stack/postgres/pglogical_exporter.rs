//! postgres_exporter 0.11 beside a pglogical node, with a queries file
//! (`--extend.query-path`) for what the exporter does not know of pglogical: each
//! subscription's status, and how far each peer is behind this node.
//!
//! The lag is in **bytes**, not seconds: the WAL this node wrote that the peer's slot has
//! not confirmed (`pg_replication_slots`, plugin `pglogical_output`). A slot outlives its
//! peer, so the figure grows while the peer is down or cut off, which is when it matters.
//! No figure in seconds is honest here: `pg_stat_replication.replay_lag` is measured from
//! the peer's own replies, so it stops growing (keeps its last value, then reads NULL)
//! exactly when the peer stops answering, and its row is gone with the peer; pglogical
//! 2.4 keeps no receive time of its own (`show_subscription_status()` has none), and
//! PostgreSQL 15's slots no time of their last confirmation.
use crate::stack::Exporter;

/// Where the exporter reads the queries file in its container.
pub const QUERIES_PATH: &str = "/etc/drdrill/pglogical-queries.yml";

/// The queries, in postgres_exporter 0.11's format: a metric is the query's name, `_`, a
/// GAUGE column; LABEL columns are its labels. Every name starts with `pg_`, the
/// exporter's prefix, so a rule on a name it does not publish is told dead by exporter.
pub const QUERIES: &str = r#"# Written by drdrill for postgres_exporter 0.11 (--extend.query-path) on a pglogical 2.4 node.
pg_pglogical_subscription:
  query: "SELECT subscription_name, provider_node, CASE status WHEN 'replicating' THEN 1 ELSE 0 END AS replicating FROM pglogical.show_subscription_status()"
  metrics:
    - subscription_name:
        usage: "LABEL"
        description: "The subscription (this node applying one peer's changes)"
    - provider_node:
        usage: "LABEL"
        description: "The peer the subscription applies changes from"
    - replicating:
        usage: "GAUGE"
        description: "1 while the subscription replicates, else 0 (status down, disabled, initializing, unknown)"
# the status in pglogical's words, apart: a label that changes would start a new series of
# `replicating`, and restart a rule's `for`
pg_pglogical_subscription_status:
  query: "SELECT subscription_name, status, 1 AS info FROM pglogical.show_subscription_status()"
  metrics:
    - subscription_name:
        usage: "LABEL"
        description: "The subscription"
    - status:
        usage: "LABEL"
        description: "pglogical's word for it: replicating, initializing, down, disabled, unknown"
    - info:
        usage: "GAUGE"
        description: "Always 1: the status is the label"
pg_pglogical_slot:
  query: "SELECT slot_name, CASE WHEN active THEN 1 ELSE 0 END AS active, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0) AS lag_bytes FROM pg_replication_slots WHERE plugin = 'pglogical_output'"
  metrics:
    - slot_name:
        usage: "LABEL"
        description: "The slot a peer's subscription reads this node's changes through"
    - active:
        usage: "GAUGE"
        description: "1 while the peer is connected to its slot, else 0"
    - lag_bytes:
        usage: "GAUGE"
        description: "Bytes of WAL this node wrote that the peer has not confirmed (its replication lag, in bytes)"
"#;

/// postgres_exporter 0.11 beside `node` with the queries file mounted where it reads it.
pub fn exporter(node: &str) -> Exporter {
    let mut e = super::driver::exporter(node);
    e.cmd.push(format!("--extend.query-path={QUERIES_PATH}"));
    e.files.push((QUERIES_PATH.to_string(), QUERIES.to_string()));
    e
}

/// The metrics the queries file publishes: `<query>_<gauge column>`.
#[cfg(test)]
fn published() -> Vec<String> {
    let doc: serde_norway::Value = serde_norway::from_str(QUERIES).unwrap();
    let mut out = Vec::new();
    for (query, spec) in doc.as_mapping().unwrap() {
        for column in spec["metrics"].as_sequence().unwrap() {
            let (name, how) = column.as_mapping().unwrap().iter().next().unwrap();
            if how["usage"] == "GAUGE" {
                out.push(format!("{}_{}", query.as_str().unwrap(), name.as_str().unwrap()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporter_reads_the_queries_file_it_is_given() {
        let e = exporter("pgl-2");
        assert_eq!(e.files, vec![(QUERIES_PATH.to_string(), QUERIES.to_string())]);
        assert!(e.cmd.contains(&format!("--extend.query-path={QUERIES_PATH}")), "{:?}", e.cmd);
        assert!(e.env[0].contains("@pgl-2:5432/drdrill?"), "pglogical lives in the drill's database: {:?}", e.env);
    }

    /// Every query has a query and columns each LABEL or GAUGE with a description; every
    /// metric carries the exporter's prefix.
    #[test]
    fn the_queries_file_is_postgres_exporters_format() {
        let doc: serde_norway::Value = serde_norway::from_str(QUERIES).unwrap();
        for (query, spec) in doc.as_mapping().unwrap() {
            assert!(query.as_str().unwrap().starts_with(super::super::driver::exporter("x").prefix), "{query:?}");
            assert!(spec["query"].as_str().unwrap().starts_with("SELECT "), "{query:?}");
            for column in spec["metrics"].as_sequence().unwrap() {
                let (_, how) = column.as_mapping().unwrap().iter().next().unwrap();
                assert!(["LABEL", "GAUGE"].contains(&how["usage"].as_str().unwrap()), "{column:?}");
                assert!(how["description"].as_str().is_some_and(|d| !d.is_empty()), "{column:?}");
            }
        }
        let names = published();
        let want = [
            "pg_pglogical_subscription_replicating",
            "pg_pglogical_subscription_status_info",
            "pg_pglogical_slot_active",
            "pg_pglogical_slot_lag_bytes",
        ];
        for want in want {
            assert!(names.contains(&want.to_string()), "{names:?}");
        }
    }

    /// The shipped rules' pglogical selectors name metrics this file publishes: renaming a
    /// column would make them dead.
    #[test]
    fn the_shipped_rules_use_the_metrics_the_queries_publish() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/alerts/tuned-pglogical.rules.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let names = published();
        let exprs = text.lines().filter_map(|l| l.trim().strip_prefix("expr:"));
        let used: Vec<&str> =
            exprs.flat_map(|e| e.split(|c: char| !(c.is_alphanumeric() || c == '_'))).filter(|w| w.starts_with("pg_pglogical_")).collect();
        assert!(!used.is_empty());
        for metric in used {
            assert!(names.iter().any(|n| n == metric), "{metric} is not published by the queries file ({names:?})");
        }
    }
}
