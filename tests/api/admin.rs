//! The `/__sandbox/` admin API.

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{spawn, PATIENCE};

#[tokio::test]
async fn health_reports_ok_and_the_seed() {
    let app = spawn().await;
    let (status, body) = app.admin_get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["seed"], json!(7));
    assert_eq!(body["tenants"], json!(1));
}

#[tokio::test]
async fn credentials_list_everything_a_client_needs() {
    let app = spawn().await;
    let (status, body) = app.admin_get("/credentials").await;
    assert_eq!(status, StatusCode::OK);
    let daraja = &body["daraja"];
    assert_eq!(body["tenant"], "default");
    assert_eq!(body["base_url"], app.base);
    assert_eq!(daraja["consumer_key"], "PesaSandboxConsumerKey");
    assert_eq!(daraja["consumer_secret"], "PesaSandboxConsumerSecret");
    let lnm = daraja["lipa_na_mpesa"].as_array().unwrap();
    assert!(lnm.iter().any(|l| l["business_short_code"] == "174379"
        && l["passkey"] == "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"));
    assert!(lnm.iter().any(|l| l["business_short_code"] == "400200" && l["party_b"] == json!(["500200"])));
    assert!(daraja["initiators"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "testapi" && i["password"] == "Safaricom999!*!"));
    assert!(daraja["certificate_pem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(daraja["test_msisdns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["msisdn"] == "254711001032" && t["result_code"] == 1032));

    let pem = app.http.get(daraja["certificate_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert_eq!(pem, daraja["certificate_pem"].as_str().unwrap());
    assert_eq!(pem, pesa_sandbox::daraja::keys::CERTIFICATE_PEM);
}

#[tokio::test]
async fn the_callback_journal_can_be_filtered_and_waited_on() {
    let app = spawn().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, first) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let (_, second) = app.stk_push(&app.stk_body("254711001032", 1)).await;
    let second_id = second["CheckoutRequestID"].as_str().unwrap();
    let attempts = app.wait_callbacks(second_id, 1).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["correlation_id"], second_id);
    assert_eq!(attempts[0]["kind"], "stk_callback");
    assert_eq!(attempts[0]["outcome"], "delivered");
    assert_eq!(attempts[0]["status"], json!(200));
    app.wait_callbacks(first["CheckoutRequestID"].as_str().unwrap(), 1).await;

    let (_, all) = app.admin_get("/callbacks?outcome=delivered").await;
    assert_eq!(all["callbacks"].as_array().unwrap().len(), 2);
    let (_, none) = app.admin_get("/callbacks?outcome=failed").await;
    assert!(none["callbacks"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn waiting_for_a_callback_that_never_comes_times_out_with_408() {
    let app = spawn().await;
    let started = std::time::Instant::now();
    let (status, body) = app.admin_get("/callbacks/wait?correlation_id=nothing&timeout_ms=200").await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body["satisfied"], json!(false));
    assert!(started.elapsed() < PATIENCE);
}

#[tokio::test]
async fn refused_requests_are_journaled_with_a_diagnosis() {
    let app = spawn().await;
    let mut body = app.stk_body("254708374149", 1);
    body["Amount"] = json!(0);
    let (status, _) = app.stk_push(&body).await;
    assert_eq!(status.as_u16(), 400);
    let (_, journal) = app.admin_get("/requests?errors=true").await;
    let entry = &journal["requests"][0];
    assert_eq!(entry["error_code"], "400.002.02");
    assert_eq!(entry["path"], "/mpesa/stkpush/v1/processrequest");
    assert!(entry["diagnosis"].as_str().unwrap().contains("not a positive number"), "{entry}");
    assert!(entry["request_id"].as_str().is_some());
}

#[tokio::test]
async fn reset_restores_the_initial_world() {
    let app = spawn().await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 100)).await;
    app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(app.balance_of_msisdn("254708374149").await, "499900.00");
    let res = app.http.post(app.url("/__sandbox/reset")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.balance_of_msisdn("254708374149").await, "500000.00");
    let (_, txs) = app.admin_get("/transactions").await;
    assert!(txs["transactions"].as_array().unwrap().is_empty());
    let (_, journal) = app.admin_get("/callbacks").await;
    assert!(journal["callbacks"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_admin_paths_and_bad_filters_get_the_admin_envelope() {
    let app = spawn().await;
    let (status, body) = app.admin_get("/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.admin_get("/callbacks?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
}
