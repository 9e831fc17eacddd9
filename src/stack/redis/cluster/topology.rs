//! The cluster as one node sees it (`CLUSTER NODES`), and which slot a key hashes to.
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
    /// Its address on the drill's network, as its peers reach it.
    pub ip: String,
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

    /// The port of the node serving each slot (None: not covered).
    pub fn slot_map(&self) -> Vec<Option<u16>> {
        let mut map = vec![None; usize::from(SLOTS)];
        for m in self.nodes.iter().filter(|n| n.is_master()) {
            for &(a, b) in &m.slots {
                for s in a..=b.min(SLOTS - 1) {
                    map[usize::from(s)] = Some(m.port);
                }
            }
        }
        map
    }

    /// The slot map the cluster agrees on as far as `views` tell: every primary's claim to
    /// its slots, in every view, the claim with the highest config epoch winning (a node
    /// cut off from the majority still claims its old slots, at its old epoch).
    pub fn merged_slot_map(views: &[Topology]) -> Vec<Option<u16>> {
        let mut claims: Vec<&ClusterNode> = views.iter().flat_map(|t| t.nodes.iter().filter(|n| n.is_master())).collect();
        claims.sort_by_key(|n| n.epoch);
        let mut map = vec![None; usize::from(SLOTS)];
        for m in claims {
            for &(a, b) in &m.slots {
                for s in a..=b.min(SLOTS - 1) {
                    map[usize::from(s)] = Some(m.port);
                }
            }
        }
        map
    }

    /// How many slots some primary serves.
    pub fn covered(&self) -> u32 {
        self.slot_map().iter().filter(|s| s.is_some()).count() as u32
    }
}

fn parse_line(line: &str) -> Option<ClusterNode> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return None;
    }
    let addr = f[1].split(',').next()?;
    let (ip_port, _bus) = addr.split_once('@').unwrap_or((addr, ""));
    let (ip, port) = ip_port.rsplit_once(':')?;
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
        port: port.parse().ok()?,
        ip: ip.to_string(),
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
        assert_eq!(t.slot_map()[5461], Some(30002));
        assert_eq!(t.nodes[0].ip, "172.18.0.2");
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
            assert_eq!((map[0], map[5460], map[5461]), (Some(30004), Some(30004), None));
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
