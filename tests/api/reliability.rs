//! Reliability: nothing a client or a scenario sends stops the sandbox,
//! loses a callback, or lets one tenant hold up another.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use pesa_sandbox::Config;

use crate::helpers::{spawn_config, spawn_virtual, FAST_WORLD, PATIENCE};
use crate::tenants::{create, TenantClient};

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

/// A receiver that reads the request and never answers.
async fn hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    format!("http://{addr}/hang")
}

/// One tenant floods a receiver that never answers: its own pushes wait for
/// room and its callbacks time out, while another tenant's push is answered
/// at once and its callback is delivered at once.
#[tokio::test]
async fn a_tenant_whose_receiver_hangs_delays_only_itself() {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.callbacks.concurrency = 4;
    config.callbacks.max_in_flight = 16;
    config.callbacks.queue_capacity = 8;
    config.callbacks.timeout = Duration::from_secs(3);
    let app = spawn_config(config).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let hang = hanging_receiver().await;
    let (status, creds) = create(&app, json!({ "id": "stuck", "world": FAST_WORLD })).await;
    assert_eq!(status, StatusCode::CREATED, "{creds}");
    let stuck = TenantClient { app: &app, creds };

    // Four clients push without pause for as long as the measurement runs.
    let flood = futures_util::future::join_all((0..4).map(|worker| {
        let (stuck, hang) = (&stuck, &hang);
        async move {
            for n in 0.. {
                stuck.push(&format!("25471{worker}{n:06}"), 1, hang).await;
            }
        }
    }));
    let measure = async {
        // Wait until the stuck tenant fills its slots and backs up its lane.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, health) = app.admin_get("/health").await;
            let callbacks = &health["callbacks"];
            if callbacks["in_flight"].as_u64() >= Some(4) && callbacks["queued"].as_u64() >= Some(5) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the stuck tenant never backed up: {health}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        let (status, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
        let answered = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{ack}");
        let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
        let called_back = started.elapsed();
        assert_eq!(attempts[0]["outcome"], "delivered");
        (answered, called_back)
    };
    let (answered, called_back) = tokio::select! {
        _ = flood => unreachable!("the flood never ends"),
        measured = measure => measured,
    };
    assert!(answered < Duration::from_millis(1_000), "the other tenant's push took {answered:?}");
    assert!(called_back < Duration::from_millis(2_000), "the other tenant's callback took {called_back:?}");
}

/// Every hostile number a world may carry is refused at tenant creation
/// with its field and range; nothing half-made is left behind, so the same
/// id then works with a sane world.
#[tokio::test]
async fn hostile_numbers_in_a_tenants_world_are_refused_with_the_field_and_range() {
    let app = crate::helpers::spawn().await;
    let hostile = [
        ("[daraja]\ntoken_ttl_secs = 9223372036854775807\n", "daraja.token_ttl_secs"),
        ("[daraja]\nstk_answer_delay_ms = 9223372036854775807\n", "daraja.stk_answer_delay_ms"),
        // Past what TOML's integers hold: refused by the parser, naming the line.
        ("[daraja]\nstk_answer_delay_ms = 18446744073709551615\n", "line 2"),
        ("[daraja]\nresult_delay_ms = 9223372036854775807\n", "daraja.result_delay_ms"),
        ("[daraja]\nstk_timeout_secs = 9223372036854775807\n", "daraja.stk_timeout_secs"),
        ("[[initiators]]\nname = \"x\"\npassword = \"p\"\npassword_age_days = 4294967295\n", "password_age_days"),
        ("[[customers]]\nmsisdn = \"254708374149\"\nbalance = 1e300\n", "balance"),
        ("[[rate_limits]]\ncapacity = 9223372036854775807\nperiod_ms = 1\n", "rate_limits.capacity"),
        ("[[rate_limits]]\ncapacity = 1\nperiod_ms = 9223372036854775807\n", "rate_limits.period_ms"),
    ];
    for (world, field) in hostile {
        let (status, err) = app.admin_post("/tenants", &json!({ "id": "hostile", "world": world })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{world}: {err}");
        assert_eq!(err["error"]["code"], "invalid_world", "{world}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{world}: {message}");
    }
    let (status, created) = app.admin_post("/tenants", &json!({ "id": "hostile", "world": FAST_WORLD })).await;
    assert_eq!(status, StatusCode::CREATED, "the id is not a ghost: {created}");
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["status"], "ok");
}

/// Every hostile number a scenario may carry is refused with its field and
/// range, through the admin API and at tenant creation.
#[tokio::test]
async fn hostile_numbers_in_a_scenario_are_refused_with_the_field_and_range() {
    let app = crate::helpers::spawn().await;
    let hostile = [
        ("callback = { delay_ms = 9223372036854775807 }", "callback.delay_ms"),
        ("callback = { delay_ms = { min = 0, max = 9223372036854775807 } }", "callback.delay_ms"),
        ("callback = { delay_ms = 18446744073709551615 }", "line 3"),
        ("callback = { duplicates = 4294967295 }", "callback.duplicates"),
        ("callback = { duplicates = 1, duplicate_spacing_ms = 9223372036854775807 }", "callback.duplicate_spacing_ms"),
        ("callback = { retry_ms = [9223372036854775807] }", "callback.retry_ms"),
        ("callback = { out_of_order = true, hold_max_ms = 9223372036854775807 }", "callback.hold_max_ms"),
        ("outcome = { result_code = 0, after_ms = 9223372036854775807 }", "outcome.after_ms"),
        ("fault = { delay_ms = 3600000 }", "fault.delay_ms"),
        ("fault = { status = 999 }", "fault.status"),
        ("fault = { status = 70000 }", "line 3"),
    ];
    for (rule, field) in hostile {
        let document = format!("[[rules]]\nwhen = {{ operation = \"stk_push\" }}\n{rule}\n");
        let res = app
            .http
            .put(app.url("/__sandbox/scenarios"))
            .header("content-type", "application/toml")
            .body(document.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{rule}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_scenario", "{rule}");
        assert!(err["error"]["message"].as_str().unwrap().contains(field), "{rule}: {err}");
        let (status, err) =
            app.admin_post("/tenants", &json!({ "id": "scripted", "scenarios": { "documents": [document] } })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}: {err}");
    }
    let (_, loaded) = app.admin_get("/scenarios").await;
    assert!(loaded["scenarios"].as_array().unwrap().is_empty(), "nothing was loaded");
}

/// The admin API's numbers: moves past ten years, floats and numbers past
/// `u64` are refused; a clock set near the end of the year 9999 stops
/// there, and everything computed from it still works.
#[tokio::test]
async fn hostile_clock_moves_are_refused_and_the_end_of_the_calendar_is_safe() {
    // No timestamp window: the client's clock is not the tenant's.
    let app = spawn_virtual(&format!("{FAST_WORLD}timestamp_window_secs = 0\n")).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    for body in [
        json!({ "advance_ms": 9e15 }),
        json!({ "advance_ms": 315_360_000_001u64 }),
        json!({ "advance_ms": u64::MAX }),
        json!({ "advance_ms": -1 }),
        json!({ "set": "+262143-12-31T23:59:59Z" }),
        json!({ "advance_ms": 1, "set": "2030-01-01T00:00:00Z" }),
    ] {
        let (status, err) = app.admin_post("/clock", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["error"]["code"], "bad_request", "{body}");
    }
    let raw = app
        .http
        .post(app.url("/__sandbox/clock"))
        .header("content-type", "application/json")
        .body(r#"{"advance_ms": 100000000000000000000000000000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

    let (status, clock) = app.admin_post("/clock", &json!({ "set": "9999-12-31T20:00:00Z" })).await;
    assert_eq!(status, StatusCode::OK, "{clock}");
    let (status, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    app.advance_ms(60_000).await;
    let attempts = app.attempts(ack["CheckoutRequestID"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["outcome"], "delivered", "{}", attempts[0]);
    let (_, clock) = app.admin_post("/clock", &json!({ "advance_ms": 315_360_000_000u64 })).await;
    assert_eq!(clock["now"], "9999-12-31T23:59:59.999Z", "the clock stops at the end of the year 9999");
    assert_eq!(app.token().await.len(), 28, "a token expiring past the year 9999 is still issued");
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["status"], "ok", "{health}");
}

/// A scripted delay at or past the request timeout answers, at the
/// timeout, as a timed-out request in the provider's envelope.
#[tokio::test]
async fn a_scripted_delay_cannot_hold_a_connection_past_the_request_timeout() {
    let mut config = Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap();
    config.request_timeout = Duration::from_millis(300);
    let config = config
        .with_scenario_toml("[[rules]]\nwhen = { operation = \"stk_push\" }\nfault = { delay_ms = 600000 }\n")
        .unwrap();
    let app = spawn_config(config).await;
    let started = std::time::Instant::now();
    let token = app.token().await;
    let res = app
        .http
        .post(app.url("/mpesa/stkpush/v1/processrequest"))
        .bearer_auth(token)
        .json(&app.stk_body("254708374149", 1))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "answered at the timeout: {:?}", started.elapsed());
    let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
    assert!(diagnosis.contains("600000 ms"), "{diagnosis}");
    let body: Value = res.json().await.unwrap();
    assert!(body["errorCode"].as_str().is_some() && body["requestId"].as_str().is_some(), "Daraja's envelope: {body}");
}
