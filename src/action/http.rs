//! `http` actions and probes: one request, `${NAME}` replaced from the environment, the
//! expected status (default any 2xx) is success.
use super::Finished;
use crate::scenario::HttpSpec;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// `${NAME}` replaced by the environment variable NAME (empty when unset).
pub fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find('}') {
            Some(j) => {
                out.push_str(&std::env::var(&rest[i + 2..i + 2 + j]).unwrap_or_default());
                rest = &rest[i + 3 + j..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub async fn run(h: &HttpSpec, timeout: Duration) -> Finished {
    let method = match h.method.to_uppercase().parse::<Method>() {
        Ok(m) => m,
        Err(_) => return Finished::failed(format!("`{}` is not an HTTP method", h.method)),
    };
    let mut req = Request::builder().method(method).uri(expand(&h.url));
    for (k, v) in &h.headers {
        req = req.header(k.as_str(), expand(v));
    }
    let req = match req.body(Full::new(Bytes::from(h.body.as_deref().map(expand).unwrap_or_default()))) {
        Ok(r) => r,
        Err(e) => return Finished::failed(format!("could not make the request: {}", error_chain(&e))),
    };
    let client = match client() {
        Ok(c) => c,
        Err(e) => return Finished::failed(format!("could not make an HTTP client: {e}")),
    };
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| error_chain(&e))?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| error_chain(&e))?.to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, body))) => {
            let ok = match h.status {
                Some(want) => status == want,
                None => (200..300).contains(&status),
            };
            let want = h.status.map_or("2xx".to_string(), |s| s.to_string());
            let first: String = body.lines().next().unwrap_or("").chars().take(200).collect();
            let summary = if ok { format!("status {status}") } else { format!("status {status}, expected {want}: {first}") };
            Finished { ok, summary, stdout: body, stderr: String::new() }
        }
        Ok(Err(e)) => Finished::failed(format!("request failed: {e}")),
        Err(_) => Finished::failed(format!("no answer within {} ms", timeout.as_millis())),
    }
}

pub(crate) type Client = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP/1 client for http:// and https:// (rustls, the system's root certificates).
pub(crate) fn client() -> std::io::Result<Client> {
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?.https_or_http().enable_http1().build();
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_environment_references() {
        // SAFETY: a test-only variable no other test reads
        unsafe { std::env::set_var("DRDRILL_TEST_TOKEN", "abc") };
        assert_eq!(expand("Bearer ${DRDRILL_TEST_TOKEN}!"), "Bearer abc!");
        assert_eq!(expand("x ${DRDRILL_TEST_UNSET_VAR} y"), "x  y");
        assert_eq!(expand("open ${brace"), "open ${brace");
    }
}
