//! Addresses on a drill's network, for faults that act on packets (iptables, tc).
use super::Docker;
use crate::error::{Error, Result};

impl Docker {
    /// The container's IPv4 address on `network` (asked at fault time: a restarted
    /// container may come back with another address).
    pub async fn ip(&self, container: &str, network: &str) -> Result<String> {
        let info = self
            .api
            .inspect_container(container, None)
            .await
            .map_err(|e| Error::infra(format!("failed to inspect container {container}")).cause(e))?;
        info.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut m| m.remove(network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| Error::infra(format!("failed to find the address of {container} on {network} (is it running?)")))
    }

    /// The container's IPv4 addresses on every network it joined.
    pub async fn ips(&self, container: &str) -> Result<Vec<String>> {
        let info = self
            .api
            .inspect_container(container, None)
            .await
            .map_err(|e| Error::infra(format!("failed to inspect container {container}")).cause(e))?;
        let nets = info.network_settings.and_then(|n| n.networks).unwrap_or_default();
        Ok(nets.into_values().filter_map(|e| e.ip_address).filter(|ip| !ip.is_empty()).collect())
    }

    /// The network's gateway: the source address of traffic that reaches a container
    /// through a port published on 127.0.0.1 (the engine's userland proxy).
    pub async fn gateway(&self, network: &str) -> Result<String> {
        let info = self
            .api
            .inspect_network::<String>(network, None)
            .await
            .map_err(|e| Error::infra(format!("failed to inspect network {network}")).cause(e))?;
        info.ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().find_map(|c| c.gateway))
            .ok_or_else(|| Error::infra(format!("failed to find the gateway of network {network}")))
    }

    /// The network's IPv4 subnet (`172.24.0.0/16`).
    pub async fn subnet(&self, network: &str) -> Result<String> {
        let info = self
            .api
            .inspect_network::<String>(network, None)
            .await
            .map_err(|e| Error::infra(format!("failed to inspect network {network}")).cause(e))?;
        info.ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().find_map(|c| c.subnet.filter(|s| s.contains('.'))))
            .ok_or_else(|| Error::infra(format!("failed to find the subnet of network {network}")))
    }
}
