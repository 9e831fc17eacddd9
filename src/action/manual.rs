//! `manual` actions: a person does the step (pulls a cable, clicks a console) and confirms
//! with Enter in drdrill's terminal or with `drdrill mark RUN_ID LABEL` from another shell.
use super::Finished;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where a running drill looks for marks: `$DRDRILL_STATE` or the temp dir, `drdrill-runs/RUN_ID`.
pub fn marks_dir(run_id: &str) -> PathBuf {
    let base = std::env::var_os("DRDRILL_STATE").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    base.join("drdrill-runs").join(run_id)
}

/// Lines typed on a terminal stdin, read by one thread for the whole process.
static LINES: Mutex<Option<mpsc::UnboundedReceiver<()>>> = Mutex::new(None);

fn stdin_lines() -> Option<mpsc::UnboundedReceiver<()>> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let mut slot = LINES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rx) = slot.take() {
        return Some(rx);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    Some(rx)
}

fn give_back(rx: Option<mpsc::UnboundedReceiver<()>>) {
    if let Some(rx) = rx {
        *LINES.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx);
    }
}

pub async fn run(instruction: &str, label: &str, run_id: &str, timeout: Duration) -> Finished {
    let dir = marks_dir(run_id);
    let mark = dir.join(label);
    let _ = std::fs::remove_file(&mark);
    let mut lines = stdin_lines();
    if let Some(rx) = lines.as_mut() {
        while rx.try_recv().is_ok() {} // typed before the step was asked for
    }
    let how = if lines.is_some() { "press Enter when done, or run" } else { "when done, run" };
    eprintln!("\n>>> MANUAL STEP `{label}`: {instruction}\n>>> {how}: drdrill mark {run_id} {label}\n");
    let poll = async {
        loop {
            if mark.exists() {
                let _ = std::fs::remove_file(&mark);
                return "confirmed by drdrill mark";
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let typed = async {
        match lines.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(()) => "confirmed in the terminal",
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    };
    let r = tokio::time::timeout(timeout, async {
        tokio::select! {
            w = poll => w,
            w = typed => w,
        }
    })
    .await;
    give_back(lines);
    match r {
        Ok(how) => Finished { ok: true, summary: how.to_string(), stdout: String::new(), stderr: String::new() },
        Err(_) => Finished::failed(format!("nobody confirmed within {} ms", timeout.as_millis())),
    }
}

/// `drdrill mark RUN_ID LABEL`: confirms a manual step of a drill running on this host.
pub fn mark(run_id: &str, label: &str) -> crate::error::Result<()> {
    use crate::error::Error;
    let dir = marks_dir(run_id);
    let bad = |s: &str| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bad(run_id) || bad(label) {
        return Err(Error::usage("run id and label are letters, digits, '-' or '_'"));
    }
    if !dir.is_dir() {
        return Err(Error::usage(format!("no drill with run id {run_id} is running on this host"))
            .hint(format!("looked for {}; the run id is printed when a drill starts", dir.display())));
    }
    std::fs::write(dir.join(label), chrono::Utc::now().to_rfc3339())
        .map_err(|e| Error::infra(format!("failed to write the mark in {}", dir.display())).cause(e))
}
