//! The two forms of a scenario file (one `stack`, or `services`) and one service of the
//! second: the keys of a service (its stack, workload, failover, targets and proxy) and
//! the keys of the drill (its faults, checks, hooks, steady state, abort conditions,
//! secrets, DNS, sites, WAN links and monitoring) are each written once, in `forms!` below.
use super::{CheckSpec, DnsSpec, FailoverSpec, FaultSpec, LinkSpec, MonitoringSpec, ProxySpec, StackSpec, Targets, WorkloadSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Declares the forms from the service's keys and the drill's.
macro_rules! forms {
    (service { $($service:tt)* } drill { $($drill:tt)* }) => {
        /// A disaster-recovery drill: a stack, a workload, faults, a failover plan and targets.
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct Scenario {
            /// Drill name; used in report paths and container labels. [a-z0-9-]+
            pub name: String,
            /// Free text shown in reports.
            #[serde(default)]
            pub description: String,
            $($service)*
            $($drill)*
        }

        /// One service of a drill: what the single form holds at its top level.
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct ServiceSpec {
            $($service)*
        }

        /// A scenario with `services:` instead of one `stack`.
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct ServicesScenario {
            /// Drill name; used in report paths and container labels. [a-z0-9-]+
            pub name: String,
            /// Free text shown in reports.
            #[serde(default)]
            pub description: String,
            /// The services drilled together, by name ([a-z0-9-]+): each judged on its own.
            pub services: BTreeMap<String, ServiceSpec>,
            $($drill)*
        }
    };
}

forms! {
    service {
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
    drill {
        /// Faults, each at an offset from the start of the workload; in a drill of several
        /// services `target: pg/primary`, or `targets: [pg/primary, cache/primary]` to hit
        /// several services at the same instant.
        #[serde(default)]
        pub faults: Vec<FaultSpec>,
        #[serde(default)]
        pub checks: CheckSpec,
        /// Commands or requests run before the workload and after the drill (always).
        #[serde(default)]
        pub hooks: crate::scenario::actions::Hooks,
        /// Probes that must hold before the drill starts, checked again after recovery.
        #[serde(default)]
        pub steady_state: crate::scenario::actions::SteadyState,
        /// Conditions that stop the drill early (faults healed, `after` hooks run).
        #[serde(default)]
        pub abort_when: Option<crate::scenario::actions::AbortWhen>,
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
}
