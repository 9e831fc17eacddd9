//! The receiver Alertmanager notifies: an HTTP server drdrill runs in-process on
//! 127.0.0.1 (a port of its own, closed when the drill's monitoring stops), or, in a drill
//! whose monitoring stands in sites, in a container of its own outside every site (`drdrill
//! pager`, the pager service the sites page through their uplinks), read back over
//! `GET /received`. Each alert of each notification, firing or resolved, is kept with the
//! instant it arrived.
use crate::error::{Context, Kind, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One alert of a notification, as it arrived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    /// When it arrived, in the process that received it (None: received elsewhere) …
    #[serde(skip)]
    pub at: Option<Instant>,
    /// … and on the wall clock (ns since the Unix epoch), which the pager's container
    /// shares with drdrill.
    pub wall_ns: i128,
    pub status: String,
    pub labels: BTreeMap<String, String>,
    /// Prometheus' own time the alert fired (`startsAt`), RFC 3339.
    pub starts_at: String,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    alerts: Vec<PayloadAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadAlert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: String,
}

pub struct Webhook {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Webhook {
    pub async fn start() -> Result<Webhook> {
        Webhook::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Listens on `addr` (the pager's container: every interface).
    pub async fn bind(addr: SocketAddr) -> Result<Webhook> {
        let listener = TcpListener::bind(addr)
            .await
            .context(Kind::Infra, || format!("failed to listen on {addr} for Alertmanager's notifications"))?;
        let addr = listener.local_addr().context(Kind::Infra, || "failed to read the webhook's address".to_string())?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept(listener, received.clone(), cancel.clone()));
        Ok(Webhook { addr, received, cancel, task: Some(task) })
    }

    /// The URL Alertmanager posts to.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every alert received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Serves until `stop` resolves (`drdrill pager`).
    pub async fn serve_until(self, stop: impl std::future::Future<Output = ()>) {
        stop.await;
        self.stop().await;
    }

    /// Closes the port; waits for the server to end.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept(listener: TcpListener, received: Arc<Mutex<Vec<Received>>>, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let (received, cancel) = (received.clone(), cancel.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(received.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

async fn handle(
    received: Arc<Mutex<Vec<Received>>>,
    req: Request<hyper::body::Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let at = Instant::now();
    let wall_ns = chrono::Utc::now().timestamp_nanos_opt().map_or(0, i128::from);
    if req.method() == hyper::Method::GET {
        let all = received.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let body = serde_json::to_vec(&all).unwrap_or_default();
        return Ok(Response::new(Full::new(Bytes::from(body))));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status(400)),
    };
    let Ok(p) = serde_json::from_slice::<Payload>(&body) else { return Ok(status(400)) };
    let mut r = received.lock().unwrap_or_else(|p| p.into_inner());
    for a in p.alerts {
        r.push(Received { at: Some(at), wall_ns, status: a.status, labels: a.labels, starts_at: a.starts_at });
    }
    Ok(status(200))
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::OK);
    r
}
