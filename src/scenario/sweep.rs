//! A sweep file: a scenario that names one setting of its stack (two at most, a grid) and
//! the values to try, the faults that must fail over (`failures`) and those that must not
//! (`blips`). It is expanded into one drill per value and fault, each a whole scenario,
//! validated like any other before anything starts:
//!
//! ```yaml
//! sweep: {setting: stack.sentinel.down_after_ms, values: [500, 5000], repeat: 3}
//! failures: [{at_ms: 5000, kind: kill, target: primary}]
//! blips: [{at_ms: 5000, kind: pause, target: primary, duration_ms: 1500}]
//! targets: {rto_ms: 10000, max_false_failovers: 0}
//! ```
use super::Loaded;
use super::locate::{Problem, Seg};
use super::sweep_derive::{Role, SweepPlan, derive, derived_base, label, seed_value, value_text};
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::path::Path;

/// The most points (values, or values × values) and repeats a sweep may ask for.
pub const MAX_POINTS: usize = 50;
pub const MAX_REPEAT: u32 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSpec {
    setting: String,
    values: Vec<Value>,
    #[serde(default = "one")]
    repeat: u32,
    /// A second setting: every value of the first with every value of this one.
    #[serde(default)]
    with: Option<Axis>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Axis {
    setting: String,
    values: Vec<Value>,
}

fn one() -> u32 {
    1
}

/// A sweep, loaded: its plan and one drill per point and fault.
pub struct Sweep {
    pub name: String,
    pub plan: SweepPlan,
    pub trials: Vec<Trial>,
}

/// One drill of a sweep.
pub struct Trial {
    pub point: usize,
    pub role: Role,
    pub index: usize,
    pub loaded: Loaded,
}

/// Whether the file is a sweep: a line `sweep:` at the top level, read by its lines (any
/// file is asked, before its prescan bounds what a YAML parser is given).
pub fn is_sweep(source: &str) -> bool {
    source.lines().any(|l| l.strip_prefix("sweep").is_some_and(|r| r.trim_start().starts_with(':')))
}

/// Whether `path` is a regular file that is a sweep (a FIFO or a folder is not asked: a
/// FIFO read here would reach the loader empty).
pub fn is_sweep_file(path: &Path) -> bool {
    path.is_file() && std::fs::read_to_string(path).is_ok_and(|s| is_sweep(&s))
}

pub fn load_sweep(path: &Path) -> Result<Sweep> {
    let read = |e| Error::scenario(format!("failed to read scenario {}", path.display())).cause(e);
    parse_sweep(path, super::prescan::read_as("scenario", path, read)?)
}

pub fn parse_sweep(path: &Path, source: String) -> Result<Sweep> {
    let file = path.display().to_string();
    super::prescan::no_control_characters(&file, &source)?;
    super::prescan::check(&file, &source)?;
    let root: Value = serde_norway::from_str(&source).map_err(|e| super::load::yaml_error(&file, &e))?;
    let map = root.as_mapping().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let spec = spec(&map, &mut problems);
    let failures = faults(&map, "failures", &mut problems);
    let blips = faults(&map, "blips", &mut problems);
    whole(&map, failures.is_empty() && blips.is_empty(), &mut problems);
    let max_false_failovers = max_false_failovers(&map, &mut problems);
    let axes = spec.as_ref().map(|s| axes(s, &map, &mut problems)).unwrap_or_default();
    if !problems.is_empty() {
        return Err(super::load::problems_error(&file, &source, problems));
    }
    let spec = spec.expect("a sweep without problems has its spec");
    let base = derived_base(&map);
    let name = map.get("name").and_then(Value::as_str).unwrap_or("sweep").to_string();
    let trials: Vec<(Role, usize, &Value)> = failures
        .iter()
        .enumerate()
        .map(|(i, f)| (Role::Failure, i, f))
        .chain(blips.iter().enumerate().map(|(i, b)| (Role::Blip, i, b)))
        .collect();
    // each fault as a drill with the file's own settings: its problems are the fault's
    for &(role, index, fault) in &trials {
        let text = serde_norway::to_string(&derive(&base, &[], &name, (role, index, fault))).expect("a YAML value writes");
        if let Err(e) = super::parse(path, text) {
            let key = if role == Role::Failure { "failures" } else { "blips" };
            problems.push((vec![Seg::Key(key), Seg::Index(index)], format!("{key}[{index}] makes no valid drill: {}", reason(&e))));
        }
    }
    if !problems.is_empty() {
        return Err(super::load::problems_error(&file, &source, problems));
    }
    let points = grid(&axes);
    let mut out = Vec::new();
    for (p, values) in points.iter().enumerate() {
        let settings: Vec<(&str, &Value)> = axes.iter().map(|a| a.setting.as_str()).zip(values.iter()).collect();
        for &(role, index, fault) in &trials {
            let text = serde_norway::to_string(&derive(&base, &settings, &name, (role, index, fault))).expect("a YAML value writes");
            let loaded = super::parse(path, text).map_err(|e| blamed(&file, &source, &axes, values, &e))?;
            out.push(Trial { point: p, role, index, loaded });
        }
    }
    let plan = SweepPlan {
        settings: axes.iter().map(|a| a.setting.clone()).collect(),
        points: points.iter().map(|v| v.iter().map(value_text).collect()).collect(),
        seed: axes.iter().map(|a| seed_value(&map, &a.setting)).collect(),
        failures: failures.iter().map(label).collect(),
        blips: blips.iter().map(label).collect(),
        repeat: spec.repeat,
        rto_ms: map.get("targets").and_then(|t| t.get("rto_ms")).and_then(Value::as_f64),
        max_false_failovers,
    };
    Ok(Sweep { name, plan, trials: out })
}

/// A derived drill's problem in the sweep file's words: at the first value of the point
/// that made it (the faults were checked with the file's own settings already).
fn blamed(file: &str, source: &str, axes: &[Axis], values: &[Value], e: &Error) -> Error {
    let mut problems = Vec::new();
    for (i, (a, v)) in axes.iter().zip(values).enumerate() {
        let k = a.values.iter().position(|x| x == v).unwrap_or(0);
        let mut at = vec![Seg::Key("sweep")];
        if i == 1 {
            at.push(Seg::Key("with"));
        }
        at.extend([Seg::Key("values"), Seg::Index(k)]);
        problems.push((at, format!("with {} = {}, the drill is invalid: {}", a.setting, value_text(v), reason(e))));
    }
    problems.truncate(1);
    super::load::problems_error(file, source, problems)
}

/// An invalid derived drill's problem without its own file and place ("invalid scenario
/// f.yaml:12:5: "): they are the derived text's, not the sweep file's.
fn reason(e: &Error) -> String {
    let m = e.message.strip_prefix("invalid scenario ").unwrap_or(&e.message);
    let parts: Vec<&str> = m.splitn(4, ':').collect();
    let text = match parts.as_slice() {
        [_, l, c, rest] if l.trim().parse::<u32>().is_ok() && c.trim().parse::<u32>().is_ok() => rest.trim(),
        _ => m,
    };
    text.to_string()
}

/// `sweep:` read, its repeat within range.
fn spec(map: &Mapping, problems: &mut Vec<Problem>) -> Option<SweepSpec> {
    let at = vec![Seg::Key("sweep")];
    let Some(v) = map.get("sweep") else {
        problems.push((at, "not a sweep: a sweep file has a top-level `sweep:`".into()));
        return None;
    };
    match serde_norway::from_value::<SweepSpec>(v.clone()) {
        Ok(s) if !(1..=MAX_REPEAT).contains(&s.repeat) => {
            problems.push((vec![Seg::Key("sweep"), Seg::Key("repeat")], format!("repeat must be 1 to {MAX_REPEAT}, found {}", s.repeat)));
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            let text = super::serde_words::in_user_words(&e.to_string()).unwrap_or_else(|| crate::error::clip_input(&e.to_string()));
            problems.push((at, format!("sweep: {text} (a sweep has `setting`, `values`, and may have `repeat` and `with`)")));
            None
        }
    }
}

/// `failures:` or `blips:`, each a fault; the shape each must have is checked when the
/// drills are built (the derived scenario's own validation, blamed on the fault).
fn faults(map: &Mapping, key: &'static str, problems: &mut Vec<Problem>) -> Vec<Value> {
    let Some(v) = map.get(key) else { return Vec::new() };
    let Some(list) = v.as_sequence() else {
        problems.push((vec![Seg::Key(key)], format!("`{key}` is a list of faults (`- {{at_ms: 5000, kind: kill, target: primary}}`)")));
        return Vec::new();
    };
    for (i, f) in list.iter().enumerate() {
        if let Err(e) = serde_norway::from_value::<super::FaultSpec>(f.clone()) {
            let text = super::serde_words::in_user_words(&e.to_string()).unwrap_or_else(|| crate::error::clip_input(&e.to_string()));
            problems.push((vec![Seg::Key(key), Seg::Index(i)], format!("{key}[{i}] is not a fault: {text}")));
        }
    }
    list.clone()
}

/// What the file as a whole must say: no `faults` (a sweep runs its failures and blips one
/// at a time), a failure or a blip.
fn whole(map: &Mapping, nothing: bool, problems: &mut Vec<Problem>) {
    if map.contains_key("faults") {
        let msg = "a sweep runs its `failures` (must fail over) and `blips` (must not) one at a time: write them there, not under `faults`";
        problems.push((vec![Seg::Key("faults")], msg.into()));
    }
    if nothing {
        let msg = "a sweep needs a failure (what must fail over: its RTO) or a blip (what must not: a false failover): add `failures:` or `blips:`";
        problems.push((vec![Seg::Key("sweep")], msg.into()));
    }
}

/// `targets.max_false_failovers`: the sweep's own target (0 unless set).
fn max_false_failovers(map: &Mapping, problems: &mut Vec<Problem>) -> u32 {
    let Some(v) = map.get("targets").and_then(|t| t.get("max_false_failovers")) else { return 0 };
    match v.as_u64().filter(|n| *n <= 1000) {
        Some(n) => n as u32,
        None => {
            let at = vec![Seg::Key("targets"), Seg::Key("max_false_failovers")];
            problems.push((at, format!("max_false_failovers must be a whole number 0 to 1000, found {}", value_text(v))));
            0
        }
    }
}

/// The axes, each setting a key that can be swept and each value of its type.
fn axes(s: &SweepSpec, map: &Mapping, problems: &mut Vec<Problem>) -> Vec<Axis> {
    let mut out = vec![Axis { setting: s.setting.clone(), values: s.values.clone() }];
    out.extend(s.with.clone());
    let services = map.contains_key("services");
    for (i, a) in out.iter().enumerate() {
        let at = |key: &'static str| match i {
            0 => vec![Seg::Key("sweep"), Seg::Key(key)],
            _ => vec![Seg::Key("sweep"), Seg::Key("with"), Seg::Key(key)],
        };
        if let Err(msg) = sweepable(&a.setting, services) {
            problems.push((at("setting"), msg));
            continue;
        }
        if a.values.is_empty() {
            problems.push((at("values"), format!("values: give the values of `{}` to try", a.setting)));
        }
        for (k, v) in a.values.iter().enumerate() {
            if let Err(msg) = of_type(&a.setting, v) {
                let mut path = at("values");
                path.push(Seg::Index(k));
                problems.push((path, msg));
            }
        }
    }
    if out.len() == 2 && out[0].setting == out[1].setting {
        problems.push((vec![Seg::Key("sweep"), Seg::Key("with"), Seg::Key("setting")], "`with` sweeps a second, other setting".into()));
    }
    if out.iter().map(|a| a.values.len().max(1)).product::<usize>() > MAX_POINTS {
        problems
            .push((vec![Seg::Key("sweep"), Seg::Key("values")], format!("a sweep tries at most {MAX_POINTS} values (or pairs of values)")));
    }
    out
}

/// Whether `setting` names a key a sweep can vary: a number or a switch of the scenario
/// format, not its faults (the sweep's own) nor a name or a kind.
fn sweepable(setting: &str, services: bool) -> std::result::Result<(), String> {
    let hint = "keys that can be swept are the numbers and switches of the scenario format (`drdrill schema --keys`), \
                e.g. stack.sentinel.down_after_ms, stack.patroni.ttl, stack.keepalived.advert_int_s, failover.trigger.probe.failures";
    if services && !setting.starts_with("services.") {
        return Err(format!("in a drill of several services, name the service the setting is of: `services.<name>.{setting}`"));
    }
    let first = setting.split(['.', '[']).next().unwrap_or_default();
    if ["faults", "failures", "blips", "sweep"].contains(&first) {
        return Err(format!("`{setting}` cannot be swept: the sweep's own faults are `failures` and `blips`; {hint}"));
    }
    let Some(row) = super::keys::row_at(setting) else {
        return Err(format!("`{setting}` names no key of the scenario format; {hint}"));
    };
    match row.kind.as_str() {
        "integer" | "number" | "boolean" => Ok(()),
        kind => Err(format!("`{setting}` cannot be swept: it is a {kind}, and a sweep varies a number or a switch; {hint}")),
    }
}

/// Whether `v` is a value of `setting`'s type (its range is the derived drill's to check).
fn of_type(setting: &str, v: &Value) -> std::result::Result<(), String> {
    let row = super::keys::row_at(setting).expect("a sweepable setting has a row");
    let ok = match row.kind.as_str() {
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.as_f64().is_some(),
        _ => v.as_bool().is_some(),
    };
    let range = if row.range.is_empty() { String::new() } else { format!(", {}", row.range) };
    match ok {
        true => Ok(()),
        false => Err(format!("`{}` is not a value of `{setting}` (a {}{range})", value_text(v), row.kind)),
    }
}

/// Every combination of the axes' values, the first axis slowest.
fn grid(axes: &[Axis]) -> Vec<Vec<Value>> {
    axes.iter().fold(vec![Vec::new()], |acc, a| {
        acc.iter().flat_map(|p| a.values.iter().map(move |v| p.iter().cloned().chain([v.clone()]).collect())).collect()
    })
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
