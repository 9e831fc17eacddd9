//! The drill's DNS server: hickory-server's in-memory zone behind its UDP and TCP
//! listeners on 127.0.0.1, authoritative for `drill.`. In process rather than a knot or
//! bind9 container: it needs no image, starts in microseconds, leaves nothing behind when
//! the drill ends, and a record's move is stamped on the drill's own clock the moment the
//! zone changes. What is measured, the clients' caches, depends only on the TTL in the
//! answers, which a real stub resolver honours whatever server sends them.
use super::ZONE;
use crate::error::{Error, Result};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

pub struct DnsServer {
    zone: Arc<Zone>,
    ttl_s: u32,
    serial: AtomicU32,
    addr: SocketAddr,
    server: tokio::sync::Mutex<Server<Catalog>>,
}

fn name(s: &str) -> Result<Name> {
    let fqdn = if s.ends_with('.') { s.to_string() } else { format!("{s}.") };
    Name::from_ascii(&fqdn).map_err(|e| Error::infra(format!("`{s}` is not a DNS name")).cause(e))
}

/// The A record set of `host` holding `ip` alone.
fn a_set(host: &Name, ip: Ipv4Addr, ttl_s: u32, serial: u32) -> RecordSet {
    let mut set = RecordSet::new(host.clone(), RecordType::A, serial);
    set.insert(Record::from_rdata(host.clone(), ttl_s, RData::A(A::from(ip))), serial);
    set
}

/// A UDP socket and a TCP listener on one free loopback port. The UDP port is chosen by
/// the system, and its TCP twin may be taken (a drill's connection that just closed):
/// another port is tried then.
async fn bind_pair() -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener, SocketAddr)> {
    let bind = |e| Error::infra("failed to bind the drill's DNS server on 127.0.0.1").cause(e);
    let mut tries = 0;
    loop {
        let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(bind)?;
        let addr = udp.local_addr().map_err(bind)?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 => tries += 1,
            Err(e) => return Err(bind(e)),
        }
    }
}

impl DnsServer {
    /// Serves `records` (name in the zone → address), each with `ttl_s`, on a free port of
    /// 127.0.0.1 (UDP and TCP).
    pub async fn start(records: &[(String, Ipv4Addr)], ttl_s: u32) -> Result<DnsServer> {
        let origin = name(ZONE)?;
        let ns = name(&format!("ns.{ZONE}"))?;
        let soa = SOA::new(ns.clone(), name(&format!("drdrill.{ZONE}"))?, 1, 60, 60, 60, ttl_s);
        let mut sets = BTreeMap::new();
        let mut soa_set = RecordSet::new(origin.clone(), RecordType::SOA, 1);
        soa_set.insert(Record::from_rdata(origin.clone(), ttl_s, RData::SOA(soa)), 1);
        sets.insert(RrKey::new(LowerName::new(&origin), RecordType::SOA), soa_set);
        for (host, ip) in records {
            let host = name(&format!("{host}.{ZONE}"))?;
            sets.insert(RrKey::new(LowerName::new(&host), RecordType::A), a_set(&host, *ip, ttl_s, 1));
        }
        let zone = Arc::new(Zone::new(origin.clone(), sets, ZoneType::Primary, AxfrPolicy::Deny).map_err(Error::infra)?);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone() as Arc<dyn ZoneHandler>]);
        let (udp, tcp, addr) = bind_pair().await?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        Ok(DnsServer { zone, ttl_s, serial: AtomicU32::new(1), addr, server: tokio::sync::Mutex::new(server) })
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ttl_s(&self) -> u32 {
        self.ttl_s
    }

    /// Moves `host`'s A record to `ip` (every later answer gives `ip`; the caches hold the
    /// old one until their TTL runs out).
    pub async fn set(&self, host: &str, ip: Ipv4Addr) -> Result<()> {
        let fqdn = name(&format!("{host}.{ZONE}"))?;
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let mut records = self.zone.records_mut().await;
        records.insert(RrKey::new(LowerName::new(&fqdn), RecordType::A), Arc::new(a_set(&fqdn, ip, self.ttl_s, serial)));
        Ok(())
    }

    /// Stops answering and closes its sockets.
    pub async fn stop(&self) {
        let _ = self.server.lock().await.shutdown_gracefully().await;
    }
}
