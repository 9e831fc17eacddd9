//! `drdrill summary DIR…`: one summary from the evidence of several campaigns — the slices
//! of `run --partition`, or any earlier runs. Each campaign's summary.json gives its rows
//! (drills that failed before judging included) and the targets its scenarios' spreads are
//! judged on; each row's results come from its evidence folder, found by run id wherever
//! the folders were copied; an evidence folder no summary names is a row of its own. The
//! merged summary is judged by the same code as one campaign's.
use super::summary::{RunRow, Summary};
use crate::checker::SpreadLimits;
use crate::checker::{Results, load_results};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// How deep under each folder to look: reports/<scenario>/<stamp>/ and
/// reports/suites/<stamp>/, under a few folders of a CI job's artifacts.
const MAX_DEPTH: usize = 8;

/// What a campaign's summary.json holds that a merge needs.
#[derive(Deserialize)]
struct Saved {
    started_at: String,
    duration_s: f64,
    runs: Vec<RunRow>,
    scenarios: Vec<SavedScenario>,
}

#[derive(Deserialize)]
struct SavedScenario {
    scenario: String,
    #[serde(default)]
    limits: SpreadLimits,
}

/// What lies under the folders: campaign summaries and evidence folders (by run id).
#[derive(Default)]
struct Found {
    summaries: Vec<PathBuf>,
    evidence: BTreeMap<String, (PathBuf, Results)>,
}

fn walk(dir: &Path, depth: usize, found: &mut Found) {
    if dir.join("summary.json").is_file() {
        found.summaries.push(dir.join("summary.json"));
    }
    if dir.join("results.json").is_file()
        && let Ok(r) = load_results(dir)
    {
        found.evidence.insert(r.run_id.clone(), (dir.to_path_buf(), r));
        return;
    }
    if depth == 0 {
        return;
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subs.sort();
    for s in subs {
        walk(&s, depth - 1, found);
    }
}

/// The merged summary of every campaign and evidence folder under `dirs`.
pub fn merge(dirs: &[PathBuf]) -> Result<Summary> {
    let mut found = Found::default();
    for d in dirs {
        if !d.is_dir() {
            return Err(Error::usage(format!("{} is not a folder", d.display()))
                .hint("give the folders the drills' evidence was written to (--reports)"));
        }
        walk(d, MAX_DEPTH, &mut found);
    }
    if found.summaries.is_empty() && found.evidence.is_empty() {
        return Err(Error::usage("no summary.json and no evidence folder (results.json) under the folders given"));
    }
    let mut rows = Vec::new();
    let mut limits: BTreeMap<String, SpreadLimits> = BTreeMap::new();
    let (mut started, mut ended): (Option<chrono::DateTime<chrono::FixedOffset>>, Option<chrono::DateTime<chrono::FixedOffset>>) =
        (None, None);
    let mut used = HashSet::new();
    for path in &found.summaries {
        let text = std::fs::read_to_string(path).map_err(|e| Error::usage(format!("failed to read {}", path.display())).cause(e))?;
        let saved: Saved = serde_json::from_str(&text).map_err(|e| Error::usage(format!("failed to parse {}", path.display())).cause(e))?;
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&saved.started_at) {
            let end = t + chrono::Duration::milliseconds((saved.duration_s * 1000.0) as i64);
            started = Some(started.map_or(t, |s| s.min(t)));
            ended = Some(ended.map_or(end, |e| e.max(end)));
        }
        for s in saved.scenarios {
            limits.entry(s.scenario).or_insert(s.limits);
        }
        for mut row in saved.runs {
            if let Some((dir, r)) = row.run_id.as_ref().and_then(|id| found.evidence.get(id)) {
                used.insert(r.run_id.clone());
                // the service's view for a drill of several, as the campaign judged it
                row.results = match row.scenario.split_once('/') {
                    Some((_, service)) => r.service_view(service),
                    None => Some(r.clone()),
                };
                row.evidence = Some(dir.display().to_string());
            } else if row.run_id.is_some() {
                row.error = Some(format!("evidence of run {} not found under the folders given", row.run_id.clone().unwrap_or_default()));
            }
            rows.push(row);
        }
    }
    rows.extend(unlisted(&found, &used, &mut limits, &mut rows_per_scenario(&rows)));
    // slices ran side by side: their rows in the order of one campaign of sorted files
    rows.sort_by(|a, b| (&a.scenario, a.run).cmp(&(&b.scenario, b.run)));
    let parts: Vec<(String, SpreadLimits)> = limits.into_iter().collect();
    let (started_at, duration_s) = match (started, ended) {
        (Some(s), Some(e)) => (s.to_rfc3339(), (e - s).num_milliseconds() as f64 / 1000.0),
        _ => (chrono::Utc::now().to_rfc3339(), 0.0),
    };
    Ok(Summary::of_parts(started_at, duration_s, rows, &parts))
}

fn rows_per_scenario(rows: &[RunRow]) -> BTreeMap<String, u32> {
    let mut n = BTreeMap::new();
    for r in rows {
        // (a drill of several services: one row per service, `drill/service`)
        let drill = r.scenario.split('/').next().unwrap_or_default();
        let e = n.entry(drill.to_string()).or_insert(0);
        *e = (*e).max(r.run);
    }
    n
}

/// Rows for the evidence folders no summary names, oldest first, numbered after the runs
/// of their scenario already there; their scenario's targets from the scenario.yaml the
/// folder keeps (none when it cannot be read: the runs' own verdicts still count).
fn unlisted(
    found: &Found,
    used: &HashSet<String>,
    limits: &mut BTreeMap<String, SpreadLimits>,
    runs: &mut BTreeMap<String, u32>,
) -> Vec<RunRow> {
    let mut left: Vec<&(PathBuf, Results)> = found.evidence.iter().filter(|(id, _)| !used.contains(*id)).map(|(_, v)| v).collect();
    left.sort_by(|a, b| a.1.started_at.cmp(&b.1.started_at));
    let mut rows = Vec::new();
    for (dir, r) in left {
        let k = runs.entry(r.scenario.clone()).or_insert(0);
        *k += 1;
        let duration_s = match (chrono::DateTime::parse_from_rfc3339(&r.started_at), chrono::DateTime::parse_from_rfc3339(&r.finished_at)) {
            (Ok(a), Ok(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        };
        let ran = RunRow::ran_services(&r.scenario, *k, r, dir, duration_s);
        match crate::scenario::load(&dir.join("scenario.yaml")) {
            Ok(l) => super::summary::parts(std::slice::from_ref(&l)).into_iter().for_each(|(name, lim)| {
                limits.entry(name).or_insert(lim);
            }),
            Err(_) => ran.iter().for_each(|row| {
                limits.entry(row.scenario.clone()).or_default();
            }),
        }
        rows.extend(ran);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;
    use crate::scenario::Limit;

    /// An evidence folder of scenario `scenario` (run `id`, RTO `rto`) under `root`.
    fn evidence(root: &Path, scenario: &str, id: &str, rto: f64) -> (PathBuf, Results) {
        let mut r = crate::report::tests_support::results();
        (r.scenario, r.run_id, r.rto_ms, r.verdict) = (scenario.into(), id.into(), Some(rto), Verdict::Pass);
        let dir = root.join(scenario).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), serde_json::to_string(&r).unwrap()).unwrap();
        (dir, r)
    }

    fn ran(root: &Path, scenario: &str, runs: &[(&str, f64)]) -> Vec<RunRow> {
        let rows = runs.iter().enumerate().map(|(i, (id, rto))| {
            let (dir, r) = evidence(root, scenario, id, *rto);
            RunRow::ran(scenario, i as u32 + 1, &r, &dir, 10.0)
        });
        rows.collect()
    }

    /// Two slices, copied elsewhere before the merge (as a CI job downloads its artifacts):
    /// the merged summary has the rows, spread verdicts and exit code of one summary of
    /// every run, the failed-before-judging drill included.
    #[test]
    fn slices_merge_into_the_summary_one_campaign_of_them_all_gives() {
        let tmp = tempfile::tempdir().unwrap();
        let (s1, s2) = (tmp.path().join("job-1"), tmp.path().join("job-2"));
        let max_5s = SpreadLimits { rto_ms: Some(Limit::Spread([("max".to_string(), 5000)].into())), ..Default::default() };
        let rows1 = ran(&s1, "a", &[("r1", 3000.0), ("r2", 6000.0)]);
        let mut rows2 = ran(&s2, "b", &[("r3", 1000.0)]);
        rows2.push(RunRow::failed("c", 1, &Error::infra("the engine went away"), 1.0));
        let parts1 = vec![("a".to_string(), max_5s)];
        let parts2 = vec![("b".to_string(), SpreadLimits::default()), ("c".to_string(), SpreadLimits::default())];
        Summary::of_parts("2026-11-26T00:00:00Z".into(), 20.0, rows1.clone(), &parts1).write(&s1.join("suites/1")).unwrap();
        Summary::of_parts("2026-11-26T00:00:05Z".into(), 30.0, rows2.clone(), &parts2).write(&s2.join("suites/2")).unwrap();
        let moved = tmp.path().join("artifacts");
        std::fs::create_dir_all(&moved).unwrap();
        for s in [&s1, &s2] {
            std::fs::rename(s, moved.join(s.file_name().unwrap())).unwrap();
        }
        let merged = merge(&[moved.join("job-1"), moved.join("job-2")]).unwrap();
        let whole = Summary::of_parts(String::new(), 0.0, [rows1, rows2].concat(), &[parts1, parts2].concat());
        let key = |s: &Summary| -> Vec<(String, u32, String, i32, Option<f64>, bool)> {
            s.runs.iter().map(|r| (r.scenario.clone(), r.run, r.status.clone(), r.exit_code, r.rto_ms, r.results.is_some())).collect()
        };
        assert_eq!(key(&merged), key(&whole));
        let verdicts = |s: &Summary| -> Vec<(String, Vec<Verdict>)> {
            s.scenarios.iter().map(|x| (x.scenario.clone(), x.targets.iter().map(|t| t.verdict).collect())).collect()
        };
        assert_eq!(verdicts(&merged), verdicts(&whole));
        assert_eq!(verdicts(&merged)[0], ("a".to_string(), vec![Verdict::Fail]), "6000 ms over a max of 5000");
        assert_eq!((merged.exit_code, whole.exit_code), (crate::error::exit::INFRA, crate::error::exit::INFRA));
        // the slices ran side by side: the campaign spans the first start to the last end
        assert_eq!((merged.started_at.as_str(), merged.duration_s), ("2026-11-26T00:00:00+00:00", 35.0));
        assert!(merged.runs.iter().filter(|r| r.results.is_some()).all(|r| r.evidence.as_deref().unwrap().contains("artifacts")));
    }

    /// Evidence folders no summary names are rows of their own, numbered by start.
    #[test]
    fn an_evidence_folder_alone_is_a_row_and_a_missing_one_is_said() {
        let tmp = tempfile::tempdir().unwrap();
        let rows = ran(tmp.path(), "a", &[("r1", 3000.0)]);
        Summary::of_parts("2026-11-26T00:00:00Z".into(), 20.0, rows, &[("a".to_string(), SpreadLimits::default())])
            .write(&tmp.path().join("suites/1"))
            .unwrap();
        evidence(tmp.path(), "a", "r9", 4000.0);
        std::fs::remove_dir_all(tmp.path().join("a/r1")).unwrap();
        let merged = merge(&[tmp.path().to_path_buf()]).unwrap();
        let runs: Vec<(u32, Option<f64>, bool)> = merged.runs.iter().map(|r| (r.run, r.rto_ms, r.results.is_some())).collect();
        assert_eq!(runs, [(1, Some(3000.0), false), (2, Some(4000.0), true)]);
        assert!(merged.runs[0].error.as_deref().unwrap().contains("evidence of run r1 not found"));
        assert!(merge(&[tmp.path().join("nothing")]).is_err());
    }
}
