//! What every cluster client and the watch share: `CLUSTER NODES` read on connections kept
//! open (`Links`), and one slot map for the whole workload (`SlotMap`). A refused write
//! marks the map stale; the next write of any client refreshes it, one refresh in flight and
//! at most one per `REFRESH_EVERY`, as the `redis` crate's and Jedis' cluster clients share
//! one slot cache. The watch publishes each round's view as well, so a promotion it sees
//! reaches the clients at their next write without a read of their own.
use super::super::conn::{Login, RedisConn};
use super::topology::{SLOTS, Topology};
use redis::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a connection to a node may take to open.
pub const CONNECT_WITHIN: Duration = Duration::from_millis(1000);
/// The clients refresh the shared map at most this often (redis-py waits 250 ms after a
/// CLUSTERDOWN before it refreshes; Lettuce rate-limits its adaptive refreshes).
pub const REFRESH_EVERY: Duration = Duration::from_millis(100);
/// How long each node may take to answer a refresh's `CLUSTER NODES`.
const REFRESH_WITHIN: Duration = Duration::from_millis(200);
/// No owner, in `Map::slot`.
const NONE: u8 = u8::MAX;

/// Connections kept open to each node for `CLUSTER NODES` (one per node; a node that does
/// not answer loses its connection and is dialled again at the next read).
#[derive(Default)]
pub struct Links {
    conns: HashMap<SocketAddr, RedisConn>,
}

impl Links {
    /// `CLUSTER NODES` on every node of `seeds` at once, each within `within`; the nodes that
    /// answered, with their views (announced names looked up).
    pub async fn read_all(&mut self, seeds: &[SocketAddr], login: Login<'_>, within: Duration) -> Vec<(SocketAddr, Topology)> {
        let taken: Vec<(SocketAddr, Option<RedisConn>)> = seeds.iter().map(|&a| (a, self.conns.remove(&a))).collect();
        let asks = taken.into_iter().map(|(a, conn)| async move {
            let r = tokio::time::timeout(within, ask(a, conn, login)).await;
            (a, r.unwrap_or_else(|_| Err("no answer to CLUSTER NODES".into())))
        });
        let mut views = Vec::with_capacity(seeds.len());
        for (a, r) in futures_util::future::join_all(asks).await {
            if let Ok((conn, mut t)) = r {
                self.conns.insert(a, conn);
                t.resolve_names().await;
                views.push((a, t));
            }
        }
        views
    }
}

/// `CLUSTER NODES` on `addr`, on `conn` or a new connection; the connection back with the view.
async fn ask(addr: SocketAddr, conn: Option<RedisConn>, login: Login<'_>) -> Result<(RedisConn, Topology), String> {
    let mut c = match conn {
        Some(c) => c,
        None => RedisConn::connect(addr, CONNECT_WITHIN, "", login).await.map_err(|e| e.to_string())?,
    };
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("NODES");
    let t = match c.request(&cmd).await.map_err(|e| e.to_string())? {
        Value::BulkString(b) => Topology::parse(&String::from_utf8_lossy(&b)),
        Value::VerbatimString { text, .. } => Topology::parse(&text),
        other => return Err(format!("unexpected reply to CLUSTER NODES: {other:?}")),
    };
    Ok((c, t))
}

/// Each slot's owner, compactly: the owners' addresses and, per slot, an index into them.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    nodes: Vec<SocketAddr>,
    slot: Vec<u8>,
}

impl Map {
    fn empty() -> Map {
        Map { nodes: Vec::new(), slot: vec![NONE; usize::from(SLOTS)] }
    }

    /// From one owner per slot (`Topology::merged_slot_map`).
    pub fn from_owners(owners: &[Option<SocketAddr>]) -> Map {
        let mut m = Map::empty();
        for (s, owner) in owners.iter().enumerate().take(usize::from(SLOTS)) {
            if let Some(a) = owner {
                m.slot[s] = m.index_of(*a);
            }
        }
        m
    }

    fn index_of(&mut self, a: SocketAddr) -> u8 {
        match self.nodes.iter().position(|n| *n == a) {
            Some(i) => u8::try_from(i).unwrap_or(NONE),
            None if self.nodes.len() < usize::from(NONE) => {
                self.nodes.push(a);
                u8::try_from(self.nodes.len() - 1).unwrap_or(NONE)
            }
            None => NONE,
        }
    }

    pub fn owner(&self, slot: u16) -> Option<SocketAddr> {
        let i = *self.slot.get(usize::from(slot))?;
        self.nodes.get(usize::from(i)).copied()
    }

    /// A MOVED reply: `slot` is `to`'s now.
    pub fn set(&mut self, slot: u16, to: SocketAddr) {
        let i = self.index_of(to);
        if let Some(s) = self.slot.get_mut(usize::from(slot)) {
            *s = i;
        }
    }

    fn is_empty(&self) -> bool {
        self.slot.iter().all(|&i| i == NONE)
    }
}

/// The workload's slot map, shared by every client (and fed by the watch).
#[derive(Default)]
pub struct SlotMap {
    /// Bumped at every new map, so a client sees one without taking the lock.
    generation: AtomicU64,
    /// A client's write was refused or its owner unreachable since the last read began.
    stale: AtomicBool,
    state: Mutex<State>,
    /// Held by the one refresh in flight; the others wait for its map.
    reading: tokio::sync::Mutex<Links>,
}

#[derive(Default)]
struct State {
    map: Option<Arc<Map>>,
    /// When the read behind `map` began.
    read_at: Option<Instant>,
    /// When the latest client refresh began (the rate limit).
    refreshed_at: Option<Instant>,
    /// When a client last found the map stale.
    stale_at: Option<Instant>,
}

impl SlotMap {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest map and its generation.
    pub fn current(&self) -> (u64, Option<Arc<Map>>) {
        let s = self.lock();
        (self.generation(), s.map.clone())
    }

    /// A write was refused (CLUSTERDOWN, MOVED) or its owner could not be reached.
    pub fn mark_stale(&self) {
        self.lock().stale_at = Some(Instant::now());
        self.stale.store(true, Ordering::Relaxed);
    }

    /// A map read beginning at `read_at`: kept unless a newer read is; it answers a staleness
    /// found before the read began. Says whether the map changed.
    pub fn publish(&self, map: &Arc<Map>, read_at: Instant) -> bool {
        if map.is_empty() {
            return false;
        }
        let mut s = self.lock();
        if s.read_at.is_some_and(|t| t > read_at) {
            return false;
        }
        s.read_at = Some(read_at);
        if s.stale_at.is_none_or(|t| t <= read_at) {
            self.stale.store(false, Ordering::Relaxed);
        }
        if s.map.as_ref().is_some_and(|m| Arc::ptr_eq(m, map) || **m == **map) {
            return false;
        }
        s.map = Some(map.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// A fresh map for a client whose map is generation `had` and stale: a newer one when
    /// another client or the watch has made one since; else read from every seed, unless a
    /// read (a client's, or the watch's round) began less than `REFRESH_EVERY` ago (then the
    /// map as it is: while the watch runs, its rounds are the refreshes). One read at a
    /// time: a client that waits for another's read takes its map.
    pub async fn refresh(&self, had: u64, seeds: &[SocketAddr], login: Login<'_>) -> Result<(u64, Arc<Map>), String> {
        let mut links = self.reading.lock().await;
        let (now_gen, map) = self.current();
        let recent = {
            let s = self.lock();
            s.refreshed_at.max(s.read_at).is_some_and(|t| t.elapsed() < REFRESH_EVERY)
        };
        if let Some(map) = map.filter(|_| now_gen != had || recent) {
            return Ok((now_gen, map));
        }
        let read_at = Instant::now();
        self.lock().refreshed_at = Some(read_at);
        let views: Vec<Topology> = links.read_all(seeds, login, REFRESH_WITHIN).await.into_iter().map(|(_, t)| t).collect();
        let owners = Topology::merged_slot_map(&views);
        if owners.iter().all(Option::is_none) {
            return match self.current() {
                (g, Some(map)) => Ok((g, map)),
                _ => Err(format!("failed to read the slot map from any of {} nodes", seeds.len())),
            };
        }
        self.publish(&Arc::new(Map::from_owners(&owners)), read_at);
        let (g, map) = self.current();
        map.map(|m| (g, m)).ok_or_else(|| "no slot map".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(split: u16, a: SocketAddr, b: SocketAddr) -> Vec<Option<SocketAddr>> {
        (0..SLOTS).map(|s| Some(if s < split { a } else { b })).collect()
    }

    fn map(split: u16, a: SocketAddr, b: SocketAddr) -> Arc<Map> {
        Arc::new(Map::from_owners(&owners(split, a, b)))
    }

    #[test]
    fn a_map_names_each_slot_owner_and_follows_moved() {
        let (a, b, c) = ("127.0.0.1:30001".parse().unwrap(), "127.0.0.1:30002".parse().unwrap(), "127.0.0.1:30004".parse().unwrap());
        let mut m = Map::from_owners(&owners(5461, a, b));
        assert_eq!((m.owner(0), m.owner(5461), m.owner(SLOTS)), (Some(a), Some(b), None));
        m.set(3, c);
        assert_eq!((m.owner(3), m.owner(4)), (Some(c), Some(a)));
    }

    #[tokio::test]
    async fn the_watch_view_reaches_every_client_without_a_read_and_an_older_view_never_wins() {
        let (a, b, c) = ("127.0.0.1:30001".parse().unwrap(), "127.0.0.1:30002".parse().unwrap(), "127.0.0.1:30004".parse().unwrap());
        let shared = SlotMap::default();
        let t0 = Instant::now();
        assert!(shared.publish(&map(5461, a, b), t0));
        let g0 = shared.generation();
        shared.mark_stale();
        assert!(shared.is_stale());
        // the watch's round, read after the refusal: the promoted replica owns slots 0-5460
        let t1 = Instant::now();
        assert!(shared.publish(&map(5461, c, b), t1));
        assert!(!shared.is_stale(), "a view read after the refusal answers it");
        // a client stale on g0 takes it at once: no seed is asked (there are none to ask)
        let (g1, taken) = shared.refresh(g0, &[], None).await.unwrap();
        assert!(g1 > g0);
        assert_eq!(taken.owner(0), Some(c));
        // a slower read that began before it does not put the old owner back
        assert!(!shared.publish(&map(5461, a, b), t0));
        assert_eq!(shared.current().1.unwrap().owner(0), Some(c));
    }

    #[tokio::test]
    async fn a_client_reads_at_most_once_per_interval() {
        let (a, b) = ("127.0.0.1:30001".parse().unwrap(), "127.0.0.1:30002".parse().unwrap());
        let shared = SlotMap::default();
        shared.publish(&map(5461, a, b), Instant::now() - REFRESH_EVERY);
        shared.lock().refreshed_at = Some(Instant::now());
        let g = shared.generation();
        // no seed answers (none given): within the interval the map stays as it is, no read
        let (g2, kept) = shared.refresh(g, &[], None).await.unwrap();
        assert_eq!((g2, kept.owner(0)), (g, Some(a)));
        shared.lock().refreshed_at = Some(Instant::now() - REFRESH_EVERY);
        // a round of the watch that began within the interval counts as a read too
        shared.lock().refreshed_at = None;
        shared.publish(&map(5461, a, b), Instant::now());
        let (g2, _) = shared.refresh(g, &[], None).await.unwrap();
        assert_eq!(g2, g);
        assert!(shared.lock().refreshed_at.is_none(), "no read made");
        shared.lock().read_at = Some(Instant::now() - REFRESH_EVERY);
        // past it: a read is made (and, with no node answering, the last map is kept)
        let (g3, read) = shared.refresh(g, &[], None).await.unwrap();
        assert_eq!((g3, read.owner(0)), (g, Some(a)));
        assert!(shared.lock().refreshed_at.unwrap().elapsed() < REFRESH_EVERY);
    }
}
