//! Region drills for real (docs/regions.md, docs/dns.md): sites on networks of their own,
//! WAN links through the chaos proxy, a site isolated, the DR site promoted and the DNS
//! record moved. The RTO must wait for the TTL and no more than a bound past it, the
//! writes lost across the WAN must equal an independent read, the isolated site's nodes
//! must still run, and nothing of the drill may remain.
mod common;
use common::*;

/// Past the last client cache running out, the next write goes out within the writers'
/// schedule (10 ms at 100 writes/s) and a hedge probe's spacing; a generous bound.
const AFTER_TTL_BOUND_MS: f64 = 1_000.0;
const TTL_MS: f64 = 3_000.0;

#[test]
fn an_isolated_region_loses_what_never_crossed_the_wan_and_the_clients_wait_for_the_ttl() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let still_running = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = still_running.clone();
    let read = move |r: &serde_json::Value, node: &str| {
        // read before gc: the isolated site's nodes must still run
        for n in ["pg-1", "pg-2"] {
            let state = docker(&["inspect", "-f", "{{.State.Running}}", &container_of(r, n)]);
            seen.borrow_mut().push((n, state.trim() == "true"));
        }
        read_postgres(host_port(r, node))
    };
    let c = drill_cross_checked_by("tests/fixtures/region-pg-isolation.yaml", &read, &[]);
    let r = &c.d.results;
    assert!(still_running.borrow().iter().all(|(_, up)| *up), "isolated nodes stopped: {:?}", still_running.borrow());
    assert_eq!(r["stack"]["final_primary"], "pg-3", "the DR site's replica must be the primary");
    let p = &r["phases"];
    let t = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("no {k}: {p}"));
    let (moved, expired, recovered) = (t("dns_moved_ms"), t("caches_expired_ms"), r["recovered_at_ms"].as_f64().unwrap());
    // the clients follow only once their caches ran out: the RTO is at least the DNS
    // update plus the TTL that remained, and at most a bound past it
    assert!(expired >= moved && expired - moved <= TTL_MS + 1.0, "moved {moved}, caches expired {expired}");
    assert!(recovered >= expired - 1.0, "recovered at {recovered} ms, before the last cache ran out at {expired} ms");
    assert!(recovered <= expired + AFTER_TTL_BOUND_MS, "recovered at {recovered} ms, {AFTER_TTL_BOUND_MS} ms past {expired} ms");
    assert_phases_ordered(p);
}

#[test]
fn a_client_that_resolves_once_never_recovers_and_the_drill_says_so() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = run_drill("tests/fixtures/dns-resolve-once.yaml", &[]);
    assert_eq!(d.code, 1, "a missed RTO is exit code 1\n{}", d.stderr);
    let r = &d.results;
    assert!(r["rto_ms"].is_null(), "the clients never reached the new primary: {}", r["rto_ms"]);
    assert_eq!(r["stack"]["final_primary"], "pg-2");
    let rto = r["targets"].as_array().unwrap().iter().find(|t| t["target"] == "rto_ms").unwrap();
    assert!(rto["note"].as_str().unwrap().contains("resolve: once"), "{rto}");
    // the move happened; no writer asked again
    let moved = events(r).iter().any(|e| e["kind"] == "failover-repoint-clients" && e["detail"].as_str().unwrap().starts_with("DNS"));
    assert!(moved, "the record never moved");
    let answers = events(r).iter().filter(|e| e["kind"] == "dns-answer").count();
    assert_eq!(answers, 2, "each of the 2 writers looks the name up exactly once");
}
