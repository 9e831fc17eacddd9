//! `http` actions and probes: one request, `${NAME}` replaced from the environment, the
//! expected status (default any 2xx) is success.
use super::Finished;
use crate::scenario::HttpSpec;
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
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return Finished::failed(format!("could not make an HTTP client: {e}")),
    };
    let method = match h.method.to_uppercase().parse::<reqwest::Method>() {
        Ok(m) => m,
        Err(_) => return Finished::failed(format!("`{}` is not an HTTP method", h.method)),
    };
    let mut req = client.request(method, expand(&h.url));
    for (k, v) in &h.headers {
        req = req.header(k.as_str(), expand(v));
    }
    if let Some(b) = &h.body {
        req = req.body(expand(b));
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let ok = match h.status {
                Some(want) => status == want,
                None => (200..300).contains(&status),
            };
            let want = h.status.map_or("2xx".to_string(), |s| s.to_string());
            let first: String = body.lines().next().unwrap_or("").chars().take(200).collect();
            let summary = if ok { format!("status {status}") } else { format!("status {status}, expected {want}: {first}") };
            Finished { ok, summary, stdout: body, stderr: String::new() }
        }
        Err(e) if e.is_timeout() => Finished::failed(format!("no answer within {} ms", timeout.as_millis())),
        Err(e) => Finished::failed(format!("request failed: {}", error_chain(&e))),
    }
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
