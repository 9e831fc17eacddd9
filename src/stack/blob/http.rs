//! One keep-alive HTTP/1.1 connection to a files node's nginx (and, signed, to an S3
//! store: objects' `s3.rs`): PUT, GET, DELETE and the
//! JSON listing of `/files/` (nginx's autoindex). A status other than 2xx comes back as
//! the server's reply (`Reply`), anything else as a broken exchange.
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where uploads live on every node, as the URL names them.
pub const DIR: &str = "/files/";

/// How an exchange ended when it did not succeed.
#[derive(Debug)]
pub enum Failed {
    /// The server answered with this status (it received the request and refused it).
    Reply(StatusCode, String),
    /// The connection was closed before the request was sent: nothing reached the server.
    NotSent(String),
    /// The connection broke after the request may have been sent.
    Broken(String),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // nginx's own error pages are HTML saying the status again: the status alone
            Failed::Reply(s, body) if body.trim_start().starts_with('<') => write!(f, "{REPLIED} {s}"),
            Failed::Reply(s, body) => {
                write!(f, "{REPLIED} {s}: {}", body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect::<String>())
            }
            Failed::NotSent(e) => write!(f, "not sent: {e}"),
            Failed::Broken(e) => f.write_str(e),
        }
    }
}

/// How every refusal's text starts (`DataPath::is_reply`).
pub const REPLIED: &str = "the file store answered";

/// A connection; it is dropped after a broken exchange.
pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    /// The server that answered last, as its `X-Drdrill-Node` header names it.
    pub node: Option<std::sync::Arc<str>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr, timeout: Duration) -> Result<Conn, String> {
        let open = async {
            let stream = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            Ok(Conn { addr, sender, node: None })
        };
        tokio::time::timeout(timeout, open).await.map_err(|_| format!("{addr}: no connection within {} ms", timeout.as_millis()))?
    }

    /// One request; the body of a 2xx answer.
    pub async fn send(&mut self, method: Method, path: &str, body: Bytes) -> Result<Bytes, Failed> {
        self.answer(method, path, body).await.map(|(_, b)| b)
    }

    /// One request; the status and body of a 2xx answer.
    pub async fn answer(&mut self, method: Method, path: &str, body: Bytes) -> Result<(StatusCode, Bytes), Failed> {
        self.sender.ready().await.map_err(|e| Failed::NotSent(e.to_string()))?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.addr.to_string())
            .body(Full::new(body))
            .map_err(|e| Failed::Broken(e.to_string()))?;
        let resp = self.sender.send_request(req).await.map_err(|e| Failed::Broken(e.to_string()))?;
        let status = resp.status();
        let node = resp.headers().get("x-drdrill-node").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
        if self.node.as_deref() != node {
            self.node = node.map(std::sync::Arc::from);
        }
        let bytes = resp.into_body().collect().await.map_err(|e| Failed::Broken(e.to_string()))?.to_bytes();
        match status.is_success() {
            true => Ok((status, bytes)),
            false => Err(Failed::Reply(status, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }

    pub async fn put(&mut self, name: &str, body: Vec<u8>) -> Result<(), Failed> {
        self.put_new(name, body).await.map(drop)
    }

    /// A PUT; true when nginx created the file (201), false when it replaced one (204).
    pub async fn put_new(&mut self, name: &str, body: Vec<u8>) -> Result<bool, Failed> {
        let (status, _) = self.answer(Method::PUT, &format!("{DIR}{name}"), Bytes::from(body)).await?;
        Ok(status == StatusCode::CREATED)
    }

    pub async fn delete(&mut self, name: &str) -> Result<(), Failed> {
        self.send(Method::DELETE, &format!("{DIR}{name}"), Bytes::new()).await.map(drop)
    }

    /// The file's content; None when the node has no such file.
    pub async fn get(&mut self, name: &str) -> Result<Option<Bytes>, Failed> {
        match self.send(Method::GET, &format!("{DIR}{name}"), Bytes::new()).await {
            Ok(b) => Ok(Some(b)),
            Err(Failed::Reply(StatusCode::NOT_FOUND, _)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of the regular files in the directory, as nginx lists them.
    pub async fn list(&mut self) -> Result<Vec<(String, u64)>, Failed> {
        let body = self.send(Method::GET, DIR, Bytes::new()).await?;
        parse_listing(&body).map_err(Failed::Broken)
    }
}

/// nginx's `autoindex_format json`: `[{"name": …, "type": "file", "size": …}, …]`.
pub fn parse_listing(body: &[u8]) -> Result<Vec<(String, u64)>, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        size: u64,
    }
    let entries: Vec<Entry> = serde_json::from_slice(body).map_err(|e| format!("unexpected listing from the file store: {e}"))?;
    Ok(entries.into_iter().filter(|e| e.kind == "file").map(|e| (e.name, e.size)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_listings_are_read_and_directories_left_out() {
        let body = br#"[
{ "name":"w1-000001", "type":"file", "mtime":"Fri, 27 Nov 2026 23:08:22 GMT", "size":5 },
{ "name":"sub", "type":"directory", "mtime":"Fri, 27 Nov 2026 23:08:22 GMT" }
]"#;
        assert_eq!(parse_listing(body).unwrap(), vec![("w1-000001".to_string(), 5)]);
        assert_eq!(parse_listing(b"[\n]").unwrap(), vec![]);
        assert!(parse_listing(b"<html>").is_err());
    }

    #[test]
    fn a_refusal_reads_as_one_line() {
        let page = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n</body>\r\n</html>\r\n";
        assert_eq!(Failed::Reply(StatusCode::FORBIDDEN, page.into()).to_string(), "the file store answered 403 Forbidden");
        let text = Failed::Reply(StatusCode::INSUFFICIENT_STORAGE, "no space\nleft".into()).to_string();
        assert_eq!(text, "the file store answered 507 Insufficient Storage: no space left");
    }
}
