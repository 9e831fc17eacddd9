//! Free host ports, and running a container published on one (retried when another
//! process takes the port between the probe and the engine's bind).
use crate::docker::{ContainerSpec, Docker};
use crate::error::{Error, Result};
use std::net::{Ipv4Addr, TcpListener};

/// Node `i`'s own loopback address in `net`.
pub fn own_address(net: [u8; 2], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, net[0], net[1], u8::try_from(i + 1).unwrap_or(u8::MAX))
}

/// A port free on `ip` (bound then released; the engine binds it right after).
pub(super) fn free_port_on(ip: Ipv4Addr) -> Result<u16> {
    let what = || format!("failed to find a free port on {ip}");
    let l = TcpListener::bind((ip, 0)).map_err(|e| Error::infra(what()).cause(e))?;
    Ok(l.local_addr().map_err(|e| Error::infra(what()).cause(e))?.port())
}

/// A free port on 127.0.0.1 (bound then released; the engine binds it right after).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?;
    Ok(l.local_addr().map_err(|e| Error::infra("failed to find a free port on 127.0.0.1").cause(e))?.port())
}

/// Runs `spec` with `port` published on a free host port. Returns the host port.
pub(super) async fn run_published(docker: &Docker, spec: ContainerSpec, port: u16) -> Result<u16> {
    run_on_free_port(docker, &spec, |host_port| ContainerSpec { ports: vec![(port, host_port)], ..spec.clone() }).await
}

/// Runs `with(port)` on a free host port; retries when the port was taken between our
/// probe and the engine's bind. Returns the port.
pub(super) async fn run_on_free_port(docker: &Docker, spec: &ContainerSpec, with: impl Fn(u16) -> ContainerSpec) -> Result<u16> {
    run_on_free_port_where(docker, spec, |_| true, with).await
}

/// A free port `fits` takes (at most 1000 drawn: the kernel's range is tens of thousands).
fn free_port_where(fits: impl Fn(u16) -> bool) -> Result<u16> {
    for _ in 0..1000 {
        let port = free_port()?;
        if fits(port) {
            return Ok(port);
        }
    }
    Err(Error::infra("failed to find a free port on 127.0.0.1 that the node can listen on"))
}

pub(super) async fn run_on_free_port_where(
    docker: &Docker,
    spec: &ContainerSpec,
    fits: impl Fn(u16) -> bool,
    with: impl Fn(u16) -> ContainerSpec,
) -> Result<u16> {
    for _ in 0..5 {
        let port = free_port_where(&fits)?;
        match docker.run(&with(port)).await {
            Ok(()) => return Ok(port),
            Err(e) if e.causes.iter().any(|c| c.contains("address already in use") || c.contains("port is already allocated")) => {
                docker.remove(&spec.name).await.ok();
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::infra(format!("failed to publish a port for {}", spec.name)))
}
