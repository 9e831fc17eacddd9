//! The few HTTP calls monitoring makes: GET a JSON API (Prometheus, Alertmanager), PUT a
//! metrics text (the Pushgateway). Every call has a deadline.
use crate::error::{Error, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use std::time::Duration;

/// The actions' HTTP client (http:// and https://), with a deadline per call.
#[derive(Clone)]
pub struct Http {
    client: crate::action::HttpClient,
    timeout: Duration,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http> {
        let client = crate::action::http_client().map_err(|e| Error::infra("failed to load the system's root certificates").cause(e))?;
        Ok(Http { client, timeout })
    }

    /// `(status, body)` of one request.
    pub async fn call(&self, method: Method, url: &str, body: Vec<u8>, content_type: Option<&str>) -> Result<(u16, String)> {
        let fail = |what: String| Error::infra(format!("failed to {method} {url}")).cause_text(what);
        let mut req = Request::builder().method(method.clone()).uri(url);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| fail(e.to_string()))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(fail(e)),
            Err(_) => Err(fail(format!("no answer within {} ms", self.timeout.as_millis()))),
        }
    }

    /// The `data` of a Prometheus-style JSON answer (`{"status": "success", "data": ...}`),
    /// or the whole answer when it has no `data` (Alertmanager's v2 API).
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value> {
        let body = self.get_body(url).await?;
        data_of(url, &body)
    }

    /// The body of a GET answered 2xx.
    pub async fn get_body(&self, url: &str) -> Result<String> {
        let (status, body) = self.call(Method::GET, url, Vec::new(), None).await?;
        if !(200..300).contains(&status) {
            let fail = Error::infra(format!("failed to read {url}"));
            return Err(fail.cause_text(format!("status {status}: {}", body.chars().take(200).collect::<String>())));
        }
        Ok(body)
    }
}

/// The `data` of a Prometheus-style JSON answer `body` from `url`, or the whole answer when
/// it has no `data`.
pub fn data_of(url: &str, body: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| Error::infra(format!("failed to read {url}")).cause_text(e.to_string()))?;
    Ok(match v {
        serde_json::Value::Object(mut m) if m.contains_key("data") => m.remove("data").unwrap_or_default(),
        v => v,
    })
}

/// `text` with every byte a URL query cannot carry as it is escaped.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_are_escaped() {
        assert_eq!(super::encode(r#"pg_up{job="pg"} == 0"#), "pg_up%7Bjob%3D%22pg%22%7D%20%3D%3D%200");
    }
}
