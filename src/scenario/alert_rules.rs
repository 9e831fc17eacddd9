//! The users' Prometheus rules file (`monitoring.rules`): read and checked before anything
//! starts, each alerting rule with its `for` and the series selectors its expression
//! names, so the drill can say which selectors matched nothing (a dead rule).
use super::locate::{Seg, locate};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One alerting rule of the file (recording rules are read and left alone).
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

/// A vector selector of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// As written: the metric name and its label matchers.
    pub text: String,
    pub metric: String,
    /// Inside `absent(...)` or `absent_over_time(...)`: matching nothing is the point.
    pub absent: bool,
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

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
    #[serde(default)]
    rules: Vec<Raw>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: Option<serde_norway::Value>,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, serde_norway::Value>,
}

/// Reads the rules file `name` (relative to the scenario's folder).
pub fn read(scenario: &Path, name: &str) -> Result<AlertRules> {
    let path = scenario.parent().unwrap_or(Path::new(".")).join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::scenario(format!("failed to read the rules file {} (monitoring.rules)", path.display()))
            .cause(e)
            .hint("the path is relative to the scenario file")
    })?;
    let mut rules = parse(&path, &text)?;
    rules.files = vec![(name.to_string(), path)];
    Ok(rules)
}

/// A rules file's alerting rules, or `file:line:col: what is wrong`.
pub fn parse(path: &Path, text: &str) -> Result<AlertRules> {
    let file = path.display().to_string();
    let f: File = serde_norway::from_str(text).map_err(|e| {
        let (l, c) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Error::scenario(format!("invalid rules file {file}:{l}:{c}: {msg}"))
            .hint("the Prometheus rules format: groups: [{name, rules: [{alert, expr, for}]}]")
    })?;
    let mut rules = Vec::new();
    let at = |g: usize, r: usize, key: &'static str| {
        let (l, c) = locate(text, &[Seg::Key("groups"), Seg::Index(g), Seg::Key("rules"), Seg::Index(r), Seg::Key(key)]);
        format!("{file}:{l}:{c}")
    };
    for (gi, g) in f.groups.iter().enumerate() {
        for (ri, r) in g.rules.iter().enumerate() {
            let Some(alert) = &r.alert else { continue };
            let expr = match &r.expr {
                Some(serde_norway::Value::String(s)) => s.trim().to_string(),
                Some(serde_norway::Value::Number(n)) => n.to_string(),
                _ => return Err(Error::scenario(format!("invalid rules file {}: alert {alert} has no `expr`", at(gi, ri, "alert")))),
            };
            let for_ms = match &r.for_ {
                Some(d) => duration_ms(d).ok_or_else(|| {
                    Error::scenario(format!(
                        "invalid rules file {}: `for: {d}` is not a Prometheus duration (e.g. 30s, 5m, 1h30m)",
                        at(gi, ri, "for")
                    ))
                })?,
                None => 0,
            };
            let selectors = selectors(&expr).map_err(|why| Error::scenario(format!("invalid rules file {}: {why}", at(gi, ri, "expr"))))?;
            if rules.iter().any(|x: &AlertRule| x.alert == *alert) {
                return Err(Error::scenario(format!(
                    "invalid rules file {}: alert {alert} is defined twice; drdrill tells alerts apart by name",
                    at(gi, ri, "alert")
                )));
            }
            let labels = r.labels.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
            rules.push(AlertRule { group: g.name.clone(), alert: alert.clone(), expr, for_ms, labels, selectors });
        }
    }
    if rules.is_empty() {
        return Err(Error::scenario(format!("invalid rules file {file}:1:1: it holds no alerting rule (`alert:`)")));
    }
    Ok(AlertRules { files: vec![(file.clone(), path.to_path_buf())], rules })
}

fn value_text(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// A Prometheus duration (`500ms`, `30s`, `5m`, `1h30m`, `2d`) in ms.
pub fn duration_ms(text: &str) -> Option<u64> {
    let units = [("ms", 1u64), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000), ("y", 31_536_000_000)];
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0u64;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // the longest unit first: `ms` before `m`
        let (unit, scale) = units.iter().filter(|(u, _)| rest.starts_with(u)).max_by_key(|(u, _)| u.len())?;
        total = total.checked_add(n.checked_mul(*scale)?)?;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// ms as Prometheus writes a duration (`5m`, `2s`, `1m30s`, `1500ms`).
pub fn duration_text(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1_000) {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    let mut s = ms / 1_000;
    for (unit, size) in [("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

/// Words of PromQL that are never a metric name.
const KEYWORDS: &[&str] =
    &["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "atan2"];
/// Aggregations, which may take `by (...)` / `without (...)` before their parentheses.
const AGGREGATIONS: &[&str] =
    &["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];
/// Words followed by a list of label names in parentheses.
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The vector selectors of a PromQL expression: every metric name that is not a function,
/// keyword or label name, with its `{...}` matchers.
pub fn selectors(expr: &str) -> std::result::Result<Vec<Selector>, String> {
    let b = expr.as_bytes();
    let mut s = Scan { out: Vec::new(), calls: Vec::new(), labels_next: false };
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        i = match c {
            '"' | '\'' | '`' => skip_string(b, i)?,
            '#' => b[i..].iter().position(|&x| x == b'\n').map_or(b.len(), |p| i + p),
            '[' => b[i..].iter().position(|&x| x == b']').map(|p| i + p + 1).ok_or("a `[` is never closed")?,
            // a selector by matchers only (`{__name__="x"}`): no name to check
            '{' => skip_braces(b, i)?,
            '(' if s.labels_next => {
                s.labels_next = false;
                b[i..].iter().position(|&x| x == b')').map(|p| i + p + 1).ok_or("a `(` is never closed")?
            }
            '(' => {
                s.calls.push(None);
                i + 1
            }
            ')' => {
                s.calls.pop();
                i + 1
            }
            // a number or a duration (`1e3`, `0x1f`, `5m`)
            _ if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(|x| x.is_ascii_digit())) => {
                i + b[i..].iter().position(|x| !(x.is_ascii_alphanumeric() || *x == b'.')).unwrap_or(b.len() - i)
            }
            _ if c.is_ascii_alphabetic() || c == '_' || c == ':' => s.word(expr, i)?,
            _ => i + 1,
        };
    }
    Ok(s.out)
}

/// What `selectors` has seen so far.
struct Scan {
    out: Vec<Selector>,
    /// The functions whose parentheses we are in (None: a plain parenthesis).
    calls: Vec<Option<String>>,
    /// The next parentheses hold label names (`by (...)`, `on (...)`).
    labels_next: bool,
}

impl Scan {
    /// The word at `start`: a keyword, a function, an aggregation, or a metric name with
    /// its matchers. Returns where the scan goes on.
    fn word(&mut self, expr: &str, start: usize) -> std::result::Result<usize, String> {
        let b = expr.as_bytes();
        let mut i = start;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
            i += 1;
        }
        let word = &expr[start..i];
        let next = b[i..].iter().position(|x| !x.is_ascii_whitespace()).map(|p| i + p);
        let next_char = next.map(|n| b[n] as char);
        let lower = word.to_ascii_lowercase();
        if LABEL_LISTS.contains(&lower.as_str()) {
            self.labels_next = next_char == Some('(');
            return Ok(i);
        }
        if KEYWORDS.contains(&lower.as_str()) {
            return Ok(if lower == "offset" { skip_offset(b, i) } else { i });
        }
        if next_char == Some('(') {
            self.calls.push(Some(word.to_string()));
            return Ok(next.unwrap_or(i) + 1);
        }
        if AGGREGATIONS.contains(&word) && matches!(next_word(expr, next), Some("by" | "without")) {
            // `sum by (x) (...)`: the label list is skipped when its word is read
            return Ok(i);
        }
        let end = if next_char == Some('{') { skip_braces(b, next.unwrap_or(i))? } else { i };
        let absent = self.calls.iter().flatten().any(|f| f == "absent" || f == "absent_over_time");
        let text = expr[start..end].split_whitespace().collect::<Vec<_>>().join("");
        if !self.out.iter().any(|s| s.text == text) {
            self.out.push(Selector { text, metric: word.to_string(), absent });
        }
        Ok(end)
    }
}

fn next_word(expr: &str, at: Option<usize>) -> Option<&str> {
    let rest = &expr[at?..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn skip_string(b: &[u8], i: usize) -> std::result::Result<usize, String> {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && q != b'`' {
            j += 2;
            continue;
        }
        if b[j] == q {
            return Ok(j + 1);
        }
        j += 1;
    }
    Err("a string is never closed".into())
}

fn skip_braces(b: &[u8], i: usize) -> std::result::Result<usize, String> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'"' | b'\'' | b'`' => j = skip_string(b, j)?,
            b'}' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err("a `{` is never closed".into())
}

/// Past `offset`'s duration (`offset 5m`, `offset -1h`).
fn skip_offset(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'-') {
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_alphanumeric() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        selectors(expr).unwrap().into_iter().map(|s| if s.absent { format!("!{}", s.text) } else { s.text }).collect()
    }

    #[test]
    fn selectors_are_the_metric_names_of_an_expression() {
        assert_eq!(names("pg_replication_lag_seconds > 300"), ["pg_replication_lag_seconds"]);
        assert_eq!(names("redis_connected_slaves < 1"), ["redis_connected_slaves"]);
        assert_eq!(names(r#"pg_up{job="pg", instance=~"pg-.*"} == 0"#), [r#"pg_up{job="pg",instance=~"pg-.*"}"#]);
        assert_eq!(names("sum by (instance) (rate(pg_stat_database_xact_commit[1m])) == 0"), ["pg_stat_database_xact_commit"]);
        assert_eq!(names("sum(rate(x_total[5m])) without (job) > bool 1"), ["x_total"]);
        assert_eq!(
            names("max_over_time(redis_up[30s] offset 1m) < 1 and on(instance) redis_instance_info"),
            ["redis_up", "redis_instance_info"]
        );
        assert_eq!(names(r#"absent(up{job="mysql"}) or mysql_up == 0"#), [r#"!up{job="mysql"}"#, "mysql_up"]);
        assert_eq!(names("a / ignoring(b) group_left(c) d"), ["a", "d"]);
        assert_eq!(names("count(x) > 1e3 # comment naming_no_metric"), ["x"]);
        assert_eq!(names("time() - pg_postmaster_start_time_seconds > 5m"), ["pg_postmaster_start_time_seconds"]);
        assert_eq!(names(r#"{__name__="x"} > 0"#), Vec::<String>::new());
        assert!(selectors("x{a=\"b}").is_err());
    }

    #[test]
    fn durations_are_prometheus_durations() {
        assert_eq!(duration_ms("5m"), Some(300_000));
        assert_eq!(duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("2s"), Some(2_000));
        assert_eq!(duration_ms("5"), None);
        assert_eq!(duration_ms("m"), None);
        assert_eq!(duration_ms(""), None);
        assert_eq!(duration_text(300_000), "5m");
        assert_eq!(duration_text(90_000), "1m30s");
        assert_eq!(duration_text(1_500), "1500ms");
        assert_eq!(duration_text(7_200_000), "2h");
    }

    #[test]
    fn a_rules_file_is_read_with_its_problems_located() {
        let text = "groups:\n  - name: ha\n    rules:\n      - record: x\n        expr: y\n      - alert: Lag\n        expr: pg_lag > 300\n        for: 5m\n        labels: {severity: critical}\n";
        let r = parse(Path::new("r.yml"), text).unwrap();
        assert_eq!(r.rules.len(), 1);
        assert_eq!((r.rules[0].alert.as_str(), r.rules[0].for_ms), ("Lag", 300_000));
        assert_eq!(r.rules[0].labels["severity"], "critical");
        let e = parse(Path::new("r.yml"), &text.replace("5m", "5 minutes")).unwrap_err().to_string();
        assert!(e.contains("r.yml:8:9: `for: 5 minutes` is not a Prometheus duration"), "{e}");
        let e = parse(Path::new("r.yml"), &text.replace("pg_lag > 300", "pg_lag{a=\"b > 300")).unwrap_err().to_string();
        assert!(e.contains("r.yml:7:9: a string is never closed"), "{e}");
        let e = parse(Path::new("r.yml"), "groups: [{name: a, rules: 3}]").unwrap_err().to_string();
        assert!(e.contains("invalid rules file r.yml:1:"), "{e}");
        let e = parse(Path::new("r.yml"), "groups: []").unwrap_err().to_string();
        assert!(e.contains("holds no alerting rule"), "{e}");
    }
}
