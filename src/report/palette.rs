//! The pictures' colours, fixed so that a reader (and a test) can tell the elements apart:
//! the timeline, the readers' lane under it and a cluster's key space share them.
use plotters::style::RGBColor;

/// Operations by outcome.
pub const OK: RGBColor = RGBColor(44, 160, 44);
pub const FAIL: RGBColor = RGBColor(214, 39, 40);
pub const UNKNOWN: RGBColor = RGBColor(255, 127, 14);
/// Markers: faults, heals, failover and orchestrator steps.
pub const FAULT: RGBColor = RGBColor(148, 0, 0);
pub const HEAL: RGBColor = RGBColor(0, 110, 60);
pub const STEP: RGBColor = RGBColor(90, 40, 160);
/// The RTO window's shading.
pub const RTO: RGBColor = RGBColor(255, 170, 170);
