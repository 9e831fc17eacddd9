//! One write attempt and one stall probe, as futures a writer keeps in flight.
use super::route::ClientTarget;
use crate::clock::Clock;
use crate::history::{Change, Op, Outcome};
use crate::stack::{Driver, WriteClient, WriteError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(super) type Conn = Box<dyn WriteClient>;
/// A connection, with the node it was opened to.
pub(super) type Tagged = (Arc<str>, Conn);
/// A finished attempt: the recorded op, when it started, the connection if it is still
/// good, and, when the write on it went unanswered within its timeout, the connection with
/// the write still pending on it (see `canary`).
pub(super) struct Done {
    pub op: Op,
    pub started: Instant,
    pub conn: Option<Tagged>,
    pub pending: Option<Tagged>,
}
pub(super) type Attempt = BoxFuture<'static, Done>;
/// A fresh connection, with when the probe began connecting (drill ns, and the instant),
/// or nothing.
pub(super) type Probe = BoxFuture<'static, Option<(Conn, u64, Instant)>>;
/// A connection to `node` the server answered on again, or nothing.
pub(super) type Canary = BoxFuture<'static, Option<Tagged>>;

/// One write: record `seq` of `writer` (with `key`: an update of that key to it; with
/// `change`: a change to one of the writer's records), invoked at `invoke_ns` (`started`),
/// with `timeout` for the whole attempt.
pub(super) struct Write {
    pub writer: u32,
    pub seq: u64,
    pub key: Option<u32>,
    pub change: Option<Change>,
    pub payload: Arc<str>,
    pub invoke_ns: u64,
    pub started: Instant,
    pub timeout: Duration,
}

/// Makes `write` to the target, on `conn` or a new connection; the whole attempt,
/// connecting included, has its timeout. A connect that fails or times out never sent the
/// write: `fail`. No answer once sent: `unknown`.
pub(super) fn attempt(driver: Arc<dyn Driver>, target: Arc<ClientTarget>, conn: Option<Tagged>, write: Write, clock: Clock) -> Attempt {
    let Write { writer, seq, key, mut change, payload, invoke_ns, started, timeout } = write;
    Box::pin(async move {
        let mut client = conn.filter(|(node, _)| *node == target.node).map(|c| c.1);
        let mut sent = false;
        let deadline = started + timeout;
        let result = tokio::time::timeout_at(deadline, async {
            if client.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                client = Some(driver.data().connect(target.addr, left).await.map_err(WriteError::Fail)?);
            }
            sent = true;
            let client = client.as_mut().expect("connected");
            match (key, change) {
                (Some(k), _) => client.update(k, writer, seq).await,
                (None, Some(c)) => {
                    let created = client.change_seen(writer, c, &payload).await?;
                    if let (Change::Rewrite { of, rev, .. }, true) = (c, created) {
                        change = Some(Change::Rewrite { of, rev, created });
                    }
                    Ok(())
                }
                (None, None) => client.write(writer, seq, &payload).await,
            }
        })
        .await;
        let complete_ns = clock.now_ns();
        let timed_out = result.is_err() && sent;
        let (outcome, error) = match result {
            Ok(Ok(())) => (Outcome::Ok, None),
            Ok(Err(WriteError::Fail(e))) => (Outcome::Fail, Some(e)),
            Ok(Err(WriteError::Unknown(e))) => (Outcome::Unknown, Some(e)),
            // timed out while connecting: the write was never sent
            Err(_) if !sent => (Outcome::Fail, Some("connect timed out".to_string())),
            Err(_) => (Outcome::Unknown, Some(format!("no answer within {} ms", timeout.as_millis()))),
        };
        // the node the write reached, when the client found it itself (Sentinel, HAProxy)
        let node = client.as_ref().and_then(|c| c.node()).unwrap_or_else(|| target.node.clone());
        // only a connection that just answered is worth keeping; one whose write went
        // unanswered may tell when the server answers again
        let client = client.map(|c| (target.node.clone(), c));
        let (conn, pending) = match outcome {
            Outcome::Ok => (client, None),
            _ if timed_out => (None, client),
            _ => (client.filter(|c| c.1.keeps_after_failure()), None),
        };
        let op = Op { service: None, writer, seq, key, change, invoke_ns, complete_ns, outcome, node: Some(node), error };
        Done { op, started, conn, pending }
    })
}

/// Opens a fresh connection: the data path's connect within `connect_timeout` (for an
/// engine whose connect bounds only the socket by it, PostgreSQL's, the handshake that
/// follows may take up to `handshake_timeout`), the whole within `handshake_timeout`. One
/// that does not come up is dropped without a trace (no write was sent on it). A server
/// that accepted the socket works on the handshake: dropping it at `connect_timeout` would
/// leave that work done for nothing, and a slow server (a DR node's postmaster on a busy
/// host) would spend itself on the probes that stand for its clients, never answering
/// one in time. The write made on a probe's connection is invoked when the probe began
/// (`writer.rs`).
pub(super) fn probe(
    driver: Arc<dyn Driver>,
    target: Arc<ClientTarget>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    clock: Clock,
) -> Probe {
    Box::pin(async move {
        let (began_ns, began) = (clock.now_ns(), Instant::now());
        match tokio::time::timeout(handshake_timeout.max(connect_timeout), driver.data().connect(target.addr, connect_timeout)).await {
            Ok(Ok(c)) => Some((c, began_ns, began)),
            _ => None,
        }
    })
}

/// Waits on a connection whose write went unanswered until the server answers on it again:
/// the connection, ready for the next write, or nothing. A frozen or overloaded server
/// answers on the connections it already has before any new one (new ones wait in its
/// accept queue behind every probe made during the freeze), so this sees the end of such
/// an outage first. A write made on it is invoked when it is sent, as after a probe.
pub(super) fn canary((node, mut conn): Tagged) -> Canary {
    Box::pin(async move { conn.answers_again().await.then_some((node, conn)) })
}
