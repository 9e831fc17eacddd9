//! The scenario file format. Every struct denies unknown keys; defaults are documented
//! on each field and in docs/scenarios.md, and exported by `drdrill schema`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
mod failover;
mod faults;
mod forms;
mod monitoring;
mod network;
mod stack;
mod targets;
mod workload;

pub use failover::*;
pub use faults::*;
pub use forms::*;
pub use monitoring::*;
pub use network::*;
pub use stack::*;
pub use targets::*;
pub use workload::*;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    /// Image of the proxy container. Default: drdrill/proxy, built from this drdrill binary
    /// (`drdrill proxy`). Any Toxiproxy 2.x server image works, e.g.
    /// ghcr.io/shopify/toxiproxy:2.12.0: its API must listen on 8474 on all interfaces.
    #[serde(default)]
    pub image: Option<String>,
    /// Workload -> node traffic goes through the proxy (link `client`). Default false.
    #[serde(default)]
    pub clients: bool,
    /// Replica -> primary traffic goes through the proxy (link `replication`). Default false.
    #[serde(default)]
    pub replication: bool,
}

/// Parameters of the checker's definitions (see docs/measurement.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Window after a candidate recovery point in which writes must stay available. Default 1000.
    #[serde(default = "default_stable_window")]
    pub stable_window_ms: u64,
    /// Share of writes invoked in the window that must be ok (and none may be `fail`). Default 0.95.
    #[serde(default = "default_stable_ratio")]
    pub stable_ok_ratio: f64,
    /// How long replicas get to hold exactly the primary's records. Default 30000.
    #[serde(default = "default_converge_timeout")]
    pub convergence_timeout_ms: u64,
}

impl Default for CheckSpec {
    fn default() -> Self {
        CheckSpec {
            stable_window_ms: default_stable_window(),
            stable_ok_ratio: default_stable_ratio(),
            convergence_timeout_ms: default_converge_timeout(),
        }
    }
}

fn default_stable_window() -> u64 {
    1000
}
fn default_stable_ratio() -> f64 {
    0.95
}
fn default_converge_timeout() -> u64 {
    30_000
}
