//! Probes: one attempt of a command, a request, a writable-primary check or a lag check;
//! `wait` repeats one until it holds.
use super::{ActionEnv, Finished};
use crate::scenario::ProbeSpec;
use std::time::Duration;

/// What probes need from the database (the runner implements it with the stack's driver).
#[async_trait::async_trait]
pub trait DbProbe: Send + Sync {
    /// Ok when the clients' endpoint accepts a connection and is a writable primary.
    async fn writable(&self, timeout: Duration) -> Result<(), String>;
    /// The largest replication lag, in bytes, of the replicas the primary streams to.
    async fn max_lag(&self, timeout: Duration) -> Result<u64, String>;
    /// Runs `run` on the stack's node `node` as the superuser: the server's answer, in its
    /// words. Err(None) when the stack has no such node.
    async fn sql(&self, _node: &str, _run: &str) -> Result<String, Option<String>> {
        Err(None)
    }
}

/// A `sql` action: on the stack (of the drill's services) that has the node.
pub async fn sql(q: &crate::scenario::SqlStep, env: &ActionEnv, timeout: Duration) -> Finished {
    let run = async {
        for db in env.db.iter().chain(env.dbs.iter().map(|(_, d)| d)) {
            match db.sql(&q.node, &q.run).await {
                Ok(answer) => return Finished { ok: true, summary: answer.clone(), stdout: answer, stderr: String::new() },
                Err(Some(e)) => return Finished::failed(e),
                Err(None) => continue,
            }
        }
        Finished::failed(format!("no stack of the drill has a node {}", q.node))
    };
    tokio::time::timeout(timeout, run).await.unwrap_or_else(|_| Finished::failed(format!("no answer within {} ms", timeout.as_millis())))
}

/// A probe result as results.json lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ProbeResult {
    pub probe: String,
    pub ok: bool,
    pub detail: String,
}

/// One attempt.
pub async fn check(p: &ProbeSpec, env: &ActionEnv) -> Finished {
    let timeout = Duration::from_millis(p.attempt_timeout_ms);
    if let Some(c) = &p.command {
        return super::command::run(c, env, timeout).await;
    }
    if let Some(h) = &p.http {
        return super::http::run(h, timeout).await;
    }
    let db = match &p.service {
        Some(s) => env.dbs.iter().find(|(n, _)| n == s).map(|(_, d)| d),
        None => env.db.as_ref(),
    };
    let Some(db) = db else { return Finished::failed("no database to probe yet".into()) };
    if p.write == Some(true) {
        return match tokio::time::timeout(timeout, db.writable(timeout)).await {
            Ok(Ok(())) => Finished::ok("writable primary".into()),
            Ok(Err(e)) => Finished::failed(e),
            Err(_) => Finished::failed(format!("no answer within {} ms", timeout.as_millis())),
        };
    }
    if let Some(max) = p.max_lag_bytes {
        return match tokio::time::timeout(timeout, db.max_lag(timeout)).await {
            Ok(Ok(lag)) if lag <= max => Finished::ok(format!("lag {lag} bytes")),
            Ok(Ok(lag)) => Finished::failed(format!("lag {lag} bytes > {max}")),
            Ok(Err(e)) => Finished::failed(e),
            Err(_) => Finished::failed(format!("no answer within {} ms", timeout.as_millis())),
        };
    }
    Finished::failed("empty probe".into())
}

/// Repeats `p` every `every_ms` until it holds or `timeout` passes.
pub async fn wait(p: &ProbeSpec, env: &ActionEnv, timeout: Duration) -> Finished {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let f = check(p, env).await;
        if f.ok {
            return Finished { summary: format!("held after {attempts} attempts ({})", f.summary), ..f };
        }
        let next = tokio::time::Instant::now() + Duration::from_millis(p.every_ms);
        if next > deadline {
            return Finished::failed(format!("did not hold within {} ms ({attempts} attempts; last: {})", timeout.as_millis(), f.summary));
        }
        tokio::time::sleep_until(next).await;
    }
}
