//! One driver per stack kind behind one trait, split by job (`driver.rs`): every driver has
//! a data path (one per engine, shared by container and external stacks); container stacks
//! have a deployment; the stacks drdrill fails over itself have a promotion. Each engine is
//! one folder (`postgres/`, `redis/`, `mariadb/`, `files/`, `objects/`: its data path,
//! drivers, orchestrator watch and backup); what every engine shares sits here (nodes,
//! sites, proxy routes, read-back, the traits). The runner, workload, faults, failover and
//! checker only ever talk to `dyn Driver` and `Stack`.
//!
//! Types below, behaviour above: the plain values (`types.rs`, `orchestrator.rs`,
//! `sites.rs`, `read_back.rs`, `shard_roles.rs`, `ports.rs`) import no sibling; the data
//! path (`data.rs`), the proxy's routes (`routes.rs`) and the running stack (`nodes.rs`)
//! stand on them; the traits over a stack (`bootstrap.rs`, `external_data.rs`,
//! `driver.rs`) on those; the external driver (`external.rs`) and the start of a stack
//! (`start.rs`, over `proxy.rs`) on top.
mod blob;
mod bootstrap;
mod data;
mod driver;
mod external;
mod external_data;
mod files;
mod holders;
mod keepalived;
mod mariadb;
mod nodes;
mod objects;
mod orchestrator;
mod ports;
mod postgres;
mod proxy;
mod read_back;
mod redis;
mod routes;
mod shard_roles;
mod sites;
mod start;
mod types;
mod vip;

pub use bootstrap::{Bootstrap, Saved};
pub use data::{Auth, DataPath, EngineLag, Heartbeat, LagPath, ReplicaAt, Scope, WriteClient, WriteError};
pub use driver::{Deployment, Driver, MultiActive, Promotion, Restore};
pub use external::{External, named_endpoint, plan as external_plan};
pub use external_data::ExternalData;
pub use holders::{EntryHolders, Held};
pub use nodes::{Node, Orchestrator, Stack};
pub use orchestrator::{Budgets, ClientDns, Observed, PhaseSteps};
pub use ports::free_port;
pub use proxy::{PROXY_NODE, set_loss};
pub use read_back::{ReadBack, Seqs};
pub use redis::RedisSentinel;
pub use routes::{Crossing, ProxyRoutes};
pub use shard_roles::{ShardRole, ShardRoles};
pub use sites::{Sites, iptables_script, is_wan_toxic, wan_loss_rules, wan_toxics};
pub use start::StackPlan;
pub use types::{
    CommitStamp, Exporter, RecordGroup, RecordGroups, ReplicaHealth, ReplicationStop, ServerClock, ShardInfo, Shards, Sidecar,
};

use crate::error::Result;
use crate::scenario::StackSpec;
use std::time::Duration;

/// The driver of a scenario's stack kind (an external stack's without its credentials):
/// the one place a kind's name meets its code.
pub fn driver_for(spec: &StackSpec) -> Box<dyn Driver> {
    let driver: Box<dyn Driver> = match spec.kind.name() {
        "postgres" => Box::new(postgres::Postgres::new(spec)),
        "patroni" => Box::new(postgres::Patroni::new(spec)),
        "redis" => Box::new(redis::Redis::new(spec)),
        "redis-sentinel" => Box::new(redis::RedisSentinel::new(spec)),
        "redis-cluster" => Box::new(redis::RedisCluster::new(spec)),
        "pglogical" => Box::new(postgres::Pglogical::new(spec)),
        "postgres-logical" => Box::new(postgres::PostgresLogical::new(spec)),
        "mariadb" => Box::new(mariadb::MariaDb::new(spec)),
        "mariadb-mha" => Box::new(mariadb::Mha::new(spec)),
        "galera" => Box::new(mariadb::Galera::new(spec)),
        "files" => Box::new(files::Files::new(spec)),
        "files-keepalived" => Box::new(files::FilesKeepalived::new(spec)),
        "objects" => Box::new(objects::Objects::new(spec)),
        _ => Box::new(External::new(spec, Auth::default())),
    };
    match &spec.carried_by {
        // another service's Keepalived promotes it (`keepalived.notify_master`)
        Some(by) => Box::new(keepalived::Carried::new(driver, by.clone())),
        None => driver,
    }
}

/// Polls `f` until it returns Ok or `timeout` passes; returns the last error.
pub async fn retry_until<T, F, Fut>(timeout: Duration, every: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::KINDS;

    #[test]
    fn every_kind_has_its_driver_and_the_bare_one_attaches_to_a_stack_of_its_engine() {
        for k in KINDS {
            let spec: StackSpec = serde_json::from_value(serde_json::json!({"kind": k.name()})).unwrap();
            let driver = driver_for(&spec);
            assert_eq!(driver.attach(&Auth::default()).is_some(), k.info().engine, "{k:?}");
            // a kind missing from driver_for would fall to its last arm, the external driver
            assert_eq!(driver.deployment().is_some(), !k.is_external(), "{k:?} has no arm of its own in driver_for");
        }
    }
}
