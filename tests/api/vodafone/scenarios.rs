//! The shipped scenarios work for this provider too: delays, duplicates,
//! drops and faults reach its results and answers.

use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use super::{assert_ins, portal_c2b, LOOPBACK};
use crate::helpers::{spawn_config, TestApp, PATIENCE};
use pesa_sandbox::Config;

async fn with_scenario(name: &str) -> TestApp {
    let config = Config::local()
        .with_seed(7)
        .with_world_toml(LOOPBACK)
        .expect("world")
        .with_shipped_scenario(name)
        .expect("shipped scenario");
    let app = spawn_config(config).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"output_ResponseCode": "0"})))
        .mount(&app.receiver)
        .await;
    let url = format!("{}/results", app.receiver.uri());
    let (status, _) = app.admin_post("/vodafone/accounts/sandbox/async-url", &json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK);
    app
}

#[tokio::test]
async fn duplicate_callbacks_sends_every_result_three_times() {
    let app = with_scenario("duplicate-callbacks").await;
    let (_, ack) = app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "dup1")).await;
    let conversation = ack["output_ConversationID"].as_str().unwrap();
    let (status, body) = app
        .admin_get(&format!(
            "/callbacks/wait?correlation_id={conversation}&count=3&timeout_ms={}",
            PATIENCE.as_millis()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let copies: Vec<u64> = body["callbacks"].as_array().unwrap().iter().filter_map(|c| c["copy"].as_u64()).collect();
    assert_eq!(copies, [0, 1, 2]);
}

#[tokio::test]
async fn user_cancels_fails_the_result_with_ins_5_and_moves_nothing() {
    let app = with_scenario("user-cancels").await;
    let (_, ack) = app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "can1")).await;
    let attempts = app.judged(ack["output_ConversationID"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["body"]["input_ResultCode"], "INS-5");
    assert_eq!(app.balance_of_msisdn("258843330333").await, "50000.00");
}

#[tokio::test]
async fn gateway_outage_answers_ins_16_with_503() {
    let app = with_scenario("gateway-outage").await;
    let (status, body) =
        app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "out1")).await;
    assert_ins(status, &body, 503, "INS-16");
}
