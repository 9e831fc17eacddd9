//! A file store mirrored to a backup server (`kind: files`): nginx's WebDAV uploads
//! (`http.rs`), the data path over them (`data.rs`), the sync by rsync or lsyncd
//! (`sync.rs`) and the driver (`driver.rs`); with Keepalived moving a VIP between the two
//! servers (`files-keepalived`: `keepalived.rs`, watched by `keepalived_watch.rs`, its
//! VIP's holders by `keepalived_holders.rs`), and promoting other services on the same
//! servers (`keepalived.notify_master`: `carried.rs`). The objects kind's data path sends the same
//! content over the same connection (`Conn`), signed for S3.
mod carried;
mod data;
mod driver;
mod http;
mod keepalived;
mod keepalived_holders;
mod keepalived_watch;
mod sync;

pub use carried::Carried;
pub(super) use data::{content, file_name, parse_name, take_whole};
pub use driver::Files;
pub(super) use http::{Conn, Failed};
pub use keepalived::FilesKeepalived;
