//! Objects replicated between two S3 stores (`kind: objects`): two Ceph clusters, each one
//! zone of an RGW multisite realm. The S3 requests, signed (`s3.rs`), the data path over
//! them (`data.rs`) and the driver (`driver.rs`).
mod data;
mod driver;
mod s3;

pub use driver::Objects;
