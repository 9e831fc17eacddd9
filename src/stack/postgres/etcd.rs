//! Reading Patroni's leader key from etcd 3.4 through its JSON gateway (`/v3/kv/range`),
//! on the etcd members' ports published on 127.0.0.1.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// `/service/<scope>/leader`, Patroni's default namespace.
pub fn leader_key(scope: &str) -> String {
    format!("/service/{scope}/leader")
}

/// One POST of a JSON body; the answer's body.
async fn post(addr: SocketAddr, path: &str, body: String, timeout: Duration) -> Result<Vec<u8>, String> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::post(path)
            .header(HOST, addr.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            return Err(format!("etcd at {addr} answered {status}: {}", String::from_utf8_lossy(&bytes)));
        }
        Ok(bytes.to_vec())
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("etcd at {addr} did not answer within {} ms", timeout.as_millis()))?
}

/// A key's value and the lease it is attached to (none: it lives until deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    pub value: String,
    pub lease: Option<String>,
}

/// The value of `key` and its lease, None when it does not exist.
pub async fn get(addr: SocketAddr, key: &str, timeout: Duration) -> Result<Option<Leased>, String> {
    let body = serde_json::json!({ "key": B64.encode(key) }).to_string();
    let bytes = post(addr, "/v3/kv/range", body, timeout).await?;
    parse_range(&bytes)
}

/// The first member of `members` that answers decides.
pub async fn get_any(members: &[SocketAddr], key: &str, timeout: Duration) -> Result<Option<Leased>, String> {
    let mut last = "no etcd member".to_string();
    for m in members {
        match get(*m, key, timeout).await {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether lease `id` still exists (`/v3/lease/timetolive`: a lease that ran out or was
/// revoked answers TTL -1), as the first member of `members` that answers says.
pub async fn lease_alive(members: &[SocketAddr], id: &str, timeout: Duration) -> Result<bool, String> {
    let mut last = "no etcd member".to_string();
    for m in members {
        let body = serde_json::json!({ "ID": id }).to_string();
        match post(*m, "/v3/lease/timetolive", body, timeout).await {
            Ok(bytes) => return parse_ttl(&bytes).map(|ttl| ttl > 0),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn parse_range(bytes: &[u8]) -> Result<Option<Leased>, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("unexpected answer from etcd: {e}"))?;
    let Some(kv) = v["kvs"].as_array().and_then(|a| a.first()) else { return Ok(None) };
    let raw = kv["value"].as_str().unwrap_or_default();
    let value = B64.decode(raw).map_err(|e| format!("undecodable value from etcd: {e}"))?;
    let lease = kv["lease"].as_str().filter(|l| *l != "0").map(str::to_string);
    Ok(Some(Leased { value: String::from_utf8_lossy(&value).into_owned(), lease }))
}

/// The TTL of a `timetolive` answer (etcd's JSON gateway writes 64-bit numbers as strings).
fn parse_ttl(bytes: &[u8]) -> Result<i64, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("unexpected answer from etcd: {e}"))?;
    let ttl = &v["TTL"];
    ttl.as_i64().or_else(|| ttl.as_str().and_then(|t| t.parse().ok())).ok_or_else(|| format!("no TTL in etcd's answer: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_answers_are_read() {
        let found =
            br#"{"header":{"revision":"9"},"kvs":[{"key":"L3NlcnZpY2UvZHJkcmlsbC9sZWFkZXI=","value":"cGctMg==","lease":"7"}],"count":"1"}"#;
        assert_eq!(parse_range(found).unwrap(), Some(Leased { value: "pg-2".into(), lease: Some("7".into()) }));
        assert_eq!(parse_range(br#"{"header":{"revision":"9"}}"#).unwrap(), None);
        assert_eq!(parse_ttl(br#"{"header":{},"ID":"7","TTL":"-1"}"#).unwrap(), -1);
        assert_eq!(parse_ttl(br#"{"header":{},"ID":"7","TTL":"9","grantedTTL":"10"}"#).unwrap(), 9);
        assert!(parse_range(b"<html>").is_err());
        assert_eq!(B64.encode(leader_key("drdrill")), "L3NlcnZpY2UvZHJkcmlsbC9sZWFkZXI=");
    }
}
