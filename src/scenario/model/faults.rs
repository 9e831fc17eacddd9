//! `faults`: what happens to the stack and when, each fault as data (kind, target,
//! attributes), healed by its own undo.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// SIGKILL the node's server process (the container dies). With `duration_ms` (a stack
    /// whose every node is writable), the node is started again after that long, as its
    /// supervisor would: it recovers and rejoins by itself.
    Kill,
    /// Graceful stop (the image's stop signal, then SIGKILL after 10 s); with `duration_ms`,
    /// the node is started again after that long.
    Stop,
    /// Freeze every process of the node for `duration_ms`, then resume.
    Pause,
    /// Graceful stop then start again.
    Restart,
    /// Cut the network between `groups` of nodes (iptables DROP in each node's network
    /// namespace). A group may contain `clients` (the workload's side).
    Partition,
    /// Drop `percent` of the target's packets, both directions (iptables statistic).
    Loss,
    /// Limit the target's outgoing rate to `rate_kb_per_s` (tc tbf), or a proxied `link`'s.
    Bandwidth,
    /// Delay data on a proxied `link` by `latency_ms` (± `jitter_ms`).
    Latency,
    /// Vary the delay on a proxied `link` by ± `jitter_ms` (around `latency_ms`, default 0).
    Jitter,
    /// Take a proxied `link` hard down: connections are closed and refused.
    Down,
    /// A proxied `link` stops passing data; connections close after `timeout_ms` (0: never).
    Timeout,
    /// A proxied `link` resets connections (TCP RST) after `timeout_ms`.
    #[serde(rename = "reset_peer")]
    ResetPeer,
    /// SIGKILL the node and delete its container and data: nothing of it comes back (a
    /// restore recovery builds a fresh node in its place).
    Destroy,
    /// An operator error on the node (the primary): `how: delete` removes every workload
    /// record (DELETE; Redis FLUSHALL), `how: drop` the table itself. It replicates.
    #[serde(rename = "destroy_data")]
    DestroyData,
    /// Heal the earlier fault named in `heals`.
    Heal,
    /// A planned switchover of the primary: Patroni's REST `/switchover`, `SENTINEL
    /// FAILOVER`, or drdrill's scripted promotion for the plain stacks.
    Switchover,
    /// Run `action` (a command, HTTP request, manual step or wait); `undo` heals it.
    Action,
    /// The `target` site loses every WAN link, to other sites and to clients outside it;
    /// its nodes keep running and talk among themselves.
    #[serde(rename = "isolate_site")]
    IsolateSite,
    /// SIGKILL every node of the `target` site (with `duration_ms`, started again after).
    #[serde(rename = "kill_site")]
    KillSite,
    /// Set the WAN link `between` two sites to `latency_ms` ± `jitter_ms` and `rate_kb_per_s`
    /// (what is not given stays as the link has it); the heal puts the link back.
    #[serde(rename = "degrade_link")]
    DegradeLink,
    /// Set the `target` node's clock `offset_ms` off the real time (negative: behind), as its
    /// database server sees it (libfaketime); monotonic clocks are left alone. The offset is
    /// read back from the server and reported; the heal sets it to 0. With `freeze`, the
    /// clock stands still at that instant instead.
    #[serde(rename = "clock_skew")]
    ClockSkew,
    /// Leave the `target` node `percent` of one CPU for `duration_ms` (its container's CPU
    /// quota): a primary starved by a noisy neighbour or a runaway process. Its processes
    /// go on running, slowly; the heal lifts the quota.
    #[serde(rename = "starve_cpu")]
    StarveCpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// The workload's connections to the target node.
    Client,
    /// The target replica's replication connection to the primary; on the primary, every
    /// replica's.
    Replication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum StreamSpec {
    /// Client -> server (replica -> primary for replication).
    Upstream,
    /// Server -> client. Toxiproxy's default.
    #[default]
    Downstream,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// No packet crosses between groups.
    #[default]
    Both,
    /// Packets from an earlier group to a later one are dropped; the other way flows.
    OneWay,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Offset from the start of the workload.
    pub at_ms: u64,
    pub kind: FaultKind,
    /// `primary` (the primary when the fault fires), `replica-N` (N-th replica, from 1),
    /// or a node name such as pg-2. Required except for partition and heal.
    #[serde(default)]
    pub target: Option<String>,
    /// In a scenario with `services`: the nodes of several services hit at the same
    /// instant (`[pg/primary, cache/primary]`), instead of one `target`.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// destroy_data: `delete` (default) or `drop`.
    #[serde(default)]
    pub how: Option<DataLoss>,
    /// pause: how long the node stays frozen (required); starve_cpu: how long it is starved
    /// (required). stop: start the node again after
    /// this long (optional). Network faults: heal after this long (optional; without it the
    /// fault lasts until a `heal` names it, or until the workload ends). Not allowed for
    /// kill, restart and heal.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// A name a later `heal` can refer to.
    #[serde(default)]
    pub name: Option<String>,
    /// heal: the name of the fault to heal.
    #[serde(default)]
    pub heals: Option<String>,
    /// partition: two or more groups of `primary`, `replica-N`, node names or `clients`.
    #[serde(default)]
    pub groups: Option<Vec<Vec<String>>>,
    /// partition: `both` (default) or `one-way`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The proxied path a link fault acts on (needs `proxy.clients` / `proxy.replication`).
    #[serde(default)]
    pub link: Option<LinkKind>,
    /// Link faults: which direction of the link (default downstream, as Toxiproxy).
    #[serde(default)]
    pub stream: Option<StreamSpec>,
    /// loss: share of packets dropped, in percent (0, 100]; degrade_link: the link's loss
    /// each way, 0 to 100; starve_cpu: the share of one CPU left to the node, (0, 100] (below 1
    /// taken as 1: the kernel's smallest quota per 100 ms period).
    #[serde(default)]
    pub percent: Option<f64>,
    /// bandwidth: rate in KB/s (1 KB = 1024 bytes, as Toxiproxy's `rate`).
    #[serde(default)]
    pub rate_kb_per_s: Option<u64>,
    /// latency / jitter: added delay per chunk of data.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// latency / jitter: ± this much on each chunk's delay. Default 0.
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// timeout / reset_peer: Toxiproxy's `timeout` attribute.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Link faults: probability that the toxic applies to a connection. Default 1.
    #[serde(default)]
    pub toxicity: Option<f32>,
    /// action: what to run. `target` (optional) says which node it hits, so that the
    /// failover trigger and RPO know when the primary was hit.
    #[serde(default)]
    pub action: Option<crate::scenario::actions::ActionSpec>,
    /// action: what heals it, run after `duration_ms`, at a `heal` naming it, or when the
    /// drill ends (also after an error or Ctrl-C).
    #[serde(default)]
    pub undo: Option<crate::scenario::actions::ActionSpec>,
    /// degrade_link: the two sites the link joins.
    #[serde(default)]
    pub between: Option<Vec<String>>,
    /// clock_skew: how far the node's clock is set off the real time, in ms (negative:
    /// behind), within ± 1 day.
    #[serde(default)]
    pub offset_ms: Option<i64>,
    /// clock_skew: `true` stops the clock at the fault's scheduled instant plus `offset_ms`
    /// (0 when not given), in whole seconds: the server reads that instant until the heal.
    /// Faults at the same offset stop their nodes' clocks at the same instant, so their
    /// commits carry equal timestamps (a tie for last-update-wins).
    #[serde(default)]
    pub freeze: Option<bool>,
}

/// What a `destroy_data` fault destroys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataLoss {
    /// Every workload record deleted (PostgreSQL / MariaDB DELETE, Redis FLUSHALL).
    #[default]
    Delete,
    /// The workload's table dropped (Redis: FLUSHALL).
    Drop,
}
