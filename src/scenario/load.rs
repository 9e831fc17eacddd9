//! Loading and validating scenario files. Every problem is reported as
//! `file:line:col: what is wrong`, before any container starts.
use super::locate::{Seg, locate};
use super::model::*;
use super::validate::validate;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A validated scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub source: String,
    /// The drill: its name, faults, hooks, steady state, abort conditions and secrets. In a
    /// drill of several services its stack, workload, failover, proxy and targets are the
    /// first service's: what works on a service works on `services`.
    pub scenario: Scenario,
    /// Each service as a one-service scenario (a single-`stack` file: one, named after its
    /// kind).
    pub services: Vec<super::services::ServicePlan>,
    /// `monitoring.rules`, read (None without monitoring, or for an external stack's own).
    pub alert_rules: Option<super::alert_rules::AlertRules>,
}

impl Loaded {
    /// Whether the drill has several services (`services:` in the file).
    pub fn several(&self) -> bool {
        self.services.first().is_some_and(|s| s.tagged)
    }
}

/// Whether the file uses the `services:` form (a top-level `services` key). A file YAML
/// cannot read (a syntax error, a key twice) is read by its lines: one starting with
/// `services:` makes it the services form, so its real error is reported at its own line,
/// not as an unknown `services` of the one-stack form.
fn has_services(source: &str) -> bool {
    match serde_norway::from_str::<serde_norway::Value>(source) {
        Ok(v) => v.as_mapping().is_some_and(|m| m.contains_key("services")),
        Err(_) => source.lines().any(|l| l.strip_prefix("services").is_some_and(|r| r.trim_start().starts_with(':'))),
    }
}

pub fn load(path: &Path) -> Result<Loaded> {
    let read = |e| Error::scenario(format!("failed to read scenario {}", path.display())).cause(e);
    parse(path, super::prescan::read_as("scenario", path, read)?)
}

pub fn parse(path: &Path, source: String) -> Result<Loaded> {
    let file = path.display().to_string();
    super::prescan::no_control_characters(&file, &source)?;
    super::prescan::check(&file, &source)?;
    let (scenario, services, mut problems) = if has_services(&source) {
        let ss: super::ServicesScenario = serde_norway::from_str(&source).map_err(|e| yaml_error(&file, &e))?;
        let (plans, problems) = super::services::plans(&ss);
        (super::services::drill_scenario(&ss, &plans), plans, problems)
    } else {
        let scenario: Scenario = serde_norway::from_str(&source).map_err(|e| yaml_error(&file, &e))?;
        let mut problems = validate(&scenario);
        super::region::check_dns_names(&scenario, scenario.stack.kind.name(), &mut problems);
        let services = vec![super::services::single(&scenario)];
        (scenario, services, problems)
    };
    let rules_files = scenario.monitoring.as_ref().map(|m| m.rules.clone()).unwrap_or_default();
    for name in &rules_files {
        let at = vec![Seg::Key("monitoring"), Seg::Key("rules")];
        let found = path.parent().unwrap_or(Path::new(".")).join(name);
        if found.is_dir() {
            problems.push((at, format!("`{name}` is a folder; monitoring.rules names rules files (e.g. `{name}/pg.rules.yml`)")));
        } else if !found.is_file() {
            problems.push((at, format!("no rules file `{name}` beside the scenario (the path is relative to the scenario file)")));
        }
    }
    let alert_rules = match rules_files.is_empty() || scenario.stack.kind.is_external() {
        false if problems.is_empty() => Some(super::alert_rules::read_all(path, &rules_files)?),
        _ => None,
    };
    problems.extend(super::alerting::validate(&scenario, &services, alert_rules.as_ref()));
    if !problems.is_empty() {
        return Err(problems_error(&file, &source, problems));
    }
    Ok(Loaded { path: path.to_path_buf(), source, scenario, services, alert_rules })
}

/// Every problem at its line and column, in the file's order: a stack's own problem
/// (`galera: {nodes: 1}`) leads the ones it causes further down (a fault's target that is
/// not among its nodes).
pub(super) fn problems_error(file: &str, source: &str, problems: Vec<super::locate::Problem>) -> Error {
    let mut located: Vec<((usize, usize), &String)> = problems.iter().map(|(p, msg)| (locate(source, p), msg)).collect();
    located.sort_by_key(|(at, _)| *at);
    let mut lines: Vec<String> = located.iter().map(|((l, c), msg)| format!("{file}:{l}:{c}: {msg}")).collect();
    let msg = format!("invalid scenario {}", lines.remove(0));
    let mut err = Error::scenario(msg);
    for l in lines {
        err = err.cause_text(l);
    }
    err.hint("`drdrill schema` prints the format; docs/scenarios.md explains every field")
}

pub(super) fn yaml_error(file: &str, e: &serde_norway::Error) -> Error {
    let mut text = e.to_string();
    // serde_norway appends " at line L column C"; we print the location first instead.
    if let Some(i) = text.find(" at line ") {
        text.truncate(i);
    }
    let (l, c) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    let text = super::serde_words::in_user_words(&text).unwrap_or_else(|| crate::error::clip_input(&text));
    let mut err = Error::scenario(format!("invalid scenario {file}:{l}:{c}: {text}"));
    if let Some(h) = nearest_key_hint(&text) {
        err = err.hint(h);
    } else {
        err = err.hint("`drdrill schema` prints the format; docs/scenarios.md explains every field");
    }
    err
}

/// "unknown field `replicaz`, expected one of `kind`, `replicas`" -> "did you mean `replicas`?"
fn nearest_key_hint(text: &str) -> Option<String> {
    let at = text.find("unknown field `").or_else(|| text.find("unknown variant `"))?;
    let rest = text[at..].split_once('`')?.1;
    let (bad, rest) = rest.split_once('`')?;
    let best = rest.split('`').skip(1).step_by(2).map(|cand| (strsim::jaro_winkler(bad, cand), cand)).max_by(|a, b| a.0.total_cmp(&b.0))?;
    (best.0 > 0.7).then(|| format!("did you mean `{}`?", best.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(Path::new("s.yaml"), src.to_string()).unwrap_err().to_string()
    }
    const OK: &str = "name: t\nstack:\n  kind: postgres\nfaults:\n  - at_ms: 10\n    kind: kill\n    target: primary\nfailover:\n  trigger:\n    delay:\n      delay_ms: 100\ntargets:\n  rto_ms: 1000\n";

    #[test]
    fn valid_scenario_loads() {
        let l = parse(Path::new("s.yaml"), OK.into()).unwrap();
        assert_eq!(l.scenario.stack.node_names(), ["pg-1", "pg-2", "pg-3"]);
        assert_eq!(l.scenario.workload.writers, 4);
    }

    #[test]
    fn unknown_key_names_line_column_and_nearest() {
        let e = err(&OK.replace("  kind: postgres\n", "  kind: postgres\n  replicaz: 2\n"));
        assert!(e.contains("s.yaml:4:3: stack: unknown field `replicaz`, expected one of"), "{e}");
        assert!(e.contains("did you mean `replicas`?"), "{e}");
    }

    #[test]
    fn wrong_type_is_located() {
        let e = err(&OK.replace("rto_ms: 1000", "rto_ms: soon"));
        assert!(e.contains("s.yaml:13:11: targets.rto_ms: invalid type: string \"soon\", expected a non-negative integer"), "{e}");
    }

    #[test]
    fn semantic_errors_are_located() {
        let e = err(&OK.replace("target: primary", "target: replica-7"));
        assert!(e.contains("s.yaml:7:5: `replica-7`: this stack has replica-1 to replica-2"), "{e}");
        let e = err(&OK.replace("kind: kill", "kind: pause"));
        assert!(e.contains("s.yaml:5:5: a pause fault needs `duration_ms`"), "{e}");
    }

    #[test]
    fn replica_lag_is_refused_where_it_cannot_be_measured() {
        let lag = OK.replace("  rto_ms: 1000\n", "  rto_ms: 1000\n  replica_lag_ms: {p99: 500}\n");
        let l = parse(Path::new("s.yaml"), lag.clone()).unwrap();
        assert_eq!(l.scenario.replica_lag().unwrap().poll_ms, 5, "the target turns the measurement on");
        let e = err(&lag
            .replace("  kind: postgres\n", "  kind: postgres\n  replicas: 0\n")
            .replace("failover:\n  trigger:\n    delay:\n      delay_ms: 100\n", ""));
        assert!(e.contains("s.yaml:11:3: replica lag needs at least one replica"), "{e}");
        let e = err(&lag.replace("{p99: 500}", "{}"));
        assert!(e.contains("expected at least one of p50, p95, p99, max"), "{e}");
        let e = err(&lag.replace("{p99: 500}", "{p90: 500}"));
        assert!(e.contains("unknown field `p90`"), "{e}");
        let e = err(&OK.replace("targets:", "workload:\n  replica_lag: {poll_ms: 0}\ntargets:"));
        assert!(e.contains("s.yaml:13:3: poll_ms must be between 1 and 10000, found 0"), "{e}");
    }

    #[test]
    fn a_restore_needs_a_backup_its_kind_takes() {
        // (no replicas: a restore rebuilds the stack, and every node must be destroyed)
        let restore = OK
            .replace("failover:\n", "failover:\n  mode: restore\n")
            .replace("kind: kill", "kind: destroy")
            .replace("  kind: postgres\n", "  kind: postgres\n  replicas: 0\n");
        let e = err(&restore);
        assert!(e.contains("a restore needs a backup to restore from: give `stack.backup`"), "{e}");
        let backed = restore.replace("  kind: postgres\n", "  kind: postgres\n  backup: {archive_timeout_s: 5}\n");
        let l = parse(Path::new("s.yaml"), backed.clone()).unwrap();
        assert_eq!(l.scenario.stack.backup.as_ref().unwrap().archive_timeout_s(), 5);
        let e = err(&backed.replace("kind: postgres", "kind: redis"));
        assert!(e.contains("s.yaml:4:3: `archive_timeout_s` is not a redis setting: a redis backup (AOF / RDB on a surviving volume) takes appendfsync, snapshot_s"), "{e}");
        let e = err(&backed.replace("kind: postgres", "kind: redis").replace("archive_timeout_s: 5", ""));
        assert!(e.contains("give `appendfsync` (AOF), `snapshot_s` (RDB), or both"), "{e}");
        let e = err(&backed.replace("kind: postgres", "kind: redis").replace("archive_timeout_s: 5", "appendfsync: sometimes"));
        assert!(e.contains("unknown variant `sometimes`"), "{e}");
        let redis =
            backed.replace("kind: postgres", "kind: redis").replace("archive_timeout_s: 5", "appendfsync: everysec, snapshot_s: 10");
        let l = parse(Path::new("s.yaml"), redis.clone()).unwrap();
        assert_eq!(l.scenario.stack.backup.as_ref().unwrap().appendfsync, Some(crate::scenario::AppendFsync::Everysec));
        let e = err(&redis.replace("failover:\n", "failover:\n  restore_to: before_fault\n"));
        assert!(e.contains("a redis restore recovers to the latest state only"), "{e}");
        let e = err(&backed.replace("kind: postgres", "kind: mariadb"));
        assert!(e.contains("a mariadb backup (mariabackup + binlog streaming) takes no keys"), "{e}");
        let maria = backed.replace("kind: postgres", "kind: mariadb").replace("{archive_timeout_s: 5}", "{}");
        parse(Path::new("s.yaml"), maria).unwrap();
        let e = err(&backed.replace("kind: postgres", "kind: patroni"));
        assert!(e.contains("backups are drilled on postgres, redis, mariadb stacks"), "{e}");
        let e = err(&backed.replace("archive_timeout_s: 5", "archive_timeout_s: 0"));
        assert!(e.contains("archive_timeout_s must be between 1 and 3600"), "{e}");
        let e = err(&backed.replace("replicas: 0", "replicas: 1"));
        assert!(e.contains("a restore rebuilds the stack from its backup, but `pg-2` is never destroyed"), "{e}");
        let both = backed
            .replace("replicas: 0", "replicas: 1")
            .replace("faults:\n", "faults:\n  - {at_ms: 10, kind: destroy, target: replica-1}\n");
        parse(Path::new("s.yaml"), both).unwrap();
        let e = err(&backed.replace("failover:\n", "failover:\n  restore_to: before_fault\n"));
        assert!(e.contains("`restore_to: before_fault` replays the old primary's archive up to the error"), "{e}");
        let e = err(&backed.replace("target: primary", "target: primary\n    duration_ms: 100"));
        assert!(e.contains("`duration_ms` does not apply to a destroy fault"), "{e}");
    }

    #[test]
    fn rolling_a_replica_forward_needs_a_delayed_one_of_a_kind_that_has_them() {
        let pitr = OK
            .replace("stack:\n  kind: postgres\n", "stack:\n  kind: postgres\n  replicas: 1\n")
            .replace("failover:\n", "failover:\n  restore_to: before_fault\n");
        let e = err(&pitr);
        assert!(e.contains("give `settings.recovery_min_apply_delay`"), "{e}");
        let delayed = pitr.replace("  replicas: 1\n", "  replicas: 1\n  settings: {recovery_min_apply_delay: 30s}\n");
        assert!(err(&delayed).contains("name the delayed replica to promote"));
        parse(Path::new("s.yaml"), delayed.replace("failover:\n", "failover:\n  promote: pg-2\n")).unwrap();
        let e = err(&pitr.replace("kind: postgres", "kind: mariadb"));
        assert!(e.contains("give `settings.master_delay`"), "{e}");
        let e = err(&pitr.replace("kind: postgres", "kind: redis"));
        assert!(e.contains("a redis replica cannot be rolled forward to a point in time"), "{e}");
    }
}
