//! The clients' stub resolver: hickory-resolver pointed at the drill's DNS server only,
//! caching every answer for the TTL it came with (no minimum, no maximum), as the resolver
//! of an application that honours TTLs does.
use crate::error::{Error, Result};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

pub struct StubResolver {
    inner: TokioResolver,
}

/// One lookup: the address, and until when the resolver will give it without asking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub ip: Ipv4Addr,
    pub valid_until: Instant,
}

impl StubResolver {
    /// A resolver that asks `server` (UDP) and nothing else.
    pub fn new(server: SocketAddr) -> Result<StubResolver> {
        let mut ns = NameServerConfig::udp_and_tcp(server.ip());
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        ns.connections = vec![udp];
        let inner = Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), TokioRuntimeProvider::default())
            .build()
            .map_err(|e| Error::infra("failed to build the clients' stub resolver").cause(e))?;
        Ok(StubResolver { inner })
    }

    /// `host` (a name in the drill's zone or any fully qualified name), from the cache
    /// while its TTL lasts, else from the server.
    pub async fn resolve(&self, host: &str) -> Result<Resolved> {
        let fqdn = if host.ends_with('.') { host.to_string() } else { format!("{host}.{}", super::ZONE) };
        let found = self.inner.lookup_ip(fqdn.as_str()).await.map_err(|e| Error::infra(format!("failed to resolve {fqdn}")).cause(e))?;
        let ip = found.iter().find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
        let ip = ip.ok_or_else(|| Error::infra(format!("failed to resolve {fqdn}: no A record")))?;
        Ok(Resolved { ip, valid_until: found.valid_until() })
    }
}

#[cfg(test)]
mod tests {
    use super::super::DnsServer;
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, last)
    }

    #[tokio::test]
    async fn a_moved_record_reaches_a_cached_client_once_its_ttl_runs_out_and_a_fresh_one_at_once() {
        let server = DnsServer::start(&[("pg".into(), ip(11))], 1).await.unwrap();
        let cached = StubResolver::new(server.addr()).unwrap();
        let first = cached.resolve("pg").await.unwrap();
        assert_eq!(first.ip, ip(11));
        let ttl = first.valid_until.saturating_duration_since(Instant::now());
        assert!(ttl > Duration::from_millis(900) && ttl <= Duration::from_secs(1), "cached for {ttl:?}, the TTL is 1 s");
        server.set("pg", ip(12)).await.unwrap();
        let moved = Instant::now();
        // the cache keeps the old address while the TTL lasts; a resolver that never asked
        // gets the new one at once
        assert_eq!(cached.resolve("pg").await.unwrap().ip, ip(11));
        assert_eq!(StubResolver::new(server.addr()).unwrap().resolve("pg.drill.").await.unwrap().ip, ip(12));
        loop {
            let r = cached.resolve("pg").await.unwrap();
            if r.ip == ip(12) {
                break;
            }
            assert!(moved.elapsed() < Duration::from_secs(3), "the cache never expired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(Instant::now() >= first.valid_until, "the new address came before the old answer's TTL ran out");
        server.stop().await;
    }

    #[tokio::test]
    async fn a_name_outside_the_zone_is_an_error_not_a_hang() {
        let server = DnsServer::start(&[("pg".into(), ip(11))], 5).await.unwrap();
        let r = StubResolver::new(server.addr()).unwrap();
        let started = Instant::now();
        assert!(r.resolve("redis").await.is_err());
        assert!(started.elapsed() < Duration::from_secs(15));
        server.stop().await;
    }
}
