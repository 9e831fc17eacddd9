//! Actions run: commands, HTTP requests, manual steps and waits, each timed on the drill
//! clock, its outcome one line in the history and its full output in the evidence
//! (`actions/LABEL.log`), secrets redacted.
mod command;
mod http;
mod manual;
mod probe;

pub use crate::secrets::{add_secret_env, add_secrets, any as any_secret, redact, redact_file};
pub(crate) use http::{Client as HttpClient, client as http_client};
pub use manual::{mark, marks_dir};
pub use probe::{DbProbe, ProbeResult, check as check_probe};

use crate::clock::Clock;
use crate::history::{Event, EventKind, RecorderHandle};
use crate::scenario::{ActionSpec, describe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What every action of a drill shares.
#[derive(Clone)]
pub struct ActionEnv {
    /// Exported to commands: DRDRILL_RUN_ID, DRDRILL_PRIMARY, DRDRILL_NETWORK, ...
    pub vars: Vec<(String, String)>,
    pub run_id: String,
    /// The evidence folder (output goes to `actions/`).
    pub dir: PathBuf,
    pub db: Option<Arc<dyn DbProbe>>,
    /// In a drill of several services, each service's database, for the probes that name
    /// one (`service:`).
    pub dbs: Vec<(String, Arc<dyn DbProbe>)>,
}

impl std::fmt::Debug for ActionEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionEnv").field("run_id", &self.run_id).field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub ok: bool,
    pub summary: String,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    fn failed(summary: String) -> Finished {
        Finished { ok: false, summary, stdout: String::new(), stderr: String::new() }
    }
    fn ok(summary: String) -> Finished {
        Finished { ok: true, summary, stdout: String::new(), stderr: String::new() }
    }
}

/// A finished action on the drill clock.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub started_ns: u64,
    pub ended_ns: u64,
    /// When it took effect: the confirmation for a manual step, else the start.
    pub at_ns: u64,
    /// `<what> -> <result> (<ms> ms)`, redacted.
    pub detail: String,
}

/// Runs `a` once; `label` names its output file and its `drdrill mark` label.
pub async fn perform(a: &ActionSpec, label: &str, env: &ActionEnv, clock: &Clock) -> Outcome {
    let started_ns = clock.now_ns();
    let timeout = Duration::from_millis(a.timeout_ms());
    let label = a.name.clone().unwrap_or_else(|| label.to_string());
    let f = if let Some(c) = &a.command {
        command::run(c, env, timeout).await
    } else if let Some(h) = &a.http {
        http::run(h, timeout).await
    } else if let Some(text) = &a.manual {
        manual::run(text, &label, &env.run_id, timeout).await
    } else if let Some(p) = &a.wait {
        probe::wait(p, env, timeout).await
    } else if let Some(q) = &a.sql {
        probe::sql(q, env, timeout).await
    } else if a.dns.is_some() {
        Finished::failed("a `dns` step moves a record only among failover steps".into())
    } else {
        Finished::failed("empty action".into())
    };
    let ended_ns = clock.now_ns();
    save_output(env, &label, &f);
    let at_ns = if a.manual.is_some() { ended_ns } else { started_ns };
    let took = (ended_ns - started_ns) / 1_000_000;
    let verdict = if f.ok { "ok" } else { "FAILED" };
    let detail = redact(&format!("{} -> {verdict}: {} ({took} ms)", describe(a), f.summary));
    Outcome { ok: f.ok, started_ns, ended_ns, at_ns, detail }
}

fn save_output(env: &ActionEnv, label: &str, f: &Finished) {
    if f.stdout.is_empty() && f.stderr.is_empty() {
        return;
    }
    let dir = env.dir.join("actions");
    let _ = std::fs::create_dir_all(&dir);
    let text = format!("# {label}\n## stdout\n{}\n## stderr\n{}\n", f.stdout, f.stderr);
    let _ = std::fs::write(dir.join(format!("{label}.log")), redact(&text));
}

/// Runs `a` and records it as an `action` (or `action-failed`) event.
pub async fn perform_recorded(a: &ActionSpec, label: &str, env: &ActionEnv, rec: &RecorderHandle, fault: Option<usize>) -> Outcome {
    let o = perform(a, label, env, &rec.clock).await;
    let kind = if o.ok { EventKind::Action } else { EventKind::ActionFailed };
    let detail = format!("{label}: {}", o.detail);
    rec.record(Event {
        service: None,
        t_ns: o.at_ns,
        kind,
        fault,
        node: None,
        detail,
        applied_ns: Some(o.ended_ns),
        applied_from_ns: Some(o.started_ns),
    })
    .await;
    o
}
