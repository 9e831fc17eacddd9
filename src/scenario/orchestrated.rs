//! Settings of the stacks that fail over by themselves (Redis Sentinel, Patroni + etcd +
//! HAProxy), with the reference documents' values as defaults, and their validation.
use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Redis Sentinel (`stack.kind: redis-sentinel`). Defaults are the seed's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SentinelSpec {
    /// Sentinel processes (1–7). Default 3.
    #[serde(default = "three")]
    pub sentinels: u8,
    /// Sentinels that must agree the primary is down. Default 2.
    #[serde(default = "two")]
    pub quorum: u8,
    /// `down-after-milliseconds`. Default 5000.
    #[serde(default = "down_after")]
    pub down_after_ms: u64,
    /// `failover-timeout`. Default 60000.
    #[serde(default = "failover_timeout")]
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`. Default 1.
    #[serde(default = "one")]
    pub parallel_syncs: u8,
}

impl Default for SentinelSpec {
    fn default() -> Self {
        SentinelSpec { sentinels: 3, quorum: 2, down_after_ms: down_after(), failover_timeout_ms: failover_timeout(), parallel_syncs: 1 }
    }
}

/// Patroni (`stack.kind: patroni`); times in seconds, as Patroni takes them. Defaults are
/// the seed's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatroniSpec {
    /// Leader key TTL, s. Default 30.
    #[serde(default = "ttl")]
    pub ttl: u32,
    /// Seconds between HA loops. Default 10.
    #[serde(default = "ten")]
    pub loop_wait: u32,
    /// Seconds DCS and PostgreSQL operations are retried. Default 10.
    #[serde(default = "ten")]
    pub retry_timeout: u32,
    /// Bytes a replica may lag and still be promoted. Default 1048576.
    #[serde(default = "max_lag")]
    pub maximum_lag_on_failover: u64,
    /// Patroni's synchronous_mode. Default false.
    #[serde(default)]
    pub synchronous_mode: bool,
    /// Default true.
    #[serde(default = "yes")]
    pub use_pg_rewind: bool,
    /// Default true.
    #[serde(default = "yes")]
    pub use_slots: bool,
    /// etcd members (1, 3 or 5). Default 3.
    #[serde(default = "three")]
    pub etcd_members: u8,
}

impl Default for PatroniSpec {
    fn default() -> Self {
        PatroniSpec {
            ttl: ttl(),
            loop_wait: 10,
            retry_timeout: 10,
            maximum_lag_on_failover: max_lag(),
            synchronous_mode: false,
            use_pg_rewind: true,
            use_slots: true,
            etcd_members: 3,
        }
    }
}

/// HAProxy's health checks of Patroni's REST API (`/primary`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HaproxySpec {
    /// `inter`, ms. Default 3000.
    #[serde(default = "inter")]
    pub inter_ms: u64,
    /// `fastinter` (interval while a server is changing state), ms. Default: inter_ms.
    #[serde(default)]
    pub fastinter_ms: Option<u64>,
    /// Failed checks before a server is marked down. Default 3.
    #[serde(default = "three")]
    pub fall: u8,
    /// Passed checks before a server is marked up. Default 2.
    #[serde(default = "two")]
    pub rise: u8,
    /// `on-marked-down shutdown-sessions`. Default true.
    #[serde(default = "yes")]
    pub shutdown_sessions: bool,
}

impl Default for HaproxySpec {
    fn default() -> Self {
        HaproxySpec { inter_ms: inter(), fastinter_ms: None, fall: 3, rise: 2, shutdown_sessions: true }
    }
}

fn one() -> u8 {
    1
}
fn two() -> u8 {
    2
}
fn three() -> u8 {
    3
}
fn ten() -> u32 {
    10
}
fn ttl() -> u32 {
    30
}
fn down_after() -> u64 {
    5000
}
fn failover_timeout() -> u64 {
    60_000
}
fn max_lag() -> u64 {
    1_048_576
}
fn inter() -> u64 {
    3000
}
fn yes() -> bool {
    true
}

/// The kinds that fail over by themselves: `redis-sentinel / patroni / mariadb-mha`.
pub(super) fn orchestrated_kinds() -> String {
    super::kinds::kind_names(|k| k.orchestrated()).join(" / ")
}

/// The kinds drdrill starts and fails over by its own promotion: `postgres / redis / mariadb`.
pub(super) fn scripted_kinds() -> String {
    super::kinds::kind_names(|k| !k.orchestrated() && !k.info().external).join(" / ")
}

pub fn validate_orchestrated(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    let kind = st.kind.name();
    for (key, set) in [("sentinel", st.sentinel.is_some()), ("patroni", st.patroni.is_some()), ("haproxy", st.haproxy.is_some())] {
        if set && !st.kind.accepts(key) {
            let owner = StackKind::owner_of(key).map_or("", StackKind::name);
            p.push((here(key), format!("`{key}` settings apply to a {owner} stack, not {kind}")));
        }
    }
    if let Some(fo) = &s.failover {
        let mode = fo.mode.unwrap_or(st.kind.default_failover());
        match (st.kind.orchestrated(), mode) {
            (true, FailoverMode::Scripted) => p.push((
                vec![Key("failover"), Key("mode")],
                format!("a {kind} stack fails over by itself; drdrill never promotes in it (use `mode: orchestrator` or omit `failover`)"),
            )),
            (false, FailoverMode::Orchestrator) => p.push((
                vec![Key("failover"), Key("mode")],
                format!("a {kind} stack has no orchestrator; use `mode: scripted` with a trigger, or kind {}", orchestrated_kinds()),
            )),
            (true, FailoverMode::Orchestrator) if fo.trigger.delay.is_some() || fo.trigger.probe.is_some() => {
                p.push((vec![Key("failover"), Key("trigger")], "the orchestrator decides when to fail over: remove `trigger`".into()))
            }
            _ => {}
        }
    }
    if let Some(msg) = st.kind.info().orchestrator_sync.filter(|_| st.replication == ReplicationMode::Sync) {
        p.push((here("replication"), msg.into()));
    }
    if st.kind.orchestrated() && st.replicas == 0 {
        p.push((here("replicas"), "an orchestrated stack needs at least one replica to fail over to".into()));
    }
    if let Some(se) = &st.sentinel {
        let k = |f: &'static str| vec![Key("stack"), Key("sentinel"), Key(f)];
        if !(1..=7).contains(&se.sentinels) {
            p.push((k("sentinels"), format!("expected 1 to 7 sentinels, found {}", se.sentinels)));
        }
        if se.quorum == 0 || se.quorum > se.sentinels {
            p.push((k("quorum"), format!("expected a quorum from 1 to sentinels ({}), found {}", se.sentinels, se.quorum)));
        }
        for (f, v, lo, hi) in
            [("down_after_ms", se.down_after_ms, 100, 3_600_000), ("failover_timeout_ms", se.failover_timeout_ms, 1000, 3_600_000)]
        {
            if v < lo || v > hi {
                p.push((k(f), format!("{f} must be between {lo} and {hi}, found {v}")));
            }
        }
        if se.parallel_syncs == 0 {
            p.push((k("parallel_syncs"), "parallel_syncs must be at least 1".into()));
        }
    }
    if let Some(pa) = &st.patroni {
        let k = |f: &'static str| vec![Key("stack"), Key("patroni"), Key(f)];
        for (f, v, lo, hi) in [("ttl", pa.ttl, 5, 3600), ("loop_wait", pa.loop_wait, 1, 3600), ("retry_timeout", pa.retry_timeout, 1, 3600)]
        {
            if v < lo || v > hi {
                p.push((k(f), format!("{f} must be between {lo} and {hi} seconds, found {v}")));
            }
        }
        // Patroni's documented rule (loop_wait + 2 × retry_timeout <= ttl)
        let need = u64::from(pa.loop_wait) + 2 * u64::from(pa.retry_timeout);
        if u64::from(pa.ttl) < need {
            p.push((k("ttl"), format!("Patroni needs ttl >= loop_wait + 2 × retry_timeout ({need}), found {}", pa.ttl)));
        }
        if ![1, 3, 5].contains(&pa.etcd_members) {
            p.push((k("etcd_members"), format!("expected 1, 3 or 5 etcd members, found {}", pa.etcd_members)));
        }
    }
    if let Some(h) = &st.haproxy {
        let k = |f: &'static str| vec![Key("stack"), Key("haproxy"), Key(f)];
        for (f, v) in [("inter_ms", Some(h.inter_ms)), ("fastinter_ms", h.fastinter_ms)] {
            if let Some(v) = v.filter(|v| !(10..=600_000).contains(v)) {
                p.push((k(f), format!("{f} must be between 10 and 600000, found {v}")));
            }
        }
        for (f, v) in [("fall", h.fall), ("rise", h.rise)] {
            if v == 0 || v > 100 {
                p.push((k(f), format!("{f} must be between 1 and 100, found {v}")));
            }
        }
    }
}
