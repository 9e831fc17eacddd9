//! Validation of actions, hooks, steady-state probes and abort conditions, wherever a
//! scenario has them (faults, undo, failover steps, hooks).
use super::actions::{ActionSpec, ProbeSpec};
use super::locate::Problem;
use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// Every action in the scenario, with where it is (faults, undo, steps, hooks).
pub fn validate_actions(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(a) = &f.action {
            check_action(a, vec![Key("faults"), Index(i), Key("action")], p);
        }
        if let Some(a) = &f.undo {
            check_action(a, vec![Key("faults"), Index(i), Key("undo")], p);
        }
    }
    if let Some(fo) = &s.failover {
        for (i, a) in fo.steps.iter().enumerate() {
            check_action(a, vec![Key("failover"), Key("steps"), Index(i)], p);
            if let Some(d) = &a.dns {
                super::region::check_dns_step(s, d, vec![Key("failover"), Key("steps"), Index(i), Key("dns")], p);
            }
        }
        if !fo.steps.is_empty() && s.failover_mode() != Some(FailoverMode::Scripted) {
            p.push((
                vec![Key("failover"), Key("steps")],
                "steps replace drdrill's scripted promotion; an orchestrated stack fails over by itself".into(),
            ));
        }
    }
    for (list, key) in [(&s.hooks.before, "before"), (&s.hooks.after, "after")] {
        for (i, a) in list.iter().enumerate() {
            check_action(a, vec![Key("hooks"), Key(key), Index(i)], p);
        }
    }
    for (i, pr) in s.steady_state.probes.iter().enumerate() {
        check_probe(pr, vec![Key("steady_state"), Key("probes"), Index(i)], p);
    }
    if let Some(a) = &s.abort_when {
        if let Some(pr) = &a.probe {
            check_probe(pr, vec![Key("abort_when"), Key("probe")], p);
        }
        let at = |k: &'static str| vec![Key("abort_when"), Key(k)];
        super::bounds::check_opt(p, at("outage_ms"), "AbortWhen.outage_ms", a.outage_ms.map(|v| v as f64));
        super::bounds::check(p, at("probe_failures"), "AbortWhen.probe_failures", f64::from(a.probe_failures), "");
        if a.outage_ms.is_none() && a.failed_writes.is_none() && a.probe.is_none() {
            p.push((vec![Key("abort_when")], "give at least one of outage_ms, failed_writes or probe".into()));
        }
    }
    for (i, name) in s.secrets.iter().enumerate() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.push((vec![Key("secrets"), Index(i)], format!("`{name}` is not an environment variable name")));
        }
    }
}

fn check_action(a: &ActionSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if a.kind().is_none() {
        p.push((at.clone(), "an action takes exactly one of command, http, manual or wait (or, a failover step, dns)".into()));
    }
    if a.dns.is_some() && at.get(1) != Some(&Key("steps")) {
        p.push((with(&at, "dns"), "`dns` moves a record during failover: it is a failover step only".into()));
    }
    super::bounds::check_opt(p, with(&at, "timeout_ms"), "ActionSpec.timeout_ms", a.timeout_ms.map(|v| v as f64));
    if let Some(c) = &a.command {
        check_command(c, with(&at, "command"), p);
    }
    if let Some(h) = &a.http {
        check_http(h, with(&at, "http"), p);
    }
    if let Some(w) = &a.wait {
        check_probe(w, with(&at, "wait"), p);
    }
    if let Some(n) = &a.name
        && (n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        p.push((with(&at, "name"), format!("action name `{n}` must be letters, digits, '-' or '_'")));
    }
}

fn check_probe(pr: &ProbeSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if pr.kind().is_none() {
        p.push((at.clone(), "a probe takes exactly one of command, http, write: true or max_lag_bytes".into()));
    }
    super::bounds::check(p, with(&at, "attempt_timeout_ms"), "ProbeSpec.attempt_timeout_ms", pr.attempt_timeout_ms as f64, "");
    super::bounds::check(p, with(&at, "every_ms"), "ProbeSpec.every_ms", pr.every_ms as f64, "");
    if let Some(c) = &pr.command {
        check_command(c, with(&at, "command"), p);
    }
    if let Some(h) = &pr.http {
        check_http(h, with(&at, "http"), p);
    }
}

fn check_command(c: &super::actions::CommandLine, at: Vec<Seg>, p: &mut Vec<Problem>) {
    let empty = match c {
        super::actions::CommandLine::Argv(v) => v.first().is_none_or(|a| a.is_empty()),
        super::actions::CommandLine::Shell(s) => s.trim().is_empty(),
    };
    if empty {
        p.push((at, "the command is empty".into()));
    }
}

fn check_http(h: &super::actions::HttpSpec, at: Vec<Seg>, p: &mut Vec<Problem>) {
    if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
        p.push((with(&at, "url"), format!("expected an http:// or https:// URL, found `{}`", h.url)));
    }
    if h.method.parse::<hyper::Method>().is_err() || h.method.is_empty() {
        p.push((with(&at, "method"), format!("`{}` is not an HTTP method", h.method)));
    }
    super::bounds::check_opt(p, with(&at, "status"), "HttpSpec.status", h.status.map(f64::from));
}

fn with(at: &[Seg], key: &'static str) -> Vec<Seg> {
    let mut v = at.to_vec();
    v.push(Key(key));
    v
}
