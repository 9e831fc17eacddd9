//! PostgreSQL 15: its data path (`data.rs`), the drivers of the kinds that run it
//! (`driver.rs`: streaming replicas drdrill promotes in; `patroni.rs`: Patroni + etcd +
//! HAProxy), Patroni's side of a failover (`patroni_watch.rs`, `etcd.rs`; what it shares
//! with `patroni.rs` is `patroni_book.rs`) and pgBackRest
//! (`backup.rs`) or seed 001's rsync archive (`rsync_archive.rs`); a pglogical node's exporter and its queries file
//! (`pglogical_exporter.rs`); a DR region fed by built-in logical replication (`logical.rs`,
//! its data path of several tables `logical_data.rs`).
mod backup;
mod clock;
mod data;
mod driver;
mod etcd;
mod logical;
mod logical_data;
mod patroni;
mod patroni_book;
mod patroni_watch;
mod pglogical;
mod pglogical_exporter;
mod rsync_archive;

pub use driver::Postgres;
pub use logical::PostgresLogical;
pub use patroni::Patroni;
pub use pglogical::Pglogical;
