//! The chaos proxy's paths, once it runs: each node's client path (`client-<node>`) and
//! each ordered pair's replication path (`repl-<replica>-<primary>`), where each listens,
//! and which sites each joins (`Sites::crossings`). Starting the proxy is proxy.rs's.
use super::sites::Sites;
use crate::proxy::ProxyClient;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone)]
pub struct ProxyRoutes {
    pub container: String,
    /// Its name on the drill's networks (`proxy`; `proxy-<service>` in a drill of several).
    pub alias: String,
    /// The Toxiproxy API, published like the nodes' ports.
    pub api: SocketAddr,
    pub clients: bool,
    pub replication: bool,
    /// Node names in start order (their index numbers the listen ports).
    pub(super) nodes: Vec<String>,
    /// node -> host address and port of its client proxy.
    pub(super) client_ports: BTreeMap<String, (IpAddr, u16)>,
    /// node -> host address and port of its read path, when the readers stand in a site
    /// of their own (`Sites::readers`).
    pub(super) read_ports: BTreeMap<String, (IpAddr, u16)>,
    /// With sites: replication within a site goes direct, across sites through here.
    pub(super) sites: Option<Sites>,
    /// The services the nodes reach (name, port; an archive host), each node through a
    /// path of its own (`reach-<node>-<service>`) when the service is in another site.
    pub(super) reached: Vec<(String, u16)>,
}

impl ProxyRoutes {
    pub fn client(&self) -> ProxyClient {
        ProxyClient::new(self.api)
    }

    pub fn client_proxy(node: &str) -> String {
        format!("client-{node}")
    }

    pub fn read_proxy(node: &str) -> String {
        format!("read-{node}")
    }

    pub fn replication_proxy(replica: &str, primary: &str) -> String {
        format!("repl-{replica}-{primary}")
    }

    fn index(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap_or(0)
    }

    /// Port inside the proxy container where the client path to `node` listens.
    pub fn client_listen_of(&self, node: &str) -> u16 {
        Self::client_listen(self.index(node))
    }

    /// Port inside the proxy container where `replica`'s path to `primary` listens.
    pub fn replication_listen_of(&self, replica: &str, primary: &str) -> u16 {
        Self::replication_listen(self.index(replica), self.index(primary))
    }

    pub(super) fn client_listen(i: usize) -> u16 {
        20000 + i as u16
    }

    pub(super) fn read_listen(i: usize) -> u16 {
        23000 + i as u16
    }

    pub fn read_listen_of(&self, node: &str) -> u16 {
        Self::read_listen(self.index(node))
    }

    pub(super) fn replication_listen(r: usize, p: usize) -> u16 {
        21000 + (r * 16 + p) as u16
    }

    /// Where `replica` connects to reach `primary`: through the proxy, or None (direct;
    /// always within a site).
    pub fn replication_endpoint(&self, replica: &str, primary: &str) -> Option<(String, u16)> {
        let same_site = self.sites.as_ref().is_some_and(|s| s.site(replica) == s.site(primary));
        (self.replication && !same_site).then(|| (self.alias.clone(), Self::replication_listen(self.index(replica), self.index(primary))))
    }

    pub fn reach_proxy(node: &str, service: &str) -> String {
        format!("reach-{node}-{service}")
    }

    /// Port inside the proxy container where `node`'s path to `service` listens.
    pub fn reach_listen_of(&self, node: &str, service: &str) -> u16 {
        let k = self.reached.iter().position(|(s, _)| s == service).unwrap_or(0);
        22000 + (self.index(node) * 8 + k) as u16
    }

    /// Where a node of `node`'s path in site `from` connects to reach `service`: through
    /// the proxy when the service is in another site, else None (direct).
    pub fn reach_endpoint(&self, node: &str, from: Option<&str>, service: &str) -> Option<(String, u16)> {
        let sites = self.sites.as_ref()?;
        let known = self.reached.iter().any(|(s, _)| s == service);
        (known && sites.site(service) != from).then(|| (self.alias.clone(), self.reach_listen_of(node, service)))
    }

    /// Host address and port the workload uses for `node`, when clients go through the proxy.
    pub fn client_port(&self, node: &str) -> Option<(IpAddr, u16)> {
        self.client_ports.get(node).copied()
    }

    /// Host address and port the readers use for `node`, when they stand in a site of
    /// their own.
    pub fn read_port(&self, node: &str) -> Option<SocketAddr> {
        self.read_ports.get(node).map(|(ip, port)| SocketAddr::from((*ip, *port)))
    }

    /// The nodes it has paths to, in start order.
    pub fn node_names(&self) -> &[String] {
        &self.nodes
    }

    /// Every replication proxy into `primary`, with its replica.
    pub fn replication_links_into(&self, primary: &str) -> Vec<(String, String)> {
        self.nodes.iter().filter(|n| *n != primary).map(|r| (r.clone(), Self::replication_proxy(r, primary))).collect()
    }
}

/// One proxy and the two sites it joins (None: the clients, outside every site).
pub struct Crossing {
    pub proxy: String,
    pub ends: [Option<String>; 2],
    /// Its port inside the proxy container (where a link's loss drops packets).
    pub listen: u16,
}

/// The sites the proxy's paths join (beside `ProxyRoutes`, whose paths they are).
impl Sites {
    /// Every proxy of `routes`, with the sites it joins: each node's client path (from
    /// the clients' site), each replication path (replica's site, primary's site).
    pub fn crossings(&self, routes: &ProxyRoutes) -> Vec<Crossing> {
        let site = |n: &str| self.site(n).map(str::to_string);
        let mut out = Vec::new();
        for n in routes.node_names() {
            let listen = routes.client_listen_of(n);
            out.push(Crossing { proxy: ProxyRoutes::client_proxy(n), ends: [self.clients.clone(), site(n)], listen });
            if let Some(readers) = &self.readers {
                let ends = [Some(readers.clone()), site(n)];
                out.push(Crossing { proxy: ProxyRoutes::read_proxy(n), ends, listen: routes.read_listen_of(n) });
            }
            for r in routes.node_names().iter().filter(|r| *r != n) {
                let listen = routes.replication_listen_of(r, n);
                out.push(Crossing { proxy: ProxyRoutes::replication_proxy(r, n), ends: [site(r), site(n)], listen });
            }
            for (svc, _) in &routes.reached {
                let listen = routes.reach_listen_of(n, svc);
                out.push(Crossing { proxy: ProxyRoutes::reach_proxy(n, svc), ends: [site(n), site(svc)], listen });
            }
        }
        out
    }

    /// The paths of `routes` that cross the link between `a` and `b`.
    pub fn crossing_link(&self, routes: &ProxyRoutes, a: &str, b: &str) -> Vec<Crossing> {
        let joins = |c: &Crossing| {
            let ends = [c.ends[0].as_deref(), c.ends[1].as_deref()];
            ends == [Some(a), Some(b)] || ends == [Some(b), Some(a)]
        };
        self.crossings(routes).into_iter().filter(joins).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LinkSpec;

    fn routes() -> ProxyRoutes {
        let placed = [("pg-1", "dc1"), ("pg-2", "dc1"), ("dr-storage", "dc2")];
        let link = LinkSpec {
            between: vec!["dc1".into(), "dc2".into()],
            latency_ms: 30,
            jitter_ms: 0,
            bandwidth_kb_per_s: None,
            loss_percent: 0.0,
        };
        let sites = Sites {
            nodes: placed.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(),
            clients: None,
            wan: vec![link],
            flat: false,
            clients_everywhere: false,
            readers: None,
        };
        ProxyRoutes {
            container: "c".into(),
            alias: "proxy".into(),
            api: "127.0.0.1:8474".parse().unwrap(),
            clients: true,
            replication: true,
            nodes: vec!["pg-1".into(), "pg-2".into()],
            client_ports: BTreeMap::new(),
            read_ports: BTreeMap::new(),
            sites: Some(sites),
            reached: vec![("dr-storage".into(), 22)],
        }
    }

    #[test]
    fn an_archive_host_in_another_site_is_reached_through_a_path_of_each_node_that_crosses_the_link() {
        let r = routes();
        assert_eq!(r.reach_endpoint("pg-2", Some("dc1"), "dr-storage"), Some(("proxy".into(), 22008)));
        // a node rebuilt in the archive host's site reaches it directly
        assert_eq!(r.reach_endpoint("pg-1", Some("dc2"), "dr-storage"), None);
        assert_eq!(r.reach_endpoint("pg-1", Some("dc1"), "etcd-1"), None, "not a service the nodes reach");
        let sites = r.sites.clone().unwrap();
        let crossing: Vec<String> = sites.crossing_link(&r, "dc1", "dc2").into_iter().map(|c| c.proxy).collect();
        assert_eq!(crossing, ["reach-pg-1-dr-storage", "reach-pg-2-dr-storage"]);
    }

    #[test]
    fn readers_in_a_site_of_their_own_read_each_node_through_a_path_that_crosses_their_links() {
        let mut r = routes();
        r.reached.clear();
        let mut sites = r.sites.clone().unwrap();
        sites.readers = Some("dc2".into());
        sites.nodes.insert("pg-2".into(), "dc2".into());
        r.sites = Some(sites.clone());
        let crossing: Vec<String> = sites.crossing_link(&r, "dc1", "dc2").into_iter().map(|c| c.proxy).collect();
        // pg-1 is in dc1: its read path crosses the link; pg-2 is the readers' own site's
        assert_eq!(crossing, ["read-pg-1", "repl-pg-2-pg-1", "repl-pg-1-pg-2"]);
        let cut: Vec<String> = sites.crossings(&r).into_iter().filter(|c| Sites::leaves(&c.ends, "dc2")).map(|c| c.proxy).collect();
        assert!(cut.contains(&"read-pg-1".to_string()) && cut.contains(&"client-pg-2".to_string()), "{cut:?}");
        assert!(!cut.contains(&"read-pg-2".to_string()), "{cut:?}");
    }
}
