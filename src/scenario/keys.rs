//! Every key of the scenario format, from the one source the validator and `drdrill schema`
//! use: the JSON Schema of the model (its doc comments and defaults) and scenario/bounds.rs
//! (every number's range). `drdrill schema --keys` prints it as the table that ends
//! docs/scenarios.md; tests/docs.rs fails when the two differ.
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One key: where it stands, its type, default, range and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    pub path: String,
    pub kind: String,
    /// None for a required key.
    pub default: Option<String>,
    pub range: String,
    pub about: String,
}

struct Walk<'a> {
    defs: &'a serde_json::Map<String, Value>,
    rows: Vec<KeyRow>,
    /// Definitions already listed, and where: a second use refers to the first.
    seen: HashMap<String, String>,
}

/// Every key of a scenario file: the one-stack form, then what the services form adds.
pub fn key_rows() -> Vec<KeyRow> {
    let schema: Value = serde_json::from_str(&super::json_schema()).expect("the schema is JSON");
    let defs = schema["definitions"].as_object().expect("the schema has definitions");
    let mut w = Walk { defs, rows: Vec::new(), seen: HashMap::new() };
    w.object("", "Scenario");
    w.object("", "ServicesScenario");
    w.rows
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/definitions/"))
}

/// The schema a property stands for, through `Option` (anyOf with null) and schemars'
/// `allOf` wrapper of a reference with a default.
fn unwrap(v: &Value) -> &Value {
    for k in ["anyOf", "allOf"] {
        if let Some(a) = v.get(k).and_then(Value::as_array)
            && let Some(inner) = a.iter().find(|x| x.get("type").and_then(Value::as_str) != Some("null"))
            && a.len() <= 2
        {
            return unwrap(inner);
        }
    }
    v
}

/// The first sentence of a description, on one line ("e.g." and "i.e." end none).
fn first_sentence(d: &str) -> String {
    let one = d.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = one.match_indices(". ").map(|(i, _)| i).find(|i| !one[..*i].ends_with("e.g") && !one[..*i].ends_with("i.e"));
    match end {
        Some(i) => one[..=i].to_string(),
        None => one,
    }
}

impl Walk<'_> {
    fn object(&mut self, prefix: &str, def: &str) {
        let d = &self.defs[def];
        let required: Vec<&str> = d["required"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let props = d["properties"].as_object().cloned().unwrap_or_default();
        for (name, p) in props {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            // the services form repeats the one-stack form's keys: listed once
            if def == "ServicesScenario" && self.rows.iter().any(|r| r.path == path) {
                continue;
            }
            self.property(&path, def, &name, &p, required.contains(&name.as_str()));
        }
    }

    fn property(&mut self, path: &str, def: &str, name: &str, p: &Value, required: bool) {
        let inner = unwrap(p);
        let about = p.get("description").or_else(|| inner.get("description")).and_then(Value::as_str).unwrap_or_default();
        let default = (!required).then(|| default_text(p, about));
        // the key's own bound, or its settings' (`Def.prop:setting`)
        let own = format!("{def}.{name}");
        let range: Vec<String> = super::bounds::BOUNDS
            .iter()
            .filter_map(|b| match b.key.split_once(':') {
                None if b.key == own => Some(b.text()),
                Some((k, setting)) if k == own => Some(format!("{setting}: {}", b.text())),
                _ => None,
            })
            .collect();
        let range = range.join("; ");
        let (kind, below) = self.kind_of(inner);
        self.rows.push(KeyRow { path: path.to_string(), kind, default, range, about: first_sentence(about) });
        // a list's items stand at `path[]`
        let at = if self.rows.last().is_some_and(|r| r.kind.starts_with("list of")) { format!("{path}[]") } else { path.to_string() };
        match below {
            Below::Object(d) => match self.seen.get(&d) {
                Some(first) => self.rows.last_mut().expect("a row").about.push_str(&format!(" (its keys: as `{first}`)")),
                None => {
                    self.seen.insert(d.clone(), at.clone());
                    self.object(&at, &d);
                }
            },
            Below::Map(d) => {
                let at = format!("{at}.<name>");
                if let Some(d) = d {
                    self.seen.insert(d.clone(), at.clone());
                    self.object(&at, &d);
                }
            }
            Below::Nothing => {}
        }
    }

    /// A type in words, and the keys below it: an object's, or a map's values'.
    fn kind_of(&self, v: &Value) -> (String, Below) {
        if let Some(r) = ref_name(v) {
            let d = &self.defs[r];
            if d.get("properties").is_some() {
                return ("object".into(), Below::Object(r.to_string()));
            }
            return (self.kind_of(d).0, Below::Nothing);
        }
        if let Some(alts) = v.get("oneOf").or_else(|| v.get("anyOf")).and_then(Value::as_array) {
            let names: Vec<String> = alts
                .iter()
                .flat_map(|a| a["enum"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect();
            if !names.is_empty() {
                return (format!("one of {}", names.join(", ")), Below::Nothing);
            }
            let kinds: Vec<String> = alts.iter().map(|a| self.kind_of(unwrap(a)).0).collect();
            return (kinds.join(" or "), Below::Nothing);
        }
        if let Some(e) = v["enum"].as_array() {
            return (format!("one of {}", e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")), Below::Nothing);
        }
        match v["type"].as_str() {
            Some("array") => {
                let (item, below) = self.kind_of(unwrap(&v["items"]));
                (format!("list of {item}"), below)
            }
            Some("object") => match v.get("additionalProperties").map(unwrap) {
                Some(a) if ref_name(a).is_some() => ("map of name to object".into(), Below::Map(ref_name(a).map(str::to_string))),
                Some(a) => (format!("map of name to {}", self.kind_of(a).0), Below::Map(None)),
                None => ("object".into(), Below::Nothing),
            },
            Some(t) => (t.to_string(), Below::Nothing),
            None => match v["type"].as_array() {
                Some(ts) => (ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" or "), Below::Nothing),
                None => ("any".into(), Below::Nothing),
            },
        }
    }
}

enum Below {
    Object(String),
    Map(Option<String>),
    Nothing,
}

/// An optional key's default: the schema's value, else what its description says.
fn default_text(p: &Value, about: &str) -> String {
    match p.get("default") {
        Some(Value::Null) | None => described_default(about).unwrap_or_else(|| "none".into()),
        Some(Value::String(s)) if s.is_empty() => "empty".into(),
        Some(Value::String(s)) => format!("`{s}`"),
        Some(Value::Array(a)) if a.is_empty() => "none".into(),
        Some(Value::Object(m)) if m.is_empty() => "none".into(),
        Some(Value::Object(_)) => "its keys' defaults".into(),
        Some(v) if v.is_object() || v.is_array() => format!("`{}`", serde_json::to_string(v).unwrap_or_default()),
        Some(v) => format!("`{v}`"),
    }
}

/// "Default: X." or "(default X)" in a description.
fn described_default(about: &str) -> Option<String> {
    let one = about.split_whitespace().collect::<Vec<_>>().join(" ");
    let at = one.find("Default").or_else(|| one.find("default "))?;
    let rest = one[at..].split_once([' ', ':'])?.1.trim_start_matches([':', ' ']);
    let end = rest.find(['.', ';', ')']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// The table docs/scenarios.md ends with.
pub fn keys_markdown() -> String {
    let mut s = String::from("| key | type | default | range | what it is |\n|---|---|---|---|---|\n");
    let cell = |t: &str| t.replace('|', "\\|");
    for r in key_rows() {
        let default = r.default.as_deref().map_or("required".to_string(), cell);
        s.push_str(&format!("| `{}` | {} | {} | {} | {} |\n", r.path, cell(&r.kind), default, cell(&r.range), cell(&r.about)));
    }
    s
}

/// The row of a key as a parser names it (`services.pg.stack.cluster.masters`,
/// `faults[2].at_ms`): `<name>` stands for any name and `[]` for any index, and a key listed
/// once under another path ("its keys: as `stack`") is found there.
pub fn row_at(path: &str) -> Option<KeyRow> {
    let rows = key_rows();
    let mut path: Vec<String> = path.split('.').map(|s| s.split('[').next().unwrap_or(s).to_string()).collect();
    // each step of a reference shortens nothing, so a few suffice
    for _ in 0..4 {
        let segs = |r: &KeyRow| r.path.split('.').map(|s| s.trim_end_matches("[]").to_string()).collect::<Vec<_>>();
        let fits = |r: &[String]| r.len() <= path.len() && r.iter().zip(&path).all(|(a, b)| a == b || a == "<name>");
        if let Some(row) = rows.iter().find(|r| segs(r).len() == path.len() && fits(&segs(r))) {
            return Some(row.clone());
        }
        // the longest listed prefix whose keys stand under another path
        let (row, at) = rows
            .iter()
            .filter(|r| fits(&segs(r)))
            .filter_map(|r| Some((r, r.about.split("(its keys: as `").nth(1)?.split('`').next()?)))
            .max_by_key(|(r, _)| segs(r).len())?;
        let rest = path.split_off(segs(row).len());
        path = at.split('.').map(|s| s.trim_end_matches("[]").to_string()).chain(rest).collect();
    }
    None
}

/// Which keys each bound applies to, for the tests: a bound on no key is a stale one.
pub fn bound_keys() -> BTreeMap<&'static str, bool> {
    let schema: Value = serde_json::from_str(&super::json_schema()).expect("the schema is JSON");
    super::bounds::BOUNDS
        .iter()
        .map(|b| {
            let (def, prop) = b.key.split(':').next().unwrap_or_default().split_once('.').unwrap_or_default();
            (b.key, schema["definitions"][def]["properties"].get(prop).is_some())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_on_a_key_and_every_optional_key_names_its_default() {
        let stale: Vec<&str> = bound_keys().into_iter().filter(|(_, on)| !on).map(|(k, _)| k).collect();
        assert!(stale.is_empty(), "bounds on no key: {stale:?}");
        let rows = key_rows();
        assert!(rows.len() > 150, "{} keys", rows.len());
        let bare: Vec<&str> =
            rows.iter().filter(|r| r.default.as_deref() == Some("none") && r.about.is_empty()).map(|r| r.path.as_str()).collect();
        assert!(bare.is_empty(), "optional keys with neither a default nor a word about them: {bare:?}");
        let row = |p: &str| rows.iter().find(|r| r.path == p).unwrap_or_else(|| panic!("no row {p}"));
        assert_eq!((row("workload.writers").range.as_str(), row("workload.writers").default.as_deref()), ("1 to 256", Some("`4`")));
        assert_eq!(row("dns.ttl_s").range, "0 to 86400");
        assert_eq!(row("faults[].latency_ms").range, "0 to 600000");
        let at = |p: &str| row_at(p).map(|r| r.path);
        assert_eq!(at("stack.cluster.masters").as_deref(), Some("stack.cluster.masters"));
        assert_eq!(at("faults[3].at_ms").as_deref(), Some("faults[].at_ms"));
        assert_eq!(at("services.pg.stack.galera.nodes").as_deref(), Some("stack.galera.nodes"));
        assert_eq!(at("targets.alerts.PgDown.notified_within_ms").as_deref(), Some("targets.alerts.<name>.notified_within_ms"));
        assert_eq!(at("stack.nope"), None);
    }
}
