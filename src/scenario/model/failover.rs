//! `failover`: how the drill recovers: drdrill's scripted promotion and its trigger, the
//! orchestrator's own, a runbook's steps, a restore, or an operator's bootstrap.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// `scripted`: drdrill promotes (postgres, redis, mariadb). `orchestrator`: the stack's own
    /// orchestrator does, drdrill only watches (redis-sentinel, patroni, mariadb-mha). Default: the kind's.
    #[serde(default)]
    pub mode: Option<FailoverMode>,
    /// scripted: when failover starts.
    #[serde(default)]
    pub trigger: Trigger,
    /// `most-advanced` (the replica that received the most WAL / replication offset),
    /// or a node name. Default most-advanced.
    #[serde(default = "default_promote")]
    pub promote: String,
    /// Point the surviving replicas at the new primary. Default true.
    #[serde(default = "yes")]
    pub repoint_replicas: bool,
    /// Point the workload's clients at the new primary (a VIP or DNS move). Default true.
    #[serde(default = "yes")]
    pub repoint_clients: bool,
    /// After failover, bring the old primary back as a replica of the new one. Default false.
    #[serde(default)]
    pub rejoin_old_primary: bool,
    /// restore: `latest` (everything archived) or `before_fault` (point-in-time recovery to
    /// just before the fault answered, e.g. an operator error). Default latest.
    #[serde(default)]
    pub restore_to: RestoreTo,
    /// scripted: run these actions in order instead of drdrill's own promotion and
    /// repointing (required for an external stack). The new primary is then the node
    /// named in `promote`, or the first of `stack.nodes` that probes writable.
    #[serde(default)]
    pub steps: Vec<crate::scenario::actions::ActionSpec>,
    /// scripted, with `sites`: promote only a replica in this site (the DR site); restore:
    /// build the fresh node in this site (default: the lost primary's).
    #[serde(default)]
    pub site: Option<String>,
    /// scripted: how long drdrill keeps looking for a node that answers (a replica to
    /// promote, a replica to repoint, a node a runbook step waits on), asking again every
    /// 250 ms, before the failover fails. Default 30000 (Patroni's ttl).
    #[serde(default = "default_promote_timeout_ms")]
    pub promote_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RestoreTo {
    #[default]
    Latest,
    BeforeFault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailoverMode {
    Scripted,
    Orchestrator,
    /// A fresh node in the destroyed primary's place, restored from the stack's backup
    /// (`stack.backup`), started, and given the clients.
    Restore,
    /// A quorum cluster that lost its primary component, recovered as an operator would
    /// (galera): every stopped node's machine back with its database held, every node's
    /// saved position read, a new primary component bootstrapped from the most advanced
    /// node (or the one `promote` names), the others joined to it.
    Bootstrap,
}

/// When failover starts: give exactly one of `delay` or `probe`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// A fixed delay after the first fault that hits the primary.
    #[serde(default)]
    pub delay: Option<DelayTrigger>,
    /// Probe the primary like an orchestrator does.
    #[serde(default)]
    pub probe: Option<ProbeTrigger>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayTrigger {
    pub delay_ms: u64,
}

/// Every `interval_ms`, a probe with `timeout_ms`; `failures` consecutive failed probes
/// declare the primary down (like Sentinel's down-after-milliseconds or Patroni's ttl).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeTrigger {
    /// Default 500.
    #[serde(default = "default_probe_interval")]
    pub interval_ms: u64,
    /// Default 500.
    #[serde(default = "default_probe_timeout")]
    pub timeout_ms: u64,
    /// Default 3.
    #[serde(default = "default_probe_failures")]
    pub failures: u32,
}

fn default_promote_timeout_ms() -> u64 {
    30_000
}
fn default_promote() -> String {
    "most-advanced".into()
}
fn yes() -> bool {
    true
}
fn default_probe_interval() -> u64 {
    500
}
fn default_probe_timeout() -> u64 {
    500
}
fn default_probe_failures() -> u32 {
    3
}
