//! Connections: every phase is bounded (before the first byte, the head,
//! the body, idle between requests, HTTP/1 and HTTP/2 alike), slow clients
//! cannot hold every slot, and a half-closed client still gets its answer.

use std::time::{Duration, Instant};

use pesa_sandbox::Config;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_config, TestApp, FAST_WORLD, PATIENCE};

/// A sandbox whose connection limits are short, so tests stay quick.
async fn impatient() -> TestApp {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.server.header_read_timeout = Duration::from_millis(300);
    config.server.body_read_timeout = Duration::from_millis(300);
    spawn_config(config).await
}

/// Reads until the server closes the connection; returns what it sent and
/// how long it took.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server never closed the connection: {:?}", String::from_utf8_lossy(&buf));
    (String::from_utf8_lossy(&buf).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed() {
    let app = impatient().await;
    let mut silent = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    let (sent, took) = until_closed(&mut silent).await;
    assert!(sent.is_empty(), "{sent}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_head_that_never_finishes_after_an_answered_request_is_cut_off() {
    let app = impatient().await;
    let mut stream = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    stream.write_all(b"GET /__sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut answer)).await.unwrap().unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..read]));
    // The next head starts and never ends.
    stream.write_all(b"POST /mpesa/stkpush/v1/processrequest HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (sent, took) = until_closed(&mut stream).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}, having sent {sent:?}");
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_connection_stuck_in_the_http2_preface_is_closed() {
    let app = impatient().await;
    let mut stuck = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    stuck.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let (_, took) = until_closed(&mut stuck).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_its_last_request() {
    let app = impatient().await;
    let stream = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("{}/__sandbox/health", app.base))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    let started = Instant::now();
    let ended = tokio::time::timeout(PATIENCE, connection).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was never closed");
    assert!(started.elapsed() < Duration::from_secs(3), "closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_in_the_providers_envelope() {
    let app = impatient().await;
    let token = app.token().await;
    let requests = [
        format!(
            "POST /mpesa/stkpush/v1/processrequest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"Business"
        ),
        "POST /__sandbox/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"id\"\r\n"
            .to_owned(),
    ];
    for request in requests {
        let mut slow = TcpStream::connect(app.sandbox.addr()).await.unwrap();
        slow.write_all(request.as_bytes()).await.unwrap();
        let (answer, took) = until_closed(&mut slow).await;
        assert!(took < Duration::from_secs(3), "answered after {took:?}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {answer:?}"));
        assert!(head.to_ascii_lowercase().contains("x-sandbox-diagnosis: the request body did not arrive"), "{head}");
        if request.contains("/__sandbox/") {
            assert!(head.starts_with("HTTP/1.1 408"), "{head}");
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["error"]["code"], "timeout", "{body}");
        } else {
            let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
            assert!(body["errorCode"].as_str().is_some() && body["requestId"].as_str().is_some(), "{body}");
        }
    }
    let (_, journal) = app.admin_get("/requests?errors=true").await;
    let entry = &journal["requests"][0];
    assert_eq!(entry["path"], "/mpesa/stkpush/v1/processrequest");
    assert!(entry["diagnosis"].as_str().unwrap().contains("body did not arrive"), "{entry}");
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let app = impatient().await;
    let mut client = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    client.write_all(b"GET /__sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    client.shutdown().await.unwrap();
    let (answer, _) = until_closed(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test]
async fn more_than_a_hundred_headers_are_refused_with_431() {
    let app = impatient().await;
    let mut client = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    let headers: String = (0..101).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    client.write_all(format!("GET /__sandbox/health HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

/// Slow clients fill every connection slot (half never send a byte, half
/// send a body a byte at a time): near the limit the server sheds them
/// after a second, so a real client is served within seconds, not after
/// the ten-second timeouts.
#[tokio::test]
async fn slow_clients_cannot_hold_every_connection_slot() {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.server.max_connections = 16;
    let app = spawn_config(config).await;
    let mut slow = Vec::new();
    for i in 0..24 {
        let mut stream = TcpStream::connect(app.sandbox.addr()).await.unwrap();
        if i % 2 == 0 {
            let head = "POST /__sandbox/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
            stream.write_all(head.as_bytes()).await.unwrap();
        }
        slow.push(stream);
    }
    let started = Instant::now();
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "served after {:?}", started.elapsed());
    drop(slow);
}

/// A request written by hand with a chunked body, each piece its own chunk;
/// returns the answer's status line and body.
async fn chunked(app: &TestApp, path: &str, headers: &str, pieces: &[&str]) -> (String, String) {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for piece in pieces {
        request.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
    }
    request.push_str("0\r\n\r\n");
    let mut stream = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut stream).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {answer:?}"));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

#[tokio::test]
async fn a_body_in_many_chunks_is_read_whole_up_to_the_limit() {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.body_limit_bytes = 1024;
    let app = spawn_config(config).await;
    let token = app.token().await;
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    let body = app.stk_body("254708374149", 1).to_string();
    let thirds: Vec<&str> = {
        let (a, rest) = body.split_at(body.len() / 3);
        let (b, c) = rest.split_at(rest.len() / 2);
        vec![a, b, c]
    };
    let (status, answer) = chunked(&app, "/mpesa/stkpush/v1/processrequest", &headers, &thirds).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["ResponseCode"], "0", "{answer}");

    // Over the limit only once the pieces are added up.
    let padding = " ".repeat(400);
    let over = [thirds[0], &padding, &padding, thirds[1], thirds[2]];
    let (status, answer) = chunked(&app, "/mpesa/stkpush/v1/processrequest", &headers, &over).await;
    // Daraja answers a payload it will not read as an invalid one.
    assert!(status.starts_with("HTTP/1.1 400"), "{status}: {answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    assert_eq!(answer["errorCode"], "400.002.05", "{answer}");
    let (_, journal) = app.admin_get("/requests?errors=true").await;
    let diagnosis = journal["requests"][0]["diagnosis"].as_str().unwrap_or_default().to_owned();
    assert!(diagnosis.contains("larger than the sandbox accepts"), "{diagnosis}");
}
