//! C2B: URL registration, simulation, validation and confirmation, the
//! customer paying from the phone, and the production rules.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::assert_daraja_error;
use crate::daraja::money::{money_app, total_money};
use crate::helpers::TestApp;

fn register_body(app: &TestApp, shortcode: &str, response_type: &str) -> Value {
    json!({
        "ShortCode": shortcode,
        "ResponseType": response_type,
        "ConfirmationURL": format!("{}/c2b/confirm", app.receiver.uri()),
        "ValidationURL": format!("{}/c2b/validate", app.receiver.uri()),
    })
}

async fn register(app: &TestApp, version: &str, body: &Value) -> (StatusCode, Value) {
    let token = app.token().await;
    app.post_json(&format!("/mpesa/c2b/{version}/registerurl"), &token, body).await
}

async fn simulate(app: &TestApp, shortcode: &str, amount: i64, bill_ref: &str) -> Value {
    let token = app.token().await;
    let body = json!({ "ShortCode": shortcode, "CommandID": "CustomerPayBillOnline", "Amount": amount, "Msisdn": 254708374149u64, "BillRefNumber": bill_ref });
    let (status, ack) = app.post_json("/mpesa/c2b/v1/simulate", &token, &body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    ack
}

/// The TransID of the latest C2B payment.
async fn latest_payment(app: &TestApp) -> Value {
    let (_, txs) = app.admin_get("/transactions?kind=c2b_payment").await;
    txs["transactions"].as_array().unwrap().last().unwrap().clone()
}

#[tokio::test]
async fn registering_urls_answers_as_each_version_does() {
    let app = money_app("").await;
    let (status, v1) = register(&app, "v1", &register_body(&app, "600984", "Completed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v1["ResponseCode"], "0");
    assert_eq!(v1["ResponseDescription"], "success");
    assert!(v1["OriginatorCoversationID"].as_str().is_some(), "the contract's misspelt key: {v1}");
    let (_, v2) = register(&app, "v2", &register_body(&app, "600984", "Cancelled")).await;
    assert_eq!(v2["ResponseDescription"], "Success");
}

#[tokio::test]
async fn registration_rules_are_enforced() {
    let app = money_app("").await;
    let mut forbidden = register_body(&app, "600984", "Completed");
    forbidden["ConfirmationURL"] = json!(format!("{}/MPesa/confirm", app.receiver.uri()));
    let (status, err) = register(&app, "v2", &forbidden).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ConfirmationURL");
    let mut query = register_body(&app, "600984", "Completed");
    query["ValidationURL"] = json!(format!("{}/validate?QUERY=1", app.receiver.uri()));
    let (status, err) = register(&app, "v2", &query).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ValidationURL");
    let (status, err) = register(&app, "v2", &register_body(&app, "600984", "completed")).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ResponseType");
    let (status, err) = register(&app, "v2", &register_body(&app, "500200", "Completed")).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ShortCode");
    let (status, fault) = register(&app, "v2", &register_body(&app, "174379", "Completed")).await;
    assert_eq!(status.as_u16(), 500);
    assert_eq!(
        fault["Envelope"]["Body"]["Fault"]["faultcode"], "soap:Server",
        "the Apigee fault for an STK-only shortcode"
    );
}

#[tokio::test]
async fn a_payment_without_validation_completes_and_confirms_with_the_new_balance() {
    let app = money_app("").await;
    register(&app, "v2", &register_body(&app, "600984", "Completed")).await;
    let ack = simulate(&app, "600984", 120, "ACC-9").await;
    assert_eq!(ack["ResponseDescription"], "Accept the service request successfully.");
    app.advance_ms(20).await;
    let payment = latest_payment(&app).await;
    assert_eq!(payment["status"], "completed");
    let trans_id = payment["trans_id"].as_str().unwrap();
    let attempts = app.attempts_by(trans_id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["kind"], "c2b_confirmation");
    let body = &attempts[0]["body"];
    assert_eq!(body["TransactionType"], "Pay Bill");
    assert_eq!(body["TransID"], trans_id);
    assert_eq!(body["TransAmount"], "120.00");
    assert_eq!(body["BusinessShortCode"], "600984");
    assert_eq!(body["BillRefNumber"], "ACC-9");
    assert_eq!(body["OrgAccountBalance"], "250120.00");
    assert_eq!(body["MSISDN"], "2547 ***** 149", "masked as v2 registrations are");
    assert_eq!(body["FirstName"], "JOHN");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "499880.00");
}

#[tokio::test]
async fn external_validation_accepts_rejects_or_falls_back_to_the_response_type() {
    let app =
        money_app("[[shortcodes]]\nnumber = \"600984\"\nkind = \"paybill\"\nbalance = 0\nexternal_validation = true\n")
            .await;
    // The validator answers, in turn: accept, reject, then fail twice.
    let validator = wiremock::MockServer::start().await;
    let answer = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("POST"))
        .respond_with(answer(json!({ "ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "ERP-551" })))
        .up_to_n_times(1)
        .mount(&validator)
        .await;
    Mock::given(method("POST"))
        .respond_with(answer(json!({ "ResultCode": "C2B00012", "ResultDesc": "Rejected" })))
        .up_to_n_times(1)
        .mount(&validator)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).mount(&validator).await;
    let mut body = register_body(&app, "600984", "Completed");
    body["ValidationURL"] = json!(format!("{}/c2b/validate", validator.uri()));
    register(&app, "v1", &body).await;

    // Accepted: the confirmation echoes the validator's ThirdPartyTransID.
    simulate(&app, "600984", 10, "A1").await;
    app.advance_ms(20).await;
    let payment = latest_payment(&app).await;
    assert_eq!(payment["status"], "completed", "{payment}");
    let attempts = app.attempts_by(payment["trans_id"].as_str().unwrap()).await;
    let kinds: Vec<&str> = attempts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["c2b_validation", "c2b_confirmation"]);
    assert_eq!(attempts[0]["body"]["OrgAccountBalance"], "", "blank on validation");
    assert_eq!(attempts[1]["body"]["ThirdPartyTransID"], "ERP-551");
    assert_eq!(attempts[1]["body"]["MSISDN"], "25470****149", "masked as v1 registrations are");

    // Rejected: no confirmation, no money.
    let before = app.balance_of_msisdn("254708374149").await;
    simulate(&app, "600984", 10, "BAD").await;
    app.advance_ms(20).await;
    let payment = latest_payment(&app).await;
    assert_eq!(payment["status"], "cancelled");
    assert!(payment["outcome_reason"].as_str().unwrap().contains("C2B00012"));
    assert_eq!(app.attempts_by(payment["trans_id"].as_str().unwrap()).await.len(), 1, "validation only");
    assert_eq!(app.balance_of_msisdn("254708374149").await, before);

    // A failing validator: ResponseType decides.
    simulate(&app, "600984", 10, "X").await;
    app.advance_ms(20).await;
    let payment = latest_payment(&app).await;
    assert_eq!(payment["status"], "completed", "ResponseType Completed applies: {payment}");
    body["ResponseType"] = json!("Cancelled");
    register(&app, "v1", &body).await;
    simulate(&app, "600984", 10, "Y").await;
    app.advance_ms(20).await;
    assert_eq!(latest_payment(&app).await["status"], "cancelled", "ResponseType Cancelled applies");
}

#[tokio::test]
async fn a_customer_paying_from_the_phone_goes_through_the_same_flow() {
    let app = money_app("").await;
    register(&app, "v2", &register_body(&app, "600984", "Completed")).await;
    let (status, paid) = app
        .admin_post(
            "/c2b/pay",
            &json!({ "shortcode": "600984", "msisdn": "254722000000", "amount": 45, "bill_ref_number": "HOUSE-7" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    app.advance_ms(20).await;
    let attempts = app.attempts_by(paid["trans_id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["body"]["BillRefNumber"], "HOUSE-7");
    assert_eq!(app.balance_of_msisdn("254722000000").await, "99955.00");
    let (status, _) =
        app.admin_post("/c2b/pay", &json!({ "shortcode": "400100", "msisdn": "254722000000", "amount": 5 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a head office cannot be paid");
}

#[tokio::test]
async fn without_registered_urls_a_payment_completes_silently() {
    let app = money_app("").await;
    let total = total_money(&app).await;
    simulate(&app, "600000", 75, "Q").await;
    app.advance_ms(20).await;
    let payment = latest_payment(&app).await;
    assert_eq!(payment["status"], "completed");
    assert!(app.attempts_by(payment["trans_id"].as_str().unwrap()).await.is_empty());
    assert_eq!(app.balance_of_shortcode("600000").await, "1000075.00");
    assert_eq!(total_money(&app).await, total);
}

#[tokio::test]
async fn a_paid_stk_push_also_confirms_to_the_c2b_urls_when_the_world_says_so() {
    let app = money_app("[[shortcodes]]\nnumber = \"174379\"\nkind = \"paybill\"\npasskey = \"bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919\"\nstk_confirmation = true\n").await;
    register(&app, "v2", &register_body(&app, "174379", "Completed")).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 30)).await;
    app.advance_ms(20).await;
    let (_, txs) = app.admin_get(&format!("/transactions?id={}", ack["CheckoutRequestID"].as_str().unwrap())).await;
    let receipt = txs["transactions"][0]["receipt"].as_str().unwrap().to_owned();
    let attempts = app.attempts_by(&receipt).await;
    assert_eq!(attempts[0]["kind"], "c2b_confirmation");
    assert_eq!(attempts[0]["body"]["TransAmount"], "30.00");
    assert_eq!(attempts[0]["body"]["BillRefNumber"], "INV-001");
}

#[tokio::test]
async fn production_rules_want_https_register_once_and_refuse_simulation() {
    let app = money_app("[daraja]\nproduction_rules = true\n").await;
    let (status, err) = register(&app, "v2", &register_body(&app, "600984", "Completed")).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ConfirmationURL");
    let https = json!({ "ShortCode": "600984", "ResponseType": "Completed", "ConfirmationURL": "https://example.test/c2b/confirm", "ValidationURL": "https://example.test/c2b/validate" });
    let (status, _) = register(&app, "v2", &https).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = register(&app, "v2", &https).await;
    assert_daraja_error(status, &err, 500, "500.003.1001", "Urls are already registered.");
    app.admin_post("/c2b/600984/unregister", &json!({})).await;
    let (status, _) = register(&app, "v2", &https).await;
    assert_eq!(status, StatusCode::OK, "registrable again once deleted");
    let token = app.token().await;
    let body = json!({ "ShortCode": "600984", "CommandID": "CustomerPayBillOnline", "Amount": 1, "Msisdn": "254708374149", "BillRefNumber": "x" });
    let (status, err) = app.post_json("/mpesa/c2b/v2/simulate", &token, &body).await;
    assert_daraja_error(status, &err, 404, "404.001.01", "Resource not found");
}
