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

/// What a folder's `mod.rs` re-exports: item -> the module it comes from.
fn re_exports(mod_rs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let flat = mod_rs.replace('\n', " ");
    for stmt in flat.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else { continue };
        let Some((module, items)) = rest.split_once("::") else { continue };
        let items = items.trim_matches(|c| c == '{' || c == '}' || c == ' ');
        for item in items.split(',').map(|i| i.split(" as ").last().unwrap_or("").trim()).filter(|i| !i.is_empty()) {
            out.insert(item.to_string(), module.to_string());
        }
    }
    out
}

/// The entries of `src/<folder>/` (files, and sub-folders as one entry each), each with
/// the entries it reaches through `crate::<folder>::` or, from a file of its own, `super::`.
fn folder_graph(folder: &str) -> (BTreeMap<String, BTreeMap<String, String>>, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
    let exports = re_exports(&std::fs::read_to_string(root.join("mod.rs")).unwrap());
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut subfolders = Vec::new();
    let entries: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).collect();
    let names: Vec<String> = entries.iter().map(|p| p.file_stem().unwrap().to_string_lossy().to_string()).collect();
    let resolve = |name: &str| -> Option<String> {
        if names.iter().any(|n| n == name) && name != "mod" {
            return Some(name.to_string());
        }
        exports.get(name).cloned()
    };
    for (path, name) in entries.iter().zip(&names) {
        if name == "mod" {
            continue;
        }
        let nested = path.is_dir();
        if nested {
            subfolders.push(name.clone());
        }
        let uses = g.entry(name.clone()).or_default();
        for f in files(path) {
            let from_top = f.parent() == Some(root.as_path());
            for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
                let mut hits = names_after(line, &format!("crate::{folder}::"));
                if from_top {
                    hits.extend(names_after(line, "super::"));
                } else if f.parent().and_then(|p| p.parent()) == Some(root.as_path()) {
                    hits.extend(names_after(line, "super::super::"));
                }
                for dep in hits.iter().filter_map(|h| resolve(h)).filter(|d| d != name) {
                    uses.entry(dep).or_insert_with(|| format!("{}:{}", f.display(), i + 1));
                }
            }
        }
    }
    (g, subfolders)
}

#[test]
fn no_import_cycle_leaves_an_engine_folder() {
    let (g, engines) = folder_graph("stack");
    assert!(engines.len() >= 3, "read the engine folders of src/stack/: {engines:?}");
    let mut cycles = Vec::new();
    for engine in &engines {
        for (dep, at) in g.get(engine).into_iter().flatten() {
            if let Some(back) = path(&g, dep, engine, &mut Vec::new()) {
                cycles.push(format!("{engine} -> {} (first use of {dep} at {at})", back.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles through an engine folder of src/stack/:\n{}", cycles.join("\n"));
}

/// The string literals of a Rust file, each with its line (comments skipped).
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let (mut out, mut cur, mut line, mut start) = (Vec::new(), None::<String>, 1, 1);
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        match (&mut cur, c) {
            (Some(s), '\\') => {
                if let Some(n) = chars.next() {
                    s.push(n);
                    line += usize::from(n == '\n');
                }
            }
            (Some(s), '"') => {
                out.push((start, std::mem::take(s)));
                cur = None;
            }
            (Some(s), c) => s.push(c),
            (None, '/') if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            (None, '\'') => {
                // a char literal ('"', '\'') or a lifetime: skip a char literal whole
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\\") {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            (None, '"') => {
                cur = Some(String::new());
                start = line;
            }
            _ => {}
        }
    }
    out
}

/// Whether `text` names `kind` as a word of its own (`mariadb` in `the mariadb stack`,
/// not in `mariadb-mha` or `drdrill/mariadb:10.11`).
fn names_kind(text: &str, kind: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '/';
    text.match_indices(kind).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + kind.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(|c| word(c) || c == ':')
    })
}

/// Where a kind's name may be written: its kinds file, its engine's folder (an external
/// stack's driver file), and the arms of `driver_for`.
fn allowed(rel: &str, line: usize, kinds_file: &str, driver_for: &std::ops::Range<usize>) -> bool {
    let stem = kinds_file.trim_start_matches("src/scenario/kinds/").trim_end_matches(".rs");
    rel == kinds_file
        || rel.starts_with(&format!("src/stack/{stem}/"))
        || rel == format!("src/stack/{stem}.rs")
        || (rel == "src/stack/mod.rs" && driver_for.contains(&line))
}

#[test]
fn a_kind_is_named_only_in_its_kinds_file_its_engine_folder_and_driver_for() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources: Vec<(String, String)> = files(&root.join("src"))
        .into_iter()
        .map(|f| (f.strip_prefix(root).unwrap().display().to_string(), std::fs::read_to_string(&f).unwrap()))
        .collect();
    let stack_mod = &sources.iter().find(|(r, _)| r == "src/stack/mod.rs").unwrap().1;
    let first = stack_mod.lines().position(|l| l.contains("pub fn driver_for")).expect("driver_for in src/stack/mod.rs") + 1;
    let last = first + stack_mod.lines().skip(first).position(|l| l == "}").unwrap_or(0) + 1;
    let driver_for = first..last + 1;
    let mut found = Vec::new();
    for kind in drdrill::scenario::KINDS.map(|k| k.name()) {
        let declared = format!("KindInfo::bare(\n        \"{kind}\"");
        let kinds_file = sources
            .iter()
            .find(|(r, s)| {
                r.starts_with("src/scenario/kinds/") && (s.contains(&format!("KindInfo::bare(\"{kind}\"")) || s.contains(&declared))
            })
            .map(|(r, _)| r.clone())
            .unwrap_or_else(|| panic!("no kinds file declares {kind}"));
        for (rel, src) in &sources {
            for (line, lit) in string_literals(src) {
                if lit == kind && !allowed(rel, line, &kinds_file, &driver_for) {
                    found.push(format!("{rel}:{line}: \"{kind}\" (its places: {kinds_file}, its engine folder, driver_for)"));
                }
            }
        }
    }
    for (rel, src) in &sources {
        if rel.starts_with("src/scenario/kinds/") {
            continue;
        }
        for (i, l) in src.lines().enumerate() {
            if l.contains("StackKind::") && l.split("StackKind::").skip(1).any(|r| r.starts_with(|c: char| c.is_ascii_uppercase())) {
                found.push(format!("{rel}:{}: a kind named as a variant: {}", i + 1, l.trim()));
            }
        }
        // tests may spell out the message they expect
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        for (line, lit) in string_literals(code) {
            let named: Vec<&str> = drdrill::scenario::KINDS.iter().map(|k| k.name()).filter(|k| names_kind(&lit, k)).collect();
            if named.len() > 1 {
                found.push(format!("{rel}:{line}: a list of kinds written by hand ({}): build it from KINDS", named.join(", ")));
            } else if let Some(k) = named.iter().find(|k| lit.contains(&format!("kind: {k}"))) {
                found.push(format!("{rel}:{line}: a scenario of kind {k} written by hand: name the kind from KINDS"));
            }
        }
    }
    assert!(found.is_empty(), "kinds named outside their places:\n{}", found.join("\n"));
}

#[test]
fn string_literals_and_kind_words_are_read_as_written() {
    let lits = string_literals("let a = \"x \\\"y\\\"\"; // \"not\"\nlet c = '\"'; f(\"b\");");
    assert_eq!(lits, [(1, "x \"y\"".to_string()), (2, "b".to_string())]);
    assert!(names_kind("a mariadb stack", "mariadb"));
    assert!(!names_kind("a mariadb-mha stack", "mariadb"));
    assert!(!names_kind("drdrill/mariadb:10.11", "mariadb"));
}

/// Whether `line` tests a value against a range with both ends written as numbers
/// (`(1..=3600).contains(&v)`, `!(0.0..=1.0).contains(&t)`).
fn literal_range_check(line: &str) -> bool {
    line.match_indices("..=").any(|(i, _)| {
        let before = line[..i].chars().next_back().is_some_and(|c| c.is_ascii_digit());
        let after = line[i + 3..].chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-');
        before && after && line[i..].contains(").contains(")
    })
}

/// Every bound on a scenario's numbers is in scenario/bounds.rs, where the list of every
/// key in docs/scenarios.md reads it: no other file of the validator writes one.
#[test]
fn the_validator_bounds_numbers_only_through_its_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for f in files(&root.join("src/scenario")) {
        if f.ends_with("bounds.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // the code, not its unit tests
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            if line.contains("must be between") || line.contains("must be above") || literal_range_check(line) {
                found.push(format!("{}:{}: {}", f.strip_prefix(root).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "bounds written outside scenario/bounds.rs:\n{}", found.join("\n"));
    assert!(literal_range_check("if !(1..=3600).contains(&t) {") && !literal_range_check("(1..=count).contains(&n)"));
}

/// A file's code without its unit tests and comments: what it imports to build.
fn code_of(text: &str) -> String {
    // the unit tests are the file's last item: a `#[cfg(test)]` module with a body
    let tests = text.match_indices("#[cfg(test)]\n").map(|(i, _)| i).find(|&i| {
        let next = text[i..].lines().nth(1).unwrap_or_default().trim();
        (next.starts_with("mod ") || (next.starts_with("pub") && next.contains(" mod "))) && next.ends_with('{')
    });
    let text = &text[..tests.unwrap_or(text.len())];
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The names a path reaches after `prefix`: one (`super::plan::x` gives `plan`), or the
/// first name of each part of a `{…}` group (`super::{plan::X, Scene}` gives `plan`, `Scene`).
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || (prefix == "super::" && c == ':')) {
            continue; // `super::super::`, or a longer path ending in this prefix
        }
        let rest = &code[i + prefix.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(ident(rest));
            continue;
        };
        let (mut depth, mut part) = (0, String::new());
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => out.push(ident(&std::mem::take(&mut part))),
                _ => {}
            }
            if depth > 0 || c != ',' {
                part.push(c);
            }
        }
        out.push(ident(&part));
    }
    out.into_iter().filter(|n| !n.is_empty() && n != "self" && n != "super").collect()
}

/// The top-level items a file declares visible to its siblings (`pub`, `pub(crate)`,
/// `pub(super)` fn, struct, enum, trait, type, const, static).
fn declared(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let Some(rest) = line.strip_prefix("pub") else { continue };
        let rest = rest.trim_start_matches(|c| c != ' ').trim_start();
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        for kw in ["fn ", "struct ", "enum ", "trait ", "type ", "const ", "static "] {
            if let Some(name) = rest.strip_prefix(kw) {
                out.push(name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    out
}

/// The import graph between the files of one folder: file -> (sibling -> the names that tie
/// them). `files` holds each file's stem and text (not mod.rs), `mod_rs` the folder's
/// mod.rs, `path` the folder as `crate::` spells it (`runner`, `stack::redis`). F reaches G
/// when F names `super::G`, `crate::<path>::G`, or an item through `super::` (or that
/// `crate::` path) that G declares or mod.rs re-exports from G.
fn sibling_graph(path: &str, files: &BTreeMap<String, String>, mod_rs: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let exports = re_exports(&code_of(mod_rs).replace("pub(crate) use ", "pub use ").replace("pub(super) use ", "pub use "));
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (stem, text) in files {
        for item in declared(&code_of(text)) {
            owner.entry(item).or_insert_with(|| stem.clone());
        }
    }
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (stem, text) in files {
        let code = code_of(text);
        let mut names = names_after(&code, "super::");
        if !path.is_empty() {
            names.extend(names_after(&code, &format!("crate::{path}::")));
        }
        let uses = g.entry(stem.clone()).or_default();
        for name in names {
            let to = if files.contains_key(&name) { Some(&name) } else { exports.get(&name).or_else(|| owner.get(&name)) };
            if let Some(to) = to.filter(|t| *t != stem && files.contains_key(*t)) {
                let tied = uses.entry(to.clone()).or_default();
                if !tied.contains(&name) {
                    tied.push(name);
                }
            }
        }
    }
    g
}

/// Each import cycle of a graph, as its edges (`a -> b (Names)`), once per set of files.
fn cycles_of(g: &BTreeMap<String, BTreeMap<String, Vec<String>>>) -> Vec<String> {
    let plain: BTreeMap<String, BTreeMap<String, String>> =
        g.iter().map(|(f, deps)| (f.clone(), deps.keys().map(|d| (d.clone(), String::new())).collect())).collect();
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for f in g.keys() {
        // the files on a cycle through f: those it reaches that reach it back
        let mut knot: Vec<String> = g
            .keys()
            .filter(|o| *o != f && path(&plain, f, o, &mut Vec::new()).is_some() && path(&plain, o, f, &mut Vec::new()).is_some())
            .cloned()
            .collect();
        if knot.is_empty() {
            continue;
        }
        knot.push(f.clone());
        knot.sort();
        if seen.contains(&knot) {
            continue;
        }
        let edges: Vec<String> = knot
            .iter()
            .flat_map(|a| g[a].iter().filter(|(b, _)| knot.contains(b)).map(move |(b, names)| format!("{a} -> {b} ({})", names.join(", "))))
            .collect();
        out.push(format!("{}: {}", knot.join(", "), edges.join("; ")));
        seen.push(knot);
    }
    out
}

/// The files of each folder of src/ (cfg(test)-only files left out), with the folder's
/// mod.rs and its path as `crate::` spells it.
fn folders(src: &Path) -> Vec<(String, BTreeMap<String, String>, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mod_rs = std::fs::read_to_string(dir.join("mod.rs")).unwrap_or_default();
        let mut files = BTreeMap::new();
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !["mod", "lib", "main"].contains(&stem.as_str()) {
                let test_only =
                    mod_rs.contains(&format!("#[cfg(test)]\nmod {stem};")) || mod_rs.contains(&format!("#[cfg(test)]\npub mod {stem};"));
                if !test_only {
                    files.insert(stem, std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let rel = dir.strip_prefix(src).unwrap().iter().map(|c| c.to_string_lossy().to_string()).collect::<Vec<_>>().join("::");
        out.push((rel, files, mod_rs));
    }
    out
}

#[test]
fn no_file_reaches_a_sibling_that_reaches_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let all = folders(&src);
    assert!(all.len() > 15, "read the folders of src/: {}", all.len());
    let mut found = Vec::new();
    for (path, files, mod_rs) in &all {
        let at = if path.is_empty() { "src".to_string() } else { format!("src/{}", path.replace("::", "/")) };
        found.extend(cycles_of(&sibling_graph(path, files, mod_rs)).into_iter().map(|c| format!("{at}: {c}")));
    }
    assert!(found.is_empty(), "import cycles between the files of a folder (types below, behaviour above):\n{}", found.join("\n"));
}

/// The check finds a planted knot, by each way a file can name a sibling, and nothing in
/// a folder whose files point one way.
#[test]
fn a_planted_cycle_between_siblings_is_found_and_named() {
    let folder = |files: &[(&str, &str)]| files.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect::<BTreeMap<_, _>>();
    let mod_rs = "mod scene;\nmod plan;\nmod promote;\npub use plan::{FailoverPlan, Step};\n";
    let one_way = folder(&[
        ("scene", "pub struct Scene;\n"),
        ("plan", "use super::scene::Scene;\npub struct FailoverPlan;\n"),
        ("promote", "use super::{plan::Step, Scene};\npub fn promote() {}\n#[cfg(test)]\nmod tests {\n    use super::super::promote;\n}\n"),
    ]);
    assert_eq!(cycles_of(&sibling_graph("failover", &one_way, mod_rs)), Vec::<String>::new());
    for knot in [
        "use super::promote::promote;\npub struct Scene;\n",
        "pub struct Scene;\nfn f() { crate::failover::promote::promote() }\n",
        "use super::{FailoverPlan};\npub struct Scene;\n",
        "pub struct Scene(super::Step);\n",
    ] {
        let mut knotted = one_way.clone();
        knotted.insert("scene".into(), knot.into());
        let found = cycles_of(&sibling_graph("failover", &knotted, mod_rs));
        assert_eq!(found.len(), 1, "{knot}: {found:?}");
        assert!(found[0].contains("scene -> "), "{knot}: {found:?}");
    }
    // a comment or a unit test naming a sibling ties nothing
    let mut commented = one_way.clone();
    commented.insert("scene".into(), "/// see [`super::promote`]\npub struct Scene;\n".into());
    assert_eq!(cycles_of(&sibling_graph("failover", &commented, mod_rs)), Vec::<String>::new());
}

/// Every module file of src/ as `crate::` spells its module (`scenario::kinds` for
/// src/scenario/kinds/mod.rs, `scenario::kinds::redis`), with its text; files only unit
/// tests compile are left out.
fn module_files(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (rel, files, mod_rs) in folders(src) {
        if !rel.is_empty() {
            out.insert(rel.clone(), mod_rs);
        }
        for (stem, text) in files {
            out.insert(if rel.is_empty() { stem } else { format!("{rel}::{stem}") }, text);
        }
    }
    out
}

/// Each path `code` names from `crate::`, `super::` or `self::`, made absolute from module
/// `here` (`super::super::model::X` in `scenario::kinds::redis` is `scenario::model::X`);
/// a `{…}` group gives each of its parts.
fn absolute_paths(code: &str, here: &str) -> Vec<Vec<String>> {
    let here: Vec<String> = here.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", here[..here.len().saturating_sub(1)].to_vec()), ("self::", here.clone())] {
        for (i, _) in code.match_indices(prefix) {
            if code[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue; // part of a longer path (`super::super::`), read from its start
            }
            out.extend(chains(&code[i + prefix.len()..]).into_iter().map(|chain| {
                let mut abs = base.clone();
                for seg in chain {
                    if seg == "super" {
                        abs.pop();
                    } else {
                        abs.push(seg);
                    }
                }
                abs
            }));
        }
    }
    out
}

/// The `a::b::c` chains at the start of `rest`: one, or one per part of a `{…}` group.
fn chains(rest: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '*').collect::<String>();
    let (mut chain, mut rest) = (Vec::new(), rest);
    loop {
        let name = ident(rest);
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        chain.push(name);
        let Some(next) = rest.strip_prefix("::") else { break };
        rest = next;
    }
    let Some(group) = rest.strip_prefix('{') else { return vec![chain] };
    let inner = &group[..group.find('}').unwrap_or(group.len())];
    inner
        .split(',')
        .map(|part| [chain.clone(), chains(part.trim()).into_iter().next().unwrap_or_default()].concat())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The import graph between module files across every folder: module -> (module -> the
/// paths that tie them). A path reaches the deepest module file it names; an item a
/// folder's mod.rs re-exports from a file of its own reaches that file.
fn module_graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (m, text) in modules {
        let uses = g.entry(m.clone()).or_default();
        for abs in absolute_paths(&code_of(text), m) {
            let Some(to) = reached(modules, &abs).filter(|t| t != m) else { continue };
            let tied = uses.entry(to).or_default();
            let name = abs.join("::");
            if !tied.contains(&name) {
                tied.push(name);
            }
        }
    }
    g
}

/// The module file `abs` reaches: its deepest module, or, for an item that module's mod.rs
/// re-exports from a file of its own (by name, or by a glob and the file's declaration),
/// that file.
fn reached(modules: &BTreeMap<String, String>, abs: &[String]) -> Option<String> {
    let n = (1..=abs.len()).rev().find(|&n| modules.contains_key(&abs[..n].join("::")))?;
    let module = abs[..n].join("::");
    // the module itself, or a glob of it (`use super::model::*`: its mod.rs)
    let Some(item) = abs.get(n).filter(|i| *i != "*") else { return Some(module) };
    let code = code_of(&modules[&module]).replace("pub(crate) use ", "pub use ").replace("pub(super) use ", "pub use ");
    let child = |c: &str| Some(format!("{module}::{c}")).filter(|f| modules.contains_key(f));
    if let Some(from) = re_exports(&code).get(item).and_then(|c| child(c)) {
        return Some(from);
    }
    let globbed = re_exports(&code).into_iter().filter(|(k, _)| k == "*").filter_map(|(_, c)| child(&c));
    let globs: Vec<String> =
        code.split(';').filter_map(|s| s.trim().strip_prefix("pub use ")?.strip_suffix("::*")).filter_map(child).collect();
    let owner = globbed.chain(globs).find(|f| declared(&code_of(&modules[f])).contains(item));
    Some(owner.unwrap_or(module))
}

#[test]
fn no_module_file_reaches_one_that_reaches_it_back_across_folders() {
    let modules = module_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(modules.contains_key("scenario::kinds::redis") && modules.contains_key("scenario::model"), "read the nested modules");
    let found = cycles_of(&module_graph(&modules));
    assert!(
        found.is_empty(),
        "import circles between module files, nested folders included (types below, behaviour above):\n{}",
        found.join("\n")
    );
}

/// A circle through a folder's mod.rs and a file of another folder is found, and one
/// through an item re-exported from a nested file; the same types placed below their
/// rules tie nothing back.
#[test]
fn a_planted_circle_across_nested_folders_is_found_and_named() {
    let tree = |files: &[(&str, &str)]| files.iter().map(|(m, t)| (m.to_string(), t.to_string())).collect::<BTreeMap<_, _>>();
    let knotted = tree(&[
        ("s", "mod model;\nmod region;\n"),
        ("s::model", "mod stack;\npub use stack::*;\npub struct Scenario { pub dns: Option<super::region::DnsSpec> }\n"),
        ("s::model::stack", "pub struct StackSpec;\n"),
        ("s::region", "use super::model::Scenario;\npub struct DnsSpec;\npub fn check(s: &Scenario) {}\n"),
    ]);
    let found = cycles_of(&module_graph(&knotted));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("s::model, s::region: ") && found[0].contains("s::model -> s::region (s::region::DnsSpec)"), "{found:?}");
    let one_way = tree(&[
        ("s", "mod model;\nmod region;\n"),
        ("s::model", "mod network;\npub use network::*;\npub struct Scenario { pub dns: Option<DnsSpec> }\n"),
        ("s::model::network", "pub struct DnsSpec;\n"),
        ("s::region", "use super::model::{DnsSpec, Scenario};\npub fn check(s: &Scenario) {}\n"),
    ]);
    assert_eq!(cycles_of(&module_graph(&one_way)), Vec::<String>::new());
    // through a re-export: a model file naming a kind's settings, the kind's file the model
    let through = tree(&[
        ("s::kinds", "mod redis;\npub use redis::SentinelSpec;\n"),
        ("s::kinds::redis", "use crate::s::model::stack::StackSpec;\npub struct SentinelSpec;\n"),
        ("s::model::stack", "use crate::s::kinds::SentinelSpec;\npub struct StackSpec;\n"),
    ]);
    let found = cycles_of(&module_graph(&through));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("s::model::stack -> s::kinds::redis (s::kinds::SentinelSpec)"), "{found:?}");
}
