//! Robustness: shared-deployment protections, limits, misbehaving
//! receivers, and any input getting a well-formed answer.

use std::time::Duration;

use pesa_sandbox::config::ClockMode;
use pesa_sandbox::Config;
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{any_json_value, spawn_config, FAST_WORLD, PATIENCE};

fn fast() -> Config {
    Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap()
}

#[tokio::test]
async fn with_an_admin_token_the_admin_api_wants_it_and_the_apis_do_not() {
    let mut config = fast();
    config.admin_token = Some("s3cret-admin".into());
    let app = spawn_config(config).await;
    let (status, err) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "unauthorized");
    let res = app.http.get(app.url("/__sandbox/health")).bearer_auth("s3cret-admin").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .get(app.url("/__sandbox/health"))
        .header("x-sandbox-admin-token", "s3cret-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/__sandbox/health")).bearer_auth("s3cret-admiN").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.token().await.len(), 28, "the provider APIs need no admin token");
}

#[tokio::test]
async fn a_callback_outside_the_allowlist_is_refused_and_journaled() {
    let mut config = fast();
    config.callback_allow = vec!["10.0.0.0/8".parse().unwrap(), "*.example.test".parse().unwrap()];
    let mut app = spawn_config(config).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["outcome"], "refused");
    assert!(attempts[0]["error"].as_str().unwrap().contains("allowlist"), "{}", attempts[0]);
    assert!(app.receiver.received_requests().await.unwrap().is_empty(), "nothing was sent");

    let mut config = fast();
    config.callback_allow = vec!["127.0.0.0/8".parse().unwrap()];
    app = spawn_config(config).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["outcome"], "delivered");
}

/// A receiver that misbehaves in one particular way, on a loopback port.
async fn misbehaving(kind: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                match kind {
                    "hang" => tokio::time::sleep(Duration::from_secs(30)).await,
                    "reset" => {
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    }
                    "redirect" => {
                        let _ = stream
                            .write_all(
                                format!(
                                    "HTTP/1.1 302 Found\r\nLocation: http://{addr}/again\r\nContent-Length: 0\r\n\r\n"
                                )
                                .as_bytes(),
                            )
                            .await;
                    }
                    "huge" => {
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n").await;
                        let chunk = vec![b'x'; 65536];
                        for _ in 0..160 {
                            if stream.write_all(&chunk).await.is_err() {
                                break;
                            }
                        }
                    }
                    "garbage" => {
                        let _ = stream.write_all(b"\x16\x03\x01 this is not HTTP\r\n\r\n").await;
                    }
                    _ => {}
                }
            });
        }
    });
    format!("http://{addr}/cb")
}

#[tokio::test]
async fn misbehaving_receivers_are_bounded_journaled_and_leave_the_engine_working() {
    let mut config = fast();
    config.callbacks.timeout = Duration::from_millis(500);
    config.callbacks.response_capture_bytes = 1024;
    let app = spawn_config(config).await;
    let tls_port = misbehaving("garbage").await.replace("http://", "https://");
    let receivers = [
        ("hang", misbehaving("hang").await),
        ("reset", misbehaving("reset").await),
        ("redirect", misbehaving("redirect").await),
        ("huge", misbehaving("huge").await),
        ("garbage", misbehaving("garbage").await),
        ("tls", tls_port),
    ];
    for (i, (kind, url)) in receivers.iter().enumerate() {
        let msisdn = format!("2547120000{i:02}");
        let mut body = app.stk_body(&msisdn, 1);
        body["CallBackURL"] = json!(url);
        let (_, ack) = app.stk_push(&body).await;
        let started = std::time::Instant::now();
        let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
        let attempt = &attempts[0];
        assert!(started.elapsed() < Duration::from_secs(5), "{kind} is bounded");
        match *kind {
            "huge" => {
                assert_eq!(attempt["status"], json!(200));
                assert!(attempt["response_body"].as_str().unwrap().len() <= 1024, "the capture is bounded");
            }
            "redirect" => {
                assert_eq!(attempt["status"], json!(302), "redirects are not followed");
                assert_eq!(attempt["outcome"], "failed");
            }
            _ => {
                assert_eq!(attempt["outcome"], "failed", "{kind}: {attempt}");
                assert!(attempt["error"].as_str().is_some(), "{kind}: {attempt}");
            }
        }
    }
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["outcome"], "delivered", "the engine still works");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let mut config = fast();
    config.server.header_read_timeout = Duration::from_millis(300);
    let app = spawn_config(config).await;
    let mut stream = TcpStream::connect(app.sandbox.addr()).await.unwrap();
    stream.write_all(b"POST /mpesa/stkpush/v1/processrequest HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the connection instead of waiting forever");
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let app = spawn_config(fast()).await;
    let res = app.http.get(app.url("/oauth/v1/generate")).header("x-padding", "a".repeat(200 * 1024)).send().await;
    match res {
        Ok(res) => assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e}"),
    }
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
}

const ROUTES: &[&str] = &[
    "/oauth/v1/generate",
    "/mpesa/stkpush/v1/processrequest",
    "/mpesa/stkpushquery/v1/query",
    "/mpesa/c2b/v1/registerurl",
    "/mpesa/c2b/v2/registerurl",
    "/mpesa/c2b/v1/simulate",
    "/mpesa/c2b/v2/simulate",
    "/mpesa/b2c/v1/paymentrequest",
    "/mpesa/b2c/v3/paymentrequest",
    "/mpesa/b2pochi/v1/paymentrequest",
    "/mpesa/b2b/v1/paymentrequest",
    "/mpesa/b2b/v1/remittax",
    "/mpesa/reversal/v1/request",
    "/mpesa/transactionstatus/v1/query",
    "/mpesa/accountbalance/v1/query",
    "/mpesa/nowhere",
];

/// Field names real bodies carry, so random objects reach deep into the parsers.
const FIELDS: &[&str] = &[
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
    "CheckoutRequestID",
    "InitiatorName",
    "Initiator",
    "SecurityCredential",
    "CommandID",
    "Remarks",
    "QueueTimeOutURL",
    "ResultURL",
    "ShortCode",
    "ResponseType",
    "ConfirmationURL",
    "ValidationURL",
    "Msisdn",
    "BillRefNumber",
    "TransactionID",
    "ReceiverParty",
    "RecieverIdentifierType",
    "SenderIdentifierType",
    "IdentifierType",
    "OriginatorConversationID",
];

fn body() -> impl Strategy<Value = (Vec<u8>, Option<&'static str>)> {
    let object = proptest::collection::btree_map(prop::sample::select(FIELDS), any_json_value(), 0..12)
        .prop_map(|m| serde_json::to_vec(&m).unwrap());
    let bytes = proptest::collection::vec(any::<u8>(), 0..300);
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "APPLICATION/JSON",
    ]));
    (prop_oneof![3 => object, 1 => bytes], content_type)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_input_to_any_route_gets_a_well_formed_daraja_answer(
        (payload, content_type) in body(),
        route in prop::sample::select(ROUTES),
        method_name in prop::sample::select(vec!["POST", "GET", "PUT"]),
        authorization in prop::option::of(prop_oneof![Just("Bearer ".to_owned()), ".{0,30}".prop_map(|s| s), Just("valid".to_owned())]),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let config = fast().with_clock(ClockMode::Virtual { start: chrono::Utc::now() });
            let app = spawn_config(config).await;
            let auth = match authorization.as_deref() {
                Some("valid") => Some(format!("Bearer {}", app.token().await)),
                other => other.map(str::to_owned),
            };
            let method = reqwest::Method::from_bytes(method_name.as_bytes()).unwrap();
            let mut req = app.http.request(method, app.url(route)).body(payload.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            if let Some(a) = auth.filter(|a| reqwest::header::HeaderValue::from_str(a).is_ok()) {
                req = req.header("authorization", a);
            }
            let res = req.send().await.expect("the server always answers");
            let status = res.status();
            let body: Value = res.json().await.expect("every answer is JSON");
            if let Some(code) = body.get("errorCode").and_then(Value::as_str) {
                prop_assert!(body["requestId"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
                prop_assert!(body["errorMessage"].as_str().is_some(), "{body}");
                prop_assert_ne!(code, "500.003.1001", "no internal error is caused by input: {}", body);
                prop_assert_eq!(status.as_u16().to_string(), code[..3].to_string(), "status from the code prefix: {}", body);
            } else {
                prop_assert!(status.is_success(), "{status} {body}");
            }
            let (health, _) = app.admin_get("/health").await;
            prop_assert_eq!(health, StatusCode::OK);
            Ok(())
        })?;
    }
}

/// When callbacks back up, a request that would add to them waits for room
/// instead of being refused or stalling settlement: acceptance slows to the
/// delivery rate. Here one stuck receiver holds the only delivery slot.
#[tokio::test]
async fn pushes_wait_for_room_when_the_callback_queue_is_backed_up() {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.callbacks.queue_capacity = 2;
    config.callbacks.concurrency = 1;
    config.callbacks.timeout = Duration::from_secs(2);
    let app = spawn_config(config).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&app.receiver)
        .await;
    let queued = || async {
        let (_, health) = app.admin_get("/health").await;
        health["callbacks"]["queued"].as_u64().unwrap_or(0)
    };
    // One callback in flight, one waiting for the slot, two filling the queue.
    for (i, msisdn) in ["254722000101", "254722000102", "254722000103", "254722000104"].iter().enumerate() {
        let (status, ack) = app.stk_push(&app.stk_body(msisdn, 1)).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        let want = i.saturating_sub(1) as u64;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while queued().await < want {
            assert!(tokio::time::Instant::now() < deadline, "callback {i} never reached the queue");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // The queue is full: the next push is held, not answered and not refused.
    let body = app.stk_body("254722000105", 1);
    let mut next = Box::pin(app.stk_push(&body));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut next).await.is_err(),
        "a push was admitted past a full callback queue"
    );
    // The stuck attempt times out, the queue moves, the push is accepted.
    let (status, ack) = tokio::time::timeout(PATIENCE, next).await.expect("the push is admitted once the queue drains");
    assert_eq!(status, StatusCode::OK, "{ack}");
}
