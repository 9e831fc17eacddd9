//! The cluster as one node sees it (`CLUSTER NODES`), and which slot a key hashes to.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The slot of `key`: CRC16 (XMODEM) of the key, or of its hash tag (`{…}`), mod 16384.
pub fn slot_of(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter().position(|&b| b == b'}').filter(|&close| close > 0).map(|close| &rest[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterNode {
    pub id: String,
    /// The client port it announces (each drill node listens on its own published port).
    pub port: u16,
    /// Its address as its peers reach it (a drill node's: on the drill's network).
    pub ip: String,
    /// The host clients are sent to: its announced hostname when it has one (a drill
    /// node's: 127.0.0.1), else `ip`.
    pub host: String,
    /// Where a client reaches it: `host` and `port`, the name looked up (None: no address
    /// known, or a name that does not resolve).
    pub addr: Option<SocketAddr>,
    pub flags: Vec<String>,
    /// The primary it replicates from (a replica).
    pub master: Option<String>,
    pub connected: bool,
    /// Its config epoch: a promotion takes a higher one, and the higher claim to a slot wins.
    pub epoch: u64,
    /// The slot ranges it serves (a primary), inclusive.
    pub slots: Vec<(u16, u16)>,
}

impl ClusterNode {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
    pub fn is_master(&self) -> bool {
        self.has("master")
    }
    /// Marked failing: `fail?` (PFAIL, this node's own suspicion) or `fail` (agreed).
    pub fn failing(&self) -> Option<&'static str> {
        if self.has("fail") {
            Some("FAIL")
        } else if self.has("fail?") {
            Some("PFAIL")
        } else {
            None
        }
    }
}

/// `CLUSTER NODES` as the node that answered sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topology {
    pub nodes: Vec<ClusterNode>,
}

impl Topology {
    /// Parses `CLUSTER NODES` (`<id> <ip:port@cport[,hostname]> <flags> <master> <ping>
    /// <pong> <epoch> <link> <slot>...`); lines it cannot read are skipped, importing and
    /// migrating slot markers (`[…]`) ignored.
    pub fn parse(text: &str) -> Topology {
        let nodes = text.lines().filter_map(parse_line).collect();
        Topology { nodes }
    }

    pub fn myself(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.has("myself"))
    }

    pub fn by_id(&self, id: &str) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The primaries serving slots, by the first slot they serve.
    pub fn masters(&self) -> Vec<&ClusterNode> {
        let mut m: Vec<&ClusterNode> = self.nodes.iter().filter(|n| n.is_master() && !n.slots.is_empty()).collect();
        m.sort_by_key(|n| n.slots[0].0);
        m
    }

    pub fn replicas_of(&self, master_id: &str) -> Vec<&ClusterNode> {
        self.nodes.iter().filter(|n| n.master.as_deref() == Some(master_id)).collect()
    }

    /// The primary serving each slot (None: not covered).
    pub fn slot_owners(&self) -> Vec<Option<&ClusterNode>> {
        let mut map = vec![None; usize::from(SLOTS)];
        for m in self.nodes.iter().filter(|n| n.is_master()) {
            for &(a, b) in &m.slots {
                for s in a..=b.min(SLOTS - 1) {
                    map[usize::from(s)] = Some(m);
                }
            }
        }
        map
    }

    /// Looks up the announced hostnames that are names, not addresses (once per name for
    /// the whole process, as an external stack's names are).
    pub async fn resolve_names(&mut self) {
        for n in self.nodes.iter_mut().filter(|n| n.addr.is_none()) {
            n.addr = resolve(&n.host, n.port).await;
        }
    }

    /// The slot map the cluster agrees on as far as `views` tell: every primary's claim to
    /// its slots, in every view, the claim with the highest config epoch winning (a node
    /// cut off from the majority still claims its old slots, at its old epoch).
    pub fn merged_slot_map(views: &[Topology]) -> Vec<Option<SocketAddr>> {
        let mut claims: Vec<&ClusterNode> = views.iter().flat_map(|t| t.nodes.iter().filter(|n| n.is_master())).collect();
        claims.sort_by_key(|n| n.epoch);
        let mut map = vec![None; usize::from(SLOTS)];
        for m in claims {
            for &(a, b) in &m.slots {
                for s in a..=b.min(SLOTS - 1) {
                    map[usize::from(s)] = m.addr;
                }
            }
        }
        map
    }

    /// How many slots some primary serves.
    pub fn covered(&self) -> u32 {
        self.slot_owners().iter().filter(|s| s.is_some()).count() as u32
    }
}

/// Where a client reaches `host`:`port`: an address as it is; a name looked up once for the
/// whole process (an empty host or `?`, an unknown endpoint, is None).
pub async fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    static NAMES: OnceLock<Mutex<HashMap<String, IpAddr>>> = OnceLock::new();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    if host.is_empty() || host == "?" {
        return None;
    }
    let cache = NAMES.get_or_init(Mutex::default);
    if let Some(ip) = cache.lock().ok()?.get(host) {
        return Some(SocketAddr::new(*ip, port));
    }
    let ip = tokio::net::lookup_host((host, port)).await.ok()?.next()?.ip();
    cache.lock().ok()?.insert(host.to_string(), ip);
    Some(SocketAddr::new(ip, port))
}

fn parse_line(line: &str) -> Option<ClusterNode> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return None;
    }
    let (addr, hostname) = f[1].split_once(',').unwrap_or((f[1], ""));
    let (ip_port, _bus) = addr.split_once('@').unwrap_or((addr, ""));
    let (ip, port) = ip_port.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    // `hostname` may be followed by `,key=value` extensions (Redis 7.2 shard ids)
    let hostname = hostname.split(',').next().filter(|h| !h.is_empty() && !h.contains('='));
    let host = hostname.unwrap_or(ip).to_string();
    let slots = f[8..]
        .iter()
        .filter(|s| !s.starts_with('['))
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => s.parse().ok().map(|x| (x, x)),
        })
        .collect();
    Some(ClusterNode {
        id: f[0].to_string(),
        port,
        ip: ip.to_string(),
        addr: host.parse::<IpAddr>().ok().map(|a| SocketAddr::new(a, port)),
        host,
        flags: f[2].split(',').map(str::to_string).collect(),
        master: (f[3] != "-").then(|| f[3].to_string()),
        connected: f[7] == "connected",
        epoch: f[6].parse().ok()?,
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c3 172.18.0.2:30001@40001,127.0.0.1 myself,master - 0 0 1 connected 0-5460
67ed 172.18.0.3:30002@40002,127.0.0.1 master,fail - 1 2 2 disconnected 5461-10922
292f 172.18.0.4:30003@40003,127.0.0.1 master - 0 3 3 connected 10923-16383 [93-<-292f]
6ec2 172.18.0.5:30004@40004,127.0.0.1 slave 67ed 0 4 2 connected
824f 172.18.0.6:30005@40005,127.0.0.1 slave,fail? 07c3 0 5 1 connected
";

    #[test]
    fn cluster_nodes_reads_as_the_cluster_sees_itself() {
        let t = Topology::parse(NODES);
        assert_eq!(t.nodes.len(), 5);
        assert_eq!(t.myself().unwrap().port, 30001);
        assert_eq!(t.by_id("67ed").unwrap().failing(), Some("FAIL"));
        assert_eq!(t.by_id("824f").unwrap().failing(), Some("PFAIL"));
        assert!(!t.by_id("67ed").unwrap().connected);
        assert_eq!(t.replicas_of("67ed")[0].port, 30004);
        assert_eq!(t.masters().iter().map(|m| m.port).collect::<Vec<_>>(), [30001, 30002, 30003]);
        assert_eq!(t.covered(), 16384);
        assert_eq!(t.slot_owners()[5461].map(|n| n.port), Some(30002));
        assert_eq!(t.nodes[0].ip, "172.18.0.2");
        // clients are sent to the announced hostname, not the drill-network address
        assert_eq!(t.nodes[0].addr, Some(SocketAddr::from(([127, 0, 0, 1], 30001))));
    }

    #[test]
    fn a_node_without_a_hostname_is_reached_at_its_address() {
        let t = Topology::parse(
            "a 10.0.0.7:6379@16379 myself,master - 0 0 1 connected 0-16383
             b 10.0.0.8:6379@16379,,shard-id=99ab master - 0 0 2 connected
             c :0@0 master,noaddr - 0 0 0 disconnected
             d 10.0.0.9:6379@16379,redis-3.example master - 0 0 0 connected
",
        );
        let addrs: Vec<Option<SocketAddr>> = t.nodes.iter().map(|n| n.addr).collect();
        assert_eq!(addrs[..3], [Some(SocketAddr::from(([10, 0, 0, 7], 6379))), Some(SocketAddr::from(([10, 0, 0, 8], 6379))), None]);
        assert_eq!((t.nodes[3].host.as_str(), t.nodes[3].addr), ("redis-3.example", None), "a name is looked up later");
    }

    #[test]
    fn the_highest_epoch_owns_a_slot_whoever_still_claims_it() {
        // rc-1 cut off still claims 0-5460 at epoch 1; the majority promoted 30004 at epoch 7
        let isolated = Topology::parse("07c3 172.18.0.2:30001@40001 myself,master - 0 0 1 connected 0-5460\n");
        let majority = Topology::parse(
            "07c3 172.18.0.2:30001@40001 master,fail - 0 0 1 disconnected\n6ec2 172.18.0.5:30004@40004 myself,master - 0 0 7 connected 0-5460\n",
        );
        for views in [[isolated.clone(), majority.clone()], [majority, isolated]] {
            let map = Topology::merged_slot_map(&views);
            let port = |s: usize| map[s].map(|a| a.port());
            assert_eq!((port(0), port(5460), port(5461)), (Some(30004), Some(30004), None));
        }
    }

    #[test]
    fn slots_are_redis_own() {
        // values from the Redis Cluster specification and `CLUSTER KEYSLOT`
        assert_eq!(slot_of(b"123456789"), 0x31C3 % SLOTS);
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(slot_of(b"{user1000}.following"), slot_of(b"user1000"));
        assert_eq!(slot_of(b"foo{}{bar}"), slot_of(b"foo{}{bar}"));
        assert_eq!(slot_of(b"foo{{bar}}zap"), slot_of(b"{bar"));
    }
}
