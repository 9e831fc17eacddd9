//! What the drill cost and what could have perturbed it: drdrill's and the containers' CPU
//! (`cpu`), the host's saturation and its disk's stalls (`host`, `pressure`), and how late the paced clients were (`slip`).
mod cpu;
pub mod host;
pub mod pressure;
mod round;
pub mod slip;

pub use cpu::{Footprint, HarnessUsage, Role, Sample, children_cpu_us, footprints, peak_rss_bytes};
pub use host::{HostLoad, HostSampler, Stretch};
pub use pressure::{DiskStall, Stall};
pub use slip::{PacingSlip, SlipSample};
