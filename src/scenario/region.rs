//! What a region drill adds to a scenario: the drill's own DNS (`dns:`, docs/dns.md), and
//! how the clients look names up (`workload.resolve`).
use super::locate::Seg::{self, Key};
use super::model::Scenario;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

type Problem = (Vec<Seg>, String);

/// The drill runs a DNS server: each service's name, `<service>.drill.`, answers with its
/// primary's address (every node has an address of its own, 127.x.y.z, on one port), and a
/// failover moves it; the clients find the primary through it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    /// The records' TTL, seconds: how long the clients' resolvers keep an answer. Default
    /// 60 (seed 001's runbook). 0 to 86400.
    #[serde(default = "default_ttl")]
    pub ttl_s: u32,
}

fn default_ttl() -> u32 {
    60
}

/// How the clients look the service's name up, when the drill has `dns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolve {
    /// Through a stub resolver that keeps each answer for its TTL, then asks again (default).
    #[default]
    Ttl,
    /// Once, at the start, and never again: an application that caches the address for
    /// its life. It never follows a DNS failover, and the drill says so.
    Once,
}

/// The largest TTL a drill takes (a day).
const MAX_TTL_S: u32 = 86_400;

/// `dns` and `workload.resolve` where they cannot work.
pub(super) fn validate_dns(s: &Scenario, p: &mut Vec<Problem>) {
    let info = s.stack.kind.info();
    let Some(dns) = &s.dns else {
        if s.workload.resolve != Resolve::Ttl {
            p.push((vec![Key("workload"), Key("resolve")], "`resolve` needs the drill's DNS: add `dns: {ttl_s: N}`".into()));
        }
        return;
    };
    if dns.ttl_s > MAX_TTL_S {
        p.push((vec![Key("dns"), Key("ttl_s")], format!("expected a TTL of 0 to {MAX_TTL_S} s, found {}", dns.ttl_s)));
    }
    if info.external {
        p.push((
            vec![Key("dns")],
            "an external stack's clients use its own endpoint and DNS; drdrill's DNS serves the stacks it starts".into(),
        ));
    } else if let Some(o) = info.orchestrator {
        p.push((
            vec![Key("dns")],
            format!(
                "the clients of {} reach it through {o}'s own entry point; drdrill's DNS fails over postgres, redis and mariadb",
                info.name
            ),
        ));
    }
    if s.proxy.as_ref().is_some_and(|x| x.clients) {
        p.push((
            vec![Key("proxy"), Key("clients")],
            "with `dns`, the clients reach each node at its own address, not through the proxy".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn problems(yaml: &str) -> String {
        match parse(std::path::Path::new("t.yaml"), yaml.to_string()) {
            Ok(_) => String::new(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn dns_is_refused_where_it_cannot_work() {
        let base = "name: t\ntargets: {}\n";
        assert_eq!(problems(&format!("{base}stack: {{kind: postgres, replicas: 1}}\ndns: {{ttl_s: 5}}\n")), "");
        let e = problems(&format!("{base}stack: {{kind: patroni}}\ndns: {{ttl_s: 5}}\n"));
        assert!(e.contains("HAProxy") || e.contains("Patroni"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\nworkload: {{resolve: once}}\n"));
        assert!(e.contains("needs the drill's DNS"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\ndns: {{ttl_s: 100000}}\n"));
        assert!(e.contains("TTL of 0 to 86400"), "{e}");
        let e = problems(&format!("{base}stack: {{kind: postgres}}\nworkload: {{resolve: sometimes}}\n"));
        assert!(e.contains("sometimes"), "{e}");
    }
}
