//! One writer: writes (writer, seq, payload) records on its schedule, one at a time, and
//! records every attempt. When its writes stall (nothing acknowledged and a write waiting
//! longer than `hedge.after_ms`, as under a partition or a blackhole), it keeps probing
//! with fresh connections spread through the stall, so the first write after the outage
//! ends is attempted within a few ms instead of an op timeout later.
use super::attempt::{Attempt, Canary, Conn, Done, Probe, Tagged, Write, attempt, canary, probe};
use super::resolve::Lookup;
use super::route::ClientTarget;
use crate::history::RecorderHandle;
use crate::scenario::WorkloadSpec;
use crate::stack::Driver;
use crate::usage::SlipSample;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub(super) struct Writer {
    pub id: u32,
    pub spec: WorkloadSpec,
    pub driver: Arc<dyn Driver>,
    pub target: watch::Receiver<ClientTarget>,
    pub rec: RecorderHandle,
    pub stop: watch::Receiver<bool>,
    /// The slips of its paced operations (`Due`).
    pub slips: Vec<SlipSample>,
    /// Every writer's highest sequence number invoked (this one's at `id`).
    pub invoked: super::Invoked,
}

/// What the writer sleeps towards with nothing else in its way: the next normal write
/// (its gates open, the schedule not yet come) and the next probe. An operation invoked
/// for such a due time is paced, and how late it went out is its slip; one held back by
/// the system under test (a write waiting on the one before it) has no due time here.
#[derive(Default, Clone, Copy)]
struct Due {
    write: Option<Instant>,
    probe: Option<Instant>,
}

impl Due {
    fn of(st: &State, now: Instant, g: Gates) -> Due {
        Due {
            write: (!g.blocking && !g.busy && st.next_normal > now).then_some(st.next_normal),
            probe: st.next_probe.filter(|at| *at > now && !g.probe_busy),
        }
    }
}

/// Idle connections a writer keeps for reuse.
const IDLE_MAX: usize = 2;
/// Connections with an unanswered write a writer keeps waiting on (`attempt::canary`).
const CANARIES_MAX: usize = 2;
/// Writes a fresh connection from a probe may start beyond `hedge.max_in_flight`.
const PROBE_WRITES: usize = 1;
/// Past `every_ms × STALL_SHARE` of stall (5 s by default), the probes across the workload
/// are spaced at 1/STALL_SHARE of the stall so far: a long outage (a DNS TTL, a lease) is read
/// at most 0.1 % of its length late (a minute: 60 ms), and is not met by a storm of
/// connections (200 a second at the default `every_ms`) the server must work through once
/// it is back.
const STALL_SHARE: u32 = 1000;

/// Writes through the workload: the payload, the attempts in flight, the probes.
struct State {
    payload: Arc<str>,
    seq: u64,
    /// seq -> start of every attempt still waiting for its answer.
    waiting: BTreeMap<u64, Instant>,
    idle: Vec<Tagged>,
    /// When the latest acknowledged write started.
    last_ok_start: Instant,
    /// The next normal attempt may not start before this (schedule and fail backoff).
    next_normal: Instant,
    /// While stalled: when the next probe goes out.
    next_probe: Option<Instant>,
    /// The records it may rewrite or delete (`workload.changes`).
    changes: Option<super::changes::Changes>,
}

/// A writer's pacing, fixed for its run.
struct Pacing {
    deadline: Instant,
    /// Between two normal writes (`rate_per_s`); None: as fast as they are answered.
    interval: Option<Duration>,
    /// How long a write waits before the writer counts as stalled (`hedge.after_ms`).
    after: Duration,
    probe_spacing: Duration,
    probe_offset: Duration,
    connect_timeout: Duration,
    max_in_flight: usize,
    probe_cap: usize,
}

/// What may start now.
#[derive(Clone, Copy)]
struct Gates {
    /// A write blocks the schedule until it is acknowledged, answered, or stalled.
    blocking: bool,
    /// Every write slot is taken.
    busy: bool,
    /// No probe may go out.
    probe_busy: bool,
}

impl State {
    /// Nothing written yet, the first write due `now`.
    fn new(payload: Arc<str>, now: Instant, changes: Option<super::changes::Changes>) -> Self {
        let idle = Vec::new();
        State { payload, seq: 0, waiting: BTreeMap::new(), idle, last_ok_start: now, next_normal: now, next_probe: None, changes }
    }

    /// What may start at `now` with `probes` in flight; starts or ends the probing as the
    /// writes stall or not.
    #[inline]
    fn gates(&mut self, now: Instant, pace: &Pacing, probes: usize) -> Gates {
        let after = pace.after;
        let blocking = self.waiting.values().any(|&s| s >= self.last_ok_start && now.saturating_duration_since(s) < after);
        let stalled = now.saturating_duration_since(self.last_ok_start) >= after
            && self.waiting.values().any(|&s| now.saturating_duration_since(s) >= after);
        if !stalled {
            self.next_probe = None;
        } else if self.next_probe.is_none() {
            self.next_probe = Some(now + pace.probe_offset);
        }
        // writes in flight are capped; probes are not writes, and at one per spacing
        // each living at most its connect timeout they never exceed `probe_cap`. A
        // probe's write may go one past the cap: when every slot is held by a stalled
        // write (under a partition they wait out their timeout), it is the write that
        // sees the outage end, not the next timeout that frees a slot
        let busy = self.waiting.len() >= pace.max_in_flight;
        let probe_room = self.waiting.len() < pace.max_in_flight + PROBE_WRITES;
        Gates { blocking, busy, probe_busy: !probe_room || probes >= pace.probe_cap }
    }

    /// When something can happen next: a normal write, a probe, a write turning stalled.
    #[inline]
    fn wake(&self, now: Instant, pace: &Pacing, g: Gates) -> Instant {
        let mut wake = pace.deadline;
        if !g.blocking && !g.busy {
            wake = wake.min(self.next_normal);
        }
        if let Some(at) = self.next_probe.filter(|_| !g.probe_busy) {
            wake = wake.min(at);
        }
        if let Some(t) = self.waiting.values().min().and_then(|s| s.checked_add(pace.after)).filter(|t| *t > now) {
            wake = wake.min(t);
        }
        wake
    }
}

/// A writer's probes in flight: the node they connect to, and when each one still
/// connecting began. One past `connect_timeout` waits on its handshake and takes no slot,
/// so a path whose proxy accepts while the node behind it is dead never holds the next
/// probes back.
#[derive(Default)]
struct Probes {
    set: FuturesUnordered<Probe>,
    node: Option<String>,
    connecting: std::collections::VecDeque<Instant>,
}

impl Probes {
    /// The clients moved: the probes to the node they left are dropped (a slow handshake
    /// would finish on the wrong node).
    fn follow(&mut self, node: &str) {
        if self.node.as_deref().is_some_and(|n| n != node) {
            self.set.clear();
            self.connecting.clear();
        }
        if self.node.as_deref() != Some(node) {
            self.node = Some(node.to_string());
        }
    }

    /// How many are still connecting at `now`.
    fn connecting(&mut self, now: Instant, timeout: Duration) -> usize {
        while self.connecting.front().is_some_and(|&b| now.saturating_duration_since(b) >= timeout) {
            self.connecting.pop_front();
        }
        self.connecting.len()
    }

    fn push(&mut self, p: Probe, now: Instant) {
        self.set.push(p);
        self.connecting.push_back(now);
    }
}

/// A writer's spacing of probes: its share of `every_ms`, or, once the stall is long,
/// its share of a `STALL_SHARE`th of the stall.
fn probe_gap(spacing: Duration, writers: u16, stalled_for: Duration) -> Duration {
    spacing.max(stalled_for * u32::from(writers.max(1)) / STALL_SHARE)
}

/// Payload of exactly `bytes` bytes (at least the prefix), never a formatting width.
pub(super) fn payload(id: u32, bytes: usize) -> String {
    let mut p = format!("w{id}-");
    if p.len() < bytes {
        p.push_str(&"x".repeat(bytes - p.len()));
    }
    p
}

impl Writer {
    /// Runs until stopped or the deadline; the writes made and the slips of its paced ones.
    pub(super) async fn run(mut self) -> (u64, Vec<SlipSample>) {
        let pace = self.pacing();
        let changes = self.spec.changes.clone().map(super::changes::Changes::new);
        let mut st = State::new(payload(self.id, self.spec.payload_bytes).into(), Instant::now(), changes);
        let mut attempts: FuturesUnordered<Attempt> = FuturesUnordered::new();
        let mut probes = Probes::default();
        let mut canaries: FuturesUnordered<Canary> = FuturesUnordered::new();
        let mut lookup = Lookup::default();
        // where the writes go, copied only when the route or the DNS answer moves it (not
        // per write)
        let mut base = self.target.borrow_and_update().clone();
        let mut target = Arc::new(lookup.target(base.clone(), self.id, &self.rec).await);
        let mut due = Due::default();
        loop {
            let now = Instant::now();
            if *self.stop.borrow() || now >= pace.deadline {
                break;
            }
            self.follow_route(&mut lookup, &mut base, &mut target).await;
            st.idle.retain(|(node, _)| *node == target.node);
            probes.follow(&target.node);
            let g = st.gates(now, &pace, probes.connecting(now, pace.connect_timeout));
            if !g.blocking && !g.busy && now >= st.next_normal {
                self.slipped(due.write.take().filter(|d| *d == st.next_normal), now);
                attempts.push(self.write_now(&mut st, target.clone(), now, pace.interval));
                continue;
            }
            if let Some(at) = st.next_probe.filter(|&at| now >= at && !g.probe_busy) {
                self.slipped(due.probe.take().filter(|d| *d == at), now);
                probes.push(self.probe_now(&mut st, target.clone(), at, now, &pace), now);
                continue;
            }
            due = Due::of(&st, now, g);
            // sleep until something can happen
            tokio::select! {
                _ = tokio::time::sleep_until(st.wake(now, &pace, g)) => {}
                _ = self.stop.changed() => break,
                Some(mut done) = attempts.next(), if !attempts.is_empty() => {
                    if let Some(pending) = done.pending.take().filter(|c| c.0 == target.node && canaries.len() < CANARIES_MAX) {
                        canaries.push(canary(pending));
                    }
                    self.finish(&mut st, done).await
                }
                Some(p) = probes.set.next(), if !probes.set.is_empty() => attempts.extend(self.on_probe(&mut st, &target, p, &pace)),
                Some(c) = canaries.next(), if !canaries.is_empty() => attempts.extend(self.on_canary(&mut st, &target, c, &pace)),
            }
        }
        // the writes still waiting are answered or time out; each is recorded
        drop(canaries);
        while let Some(done) = attempts.next().await {
            self.finish(&mut st, done).await;
        }
        (st.seq, self.slips)
    }

    /// An operation that waited only on the clock for `due` was invoked at `now`: how late.
    fn slipped(&mut self, due: Option<Instant>, now: Instant) {
        if let Some(due) = due {
            let slip_ns = u64::try_from(now.saturating_duration_since(due).as_nanos()).unwrap_or(u64::MAX);
            self.slips.push(SlipSample { t_ns: self.rec.clock.now_ns(), slip_ns, client: self.id, reader: false });
        }
    }

    /// A probe's fresh connection came up: a write on it at once, invoked when the probe
    /// began connecting, as a write that opens its own connection is (the connect is part
    /// of its latency); none when the writes in flight fill the room a probe's write has.
    fn on_probe(&self, st: &mut State, target: &Arc<ClientTarget>, p: Option<(Conn, u64, Instant)>, pace: &Pacing) -> Option<Attempt> {
        let (conn, began_ns, began) = p.filter(|_| st.waiting.len() < pace.max_in_flight + PROBE_WRITES)?;
        Some(self.start_at(st, target.clone(), Some((target.node.clone(), conn)), (began_ns, began)))
    }

    /// The server answered an old connection again: a write on it at once, room allowing.
    fn on_canary(&self, st: &mut State, target: &Arc<ClientTarget>, c: Option<Tagged>, pace: &Pacing) -> Option<Attempt> {
        let conn = c.filter(|_| st.waiting.len() < pace.max_in_flight)?;
        Some(self.start(st, target.clone(), Some(conn)))
    }

    /// Where the writes go now: the route's latest, through the DNS when it names a
    /// record; `target` is replaced only when that moved it (not copied per write).
    async fn follow_route(&mut self, lookup: &mut Lookup, base: &mut ClientTarget, target: &mut Arc<ClientTarget>) {
        let moved = self.target.has_changed().unwrap_or(false);
        if moved {
            *base = self.target.borrow_and_update().clone();
        }
        if moved || base.dns.is_some() {
            let next = lookup.target(base.clone(), self.id, &self.rec).await;
            if next != **target {
                *target = Arc::new(next);
            }
        }
    }

    /// The run's pacing, from the workload's settings.
    fn pacing(&self) -> Pacing {
        let clock = &self.rec.clock;
        let deadline =
            Instant::from_std(clock.instant_at(clock.now_ns().saturating_add(crate::clock::ms_to_ns(self.spec.max_duration_ms))));
        let h = &self.spec.hedge;
        let probe_spacing = Duration::from_millis(h.every_ms.max(1).saturating_mul(u64::from(self.spec.writers.max(1))));
        Pacing {
            deadline,
            interval: self.spec.rate_per_s.and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok()),
            // 0 turns hedging off: nothing ever counts as stalled
            after: if h.after_ms == 0 { Duration::MAX } else { Duration::from_millis(h.after_ms) },
            probe_spacing,
            probe_offset: Duration::from_millis(h.every_ms.max(1).saturating_mul(u64::from(self.id))),
            connect_timeout: Duration::from_millis(h.connect_timeout_ms),
            max_in_flight: usize::from(h.max_in_flight.max(1)),
            probe_cap: usize::try_from(h.connect_timeout_ms / probe_spacing.as_millis().max(1) as u64)
                .unwrap_or(usize::MAX)
                .saturating_add(2),
        }
    }

    /// A normal write, on an idle connection when there is one; the next one is due an
    /// interval later on a fixed schedule (after a long stall, from now rather than in a burst).
    #[inline]
    fn write_now(&self, st: &mut State, target: Arc<ClientTarget>, now: Instant, interval: Option<Duration>) -> Attempt {
        let conn = st.idle.pop();
        let attempt = self.start(st, target, conn);
        st.next_normal = match interval {
            Some(iv) => (st.next_normal + iv).max(now),
            None => now,
        };
        attempt
    }

    /// A probe due `at`; the next one is due a gap later.
    #[inline]
    fn probe_now(&self, st: &mut State, target: Arc<ClientTarget>, at: Instant, now: Instant, pace: &Pacing) -> Probe {
        let p = probe(self.driver.clone(), target, pace.connect_timeout, Duration::from_millis(self.spec.op_timeout_ms), self.rec.clock);
        let gap = probe_gap(pace.probe_spacing, self.spec.writers, now.saturating_duration_since(st.last_ok_start));
        st.next_probe = Some((at + gap).max(now));
        p
    }

    fn start(&self, st: &mut State, target: Arc<ClientTarget>, conn: Option<Tagged>) -> Attempt {
        self.start_at(st, target, conn, (self.rec.clock.now_ns(), Instant::now()))
    }

    /// Starts a write invoked at `invoke_ns` (`started`): now, or when its probe began.
    fn start_at(&self, st: &mut State, target: Arc<ClientTarget>, conn: Option<Tagged>, (invoke_ns, started): (u64, Instant)) -> Attempt {
        st.seq += 1;
        if let Some(n) = self.invoked.get(self.id as usize) {
            n.store(st.seq, std::sync::atomic::Ordering::Relaxed);
        }
        st.waiting.insert(st.seq, started);
        let timeout = Duration::from_millis(self.spec.op_timeout_ms);
        let key = self.spec.keys.and_then(|n| update_key(self.id, st.seq, n));
        let change = st.changes.as_mut().filter(|_| key.is_none()).and_then(|c| c.pick(st.seq, started));
        let write = Write { writer: self.id, seq: st.seq, key, change, payload: st.payload.clone(), invoke_ns, started, timeout };
        attempt(self.driver.clone(), target, conn, write, self.rec.clock)
    }

    async fn finish(&self, st: &mut State, Done { op, started, conn, .. }: Done) {
        st.waiting.remove(&op.seq);
        let ok = op.outcome == crate::history::Outcome::Ok;
        if ok {
            st.last_ok_start = st.last_ok_start.max(started);
        } else if self.spec.fail_backoff_ms > 0 {
            st.next_normal = st.next_normal.max(Instant::now() + Duration::from_millis(self.spec.fail_backoff_ms));
        }
        if let Some(c) = conn.filter(|_| st.idle.len() < IDLE_MAX) {
            st.idle.push(c);
        }
        if let Some(changes) = st.changes.as_mut() {
            changes.answered(&op, Instant::now());
        }
        self.rec.op(op).await;
    }
}

/// With a shared key space of `keys` keys, every second write of a writer (its even
/// sequence numbers) updates a key instead of inserting a record: one drawn evenly from the
/// key space by a hash of (writer, seq), the same in every run.
pub(super) fn update_key(writer: u32, seq: u64, keys: u32) -> Option<u32> {
    if seq % 2 == 1 || keys == 0 {
        return None;
    }
    // splitmix64's finaliser: neighbouring (writer, seq) land far apart
    let mut z = (u64::from(writer) << 40 | seq).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    u32::try_from(z % u64::from(keys)).ok()
}

#[cfg(test)]
mod tests {
    use super::{payload, probe_gap, update_key};
    use std::time::Duration;

    #[test]
    fn probes_keep_their_spacing_early_and_thin_out_to_a_thousandth_of_a_long_stall() {
        let ms = Duration::from_millis;
        // 4 writers, every_ms 5: each writer probes every 20 ms, up to 5 s of stall
        assert_eq!(probe_gap(ms(20), 4, ms(300)), ms(20));
        assert_eq!(probe_gap(ms(20), 4, ms(5000)), ms(20));
        // 10 s: the workload probes every 10 ms; a minute: every 60 ms, each writer every 240 ms
        assert_eq!(probe_gap(ms(20), 4, ms(10_000)), ms(40));
        assert_eq!(probe_gap(ms(20), 4, ms(60_000)), ms(240));
    }

    #[test]
    fn every_second_write_updates_a_key_drawn_evenly() {
        assert_eq!(update_key(0, 1, 10), None);
        assert_eq!(update_key(0, 2, 0), None);
        let mut hits = [0u32; 10];
        for w in 0..4 {
            for seq in 1..=20_000u64 {
                if let Some(k) = update_key(w, seq, 10) {
                    hits[k as usize] += 1;
                }
            }
        }
        assert_eq!(hits.iter().sum::<u32>(), 40_000);
        assert!(hits.iter().all(|&h| (3_600..=4_400).contains(&h)), "{hits:?}");
        assert_eq!(update_key(3, 8, 10), update_key(3, 8, 10));
    }

    #[test]
    fn payload_has_the_requested_size_whatever_it_is() {
        assert_eq!(payload(3, 64).len(), 64);
        assert!(payload(3, 64).starts_with("w3-x"));
        assert_eq!(payload(12, 100_000).len(), 100_000);
        assert_eq!(payload(12, 0), "w12-");
    }
}
