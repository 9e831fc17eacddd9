//! MariaDB 10.11: its data path (`data.rs`), the drivers of the kinds that run it
//! (`driver.rs`: binlog + GTID replicas drdrill promotes in; `mha.rs`: MHA 0.58 with a
//! virtual IP; `galera.rs`: every node writable in a Galera cluster, `galera_boot.rs`: its
//! operator's bootstrap), MHA's side of a
//! failover (`mha_watch.rs`; what it shares with `mha.rs` is `mha_book.rs`) and
//! mariabackup with binlog streaming (`backup.rs`).
mod backup;
mod data;
mod driver;
mod galera;
mod galera_boot;
mod mha;
mod mha_book;
mod mha_watch;

pub use driver::MariaDb;
pub use galera::Galera;
pub use mha::Mha;
