//! Maps a path in a scenario (`faults[1].duration_ms`) to the line and column where it is
//! written, for semantic errors that serde cannot place. Block-style YAML only; falls back
//! to the nearest located parent.

/// What is wrong with a scenario, and where: the path to the key and the message.
pub type Problem = (Vec<Seg>, String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    /// A key the scenario chose (a service's name).
    Name(String),
    Index(usize),
}

/// 1-based (line, column) of `path` in `src`.
pub fn locate(src: &str, path: &[Seg]) -> (usize, usize) {
    let lines: Vec<&str> = src.lines().collect();
    let mut range = 0..lines.len();
    let mut found = (1, 1);
    for seg in path {
        let hit = match seg {
            Seg::Key(k) => find_key(&lines, range.clone(), k),
            Seg::Name(k) => find_key(&lines, range.clone(), k),
            Seg::Index(i) => find_item(&lines, range.clone(), *i),
        };
        match hit {
            Some((line, col, sub)) => {
                found = (line + 1, col + 1);
                range = sub;
            }
            None => break,
        }
    }
    found
}

fn meaningful(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

fn raw_indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Column of the text after any leading spaces and "- " markers.
fn key_indent(line: &str) -> usize {
    let mut col = raw_indent(line);
    let mut rest = &line[col..];
    while let Some(r) = rest.strip_prefix("- ") {
        let r2 = r.trim_start_matches(' ');
        col += rest.len() - r2.len();
        rest = r2;
    }
    col
}

fn find_key(lines: &[&str], range: std::ops::Range<usize>, key: &str) -> Option<(usize, usize, std::ops::Range<usize>)> {
    let level = range.clone().filter(|&i| meaningful(lines[i])).map(|i| key_indent(lines[i])).min()?;
    for i in range.clone() {
        let l = lines[i];
        if !meaningful(l) || key_indent(l) != level {
            continue;
        }
        let text = &l[level..];
        if text.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':')) {
            let raw = raw_indent(l);
            let mut end = i + 1;
            while end < range.end {
                let n = lines[end];
                if meaningful(n) {
                    let inside = key_indent(n) > level || (raw_indent(n) == raw && n.trim_start().starts_with("- ") && raw == level);
                    if !inside {
                        break;
                    }
                }
                end += 1;
            }
            return Some((i, level, i + 1..end));
        }
    }
    None
}

fn find_item(lines: &[&str], range: std::ops::Range<usize>, index: usize) -> Option<(usize, usize, std::ops::Range<usize>)> {
    let mut items = range.clone().filter(|&i| meaningful(lines[i]) && lines[i].trim_start().starts_with("- "));
    let first = items.next()?;
    let level = raw_indent(lines[first]);
    let starts: Vec<usize> = std::iter::once(first).chain(items).filter(|&i| raw_indent(lines[i]) == level).collect();
    let start = *starts.get(index)?;
    let end = starts
        .get(index + 1)
        .copied()
        .unwrap_or_else(|| (start + 1..range.end).find(|&j| meaningful(lines[j]) && raw_indent(lines[j]) < level).unwrap_or(range.end));
    Some((start, key_indent(lines[start]), start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    const SRC: &str = "name: x\nstack:\n  kind: postgres\n  replicas: 2\nfaults:\n  - at_ms: 1\n    kind: kill\n  - at_ms: 2\n    kind: pause\n    target: primary\ntargets:\n  rto_ms: 5\n";

    #[test]
    fn finds_nested_keys_and_items() {
        assert_eq!(locate(SRC, &[Seg::Key("stack"), Seg::Key("replicas")]), (4, 3));
        assert_eq!(locate(SRC, &[Seg::Key("faults"), Seg::Index(1)]), (8, 5));
        assert_eq!(locate(SRC, &[Seg::Key("faults"), Seg::Index(1), Seg::Key("target")]), (10, 5));
        assert_eq!(locate(SRC, &[Seg::Key("faults"), Seg::Index(0), Seg::Key("kind")]), (7, 5));
        assert_eq!(locate(SRC, &[Seg::Key("targets"), Seg::Key("rto_ms")]), (12, 3));
    }

    #[test]
    fn missing_key_falls_back_to_parent() {
        assert_eq!(locate(SRC, &[Seg::Key("faults"), Seg::Index(1), Seg::Key("duration_ms")]), (8, 5));
    }

    #[test]
    fn unindented_sequences() {
        let src = "faults:\n- at_ms: 1\n  kind: kill\n- at_ms: 2\n  kind: stop\nx: 1\n";
        assert_eq!(locate(src, &[Seg::Key("faults"), Seg::Index(1), Seg::Key("kind")]), (5, 3));
        assert_eq!(locate(src, &[Seg::Key("x")]), (6, 1));
    }
}
