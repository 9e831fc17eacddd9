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
        write!(f, "error: {}", self.message)?;
        for c in &self.causes {
            write!(f, "\n  caused by: {c}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

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
}
