//! Orchestrated stacks (tests/orchestrated.rs, tests/seed_settings.rs, tests/region.rs, the
//! cluster tests): the orchestrator failed over, and the phases of its RTO are in order and
//! add up to it.
use super::Drill;
use serde_json::Value;

pub fn events(r: &Value) -> Vec<Value> {
    r["events"].as_array().unwrap().clone()
}

/// drdrill promoted nothing; the orchestrator did, and its steps are in the history.
pub fn assert_orchestrator_failed_over(d: &Drill) {
    let r = &d.results;
    let kinds: Vec<String> = events(r).iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    for ours in ["failover-start", "failover-promote", "failover-repoint-replicas", "failover-repoint-clients"] {
        assert!(!kinds.iter().any(|k| k == ours), "drdrill must not fail over an orchestrated stack: {ours} in {kinds:?}");
    }
    assert!(kinds.iter().any(|k| k == "orchestrator-promoted"), "{kinds:?}\n{}", d.stderr);
    let p = &r["phases"];
    assert_ne!(p["new_primary"], p["old_primary"], "{p}");
    assert_eq!(r["stack"]["final_primary"], p["new_primary"]);
}

/// fault <= detected <= promoted, each observed, and the first write the new primary
/// acknowledged was invoked before it was acknowledged. Rerouted (that write's invoke time,
/// as RTO counts) may precede the promotion: a client's attempt can wait in HAProxy's queue
/// or on Sentinel until the new primary takes it (docs/stacks.md). (The reroute is not
/// checked here: the checker clamps it at 0; `assert_phases_add_up` checks what it hides.)
pub fn assert_phases_ordered(p: &Value) {
    let t = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} not observed: {p}"));
    assert!(t("fault_ms") <= t("detected_ms"), "{p}");
    assert!(t("detected_ms") <= t("promoted_ms"), "{p}");
    assert!(t("fault_ms") <= t("rerouted_ms") && t("rerouted_ms") <= t("rerouted_ack_ms"), "{p}");
    for k in ["detection_ms", "promotion_ms", "stabilization_ms", "dns_update_ms", "ttl_wait_ms"] {
        assert!(p[k].as_f64().is_none_or(|v| v >= 0.0), "{k} is negative: {p}");
    }
}

/// A service's phases (`r`: its results) split its RTO: detection, promotion, with the
/// drill's DNS the record's move and the TTL wait, the reroute and the stabilisation add up
/// to `rto_ms` (within rounding), and run from `fault_ms` to `recovered_ms`. The reroute
/// counts from the last step before it (the first client cache running out, the record's
/// move, or the promotion) and is clamped at 0 when the clients' first write to the new
/// primary began before that step and waited for it: such a reroute carries
/// `rerouted_early_ms`, how long before, and no other does.
pub fn assert_phases_add_up(r: &Value) {
    const ROUNDING_MS: f64 = 0.01;
    let p = &r["phases"];
    let v = |k: &str| p[k].as_f64();
    let Some(rto) = r["rto_ms"].as_f64() else {
        assert!(v("stabilization_ms").is_none(), "no RTO, yet a stabilisation: {p}");
        return;
    };
    let t = |k: &str| v(k).unwrap_or_else(|| panic!("{k} not observed: {p}"));
    let dns = v("dns_update_ms").unwrap_or(0.0) + v("ttl_wait_ms").unwrap_or(0.0);
    let sum = t("detection_ms") + t("promotion_ms") + dns + t("reroute_ms") + t("stabilization_ms");
    assert!((sum - rto).abs() < ROUNDING_MS, "the phases add up to {sum} ms, the RTO is {rto} ms: {p}");
    assert!((t("recovered_ms") - t("fault_ms") - rto).abs() < ROUNDING_MS, "the phases do not span the RTO ({rto} ms): {p}");
    let from = v("first_cache_expired_ms").or(v("dns_moved_ms")).unwrap_or_else(|| t("promoted_ms"));
    let (rerouted, reroute) = (t("rerouted_ms"), t("reroute_ms"));
    match v("rerouted_early_ms") {
        Some(early) => assert!(
            reroute == 0.0 && (early - (from - rerouted)).abs() < ROUNDING_MS,
            "the first write began {early} ms before the step the reroute counts from ({from}): the reroute is 0, and began at {rerouted}: {p}"
        ),
        None => assert!(
            rerouted >= from && (reroute - (rerouted - from)).abs() < ROUNDING_MS,
            "a reroute from {from} to {rerouted} ms is {reroute} ms, with no rerouted_early_ms: {p}"
        ),
    }
}
