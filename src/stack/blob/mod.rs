//! What the files and objects kinds share: one keep-alive HTTP connection (`http.rs`) and
//! a record as a named blob, read back whole (`names.rs`).
mod http;
mod names;

pub use http::{Conn, DIR, Failed, REPLIED};
pub use names::{Blobs, content, file_name, parse_name, read_whole};
