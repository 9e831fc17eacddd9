//! The campaign's files in its summary folder: summary.json, junit.xml (a suite per run,
//! one per scenario judged on its spread) and summary.html. Sits above summary.rs (the
//! rows and their judgement) and html.rs (the page), and writes both.
use super::html::summary_html;
use super::summary::Summary;
use crate::checker::Verdict;
use crate::error::{Error, Result};
use crate::report::{junit_suites, junit_wrap, xml_escape as esc};
use std::path::Path;

impl Summary {
    /// summary.json, junit.xml and summary.html into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::infra(format!("failed to create {}", dir.display())).cause(e))?;
        let json = serde_json::to_string_pretty(self).expect("summary serialises") + "\n";
        for (file, text) in [("summary.json", json), ("junit.xml", junit(self)), ("summary.html", summary_html(self, dir))] {
            std::fs::write(dir.join(file), text).map_err(|e| Error::infra(format!("failed to write {file}")).cause(e))?;
        }
        Ok(())
    }
}

/// One test suite per run (its targets as test cases), and one per scenario with
/// targets judged on the spread.
fn junit(summary: &Summary) -> String {
    let mut suites = Vec::new();
    for r in &summary.runs {
        let name = format!("{} #{}", r.scenario, r.run);
        match (&r.results, &r.error) {
            (Some(res), _) => suites.extend(junit_suites(res, &name)),
            (None, why) if r.status == "not run" => suites.push(junit_case(&name, "skipped", why.as_deref().unwrap_or("not run"))),
            (None, why) => suites.push(junit_case(&name, "error", why.as_deref().unwrap_or("failed"))),
        }
    }
    for s in summary.scenarios.iter().filter(|s| !s.targets.is_empty()) {
        let mut x = format!("  <testsuite name=\"{} (spread over {} runs)\" tests=\"{}\">\n", esc(&s.scenario), s.runs, s.targets.len());
        for t in &s.targets {
            let name = format!("{} {}", t.target, t.statistic);
            let what = format!("limit {}, actual {:?}. {}", t.limit, t.actual, t.note);
            x.push_str(&match t.verdict {
                Verdict::Pass => format!("    <testcase classname=\"{}\" name=\"{name}\"/>\n", esc(&s.scenario)),
                Verdict::Fail => format!(
                    "    <testcase classname=\"{}\" name=\"{name}\">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    esc(&s.scenario),
                    esc(&what)
                ),
                Verdict::Unknown | Verdict::Undecided => format!(
                    "    <testcase classname=\"{}\" name=\"{name}\">\n      <error message=\"{}\"/>\n    </testcase>\n",
                    esc(&s.scenario),
                    esc(&what)
                ),
            });
        }
        x.push_str("  </testsuite>\n");
        suites.push(x);
    }
    junit_wrap(&suites)
}

fn junit_case(name: &str, kind: &str, why: &str) -> String {
    let attr = if kind == "skipped" { "skipped=\"1\"" } else { "errors=\"1\"" };
    format!(
        "  <testsuite name=\"{n}\" tests=\"1\" {attr}>\n    <testcase classname=\"{n}\" name=\"drill\">\n      <{kind} message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
        esc(why),
        n = esc(name)
    )
}
