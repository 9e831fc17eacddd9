//! Sites at run time (docs/regions.md): which site each node is in, where the clients sit,
//! and the WAN links between sites. Each site is a Docker network of its own; the chaos
//! proxy sits on all of them and carries every connection that crosses sites (a replica
//! in one site replicating from a primary in another, clients reaching a site they are not
//! in), with the link's toxics on it. Which of the proxy's paths cross which link
//! (`Sites::crossings`) is the proxy's routes' to say (routes.rs).
use crate::docker;
use crate::proxy::{DOWNSTREAM, ToxicConfig, UPSTREAM};
use crate::scenario::{LinkSpec, Scenario};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Sites {
    /// node -> its site.
    pub nodes: BTreeMap<String, String>,
    /// Where the clients sit; None: outside every site, reaching each one directly.
    pub clients: Option<String>,
    pub wan: Vec<LinkSpec>,
    /// The sites are groups on the drill's one network (an orchestrator's members), not
    /// networks of their own: nothing crosses the proxy, and isolation is a partition.
    pub flat: bool,
    /// Clients sit in every site, each site's with its own node (a multi-active stack):
    /// cutting a site off never cuts its clients from their node.
    pub clients_everywhere: bool,
    /// Where the readers stand, when not where the writers do (`workload.readers.site`):
    /// each node then has a read path of its own, from this site.
    pub readers: Option<String>,
}

/// The name every WAN toxic starts with (a fault's toxics are named `drdrill-fault-…`).
const WAN: &str = "wan";

impl Sites {
    /// The stack's sites, when the scenario has any.
    pub fn of(sc: &Scenario) -> Option<Sites> {
        if sc.sites.is_empty() {
            return None;
        }
        let nodes = sc.stack.sites.iter().flat_map(|(site, members)| members.iter().map(move |m| (m.clone(), site.clone()))).collect();
        let clients_everywhere = sc.stack.kind.info().multi_active;
        let clients = sc.workload.site.clone();
        let readers = sc.workload.readers.as_ref().and_then(|r| r.site.clone()).filter(|r| Some(r) != clients.as_ref());
        Some(Sites { nodes, clients, wan: sc.wan.clone(), flat: sc.flat_sites(), clients_everywhere, readers })
    }

    /// The network `node` runs on: its site's, or None (the drill's) when the sites are
    /// groups on one network.
    pub fn network_of(&self, run_id: &str, node: &str) -> Option<String> {
        self.site(node).filter(|_| !self.flat).map(|site| Sites::network(run_id, site))
    }

    /// Every member (node or service) in `site`.
    pub fn members(&self, site: &str) -> Vec<String> {
        self.nodes.iter().filter(|(_, s)| *s == site).map(|(n, _)| n.clone()).collect()
    }

    /// The Docker network of `site` in drill `run_id`.
    pub fn network(run_id: &str, site: &str) -> String {
        format!("{}-{site}", docker::network_name(run_id))
    }

    pub fn site(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).map(String::as_str)
    }

    /// Every site the stack's nodes are in, each once.
    pub fn used(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.values().cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    /// The link a connection between `a` and `b` crosses: None within a site, or from
    /// clients outside every site.
    pub fn link(&self, a: Option<&str>, b: Option<&str>) -> Option<&LinkSpec> {
        let (a, b) = (a?, b?);
        if a == b {
            return None;
        }
        self.wan.iter().find(|l| l.joins(a, b))
    }

    /// Whether a connection between `a` and `b` leaves `site` (one end in it, one not).
    pub fn leaves(ends: &[Option<String>; 2], site: &str) -> bool {
        let inside = |e: &Option<String>| e.as_deref() == Some(site);
        inside(&ends[0]) != inside(&ends[1])
    }
}

/// The toxics that make `link` on one proxy: half its round trip (± half its jitter) each
/// way, and its rate each way.
pub fn wan_toxics(link: &LinkSpec) -> Vec<ToxicConfig> {
    let mut out = Vec::new();
    for stream in [UPSTREAM, DOWNSTREAM] {
        if link.latency_ms > 0 || link.jitter_ms > 0 {
            out.push(ToxicConfig::latency(format!("{WAN}-latency-{stream}"), stream, link.latency_ms / 2, link.jitter_ms / 2));
        }
        if let Some(rate) = link.bandwidth_kb_per_s {
            out.push(ToxicConfig::bandwidth(format!("{WAN}-bandwidth-{stream}"), stream, rate));
        }
    }
    out
}

/// The iptables rules that drop `percent` of the packets, each way, of the paths listening
/// on `ports` in the proxy container: what arrives at the listener and what leaves it.
pub fn wan_loss_rules(ports: &[u16], percent: f64) -> Vec<String> {
    if percent <= 0.0 {
        return Vec::new();
    }
    let p = percent / 100.0;
    let drop = format!("-m statistic --mode random --probability {p:.6} -m comment --comment drdrill-{WAN}-loss -j DROP");
    ports.iter().flat_map(|port| [format!("INPUT -p tcp --dport {port} {drop}"), format!("OUTPUT -p tcp --sport {port} {drop}")]).collect()
}

/// One `iptables-restore --noflush` transaction (`op`: `-I` inserts the rules, `-D` deletes
/// them), retried twice: with the nft backend two faults committing in one container at the
/// same moment can collide.
pub fn iptables_script(op: &str, rules: &[String]) -> String {
    let body: Vec<String> = rules.iter().map(|r| format!("{op} {r}")).collect();
    format!(
        "apply() {{\niptables-restore -w --noflush <<'DRDRILL'\n*filter\n{}\nCOMMIT\nDRDRILL\n}}\napply || {{ sleep 0.05; apply; }} || {{ sleep 0.2; apply; }}",
        body.join("\n")
    )
}

/// Whether toxic `name` is one of a WAN link's.
pub fn is_wan_toxic(name: &str) -> bool {
    name.starts_with(&format!("{WAN}-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(latency: u64, jitter: u64, rate: Option<u64>) -> LinkSpec {
        LinkSpec {
            between: vec!["dc1".into(), "dc2".into()],
            latency_ms: latency,
            jitter_ms: jitter,
            bandwidth_kb_per_s: rate,
            loss_percent: 0.0,
        }
    }

    #[test]
    fn a_link_is_half_its_round_trip_each_way_and_its_rate_each_way() {
        let t = wan_toxics(&link(30, 10, Some(12_500)));
        let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["wan-latency-upstream", "wan-bandwidth-upstream", "wan-latency-downstream", "wan-bandwidth-downstream"]);
        assert_eq!(t[0].attributes["latency"], 15);
        assert_eq!(t[0].attributes["jitter"], 5);
        assert!(wan_toxics(&link(0, 0, None)).is_empty());
        assert!(is_wan_toxic("wan-latency-upstream") && !is_wan_toxic("drdrill-fault-0-upstream"));
    }

    #[test]
    fn a_lossy_link_drops_packets_both_ways_at_each_crossing_listener() {
        let rules = wan_loss_rules(&[20000, 21001], 2.5);
        assert_eq!(rules.len(), 4);
        assert!(rules[0].starts_with("INPUT -p tcp --dport 20000 -m statistic --mode random --probability 0.025000 "), "{}", rules[0]);
        assert!(rules[1].starts_with("OUTPUT -p tcp --sport 20000 "), "{}", rules[1]);
        assert!(rules.iter().all(|r| r.ends_with("-m comment --comment drdrill-wan-loss -j DROP")));
        assert!(wan_loss_rules(&[20000], 0.0).is_empty());
        let script = iptables_script("-D", &rules[..1]);
        assert!(script.contains("iptables-restore -w --noflush") && script.contains("\n-D INPUT -p tcp --dport 20000"), "{script}");
    }

    #[test]
    fn a_site_is_left_by_connections_with_one_end_in_it() {
        let dc = |s: &str| Some(s.to_string());
        assert!(Sites::leaves(&[None, dc("dc1")], "dc1"));
        assert!(Sites::leaves(&[dc("dc2"), dc("dc1")], "dc1"));
        assert!(!Sites::leaves(&[dc("dc1"), dc("dc1")], "dc1"));
        assert!(!Sites::leaves(&[None, dc("dc2")], "dc1"));
    }
}
