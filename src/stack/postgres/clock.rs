//! A PostgreSQL node's clock, for the `clock_skew` fault: the image's entrypoint runs the
//! server under libfaketime reading its offset from `SKEW_FILE`; `clock_timestamp()` is
//! the server's own wall clock, skewed as its commit timestamps are.
use super::data::{PgData, q};
use crate::error::Result;
use crate::stack::ServerClock;
use async_trait::async_trait;
use std::net::SocketAddr;

/// Where the drdrill/postgres image's libfaketime reads the server's offset.
pub const SKEW_FILE: &str = "/var/lib/postgresql/drdrill-skew";

pub struct PgClock;

#[async_trait]
impl ServerClock for PgClock {
    fn skew_file(&self) -> &'static str {
        SKEW_FILE
    }

    async fn now(&self, addr: SocketAddr) -> Result<f64> {
        let c = PgData::drill().admin(addr).await?;
        let row = c.query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[]).await.map_err(q(addr, "read the clock"))?;
        Ok(row.get(0))
    }
}
