//! `drdrill proxy`: a chaos TCP proxy that speaks the Toxiproxy 2.x HTTP API, and its client.
//!
//! Drive it (or a real `toxiproxy-server`) from fault code with [`ProxyClient`]:
//! ```no_run
//! # async fn f(api: std::net::SocketAddr) -> drdrill::error::Result<()> {
//! use drdrill::proxy::{DOWNSTREAM, ProxyClient, ProxyConfig, ToxicConfig};
//! let client = ProxyClient::new(api);
//! let pg = client.create(&ProxyConfig::new("pg-1", "127.0.0.1:0", "127.0.0.1:5432")).await?;
//! client.add_toxic("pg-1", &ToxicConfig::latency("", DOWNSTREAM, 200, 20)).await?;
//! client.remove_toxic("pg-1", "latency_downstream").await?;
//! client.set_enabled("pg-1", false).await?;
//! # let _ = pg; Ok(()) }
//! ```
mod api;
mod api_error;
mod client;
mod collection;
mod link;
mod model;
mod server;
mod toxics;
mod upstream;

pub use api::TOXIPROXY_VERSION;
pub use client::{ApiStatus, ProxyClient};
pub use model::{DOWNSTREAM, ProxyConfig, ToxicConfig, UPSTREAM};
pub use server::{ProxyServer, serve};

/// The default API port of `toxiproxy-server` and `drdrill proxy`.
pub const DEFAULT_PORT: u16 = 8474;
