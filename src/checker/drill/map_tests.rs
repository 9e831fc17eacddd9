//! docs/architecture.md's map of where each verdict is decided stays true: every finding
//! kind and every target has a row, and each row's function is in the file it names.
use super::FindingKind;
use crate::checker::Target;
use strum::IntoEnumIterator;

/// The map's rows: (verdict, the functions named, the file).
fn rows(doc: &str) -> Vec<(String, Vec<String>, String)> {
    let Some(at) = doc.find("## Where each verdict is decided") else { return Vec::new() };
    let section = doc[at..].split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| verdict"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let fns = cells.get(1)?.split('`').skip(1).step_by(2).map(str::to_string).collect();
            Some((cells.first()?.to_string(), fns, cells.get(2)?.to_string()))
        })
        .collect()
}

/// What the map lacks or gets wrong: a kind or target without a row, a row whose first
/// function is not declared in its file (`read` gives a file's text).
fn wrong(doc: &str, read: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let rows = rows(doc);
    let mut out = Vec::new();
    let wanted = FindingKind::iter()
        .map(|k| format!("finding `{}`", serde_json::to_value(k).unwrap().as_str().unwrap_or_default()))
        .chain(Target::every().into_iter().map(|t| format!("target `{}`", t.pattern())));
    for w in wanted {
        if !rows.iter().any(|(v, _, _)| *v == w) {
            out.push(format!("no row for {w}"));
        }
    }
    for (verdict, fns, file) in &rows {
        let text = read(file).unwrap_or_default();
        let declared = |f: &String| text.contains(&format!("fn {f}(")) || text.contains(&format!("fn {f}<"));
        if let Some(f) = fns.first().filter(|f| !declared(f)) {
            out.push(format!("{verdict}: no fn {f} in {file}"));
        }
    }
    out
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_map_names_every_verdict() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    assert!(rows(&doc).len() > 50, "read the map's rows");
    let wrong = wrong(&doc, |f| std::fs::read_to_string(root().join(f)).ok());
    assert_eq!(wrong, Vec::<String>::new(), "docs/architecture.md, \"Where each verdict is decided\"");
}

#[test]
fn a_planted_map_missing_a_row_or_naming_a_moved_function_fails() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let without = doc.replace("| finding `split_brain` | `split_brain` | src/checker/drill/findings.rs |\n", "");
    assert_eq!(wrong(&without, |f| std::fs::read_to_string(root().join(f)).ok()), ["no row for finding `split_brain`"]);
    let moved = doc.replace("| target `rto_ms` | `rto_target` |", "| target `rto_ms` | `rto_judged` |");
    assert_eq!(
        wrong(&moved, |f| std::fs::read_to_string(root().join(f)).ok()),
        ["target `rto_ms`: no fn rto_judged in src/checker/targets.rs"]
    );
}
