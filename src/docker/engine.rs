//! Which Docker engine a drill runs on: `DOCKER_HOST` (unix socket, plain tcp, or tcp
//! with TLS when `DOCKER_TLS_VERIFY=1`), and how the host reaches the ports it publishes
//! (`DRDRILL_ENGINE_HOST`, `DRDRILL_PUBLISH_IP`).
use crate::error::{Error, Result};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Request timeout for every engine call, seconds (bollard's default).
const TIMEOUT_S: u64 = 120;

/// The engine a drill ran on, as results.json records it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct EngineInfo {
    /// `unix:///var/run/docker.sock` or the `DOCKER_HOST` value.
    pub host: String,
    /// The server's version (`docker version`).
    pub version: String,
    /// True for a unix socket or a tcp address on the loopback.
    pub local: bool,
}

/// Where the engine is and how its published ports are reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub transport: Transport,
    pub local: bool,
    /// The host part of a tcp `DOCKER_HOST` (None for a unix socket).
    pub tcp_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Unix(String),
    Http(String),
    /// Address and the directory holding ca.pem, cert.pem and key.pem.
    Tls(String, PathBuf),
}

/// Reads `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` (`get` looks a name up).
pub fn endpoint(get: impl Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let host = get("DOCKER_HOST").filter(|h| !h.is_empty()).unwrap_or_else(|| DEFAULT_HOST.to_string());
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(Endpoint { host: host.clone(), transport: Transport::Unix(path.to_string()), local: true, tcp_host: None });
    }
    let rest = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")).or_else(|| host.strip_prefix("https://"));
    let Some(rest) = rest else {
        return Err(Error::infra(format!("failed to use DOCKER_HOST={host}: unsupported scheme"))
            .hint("drdrill supports unix:///path/docker.sock, tcp://host:port and, with DOCKER_TLS_VERIFY=1, TLS"));
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let name = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => authority,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']').to_string();
    let local = name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let tls = get("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty() && v != "0") || host.starts_with("https://");
    let transport = if tls {
        let certs = get("DOCKER_CERT_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .unwrap_or_else(|| PathBuf::from(".docker"));
        Transport::Tls(host.clone(), certs)
    } else {
        Transport::Http(host.clone())
    };
    Ok(Endpoint { host, transport, local, tcp_host: Some(name) })
}

impl Endpoint {
    /// Opens a client (nothing is sent yet).
    pub fn client(&self) -> Result<bollard::Docker> {
        let v = bollard::API_DEFAULT_VERSION;
        let fail = |e: bollard::errors::Error| Error::infra(format!("failed to connect to the Docker engine at {}", self.host)).cause(e);
        match &self.transport {
            Transport::Unix(path) => bollard::Docker::connect_with_unix(path, TIMEOUT_S, v).map_err(fail),
            Transport::Http(addr) => bollard::Docker::connect_with_http(addr, TIMEOUT_S, v).map_err(fail),
            Transport::Tls(addr, dir) => {
                let (ca, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
                for f in [&ca, &cert, &key] {
                    if !f.is_file() {
                        return Err(Error::infra(format!("failed to find {} for TLS to {}", f.display(), self.host))
                            .hint("DOCKER_TLS_VERIFY=1 needs ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH"));
                    }
                }
                bollard::Docker::connect_with_ssl(addr, &key, &cert, &ca, TIMEOUT_S, v).map_err(fail)
            }
        }
    }

    /// The address host-side clients use for published ports: `DRDRILL_ENGINE_HOST`, else
    /// 127.0.0.1 for a local engine, else the `DOCKER_HOST`'s host.
    pub async fn client_ip(&self, get: impl Fn(&str) -> Option<String>) -> Result<IpAddr> {
        let name = match get("DRDRILL_ENGINE_HOST").filter(|h| !h.is_empty()) {
            Some(h) => h,
            None if self.local => return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            None => self.tcp_host.clone().unwrap_or_else(|| "127.0.0.1".into()),
        };
        resolve(&name).await
    }
}

/// The address ports are published on: `DRDRILL_PUBLISH_IP`, else 127.0.0.1.
pub fn publish_ip(get: impl Fn(&str) -> Option<String>) -> Result<IpAddr> {
    match get("DRDRILL_PUBLISH_IP").filter(|h| !h.is_empty()) {
        None => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Some(ip) => ip.parse().map_err(|e| Error::usage(format!("failed to parse DRDRILL_PUBLISH_IP={ip}")).cause(e)),
    }
}

async fn resolve(name: &str) -> Result<IpAddr> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ip);
    }
    let fail = || Error::infra(format!("failed to resolve the engine host {name}")).hint("set DRDRILL_ENGINE_HOST to an address");
    let mut addrs = tokio::net::lookup_host((name, 0)).await.map_err(|e| fail().cause(e))?;
    addrs.next().map(|a| a.ip()).ok_or_else(fail)
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn docker_host_forms() {
        let e = endpoint(with(&[])).unwrap();
        assert_eq!((e.host.as_str(), e.local), (DEFAULT_HOST, true));
        assert_eq!(e.transport, Transport::Unix("/var/run/docker.sock".into()));
        let e = endpoint(with(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")])).unwrap();
        assert!(e.local);
        assert_eq!(e.transport, Transport::Http("tcp://127.0.0.1:2375".into()));
        let e = endpoint(with(&[("DOCKER_HOST", "tcp://localhost:2375")])).unwrap();
        assert!(e.local);
        let e = endpoint(with(&[("DOCKER_HOST", "tcp://10.1.2.3:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/c")])).unwrap();
        assert!(!e.local);
        assert_eq!(e.tcp_host.as_deref(), Some("10.1.2.3"));
        assert_eq!(e.transport, Transport::Tls("tcp://10.1.2.3:2376".into(), "/c".into()));
        assert!(endpoint(with(&[("DOCKER_HOST", "ssh://me@box")])).is_err());
    }

    #[tokio::test]
    async fn client_and_publish_addresses() {
        let local = endpoint(with(&[("DOCKER_HOST", "tcp://localhost:2375")])).unwrap();
        assert_eq!(local.client_ip(with(&[])).await.unwrap().to_string(), "127.0.0.1");
        let remote = endpoint(with(&[("DOCKER_HOST", "tcp://10.1.2.3:2375")])).unwrap();
        assert_eq!(remote.client_ip(with(&[])).await.unwrap().to_string(), "10.1.2.3");
        assert_eq!(remote.client_ip(with(&[("DRDRILL_ENGINE_HOST", "10.9.9.9")])).await.unwrap().to_string(), "10.9.9.9");
        assert_eq!(publish_ip(with(&[])).unwrap().to_string(), "127.0.0.1");
        assert_eq!(publish_ip(with(&[("DRDRILL_PUBLISH_IP", "10.1.2.3")])).unwrap().to_string(), "10.1.2.3");
        assert!(publish_ip(with(&[("DRDRILL_PUBLISH_IP", "nope")])).is_err());
    }
}
