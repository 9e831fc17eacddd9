//! Redis 7: its data path (`data.rs`, over one stream per client: `conn.rs`), the drivers
//! of the kinds that run it (`driver.rs`: replicas drdrill promotes in; `sentinel.rs`:
//! Redis Sentinel; `cluster/`: Redis Cluster) and its persistence (`persistence.rs`) as a
//! backup (`backup.rs`).
mod backup;
mod cluster;
mod conn;
mod data;
mod driver;
mod persistence;
mod sentinel;

pub use cluster::RedisCluster;
pub use driver::Redis;
pub use sentinel::RedisSentinel;
