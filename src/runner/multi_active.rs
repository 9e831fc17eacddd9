//! A multi-active service judged (docs/multi-active.md): its shared keys' acknowledged
//! updates against every node's final values, within the cuts its faults made between
//! sites; each site's writes; what each node's engine counted itself; and the targets on
//! lost updates and diverged keys.
use super::state::Service;
use crate::checker::{
    Analysis, Cut, CutReport, DivergedKey, KeyEvidence, MultiActiveReport, SiteOp, Skewed, Stamp, Update, explain, judge_updates,
    site_writes, update_value,
};
use crate::error::{Error, Result};
use crate::history::{Event, EventKind, Op, Outcome, belongs, read_history};
use crate::scenario::{FaultKind, Scenario};
use std::collections::BTreeMap;
use std::path::Path;

/// The service's multi-active report, its targets added to `a`; None for any other stack.
pub(super) async fn judge(
    svc: &Service,
    history: &Path,
    hist: &crate::history::HistoryFile,
    agreed: Option<Agreement>,
    dir: &Path,
    a: &mut Analysis,
) -> Result<Option<MultiActiveReport>> {
    let Some(ma) = svc.driver.multi_active() else {
        return Ok(None);
    };
    let events = &hist.events[..];
    let tag = svc.plan.tagged.then_some(svc.plan.name.as_str());
    let (ops, updates) = ops_and_updates(svc, history, tag)?;
    let (mut finals, mut unread, mut engine) = (Vec::new(), Vec::new(), BTreeMap::new());
    let mut evidence = BTreeMap::new();
    for n in &svc.stack.nodes {
        match ma.read_keys(n.addr()).await {
            Ok(keys) => {
                finals.push(keys.iter().map(|(k, (w, s))| (u64::from(*k), update_value(*w, *s))).collect());
                evidence.insert(n.name.clone(), keys);
            }
            Err(e) => unread.push(format!("{}: {}", n.name, e.one_line())),
        }
        if let Ok(counts) = ma.engine_counts(&svc.stack, &n.name).await {
            engine.insert(n.name.clone(), counts.into_iter().collect());
        }
    }
    save_keys(dir, tag, &evidence)?;
    let cuts = cuts(svc.sc(), events, &|n: &str| site_of(svc, &svc.stack.resolve(n).unwrap_or_else(|_| n.to_string())));
    let (start, end) = workload_window(events);
    let mut judged = judge_updates(&updates, &cuts, &finals);
    judged.diverged_keys = explain_diverged(svc, &judged.diverged_keys, &evidence, &updates, &skews(svc.sc(), events)).await;
    let report = MultiActiveReport {
        updates: judged,
        sites: site_writes(&ops, start, end),
        engine,
        cuts: cuts.iter().map(CutReport::from).collect(),
        unread,
        converged_after_heal_ms: after_heal(events, agreed),
        agreement_waited_ms: agreed.map(|g| g.waited_ms),
        agreement_started_ms: agreed.map(|g| g.started_ns as f64 / 1e6),
        rejoins: rejoins(svc, events, &hist.wall_clock_anchor).await,
    };
    for t in crate::checker::judge_multi_active_targets(&svc.sc().targets, &report) {
        a.verdict = a.verdict.merge(t.verdict);
        a.targets.push(t);
    }
    Ok(Some(report))
}

/// The service's operations by site, and its acknowledged updates of shared keys, from
/// the history.
fn ops_and_updates(svc: &Service, history: &Path, tag: Option<&str>) -> Result<(Vec<SiteOp>, Vec<Update>)> {
    let site = |node: Option<&str>| site_of(svc, node.unwrap_or("?"));
    let (mut ops, mut updates) = (Vec::new(), Vec::new());
    read_history(history, |op: Op| {
        if !belongs(op.service.as_ref(), tag) {
            return;
        }
        let s = site(op.node.as_deref());
        if let (Some(key), Outcome::Ok) = (op.key, op.outcome) {
            let value = update_value(op.writer, op.seq);
            updates.push(Update { key: u64::from(key), value, site: s.clone(), invoke_ns: op.invoke_ns, complete_ns: op.complete_ns });
        }
        ops.push(SiteOp { site: s, outcome: op.outcome, invoke_ns: op.invoke_ns, complete_ns: op.complete_ns });
    })
    .map_err(|e| Error::infra(format!("failed to read {} back", crate::history::FILE)).cause(e))?;
    Ok((ops, updates))
}

/// Each diverged key explained: every node's value, the write behind it, the engine's
/// commit stamp of it, and the cause (`checker::explain`).
async fn explain_diverged(
    svc: &Service,
    keys: &[DivergedKey],
    finals: &BTreeMap<String, BTreeMap<u32, (u32, u64)>>,
    updates: &[Update],
    skewed: &[Skewed],
) -> Vec<DivergedKey> {
    let Some(ma) = svc.driver.multi_active().filter(|_| !keys.is_empty()) else { return keys.to_vec() };
    let wanted: Vec<u32> = keys.iter().map(|d| d.key as u32).collect();
    let mut stamps: BTreeMap<u32, BTreeMap<String, Stamp>> = BTreeMap::new();
    for n in svc.stack.nodes.iter().filter(|n| finals.contains_key(&n.name)) {
        for (k, s) in ma.commit_stamps(&n.name, n.addr(), &wanted).await.unwrap_or_default() {
            stamps.entry(k).or_default().insert(n.name.clone(), s);
        }
    }
    let none = BTreeMap::new();
    keys.iter()
        .map(|d| {
            let k = d.key as u32;
            let nodes: Vec<(String, Option<u64>)> =
                finals.iter().map(|(node, keys)| (node.clone(), keys.get(&k).map(|(w, s)| update_value(*w, *s)))).collect();
            let ups: Vec<&Update> = updates.iter().filter(|u| u.key == d.key).collect();
            explain(&KeyEvidence { key: d.key, nodes: &nodes, updates: &ups, stamps: stamps.get(&k).unwrap_or(&none) }, skewed)
        })
        .collect()
}

/// Every window in which a node's clock was set off (`clock_skew`, to its heal).
fn skews(sc: &Scenario, events: &[Event]) -> Vec<Skewed> {
    let end = events.last().map_or(0, |e| e.t_ns);
    let injected = events.iter().filter(|e| e.kind == EventKind::FaultInject);
    injected
        .filter_map(|e| {
            let spec = e.fault.and_then(|i| sc.faults.get(i)).filter(|s| s.kind == FaultKind::ClockSkew)?;
            let (from_ns, to_ns) = in_effect(events, e, end);
            Some(Skewed { node: e.node.clone().unwrap_or_default(), from_ns, to_ns, offset_ms: spec.offset_ms.unwrap_or_default() })
        })
        .collect()
}

/// Each node's leaving and return, with how it came back in its engine's words (its log
/// since it left: `anchor` is the drill clock's zero in wall-clock time).
async fn rejoins(svc: &Service, events: &[Event], anchor: &str) -> Vec<crate::checker::Rejoin> {
    let mut v = super::members::rejoins(&svc.members.changes(), events);
    let (Some(ma), Ok(anchor)) = (svc.driver.multi_active(), chrono::DateTime::parse_from_rfc3339(anchor)) else { return v };
    for r in v.iter_mut().filter(|r| r.synced_ms.is_some()) {
        let left = anchor.with_timezone(&chrono::Utc) + chrono::Duration::microseconds((r.left_ms * 1e3) as i64);
        r.method = ma.rejoin_method(&svc.stack, &r.node, left).await;
    }
    v
}

/// When every node of a multi-active service held the same data after its workload stopped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Agreement {
    /// Drill time (ns) of the first read that found every node holding the same keys and
    /// the same number of records; None when they never did within the wait.
    pub at_ns: Option<u64>,
    /// How long drdrill waited.
    pub waited_ms: f64,
    /// Drill time (ns) the wait began.
    pub started_ns: u64,
}

/// How often the nodes are read while drdrill waits for them to agree.
const AGREE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Reads every node every 100 ms until all hold the same value of every key and the same
/// records, or `timeout_ms` passes. None for any other stack.
pub(super) async fn agree(svc: &Service, clock: &crate::clock::Clock, timeout_ms: u64) -> Option<Agreement> {
    let ma = svc.driver.multi_active()?;
    let (started, started_ns) = (tokio::time::Instant::now(), clock.now_ns());
    let deadline = started + std::time::Duration::from_millis(timeout_ms);
    loop {
        let mut seen = Vec::new();
        for n in &svc.stack.nodes {
            let keys = ma.read_keys(n.addr()).await.ok();
            let records = svc.driver.data().read_back(n.addr()).await.ok().map(|r| r.len());
            seen.push(keys.zip(records));
        }
        let all_read = seen.iter().all(Option::is_some);
        if all_read && seen.windows(2).all(|w| w[0] == w[1]) {
            let at_ns = Some(clock.now_ns());
            return Some(Agreement { at_ns, waited_ms: started.elapsed().as_secs_f64() * 1e3, started_ns });
        }
        if tokio::time::Instant::now() >= deadline {
            return Some(Agreement { at_ns: None, waited_ms: started.elapsed().as_secs_f64() * 1e3, started_ns });
        }
        tokio::time::sleep(AGREE_EVERY).await;
    }
}

/// Every node's final keys as evidence (`multi-active-keys.json`, or
/// `<service>-multi-active-keys.json`): node -> key -> [writer, seq].
fn save_keys(dir: &Path, tag: Option<&str>, keys: &BTreeMap<String, BTreeMap<u32, (u32, u64)>>) -> Result<()> {
    let name = tag.map_or_else(|| KEYS_FILE.to_string(), |t| format!("{t}-{KEYS_FILE}"));
    let text = serde_json::to_string_pretty(keys).map_err(|e| Error::infra("failed to encode the final keys").cause(e))?;
    std::fs::write(dir.join(&name), text).map_err(|e| Error::infra(format!("failed to write {name}")).cause(e))
}

/// The evidence file of every node's final keys.
pub const KEYS_FILE: &str = "multi-active-keys.json";

/// The site a node is in, or the node itself on a stack without sites.
fn site_of(svc: &Service, node: &str) -> String {
    svc.stack.sites.as_ref().and_then(|s| s.site(node)).unwrap_or(node).to_string()
}

/// From the last heal to the moment every node held the same data (ms); None without a
/// heal, or when they never agreed.
fn after_heal(events: &[Event], agreed: Option<Agreement>) -> Option<f64> {
    let heal = events.iter().filter(|e| e.kind == EventKind::FaultHeal).map(|e| e.applied_ns.unwrap_or(e.t_ns)).max()?;
    let at = agreed?.at_ns?;
    Some(at.saturating_sub(heal) as f64 / 1e6)
}

/// The workload's start and stop on the drill clock (ns).
fn workload_window(events: &[Event]) -> (u64, u64) {
    let at = |k: EventKind| events.iter().find(|e| e.kind == k).map(|e| e.t_ns);
    let start = at(EventKind::WorkloadStart).unwrap_or(0);
    (start, at(EventKind::WorkloadStop).unwrap_or_else(|| events.last().map_or(start, |e| e.t_ns)))
}

/// Every window in which the faults kept sites apart: an isolated site from all the
/// others, a partition's groups (by their members' sites) from each other; from the
/// fault's injection to its heal (or the end of the drill).
fn cuts(sc: &Scenario, events: &[Event], site: &dyn Fn(&str) -> String) -> Vec<Cut> {
    let end = events.last().map_or(0, |e| e.t_ns);
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.kind == EventKind::FaultInject) {
        let Some(spec) = e.fault.and_then(|i| sc.faults.get(i)) else { continue };
        let sides: Vec<Vec<String>> = match spec.kind {
            FaultKind::IsolateSite => {
                let cut = spec.target.clone().unwrap_or_default();
                let others = sc.sites.iter().filter(|s| **s != cut).cloned().collect();
                vec![vec![cut], others]
            }
            FaultKind::Partition => spec.groups.iter().flatten().map(|g| g.iter().map(|m| site(m)).collect()).collect(),
            _ => continue,
        };
        let (from_ns, to_ns) = in_effect(events, e, end);
        out.push(Cut { from_ns, to_ns, sides });
    }
    out
}

/// When the fault injected by `e` was in effect (drill ns): from its application to its
/// heal, or to `end` when it was never healed.
fn in_effect(events: &[Event], e: &Event, end: u64) -> (u64, u64) {
    let healed = events.iter().find(|h| h.kind == EventKind::FaultHeal && h.fault == e.fault && h.t_ns >= e.t_ns);
    (e.applied_ns.unwrap_or(e.t_ns), healed.map_or(end, |h| h.t_ns))
}
