//! The clients' stub resolver: hickory-resolver pointed at the drill's DNS server only
//! (A records, no hosts file), behind a cache of its own that keeps every answer exactly
//! the TTL it came with (no minimum, no maximum), as the resolver of an application that
//! honours TTLs does. The cache is drdrill's so that a lookup says whether it asked the
//! server: hickory's own cache recomputes the expiry on every hit, to the second.
use crate::error::{Error, Result};
use hickory_resolver::config::{ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

pub struct StubResolver {
    inner: TokioResolver,
    /// name -> the last answer, while its TTL lasts.
    cache: Mutex<HashMap<String, Resolved>>,
}

/// One lookup: the address, until when the resolver gives it without asking, and whether
/// this lookup asked the server (false: from the cache).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub ip: Ipv4Addr,
    pub valid_until: Instant,
    pub fresh: bool,
}

impl StubResolver {
    /// A resolver that asks `server` (UDP) and nothing else.
    pub fn new(server: SocketAddr) -> Result<StubResolver> {
        let mut ns = NameServerConfig::udp_and_tcp(server.ip());
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        ns.connections = vec![udp];
        let mut builder = Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.cache_size = 0;
        opts.ip_strategy = LookupIpStrategy::Ipv4Only;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = std::time::Duration::from_secs(1);
        let inner = builder.build().map_err(|e| Error::infra("failed to build the clients' stub resolver").cause(e))?;
        Ok(StubResolver { inner, cache: Mutex::default() })
    }

    /// `host` (a name in the drill's zone or any fully qualified name), from the cache
    /// while its TTL lasts, else from the server.
    pub async fn resolve(&self, host: &str) -> Result<Resolved> {
        let fqdn = if host.ends_with('.') { host.to_string() } else { format!("{host}.{}", super::ZONE) };
        let now = Instant::now();
        if let Some(r) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&fqdn).filter(|r| now < r.valid_until) {
            return Ok(Resolved { fresh: false, ..*r });
        }
        let found = self.inner.lookup_ip(fqdn.as_str()).await.map_err(|e| Error::infra(format!("failed to resolve {fqdn}")).cause(e))?;
        let ip = found.iter().find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
        let ip = ip.ok_or_else(|| Error::infra(format!("failed to resolve {fqdn}: no A record")))?;
        // the TTL runs from the question (an answer's TTL counts from when it was sent)
        let ttl = found.as_lookup().answers().iter().map(|r| r.ttl).min().unwrap_or(0);
        let r = Resolved { ip, valid_until: now + std::time::Duration::from_secs(u64::from(ttl)), fresh: true };
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(fqdn, r);
        Ok(r)
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
        assert_eq!((first.ip, first.fresh), (ip(11), true));
        assert!(!cached.resolve("pg").await.unwrap().fresh, "a second lookup within the TTL asked the server");
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
        assert!(r.resolve("cache").await.is_err());
        assert!(started.elapsed() < Duration::from_secs(15));
        server.stop().await;
    }
}
