//! Scenario files: each shipped scenario does what it promises, scenarios
//! load and fail precisely, faults and payload variants reach the wire.
//! Virtual clocks make every timing exact and every test free of sleeps.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::assert_daraja_error;
use crate::helpers::{spawn, spawn_scenarios, TestApp};

async fn accept_all(app: &TestApp) {
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
}

async fn push(app: &TestApp, msisdn: &str, amount: i64) -> String {
    let (status, ack) = app.stk_push(&app.stk_body(msisdn, amount)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    ack["CheckoutRequestID"].as_str().unwrap().to_owned()
}

fn stk(attempt: &Value) -> &Value {
    &attempt["body"]["Body"]["stkCallback"]
}

#[tokio::test]
async fn happy_path_pays_even_test_msisdns() {
    let app = spawn_scenarios(&["happy-path"]).await;
    accept_all(&app).await;
    let id = push(&app, "254711001032", 10).await;
    app.advance_ms(500).await;
    let attempts = app.attempts(&id).await;
    assert_eq!(stk(&attempts[0])["ResultCode"], json!(0));
}

#[tokio::test]
async fn user_cancels_fails_every_push_with_1032_and_moves_no_money() {
    let app = spawn_scenarios(&["user-cancels"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    assert!(app.attempts(&id).await.is_empty(), "nothing before the customer answers");
    app.advance_ms(1500).await;
    let attempts = app.attempts(&id).await;
    assert_eq!(stk(&attempts[0])["ResultCode"], json!(1032));
    assert_eq!(app.balance_of_msisdn("254708374149").await, "500000.00");
}

#[tokio::test]
async fn user_never_answers_times_out_with_1037_after_the_prompt_timeout() {
    let app = spawn_scenarios(&["user-never-answers"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(59_999).await;
    assert!(app.attempts(&id).await.is_empty());
    app.advance_ms(1).await;
    assert_eq!(stk(&app.attempts(&id).await[0])["ResultCode"], json!(1037));
}

#[tokio::test]
async fn wrong_pin_fails_with_2001() {
    let app = spawn_scenarios(&["wrong-pin"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(20).await;
    assert_eq!(stk(&app.attempts(&id).await[0])["ResultDesc"], "The initiator information is invalid.");
}

#[tokio::test]
async fn insufficient_funds_fails_only_payments_above_100() {
    let app = spawn_scenarios(&["insufficient-funds"]).await;
    accept_all(&app).await;
    let big = push(&app, "254708374149", 500).await;
    let small = push(&app, "254722000000", 50).await;
    app.advance_ms(20).await;
    assert_eq!(stk(&app.attempts(&big).await[0])["ResultCode"], json!(1));
    assert_eq!(stk(&app.attempts(&small).await[0])["ResultCode"], json!(0));
}

#[tokio::test]
async fn duplicate_callbacks_arrive_three_times_with_the_same_body() {
    let app = spawn_scenarios(&["duplicate-callbacks"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(20).await;
    assert_eq!(app.attempts(&id).await.len(), 1);
    app.advance_ms(400).await;
    let attempts = app.attempts(&id).await;
    assert_eq!(attempts.len(), 3);
    let copies: Vec<u64> = attempts.iter().map(|a| a["copy"].as_u64().unwrap()).collect();
    assert_eq!(copies, [0, 1, 2]);
    assert!(attempts
        .iter()
        .all(|a| a["body"] == attempts[0]["body"] && a["callback_id"] == attempts[0]["callback_id"]));
    assert_eq!(app.receiver.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn missing_callbacks_are_journaled_as_dropped_and_never_sent() {
    let app = spawn_scenarios(&["missing-callbacks"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(20).await;
    let attempts = app.attempts(&id).await;
    assert_eq!(attempts[0]["outcome"], "dropped");
    assert!(app.receiver.received_requests().await.unwrap().is_empty());
    let (_, query) = app.stk_query(&id).await;
    assert_eq!(query["ResultCode"], "0", "the payment itself went through");
}

#[tokio::test]
async fn late_callback_comes_after_queries_said_pending() {
    let app = spawn_scenarios(&["late-callback"]).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(10_000).await;
    let (status, err) = app.stk_query(&id).await;
    assert_daraja_error(status, &err, 500, "500.001.1001", "The transaction is being processed");
    app.advance_ms(10_000).await;
    assert_eq!(stk(&app.attempts(&id).await[0])["ResultCode"], json!(0));
    let (_, query) = app.stk_query(&id).await;
    assert_eq!(query["ResultCode"], "0");
}

#[tokio::test]
async fn flaky_receiver_gets_retries_on_the_scripted_schedule() {
    let app = spawn_scenarios(&["flaky-receiver"]).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(2).mount(&app.receiver).await;
    accept_all(&app).await;
    let id = push(&app, "254708374149", 10).await;
    app.advance_ms(20).await;
    app.advance_ms(999).await;
    assert_eq!(app.attempts(&id).await.len(), 1, "no retry before its delay");
    app.advance_ms(1).await;
    app.advance_ms(2000).await;
    let attempts = app.attempts(&id).await;
    let outcomes: Vec<(&str, u64)> =
        attempts.iter().map(|a| (a["outcome"].as_str().unwrap(), a["attempt"].as_u64().unwrap())).collect();
    assert_eq!(outcomes, [("failed", 1), ("failed", 2), ("delivered", 3)]);
}

#[tokio::test]
async fn spike_arrest_refuses_a_second_query_within_a_second() {
    let app = spawn_scenarios(&["spike-arrest"]).await;
    let id = push(&app, "254708374149", 10).await;
    let (status, _) = app.stk_query(&id).await;
    assert_eq!(status.as_u16(), 500, "pending");
    let (status, err) = app.stk_query(&id).await;
    assert_eq!(status.as_u16(), 429, "Apigee's spike arrest, as the live gateway answers: {err}");
    assert_eq!(
        err,
        json!({ "fault": {
            "faultstring": "Spike arrest violation. Allowed rate : MessageRate{messagesPerPeriod=1, periodInMicroseconds=1000000, maxBurstMessageCount=1.0}",
            "detail": { "errorcode": "policies.ratelimit.SpikeArrestViolation" }
        } })
    );
    app.advance_ms(1000).await;
    let (status, body) = app.stk_query(&id).await;
    assert_eq!(status, StatusCode::OK, "a token came back after a second: {body}");
}

#[tokio::test]
async fn out_of_order_holds_a_callback_until_the_next_one_is_sent() {
    let app = spawn_scenarios(&["out-of-order"]).await;
    accept_all(&app).await;
    let first = push(&app, "254708374149", 1).await;
    let second = push(&app, "254722000000", 2).await;
    app.advance_ms(20).await;
    let received = app.receiver.received_requests().await.unwrap();
    let order: Vec<String> = received
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["Body"]["stkCallback"]["CheckoutRequestID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(order, [second, first]);
}

#[tokio::test]
async fn an_out_of_order_callback_is_released_after_its_hold_limit() {
    let app = spawn_scenarios(&["out-of-order"]).await;
    accept_all(&app).await;
    let lonely = push(&app, "254708374149", 1).await;
    app.advance_ms(20).await;
    assert!(app.attempts(&lonely).await.is_empty(), "held");
    app.advance_ms(60_000).await;
    assert_eq!(app.attempts(&lonely).await.len(), 1, "released when no later callback came");
}

#[tokio::test]
async fn interactive_prompts_wait_for_an_answer_through_the_admin_api() {
    let app = spawn_scenarios(&["interactive"]).await;
    accept_all(&app).await;
    let cancelled = push(&app, "254708374149", 10).await;
    app.advance_ms(30_000).await;
    assert!(app.attempts(&cancelled).await.is_empty(), "still waiting for the customer");
    let (status, answer) = app.admin_post(&format!("/stk/{cancelled}/answer"), &json!({ "action": "cancel" })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "failed");
    assert_eq!(stk(&app.attempts(&cancelled).await[0])["ResultCode"], json!(1032));

    let paid = push(&app, "254722000000", 10).await;
    app.admin_post(&format!("/stk/{paid}/answer"), &json!({ "action": "pay" })).await;
    assert_eq!(stk(&app.attempts(&paid).await[0])["ResultCode"], json!(0));

    let ignored = push(&app, "254712345678", 10).await;
    app.advance_ms(60_000).await;
    assert_eq!(stk(&app.attempts(&ignored).await[0])["ResultCode"], json!(1037), "nobody answered");

    let (status, err) = app.admin_post(&format!("/stk/{paid}/answer"), &json!({ "action": "pay" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "already_settled");
    let (status, _) = app.admin_post("/stk/ws_CO_nope/answer", &json!({ "action": "pay" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.admin_post(&format!("/stk/{paid}/answer"), &json!({ "action": "dance" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn gateway_outage_serves_html_for_tokens_and_503_for_pushes() {
    let app = crate::helpers::spawn_virtual(crate::helpers::FAST_WORLD).await;
    let token = app.token().await;
    let (status, _) = app.admin_post("/scenarios", &json!({ "names": ["gateway-outage"] })).await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&app.creds.daraja.consumer_key, Some(&app.creds.daraja.consumer_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/html");
    assert!(res.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    let (status, err) =
        app.post_json("/mpesa/stkpush/v1/processrequest", &token, &app.stk_body("254708374149", 1)).await;
    assert_daraja_error(status, &err, 503, "500.003.02", "System is busy. Please try again in few minutes.");
}

#[tokio::test]
async fn connection_faults_reset_or_close_without_an_answer_and_the_server_lives_on() {
    let app = spawn_scenarios(&["connection-reset"]).await;
    let token = app.token().await;
    let url = app.url("/mpesa/stkpush/v1/processrequest");
    for amount in [13, 14] {
        let sent = app.http.post(&url).bearer_auth(&token).json(&app.stk_body("254708374149", amount)).send().await;
        let err = sent.expect_err("no answer comes back");
        assert!(err.is_request() || err.is_connect() || err.to_string().contains("connection"), "{err:?}");
    }
    let started = std::time::Instant::now();
    let (status, _) =
        app.post_json("/mpesa/stkpush/v1/processrequest", &token, &app.stk_body("254722000000", 10)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "the slow rule delays the answer");
    let (_, journal) = app.admin_get("/requests?errors=false").await;
    let dropped = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["diagnosis"].as_str().is_some_and(|d| d.contains("drops the connection")));
    assert_eq!(dropped.count(), 2);
}

#[tokio::test]
async fn payload_variants_reach_the_wire() {
    let app = crate::helpers::spawn_virtual(crate::helpers::FAST_WORLD).await;
    accept_all(&app).await;
    let scenario = r#"
        [[rules]]
        when = { operation = "oauth" }
        variants = { expires_in = "number" }
        [[rules]]
        when = { operation = "stk_push" }
        variants = { response_code = "00000000", balance_item = false, phone_number = "hashed" }
    "#;
    let res = app.http.put(app.url("/__sandbox/scenarios")).body(scenario).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&app.creds.daraja.consumer_key, Some(&app.creds.daraja.consumer_secret))
        .send()
        .await
        .unwrap();
    let token: Value = res.json().await.unwrap();
    assert_eq!(token["expires_in"], json!(3599));
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 10)).await;
    assert_eq!(ack["ResponseCode"], "00000000");
    app.advance_ms(20).await;
    let attempts = app.attempts(ack["CheckoutRequestID"].as_str().unwrap()).await;
    let items = stk(&attempts[0])["CallbackMetadata"]["Item"].as_array().unwrap().clone();
    assert!(items.iter().all(|i| i["Name"] != "Balance"));
    let phone = items.iter().find(|i| i["Name"] == "PhoneNumber").unwrap()["Value"].as_str().unwrap().to_owned();
    assert_eq!(phone.len(), 64, "a SHA-256 hex digest: {phone}");
}

#[tokio::test]
async fn scenarios_load_append_clear_and_bad_documents_change_nothing() {
    let app = spawn().await;
    let put = |body: &'static str| app.http.put(app.url("/__sandbox/scenarios")).body(body).send();
    let res = put("name = \"a\"\n[[rules]]\nwhen = { operation = \"stk_push\" }\noutcome = { result_code = 1032 }\n")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res =
        app.http.post(app.url("/__sandbox/scenarios")).json(&json!({ "names": ["wrong-pin"] })).send().await.unwrap();
    let listed: Value = res.json().await.unwrap();
    let names: Vec<&str> =
        listed["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "wrong-pin"]);

    let res = put("[[rules]]\nwhen = { operation = \"stk_pusj\" }\n").await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_scenario");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("request body: line 2") && message.contains("stk_pusj"), "{message}");
    let res =
        app.http.post(app.url("/__sandbox/scenarios")).json(&json!({ "names": ["no-such"] })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, listed) = app.admin_get("/scenarios").await;
    assert_eq!(listed["scenarios"].as_array().unwrap().len(), 2, "a refused document changes nothing");

    let res = app.http.delete(app.url("/__sandbox/scenarios")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, listed) = app.admin_get("/scenarios").await;
    assert!(listed["scenarios"].as_array().unwrap().is_empty());
    let (_, catalogue) = app.admin_get("/scenarios/catalogue").await;
    assert!(catalogue["scenarios"].as_array().unwrap().len() >= 11);
}

#[tokio::test]
async fn the_clock_can_be_read_set_and_advanced_only_when_virtual() {
    let app = spawn().await;
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["mode"], "system");
    let (status, err) = app.admin_post("/clock", &json!({ "advance_ms": 1000 })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "clock_not_virtual");

    let app = crate::helpers::spawn_virtual(crate::helpers::FAST_WORLD).await;
    let (status, clock) = app.admin_post("/clock", &json!({ "set": "2030-01-31T09:00:00+03:00" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clock["now"], "2030-01-31T06:00:00Z");
    assert_eq!(clock["eat"], "20300131090000");
    let clock = app.advance_ms(90_000).await;
    assert_eq!(clock["now"], "2030-01-31T06:01:30Z");
    let (status, _) = app.admin_post("/clock", &json!({ "advance_ms": 1, "set": "2030-01-01T00:00:00Z" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_same_seed_and_requests_give_a_byte_identical_callback_journal() {
    let receiver = wiremock::MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let start = chrono::DateTime::parse_from_rfc3339("2031-03-01T08:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let mut journals = Vec::new();
    for _ in 0..2 {
        let config = pesa_sandbox::Config::local()
            .with_seed(42)
            .with_world_toml("[daraja]\ntimestamp_window_secs = 0\n")
            .unwrap()
            .with_clock(pesa_sandbox::config::ClockMode::Virtual { start })
            .with_shipped_scenario("duplicate-callbacks")
            .unwrap();
        let mut app = crate::helpers::spawn_config(config).await;
        app.receiver = wiremock::MockServer::start().await;
        for (msisdn, amount) in [("254708374149", 10), ("254711001032", 20), ("254722000000", 30)] {
            let mut body = app.stk_body(msisdn, amount);
            body["CallBackURL"] = json!(format!("{}/stk", receiver.uri()));
            app.stk_push(&body).await;
        }
        app.advance_ms(2000).await;
        let res = app.http.get(app.url("/__sandbox/callbacks?stable=true")).send().await.unwrap();
        journals.push(res.bytes().await.unwrap());
    }
    assert!(journals[0].len() > 1000);
    assert_eq!(journals[0], journals[1]);
}
