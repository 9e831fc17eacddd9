//! A client of the Toxiproxy 2.x HTTP API: drives `drdrill proxy` or a real `toxiproxy-server`.
use super::model::{ProxyConfig, ToxicConfig};
use crate::error::{Error, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long one API call may take (Toxiproxy's own handler timeout is 25 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An API answer that was not the expected status, with Toxiproxy's error text.
#[derive(Debug)]
pub struct ApiStatus {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiStatus {}

#[derive(Debug, Clone)]
pub struct ProxyClient {
    api: SocketAddr,
}

impl ProxyClient {
    pub fn new(api: SocketAddr) -> ProxyClient {
        ProxyClient { api }
    }

    pub fn api(&self) -> SocketAddr {
        self.api
    }

    /// The server's version, e.g. `2.12.0` (JSON `{"version": ...}` or, from old servers, plain text).
    pub async fn version(&self) -> Result<String> {
        let (_, body) = self.call(Method::GET, "/version", None, &[200], || "failed to read the proxy server version".into()).await?;
        let text = String::from_utf8_lossy(&body).trim().to_string();
        Ok(serde_json::from_str::<Value>(&text).ok().and_then(|v| v["version"].as_str().map(str::to_string)).unwrap_or(text))
    }

    /// All proxies by name.
    pub async fn list(&self) -> Result<BTreeMap<String, ProxyConfig>> {
        self.json(Method::GET, "/proxies", None, &[200], || "failed to list proxies".into()).await
    }

    /// Creates a proxy (its `toxics` are not sent: Toxiproxy ignores them); returns it with the bound `listen`.
    pub async fn create(&self, proxy: &ProxyConfig) -> Result<ProxyConfig> {
        let body = json!({"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream, "enabled": proxy.enabled});
        self.json(Method::POST, "/proxies", Some(body), &[201], || format!("failed to create proxy {}", proxy.name)).await
    }

    /// Creates or replaces several proxies at once; unchanged ones keep their toxics.
    pub async fn populate(&self, proxies: &[ProxyConfig]) -> Result<Vec<ProxyConfig>> {
        #[derive(serde::Deserialize)]
        struct Populated {
            proxies: Option<Vec<ProxyConfig>>,
        }
        let body = serde_json::to_value(proxies).map_err(|e| Error::infra("failed to encode proxies to populate").cause(e))?;
        let p: Populated = self.json(Method::POST, "/populate", Some(body), &[201], || "failed to populate proxies".into()).await?;
        Ok(p.proxies.unwrap_or_default())
    }

    pub async fn get(&self, name: &str) -> Result<ProxyConfig> {
        self.json(Method::GET, &proxy_path(name), None, &[200], || format!("failed to read proxy {name}")).await
    }

    /// Changes listen, upstream and enabled (POST, which every 2.x server takes; PATCH only newer ones).
    pub async fn update(&self, name: &str, proxy: &ProxyConfig) -> Result<ProxyConfig> {
        let body = json!({"listen": proxy.listen, "upstream": proxy.upstream, "enabled": proxy.enabled});
        self.json(Method::POST, &proxy_path(name), Some(body), &[200], || format!("failed to update proxy {name}")).await
    }

    /// `false` takes the proxy hard down: it stops listening and closes every live connection.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxyConfig> {
        let verb = if enabled { "enable" } else { "disable" };
        self.json(Method::POST, &proxy_path(name), Some(json!({"enabled": enabled})), &[200], || format!("failed to {verb} proxy {name}"))
            .await
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        self.call(Method::DELETE, &proxy_path(name), None, &[204], || format!("failed to delete proxy {name}")).await.map(drop)
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<ToxicConfig>> {
        let path = format!("{}/toxics", proxy_path(proxy));
        self.json(Method::GET, &path, None, &[200], || format!("failed to list the toxics of proxy {proxy}")).await
    }

    /// Adds a toxic (affects live connections too); returns it as the server stored it.
    pub async fn add_toxic(&self, proxy: &str, toxic: &ToxicConfig) -> Result<ToxicConfig> {
        let path = format!("{}/toxics", proxy_path(proxy));
        let body = serde_json::to_value(toxic).map_err(|e| Error::infra("failed to encode a toxic").cause(e))?;
        let name = if toxic.name.is_empty() { format!("{}_{}", toxic.r#type, toxic.stream) } else { toxic.name.clone() };
        self.json(Method::POST, &path, Some(body), &[200], || format!("failed to add toxic {name} to proxy {proxy}")).await
    }

    /// Changes a toxic's attributes and toxicity (its type and stream cannot change).
    pub async fn update_toxic(&self, proxy: &str, name: &str, toxic: &ToxicConfig) -> Result<ToxicConfig> {
        let path = toxic_path(proxy, name);
        let body = json!({"attributes": toxic.attributes, "toxicity": toxic.toxicity});
        self.json(Method::POST, &path, Some(body), &[200], || format!("failed to update toxic {name} of proxy {proxy}")).await
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<()> {
        let path = toxic_path(proxy, name);
        self.call(Method::DELETE, &path, None, &[204], || format!("failed to remove toxic {name} from proxy {proxy}")).await.map(drop)
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<()> {
        self.call(Method::POST, "/reset", None, &[204], || "failed to reset the proxies".into()).await.map(drop)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expect: &[u16],
        what: impl Fn() -> String,
    ) -> Result<T> {
        let (_, bytes) = self.call(method, path, body, expect, &what).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::infra(what()).cause_text("unexpected answer from the proxy API").cause(e))
    }

    /// A fresh connection to the API. A connect that gets no answer within 1 s is tried
    /// again (up to 5 times): a lost SYN would otherwise wait out TCP's own 1 s, 3 s, 7 s
    /// retransmissions. Retrying a connect is safe; nothing was sent yet.
    async fn connect(&self) -> std::io::Result<TcpStream> {
        for _ in 0..4 {
            if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(self.api)).await {
                return r;
            }
        }
        tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(self.api))
            .await
            .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out 5 times")))
    }

    /// One request on a fresh connection; a status outside `expect` is an error carrying the API's message.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expect: &[u16],
        what: impl Fn() -> String,
    ) -> Result<(u16, Bytes)> {
        let fail = |e: &dyn std::fmt::Display| Error::infra(what()).cause_text(format!("proxy API at {}: {e}", self.api));
        let exchange = async {
            let stream = self.connect().await.map_err(|e| fail(&e))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(&e))?;
            tokio::spawn(conn);
            let mut req = Request::builder().method(method).uri(path).header(HOST, self.api.to_string());
            let payload = match body {
                Some(v) => {
                    req = req.header(CONTENT_TYPE, "application/json");
                    Bytes::from(v.to_string())
                }
                None => Bytes::new(),
            };
            let req = req.body(Full::new(payload)).map_err(|e| fail(&e))?;
            let resp = sender.send_request(req).await.map_err(|e| fail(&e))?;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.map_err(|e| fail(&e))?.to_bytes();
            Ok::<_, Error>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange).await.map_err(|_| fail(&"timed out"))??;
        if expect.contains(&status) {
            return Ok((status, bytes));
        }
        Err(Error::infra(what()).cause(ApiStatus { status, message: api_message(&bytes) }))
    }
}

/// The `error` field of Toxiproxy's error body, or the body itself.
fn api_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).trim().to_string();
    serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::to_string)).unwrap_or(text)
}

fn proxy_path(name: &str) -> String {
    format!("/proxies/{}", escape(name))
}

fn toxic_path(proxy: &str, toxic: &str) -> String {
    format!("{}/toxics/{}", proxy_path(proxy), escape(toxic))
}

/// Percent-encodes a path segment.
fn escape(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_messages() {
        assert_eq!(toxic_path("pg 1", "lat/x"), "/proxies/pg%201/toxics/lat%2Fx");
        assert_eq!(api_message(b"{\"error\":\"proxy not found\",\"status\":404}\n"), "proxy not found");
        assert_eq!(api_message(b"404 page not found\n"), "404 page not found");
    }
}
