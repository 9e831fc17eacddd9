//! The Toxiproxy 2.x HTTP API (api.go): routes, status codes and error bodies.
use super::api_error::ApiError;
use super::collection::Collection;
use super::toxics::Toxic;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// The Toxiproxy release whose API this server follows; `GET /version` answers with it.
pub const TOXIPROXY_VERSION: &str = "2.12.0";

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn ok_json(status: u16, v: &Value) -> Reply {
    reply(status, "application/json", v.to_string())
}

fn no_content() -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// Go's `http.Error`: text/plain content type, the JSON error and a newline.
fn error(e: &ApiError) -> Reply {
    reply(e.status, "text/plain; charset=utf-8", format!("{}\n", e.to_json()))
}

fn answer(result: Result<Reply, ApiError>) -> Reply {
    result.unwrap_or_else(|e| error(&e))
}

fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(ApiError::bad_body)
}

/// Serves one request.
pub async fn handle(collection: Arc<Collection>, req: Request<Incoming>) -> Result<Reply, std::convert::Infallible> {
    if req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.starts_with("Mozilla/")) {
        return Ok(reply(403, "text/plain; charset=utf-8", "User agent not allowed\n"));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(error(&ApiError::bad_body(e))),
    };
    let decoded: Vec<String> = path.trim_start_matches('/').split('/').map(unescape).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    Ok(route(&collection, &method, &segments, &body))
}

/// Percent-decodes one path segment (invalid escapes are kept as they are).
fn unescape(segment: &str) -> String {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(c: &Collection, method: &Method, segments: &[&str], body: &[u8]) -> Reply {
    let m = method.as_str();
    match (segments, m) {
        (["version"], "GET") => reply(200, "application/json;charset=utf-8", format!("{{\"version\": \"{TOXIPROXY_VERSION}\"}}\n")),
        (["reset"], "POST") => answer(c.reset().map(|()| no_content())),
        (["proxies"], "GET") => ok_json(200, &c.list_json()),
        (["proxies"], "POST") => answer(parse_body(body).and_then(|b| c.create(&b)).map(|p| ok_json(201, &p))),
        (["populate"], "POST") => populate(c, body),
        (["proxies", name], "GET") => answer(c.with(name, |p| Ok(ok_json(200, &p.to_json())))),
        (["proxies", name], "POST" | "PATCH") => answer(parse_body(body).and_then(|b| c.update(name, &b)).map(|p| ok_json(200, &p))),
        (["proxies", name], "DELETE") => answer(c.delete(name).map(|()| no_content())),
        (["proxies", name, "toxics"], "GET") => answer(c.with(name, |p| Ok(ok_json(200, &p.toxics_json())))),
        (["proxies", name, "toxics"], "POST") => answer(c.with(name, |p| {
            let toxic = Toxic::from_create(&parse_body(body)?)?;
            let added = p.add_toxic(toxic)?;
            eprintln!("proxy {name}: added toxic {} ({} {})", added.name, added.kind.type_name(), added.stream.as_str());
            Ok(ok_json(200, &added.to_json()))
        })),
        (["proxies", name, "toxics", toxic], "GET") => {
            answer(c.with(name, |p| p.toxic(toxic).map(|t| ok_json(200, &t.to_json())).ok_or_else(ApiError::toxic_not_found)))
        }
        (["proxies", name, "toxics", toxic], "POST" | "PATCH") => answer(c.with(name, |p| {
            let b = parse_body(body)?;
            let t = p.update_toxic(toxic, &b)?;
            eprintln!("proxy {name}: updated toxic {toxic}");
            Ok(ok_json(200, &t.to_json()))
        })),
        (["proxies", name, "toxics", toxic], "DELETE") => answer(c.with(name, |p| {
            p.remove_toxic(toxic)?;
            eprintln!("proxy {name}: removed toxic {toxic}");
            Ok(no_content())
        })),
        (["version" | "reset" | "populate"], _)
        | (["proxies"], _)
        | (["proxies", _], _)
        | (["proxies", _, "toxics"], _)
        | (["proxies", _, "toxics", _], _) => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            r
        }
        _ => reply(404, "text/plain; charset=utf-8", "404 page not found\n"),
    }
}

/// `POST /populate`: `{"proxies":[...]}` with 201, or the error fields beside `"proxies": null`.
fn populate(c: &Collection, body: &[u8]) -> Reply {
    match parse_body(body).and_then(|b| c.populate(&b)) {
        // Go marshals an empty slice built by append as null
        Ok(list) if list.is_empty() => ok_json(201, &json!({"proxies": null})),
        Ok(list) => ok_json(201, &json!({"proxies": list})),
        Err(e) => ok_json(e.status, &json!({"error": e.message, "status": e.status, "proxies": null})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> String {
        use http_body_util::BodyExt;
        let b = futures_util::FutureExt::now_or_never(r.body().clone().collect()).unwrap().unwrap().to_bytes();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn routes_and_errors() {
        let c = Collection::default();
        let r = route(&c, &Method::GET, &["version"], b"");
        assert_eq!(body(&r), "{\"version\": \"2.12.0\"}\n");
        let r = route(&c, &Method::GET, &["proxies", "nope"], b"");
        assert_eq!((r.status().as_u16(), body(&r).as_str()), (404, "{\"error\":\"proxy not found\",\"status\":404}\n"));
        let r = route(&c, &Method::POST, &["proxies"], b"{\"name\":\"a\"}");
        assert_eq!(body(&r), "{\"error\":\"missing required field: upstream\",\"status\":400}\n");
        let r = route(&c, &Method::POST, &["proxies"], b"not json");
        assert!(body(&r).contains("bad request body: "));
        let r = route(&c, &Method::POST, &["proxies"], br#"{"name":"a","upstream":"127.0.0.1:1","listen":"127.0.0.1:0","enabled":false}"#);
        assert_eq!(r.status(), 201);
        let r = route(&c, &Method::POST, &["proxies"], br#"{"name":"a","upstream":"127.0.0.1:1","enabled":false}"#);
        assert_eq!(r.status(), 409);
        let r = route(&c, &Method::PUT, &["proxies", "a"], b"");
        assert_eq!(r.status(), 405);
        let r = route(&c, &Method::GET, &["nothing"], b"");
        assert_eq!(r.status(), 404);
        let r = route(&c, &Method::POST, &["populate"], b"[]");
        assert_eq!((r.status().as_u16(), body(&r).as_str()), (201, "{\"proxies\":null}"));
    }

    /// Toxiproxy stops and restarts a proxy whose upstream changes; the restart binds the same
    /// listen address, so the old listener must be closed by the time the update answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moving_the_upstream_keeps_the_listen_address() {
        let c = Collection::default();
        let r = route(&c, &Method::POST, &["proxies"], br#"{"name":"a","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#);
        assert_eq!(r.status(), 201);
        let listen = serde_json::from_str::<serde_json::Value>(&body(&r)).unwrap()["listen"].as_str().unwrap().to_string();
        for port in 2..6 {
            let b = format!(r#"{{"upstream":"127.0.0.1:{port}"}}"#);
            let r = route(&c, &Method::POST, &["proxies", "a"], b.as_bytes());
            assert_eq!(r.status(), 200, "{}", body(&r));
            let p: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
            assert_eq!((p["listen"].as_str(), p["enabled"].as_bool()), (Some(listen.as_str()), Some(true)));
        }
    }
}
