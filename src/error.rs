//! One user-facing error type: a message completing "failed to …", an optional hint,
//! a cause chain, and the exit code it maps to.
use std::fmt;

/// Exit codes, documented in docs/exit-codes.md.
pub mod exit {
    /// Every target met.
    pub const PASS: i32 = 0;
    /// At least one target missed.
    pub const TARGET_MISSED: i32 = 1;
    /// Bad usage or an invalid scenario file.
    pub const USAGE: i32 = 2;
    /// Infrastructure failure: Docker unreachable, image missing, stack never became healthy.
    pub const INFRA: i32 = 3;
    /// The drill ran but a check could not decide (verdict unknown).
    pub const UNKNOWN: i32 = 4;
    /// Every target met, but worse than the baseline (`--baseline`, `drdrill compare`).
    pub const REGRESSION: i32 = 5;
    /// A steady-state probe failed before the drill: nothing was injected.
    pub const STEADY_STATE: i32 = 6;
    /// Every target missed was a timing target missed while the host was disturbed inside
    /// its window (saturated, disk stalled, clients late): the runner was too busy to tell.
    pub const UNDECIDED: i32 = 7;
    /// Interrupted by SIGINT or SIGTERM (the stack is torn down).
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Scenario,
    Infra,
    Interrupted,
    SteadyState,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    pub causes: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, causes: Vec::new() }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn scenario(message: impl Into<String>) -> Self {
        Self::new(Kind::Scenario, message)
    }
    pub fn infra(message: impl Into<String>) -> Self {
        Self::new(Kind::Infra, message)
    }
    pub fn steady_state(message: impl Into<String>) -> Self {
        Self::new(Kind::SteadyState, message)
    }
    pub fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "drill interrupted")
    }
    /// Says what became of the stack after an interruption (other errors are unchanged).
    pub fn after_teardown(mut self, what: &str) -> Self {
        if self.kind == Kind::Interrupted {
            self.message = format!("{}; {what}", self.message);
        }
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Adds a cause; the whole `source()` chain of `err` is followed.
    pub fn cause(mut self, err: impl std::error::Error) -> Self {
        self.causes.push(err.to_string());
        let mut src = err.source();
        while let Some(s) = src {
            let text = s.to_string();
            if self.causes.last() != Some(&text) {
                self.causes.push(text);
            }
            src = s.source();
        }
        self
    }
    pub fn cause_text(mut self, text: impl Into<String>) -> Self {
        self.causes.push(text.into());
        self
    }
    /// Message and causes on one line, for history events.
    pub fn one_line(&self) -> String {
        std::iter::once(self.message.as_str()).chain(self.causes.iter().map(String::as_str)).collect::<Vec<_>>().join(": ")
    }
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Usage | Kind::Scenario => exit::USAGE,
            Kind::Infra => exit::INFRA,
            Kind::Interrupted => exit::INTERRUPTED,
            Kind::SteadyState => exit::STEADY_STATE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // every line cut: no message may carry a file into a log, whoever built it
        for (i, line) in self.message.lines().enumerate() {
            write!(f, "{}{}", if i == 0 { "error: " } else { "\n" }, cut_line(line, LINE_CHARS))?;
        }
        for c in &self.causes {
            for line in c.lines() {
                write!(f, "\n  caused by: {}", cut_line(line, LINE_CHARS))?;
            }
        }
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The most of the user's input an error quotes: one line, cut to this many characters.
/// An error goes into CI logs; a path pointing at a secret file must not print the secret.
pub const QUOTE_CHARS: usize = 120;
/// The longest line an error prints, whatever a parser put in it.
const LINE_CHARS: usize = 500;

/// The user's input as an error quotes it: its first line, at most `QUOTE_CHARS`
/// characters, and how much was left out.
pub fn quote(input: &str) -> String {
    let mut lines = input.lines();
    let first = lines.next().unwrap_or("");
    let more_lines = lines.count();
    let mut out: String = first.chars().take(QUOTE_CHARS).collect();
    let cut = first.chars().count().saturating_sub(QUOTE_CHARS);
    match (cut, more_lines) {
        (0, 0) => {}
        (0, n) => out.push_str(&format!("… ({n} more lines)")),
        (c, 0) => out.push_str(&format!("… ({c} more characters)")),
        (c, n) => out.push_str(&format!("… ({c} more characters, {n} more lines)")),
    }
    out
}

/// A parser's message (serde's, PromQL's), which may hold the user's input as a quoted
/// string (`invalid type: string "…", expected …`): each quoted string longer than one
/// line or `QUOTE_CHARS` is cut as `quote` cuts it, and the message itself to one line.
pub fn clip_input(msg: &str) -> String {
    // the whole document is a string (a text file given for YAML): YAML folds its lines into
    // one, so no part of it is quoted
    if let Some(rest) = msg.strip_prefix("invalid type: string \"") {
        let close = closing_quote(rest).unwrap_or(rest.len());
        return format!("the file is a text of {close} characters, not a YAML mapping of keys");
    }
    let mut out = String::with_capacity(msg.len().min(LINE_CHARS));
    let mut rest = msg;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let close = closing_quote(body).unwrap_or(body.len());
        // Rust's and Go's escapes: a `\n` inside a quoted string is a new line of the input
        let unescaped = body[..close].replace("\\n", "\n");
        out.push_str(&quote(&unescaped).replace('\n', " "));
        rest = body.get(close..).unwrap_or("");
        if let Some(r) = rest.strip_prefix('"') {
            out.push('"');
            rest = r;
        }
    }
    out.push_str(rest);
    cut_line(out.lines().next().unwrap_or(""), LINE_CHARS)
}

/// Where a `"`-quoted string whose body starts `body` ends (backslash escapes skipped).
fn closing_quote(body: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn cut_line(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}… ({} more characters)", &line[..at], line[at..].chars().count()),
        None => line.to_string(),
    }
}

/// `result.context(Kind::Infra, || format!("failed to …"))`
pub trait Context<T> {
    fn context(self, kind: Kind, msg: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error> Context<T> for std::result::Result<T, E> {
    fn context(self, kind: Kind, msg: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(kind, msg()).cause(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_message_causes_and_hint() {
        let io = std::io::Error::other("connection refused");
        let e = Error::infra("failed to reach Docker").cause(io).hint("run scripts/setup.sh");
        let text = e.to_string();
        assert!(text.starts_with("error: failed to reach Docker"));
        assert!(text.contains("\n  caused by: connection refused"));
        assert!(text.ends_with("\nhint: run scripts/setup.sh"));
        assert_eq!(e.exit_code(), exit::INFRA);
    }

    #[test]
    fn input_is_quoted_one_line_at_most_and_cut() {
        assert_eq!(quote("writers: x"), "writers: x");
        assert_eq!(quote("root:x:0:0\nsecret=hunter2\n"), "root:x:0:0… (1 more lines)");
        let long = "a".repeat(200);
        assert_eq!(quote(&long), format!("{}… (80 more characters)", "a".repeat(120)));
        let serde = format!("groups: invalid type: string \"[default]\\naws_secret_access_key = s3cr3t\\n{long}\", expected struct File");
        assert_eq!(clip_input(&serde), "groups: invalid type: string \"[default]… (2 more lines)\", expected struct File");
        assert_eq!(
            clip_input("invalid type: string \"a b c\", expected struct File"),
            "the file is a text of 5 characters, not a YAML mapping of keys"
        );
        assert_eq!(clip_input("unknown field `x`, expected `a`"), "unknown field `x`, expected `a`");
        assert_eq!(clip_input(r#"a "q\"uote" b"#), r#"a "q\"uote" b"#);
        let e = Error::scenario(format!("x {}", "b".repeat(5_000_000))).to_string();
        assert!(e.len() < 600, "{}", e.len());
    }
}
