//! A file store mirrored to a backup server (`kind: files`): nginx's WebDAV uploads
//! (`http.rs`), the data path over them (`data.rs`), the sync by rsync or lsyncd
//! (`sync.rs`) and the driver (`driver.rs`).
mod data;
mod driver;
mod http;
mod sync;

pub use driver::Files;
