//! The users' Prometheus rules file (`monitoring.rules`): read and checked before anything
//! starts as Prometheus' rulefmt checks it when it loads the file (unknown keys, a rule that
//! is both or neither alert and record, an expression its PromQL parser refuses, a `for`
//! beyond its durations), each alerting rule kept with its `for` and the series selectors
//! its expression names, so the drill can say which selectors matched nothing (a dead rule).
use super::locate::{Seg, locate};
pub use super::promql::{Selector, duration_ms, duration_text, loaded_selectors, selectors};
use crate::error::{Error, Result, clip_input};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One alerting rule of the file (recording rules are checked and left alone).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub group: String,
    pub alert: String,
    pub expr: String,
    pub for_ms: u64,
    pub labels: BTreeMap<String, String>,
    /// The vector selectors of `expr` (`pg_up{job="pg"}`), each with its metric name.
    pub selectors: Vec<Selector>,
}

/// The rules files, read: every alerting rule of them, in order.
#[derive(Debug, Clone, Default)]
pub struct AlertRules {
    /// Each file, as the scenario names it and where it is.
    pub files: Vec<(String, PathBuf)>,
    pub rules: Vec<AlertRule>,
}

/// Reads every rules file the scenario names (relative to its folder). An alert name may
/// be given once: the drill tells rules apart by it.
pub fn read_all(scenario: &Path, names: &[String]) -> Result<AlertRules> {
    let mut all = AlertRules::default();
    for name in names {
        let one = read(scenario, name)?;
        for r in &one.rules {
            if let Some(first) = all.rules.iter().find(|x| x.alert == r.alert) {
                return Err(Error::scenario(format!(
                    "invalid rules file {}: alert {} is also in group {} of an earlier file; drdrill tells alerts apart by name",
                    one.files[0].1.display(),
                    r.alert,
                    first.group
                )));
            }
        }
        all.files.extend(one.files);
        all.rules.extend(one.rules);
    }
    Ok(all)
}

/// Prometheus' rulefmt (2.42): every key it knows, no other.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    #[serde(default)]
    interval: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    limit: Option<u64>,
    #[serde(default)]
    rules: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: Option<Value>,
    #[serde(default, rename = "for")]
    for_: Option<Value>,
    #[serde(default)]
    keep_firing_for: Option<Value>,
    #[serde(default)]
    labels: BTreeMap<String, Value>,
    #[serde(default)]
    annotations: BTreeMap<String, Value>,
}

/// Reads the rules file `name` (relative to the scenario's folder): at most
/// `prescan::MAX_BYTES`, checked and decoded as a scenario is.
pub fn read(scenario: &Path, name: &str) -> Result<AlertRules> {
    let path = scenario.parent().unwrap_or(Path::new(".")).join(name);
    let failed = |e: std::io::Error| {
        Error::scenario(format!("failed to read the rules file {} (monitoring.rules)", path.display()))
            .cause(e)
            .hint("the path is relative to the scenario file")
    };
    let text = super::prescan::read_as("rules file", &path, failed)?;
    let mut rules = parse(&path, &text)?;
    rules.files = vec![(name.to_string(), path)];
    Ok(rules)
}

/// Where a rule's key stands in the file.
struct At<'a> {
    file: &'a str,
    text: &'a str,
    group: usize,
    rule: usize,
}

impl At<'_> {
    /// `file:line:col` of `key` of this rule, or of the rule itself when it has no such key.
    fn key(&self, key: &'static str) -> String {
        let (l, c) =
            locate(self.text, &[Seg::Key("groups"), Seg::Index(self.group), Seg::Key("rules"), Seg::Index(self.rule), Seg::Key(key)]);
        format!("{}:{l}:{c}", self.file)
    }

    fn err(&self, key: &'static str, what: impl std::fmt::Display) -> Error {
        Error::scenario(format!("invalid rules file {}: {what}", self.key(key)))
    }
}

/// A rules file's alerting rules, or `file:line:col: what is wrong`.
pub fn parse(path: &Path, text: &str) -> Result<AlertRules> {
    let file = path.display().to_string();
    let f: File = serde_norway::from_str(text).map_err(|e| {
        let (l, c) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        Error::scenario(format!("invalid rules file {file}:{l}:{c}: {}", clip_input(msg)))
            .hint("the Prometheus rules format: groups: [{name, rules: [{alert, expr, for}]}]")
    })?;
    let mut rules: Vec<AlertRule> = Vec::new();
    for (gi, g) in f.groups.iter().enumerate() {
        check_group(&file, text, &f.groups, gi)?;
        for (ri, r) in g.rules.iter().enumerate() {
            let at = At { file: &file, text, group: gi, rule: ri };
            let Some(rule) = check_rule(&at, &g.name, r)? else { continue };
            if rules.iter().any(|x| x.alert == rule.alert) {
                return Err(at.err("alert", format!("alert {} is defined twice; drdrill tells alerts apart by name", rule.alert)));
            }
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(Error::scenario(format!("invalid rules file {file}:1:1: it holds no alerting rule (`alert:`)")));
    }
    Ok(AlertRules { files: vec![(file.clone(), path.to_path_buf())], rules })
}

/// A group as rulefmt checks it: a name, given once in the file, and a valid `interval`.
fn check_group(file: &str, text: &str, groups: &[Group], gi: usize) -> Result<()> {
    let g = &groups[gi];
    let at = |key: &'static str| {
        let (l, c) = locate(text, &[Seg::Key("groups"), Seg::Index(gi), Seg::Key(key)]);
        format!("{file}:{l}:{c}")
    };
    if g.name.trim().is_empty() {
        return Err(Error::scenario(format!("invalid rules file {}: Groupname must not be empty", at("name"))));
    }
    if groups[..gi].iter().any(|x| x.name == g.name) {
        return Err(Error::scenario(format!(
            "invalid rules file {}: {}: repeated in the same file",
            at("name"),
            clip_input(&format!("groupname: \"{}\"", g.name))
        )));
    }
    if let Some(v) = &g.interval {
        duration(v).map_err(|why| Error::scenario(format!("invalid rules file {}: interval: {why}", at("interval"))))?;
    }
    Ok(())
}

/// One rule as rulefmt checks it; an alerting rule comes back read, a recording rule as None.
fn check_rule(at: &At, group: &str, r: &Raw) -> Result<Option<AlertRule>> {
    let alert = match (&r.alert, &r.record) {
        (Some(_), Some(_)) => return Err(at.err("record", "only one of 'record' and 'alert' must be set")),
        (None, None) => return Err(at.err("expr", "one of 'record' or 'alert' must be set")),
        (Some(a), None) if a.trim().is_empty() => return Err(at.err("alert", "field 'alert' must not be empty")),
        (Some(a), None) => Some(a),
        (None, Some(rec)) if !valid_metric_name(rec) => {
            return Err(at.err("record", clip_input(&format!("invalid recording rule name: {rec}"))));
        }
        (None, Some(_)) => None,
    };
    let expr = match &r.expr {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => {
            return Err(at.err(if alert.is_some() { "alert" } else { "record" }, "field 'expr' must be set in rule"));
        }
        Some(_) => return Err(at.err("expr", "`expr` must be a PromQL expression (a string)")),
    };
    let selectors = selectors(&expr).map_err(|why| at.err("expr", format!("could not parse expression: {}", clip_input(&why))))?;
    if alert.is_none() {
        for (key, set) in
            [("for", r.for_.is_some()), ("keep_firing_for", r.keep_firing_for.is_some()), ("annotations", !r.annotations.is_empty())]
        {
            if set {
                return Err(at.err(if key == "for" { "for" } else { "record" }, format!("invalid field '{key}' in recording rule")));
            }
        }
    }
    let for_ms = match &r.for_ {
        Some(v) => duration(v).map_err(|why| at.err("for", format!("for: {why}")))?,
        None => 0,
    };
    if let Some(v) = &r.keep_firing_for {
        duration(v).map_err(|why| at.err("keep_firing_for", format!("keep_firing_for: {why}")))?;
    }
    for name in r.labels.keys().chain(r.annotations.keys()) {
        if !valid_label_name(name) {
            return Err(at.err("labels", clip_input(&format!("invalid label name: {name}"))));
        }
    }
    let Some(alert) = alert else { return Ok(None) };
    let labels = r.labels.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
    Ok(Some(AlertRule { group: group.to_string(), alert: alert.clone(), expr, for_ms, labels, selectors }))
}

/// A duration as Prometheus' `model.Duration` reads YAML: any scalar's text (`for: 0` is
/// the number 0 to YAML and the duration `0` to Prometheus).
fn duration(v: &Value) -> std::result::Result<u64, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err("a duration must be a plain value (e.g. 0, 30s, 5m, 1h30m)".into()),
    };
    super::promql::parse_duration(&text).map_err(|why| clip_input(&why))
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_is_read_with_its_problems_located() {
        let text = "groups:\n  - name: ha\n    rules:\n      - record: x\n        expr: y\n      - alert: Lag\n        expr: pg_lag > 300\n        for: 5m\n        labels: {severity: critical}\n";
        let r = parse(Path::new("r.yml"), text).unwrap();
        assert_eq!(r.rules.len(), 1);
        assert_eq!((r.rules[0].alert.as_str(), r.rules[0].for_ms), ("Lag", 300_000));
        assert_eq!(r.rules[0].labels["severity"], "critical");
        let e = parse(Path::new("r.yml"), &text.replace("5m", "5 minutes")).unwrap_err().to_string();
        assert!(e.contains(r#"r.yml:8:9: for: not a valid duration string: "5 minutes""#), "{e}");
        let e = parse(Path::new("r.yml"), &text.replace("pg_lag > 300", "pg_lag{a=\"b > 300")).unwrap_err().to_string();
        assert!(e.contains("r.yml:7:9: could not parse expression: unterminated quoted string"), "{e}");
        let e = parse(Path::new("r.yml"), "groups: [{name: a, rules: 3}]").unwrap_err().to_string();
        assert!(e.contains("invalid rules file r.yml:1:"), "{e}");
        let e = parse(Path::new("r.yml"), "groups: []").unwrap_err().to_string();
        assert!(e.contains("holds no alerting rule"), "{e}");
    }
}
