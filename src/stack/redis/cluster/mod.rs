//! Redis Cluster (`redis-cluster`): the deployment and health check (`driver.rs`), the
//! cluster-aware workload client (`client.rs`), `CLUSTER NODES` and key slots
//! (`topology.rs`), a replica's reader (`reader.rs`), the slot map the clients and the watch share (`view.rs`), and the
//! cluster's own failover watched from outside (`watch.rs`). Its nodes run the Redis engine
//! of this folder; the data path reads each shard with it.
mod client;
mod data;
mod driver;
mod reader;
mod topology;
mod view;
mod watch;

pub use driver::RedisCluster;
