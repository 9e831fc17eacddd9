//! PromQL and Prometheus durations as Prometheus reads them: an expression parsed by a real
//! PromQL parser (`promql-parser`, the grammar of Prometheus' own yacc file, with its
//! function table and argument types), so an unknown function, an incomplete expression,
//! a bad regex or a range vector missing from `rate(...)` is refused before anything
//! starts, in the parser's own words; and `for:` read as Prometheus' `model.Duration`.
use promql_parser::parser::{Expr, VectorSelector};

/// A vector selector of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The metric name and its label matchers, as PromQL prints them (no offset or `@`).
    pub text: String,
    pub metric: String,
    /// Inside `absent(...)` or `absent_over_time(...)`: matching nothing is the point.
    pub absent: bool,
}

/// Functions promql-parser knows that Prometheus 2.42 (the one drills run) does not: added
/// later (`sort_by_label` 2.49, `limitk` 3.0, ...) or GreptimeDB's own. The promtool test
/// in tests/alerts.rs keeps the list true.
const NOT_IN_PROMETHEUS: &[&str] = &[
    "double_exponential_smoothing",
    "first_over_time",
    "histogram_avg",
    "histogram_quantiles",
    "histogram_stddev",
    "histogram_stdvar",
    "info",
    "integral",
    "mad_over_time",
    "max_of",
    "min_of",
    "range",
    "sort_by_label",
    "sort_by_label_desc",
    "start_timestamp",
    "step",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// The parsed expression, or the parser's own words for what is wrong, as Prometheus 2.42
/// parses it: its function set, and a duration only inside `[...]` or after `offset`.
pub fn parse(expr: &str) -> Result<Expr, String> {
    if expr.trim().is_empty() {
        return Err("the expression is empty".into());
    }
    bare_durations(expr)?;
    let parsed = parse_any(expr)?;
    let mut calls = Vec::new();
    each(&parsed, false, &mut |e, _| {
        if let Expr::Call(c) = e {
            calls.push(c.func.name);
        }
    });
    match calls.into_iter().find(|f| NOT_IN_PROMETHEUS.contains(f)) {
        Some(f) => Err(format!("unknown function with name '{f}' (not in Prometheus 2.42)")),
        None => Ok(parsed),
    }
}

/// The expression as promql-parser reads it, `holt_winters` (2.x's name for what
/// Prometheus 3 calls double_exponential_smoothing) known too.
fn parse_any(expr: &str) -> Result<Expr, String> {
    static HOLT_WINTERS: std::sync::Once = std::sync::Once::new();
    HOLT_WINTERS.call_once(|| {
        use promql_parser::parser::{Function, value::ValueType::*};
        let f = Function::new("holt_winters", vec![Matrix, Scalar, Scalar], 0, Vector, false);
        promql_parser::parser::register_extra_functions(vec![f]).expect("holt_winters is no built-in of promql-parser");
    });
    promql_parser::parser::parse(expr)
}

/// The selectors of an expression a running Prometheus has loaded (the users' own, of
/// whatever version): read as written, without 2.42's limits; none when it cannot be read.
pub fn loaded_selectors(expr: &str) -> Vec<Selector> {
    let mut out = Vec::new();
    if let Ok(e) = parse_any(expr) {
        walk(&e, false, &mut out);
    }
    out
}

/// Prometheus 2.42 refuses a duration used as a number (`time() - x > 5m`); promql-parser
/// reads it as seconds.
fn bare_durations(expr: &str) -> Result<(), String> {
    use lrpar::{Lexeme, Lexer, NonStreamingLexer};
    use promql_parser::parser::token::{T_COLON, T_DURATION, T_LEFT_BRACKET, T_OFFSET, T_SUB};
    let Ok(lexer) = promql_parser::parser::lexer(expr) else { return Ok(()) };
    let tokens: Vec<_> = lexer.iter().flatten().collect();
    for (i, t) in tokens.iter().enumerate().filter(|(_, t)| t.tok_id() == T_DURATION) {
        let before = |n: usize| i.checked_sub(n).map(|j| tokens[j].tok_id());
        let placed =
            matches!(before(1), Some(T_LEFT_BRACKET | T_COLON | T_OFFSET)) || (before(1) == Some(T_SUB) && before(2) == Some(T_OFFSET));
        if !placed {
            return Err(format!("unexpected duration {:?}", lexer.span_str(t.span())));
        }
    }
    Ok(())
}

/// The vector selectors of a PromQL expression, in the order they are written, each once;
/// an expression the parser refuses is an error.
pub fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let mut out = Vec::new();
    walk(&parse(expr)?, false, &mut out);
    Ok(out)
}

fn walk(e: &Expr, absent: bool, out: &mut Vec<Selector>) {
    each(e, absent, &mut |e, absent| match e {
        Expr::VectorSelector(vs) => push(vs, absent, out),
        Expr::MatrixSelector(m) => push(&m.vs, absent, out),
        _ => {}
    });
}

/// Calls `f` on `e` and every expression inside it, in the order they are written, with
/// whether it stands inside `absent(...)` or `absent_over_time(...)`.
fn each(e: &Expr, absent: bool, f: &mut impl FnMut(&Expr, bool)) {
    f(e, absent);
    match e {
        Expr::Aggregate(a) => {
            a.param.iter().for_each(|p| each(p, absent, f));
            each(&a.expr, absent, f);
        }
        Expr::Unary(u) => each(&u.expr, absent, f),
        Expr::Binary(b) => {
            each(&b.lhs, absent, f);
            each(&b.rhs, absent, f);
        }
        Expr::Paren(p) => each(&p.expr, absent, f),
        Expr::Subquery(s) => each(&s.expr, absent, f),
        Expr::Call(c) => {
            let absent = absent || matches!(c.func.name, "absent" | "absent_over_time");
            c.args.args.iter().for_each(|a| each(a, absent, f));
        }
        _ => {}
    }
}

fn push(vs: &VectorSelector, absent: bool, out: &mut Vec<Selector>) {
    // a selector by matchers only (`{__name__="x"}`) has no name to check
    let Some(metric) = vs.name.clone() else { return };
    let text = VectorSelector { offset: None, at: None, ..vs.clone() }.to_string();
    if !out.iter().any(|s: &Selector| s.text == text) {
        out.push(Selector { text, metric, absent });
    }
}

/// Prometheus' units, biggest first (`model.ParseDuration`: each at most once, in order).
const UNITS: [(&str, u64); 7] =
    [("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
/// The longest duration Prometheus holds (a Go `time.Duration`: 2^63-1 ns, about 292 years).
pub const MAX_DURATION_MS: u64 = (i64::MAX as u64) / 1_000_000;

/// A Prometheus duration (`0`, `500ms`, `30s`, `5m`, `1h30m`, `2d`) in ms, or Prometheus'
/// own words for why it is not one.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    match text {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {text:?}");
    let (mut rest, mut total, mut next_unit) = (text, 0u64, 0usize);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().unwrap_or(u64::MAX);
        rest = &rest[digits..];
        // the longest unit first: `ms` before `m`
        let (i, (unit, scale)) =
            UNITS.iter().enumerate().filter(|(_, (u, _))| rest.starts_with(u)).max_by_key(|(_, (u, _))| u.len()).ok_or_else(invalid)?;
        if i < next_unit {
            return Err(invalid());
        }
        next_unit = i + 1;
        total =
            n.checked_mul(*scale).and_then(|v| v.checked_add(total)).filter(|v| *v <= MAX_DURATION_MS).ok_or("duration out of range")?;
        rest = &rest[unit.len()..];
    }
    Ok(total)
}

/// `parse_duration`, without the reason.
pub fn duration_ms(text: &str) -> Option<u64> {
    parse_duration(text.trim()).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        selectors(expr).unwrap().into_iter().map(|s| if s.absent { format!("!{}", s.text) } else { s.text }).collect()
    }

    #[test]
    fn selectors_are_the_metric_names_of_an_expression() {
        assert_eq!(names("pg_replication_lag_seconds > 300"), ["pg_replication_lag_seconds"]);
        assert_eq!(names(r#"pg_up{job="pg", instance=~"pg-.*"} == 0"#), [r#"pg_up{instance=~"pg-.*",job="pg"}"#]);
        assert_eq!(names("sum by (instance) (rate(pg_stat_database_xact_commit[1m])) == 0"), ["pg_stat_database_xact_commit"]);
        assert_eq!(names("sum(rate(x_total[5m])) without (job) > bool 1"), ["x_total"]);
        assert_eq!(
            names("max_over_time(redis_up[30s] offset 1m) < 1 and on(instance) redis_instance_info"),
            ["redis_up", "redis_instance_info"]
        );
        assert_eq!(names(r#"absent(up{job="mysql"}) or mysql_up == 0"#), [r#"!up{job="mysql"}"#, "mysql_up"]);
        assert_eq!(names("a / ignoring(b) group_left(c) d"), ["a", "d"]);
        assert_eq!(names("count(x) > 1e3 # comment naming_no_metric"), ["x"]);
        assert_eq!(names("time() - pg_postmaster_start_time_seconds > 300"), ["pg_postmaster_start_time_seconds"]);
        assert_eq!(names("absent_over_time(up[5m]) or changes(x[1m]) > 0"), ["!up", "x"]);
        assert_eq!(names("topk(3, x) or y == 1"), ["x", "y"]);
        assert_eq!(names(r#"{__name__="x"} > 0"#), Vec::<String>::new());
        // a newer Prometheus' rule, as the users' own Prometheus has loaded it
        assert_eq!(loaded_selectors(r#"sort_by_label(x, "a") > 5m"#).len(), 1);
    }

    #[test]
    fn expressions_prometheus_refuses_are_refused_in_the_parsers_words() {
        let why = |e: &str| selectors(e).unwrap_err();
        assert_eq!(why("absentt(up)"), "unknown function with name 'absentt'");
        assert_eq!(why("up =="), "invalid promql query");
        assert_eq!(why(""), "the expression is empty");
        assert!(why(r#"up{job=~"["}"#).contains("illegal regex"), "{}", why(r#"up{job=~"["}"#));
        assert_eq!(why("rate(pg_up)"), "expected type matrix in call to function 'rate', got vector");
        assert!(why("x{a=\"b}").contains("unterminated quoted string"));
        assert_eq!(why("time() - x > 5m"), "unexpected duration \"5m\"");
        assert_eq!(why("sort_by_label(up, \"a\")"), "unknown function with name 'sort_by_label' (not in Prometheus 2.42)");
        for ok in ["x offset -5m", "x[5m:1m]", "x[5m:] offset 1h", "holt_winters(x[5m], 0.5, 0.5)", "x @ start()"] {
            assert!(selectors(ok).is_ok(), "{ok}: {:?}", selectors(ok));
        }
    }

    #[test]
    fn durations_are_prometheus_durations() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("292y"), Ok(292 * 31_536_000_000));
        for bad in ["5", "m", "5m1h", "1m1m", "5 minutes", "-5m", "1.5h"] {
            assert_eq!(parse_duration(bad), Err(format!("not a valid duration string: {bad:?}")), "{bad}");
        }
        assert_eq!(parse_duration(""), Err("empty duration string".into()));
        for huge in ["3000y", "99999999999h", "99999999999999999999999s"] {
            assert_eq!(parse_duration(huge), Err("duration out of range".into()), "{huge}");
        }
        assert_eq!(duration_text(300_000), "5m");
        assert_eq!(duration_text(90_000), "1m30s");
        assert_eq!(duration_text(1_500), "1500ms");
        assert_eq!(duration_text(7_200_000), "2h");
    }
}
