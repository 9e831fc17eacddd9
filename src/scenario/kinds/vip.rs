//! The servers' network and the VIP Keepalived moves on it (`keepalived.subnet`,
//! `keepalived.vip`), checked before anything starts: the drill's Docker network is made
//! with that subnet, and the VIP must lie inside it, clear of what Docker hands out.
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::Key;
use std::net::Ipv4Addr;

/// Docker gives the subnet's first addresses to the drill's containers (.1 the gateway).
pub const DOCKER_HANDS_OUT: u32 = 32;

/// `10.213.0.0/24` -> (its first address, prefix length), or why not (the prefix's bounds
/// are the table's: /16 to /26, room for the drill's containers and a VIP).
pub fn parse_subnet(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("expected a private IPv4 subnet such as 10.213.0.0/24, found `{s}`");
    let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
    let (addr, prefix): (Ipv4Addr, u8) = (addr.parse().map_err(|_| bad())?, prefix.parse().map_err(|_| bad())?);
    if !addr.is_private() {
        return Err(format!("a private range (10/8, 172.16/12, 192.168/16), so that no real address is shadowed; found {addr}"));
    }
    if u32::from(addr) & host_mask(prefix) != 0 {
        return Err(format!(
            "the subnet's first address ({}/{prefix}), found {addr}",
            Ipv4Addr::from(u32::from(addr) & !host_mask(prefix))
        ));
    }
    Ok((addr, prefix))
}

/// The host bits of a /`prefix` network (none past /32: no shift overflows).
fn host_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
}

/// The prefix length `s` gives after its `/`, when it is a number.
fn prefix_of(s: &str) -> Option<u8> {
    s.split_once('/').and_then(|(_, p)| p.parse().ok())
}

/// Why `vip` cannot be the VIP on `subnet` (its first address, prefix), if it cannot.
fn vip_refusal(vip: &str, (base, prefix): (Ipv4Addr, u8)) -> Option<String> {
    let Ok(ip) = vip.parse::<Ipv4Addr>() else { return Some(format!("expected an IPv4 address such as 10.213.0.250, found `{vip}`")) };
    let size = 1u32 << (32 - prefix);
    let index = u32::from(ip).wrapping_sub(u32::from(base));
    if index >= size {
        return Some(format!("the VIP {ip} is outside the servers' network {base}/{prefix}"));
    }
    if index < DOCKER_HANDS_OUT {
        return Some(format!(
            "the VIP {ip} is among the first {DOCKER_HANDS_OUT} addresses of {base}/{prefix}, which Docker hands to the drill's containers: pick one above them"
        ));
    }
    (index == size - 1).then(|| format!("the VIP {ip} is the broadcast address of {base}/{prefix}"))
}

/// What is wrong with `keepalived.subnet` and `keepalived.vip`, at the key.
pub(super) fn check(subnet: Option<&str>, vip: Option<&str>, p: &mut Vec<Problem>) {
    let at = |f: &'static str| vec![Key("stack"), Key("keepalived"), Key(f)];
    // the prefix's range first: a /0 or a /33 is out of it, whatever its address
    if let Some(prefix) = subnet.and_then(prefix_of) {
        let before = p.len();
        let (name, why) = ("KeepalivedSpec.subnet:the subnet's prefix length", "room for the drill's containers and a VIP");
        crate::scenario::bounds::check(p, at("subnet"), name, f64::from(prefix), why);
        if p.len() > before {
            return;
        }
    }
    let subnet = match subnet.map(parse_subnet) {
        Some(Ok(net)) => Some(net),
        Some(Err(why)) => {
            p.push((at("subnet"), why));
            return;
        }
        None => None,
    };
    match (vip, subnet) {
        (Some(_), None) => {
            p.push((at("vip"), "a VIP needs the servers' network: set `subnet` (the drill's network is made with it)".into()))
        }
        (Some(vip), Some(net)) => p.extend(vip_refusal(vip, net).map(|why| (at("vip"), why))),
        (None, _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vip_lies_inside_its_network_clear_of_dockers_addresses() {
        let net = parse_subnet("10.213.0.0/24").unwrap();
        assert_eq!(vip_refusal("10.213.0.250", net), None);
        assert!(vip_refusal("10.213.1.250", net).unwrap().contains("outside the servers' network 10.213.0.0/24"));
        assert!(vip_refusal("10.213.0.7", net).unwrap().contains("among the first 32 addresses"));
        assert!(vip_refusal("10.213.0.255", net).unwrap().contains("broadcast"));
        assert!(vip_refusal("10.213.0", net).unwrap().contains("expected an IPv4 address"));
        assert!(parse_subnet("10.213.0.9/24").unwrap_err().contains("the subnet's first address (10.213.0.0/24)"));
        assert!(parse_subnet("8.8.0.0/16").unwrap_err().contains("private range"));
        assert!(parse_subnet("nonsense").unwrap_err().contains("expected a private IPv4 subnet"));
        // a prefix past /31 shifts nothing out of range (a debug build once panicked)
        for s in ["10.213.0.0/32", "10.213.0.0/33", "10.213.0.0/0", "10.213.0.0/255"] {
            let _ = parse_subnet(s);
        }
        assert_eq!(parse_subnet("10.213.0.0/32"), Ok(("10.213.0.0".parse().unwrap(), 32)));
    }
}
