//! Every number and string in a scenario has a documented range (docs/scenarios.md, "Ranges and refused input"),
//! checked before anything starts: no value can overflow a clock, exhaust memory or break
//! a container name later.
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// One day: the longest time any `_ms` field may hold.
pub const DAY_MS: u64 = 86_400_000;
/// One hour: the longest a drill's workload, a fault or a wait may last.
pub const HOUR_MS: u64 = 3_600_000;
/// Longest scenario name: it goes into container names, labels and paths.
pub const NAME_MAX: usize = 63;

struct Ranges<'a>(&'a mut Vec<Problem>);

impl Ranges<'_> {
    fn int(&mut self, path: Vec<Seg>, v: u64, lo: u64, hi: u64) {
        if v < lo || v > hi {
            let name = path.iter().rev().find_map(|s| if let Key(k) = s { Some(*k) } else { None }).unwrap_or("value");
            self.0.push((path, format!("{name} must be between {lo} and {hi}, found {v}")));
        }
    }
    fn opt(&mut self, path: Vec<Seg>, v: Option<u64>, lo: u64, hi: u64) {
        if let Some(v) = v {
            self.int(path, v, lo, hi);
        }
    }
    fn text(&mut self, path: Vec<Seg>, v: &str, max: usize) {
        if v.chars().count() > max {
            self.0.push((path, format!("at most {max} characters, found {}", v.chars().count())));
        } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.0.push((path, "control characters are not allowed here".into()));
        }
    }
    /// An image reference: what Docker would refuse only once the drill starts.
    fn image(&mut self, path: Vec<Seg>, v: &str) {
        if v.trim().is_empty() {
            self.0.push((path, "image must not be empty; leave the key out for the default image".into()));
        } else if v.chars().any(char::is_whitespace) {
            self.0.push((path, format!("image `{}` must not contain whitespace", v.escape_debug())));
        } else {
            self.text(path, v, 255);
        }
    }
}

pub fn check_ranges(s: &Scenario, p: &mut Vec<Problem>) {
    let mut r = Ranges(p);
    if s.name.len() > NAME_MAX {
        r.0.push((vec![Key("name")], format!("name must be at most {NAME_MAX} characters, found {}", s.name.len())));
    }
    r.text(vec![Key("description")], &s.description, 4096);
    let st = &s.stack;
    r.int(vec![Key("stack"), Key("healthy_timeout_ms")], st.healthy_timeout_ms, 1, HOUR_MS);
    if let Some(i) = &st.image {
        r.image(vec![Key("stack"), Key("image")], i);
    }
    if let Some(i) = s.proxy.as_ref().and_then(|p| p.image.as_ref()) {
        r.image(vec![Key("proxy"), Key("image")], i);
    }
    for (k, v) in &st.settings {
        let path = vec![Key("stack"), Key("settings")];
        if k.is_empty() || k.len() > 64 || !k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            r.0.push((path, format!("setting name `{k}`: expected 1 to 64 letters, digits, '_', '.', '-'")));
        } else if v.len() > 1024 || v.contains(['\n', '\r', '\0']) {
            r.0.push((path, format!("setting `{k}`: expected one line of at most 1024 characters")));
        }
    }
    let w = &s.workload;
    let wk = |k: &'static str| vec![Key("workload"), Key(k)];
    r.int(wk("op_timeout_ms"), w.op_timeout_ms, 1, 600_000);
    r.int(wk("fail_backoff_ms"), w.fail_backoff_ms, 0, 60_000);
    r.int(wk("payload_bytes"), w.payload_bytes as u64, 0, 65_536);
    r.int(wk("after_recovery_ms"), w.after_recovery_ms, 0, HOUR_MS);
    let hk = |k: &'static str| vec![Key("workload"), Key("hedge"), Key(k)];
    r.int(hk("after_ms"), w.hedge.after_ms, 0, 600_000);
    r.int(hk("every_ms"), w.hedge.every_ms, 1, 1000);
    r.int(hk("connect_timeout_ms"), w.hedge.connect_timeout_ms, 1, 60_000);
    r.int(hk("max_in_flight"), u64::from(w.hedge.max_in_flight), 1, 256);
    if let Some(l) = &w.replica_lag {
        let lk = |k: &'static str| vec![Key("workload"), Key("replica_lag"), Key(k)];
        r.int(lk("heartbeat_ms"), l.heartbeat_ms, 1, 10_000);
        r.int(lk("poll_ms"), l.poll_ms, 1, 10_000);
        r.int(lk("engine_every_ms"), l.engine_every_ms, 10, 60_000);
    }
    if s.faults.len() > 256 {
        r.0.push((vec![Key("faults")], format!("at most 256 faults, found {}", s.faults.len())));
    }
    for (i, f) in s.faults.iter().enumerate() {
        let fk = |k: &'static str| vec![Key("faults"), Index(i), Key(k)];
        r.opt(fk("duration_ms"), f.duration_ms, 1, HOUR_MS);
        r.opt(fk("rate_kb_per_s"), f.rate_kb_per_s, 1, 10_485_760);
        r.opt(fk("latency_ms"), f.latency_ms, 0, 600_000);
        r.opt(fk("jitter_ms"), f.jitter_ms, 0, 600_000);
        r.opt(fk("timeout_ms"), f.timeout_ms, 0, HOUR_MS);
        for (k, v) in [("name", &f.name), ("heals", &f.heals), ("target", &f.target)] {
            if let Some(v) = v {
                r.text(fk(k), v, NAME_MAX);
            }
        }
        if let Some(g) = &f.groups
            && (g.len() > 16 || g.iter().any(|m| m.len() > 16))
        {
            r.0.push((fk("groups"), "at most 16 groups of at most 16 members".into()));
        }
    }
    for (i, l) in s.wan.iter().enumerate() {
        let lk = |k: &'static str| vec![Key("wan"), Index(i), Key(k)];
        r.int(lk("latency_ms"), l.latency_ms, 0, 600_000);
        r.int(lk("jitter_ms"), l.jitter_ms, 0, 600_000);
        r.opt(lk("bandwidth_kb_per_s"), l.bandwidth_kb_per_s, 1, 10_485_760);
    }
    if let Some(fo) = &s.failover {
        let tk = |a: &'static str, k: &'static str| vec![Key("failover"), Key("trigger"), Key(a), Key(k)];
        if let Some(d) = &fo.trigger.delay {
            r.int(tk("delay", "delay_ms"), d.delay_ms, 0, HOUR_MS);
        }
        if let Some(pr) = &fo.trigger.probe {
            r.int(tk("probe", "interval_ms"), pr.interval_ms, 1, 600_000);
            r.int(tk("probe", "timeout_ms"), pr.timeout_ms, 1, 600_000);
            r.int(tk("probe", "failures"), u64::from(pr.failures), 1, 1000);
        }
        r.text(vec![Key("failover"), Key("promote")], &fo.promote, NAME_MAX);
        r.int(vec![Key("failover"), Key("promote_timeout_ms")], fo.promote_timeout_ms, 1, HOUR_MS);
    }
    let t = &s.targets;
    for (_, v) in t.replica_lag_ms.iter().flat_map(|l| l.each()) {
        r.int(vec![Key("targets"), Key("replica_lag_ms")], v, 0, DAY_MS);
    }
    for (k, l) in [("rto_ms", &t.rto_ms), ("rpo_ms", &t.rpo_ms)] {
        for v in l.iter().flat_map(|l| l.values()) {
            r.int(vec![Key("targets"), Key(k)], v, 0, DAY_MS);
        }
    }
    let c = &s.checks;
    r.int(vec![Key("checks"), Key("stable_window_ms")], c.stable_window_ms, 1, 600_000);
    r.int(vec![Key("checks"), Key("convergence_timeout_ms")], c.convergence_timeout_ms, 0, HOUR_MS);
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;
    use std::path::Path;

    const OK: &str = "name: t\nstack:\n  kind: postgres\nfaults:\n  - at_ms: 10\n    kind: kill\n    target: primary\nfailover:\n  trigger:\n    delay:\n      delay_ms: 100\ntargets:\n  rto_ms: 1000\n";

    fn err(src: &str) -> String {
        parse(Path::new("s.yaml"), src.to_string()).unwrap_err().to_string()
    }

    #[test]
    fn values_that_once_broke_a_drill_are_refused_where_they_stand() {
        let e = err(&OK.replace("delay_ms: 100", "delay_ms: 18446744073710"));
        assert!(e.contains("s.yaml:11:7: delay_ms must be between 0 and 3600000, found 18446744073710"), "{e}");
        let e = err(&format!("{OK}workload:\n  payload_bytes: 100000\n"));
        assert!(e.contains("s.yaml:15:3: payload_bytes must be between 0 and 65536"), "{e}");
        let e = err(&OK.replace("name: t", &format!("name: {}", "a".repeat(300))));
        assert!(e.contains("s.yaml:1:1: name must be at most 63 characters, found 300"), "{e}");
        let e = err(&OK.replace("kind: postgres", "kind: postgres\n  settings: {\"bad\\nkey\": x}"));
        assert!(e.contains("setting name"), "{e}");
    }

    #[test]
    fn empty_or_blank_images_are_refused_where_they_stand() {
        let e = err(&OK.replace("kind: postgres", "kind: postgres\n  image: \"\""));
        assert!(e.contains("s.yaml:4:3: image must not be empty; leave the key out for the default image"), "{e}");
        let e = err(&OK.replace("kind: postgres", "kind: postgres\n  image: \"   \""));
        assert!(e.contains("s.yaml:4:3: image must not be empty"), "{e}");
        let e = err(&OK.replace("kind: postgres", "kind: postgres\n  image: \"postgres :15\""));
        assert!(e.contains("s.yaml:4:3: image `postgres :15` must not contain whitespace"), "{e}");
        let e = err(&format!("{OK}proxy:\n  clients: true\n  image: \"\"\n"));
        assert!(e.contains("s.yaml:16:3: image must not be empty; leave the key out for the default image"), "{e}");
        let e = err(&format!("{OK}proxy:\n  image: \"a\\tb\"\n"));
        assert!(e.contains("s.yaml:15:3: image `a\\tb` must not contain whitespace"), "{e}");
    }
}
