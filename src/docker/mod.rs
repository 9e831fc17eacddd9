//! Docker glue (bollard): labelled networks and containers, exec, logs, images, cleanup.
mod cleanup;
mod client;
mod images;
mod net;

pub use cleanup::{GcReport, RunGuard, gc};
pub use client::{ContainerSpec, Docker};
pub use images::{ImageDir, build_images, ensure_proxy_image, image_dirs};

/// Every resource a drill creates carries these labels; gc and teardown select by them only.
pub const LABEL_RUN: &str = "drdrill.run";
pub const LABEL_SCENARIO: &str = "drdrill.scenario";
pub const LABEL_NODE: &str = "drdrill.node";
/// PID of the drdrill process that owns the run: gc leaves runs of live processes alone.
pub const LABEL_PID: &str = "drdrill.pid";

/// Name of a drill's container: `drdrill-<run>-<node>`.
pub fn container_name(run_id: &str, node: &str) -> String {
    format!("drdrill-{run_id}-{node}")
}

pub fn network_name(run_id: &str) -> String {
    format!("drdrill-{run_id}")
}
