//! The documentation's links stay valid: README.md and every page in docs/ link only to files
//! that exist and, with `#anchor`, to a heading of that file (GitHub's slug); every docs page
//! cited in the code, the tests, the scripts and the scenarios exists; README.md stays short.
//! Only std: no Docker, no network, no drdrill binary.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

const README_MAX_LINES: usize = 250;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every `*.md` directly in docs/, sorted.
fn markdown_files() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ must exist")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// Is this line a fence (``` or ~~~) that opens or closes a code block?
fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Each line of a markdown file with its number, and whether it lies in a fenced code block
/// (fence lines included).
fn lines_with_fences(text: &str) -> Vec<(usize, &str, bool)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        if is_fence(line) {
            in_fence = !in_fence;
            out.push((i + 1, line, true));
        } else {
            out.push((i + 1, line, in_fence));
        }
    }
    out
}

/// GitHub's anchor for a heading: lowercase; drop every character that is not alphanumeric,
/// a space, a hyphen or an underscore; spaces become hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor the headings of a markdown file make; a repeated slug gets -1, -2, ...
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (_, line, fenced) in lines_with_fences(text) {
        if fenced {
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim();
        let base = slug(title);
        let n = seen.entry(base.clone()).or_insert(0);
        out.push(if *n == 0 { base.clone() } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// The targets of the inline links `[text](target)` of a markdown file, with the line each
/// target is on; outside fenced code blocks and code spans. Link text may span lines within a
/// paragraph; a blank line or a fence ends any open bracket or code span.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    let mut open_brackets = 0usize;
    for (n, line, fenced) in lines_with_fences(text) {
        if fenced || line.trim().is_empty() {
            in_code = false;
            open_brackets = 0;
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                in_code = !in_code;
            } else if !in_code && c == '[' {
                open_brackets += 1;
            } else if !in_code && c == ']' && open_brackets > 0 {
                open_brackets -= 1;
                if chars.get(i + 1) == Some(&'(') {
                    let mut depth = 0usize;
                    let mut j = i + 1;
                    let mut target = String::new();
                    while j < chars.len() {
                        match chars[j] {
                            '(' => {
                                depth += 1;
                                if depth > 1 {
                                    target.push('(');
                                }
                            }
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                                target.push(')');
                            }
                            ch => target.push(ch),
                        }
                        j += 1;
                    }
                    if j < chars.len() {
                        // a link may carry a title after its target: [text](target "title")
                        let target = target.split_whitespace().next().unwrap_or("").trim_matches(|c| c == '<' || c == '>');
                        out.push((n, target.to_string()));
                        i = j;
                    }
                }
            }
            i += 1;
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    t.starts_with("http://") || t.starts_with("https://") || t.starts_with("mailto:")
}

/// Every broken link of one markdown file, as `file:line: message`.
fn broken_links(file: &Path, anchor_cache: &mut HashMap<PathBuf, Option<Vec<String>>>) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let dir = file.parent().unwrap();
    let mut broken = Vec::new();
    for (n, target) in link_targets(&text) {
        let at = format!("{}:{n}", rel(file));
        if target.is_empty() {
            broken.push(format!("{at}: empty link target"));
            continue;
        }
        if is_external(&target) {
            continue;
        }
        let (path_part, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let dest = if path_part.is_empty() { file.to_path_buf() } else { dir.join(path_part) };
        if !dest.exists() {
            broken.push(format!("{at}: `{target}`: {} does not exist", rel(&dest)));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        let key = fs::canonicalize(&dest).unwrap_or(dest.clone());
        let known = anchor_cache.entry(key).or_insert_with(|| {
            if dest.is_file() && dest.extension().is_some_and(|e| e == "md") {
                fs::read_to_string(&dest).ok().map(|t| anchors(&t))
            } else {
                None
            }
        });
        match known {
            None => broken.push(format!("{at}: `{target}`: {} has no headings to point into", rel(&dest))),
            Some(list) if !list.iter().any(|a| a == anchor) => {
                broken.push(format!("{at}: `{target}`: no heading of {} has the anchor #{anchor}", rel(&dest)))
            }
            Some(_) => {}
        }
    }
    broken
}

#[test]
fn links_between_the_pages_are_valid() {
    let mut cache = HashMap::new();
    let files = markdown_files();
    assert!(files.len() > 1, "no pages found in docs/");
    let checked: usize = files.iter().map(|f| link_targets(&fs::read_to_string(f).unwrap()).len()).sum();
    assert!(checked > 20, "only {checked} links found: is the parser broken?");
    let broken: Vec<String> = files.iter().flat_map(|f| broken_links(f, &mut cache)).collect();
    assert!(broken.is_empty(), "{} broken link(s):\n{}", broken.len(), broken.join("\n"));
}

/// Files under `dir` (recursively) whose name passes `keep`.
fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// Every `docs/<name>.md` a text mentions, with its line number.
fn cited_pages(text: &str) -> Vec<(usize, String)> {
    let prefix = concat!("docs", "/");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
            let name = name.trim_end_matches('.');
            // a word that merely ends in "docs" (e.g. "rustdocs/") is no citation
            let starts_word = at == 0 || !rest[..at].chars().last().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if starts_word && name.ends_with(".md") {
                out.push((i + 1, format!("{prefix}{name}")));
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    out
}

#[test]
fn docs_pages_cited_in_code_tests_and_scripts_exist() {
    let root = root();
    let this_file = root.join("tests").join("docs.rs");
    let mut files = Vec::new();
    let rust = |p: &Path| p.extension().is_some_and(|e| e == "rs");
    walk(&root.join("src"), &rust, &mut files);
    walk(&root.join("tests"), &rust, &mut files);
    walk(&root.join("scripts"), &|_: &Path| true, &mut files);
    walk(&root.join("scenarios"), &|p: &Path| p.extension().is_some_and(|e| e == "yaml"), &mut files);
    files.retain(|f| *f != this_file);
    files.sort();
    let mut missing = Vec::new();
    let mut cited = 0;
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else { continue };
        for (n, page) in cited_pages(&text) {
            cited += 1;
            if !root.join(&page).is_file() {
                missing.push(format!("{}:{n}: cites {page}, which does not exist", rel(file)));
            }
        }
    }
    assert!(cited > 0, "no docs page is cited anywhere: did the scan find the sources?");
    assert!(missing.is_empty(), "{} citation(s) of missing pages:\n{}", missing.len(), missing.join("\n"));
}

#[test]
fn readme_is_short() {
    let text = fs::read_to_string(root().join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(lines <= README_MAX_LINES, "README.md has {lines} lines; at most {README_MAX_LINES}: move detail into docs/");
}

#[test]
fn the_checker_itself() {
    assert_eq!(slug("How accurate is RTO?"), "how-accurate-is-rto");
    assert_eq!(slug("Campaigns: suites, repeats, the regression gate, trends"), "campaigns-suites-repeats-the-regression-gate-trends");
    assert_eq!(slug("history.jsonl.zst"), "historyjsonlzst");
    assert_eq!(slug("Run `drdrill gc`_now"), "run-drdrill-gc_now");
    let text = "# A\n\n## B\n```\n# not a heading\n```\n## B\n### B\n";
    assert_eq!(anchors(text), ["a", "b", "b-1", "b-2"]);
    let targets = |text: &str| link_targets(text).into_iter().map(|(n, t)| format!("{n}:{t}")).collect::<Vec<_>>();
    assert_eq!(targets("see [x](a.md#b) and [`y`](c.md \"t\"), `[no](link)`, [z]"), ["1:a.md#b", "1:c.md"]);
    assert_eq!(targets("[outer [inner]](d.md) ![img](e.svg)"), ["1:d.md", "1:e.svg"]);
    assert_eq!(targets("a [link that\nspans](f.md)\n\n```\n[in](fence.md)\n```\n[g](g.md)"), ["2:f.md", "7:g.md"]);
    let cited = cited_pages(&format!("x ({}/exit-codes.md) y {}/b.md. rustdocs/z.md", "docs", "docs"));
    assert_eq!(cited, [(1, format!("{}/exit-codes.md", "docs")), (1, format!("{}/b.md", "docs"))]);
}
