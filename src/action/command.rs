//! `command` actions: an argv or a shell line on the drdrill host, in its own process
//! group (a timeout kills the whole group), with the drill's facts in its environment.
use super::{ActionEnv, Finished};
use crate::scenario::CommandLine;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Output kept per stream; the rest is counted, not stored.
const KEEP: usize = 1 << 20;

pub async fn run(c: &CommandLine, env: &ActionEnv, timeout: Duration) -> Finished {
    let mut cmd = match c {
        CommandLine::Argv(v) => {
            let mut cmd = tokio::process::Command::new(&v[0]);
            cmd.args(&v[1..]);
            cmd
        }
        CommandLine::Shell(s) => {
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c").arg(s);
            cmd
        }
    };
    cmd.envs(env.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => return Finished::failed(format!("could not start `{}`: {e}", c.text())),
    };
    let pid = child.id();
    let (mut out, mut err) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let read = async {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let _ = tokio::join!(read_capped(&mut out, &mut o), read_capped(&mut err, &mut e));
        (o, e)
    };
    let waited = tokio::time::timeout(timeout, async { tokio::join!(child.wait(), read) }).await;
    match waited {
        Ok((status, (o, e))) => {
            let (stdout, stderr) = (String::from_utf8_lossy(&o).into_owned(), String::from_utf8_lossy(&e).into_owned());
            let code = status.ok().and_then(|s| s.code());
            let ok = code == Some(0);
            let what = match code {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".to_string(),
            };
            Finished { ok, summary: format!("{what}{}", tail(&stdout, &stderr)), stdout, stderr }
        }
        Err(_) => {
            if let Some(pid) = pid {
                // the whole group: a shell's children die with it
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            let _ = child.wait().await;
            Finished::failed(format!("timed out after {} ms (process group killed)", timeout.as_millis()))
        }
    }
}

async fn read_capped(r: &mut (impl AsyncReadExt + Unpin), into: &mut Vec<u8>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if into.len() < KEEP {
            into.extend_from_slice(&buf[..n.min(KEEP - into.len())]);
        }
    }
}

/// `: <last line of stderr, else stdout>` for a one-line summary.
fn tail(stdout: &str, stderr: &str) -> String {
    let last = |s: &str| s.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().chars().take(200).collect::<String>());
    match last(stderr).or_else(|| last(stdout)) {
        Some(l) => format!(": {l}"),
        None => String::new(),
    }
}
