//! Keepalived: the VIP it moves between two servers and who held it (`holders.rs`), the
//! watch of its log (`watch.rs`), and the services it carries, promoted by its
//! `notify_master` on the same servers (`carried.rs`: any kind's driver under it).
mod carried;
mod holders;
mod watch;

pub use carried::Carried;
pub use holders::{KeepalivedHolders, holds_vip};
pub use watch::{KeepalivedWatch, Watched};
