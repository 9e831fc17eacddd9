//! PostgreSQL 15 under Patroni 3 (image drdrill/patroni:3, docker/patroni/): `etcd_members`
//! etcd 3.4 members (v3 API) start first, then the Patroni nodes, then HAProxy, which
//! routes its port 5000 to the node whose REST API answers `OPTIONS /primary` with 200.
//! Clients connect through HAProxy only, as applications do; each connection learns which
//! node it reached (`inet_server_addr()`). Patroni elects, promotes and demotes; drdrill
//! never does (see `patroni_watch.rs` for what it observes).
use super::data::{connect, is_writable, q};
use super::driver::Postgres;
use super::patroni_book::{Book, SCOPE};
use crate::error::{Error, Result};
use crate::scenario::{HaproxySpec, PatroniSpec, StackSpec};
use crate::stack::Orchestrator;
use crate::stack::data::{DataPath, ThroughEntry, WriteClient};
use crate::stack::{Deployment, Driver, ReplicaHealth, Sidecar, Stack, retry_until};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const ETCD_PORT: u16 = 2379;
const HAPROXY_PORT: u16 = 5000;
/// HAProxy's replica listener (`OPTIONS /replica`), seed 001's `haproxy_replica`.
const HAPROXY_REPLICA_PORT: u16 = 5001;

pub struct Patroni {
    pg: Postgres,
    pub(super) spec: PatroniSpec,
    pub(super) haproxy: HaproxySpec,
    pub(super) book: Arc<OnceLock<Book>>,
}

impl Patroni {
    pub fn new(spec: &StackSpec) -> Self {
        Patroni {
            pg: Postgres::new(spec),
            spec: spec.patroni.clone().unwrap_or_default(),
            haproxy: spec.haproxy.clone().unwrap_or_default(),
            book: Arc::default(),
        }
    }

    fn etcd_names(&self) -> Vec<String> {
        (1..=self.spec.etcd_members).map(|i| format!("etcd-{i}")).collect()
    }

    fn book(&self) -> std::result::Result<&Book, String> {
        self.book.get().ok_or_else(|| "the stack's addresses are not known yet".to_string())
    }
}

/// The node that is a writable primary now, asked of every node directly.
async fn primary_now(stack: &Stack) -> Option<String> {
    let mut found = None;
    for n in &stack.nodes {
        let Ok(c) = connect(n.addr(), "postgres", Duration::from_secs(2)).await else { continue };
        if let Ok(true) = is_writable(&c).await {
            if found.is_some() {
                return None; // two primaries: wait until Patroni settles
            }
            found = Some(n.name.clone());
        }
    }
    found
}

#[async_trait]
impl Deployment for Patroni {
    fn client_command(&self, host_port: u16) -> String {
        self.pg.client_command(host_port)
    }
    fn exporter(&self, node: &str) -> Option<crate::stack::Exporter> {
        Some(super::driver::exporter(node))
    }

    fn destroy_data_command(&self, how: crate::scenario::DataLoss) -> Vec<String> {
        Deployment::destroy_data_command(&self.pg, how)
    }

    fn container(&self, node: &str, primary: &str, replicas: &[String], _upstream: (&str, u16)) -> (Vec<String>, Vec<String>) {
        let s = &self.spec;
        let nodes: Vec<&str> = std::iter::once(primary).chain(replicas.iter().map(String::as_str)).collect();
        let env = vec![
            "DRDRILL_ROLE=patroni".to_string(),
            format!("DRDRILL_NODE={node}"),
            format!("DRDRILL_NODES={}", nodes.join(",")),
            format!("DRDRILL_ETCD={}", self.etcd_names().join(",")),
            format!("DRDRILL_SCOPE={SCOPE}"),
            format!("DRDRILL_TTL={}", s.ttl),
            format!("DRDRILL_LOOP_WAIT={}", s.loop_wait),
            format!("DRDRILL_RETRY_TIMEOUT={}", s.retry_timeout),
            format!("DRDRILL_MAX_LAG={}", s.maximum_lag_on_failover),
            format!("DRDRILL_SYNC_MODE={}", s.synchronous_mode),
            format!("DRDRILL_USE_PG_REWIND={}", s.use_pg_rewind),
            format!("DRDRILL_USE_SLOTS={}", s.use_slots),
            format!("DRDRILL_PG_SETTINGS={}", self.pg.settings.join("\n")),
        ];
        (env, Vec::new())
    }

    fn services(&self, nodes: &[String]) -> Vec<Sidecar> {
        let etcd = self.etcd_names();
        let mut v: Vec<Sidecar> = etcd
            .iter()
            .map(|name| Sidecar {
                name: name.clone(),
                env: vec!["DRDRILL_ROLE=etcd".into(), format!("DRDRILL_NODE={name}"), format!("DRDRILL_ETCD={}", etcd.join(","))],
                port: ETCD_PORT,
                before_nodes: true,
                ..Default::default()
            })
            .collect();
        let h = &self.haproxy;
        v.push(Sidecar {
            name: "haproxy".into(),
            env: vec![
                "DRDRILL_ROLE=haproxy".into(),
                "DRDRILL_NODE=haproxy".into(),
                format!("DRDRILL_NODES={}", nodes.join(",")),
                format!("DRDRILL_HAPROXY_INTER={}ms", h.inter_ms),
                format!("DRDRILL_HAPROXY_FASTINTER={}ms", h.fastinter_ms.unwrap_or(h.inter_ms)),
                format!("DRDRILL_HAPROXY_FALL={}", h.fall),
                format!("DRDRILL_HAPROXY_RISE={}", h.rise),
                format!("DRDRILL_HAPROXY_SHUTDOWN_SESSIONS={}", h.shutdown_sessions),
            ],
            port: HAPROXY_PORT,
            also: vec![HAPROXY_REPLICA_PORT],
            ..Default::default()
        });
        v
    }

    async fn started(&self, stack: &Stack) -> Result<()> {
        let mut book = Book::default();
        for n in &stack.nodes {
            let ip = stack.docker.ip(&n.container, &stack.network).await?;
            book.node_of.insert(ip, n.name.clone());
            book.addr_of.insert(n.name.clone(), n.addr());
            book.container_of.insert(n.name.clone(), n.container.clone());
        }
        book.etcd = stack.services.iter().filter(|s| s.name.starts_with("etcd-")).map(|s| s.addr()).collect();
        self.book.set(book).map_err(|_| Error::infra("the stack was started twice (a bug)"))
    }
}

#[async_trait]
impl Driver for Patroni {
    fn data(&self) -> &dyn DataPath {
        self
    }

    fn deployment(&self) -> Option<&dyn Deployment> {
        Some(self)
    }

    fn client_entry(&self) -> Option<&str> {
        Some("haproxy")
    }

    fn read_endpoint(&self, name: &str) -> Option<(&'static str, Option<u16>)> {
        (name == "haproxy-replica").then_some(("haproxy", Some(HAPROXY_REPLICA_PORT)))
    }

    fn orchestrator(&self) -> Option<Arc<dyn Orchestrator>> {
        Some(Arc::new(super::patroni_watch::PatroniWatch {
            spec: self.spec.clone(),
            haproxy: self.haproxy.clone(),
            book: self.book.clone(),
        }))
    }

    /// Patroni elects its own first leader: wait for exactly one primary, make it the
    /// stack's, create the drill database, then wait for every replica to stream and for
    /// HAProxy to route to the leader.
    async fn wait_healthy(&self, stack: &Stack, timeout: Duration) -> Result<Vec<ReplicaHealth>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let leader = retry_until(left(), Duration::from_millis(500), || async {
            primary_now(stack).await.ok_or_else(|| Error::infra("failed to see Patroni elect exactly one primary"))
        })
        .await?;
        stack.set_primary(&leader);
        let addr = stack.node(&leader)?.addr();
        retry_until(left(), Duration::from_millis(500), || async {
            let c = connect(addr, "postgres", Duration::from_secs(3)).await.map_err(q(addr, "connect"))?;
            let exists =
                c.query_opt("SELECT 1 FROM pg_database WHERE datname = 'drdrill'", &[]).await.map_err(q(addr, "list databases"))?;
            if exists.is_none() {
                c.batch_execute("CREATE DATABASE drdrill").await.map_err(q(addr, "create database drdrill"))?;
            }
            Ok(())
        })
        .await?;
        let health = self.pg.wait_healthy(stack, left()).await?;
        let entry = stack.service("haproxy")?.addr();
        let book = self.book().map_err(Error::infra)?;
        retry_until(left(), Duration::from_millis(500), || async {
            match reached(book, entry, Duration::from_secs(2)).await {
                Ok((_, node)) if node == leader => Ok(()),
                Ok((_, node)) => Err(Error::infra(format!("HAProxy routes to {node}, not the leader {leader}"))),
                Err(e) => Err(Error::infra(format!("failed to reach the leader through HAProxy: {e}"))),
            }
        })
        .await?;
        Ok(health)
    }
}

/// PostgreSQL's data path, except that a client connects through HAProxy.
#[async_trait]
impl ThroughEntry for Patroni {
    fn engine(&self) -> &dyn DataPath {
        &self.pg.data
    }

    /// A connection through HAProxy that knows which node it reached.
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let book = self.book()?;
        let mut c = self.pg.data.client(addr, timeout).await?;
        c.node = Some(node_behind(book, &c.client, timeout).await?.into());
        Ok(Box::new(c))
    }

    /// A reader's connection, to a node or through HAProxy's replica listener: it knows
    /// which node it reached, as a writer's does.
    async fn connect_reader(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        ThroughEntry::connect(self, addr, timeout).await
    }
}

/// The node a connection reached (HAProxy hides it): its server address, looked up.
async fn node_behind(book: &Book, c: &tokio_postgres::Client, timeout: Duration) -> std::result::Result<String, String> {
    let row = tokio::time::timeout(timeout, c.query_one("SELECT host(inet_server_addr())", &[]))
        .await
        .map_err(|_| "no answer to inet_server_addr()".to_string())?
        .map_err(|e| e.to_string())?;
    let ip: String = row.get(0);
    book.node_of.get(&ip).cloned().ok_or_else(|| format!("HAProxy reached an unknown server {ip}"))
}

/// A plain connection through `addr` and the node it reached.
async fn reached(book: &Book, addr: SocketAddr, timeout: Duration) -> std::result::Result<(tokio_postgres::Client, String), String> {
    let c = connect(addr, "postgres", timeout).await.map_err(|e| e.to_string())?;
    let node = node_behind(book, &c, timeout).await?;
    Ok((c, node))
}
