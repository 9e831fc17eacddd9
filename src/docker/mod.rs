//! Docker glue (bollard): labelled networks and containers, exec, logs, images, cleanup.
pub mod cgroup;
mod cleanup;
mod client;
mod engine;
mod gc;
mod images;
mod inflight;
mod liveness;
mod net;

pub use cleanup::{RunGuard, TeardownReport};
pub use client::{ContainerSpec, Docker, HOST_NETWORK};
pub use engine::EngineInfo;
pub use gc::{GcReport, gc};
pub use images::{
    ImageDir, ImageState, PROXY_BASE, build_images, context_hash as image_context_hash, default_dirs as image_default_dirs, ensure_images,
    ensure_proxy_image, image_dirs, state as image_state,
};
pub use liveness::{Liveness, Owner, hostname, run_labels, start_time};

/// Every resource a drill creates carries these labels; gc and teardown select by them only.
pub const LABEL_RUN: &str = "drdrill.run";
pub const LABEL_SCENARIO: &str = "drdrill.scenario";
pub const LABEL_NODE: &str = "drdrill.node";
/// PID of the drdrill process that owns the run: gc leaves runs of live processes alone.
pub const LABEL_PID: &str = "drdrill.pid";
/// Start time of that process (field 22 of /proc/<pid>/stat): tells a reused PID apart.
pub const LABEL_PID_START: &str = "drdrill.pid_start";
/// Hostname of the machine that process runs on.
pub const LABEL_HOST: &str = "drdrill.host";
/// Absolute path of the run's evidence folder: gc saves a killed drill's logs there.
pub const LABEL_EVIDENCE: &str = "drdrill.evidence";

/// Name of a drill's container: `drdrill-<run>-<node>`.
pub fn container_name(run_id: &str, node: &str) -> String {
    format!("drdrill-{run_id}-{node}")
}

/// A volume of the drill (`suffix`: what it holds, e.g. `pgbackrest`).
pub fn volume_name(run_id: &str, suffix: &str) -> String {
    format!("drdrill-{run_id}-{suffix}")
}

pub fn network_name(run_id: &str) -> String {
    format!("drdrill-{run_id}")
}
