//! An external Redis: keys `<table>:<run>:<writer>:<seq>`.
use super::{Access, Auth};
use crate::error::{Error, Result};
use crate::stack::redis::{KeyScan, RedisClient, is_master, read_back};
use crate::stack::redis_conn::RedisConn;
use crate::stack::{ReadBack, WriteClient};
use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use std::net::SocketAddr;
use std::time::Duration;

pub struct Redis {
    auth: Auth,
}

impl Redis {
    pub fn new(auth: Auth) -> Redis {
        Redis { auth }
    }

    fn prefix(&self) -> String {
        format!("{}:{}:", self.auth.table, self.auth.run)
    }

    async fn conn(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<MultiplexedConnection, String> {
        use redis::IntoConnectionInfo;
        let base = redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()).into_connection_info().map_err(|e| e.to_string())?;
        let mut settings = redis::RedisConnectionInfo::default();
        if let Some(u) = &self.auth.user {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.auth.password {
            settings = settings.set_password(p);
        }
        let info = base.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("connect timed out".into()),
        }
    }

    async fn admin(&self, addr: SocketAddr) -> Result<MultiplexedConnection> {
        self.conn(addr, Duration::from_secs(5))
            .await
            .map_err(|e| Error::infra(format!("failed to connect to redis at {addr}")).cause_text(e))
    }

    async fn info(&self, addr: SocketAddr) -> Result<Vec<(String, String)>> {
        crate::stack::redis::read_info_replication(&mut self.admin(addr).await?, addr).await
    }
}

fn field<'a>(info: &'a [(String, String)], key: &str) -> Option<&'a str> {
    info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[async_trait]
impl Access for Redis {
    fn port(&self) -> u16 {
        6379
    }
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<Box<dyn WriteClient>, String> {
        let login = self.auth.password.as_deref().map(|p| (self.auth.user.as_deref(), p));
        let conn = RedisConn::connect(addr, timeout, &self.prefix(), login).await.map_err(|e| e.to_string())?;
        Ok(Box::new(RedisClient { conn, node: None }))
    }
    async fn prepare(&self, _addr: SocketAddr) -> Result<()> {
        Ok(())
    }
    async fn writable(&self, addr: SocketAddr, timeout: Duration) -> std::result::Result<bool, String> {
        let mut c = self.conn(addr, timeout).await?;
        is_master(&mut c).await.map_err(|e| e.to_string())
    }
    async fn position(&self, addr: SocketAddr) -> Result<u64> {
        let info = self.info(addr).await?;
        let key = if field(&info, "role") == Some("master") { "master_repl_offset" } else { "slave_repl_offset" };
        Ok(field(&info, key).and_then(|v| v.parse().ok()).unwrap_or(0))
    }
    async fn max_lag(&self, addr: SocketAddr) -> std::result::Result<u64, String> {
        let info = self.info(addr).await.map_err(|e| e.one_line())?;
        let top: u64 = field(&info, "master_repl_offset").and_then(|v| v.parse().ok()).ok_or("not a primary")?;
        // slaveN:ip=…,port=…,state=online,offset=123,lag=0
        let offsets: Vec<u64> = info
            .iter()
            .filter(|(k, _)| k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit()))
            .filter_map(|(_, v)| v.split(',').find_map(|kv| kv.strip_prefix("offset=")).and_then(|o| o.parse().ok()))
            .collect();
        offsets.iter().map(|o| top.saturating_sub(*o)).max().ok_or_else(|| "no replica is connected to this node".into())
    }
    async fn read_back(&self, addr: SocketAddr) -> Result<ReadBack> {
        read_back(&mut self.admin(addr).await?, addr, &self.prefix()).await
    }
    async fn cleanup(&self, addr: SocketAddr) -> Result<String> {
        let mut c = self.admin(addr).await?;
        let (mut scan, mut deleted) = (KeyScan::new(&self.prefix()), 0usize);
        // deleting keys while SCAN goes on is safe: it still returns every key that stays
        while let Some(keys) = scan.next(&mut c, addr).await? {
            for chunk in keys.chunks(500) {
                redis::cmd("DEL")
                    .arg(chunk)
                    .query_async::<()>(&mut c)
                    .await
                    .map_err(|e| Error::infra(format!("failed to delete keys on {addr}")).cause(e))?;
            }
            deleted += keys.len();
        }
        Ok(format!("deleted {deleted} keys {}*", self.prefix()))
    }
}
