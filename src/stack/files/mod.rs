//! A file store mirrored to a backup server (`kind: files`): the data path over nginx's
//! WebDAV uploads (`data.rs`, over `stack/blob/`), the sync by rsync or lsyncd
//! (`sync.rs`) and the driver (`driver.rs`); with Keepalived moving a VIP between the two
//! servers (`files-keepalived`: `keepalived.rs`, over `stack/keepalived/`).
mod data;
mod driver;
mod keepalived;
mod sync;

pub use driver::Files;
pub use keepalived::FilesKeepalived;
