//! Every number and string in a scenario has a documented range (docs/scenarios.md, "Ranges
//! and refused input"; the numbers' bounds are in scenario/bounds.rs), checked before
//! anything starts: no value can overflow a clock, exhaust memory or break a container name
//! later.
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// Longest scenario name: it goes into container names, labels and paths.
pub const NAME_MAX: usize = 63;

struct Ranges<'a>(&'a mut Vec<Problem>);

impl Ranges<'_> {
    /// `v` within `key`'s bound (scenario/bounds.rs).
    fn int(&mut self, path: Vec<Seg>, key: &str, v: u64) {
        super::bounds::check(self.0, path, key, v as f64, "");
    }
    fn opt(&mut self, path: Vec<Seg>, key: &str, v: Option<u64>) {
        super::bounds::check_opt(self.0, path, key, v.map(|v| v as f64));
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
    r.stack(s);
    r.workload(&s.workload);
    r.faults(&s.faults);
    for (i, l) in s.wan.iter().enumerate() {
        let lk = |k: &'static str| vec![Key("wan"), Index(i), Key(k)];
        r.int(lk("latency_ms"), "LinkSpec.latency_ms", l.latency_ms);
        r.int(lk("jitter_ms"), "LinkSpec.jitter_ms", l.jitter_ms);
        r.opt(lk("bandwidth_kb_per_s"), "LinkSpec.bandwidth_kb_per_s", l.bandwidth_kb_per_s);
    }
    if let Some(fo) = &s.failover {
        r.failover(fo);
    }
    r.targets(&s.targets);
    let c = &s.checks;
    r.int(vec![Key("checks"), Key("stable_window_ms")], "CheckSpec.stable_window_ms", c.stable_window_ms);
    r.int(vec![Key("checks"), Key("convergence_timeout_ms")], "CheckSpec.convergence_timeout_ms", c.convergence_timeout_ms);
}

impl Ranges<'_> {
    /// `stack`: its timeout, images (the proxy's too) and settings' names and values.
    fn stack(&mut self, s: &Scenario) {
        let st = &s.stack;
        self.int(vec![Key("stack"), Key("healthy_timeout_ms")], "StackSpec.healthy_timeout_ms", st.healthy_timeout_ms);
        if let Some(i) = &st.image {
            self.image(vec![Key("stack"), Key("image")], i);
        }
        if let Some(i) = s.proxy.as_ref().and_then(|p| p.image.as_ref()) {
            self.image(vec![Key("proxy"), Key("image")], i);
        }
        for (k, v) in &st.settings {
            let path = vec![Key("stack"), Key("settings")];
            if k.is_empty() || k.len() > 64 || !k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                self.0.push((path, format!("setting name `{k}`: expected 1 to 64 letters, digits, '_', '.', '-'")));
            } else if v.len() > 1024 || v.contains(['\n', '\r', '\0']) {
                self.0.push((path, format!("setting `{k}`: expected one line of at most 1024 characters")));
            }
        }
    }

    /// `workload`, its hedge and its replica lag measurement.
    fn workload(&mut self, w: &WorkloadSpec) {
        let wk = |k: &'static str| vec![Key("workload"), Key(k)];
        self.int(wk("op_timeout_ms"), "WorkloadSpec.op_timeout_ms", w.op_timeout_ms);
        self.int(wk("fail_backoff_ms"), "WorkloadSpec.fail_backoff_ms", w.fail_backoff_ms);
        self.int(wk("payload_bytes"), "WorkloadSpec.payload_bytes", w.payload_bytes as u64);
        self.int(wk("after_recovery_ms"), "WorkloadSpec.after_recovery_ms", w.after_recovery_ms);
        let hk = |k: &'static str| vec![Key("workload"), Key("hedge"), Key(k)];
        self.int(hk("after_ms"), "HedgeSpec.after_ms", w.hedge.after_ms);
        self.int(hk("every_ms"), "HedgeSpec.every_ms", w.hedge.every_ms);
        self.int(hk("connect_timeout_ms"), "HedgeSpec.connect_timeout_ms", w.hedge.connect_timeout_ms);
        self.int(hk("max_in_flight"), "HedgeSpec.max_in_flight", u64::from(w.hedge.max_in_flight));
        if let Some(l) = &w.replica_lag {
            let lk = |k: &'static str| vec![Key("workload"), Key("replica_lag"), Key(k)];
            self.int(lk("heartbeat_ms"), "LagSpec.heartbeat_ms", l.heartbeat_ms);
            self.int(lk("poll_ms"), "LagSpec.poll_ms", l.poll_ms);
            self.int(lk("engine_every_ms"), "LagSpec.engine_every_ms", l.engine_every_ms);
        }
    }

    /// How many faults, and each one's numbers, names and partition groups.
    fn faults(&mut self, faults: &[FaultSpec]) {
        if faults.len() > 256 {
            self.0.push((vec![Key("faults")], format!("at most 256 faults, found {}", faults.len())));
        }
        for (i, f) in faults.iter().enumerate() {
            let fk = |k: &'static str| vec![Key("faults"), Index(i), Key(k)];
            self.opt(fk("duration_ms"), "FaultSpec.duration_ms", f.duration_ms);
            self.opt(fk("rate_kb_per_s"), "FaultSpec.rate_kb_per_s", f.rate_kb_per_s);
            self.opt(fk("latency_ms"), "FaultSpec.latency_ms", f.latency_ms);
            self.opt(fk("jitter_ms"), "FaultSpec.jitter_ms", f.jitter_ms);
            self.opt(fk("timeout_ms"), "FaultSpec.timeout_ms", f.timeout_ms);
            for (k, v) in [("name", &f.name), ("heals", &f.heals), ("target", &f.target)] {
                if let Some(v) = v {
                    self.text(fk(k), v, NAME_MAX);
                }
            }
            if let Some(g) = &f.groups
                && (g.len() > 16 || g.iter().any(|m| m.len() > 16))
            {
                self.0.push((fk("groups"), "at most 16 groups of at most 16 members".into()));
            }
        }
    }

    /// `failover`: its trigger, the node it promotes and how long it looks for it.
    fn failover(&mut self, fo: &FailoverSpec) {
        let tk = |a: &'static str, k: &'static str| vec![Key("failover"), Key("trigger"), Key(a), Key(k)];
        if let Some(d) = &fo.trigger.delay {
            self.int(tk("delay", "delay_ms"), "DelayTrigger.delay_ms", d.delay_ms);
        }
        if let Some(pr) = &fo.trigger.probe {
            self.int(tk("probe", "interval_ms"), "ProbeTrigger.interval_ms", pr.interval_ms);
            self.int(tk("probe", "timeout_ms"), "ProbeTrigger.timeout_ms", pr.timeout_ms);
            self.int(tk("probe", "failures"), "ProbeTrigger.failures", u64::from(pr.failures));
        }
        self.text(vec![Key("failover"), Key("promote")], &fo.promote, NAME_MAX);
        self.int(vec![Key("failover"), Key("promote_timeout_ms")], "FailoverSpec.promote_timeout_ms", fo.promote_timeout_ms);
    }

    /// The targets' times: replica lag, RTO and RPO.
    fn targets(&mut self, t: &Targets) {
        for (_, v) in t.replica_lag_ms.iter().flat_map(|l| l.each()) {
            self.int(vec![Key("targets"), Key("replica_lag_ms")], "Targets.replica_lag_ms", v);
        }
        for (_, v) in t.stale_read_ms.iter().flat_map(|l| l.each()) {
            self.int(vec![Key("targets"), Key("stale_read_ms")], "Targets.stale_read_ms", v);
        }
        self.opt(vec![Key("targets"), Key("read_rto_ms")], "Targets.read_rto_ms", t.read_rto_ms);
        for (k, l) in [("rto_ms", &t.rto_ms), ("rpo_ms", &t.rpo_ms)] {
            for v in l.iter().flat_map(|l| l.values()) {
                self.int(vec![Key("targets"), Key(k)], if k == "rto_ms" { "Targets.rto_ms" } else { "Targets.rpo_ms" }, v);
            }
        }
    }
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
