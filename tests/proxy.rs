//! `drdrill proxy` against real TCP traffic on 127.0.0.1: every toxic's effect, the
//! Toxiproxy API's status codes and bodies, the CLI, and an unchanged third-party client.
use drdrill::proxy::{DOWNSTREAM, ProxyClient, ProxyConfig, ProxyServer, ToxicConfig, UPSTREAM};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LOCAL: &str = "127.0.0.1";

async fn server() -> (ProxyServer, ProxyClient) {
    let s = ProxyServer::start(LOCAL, 0, Vec::new()).await.expect("start proxy server");
    let c = ProxyClient::new(s.addr());
    (s, c)
}

/// An upstream that echoes everything back.
async fn echo() -> SocketAddr {
    let l = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// An upstream that sends `n` pattern bytes on each connection, then closes.
async fn blast(n: usize) -> SocketAddr {
    let l = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(&pattern(n)).await;
                let _ = s.shutdown().await;
                // let the proxy read everything before the socket goes away
                let mut sink = [0u8; 1024];
                let _ = timeout(Duration::from_secs(5), s.read(&mut sink)).await;
            });
        }
    });
    addr
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Creates proxy `name` to `upstream` on an ephemeral port; returns its listen address.
async fn proxy(c: &ProxyClient, name: &str, upstream: SocketAddr) -> SocketAddr {
    let p = c.create(&ProxyConfig::new(name, "127.0.0.1:0", upstream.to_string())).await.unwrap();
    p.listen.parse().unwrap()
}

async fn rtt(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    s.write_all(b"ping\n").await.unwrap();
    let mut buf = [0u8; 5];
    timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await.expect("echo within 5 s").unwrap();
    assert_eq!(&buf, b"ping\n");
    start.elapsed()
}

/// Reads until EOF or error (bounded); returns the bytes, how it ended and when.
async fn read_all(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, std::io::Result<()>, Duration, usize) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut reads = 0;
    loop {
        match timeout(limit.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Err(_) => panic!("no EOF within {limit:?} ({} bytes read)", out.len()),
            Ok(Ok(0)) => return (out, Ok(()), start.elapsed(), reads),
            Ok(Ok(n)) => {
                reads += 1;
                out.extend_from_slice(&buf[..n]);
            }
            Ok(Err(e)) => return (out, Err(e), start.elapsed(), reads),
        }
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_reaches_a_live_connection_and_goes_away() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    assert!(rtt(&mut conn).await < Duration::from_millis(50));

    let added = c.add_toxic("pg", &ToxicConfig::latency("", DOWNSTREAM, 100, 0)).await.unwrap();
    assert_eq!(added.name, "latency_downstream");
    for _ in 0..3 {
        let t = rtt(&mut conn).await;
        assert!((95..=200).contains(&ms(t)), "rtt {t:?} with a 100 ms toxic");
    }
    c.remove_toxic("pg", "latency_downstream").await.unwrap();
    assert!(rtt(&mut conn).await < Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_pipelined_not_cumulative() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::latency("", DOWNSTREAM, 200, 0)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    for _ in 0..10 {
        conn.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut buf = [0u8; 10];
    timeout(Duration::from_secs(5), conn.read_exact(&mut buf)).await.unwrap().unwrap();
    let t = start.elapsed();
    // cumulative would be 10 x 200 ms; pipelined is ~200 ms + 9 x 20 ms
    assert!((370..=900).contains(&ms(t)), "10 chunks took {t:?}");
}

/// Many small messages (a logical replication stream sends a transaction as four or five)
/// each arrive the latency after they were sent, however many are in flight: a queue of 8
/// chunks once held the reading back, their stamps came late and 200 ms showed as 274 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_holds_for_many_small_messages_in_flight() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::latency("", DOWNSTREAM, 200, 0)).await.unwrap();
    let conn = TcpStream::connect(addr).await.unwrap();
    conn.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = conn.into_split();
    const N: usize = 150;
    let reader = tokio::spawn(async move {
        let (mut got, mut at) = (0, Vec::new());
        let mut buf = [0u8; 256];
        while got < N {
            let n = timeout(Duration::from_secs(10), rd.read(&mut buf)).await.unwrap().unwrap();
            assert!(n > 0, "closed after {got}");
            at.extend(std::iter::repeat_n(Instant::now(), n));
            got += n;
        }
        at
    });
    let mut sent = Vec::new();
    for _ in 0..N {
        sent.push(Instant::now());
        wr.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let arrived = reader.await.unwrap();
    let delays: Vec<u128> = sent.iter().zip(&arrived).map(|(s, a)| ms(a.duration_since(*s))).collect();
    let worst = *delays.iter().max().unwrap();
    assert!(delays.iter().all(|d| *d >= 199), "{delays:?}");
    assert!(worst <= 230, "a message took {worst} ms through 200 ms of latency: {delays:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_stays_within_bounds() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::latency("", DOWNSTREAM, 100, 50)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..10 {
        samples.push(ms(rtt(&mut conn).await));
    }
    assert!(samples.iter().all(|t| (45..=220).contains(t)), "{samples:?}");
    let spread = samples.iter().max().unwrap() - samples.iter().min().unwrap();
    assert!(spread >= 5, "jitter should vary the delay: {samples:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_throughput() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", blast(200 * 1024).await).await;
    c.add_toxic("pg", &ToxicConfig::bandwidth("", DOWNSTREAM, 100)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let (data, end, t, _) = read_all(&mut conn, Duration::from_secs(15)).await;
    end.unwrap();
    assert_eq!(data, pattern(200 * 1024));
    assert!(t >= Duration::from_millis(1500), "200 KB at 100 KB/s took only {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_stops_data_then_closes() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::timeout("", DOWNSTREAM, 300)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"ping\n").await.unwrap();
    let (data, _, t, _) = read_all(&mut conn, Duration::from_secs(5)).await;
    assert!(data.is_empty(), "no data through a timeout toxic");
    assert!((250..=2000).contains(&ms(t)), "closed after {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_zero_never_closes() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::timeout("", DOWNSTREAM, 0)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"ping\n").await.unwrap();
    let mut buf = [0u8; 8];
    assert!(timeout(Duration::from_millis(600), conn.read(&mut buf)).await.is_err(), "neither data nor close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_the_connection() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::reset_peer("", DOWNSTREAM, 100)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"ping\n").await.unwrap();
    let (data, end, t, _) = read_all(&mut conn, Duration::from_secs(5)).await;
    assert!(data.is_empty());
    let e = end.expect_err("expected a reset, got a clean close");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    assert!(t >= Duration::from_millis(90), "reset after {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_closes_after_n_bytes() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", blast(10_000).await).await;
    c.add_toxic("pg", &ToxicConfig::limit_data("", DOWNSTREAM, 1000)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let (data, _, _, _) = read_all(&mut conn, Duration::from_secs(5)).await;
    assert_eq!(data, pattern(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicer_delivers_data_intact_in_pieces() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", blast(5000).await).await;
    c.add_toxic("pg", &ToxicConfig::slicer("", DOWNSTREAM, 100, 20, 2000)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let (data, end, t, reads) = read_all(&mut conn, Duration::from_secs(10)).await;
    end.unwrap();
    assert_eq!(data, pattern(5000));
    // ~50 pieces, 2 ms apart
    assert!(reads >= 10, "only {reads} reads");
    assert!(t >= Duration::from_millis(60), "took {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_delays_the_close() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", blast(10).await).await;
    c.add_toxic("pg", &ToxicConfig::slow_close("", DOWNSTREAM, 500)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let mut first = [0u8; 10];
    timeout(Duration::from_secs(2), conn.read_exact(&mut first)).await.unwrap().unwrap();
    let (rest, _, t, _) = read_all(&mut conn, Duration::from_secs(5)).await;
    assert!(rest.is_empty());
    assert!((400..=2000).contains(&ms(t)), "closed {t:?} after the data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_zero_never_applies() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::latency("", DOWNSTREAM, 300, 0).with_toxicity(0.0)).await.unwrap();
    for _ in 0..5 {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        assert!(rtt(&mut conn).await < Duration::from_millis(150));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_and_downstream_are_separate() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", blast(1000).await).await;
    // a timeout on the way up does not stop data coming down
    c.add_toxic("pg", &ToxicConfig::timeout("", UPSTREAM, 0)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"dropped").await.unwrap();
    let mut buf = vec![0u8; 1000];
    timeout(Duration::from_secs(2), conn.read_exact(&mut buf)).await.unwrap().unwrap();
    assert_eq!(buf, pattern(1000));

    let eaddr = proxy(&c, "echo", echo().await).await;
    c.add_toxic("echo", &ToxicConfig::latency("up", UPSTREAM, 150, 0)).await.unwrap();
    let mut conn = TcpStream::connect(eaddr).await.unwrap();
    let t = rtt(&mut conn).await;
    assert!((145..=300).contains(&ms(t)), "rtt {t:?} with 150 ms upstream");
    c.add_toxic("echo", &ToxicConfig::latency("down", DOWNSTREAM, 100, 0)).await.unwrap();
    let t = rtt(&mut conn).await;
    assert!((245..=450).contains(&ms(t)), "rtt {t:?} with 150 ms up + 100 ms down");
    let listed: Vec<(String, String)> = c.toxics("echo").await.unwrap().into_iter().map(|t| (t.name, t.stream)).collect();
    assert_eq!(listed, [("up".to_string(), "upstream".to_string()), ("down".into(), "downstream".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_closes_connections_and_enabling_listens_again() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    let mut live = TcpStream::connect(addr).await.unwrap();
    rtt(&mut live).await;

    let p = c.set_enabled("pg", false).await.unwrap();
    assert!(!p.enabled);
    let (_, _, t, _) = read_all(&mut live, Duration::from_secs(2)).await;
    assert!(t < Duration::from_secs(1));
    assert!(TcpStream::connect(addr).await.is_err(), "a disabled proxy refuses connections");

    let p = c.set_enabled("pg", true).await.unwrap();
    assert!(p.enabled);
    assert_eq!(p.listen, addr.to_string(), "listens on the same address again");
    let mut again = TcpStream::connect(addr).await.unwrap();
    assert!(rtt(&mut again).await < Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_enables_everything_and_removes_toxics() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "a", echo().await).await;
    proxy(&c, "b", echo().await).await;
    c.add_toxic("a", &ToxicConfig::latency("", DOWNSTREAM, 500, 0)).await.unwrap();
    c.add_toxic("b", &ToxicConfig::timeout("", UPSTREAM, 0)).await.unwrap();
    c.set_enabled("a", false).await.unwrap();
    c.reset().await.unwrap();
    for p in c.list().await.unwrap().values() {
        assert!(p.enabled && p.toxics.is_empty(), "{p:?}");
    }
    let mut conn = TcpStream::connect(addr).await.unwrap();
    assert!(rtt(&mut conn).await < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn populate_creates_keeps_and_replaces() {
    let (_s, c) = server().await;
    let up1 = echo().await;
    let up2 = echo().await;
    let made = c
        .populate(&[ProxyConfig::new("a", "127.0.0.1:0", up1.to_string()), ProxyConfig::new("b", "127.0.0.1:0", up1.to_string())])
        .await
        .unwrap();
    assert_eq!(made.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    c.add_toxic("a", &ToxicConfig::latency("", DOWNSTREAM, 10, 0)).await.unwrap();
    c.add_toxic("b", &ToxicConfig::latency("", DOWNSTREAM, 10, 0)).await.unwrap();

    // a unchanged (keeps its toxic), b gets a new upstream (replaced, toxics gone)
    let same_a = ProxyConfig::new("a", made[0].listen.clone(), up1.to_string());
    let mut new_b = ProxyConfig::new("b", made[1].listen.clone(), up2.to_string());
    new_b.enabled = false;
    let again = c.populate(&[same_a, new_b]).await.unwrap();
    assert_eq!(again[0].toxics.len(), 1);
    assert!(again[1].toxics.is_empty() && !again[1].enabled && again[1].upstream == up2.to_string());
    assert!(c.populate(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_name_the_call_and_the_api_message() {
    let (_s, c) = server().await;
    let e = c.get("missing").await.unwrap_err();
    assert_eq!(e.message, "failed to read proxy missing");
    assert_eq!(e.causes, ["HTTP 404: proxy not found"]);
    proxy(&c, "pg", echo().await).await;
    let e = c.add_toxic("pg", &ToxicConfig::new("", "nope", DOWNSTREAM)).await.unwrap_err();
    assert_eq!(e.one_line(), "failed to add toxic nope_downstream to proxy pg: HTTP 400: invalid toxic type");
    let e = c.remove_toxic("pg", "gone").await.unwrap_err();
    assert_eq!(e.causes, ["HTTP 404: toxic not found"]);
    assert_eq!(e.exit_code(), drdrill::error::exit::INFRA);
    let t = c.update_toxic("pg", "x", &ToxicConfig::timeout("x", DOWNSTREAM, 1)).await.unwrap_err();
    assert_eq!(t.causes, ["HTTP 404: toxic not found"]);
    c.add_toxic("pg", &ToxicConfig::latency("lat", UPSTREAM, 10, 0)).await.unwrap();
    let u = c.update_toxic("pg", "lat", &ToxicConfig::latency("lat", UPSTREAM, 20, 0).with_toxicity(0.5)).await.unwrap();
    assert_eq!((u.attributes["latency"].as_i64(), u.toxicity, u.stream.as_str()), (Some(20), 0.5, "upstream"));
    assert_eq!(c.version().await.unwrap(), drdrill::proxy::TOXIPROXY_VERSION);
    c.delete("pg").await.unwrap();
    assert!(c.list().await.unwrap().is_empty());
}

/// One raw HTTP/1.1 exchange; returns status, content type and body.
async fn raw(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(api).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await.unwrap().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string)).unwrap_or_default();
    (status, ctype, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_status_codes_and_bodies_match_toxiproxy() {
    let (s, _c) = server().await;
    let api = s.addr();
    let up = echo().await;
    let create = format!(r#"{{"name":"pg","listen":"127.0.0.1:0","upstream":"{up}"}}"#);
    let err = |msg: &str, status: u16| format!("{{\"error\":\"{msg}\",\"status\":{status}}}\n");

    assert_eq!(raw(api, "GET", "/version", "").await, (200, "application/json;charset=utf-8".into(), "{\"version\": \"2.12.0\"}\n".into()));
    let (st, ct, body) = raw(api, "POST", "/proxies", &create).await;
    assert_eq!((st, ct.as_str()), (201, "application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["name"].as_str(), v["enabled"].as_bool(), v["toxics"].as_array().map(Vec::len)), (Some("pg"), Some(true), Some(0)));
    assert_eq!(raw(api, "POST", "/proxies", &create).await, (409, "text/plain; charset=utf-8".into(), err("proxy already exists", 409)));
    assert_eq!(raw(api, "POST", "/proxies", r#"{"upstream":"x:1"}"#).await.2, err("missing required field: name", 400));
    assert_eq!(raw(api, "POST", "/proxies", r#"{"name":"x"}"#).await.2, err("missing required field: upstream", 400));
    let (st, _, body) = raw(api, "POST", "/proxies", "{nope").await;
    assert!(st == 400 && body.contains("bad request body: "), "{body}");
    assert_eq!(raw(api, "GET", "/proxies/none", "").await.2, err("proxy not found", 404));
    assert_eq!(raw(api, "DELETE", "/proxies/none", "").await.0, 404);
    assert_eq!(raw(api, "GET", "/proxies/none/toxics", "").await.0, 404);

    let (st, _, body) = raw(api, "GET", "/proxies", "").await;
    assert!(st == 200 && serde_json::from_str::<serde_json::Value>(&body).unwrap()["pg"]["upstream"] == up.to_string());
    let (st, _, body) = raw(api, "PATCH", "/proxies/pg", r#"{"enabled":false}"#).await;
    assert!(st == 200 && body.contains(r#""enabled":false"#), "{body}");
    assert_eq!(raw(api, "POST", "/proxies/pg", r#"{"enabled":true}"#).await.0, 200);

    let toxic = r#"{"type":"latency","attributes":{"latency":5}}"#;
    let (st, _, body) = raw(api, "POST", "/proxies/pg/toxics", toxic).await;
    assert_eq!(st, 200);
    let t: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        t,
        serde_json::json!({"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0,
            "attributes":{"latency":5,"jitter":0}})
    );
    assert_eq!(raw(api, "POST", "/proxies/pg/toxics", toxic).await.2, err("toxic already exists", 409));
    assert_eq!(raw(api, "POST", "/proxies/pg/toxics", r#"{"type":"frobnicate"}"#).await.2, err("invalid toxic type", 400));
    assert_eq!(
        raw(api, "POST", "/proxies/pg/toxics", r#"{"type":"latency","stream":"sideways"}"#).await.2,
        err("stream was invalid, can be either upstream or downstream", 400)
    );
    assert_eq!(raw(api, "POST", "/proxies/none/toxics", toxic).await.2, err("proxy not found", 404));
    assert_eq!(raw(api, "GET", "/proxies/pg/toxics/latency_downstream", "").await.0, 200);
    assert_eq!(raw(api, "GET", "/proxies/pg/toxics/none", "").await.2, err("toxic not found", 404));
    let (st, _, body) = raw(api, "PATCH", "/proxies/pg/toxics/latency_downstream", r#"{"attributes":{"jitter":2}}"#).await;
    assert!(st == 200 && body.contains(r#""latency":5"#) && body.contains(r#""jitter":2"#), "{body}");
    assert_eq!(raw(api, "POST", "/proxies/pg/toxics/none", "{}").await.0, 404);
    let (st, _, body) = raw(api, "GET", "/proxies/pg/toxics", "").await;
    assert!(st == 200 && body.starts_with('[') && body.contains("latency_downstream"));
    assert_eq!(raw(api, "DELETE", "/proxies/pg/toxics/latency_downstream", "").await, (204, String::new(), String::new()));
    assert_eq!(raw(api, "DELETE", "/proxies/pg/toxics/latency_downstream", "").await.2, err("toxic not found", 404));

    let pop = format!(r#"[{{"name":"p2","listen":"127.0.0.1:0","upstream":"{up}"}}]"#);
    let (st, ct, body) = raw(api, "POST", "/populate", &pop).await;
    assert_eq!((st, ct.as_str()), (201, "application/json"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["proxies"][0]["name"], "p2");
    let (st, _, body) = raw(api, "POST", "/populate", r#"[{"name":"p3"}]"#).await;
    assert_eq!((st, body.as_str()), (400, r#"{"error":"missing required field: upstream at proxy 1","proxies":null,"status":400}"#));
    assert_eq!(raw(api, "POST", "/reset", "").await.0, 204);
    assert_eq!(raw(api, "DELETE", "/proxies/pg", "").await.0, 204);
    assert_eq!(raw(api, "GET", "/proxies/pg", "").await.0, 404);
    assert_eq!(raw(api, "PUT", "/proxies", "").await.0, 405);
    assert_eq!(raw(api, "GET", "/nothing", "").await.0, 404);
}

/// Starts the built `drdrill proxy` on an ephemeral API port; returns the child and the API address.
fn spawn_cli(config: Option<&std::path::Path>) -> (Child, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drdrill"));
    cmd.args(["proxy", "--host", LOCAL, "--port", "0"]);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn drdrill proxy");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("proxy API listening on ") {
                let _ = tx.send(a.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let api = rx.recv_timeout(Duration::from_secs(20)).expect("drdrill proxy did not report its API address");
    (child, api)
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("drdrill proxy did not stop within 5 s of SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_populates_from_config_and_stops_on_sigterm() {
    let up = echo().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxies.json");
    std::fs::write(&config, format!(r#"[{{"name":"pg-1","listen":"127.0.0.1:0","upstream":"{up}"}}]"#)).unwrap();
    let (child, api) = spawn_cli(Some(&config));
    let c = ProxyClient::new(api);
    let p = c.get("pg-1").await.unwrap();
    assert!(p.enabled);
    c.add_toxic("pg-1", &ToxicConfig::latency("", DOWNSTREAM, 100, 0)).await.unwrap();
    let mut conn = TcpStream::connect(p.listen.parse::<SocketAddr>().unwrap()).await.unwrap();
    assert!(rtt(&mut conn).await >= Duration::from_millis(95));
    assert!(terminate(child).success());
}

/// The unchanged `toxiproxy-python` client (PyPI) drives our server: tests/toxiproxy_client/check.py.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_toxiproxy_python_client_works() {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("toxiproxy-python-venv");
    let python = venv.join("bin/python");
    let installed =
        python.exists() && Command::new(&python).args(["-c", "import toxiproxy"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !installed {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
        assert!(made.is_ok_and(|s| s.success()), "could not create a Python venv at {} (python3 -m venv)", venv.display());
        let pip = Command::new(venv.join("bin/pip")).args(["install", "--quiet", "toxiproxy-python==0.1.1"]).output().expect("run pip");
        assert!(
            pip.status.success(),
            "could not install the third-party client toxiproxy-python from PyPI; this test needs it:\n{}",
            String::from_utf8_lossy(&pip.stderr)
        );
    }
    let up = echo().await;
    let (child, api) = spawn_cli(None);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/toxiproxy_client/check.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&python).args([script, &api.ip().to_string(), &api.port().to_string(), &up.to_string()]).output().unwrap()
    })
    .await
    .unwrap();
    let status = terminate(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("toxiproxy-python: all checks passed"), "{stdout}");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_toxic_releases_data_it_holds() {
    let (_s, c) = server().await;
    let addr = proxy(&c, "pg", echo().await).await;
    c.add_toxic("pg", &ToxicConfig::latency("slow", DOWNSTREAM, 3000, 0)).await.unwrap();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    conn.write_all(b"ping\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.remove_toxic("pg", "slow").await.unwrap();
    let mut buf = [0u8; 5];
    timeout(Duration::from_secs(2), conn.read_exact(&mut buf)).await.expect("released when the toxic went").unwrap();
    assert!(start.elapsed() < Duration::from_millis(1500), "held {:?}", start.elapsed());
}
