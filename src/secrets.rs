//! Secrets never reach the evidence: every text drdrill writes (history, results, action
//! output, the scenario copy, logs) and prints passes through `redact`.
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

pub const MARK: &str = "[redacted]";

/// Adds secret values (empty ones are ignored); longest first, so that a secret that
/// contains another is replaced whole.
pub fn add_secrets(values: impl IntoIterator<Item = String>) {
    let mut s = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    for v in values {
        if !v.is_empty() && !s.contains(&v) {
            s.push(v);
        }
    }
    s.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// Values of the named environment variables, as secrets.
pub fn add_secret_env(names: &[String]) {
    add_secrets(names.iter().filter_map(|n| std::env::var(n).ok()));
}

pub fn redact(text: &str) -> String {
    let s = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for v in s.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MARK);
        }
    }
    out
}

/// Whether any secret is known (callers may skip work when not).
pub fn any() -> bool {
    !SECRETS.read().unwrap_or_else(|p| p.into_inner()).is_empty()
}

/// Redacts a file in place (the scenario copy, container logs).
pub fn redact_file(path: &std::path::Path) {
    if !any() {
        return;
    }
    if let Ok(text) = std::fs::read_to_string(path) {
        let clean = redact(&text);
        if clean != text {
            let _ = std::fs::write(path, clean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_secret_wins_and_all_occurrences_go() {
        add_secrets(["s3cr3t-pw".to_string(), "s3cr3t".to_string(), String::new()]);
        assert_eq!(redact("a s3cr3t-pw b s3cr3t c"), format!("a {MARK} b {MARK} c"));
        assert_eq!(redact("nothing here"), "nothing here");
    }
}
