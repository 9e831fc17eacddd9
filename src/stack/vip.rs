//! A virtual IP on the drill's network, for the kinds whose failover moves one (MHA's
//! script, Keepalived's VRRP): the 250th address of the network's subnet, which Docker
//! hands out to no container of a drill's few.
use crate::error::{Error, Result};
use std::net::Ipv4Addr;

/// The VIP and the subnet's prefix length, from the network's subnet (`172.25.0.0/16`).
pub fn pick_vip(subnet: &str) -> Result<(String, u8)> {
    let bad = || Error::infra(format!("failed to pick a VIP in the drill network's subnet {subnet}"));
    let (base, prefix) = subnet.split_once('/').ok_or_else(bad)?;
    let (base, prefix): (Ipv4Addr, u8) = (base.parse().map_err(|_| bad())?, prefix.parse().map_err(|_| bad())?);
    if prefix > 24 {
        return Err(bad());
    }
    Ok((Ipv4Addr::from(u32::from(base) + 250).to_string(), prefix))
}

/// The VIP the scenario names (`keepalived.vip`, checked to lie inside the subnet), or
/// the subnet's 250th address; with the subnet's prefix length.
pub fn vip_for(declared: Option<&str>, subnet: &str) -> Result<(String, u8)> {
    let (picked, prefix) = pick_vip(subnet)?;
    Ok((declared.map_or(picked, str::to_string), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vip_is_the_250th_address_of_the_subnet() {
        assert_eq!(pick_vip("172.25.0.0/16").unwrap(), ("172.25.0.250".to_string(), 16));
        assert!(pick_vip("172.25.0.0/28").is_err(), "too small for a .250");
        assert!(pick_vip("nonsense").is_err());
        assert_eq!(vip_for(Some("10.213.0.100"), "10.213.0.0/24").unwrap(), ("10.213.0.100".to_string(), 24));
        assert_eq!(vip_for(None, "10.213.0.0/24").unwrap(), ("10.213.0.250".to_string(), 24));
    }
}
