//! MariaDB 10.11: primary + replicas over binlog with GTID (`MASTER_USE_GTID=slave_pos`),
//! async or semi-sync. Every node starts read-only; the primary is made writable. drdrill
//! starts it and promotes in it; its data path is `data.rs`.
use super::data::{MariaData, col, q, role, server_id, slave_status};
use crate::error::{Error, Result};
use crate::scenario::{ReplicationMode, StackSpec};
use crate::stack::ExternalData;
use crate::stack::data::{Auth, DataPath};
use crate::stack::{Deployment, Driver, Promotion, ReplicaHealth, Stack, retry_until};
use async_trait::async_trait;
use mysql_async::prelude::*;
use std::time::Duration;

pub struct MariaDb {
    semi_sync: bool,
    /// `stack.settings` as my.cnf lines.
    pub(super) settings: Vec<String>,
    /// `settings.master_delay` (s): MariaDB has no my.cnf variable for it; replicas get
    /// it through `CHANGE MASTER TO MASTER_DELAY`.
    master_delay: Option<String>,
    /// The `drdrill` account's password: made for this drill, never a fixed one.
    pub(super) password: String,
    pub(super) data: MariaData,
    /// mariabackup + binlog streaming, when the scenario backs the stack up.
    backup: Option<super::backup::MariaBackup>,
}

impl MariaDb {
    pub fn new(spec: &StackSpec) -> Self {
        let password = fresh_password();
        MariaDb {
            semi_sync: spec.replication == ReplicationMode::SemiSync,
            settings: spec.settings.iter().filter(|(k, _)| *k != MASTER_DELAY).map(|(k, v)| format!("{k} = {v}")).collect(),
            master_delay: spec.settings.get(MASTER_DELAY).cloned(),
            data: MariaData::drill(&password),
            backup: spec.backup.as_ref().map(|_| super::backup::MariaBackup { password: password.clone() }),
            password,
        }
    }
}

fn fresh_password() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("dd{:016x}", h.finish())
}

/// The setting that delays replicas (a delayed replica against operator errors).
pub const MASTER_DELAY: &str = "master_delay";

#[async_trait]
impl Driver for MariaDb {
    fn attach(&self, auth: &Auth) -> Option<Box<dyn ExternalData>> {
        Some(Box::new(MariaData::external(auth)))
    }

    fn data(&self) -> &dyn DataPath {
        &self.data
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let primary = stack.node(&stack.primary())?.addr();
        let replicas = stack.replicas();
        retry_until(timeout, Duration::from_millis(500), || async {
            let mut p = self.data.admin(primary).await?;
            if !role(&mut p).await.map_err(q(primary, "read read_only"))?.0 {
                return Err(Error::infra(format!("failed to see {} writable", stack.primary())));
            }
            let mut health = Vec::new();
            for r in &replicas {
                health.push(self.replica_health(stack, r).await?);
            }
            if self.semi_sync {
                let clients: Option<(String, u64)> =
                    p.query_first("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'").await.map_err(q(primary, "read semi-sync status"))?;
                let n = clients.map(|c| c.1).unwrap_or(0);
                if n < replicas.len() as u64 {
                    return Err(Error::infra(format!("failed to see every replica semi-sync ({n} of {})", replicas.len())));
                }
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
        self.backup.as_ref().map(|b| b as &dyn crate::stack::Restore)
    }
}

#[async_trait]
impl Deployment for MariaDb {
    fn volumes(&self) -> Vec<(&'static str, &'static str)> {
        self.backup.iter().map(|_| super::backup::VOLUME).collect()
    }

    fn services(&self, nodes: &[String]) -> Vec<crate::stack::Sidecar> {
        self.backup.iter().map(|b| b.streamer(&nodes[0])).collect()
    }

    fn client_command(&self, host_port: u16) -> String {
        format!("mariadb -h 127.0.0.1 -P {host_port} -u drdrill -p{} drdrill", self.password)
    }

    /// As drdrill's own promotion: the relay log applied (up to the GTID the IO thread
    /// received, 30 s at most), then replication stopped and `read_only` off.
    fn promote_command(&self, node: &str) -> Option<String> {
        let semi = if self.semi_sync { "SET GLOBAL rpl_semi_sync_master_enabled = ON; " } else { "" };
        let my = format!("MYSQL_PWD='{}' mysql -h {node} -u drdrill --connect-timeout=2 -B", self.password);
        Some(format!(
            "io=$({my} -e 'STOP SLAVE IO_THREAD; SHOW SLAVE STATUS\\G' | sed -n 's/^ *Gtid_IO_Pos: *//p') && \\\n  {my} -N -e \"SELECT MASTER_GTID_WAIT('$io', 30); STOP SLAVE; RESET SLAVE ALL; {semi}SET GLOBAL read_only = 0\""
        ))
    }

    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(crate::stack::Exporter {
            name: "mysqld_exporter 0.14",
            job: "mysql",
            prefix: "mysql_",
            cmd: vec!["prometheus-mysqld-exporter".into(), "--web.listen-address=:9104".into()],
            env: vec![format!("DATA_SOURCE_NAME=drdrill:{}@({node}:3306)/", self.password)],
            port: 9104,
            files: Vec::new(),
        })
    }

    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        let sql = match how {
            crate::scenario::DataLoss::Delete => "DELETE FROM drdrill.drdrill_writes",
            crate::scenario::DataLoss::Drop => "DROP TABLE drdrill.drdrill_writes",
        };
        ["mariadb", "-h", "127.0.0.1", "-u", "drdrill", &format!("-p{}", self.password), "-e", sql].map(String::from).to_vec()
    }

    fn container(&self, node: &str, primary: &str, _replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let mut env = vec![
            format!("DRDRILL_NODE={node}"),
            format!("DRDRILL_SERVER_ID={}", server_id(node)),
            format!("DRDRILL_PASSWORD={}", self.password),
            format!("DRDRILL_SETTINGS={}", self.settings.join("\n")),
            format!("DRDRILL_SEMI_SYNC={}", u8::from(self.semi_sync)),
        ];
        if node == primary {
            env.push("DRDRILL_ROLE=primary".into());
        } else {
            env.push("DRDRILL_ROLE=replica".into());
            env.extend(self.master_delay.iter().map(|d| format!("DRDRILL_MASTER_DELAY={d}")));
            env.push(format!("DRDRILL_PRIMARY_HOST={}", upstream.0));
            env.push(format!("DRDRILL_PRIMARY_PORT={}", upstream.1));
        }
        (env, Vec::new())
    }
}

#[async_trait]
impl Promotion for MariaDb {
    async fn promote(&self, stack: &Stack, node: &str) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let mut c = self.data.admin(addr).await?;
        // apply everything the node received before it stops being a replica
        c.query_drop("STOP SLAVE IO_THREAD").await.map_err(q(addr, "stop the replica's IO thread"))?;
        if let Some(r) = slave_status(&mut c).await.map_err(q(addr, "read SHOW SLAVE STATUS"))? {
            let io = col(&r, "Gtid_IO_Pos");
            let waited: Option<i64> =
                c.exec_first("SELECT MASTER_GTID_WAIT(?, 60)", (io.clone(),)).await.map_err(q(addr, "wait for the relay log"))?;
            if waited != Some(0) {
                return Err(Error::infra(format!("failed to apply {node}'s relay log up to {io} within 60 s")));
            }
        }
        let semi = if self.semi_sync { "SET GLOBAL rpl_semi_sync_master_enabled = ON; " } else { "" };
        c.query_drop(format!("STOP SLAVE; RESET SLAVE ALL; {semi}SET GLOBAL read_only = 0")).await.map_err(q(addr, "promote"))?;
        set_role(stack, node, "primary").await
    }

    /// A delayed replica rolled forward to just before the operator's error: its SQL
    /// thread paused first (the error must never be applied), the error's GTID found in
    /// its relay log, the delay dropped, and `START SLAVE UNTIL` the GTID before it.
    async fn promote_at(&self, stack: &Stack, node: &str, target: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let addr = stack.node(node)?.addr();
        let mut c = self.data.admin(addr).await?;
        c.query_drop("STOP SLAVE SQL_THREAD").await.map_err(q(addr, "pause the replica's SQL thread"))?;
        let error = super::backup::error_in_relay_log(stack, node, target).await?;
        let before =
            gtid_before(&error).ok_or_else(|| Error::infra(format!("the operator's error has GTID {error}: nothing before it")))?;
        c.query_drop(format!("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE UNTIL master_gtid_pos = '{before}'"))
            .await
            .map_err(q(addr, "roll the replica forward"))?;
        retry_until(Duration::from_secs(300), Duration::from_millis(50), || async {
            let mut c = self.data.admin(addr).await?;
            let r = slave_status(&mut c).await.map_err(q(addr, "read SHOW SLAVE STATUS"))?;
            let pos: Option<String> = c.query_first("SELECT @@gtid_slave_pos").await.map_err(q(addr, "read gtid_slave_pos"))?;
            match r {
                Some(r) if col(&r, "Slave_SQL_Running") == "No" && pos.as_deref() == Some(before.as_str()) => Ok(()),
                _ => Err(Error::infra(format!("{node} has not stopped at {before} (just before the error, {error})"))),
            }
        })
        .await?;
        c.query_drop("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0").await.map_err(q(addr, "promote"))?;
        set_role(stack, node, "primary").await
    }

    async fn repoint(&self, stack: &Stack, replica: &str, primary: &str) -> Result<()> {
        let addr = stack.node(replica)?.addr();
        let (host, port) = stack.upstream(replica, primary);
        let mut c = self.data.admin(addr).await?;
        c.query_drop(format!(
            "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, MASTER_USE_GTID=slave_pos; START SLAVE"
        ))
        .await
        .map_err(q(addr, "repoint the replica"))
    }

    async fn rejoin(&self, stack: &Stack, node: &str, primary: &str) -> Result<()> {
        let n = stack.node(node)?;
        if stack.docker.is_running(&n.container).await {
            stack.docker.stop(&n.container, 10).await?;
        }
        let (host, port) = stack.upstream(node, primary);
        stack.docker.upload_file(&n.container, "/var/lib/mysql", "drdrill-follow", format!("{host} {port}").as_bytes()).await?;
        stack.docker.start(&n.container).await
    }
}

impl MariaDb {
    /// The seed's checklist: IO and SQL threads running, `Seconds_Behind_Master` reported.
    pub(super) async fn replica_health(&self, stack: &Stack, replica: &str) -> Result<ReplicaHealth> {
        let addr = stack.node(replica)?.addr();
        let mut c = self.data.admin(addr).await?;
        let r = slave_status(&mut c)
            .await
            .map_err(q(addr, "read SHOW SLAVE STATUS"))?
            .ok_or_else(|| Error::infra(format!("failed to see {replica} replicating: no SHOW SLAVE STATUS")))?;
        let (io, sql, behind) = (col(&r, "Slave_IO_Running"), col(&r, "Slave_SQL_Running"), col(&r, "Seconds_Behind_Master"));
        if io != "Yes" || sql != "Yes" || behind.is_empty() {
            let err = [col(&r, "Last_IO_Error"), col(&r, "Last_SQL_Error")].join(" ");
            return Err(Error::infra(format!("failed to see {replica} replicating: IO {io}, SQL {sql} {err}")));
        }
        let gtid = if col(&r, "Using_Gtid").is_empty() { "file/pos" } else { "gtid" };
        let lag = col(&r, "Read_Master_Log_Pos").parse::<i64>().unwrap_or(0) - col(&r, "Exec_Master_Log_Pos").parse::<i64>().unwrap_or(0);
        Ok(ReplicaHealth {
            node: replica.to_string(),
            state: format!("IO Yes / SQL Yes, {behind} s behind, {gtid} {}", col(&r, "Using_Gtid")),
            lag_bytes: lag.max(0),
        })
    }
}

/// Records what the node is now in its data directory, so that a restart comes back as it.
pub(super) async fn set_role(stack: &Stack, node: &str, role: &str) -> Result<()> {
    let n = stack.node(node)?;
    stack.docker.upload_file(&n.container, "/var/lib/mysql", "drdrill-role", format!("{role}\n").as_bytes()).await
}

/// The GTID just before `gtid` in its domain (`0-1-42` → `0-1-41`).
fn gtid_before(gtid: &str) -> Option<String> {
    let (head, seq) = gtid.rsplit_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    (seq > 1).then(|| format!("{head}-{}", seq - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gtid_before_an_error_is_one_less_in_its_domain() {
        assert_eq!(gtid_before("0-1-42").as_deref(), Some("0-1-41"));
        assert_eq!(gtid_before("0-1-1"), None);
        assert_eq!(gtid_before("garbage"), None);
    }
}
