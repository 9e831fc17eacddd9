//! Layers point one way: no top-level module of drdrill reaches, through `crate::` paths,
//! a module that reaches it back. A cycle is named with the file and line that closes it.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `p` (or `p` itself).
fn files(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        out.extend(files(&e.path()));
    }
    out.into_iter().filter(|f| f.extension().is_some_and(|x| x == "rs")).collect()
}

/// Module -> (module it uses -> first place it does).
fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main"].contains(&name.as_str()) {
            continue;
        }
        let uses = g.entry(name.clone()).or_default();
        for f in files(&e.path()) {
            for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
                for part in line.split("crate::").skip(1) {
                    let dep: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !dep.is_empty() && dep != name {
                        uses.entry(dep).or_insert_with(|| format!("{}:{}", f.display(), i + 1));
                    }
                }
            }
        }
    }
    g
}

/// A path from `from` back to `to`, if there is one.
fn path(g: &BTreeMap<String, BTreeMap<String, String>>, from: &str, to: &str, seen: &mut Vec<String>) -> Option<Vec<String>> {
    if from == to {
        return Some(vec![to.to_string()]);
    }
    if seen.iter().any(|s| s == from) {
        return None;
    }
    seen.push(from.to_string());
    for dep in g.get(from).into_iter().flat_map(|d| d.keys()) {
        if let Some(mut p) = path(g, dep, to, seen) {
            p.insert(0, from.to_string());
            return Some(p);
        }
    }
    None
}

#[test]
fn no_module_reaches_a_module_that_reaches_it_back() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(g.len() > 10, "read the modules of src/: {:?}", g.keys());
    let mut cycles = Vec::new();
    for (m, deps) in &g {
        for (dep, at) in deps {
            if let Some(back) = path(&g, dep, m, &mut Vec::new()) {
                cycles.push(format!("{m} -> {} (first use of {dep} at {at})", back.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
