//! The server: the HTTP API on one address, the proxies it manages, and a clean stop.
use super::api;
use super::collection::{Collection, populate_configs};
use super::model::ProxyConfig;
use crate::error::{Context, Error, Kind, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running server. Dropping it (or calling [`ProxyServer::stop`]) stops the API and every proxy.
pub struct ProxyServer {
    addr: SocketAddr,
    collection: Arc<Collection>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ProxyServer {
    /// Binds the API on `host:port` (port 0 picks one), populates `initial`, and serves in the background.
    pub async fn start(host: &str, port: u16, initial: Vec<ProxyConfig>) -> Result<ProxyServer> {
        let listener = TcpListener::bind((host, port))
            .await
            .context(Kind::Infra, || format!("failed to listen on {host}:{port} for the proxy API"))?;
        let addr = listener.local_addr().context(Kind::Infra, || "failed to read the proxy API address".to_string())?;
        let collection = Arc::new(Collection::default());
        if !initial.is_empty() {
            let made = populate_configs(&collection, &initial)
                .map_err(|e| Error::infra("failed to populate proxies from the config").cause_text(e.message))?;
            eprintln!("populated {} proxies from the config", made.len());
        }
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, collection.clone(), cancel.clone()));
        eprintln!("proxy API listening on {addr}");
        Ok(ProxyServer { addr, collection, cancel, task: Some(task) })
    }

    /// The API's bound address (for [`crate::proxy::ProxyClient::new`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting API requests, stops every proxy and closes their connections.
    pub async fn stop(mut self) {
        self.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn shutdown(&mut self) {
        self.cancel.cancel();
        self.collection.clear();
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, collection: Arc<Collection>, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let collection = collection.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| api::handle(collection.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

/// Runs the server on `host:port` until `shutdown` completes (as `toxiproxy-server`).
pub async fn serve(host: &str, port: u16, initial: Vec<ProxyConfig>, shutdown: impl Future<Output = ()>) -> Result<()> {
    let server = ProxyServer::start(host, port, initial).await?;
    shutdown.await;
    eprintln!("proxy server shutting down");
    server.stop().await;
    Ok(())
}
