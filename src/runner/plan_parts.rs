//! The parts of `--dry-run`'s plan that come straight from the scenario's settings: the
//! stack and its orchestrator's settings, sites, WAN links, DNS, the proxy's routes, the
//! workload, the recovery with its backup and restore steps, the targets and checks (the
//! faults' parameters and heals are `plan_faults`'). Every key a scenario sets is named in
//! the plan (`tests/lifecycle.rs` checks the shipped scenarios).
use crate::scenario::{FailoverMode, Resolve, RestoreTo, Scenario, ServicePlan};
use serde_json::Value;

/// `key value, key value` of a settings block's values that are set (nested blocks in
/// braces; lists joined by `+`, a list of lists by ` | `).
pub fn pairs(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .filter(|(_, x)| !is_unset(x))
            .map(|(k, x)| match x {
                Value::Object(_) => format!("{k} {{{}}}", pairs(x)),
                _ => format!("{k} {}", pairs(x)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(a) if a.iter().any(Value::is_array) => a.iter().map(pairs).collect::<Vec<_>>().join(" | "),
        Value::Array(a) => a.iter().map(pairs).collect::<Vec<_>>().join("+"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

fn json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// The stack as it will run: kind and shape (a primary and replicas, a cluster's shards,
/// a mesh's nodes), every setting, each orchestrator or engine block, each site's nodes.
pub fn stack_lines(v: &Scenario, who: &str) -> Vec<String> {
    let st = &v.stack;
    let shape = (st.kind.info().topology)(st);
    let mut l = vec![format!("{who}stack: kind {}, {}", st.kind.name(), shape.first().cloned().unwrap_or_default())];
    l.extend(shape.iter().skip(1).map(|line| format!("{who}{line}")));
    if !st.settings.is_empty() {
        let s: Vec<String> = st.settings.iter().map(|(k, x)| format!("{k}={x}")).collect();
        l.push(format!("{who}settings (the engine's own): {}", s.join(", ")));
    }
    // each orchestrator's or engine's own block (the backup has lines of its own below)
    let blocks = json(st);
    let own =
        blocks.as_object().into_iter().flatten().filter(|(k, b)| {
            b.is_object() && !is_unset(b) && !["settings", "sites", "nodes", "credentials", "backup"].contains(&k.as_str())
        });
    for (key, b) in own {
        l.push(format!("{who}{key}: {}", pairs(b)));
    }
    for (site, nodes) in &st.sites {
        l.push(format!("{who}site {site}: {}", nodes.join(", ")));
    }
    l
}

/// The drill's sites, WAN links (which way each number runs, or a plain link where the
/// stack's members span sites on one network), DNS (each service's name) and proxy routes
/// (a mesh's nodes replicate from each other, not from a primary).
pub fn region_lines(sc: &Scenario, services: &[ServicePlan]) -> Vec<String> {
    let mut l = Vec::new();
    if !sc.sites.is_empty() {
        l.push(format!("sites: {}", sc.sites.join(", ")));
    }
    let flat: Vec<&str> = services.iter().filter(|p| p.view.flat_sites()).map(|p| p.view.stack.kind.name()).collect();
    for w in &sc.wan {
        if !flat.is_empty() && flat.len() == services.len() {
            l.push(format!(
                "WAN {}: a plain link on the drill's one network ({}'s members announce one address to every site): no delay, loss or rate; a site fault cuts it with iptables",
                w.between.join(" <-> "),
                flat[0]
            ));
            continue;
        }
        l.push(format!(
            "WAN {}: {} (the proxy, on every path that crosses it: clients and replication)",
            w.between.join(" <-> "),
            wan_parts(w)
        ));
    }
    // the services the drill's DNS names (`dns.services`, or every one)
    let named: Vec<&ServicePlan> = services.iter().filter(|s| s.view.dns.is_some()).collect();
    if let Some(d) = named.first().and_then(|s| s.view.dns.as_ref()) {
        let how = match named[0].view.workload.resolve {
            Resolve::Ttl => "each writer looks it up before every write and keeps an answer for its TTL",
            Resolve::Once => "each writer looks it up once and never again (resolve: once)",
        };
        let names: Vec<String> = named.iter().map(|s| format!("{}.drill.", s.name)).collect();
        l.push(format!("DNS: the drill's own server answers {} with the primary's address, TTL {} s; {how}", names.join(", "), d.ttl_s));
    }
    if let Some(p) = sc.effective_proxy() {
        let mesh = services.iter().any(|s| s.view.stack.kind.info().multi_active);
        let replication = match mesh {
            true => "each node -> every other node it applies changes from (link replication)",
            false => "replica -> primary (link replication)",
        };
        let routes: Vec<&str> = [(p.clients, "clients -> nodes (link client)"), (p.replication, replication)]
            .into_iter()
            .filter_map(|(on, what)| on.then_some(what))
            .collect();
        let image = p.image.as_deref().unwrap_or("drdrill/proxy");
        l.push(format!("proxy ({image}): routes {}", if routes.is_empty() { "none".to_string() } else { routes.join(", ") }));
    }
    l
}

/// A WAN link's numbers: its round trip (and each way), jitter, loss and bandwidth.
fn wan_parts(w: &crate::scenario::LinkSpec) -> String {
    let mut parts = vec![format!("{} ms round trip ({} ms each way)", w.latency_ms, w.latency_ms as f64 / 2.0)];
    if w.jitter_ms > 0 {
        parts.push(format!("± {} ms jitter on the round trip", w.jitter_ms));
    }
    if w.loss_percent > 0.0 {
        parts.push(format!("{}% of packets lost each way", w.loss_percent));
    }
    if let Some(b) = w.bandwidth_kb_per_s {
        parts.push(format!("{b} KB/s per connection each way"));
    }
    parts.join(", ")
}

/// The workload beyond its writers and rate: timeouts, how long it writes on, where it
/// stands, the replica-lag heartbeat.
pub fn workload_line(v: &Scenario, who: &str) -> String {
    let w = &v.workload;
    let mut s = format!(
        "{who}workload timing: op_timeout_ms {}, fail_backoff_ms {}, payload_bytes {}, writes after_recovery_ms {} after recovery",
        w.op_timeout_ms, w.fail_backoff_ms, w.payload_bytes, w.after_recovery_ms
    );
    if let Some(site) = &w.site {
        s.push_str(&format!(", the clients in site {site}"));
    }
    if let Some(l) = &w.replica_lag {
        s.push_str(&format!(", replica lag: heartbeat every {} ms, read every {} ms", l.heartbeat_ms, l.poll_ms));
    }
    if let Some(r) = &w.readers {
        s.push_str(&format!("; {} readers from {}, {} reads/s each, op_timeout_ms {}", r.count, r.from, r.rate_per_s, r.op_timeout_ms));
        if let Some(site) = &r.site {
            s.push_str(&format!(", the readers in site {site} (each node through a read path of its own)"));
        }
    }
    if let Some(c) = &w.changes {
        let every = |n: u32, what: &str| match (n, n % 10, n % 100) {
            (0, ..) => format!("no {what}"),
            (1, ..) => format!("every op a {what}"),
            (_, 1, r) if r != 11 => format!("every {n}st op a {what}"),
            (_, 2, r) if r != 12 => format!("every {n}nd op a {what}"),
            (_, 3, r) if r != 13 => format!("every {n}rd op a {what}"),
            _ => format!("every {n}th op a {what}"),
        };
        s.push_str(&format!(
            "; each writer changes its own records: {}, {} (delete_every {}, rewrite_every {}), of a record acknowledged after_ms {} before",
            every(c.delete_every, "delete"),
            every(c.rewrite_every, "rewrite"),
            c.delete_every,
            c.rewrite_every,
            c.after_ms
        ));
    }
    s
}

/// The recovery's settings, and with a backup the backup and every restore step. An
/// operator's bootstrap answers the first fault on the service and repoints nothing.
pub fn failover_lines(v: &Scenario, who: &str) -> Vec<String> {
    let Some(fo) = &v.failover else { return Vec::new() };
    if v.failover_mode() == Some(FailoverMode::Orchestrator) {
        let what = "the orchestrator detects, promotes and reroutes; drdrill only watches (no trigger, promotion or repointing of its own)";
        return vec![format!("{who}failover: {what}")];
    }
    let bootstrap = v.failover_mode() == Some(FailoverMode::Bootstrap);
    let (hit, probed) = match bootstrap {
        true => ("the service", "finds no node taking writes"),
        false => ("the primary", "fails"),
    };
    let trigger = match (&fo.trigger.delay, &fo.trigger.probe) {
        (Some(d), _) => format!("delay_ms {} after the first fault that hits {hit}", d.delay_ms),
        (_, Some(p)) => format!(
            "a probe every interval_ms {} (timeout_ms {}) {probed} failures {} times in a row",
            p.interval_ms, p.timeout_ms, p.failures
        ),
        _ => "never".into(),
    };
    let mut settings = vec![format!("trigger: {trigger}")];
    if bootstrap {
        let from =
            format!("a new primary component bootstrapped from promote {} (promote_timeout_ms {})", fo.promote, fo.promote_timeout_ms);
        settings.push(format!("{from}, then every other node joins it, one at a time; each node's clients stay on their node"));
    } else {
        settings.push(format!("promote {} (promote_timeout_ms {})", fo.promote, fo.promote_timeout_ms));
        let flags = [
            ("repoint_replicas", fo.repoint_replicas),
            ("repoint_clients", fo.repoint_clients),
            ("rejoin_old_primary", fo.rejoin_old_primary),
        ];
        settings.extend(flags.iter().map(|(k, on)| format!("{k} {on}")));
    }
    if let Some(site) = &fo.site {
        settings.push(format!("in site {site}"));
    }
    if v.failover_mode() == Some(FailoverMode::Restore) || fo.restore_to != RestoreTo::Latest {
        settings.push(format!("restore_to {}", pairs(&json(&fo.restore_to))));
    }
    let mut l = vec![format!("{who}failover: {}", settings.join(", "))];
    if let Some(b) = &v.stack.backup {
        l.push(format!("{who}backup: {} before the workload ({})", backup_tool(v), pairs(&json(b))));
    }
    if v.failover_mode() == Some(FailoverMode::Restore) {
        let to = match fo.restore_to {
            RestoreTo::Latest => "the latest state the backup and its archive hold",
            RestoreTo::BeforeFault => "just before the fault (point in time; the old primary archives its last WAL first)",
        };
        let place = fo.site.as_ref().map(|s| format!(", built in {s}")).unwrap_or_default();
        l.push(format!(
            "{who}restore, once triggered: a fresh node in the destroyed primary's place (same name and address{place}), the backup restored to {to}, started, replayed, until it takes writes; then the clients"
        ));
    }
    l
}

fn backup_tool(v: &Scenario) -> &'static str {
    let info = v.stack.kind.info().backup.as_ref();
    let rsync = v.stack.backup.as_ref().is_some_and(|b| b.tool() == crate::scenario::BackupTool::Rsync);
    match info {
        Some(b) if rsync && b.keys.contains(&"tool") => crate::scenario::BackupTool::Rsync.tool(),
        Some(b) => b.tool,
        None => "a backup",
    }
}

/// The targets and the checker's parameters.
pub fn judging_lines(v: &Scenario, who: &str) -> Vec<String> {
    let mut l = Vec::new();
    let t = pairs(&json(&v.targets));
    if !t.is_empty() {
        l.push(format!("{who}targets: {t}"));
    }
    l.push(format!("{who}checks: {}", pairs(&json(&v.checks))));
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_pairs_and_unset_values_are_left_out() {
        let v =
            serde_json::json!({"ttl": 30, "use_slots": true, "x": null, "groups": [["pg-1"], ["pg-2", "pg-3"]], "rto_ms": {"p95": 3000}});
        assert_eq!(pairs(&v), "groups pg-1 | pg-2+pg-3, rto_ms {p95 3000}, ttl 30, use_slots true");
    }
}
