//! The YAML scenario model, loading and validation with file:line:col, JSON Schema.
mod action_checks;
pub mod actions;
pub mod alert_rules;
mod alerting;
pub mod availability;
mod backup;
pub mod bounds;
mod faults;
pub mod keys;
mod kinds;
mod limits;
mod load;
mod locate;
mod model;
mod orchestrated;
mod prescan;
mod promql;
mod ranges;
mod reads;
mod region;
mod serde_words;
mod servers;
mod services;
mod sweep;
mod sweep_derive;
mod validate;

pub use actions::{
    AbortWhen, ActionSpec, CommandLine, DnsMove, Hooks, HttpSpec, ProbeSpec, SqlStep, SteadyState, describe, describe_probe,
};
pub use availability::{Availability, Period};
pub use backup::{AppendFsync, BackupSpec, BackupTool};
pub use faults::{heals_later, kind_name};
pub use kinds::{
    ARCHIVE_HOST, BINLOG_STREAMER, BackupInfo, CLUSTER_DEFAULTS, Carried, CarriedBy, ClusterSpec, ConflictResolution, ENDPOINT, Engine,
    FileSync, FilesSpec, HaproxySpec, KINDS, KeepalivedSpec, KindInfo, LogicalSpec, MhaSpec, MultiActiveSpec, PatroniSpec, READ_ENDPOINT,
    SentinelSpec, StackKind, VIP_FORWARDER, expand_service_group, service_names,
};
pub use limits::{Limit, STATS};
pub use load::{Loaded, load, parse};
pub use model::*;
pub use reads::read_nodes_in;
pub use services::ServicePlan;
pub use sweep::{MAX_POINTS, MAX_REPEAT, Sweep, Trial, is_sweep, is_sweep_file, load_sweep, parse_sweep};
pub use sweep_derive::{Role, SweepPlan};
pub use validate::validate;

/// JSON Schema of the scenario format, for editor completion.
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(ScenarioFile)).expect("schema serialises")
}

/// A scenario file: one stack, or several services.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScenarioFile {
    One(Box<Scenario>),
    Several(Box<ServicesScenario>),
}
