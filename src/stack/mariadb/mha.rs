//! MariaDB under MHA 0.58: the nodes are the `mariadb` driver's, plus an MHA manager
//! container (`mha`) running `masterha_manager`, and a forwarder (`vip`) from a port
//! published on 127.0.0.1 to a virtual IP on the drill network. MHA's
//! `master_ip_failover_script` moves the VIP (`ip addr` over SSH, then gratuitous ARP) to
//! the master it promotes: what the clients see is the address moving, never a drdrill
//! repoint. MHA reaches the nodes over SSH with a key pair made for this drill only.
use super::driver::MariaDb;
use super::mha_book::{Book, MANAGER, VIP_SERVICE};
use super::mha_watch::MhaWatch;
use crate::error::{Error, Result};
use crate::scenario::{MhaSpec, StackSpec};
use crate::stack::Orchestrator;
use crate::stack::data::{DataPath, ThroughEntry, WriteClient};
use crate::stack::{Deployment, Driver, ReplicaHealth, Sidecar, Stack, retry_until};
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const CONF: &str = "/etc/masterha/app1.cnf";

pub struct Mha {
    db: MariaDb,
    spec: MhaSpec,
    book: Arc<OnceLock<Book>>,
}

impl Mha {
    pub fn new(spec: &StackSpec) -> Self {
        Mha { db: MariaDb::new(spec), spec: spec.mha.clone().unwrap_or_default(), book: Arc::default() }
    }

    fn book(&self) -> Result<&Book> {
        self.book.get().ok_or_else(|| Error::infra("the stack's addresses are not known yet (a bug)"))
    }
}

/// MHA's configuration: servers by IP (Docker's DNS forgets a killed container's name).
fn app_conf(spec: &MhaSpec, password: &str, nodes: &[String], book: &Book) -> String {
    let mut c = format!(
        "[server default]\nmanager_workdir=/var/log/masterha/app1\nremote_workdir=/var/tmp/mha\n\
         user=drdrill\npassword={password}\nrepl_user=drdrill\nrepl_password={password}\nssh_user=root\n\
         ping_interval={}\nmaster_binlog_dir=/var/lib/mysql\ncheck_repl_delay={}\n\
         master_ip_failover_script=/usr/local/bin/drdrill-vip\nmaster_ip_online_change_script=/usr/local/bin/drdrill-vip\n",
        spec.ping_interval_s,
        u8::from(spec.check_repl_delay)
    );
    if spec.secondary_check {
        let others: Vec<String> = nodes[1..].iter().map(|n| format!("-s {}", book.ip_of[n])).collect();
        c.push_str(&format!("secondary_check_script=masterha_secondary_check {} --user=root\n", others.join(" ")));
    }
    for (i, n) in nodes.iter().enumerate() {
        c.push_str(&format!("\n[server{}]\nhostname={}\n", i + 1, book.ip_of[n]));
        if spec.candidate_master.is_empty() || spec.candidate_master.contains(n) {
            c.push_str("candidate_master=1\n");
        }
    }
    c
}

impl Mha {
    /// MHA finds the master through its replicas' `Master_Host` when it fails over, and
    /// Docker's DNS drops a killed container's name: the replicas replicate from its IP.
    async fn replicate_by_ip(&self, stack: &Stack) -> Result<()> {
        let (book, primary) = (self.book()?, stack.primary());
        for r in stack.replicas() {
            let (host, port) = stack.upstream(&r, &primary);
            let host = book.ip_of.get(&host).cloned().unwrap_or(host);
            let addr = stack.node(&r)?.addr();
            let mut c = self.db.data.admin(addr).await?;
            let sql =
                format!("STOP SLAVE; CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, MASTER_USE_GTID=slave_pos; START SLAVE");
            c.query_drop(sql).await.map_err(super::data::q(addr, "point the replica at the master's IP"))?;
        }
        Ok(())
    }

    /// The manager's key pair, handed to every node (MHA and its node tools use SSH both
    /// from the manager and between the nodes).
    async fn hand_out_keys(&self, stack: &Stack) -> Result<()> {
        let mgr = &stack.service(MANAGER)?.container;
        let read = || async {
            stack.exec_ok(mgr, "read MHA's key pair", &["sh", "-c", "cat /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub"]).await
        };
        let keys = retry_until(Duration::from_secs(20), Duration::from_millis(200), read).await?;
        let split = keys.find("-----END OPENSSH PRIVATE KEY-----").map(|i| i + "-----END OPENSSH PRIVATE KEY-----".len());
        let (private, public) = keys.split_at(split.ok_or_else(|| Error::infra("failed to read MHA's key pair"))?);
        let config = "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 2\n";
        for n in &stack.nodes {
            for (file, text) in [("id_ed25519", format!("{}\n", private.trim())), ("authorized_keys", public.trim().to_string() + "\n")] {
                stack.docker.upload_file(&n.container, "/root/.ssh", file, text.as_bytes()).await?;
            }
            stack.docker.upload_file(&n.container, "/root/.ssh", "config", config.as_bytes()).await?;
            stack
                .exec_ok(&n.container, "protect the SSH key", &["chmod", "600", "/root/.ssh/id_ed25519", "/root/.ssh/authorized_keys"])
                .await?;
        }
        Ok(())
    }

    /// The VIP on the first master, the forwarder pointed at it, MHA configured and checked
    /// (`masterha_check_ssh`, `masterha_check_repl`), then the manager started.
    async fn start_mha(&self, stack: &Stack) -> Result<()> {
        let book = self.book()?;
        let (mgr, fwd) = (&stack.service(MANAGER)?.container, &stack.service(VIP_SERVICE)?.container);
        let primary = stack.node(&stack.primary())?;
        let (vip, prefix) = (&book.vip, book.prefix);
        let add = format!("ip addr add {vip}/{prefix} dev eth0 && (arping -q -U -c 1 -w 1 -i eth0 -S {vip} {vip}; true)");
        stack.exec_ok(&primary.container, "put the VIP on the first master", &["sh", "-c", &add]).await?;
        stack.docker.upload_file(fwd, "/etc", "drdrill-vip", vip.as_bytes()).await?;
        let names: Vec<String> = stack.nodes.iter().map(|n| n.name.clone()).collect();
        let conf = app_conf(&self.spec, &self.db.password, &names, book);
        stack.docker.upload_file(mgr, "/etc/masterha", "app1.cnf", conf.as_bytes()).await?;
        stack.docker.upload_file(mgr, "/etc/masterha", "vip.env", format!("VIP={vip}\nPREFIX={prefix}\n").as_bytes()).await?;
        // masterha_check_ssh 0.58 exits 255 after passing ("Use of uninitialized value in
        // exit"): its own verdict line is what counts
        let (_, out) = stack.docker.exec(mgr, &["masterha_check_ssh", &format!("--conf={CONF}")]).await?;
        if !out.contains("All SSH connection tests passed successfully.") {
            return Err(Error::infra("failed to check SSH between MHA and the nodes").cause_text(crate::stack::nodes::tail(&out)));
        }
        stack.exec_ok(mgr, "check replication with masterha_check_repl", &["masterha_check_repl", &format!("--conf={CONF}")]).await?;
        stack.docker.upload_file(mgr, "/etc/masterha", "start", b"1").await?;
        retry_until(Duration::from_secs(60), Duration::from_millis(200), || async {
            let log = stack.docker.logs(mgr).await?;
            match log.contains("succeeded, waiting until MySQL doesn't respond") {
                true => Ok(()),
                false => {
                    Err(Error::infra("failed to see masterha_manager monitoring the master").cause_text(crate::stack::nodes::tail(&log)))
                }
            }
        })
        .await
    }
}

#[async_trait]
impl Deployment for Mha {
    fn client_command(&self, host_port: u16) -> String {
        self.db.client_command(host_port)
    }
    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        self.db.exporter(node)
    }
    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        Deployment::destroy_data_command(&self.db, how)
    }

    fn container(&self, node: &str, primary: &str, replicas: &[String], upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let (mut env, cmd) = self.db.container(node, primary, replicas, upstream);
        env.push("DRDRILL_SSH=1".into());
        (env, cmd)
    }

    fn services(&self, _nodes: &[String]) -> Vec<Sidecar> {
        let svc = |name: &str, role: &str| Sidecar {
            name: name.into(),
            env: vec![format!("DRDRILL_ROLE={role}"), format!("DRDRILL_NODE={name}")],
            port: 3306,
            ..Default::default()
        };
        vec![svc(MANAGER, "mha"), svc(VIP_SERVICE, "forward")]
    }

    async fn started(&self, stack: &Stack) -> Result<()> {
        let (vip, prefix) = crate::stack::vip::pick_vip(&stack.docker.subnet(&stack.network).await?)?;
        let mut book = Book { vip, prefix, ..Default::default() };
        for n in &stack.nodes {
            let ip = stack.docker.ip(&n.container, &stack.network).await?;
            book.node_of_ip.insert(ip.clone(), n.name.clone());
            book.ip_of.insert(n.name.clone(), ip);
            book.addr_of.insert(n.name.clone(), n.addr());
        }
        self.book.set(book).map_err(|_| Error::infra("the stack was started twice (a bug)"))
    }
}

#[async_trait]
impl Driver for Mha {
    fn data(&self) -> &dyn DataPath {
        self
    }

    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        self.db.wait_healthy(stack, timeout).await?;
        self.replicate_by_ip(stack).await?;
        let health = self.db.wait_healthy(stack, timeout).await?;
        self.hand_out_keys(stack).await?;
        self.start_mha(stack).await?;
        Ok(health)
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }
    fn client_entry(&self) -> Option<&str> {
        Some(VIP_SERVICE)
    }
    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(MhaWatch { spec: self.spec.clone(), book: self.book.clone(), password: self.db.password.clone() }))
    }
}

/// MariaDB's data path, except that a client says which node the VIP reached.
#[async_trait]
impl ThroughEntry for Mha {
    fn engine(&self) -> &dyn DataPath {
        &self.db.data
    }

    /// Through the VIP: the connection says which node it reached (`@@report_host`).
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        Ok(Box::new(self.db.data.client(addr, timeout, true).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vip_lies_inside_the_drill_subnet() {
        assert_eq!(crate::stack::vip::pick_vip("172.24.0.0/16").unwrap(), ("172.24.0.250".to_string(), 16));
        assert_eq!(crate::stack::vip::pick_vip("10.9.3.0/24").unwrap(), ("10.9.3.250".to_string(), 24));
        assert!(crate::stack::vip::pick_vip("10.9.3.0/28").is_err());
        assert!(crate::stack::vip::pick_vip("fd00::/64").is_err());
    }

    #[test]
    fn mha_config_names_servers_by_ip_with_the_scenario_settings() {
        let mut book = Book::default();
        for (n, ip) in [("db-1", "172.24.0.2"), ("db-2", "172.24.0.3"), ("db-3", "172.24.0.4")] {
            book.ip_of.insert(n.into(), ip.into());
        }
        let names: Vec<String> = ["db-1", "db-2", "db-3"].iter().map(|s| s.to_string()).collect();
        let spec = MhaSpec { ping_interval_s: 1, candidate_master: vec!["db-3".into()], secondary_check: true, ..Default::default() };
        let c = app_conf(&spec, "pw", &names, &book);
        assert!(c.contains("ping_interval=1\n") && c.contains("password=pw\n") && c.contains("check_repl_delay=1\n"));
        assert!(c.contains("[server3]\nhostname=172.24.0.4\ncandidate_master=1\n"));
        assert!(c.contains("[server2]\nhostname=172.24.0.3\n\n"), "only the listed candidate: {c}");
        assert!(c.contains("masterha_secondary_check -s 172.24.0.3 -s 172.24.0.4"));
    }
}
