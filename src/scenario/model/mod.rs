//! The scenario file format. Every struct denies unknown keys; defaults are documented
//! on each field and in docs/scenarios.md, and exported by `drdrill schema`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
mod failover;
mod faults;
mod monitoring;
mod network;
mod stack;
mod targets;
mod workload;

pub use failover::*;
pub use faults::*;
pub use monitoring::*;
pub use network::*;
pub use stack::*;
pub use targets::*;
pub use workload::*;

/// Declares a scenario form with the keys every drill has whatever its form (one
/// `stack`, or `services`), written once here: its name and description, its faults, the
/// checker's parameters, hooks, steady state, abort conditions, secrets, DNS, sites, WAN
/// links and monitoring. The form adds its own keys (`$own`).
macro_rules! drill_form {
    ($(#[$meta:meta])* pub struct $form:ident { $($own:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $form {
            /// Drill name; used in report paths and container labels. [a-z0-9-]+
            pub name: String,
            /// Free text shown in reports.
            #[serde(default)]
            pub description: String,
            $($own)*
            /// Faults, each at an offset from the start of the workload; in a drill of several
            /// services `target: pg/primary`, or `targets: [pg/primary, cache/primary]` to hit
            /// several services at the same instant.
            #[serde(default)]
            pub faults: Vec<FaultSpec>,
            #[serde(default)]
            pub checks: CheckSpec,
            /// Commands or requests run before the workload and after the drill (always).
            #[serde(default)]
            pub hooks: $crate::scenario::actions::Hooks,
            /// Probes that must hold before the drill starts, checked again after recovery.
            #[serde(default)]
            pub steady_state: $crate::scenario::actions::SteadyState,
            /// Conditions that stop the drill early (faults healed, `after` hooks run).
            #[serde(default)]
            pub abort_when: Option<$crate::scenario::actions::AbortWhen>,
            /// Environment variables whose values are secrets: replaced by `[redacted]` in every
            /// evidence file and on the terminal (stack credentials are always redacted).
            #[serde(default)]
            pub secrets: Vec<String>,
            /// The drill's own DNS server: the clients find each service's primary by its name
            /// (docs/dns.md). Off by default.
            #[serde(default)]
            pub dns: Option<DnsSpec>,
            /// Sites, each a network of its own (docs/regions.md): nodes in a site talk directly;
            /// sites reach each other, and clients reach another site, only through `wan` links.
            #[serde(default)]
            pub sites: Vec<String>,
            /// The WAN links between sites, run by the chaos proxy.
            #[serde(default)]
            pub wan: Vec<LinkSpec>,
            /// Did the pager fire? The users' alert rules in a real Prometheus + Alertmanager
            /// beside the stack, every rule measured (docs/alerts.md). Off by default.
            #[serde(default)]
            pub monitoring: Option<MonitoringSpec>,
        }
    };
}
pub(crate) use drill_form;

drill_form! {
    /// A disaster-recovery drill: a stack, a workload, faults, a failover plan and targets.
    pub struct Scenario {
        pub stack: StackSpec,
        #[serde(default)]
        pub workload: WorkloadSpec,
        /// How the drill fails over. Omit for no failover (e.g. a restart drill).
        #[serde(default)]
        pub failover: Option<FailoverSpec>,
        pub targets: Targets,
        /// Route client and/or replication traffic through a Toxiproxy-compatible proxy, so
        /// link faults (latency, jitter, down, timeout, reset_peer, bandwidth) can act on it.
        #[serde(default)]
        pub proxy: Option<ProxySpec>,
    }
}

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
