//! One drill of a sweep, as a scenario of its own: the sweep file without its sweep keys,
//! the setting set to the value, the one fault it runs, and a name of its own (its evidence
//! goes beside the other drills'). Also the words a sweep says of its parts: a fault's
//! label, a value, the file's own value of a setting.
use super::ranges::NAME_MAX;
use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

/// What a sweep's drill was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Must fail over: its RTO counts.
    Failure,
    /// Must not: a promotion during it is a false failover.
    Blip,
}

/// The sweep as the scenario declares it.
pub struct SweepPlan {
    pub settings: Vec<String>,
    /// Each point's values, as written.
    pub points: Vec<Vec<String>>,
    /// The file's own values of the settings.
    pub seed: Vec<String>,
    pub failures: Vec<String>,
    pub blips: Vec<String>,
    pub repeat: u32,
    pub rto_ms: Option<f64>,
    pub max_false_failovers: u32,
}

/// The sweep file's mapping without what only a sweep has.
pub(super) fn derived_base(map: &Mapping) -> Mapping {
    let mut base = map.clone();
    for k in ["sweep", "failures", "blips"] {
        base.remove(k);
    }
    if let Some(Value::Mapping(t)) = base.get_mut("targets") {
        t.remove("max_false_failovers");
    }
    base
}

/// The drill of `values` (one per setting) and one fault.
pub(super) fn derive(base: &Mapping, settings: &[(&str, &Value)], name: &str, (role, index, fault): (Role, usize, &Value)) -> Value {
    let mut m = base.clone();
    for (setting, value) in settings {
        set(&mut m, setting, (*value).clone());
    }
    let tag = match role {
        Role::Failure => format!("f{}", index + 1),
        Role::Blip => format!("b{}", index + 1),
    };
    let point: Vec<String> = settings.iter().map(|(_, v)| value_text(v).replace('.', "_")).collect();
    let suffix = format!("-{}-{tag}", point.join("-"));
    let keep = NAME_MAX.saturating_sub(suffix.len());
    let head: String = name.chars().take(keep).collect();
    m.insert("name".into(), Value::String(format!("{head}{suffix}")));
    m.insert("faults".into(), Value::Sequence(vec![fault.clone()]));
    Value::Mapping(m)
}

/// Sets `path` (`stack.sentinel.down_after_ms`) in `m`, making the mappings on the way.
fn set(m: &mut Mapping, path: &str, value: Value) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().unwrap_or_default();
    let mut at = m;
    for k in keys {
        let entry = at.entry(Value::String(k.into())).or_insert_with(|| Value::Mapping(Mapping::new()));
        if !entry.is_mapping() {
            *entry = Value::Mapping(Mapping::new());
        }
        at = entry.as_mapping_mut().expect("a mapping was just made");
    }
    at.insert(Value::String(last.into()), value);
}

/// The file's own value of `path`, else the format's default (`5000`).
pub(super) fn seed_value(map: &Mapping, path: &str) -> String {
    let mut at = Some(&Value::Mapping(map.clone())).cloned();
    for k in path.split('.') {
        at = at.and_then(|v| v.get(k).cloned());
    }
    match at {
        Some(v) => value_text(&v),
        None => {
            super::keys::row_at(path).and_then(|r| r.default).map(|d| d.trim_matches('`').to_string()).unwrap_or_else(|| "unset".into())
        }
    }
}

/// A value as written: `500`, `0.5`, `true`.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// A fault in words: "pause of primary for 1500 ms", "partition [[primary], [sentinels]] for
/// 4000 ms", "latency of primary 800 ms for 10000 ms".
pub(super) fn label(fault: &Value) -> String {
    let get = |k: &str| fault.get(k).map(value_text);
    let kind = get("kind").unwrap_or_else(|| "fault".into());
    let mut out = match (get("target"), fault.get("groups")) {
        (_, Some(g)) => format!("{kind} {}", flow(g)),
        (Some(t), None) => format!("{kind} of {t}"),
        (None, None) => kind,
    };
    for (key, unit) in [("latency_ms", " ms"), ("percent", " %"), ("rate_kb_per_s", " kB/s"), ("offset_ms", " ms")] {
        if let Some(v) = get(key) {
            out.push_str(&format!(" {v}{unit}"));
        }
    }
    if let Some(d) = get("duration_ms") {
        out.push_str(&format!(" for {d} ms"));
    }
    out
}

/// A list of lists in one line: `[[primary], [sentinels]]`.
fn flow(v: &Value) -> String {
    match v {
        Value::Sequence(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        other => value_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn a_drill_of_a_sweep_has_the_value_its_one_fault_and_a_name_of_its_own() {
        let map = yaml(
            "name: tune\nstack: {kind: redis-sentinel, sentinel: {quorum: 2}}\nsweep: {setting: x, values: [1]}\nblips: []\ntargets: {rto_ms: 1, max_false_failovers: 0}\n",
        );
        let base = derived_base(map.as_mapping().unwrap());
        let fault = yaml("{at_ms: 5000, kind: pause, target: primary, duration_ms: 1500}");
        let d = derive(
            &base,
            &[("stack.sentinel.down_after_ms", &yaml("500")), ("stack.replicas", &yaml("3"))],
            "tune",
            (Role::Blip, 0, &fault),
        );
        assert_eq!(d["name"], yaml("tune-500-3-b1"));
        assert_eq!(d["stack"]["sentinel"], yaml("{quorum: 2, down_after_ms: 500}"));
        assert_eq!(d["stack"]["replicas"], yaml("3"));
        assert_eq!(d["faults"], yaml("[{at_ms: 5000, kind: pause, target: primary, duration_ms: 1500}]"));
        assert_eq!(d["targets"], yaml("{rto_ms: 1}"));
        assert!(d.get("sweep").is_none() && d.get("blips").is_none());
        // a long name is cut to leave room for its suffix
        let long = "x".repeat(80);
        let d = derive(&base, &[("a.b", &yaml("10000"))], &long, (Role::Failure, 1, &fault));
        assert_eq!(d["name"].as_str().unwrap().len(), NAME_MAX);
        assert!(d["name"].as_str().unwrap().ends_with("-10000-f2"));
    }

    #[test]
    fn faults_values_and_the_seed_value_are_said_as_written() {
        assert_eq!(label(&yaml("{at_ms: 1, kind: pause, target: primary, duration_ms: 1500}")), "pause of primary for 1500 ms");
        assert_eq!(
            label(&yaml("{at_ms: 1, kind: partition, groups: [[primary], [sentinels]], duration_ms: 4000}")),
            "partition [[primary], [sentinels]] for 4000 ms"
        );
        assert_eq!(
            label(&yaml("{kind: latency, target: primary, latency_ms: 800, duration_ms: 10000}")),
            "latency of primary 800 ms for 10000 ms"
        );
        let map = yaml("stack: {kind: redis-sentinel, sentinel: {down_after_ms: 5000}}");
        assert_eq!(seed_value(map.as_mapping().unwrap(), "stack.sentinel.down_after_ms"), "5000");
        assert_eq!(seed_value(&Mapping::new(), "stack.patroni.ttl"), "30");
        assert_eq!(value_text(&yaml("0.5")), "0.5");
    }
}
