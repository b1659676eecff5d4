//! Reliability: nothing a client or a scenario sends stops the sandbox,
//! loses a callback, or lets one tenant hold up another.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{spawn_virtual, FAST_WORLD, PATIENCE};

/// A client that gives up on a clock move (1 s timeout) while the receiver
/// takes 5 s: the callback still reaches the receiver and the journal, the
/// engine's counters come back to zero, and later moves still send.
#[tokio::test]
async fn a_client_that_gives_up_on_a_clock_move_loses_no_callback() {
    let app = spawn_virtual(FAST_WORLD).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.receiver)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&app.receiver).await;
    let (_, first) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let first = first["CheckoutRequestID"].as_str().unwrap().to_owned();

    let impatient = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(1)).build().unwrap();
    let gave_up = impatient.post(app.url("/__sandbox/clock")).json(&json!({ "advance_ms": 60_000 })).send().await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()), "the client gave up while the receiver was slow");

    let attempts = app.wait_callbacks(&first, 1).await;
    assert_eq!(attempts[0]["outcome"], "delivered", "{}", attempts[0]);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, health) = app.admin_get("/health").await;
        if health["callbacks"]["in_flight"] == json!(0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "in_flight never came back to 0: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (_, second) = app.stk_push(&app.stk_body("254708374149", 2)).await;
    let second = second["CheckoutRequestID"].as_str().unwrap().to_owned();
    let moved = app.advance_ms(60_000).await;
    assert_eq!(moved["callbacks_attempted"], json!(1), "{moved}");
    assert_eq!(moved["callbacks_pending"], json!(false), "{moved}");
    assert_eq!(app.attempts(&second).await[0]["outcome"], "delivered");
    assert_eq!(app.receiver.received_requests().await.unwrap().len(), 2);
}

/// `wait_ms: 0` answers at once; the callbacks follow, in order.
#[tokio::test]
async fn a_clock_move_may_answer_before_its_callbacks_are_delivered() {
    let app = spawn_virtual(FAST_WORLD).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
        .mount(&app.receiver)
        .await;
    let mut ids = Vec::new();
    for msisdn in ["254708374149", "254711001032"] {
        let (_, ack) = app.stk_push(&app.stk_body(msisdn, 1)).await;
        ids.push(ack["CheckoutRequestID"].as_str().unwrap().to_owned());
    }
    let (status, moved) = app.admin_post("/clock", &json!({ "advance_ms": 60_000, "wait_ms": 0 })).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["callbacks_pending"], json!(true), "{moved}");
    for id in &ids {
        app.wait_callbacks(id, 1).await;
    }
    let (_, journal) = app.admin_get("/callbacks").await;
    let order: Vec<&str> =
        journal["callbacks"].as_array().unwrap().iter().map(|c| c["correlation_id"].as_str().unwrap()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>(), "delivered in timeline order");

    let (status, err) = app.admin_post("/clock", &json!({ "advance_ms": 1, "wait_ms": 3_600_000 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"]["message"].as_str().unwrap().contains("wait_ms"), "{err}");
}

/// Health says `ok` until a bug is caught.
#[tokio::test]
async fn health_lists_no_problem_on_a_healthy_sandbox() {
    let app = crate::helpers::spawn().await;
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["problems_total"], json!(0));
    assert_eq!(health["problems"], Value::Array(Vec::new()));
}
