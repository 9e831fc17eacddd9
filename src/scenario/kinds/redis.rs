//! Redis's kinds: replicas drdrill promotes in (`redis`), and Redis Sentinel
//! (`redis-sentinel`), with the Sentinels' settings (the seed's values as defaults) and
//! their rules, and the rules of Redis's persistence as a backup.
use super::BackupInfo;
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::Key;
use crate::scenario::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a Redis stack takes no synchronous replication.
const NO_SYNC: &str = "redis has no synchronous replication; use settings.min-replicas-to-write";

pub const REDIS: KindInfo = KindInfo {
    server_promotes: true,
    engine: true,
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    backup: Some(BackupInfo { tool: "AOF / RDB on a surviving volume", keys: &["appendfsync", "snapshot_s"], point_in_time: false }),
    validate: validate_persistence,
    reads: true,
    ..KindInfo::bare("redis", "Redis 7 primary + replicas (replicaof).", "redis", "drdrill/redis:7")
};

pub const REDIS_SENTINEL: KindInfo = KindInfo {
    orchestrator: Some("Redis Sentinel"),
    blocks: &["sentinel"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    services: sentinels,
    groups: &[("sentinels", "sentinel-")],
    members_span_sites: true,
    validate: validate_sentinel,
    reads: true,
    ..KindInfo::bare(
        "redis-sentinel",
        "Redis 7 primary + replicas watched by Redis Sentinel, which fails over by itself; clients find the primary through Sentinel.",
        "redis",
        "drdrill/redis:7",
    )
};

fn sentinels(st: &StackSpec) -> Vec<String> {
    let n = st.sentinel.clone().unwrap_or_default().sentinels;
    (1..=n).map(|i| format!("sentinel-{i}")).collect()
}

/// Redis Sentinel (`stack.kind: redis-sentinel`). Defaults are the seed's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SentinelSpec {
    /// Sentinel processes (1–7). Default 3.
    pub sentinels: u8,
    /// Sentinels that must agree the primary is down. Default 2.
    pub quorum: u8,
    /// `down-after-milliseconds`. Default 5000.
    pub down_after_ms: u64,
    /// `failover-timeout`. Default 60000.
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`. Default 1.
    pub parallel_syncs: u8,
}

impl Default for SentinelSpec {
    fn default() -> Self {
        SentinelSpec { sentinels: 3, quorum: 2, down_after_ms: 5000, failover_timeout_ms: 60_000, parallel_syncs: 1 }
    }
}

fn validate_sentinel(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    if let Some(se) = &st.sentinel {
        let k = |f: &'static str| vec![Key("stack"), Key("sentinel"), Key(f)];
        let check = |p: &mut Vec<Problem>, f: &'static str, key: &str, v: f64| crate::scenario::bounds::check(p, k(f), key, v, "");
        check(p, "sentinels", "SentinelSpec.sentinels", f64::from(se.sentinels));
        if se.quorum == 0 || se.quorum > se.sentinels {
            p.push((k("quorum"), format!("expected a quorum from 1 to sentinels ({}), found {}", se.sentinels, se.quorum)));
        }
        check(p, "down_after_ms", "SentinelSpec.down_after_ms", se.down_after_ms as f64);
        check(p, "failover_timeout_ms", "SentinelSpec.failover_timeout_ms", se.failover_timeout_ms as f64);
        check(p, "parallel_syncs", "SentinelSpec.parallel_syncs", f64::from(se.parallel_syncs));
    }
}

/// Redis's persistence is its backup: it needs a file to restore from.
fn validate_persistence(s: &Scenario, p: &mut Vec<Problem>) {
    if let Some(b) = &s.stack.backup
        && b.appendfsync.is_none()
        && b.snapshot_s.is_none()
    {
        p.push((vec![Key("stack"), Key("backup")], "give `appendfsync` (AOF), `snapshot_s` (RDB), or both".into()));
    }
}
