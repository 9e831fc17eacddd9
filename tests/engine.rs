//! DOCKER_HOST: a drill on an engine reached over tcp (a TCP front for the local socket),
//! and an engine address where nothing listens.
use crate::common;
use common::*;
use std::net::SocketAddr;
use std::process::Command;

/// Listens on 127.0.0.1 and forwards every connection to the local engine's socket.
fn tcp_front() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the TCP front");
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else { continue };
                tokio::spawn(async move {
                    if let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                    }
                });
            }
        });
    });
    addr
}

#[test]
fn a_drill_runs_on_an_engine_reached_over_tcp_and_records_it() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let host = format!("tcp://{}", tcp_front());
    let reports = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["run", "tests/fixtures/single-node.yaml", "--reports", reports.path().to_str().unwrap()])
        .current_dir(root())
        .env("DOCKER_HOST", &host)
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("engine {host}")), "the run should say which engine it uses: {err}");
    let dir = reports.path().join("fixture-single-node");
    let run = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["engine"]["host"], host.as_str());
    assert_eq!(results["engine"]["local"], true);
    assert!(!results["engine"]["version"].as_str().unwrap().is_empty());
    let (c, n) = labelled(Some(&run_id(&results)));
    assert!(c.is_empty() && n.is_empty(), "teardown left {c:?} {n:?}");
}

#[test]
fn an_engine_address_where_nothing_listens_is_an_infrastructure_error_naming_it() {
    let out = Command::new(bin())
        .args(["run", "tests/fixtures/single-node.yaml", "--reports", "/tmp/drdrill-noengine"])
        .current_dir(root())
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("failed to reach the Docker engine at tcp://127.0.0.1:1"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}
