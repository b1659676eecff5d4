//! USSD: a customer dials with a reference for a service code; the sandbox
//! asks the merchant (a wiremock server) whether the reference is valid,
//! and a payment follows when it is.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{pesaflow_app, php_hash};
use crate::helpers::TestApp;

/// Land rates (service 1002, USSD code 1002) validated and notified at the receiver.
async fn ussd_app(valid: bool) -> TestApp {
    let app = pesaflow_app("").await;
    let world = format!(
        "[[pesaflow.services]]\nservice_id = \"1002\"\nussd_validation_url = \"{0}/ussd/validate\"\nnotification_url = \"{0}/ipn\"\n",
        app.receiver.uri()
    );
    let (status, created) =
        app.admin_post("/tenants", &json!({ "id": "rates", "world": world, "clock": {"mode": "virtual"} })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Mock::given(method("POST"))
        .and(path("/ussd/validate"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "display_info": { "Name": "John Doe", "Account": 123456789 }, "valid": valid })),
        )
        .mount(&app.receiver)
        .await;
    app
}

/// The tenant's client key and secret.
async fn credentials(app: &TestApp) -> (String, String) {
    let (_, creds) = app.admin_get("/tenants/rates/credentials").await;
    (creds["pesaflow"]["key"].as_str().unwrap().to_owned(), creds["pesaflow"]["secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_valid_ussd_reference_is_checked_with_the_merchant_then_paid_and_notified() {
    let app = ussd_app(true).await;
    let (key, secret) = credentials(&app).await;
    let (status, session) = app
        .admin_post(
            "/tenants/rates/pesaflow/ussd",
            &json!({ "reference": "PLOT-209/77", "service_code": "1002", "msisdn": "0708374149", "amount": 250 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["status"], "valid", "the merchant answered before the trigger returned: {session}");
    assert_eq!(session["display_info"], json!({ "Name": "John Doe", "Account": "123456789" }));

    // What the merchant received, checked as its own handler would.
    let requests = app.receiver.received_requests().await.unwrap();
    let validation = requests.iter().find(|r| r.url.path() == "/ussd/validate").unwrap();
    let body: Value = serde_json::from_slice(&validation.body).unwrap();
    assert_eq!(body["reference"], "PLOT-209/77");
    assert_eq!(body["service_code"], "1002");
    assert_eq!(body["secure_hash"], php_hash(&key, &["PLOT-209/77", "1002", &secret]));
    let text = String::from_utf8(validation.body.clone()).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("reference") < at("service_code") && at("service_code") < at("secure_hash"), "{text}");

    let number = session["invoice_number"].as_str().unwrap().to_owned();
    assert!(session["prompt_id"].is_string(), "{session}");
    let (status, _) = app.admin_post("/tenants/rates/clock", &json!({ "advance_ms": 1000 })).await;
    assert_eq!(status, StatusCode::OK);
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 1);
    let notification: Value = serde_json::from_slice(&received[0].1).unwrap();
    let expected = php_hash(
        &key,
        &[
            notification["client_invoice_ref"].as_str().unwrap(),
            notification["invoice_number"].as_str().unwrap(),
            notification["amount_paid"].as_str().unwrap(),
            notification["payment_date"].as_str().unwrap(),
            &secret,
        ],
    );
    assert_eq!(notification["secure_hash"], expected.as_str());
    assert_eq!(notification["invoice_number"], number.as_str());
    assert_eq!(notification["client_invoice_ref"], "PLOT-209/77");
    assert_eq!(notification["status"], "settled");
    let (_, invoice) = app.admin_get(&format!("/tenants/rates/pesaflow/invoices/{number}")).await;
    assert_eq!(invoice["invoice"]["origin"], "ussd");
    assert_eq!(invoice["invoice"]["client_name"], "John Doe", "the merchant's display name bills the invoice");
}

#[tokio::test]
async fn an_invalid_reference_stops_at_the_merchants_answer() {
    let app = ussd_app(false).await;
    let (status, session) = app
        .admin_post(
            "/tenants/rates/pesaflow/ussd",
            &json!({ "reference": "NOPE", "service_code": "1002", "msisdn": "254708374149", "amount": "250.00" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(session["status"], "invalid");
    assert_eq!(session["invoice_number"], Value::Null);
    let (_, invoices) = app.admin_get("/tenants/rates/pesaflow/invoices").await;
    assert!(invoices["invoices"].as_array().unwrap().is_empty());
    let (_, sessions) = app.admin_get("/tenants/rates/pesaflow/ussd").await;
    assert_eq!(sessions["sessions"][0]["reason"], "the merchant said not valid");
}

#[tokio::test]
async fn a_merchant_that_answers_garbage_fails_the_session_and_bad_dials_are_refused() {
    let app = pesaflow_app("").await;
    let world = format!(
        "[[pesaflow.services]]\nservice_id = \"1002\"\nussd_validation_url = \"{}/ussd/broken\"\n",
        app.receiver.uri()
    );
    app.admin_post("/tenants", &json!({ "id": "broken", "world": world, "clock": {"mode": "virtual"} })).await;
    Mock::given(method("POST"))
        .and(path("/ussd/broken"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&app.receiver)
        .await;
    let (_, session) = app
        .admin_post(
            "/tenants/broken/pesaflow/ussd",
            &json!({ "reference": "R", "service_code": "1002", "msisdn": "254708374149" }),
        )
        .await;
    assert_eq!(session["status"], "failed");
    assert!(session["reason"].as_str().unwrap().contains("is not {display_info, valid}"), "{session}");

    let (status, error) = app
        .admin_post("/pesaflow/ussd", &json!({ "reference": "R", "service_code": "9999", "msisdn": "254708374149" }))
        .await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_service_code")));
    let (status, _) =
        app.admin_post("/pesaflow/ussd", &json!({ "reference": "R", "service_code": "1002", "msisdn": "12345" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without a validation URL nothing is asked: the reference is taken as valid.
    let (_, session) = app
        .admin_post("/pesaflow/ussd", &json!({ "reference": "R", "service_code": "1002", "msisdn": "254708374149" }))
        .await;
    assert_eq!(session["status"], "valid");
}
