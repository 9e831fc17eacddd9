//! The evidence folder after a drill: the reports derived from results.json and
//! history.jsonl.zst (report.html, timeline.svg, report.md, junit.xml), re-rendered by
//! `drdrill report DIR`; and manifest.json, the SHA-256 of every file, checked by
//! `drdrill verify DIR` so that an auditor knows nothing was edited after the drill.
use super::{Results, html::report_html, junit_xml, markdown, timeline::timelines};
use crate::checker::load_results;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";

fn write(dir: &Path, file: &str, text: &[u8]) -> Result<()> {
    std::fs::write(dir.join(file), text).map_err(|e| Error::infra(format!("failed to write {}", dir.join(file).display())).cause(e))
}

/// Writes the reports derived from the results and the history.
pub fn render_reports(dir: &Path, r: &Results) -> Result<()> {
    let svgs = timelines(r, &crate::history::path_in(dir));
    let scenario = std::fs::read_to_string(dir.join("scenario.yaml")).unwrap_or_default();
    for (file, svg) in timeline_files(r).iter().zip(&svgs) {
        write(dir, file, svg.as_bytes())?;
    }
    write(dir, "report.html", report_html(r, &svgs, &scenario).as_bytes())?;
    write(dir, "report.md", markdown(r).as_bytes())?;
    if let Some(found) = super::questions_text::findings_md(r) {
        write(dir, "findings.md", found.as_bytes())?;
    }
    write(dir, "junit.xml", junit_xml(r).as_bytes())
}

/// The timelines' files: `timeline.svg`, or `timeline-SERVICE.svg` for each of several.
pub fn timeline_files(r: &Results) -> Vec<String> {
    match r.several() {
        false => vec!["timeline.svg".to_string()],
        true => r.each_service().iter().map(|(n, _)| format!("timeline-{n}.svg")).collect(),
    }
}

/// After a drill: the reports from results.json as written, then the manifest.
pub fn finish_evidence(dir: &Path) -> Result<()> {
    let r = load_results(dir)?;
    render_reports(dir, &r)?;
    write_manifest(dir, &r)
}

/// `drdrill report DIR`: every report again from results.json and the history, then a
/// new manifest (the raw evidence must still match the old one).
pub fn rerender(dir: &Path) -> Result<()> {
    if dir.join(MANIFEST).exists() {
        let bad = verify(dir)?;
        if !bad.is_empty() {
            return Err(Error::usage(format!("{} does not match its manifest: {}", dir.display(), bad.join("; ")))
                .hint("re-rendering would hide the change; compare with the original evidence first"));
        }
    }
    let r = load_results(dir)?;
    render_reports(dir, &r)?;
    write_manifest(dir, &r)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub drdrill_version: String,
    pub scenario: String,
    /// SHA-256 of scenario.yaml as run.
    pub scenario_sha256: String,
    pub run_id: String,
    pub host: String,
    pub started_at: String,
    pub finished_at: String,
    pub written_at: String,
    /// Every file of the folder but this one, by relative path.
    pub files: BTreeMap<String, String>,
}

fn sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path)?;
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.strip_prefix(dir).ok() != Some(Path::new(MANIFEST)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn hashes(dir: &Path) -> Result<BTreeMap<String, String>> {
    let fail = |e| Error::infra(format!("failed to hash the evidence in {}", dir.display())).cause(e);
    let mut m = BTreeMap::new();
    for p in files(dir).map_err(fail)? {
        let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
        m.insert(rel, sha256(&p).map_err(fail)?);
    }
    Ok(m)
}

/// manifest.json: written last, once every other file of the folder is final.
pub fn write_manifest(dir: &Path, r: &Results) -> Result<()> {
    let m = Manifest {
        drdrill_version: env!("CARGO_PKG_VERSION").into(),
        scenario: r.scenario.clone(),
        scenario_sha256: sha256(&dir.join("scenario.yaml")).unwrap_or_default(),
        run_id: r.run_id.clone(),
        host: crate::docker::hostname(),
        started_at: r.started_at.clone(),
        finished_at: r.finished_at.clone(),
        written_at: chrono::Utc::now().to_rfc3339(),
        files: hashes(dir)?,
    };
    write(dir, MANIFEST, (serde_json::to_string_pretty(&m).expect("manifest serialises") + "\n").as_bytes())
}

/// What differs from the manifest (empty: the folder is as the drill left it).
pub fn verify(dir: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(MANIFEST))
        .map_err(|e| Error::usage(format!("failed to read {}/{MANIFEST}", dir.display())).cause(e))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| Error::usage(format!("failed to parse {}/{MANIFEST}", dir.display())).cause(e))?;
    let now = hashes(dir)?;
    let mut bad = Vec::new();
    for (f, h) in &m.files {
        match now.get(f) {
            None => bad.push(format!("{f} is missing")),
            Some(n) if n != h => bad.push(format!("{f} was changed")),
            Some(_) => {}
        }
    }
    bad.extend(now.keys().filter(|f| !m.files.contains_key(*f)).map(|f| format!("{f} was added")));
    if now.get("scenario.yaml").is_some_and(|h| *h != m.scenario_sha256) {
        bad.push("scenario.yaml does not match the scenario hash".into());
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_finds_a_changed_an_added_and_a_missing_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("logs")).unwrap();
        for (f, t) in [("scenario.yaml", "name: x\n"), (crate::history::FILE, "{}\n"), ("logs/db-1.log", "hello\n")] {
            std::fs::write(d.path().join(f), t).unwrap();
        }
        let m = Manifest {
            drdrill_version: "t".into(),
            scenario: "x".into(),
            scenario_sha256: sha256(&d.path().join("scenario.yaml")).unwrap(),
            run_id: "r".into(),
            host: "h".into(),
            started_at: String::new(),
            finished_at: String::new(),
            written_at: String::new(),
            files: hashes(d.path()).unwrap(),
        };
        std::fs::write(d.path().join(MANIFEST), serde_json::to_string(&m).unwrap()).unwrap();
        assert!(verify(d.path()).unwrap().is_empty());
        std::fs::write(d.path().join(crate::history::FILE), "{}\n{}\n").unwrap();
        std::fs::write(d.path().join("extra.txt"), "x").unwrap();
        std::fs::remove_file(d.path().join("logs/db-1.log")).unwrap();
        let bad = verify(d.path()).unwrap();
        assert_eq!(bad, vec!["history.jsonl.zst was changed", "logs/db-1.log is missing", "extra.txt was added"]);
    }
}
