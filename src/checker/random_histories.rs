//! Random histories for checking the checker against itself (spilled to disk or not).
use super::*;
use crate::history::{Event, EventKind, Op, Outcome};
use crate::scenario::{CheckSpec, Targets};
use crate::stack::ReadBack;

/// A small deterministic generator (no seed file, no crate).
pub(super) struct Lcg(pub u64);

impl Lcg {
    pub(super) fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// 1–4 writers over ~3 s with one to three faults, outages of fail or unknown writes,
/// a read-back missing some acknowledged writes and holding some failed, stray and
/// duplicated ones. Returns (ops in completion order, events, read-back, answered fault).
pub(super) fn random_history(seed: u64) -> (Vec<Op>, Vec<Event>, ReadBack, usize) {
    let mut r = Lcg(seed.wrapping_mul(7919).wrapping_add(1));
    let ms = 1_000_000u64;
    let stop = (2000 + r.next(2000)) * ms;
    let faults: Vec<u64> = (0..1 + r.next(3)).map(|_| (200 + r.next(1500)) * ms).collect();
    let down = (faults[0] + r.next(300) * ms, faults[0] + (300 + r.next(1500)) * ms);
    let bad = if r.next(2) == 0 { Outcome::Fail } else { Outcome::Unknown };
    let (mut ops, mut rb) = (Vec::new(), ReadBack::default());
    for w in 0..1 + r.next(4) as u32 {
        let (mut t, mut seq) = (r.next(5) * ms + r.next(ms), 0u64);
        while t < stop {
            seq += 1;
            let dur = 1 + r.next(30 * ms);
            let mut o = if t >= down.0 && t < down.1 && r.next(10) > 0 { bad } else { Outcome::Ok };
            if r.next(200) == 0 {
                o = Outcome::Fail;
            }
            ops.push(Op {
                service: None,
                writer: w,
                seq,
                key: None,
                change: None,
                invoke_ns: t,
                complete_ns: t + dur,
                outcome: o,
                node: Some(format!("n{}", w % 2).into()),
                error: None,
            });
            let kept = match o {
                Outcome::Ok => t < faults[0] || r.next(20) > 0,
                _ => r.next(8) == 0,
            };
            if kept {
                rb.push(w, seq);
                if r.next(300) == 0 {
                    rb.push(w, seq);
                }
            }
            t += 1 + r.next(20 * ms);
        }
        if r.next(3) == 0 {
            rb.push(w, seq + 1 + r.next(5));
        }
    }
    ops.sort_by_key(|o| o.complete_ns);
    let events = random_events(&mut r, &faults, stop);
    let answered = r.next(faults.len() as u64) as usize;
    (ops, events, rb, answered)
}

/// The workload's start, each fault injected at its time (healed 100–1100 ms later, or
/// not), a failover beginning within 500 ms of the first fault or none, and the
/// workload's stop at `stop` or none.
fn random_events(r: &mut Lcg, faults: &[u64], stop: u64) -> Vec<Event> {
    let ms = 1_000_000u64;
    let mut events = vec![ev_ns(0, EventKind::WorkloadStart, None)];
    for (i, &f) in faults.iter().enumerate() {
        events.push(ev_ns(f, EventKind::FaultInject, Some(i)));
        if r.next(2) == 0 {
            events.push(ev_ns(f + (100 + r.next(1000)) * ms, EventKind::FaultHeal, Some(i)));
        }
    }
    if r.next(2) == 0 {
        events.push(ev_ns(faults[0] + r.next(500) * ms, EventKind::FailoverStart, None));
    }
    if r.next(5) > 0 {
        events.push(ev_ns(stop, EventKind::WorkloadStop, None));
    }
    events
}

fn ev_ns(t_ns: u64, kind: EventKind, fault: Option<usize>) -> Event {
    Event { service: None, t_ns, kind, fault, node: None, detail: String::new(), applied_ns: None, applied_from_ns: None }
}

pub(super) fn random_targets() -> (CheckSpec, Targets) {
    let checks = CheckSpec { stable_window_ms: 200, ..CheckSpec::default() };
    (checks, Targets { rto_ms: Some(1500u64.into()), rpo_ms: Some(0u64.into()), max_lost_writes: Some(0u64.into()), ..Targets::none() })
}

/// Spilling to disk changes nothing: the same histories judged with the whole history in
/// memory and with runs of 7 ops and 5 acknowledgements on disk give the same analysis.
#[test]
fn a_checker_that_spills_to_disk_judges_exactly_as_one_that_does_not() {
    for seed in 0..60 {
        let (ops, events, rb, answered) = random_history(seed);
        let (checks, targets) = random_targets();
        let judge = |mut c: Checker| {
            ops.iter().for_each(|o| c.add(o));
            let a = c.finish(&events, Some(answered), Some(&rb), None, &checks, &targets).unwrap();
            serde_json::to_value(a).unwrap()
        };
        let (whole, spilled) = (judge(Checker::with_memory(1 << 20, 1 << 20)), judge(Checker::with_memory(7, 5)));
        assert_eq!(whole, spilled, "seed {seed}");
        assert!(whole["total_writes"].as_u64().unwrap() > 100, "seed {seed}: a history too short to spill");
    }
}
