//! The region drill's types: the drill's own DNS (`dns:`), how the clients look names up
//! (`workload.resolve`), and the WAN links between sites (`wan:`). Their rules are in
//! `scenario/region.rs`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The drill runs a DNS server: each service's name, `<service>.drill.`, answers with its
/// primary's address (every node has an address of its own, 127.x.y.z, on one port), and a
/// failover moves it; the clients find the primary through it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    /// The records' TTL, seconds: how long the clients' resolvers keep an answer. Default
    /// 60 (seed 001's runbook). 0 to 86400.
    #[serde(default = "default_ttl")]
    pub ttl_s: u32,
    /// In a drill of several services: the services whose clients find their primary by
    /// name (seed 001's runbook moves the database's record only). Default: every one; the
    /// others' clients are repointed by drdrill, as without `dns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
}

fn default_ttl() -> u32 {
    60
}

/// How the clients look the service's name up, when the drill has `dns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolve {
    /// Through a stub resolver that keeps each answer for its TTL, then asks again (default).
    #[default]
    Ttl,
    /// Once, at the start, and never again: an application that caches the address for
    /// its life. It never follows a DNS failover, and the drill says so.
    Once,
}

/// A WAN link between two sites, run by the chaos proxy: every connection that crosses it
/// (replication, clients) gets its delay, its rate and its loss.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The two sites it joins.
    pub between: Vec<String>,
    /// The round trip it adds, ms (half each way). Default 0.
    #[serde(default)]
    pub latency_ms: u64,
    /// ± this much on that round trip, ms. Default 0.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Each connection's rate, each way, KB/s. Default: unlimited.
    #[serde(default)]
    pub bandwidth_kb_per_s: Option<u64>,
    /// Packets dropped, each way, percent (0 to 100; default 0): iptables in the proxy's
    /// container, on every path that crosses the link. TCP resends them: the clients see
    /// retransmission delays, as over a lossy WAN.
    #[serde(default)]
    pub loss_percent: f64,
}

impl LinkSpec {
    /// Whether it adds nothing to what crosses it (no delay, rate or loss).
    pub fn is_plain(&self) -> bool {
        self.latency_ms == 0 && self.jitter_ms == 0 && self.bandwidth_kb_per_s.is_none() && self.loss_percent == 0.0
    }

    /// Whether it joins `a` and `b` (either way round).
    pub fn joins(&self, a: &str, b: &str) -> bool {
        (self.between[0] == a && self.between[1] == b) || (self.between[0] == b && self.between[1] == a)
    }
}
