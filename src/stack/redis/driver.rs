//! Redis 7: primary + replicas (replicaof); promotion with REPLICAOF NO ONE. drdrill
//! starts it and promotes in it; its data path is `data.rs`.
use super::data::{RedisData, command, field, info_replication};
use crate::error::{Error, Result};
use crate::scenario::StackSpec;
use crate::stack::ExternalData;
use crate::stack::data::{Auth, DataPath};
use crate::stack::{Deployment, Driver, Promotion, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use std::time::Duration;

pub struct Redis {
    settings: Vec<(String, String)>,
    /// Replicas announce their node name (`replica-announce-ip`), so the primary's INFO
    /// names them even when their replication comes through the proxy. Not under
    /// Sentinel, which connects to the announced address.
    announce_names: bool,
    pub(super) data: RedisData,
    /// Persistence on a volume that outlives the node, when the scenario backs it up.
    backup: Option<crate::scenario::BackupSpec>,
}

impl Redis {
    pub fn new(spec: &StackSpec) -> Self {
        Redis {
            settings: spec.settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            announce_names: true,
            data: RedisData::drill(),
            backup: spec.backup.clone(),
        }
    }

    /// Replicas announce their drill-network address, as Sentinel needs (it connects to
    /// the address a replica announces).
    pub(super) fn announcing_addresses(self) -> Self {
        Redis { announce_names: false, ..self }
    }

    /// The persistence settings of a backed-up stack (none otherwise).
    pub(super) fn backup_spec(&self) -> crate::scenario::BackupSpec {
        self.backup.clone().unwrap_or_default()
    }
}

#[async_trait]
impl Driver for Redis {
    fn attach(&self, auth: &Auth) -> Option<Box<dyn ExternalData>> {
        Some(Box::new(RedisData::external(auth)))
    }

    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        let want = stack.replicas();
        retry_until(timeout, Duration::from_millis(500), || async {
            let p = info_replication(primary).await?;
            let offset: i64 = field(&p, "master_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut health = Vec::new();
            for r in &want {
                let info = info_replication(stack.node(r)?.addr()).await?;
                let link = field(&info, "master_link_status").unwrap_or("unknown").to_string();
                let sync = field(&info, "master_sync_in_progress").unwrap_or("1");
                if link != "up" || sync != "0" {
                    return Err(Error::infra(format!("failed to see replica {r} in sync (link {link})")));
                }
                let at: i64 = field(&info, "slave_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
                health.push(ReplicaHealth { node: r.clone(), state: "online".into(), lag_bytes: offset - at });
            }
            Ok(health)
        })
        .await
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn promotion(&self) -> Option<&dyn Promotion> {
        Some(self)
    }

    fn restore(&self) -> Option<&dyn crate::stack::Restore> {
        self.backup.as_ref().map(|_| self as &dyn crate::stack::Restore)
    }
}

#[async_trait]
impl Deployment for Redis {
    fn volumes(&self) -> Vec<(&'static str, &'static str)> {
        self.backup.iter().map(|_| super::persistence::VOLUME).collect()
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("redis-cli -h 127.0.0.1 -p {host_port}")
    }

    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(exporter(node, 6379, None))
    }

    fn promote_command(&self, node: &str) -> Option<String> {
        Some(format!("redis-cli -h {node} -p 6379 REPLICAOF NO ONE | grep -qx OK"))
    }

    /// FLUSHALL, whatever `how` says: Redis has no table to drop.
    fn destroy_data_command(&self, _how: crate::scenario::DataLoss) -> Vec<String> {
        vec!["redis-cli".into(), "FLUSHALL".into()]
    }

    fn container(&self, node: &str, primary: &str, _replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut cmd: Vec<String> = match &self.backup {
            Some(b) => super::persistence::persistence_args(b, node),
            None => vec!["--appendonly".into(), "yes".into(), "--appendfsync".into(), "everysec".into()],
        };
        if self.announce_names {
            cmd.extend(["--replica-announce-ip".into(), node.to_string()]);
        }
        for (k, v) in &self.settings {
            cmd.push(format!("--{k}"));
            cmd.extend(v.split_whitespace().map(str::to_string));
        }
        if node != primary {
            cmd.extend(["--replicaof".into(), upstream.0.to_string(), upstream.1.to_string()]);
        }
        (Vec::new(), cmd)
    }
}

#[async_trait]
impl Promotion for Redis {
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        command(stack.node(node)?.addr(), &["REPLICAOF", "NO", "ONE"]).await
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let (host, port) = stack.upstream(replica, primary);
        command(stack.node(replica)?.addr(), &["REPLICAOF", &host, &port.to_string()]).await
    }

    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()> {
        let n = stack.node(node)?;
        if !stack.docker.is_running(&n.container).await {
            stack.docker.start(&n.container).await?;
        }
        let addr = n.addr();
        let (host, port) = stack.upstream(node, primary);
        let port = port.to_string();
        let args = ["REPLICAOF".to_string(), host, port];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        retry_until(Duration::from_secs(30), Duration::from_millis(200), || command(addr, &args)).await
    }
}

/// redis_exporter 1.45 beside `node`, which listens on `port`; logged in with `password`
/// when the node asks for one (else it reports `redis_up 0`, NOAUTH), given as
/// `REDIS_PASSWORD` (its `-redis.password`'s variable) so it is on no command line.
pub(super) fn exporter(node: &str, port: u16, password: Option<&str>) -> crate::stack::Exporter {
    crate::stack::Exporter {
        name: "redis_exporter 1.45",
        job: "redis",
        prefix: "redis_",
        cmd: vec!["prometheus-redis-exporter".into(), format!("--redis.addr=redis://{node}:{port}"), "--web.listen-address=:9121".into()],
        env: password.map(|p| format!("REDIS_PASSWORD={p}")).into_iter().collect(),
        port: 9121,
        files: Vec::new(),
    }
}
