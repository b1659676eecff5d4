//! Banks and aggregators: validate, confirm, duplicate confirmations.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{merchant_accepts, pesaflow_app, php_hash, Checkout, CLIENT, KEY, SECRET};
use crate::helpers::TestApp;

fn validate_body(ref_no: &str, amount: &str, currency: &str) -> Value {
    let hash = php_hash(KEY, &[CLIENT, ref_no, amount, SECRET]);
    json!({ "api_client_id": CLIENT, "ref_no": ref_no, "currency": currency, "amount": amount, "secure_hash": hash })
}

fn confirm_body(ref_no: &str, amount: &str, transaction: &str) -> Value {
    let date = "2026-02-11 17:31:40";
    let hash = php_hash(KEY, &[CLIENT, ref_no, amount, "KES", transaction, date, "JOHN DOE", "438485959", SECRET]);
    json!({
        "api_client_id": CLIENT, "ref_no": ref_no, "amount": amount, "currency": "KES",
        "gateway_transaction_id": transaction, "gateway_transaction_date": date,
        "customer_name": "JOHN DOE", "customer_account_number": "438485959", "secure_hash": hash
    })
}

async fn invoice(app: &TestApp, bill_ref: &str) -> String {
    app.pf_checkout(&Checkout::new(bill_ref, "100.00")).await["invoice_number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_bank_validates_a_bill_before_taking_payment() {
    let app = pesaflow_app("").await;
    let number = invoice(&app, "REF-BANK-1").await;
    let (status, body, _) = app.pf_post_json("/api/payment/validate", &validate_body(&number, "105.00", "KES")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": 200, "description": "Bill Found", "data": {"amount": "105.00", "name": "Jane Doe", "currency": "KES"}})
    );
    let (status, body, _) = app.pf_post_json("/api/payment/validate", &validate_body("NOSUCH", "105.00", "KES")).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"status": 404, "description": "Bill not found"})));
    let (status, body, diagnosis) =
        app.pf_post_json("/api/payment/validate", &validate_body(&number, "105.00", "USD")).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"status": 400, "description": "Invalid Request"})));
    assert!(diagnosis.contains("is in KES, not USD"), "{diagnosis}");
    let (status, _, diagnosis) =
        app.pf_post_json("/api/payment/validate", &json!({"api_client_id": CLIENT, "ref_no": number})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(diagnosis, "currency is missing");
}

#[tokio::test]
async fn a_bank_confirmation_settles_the_invoice_once_and_notifies_it() {
    let app = pesaflow_app("").await;
    let number = invoice(&app, "REF-BANK-2").await;
    let (status, body, _) = app.pf_post_json("/api/payment/confirm", &confirm_body(&number, "105.00", "1234434")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": 200, "description": "Success"})));

    // The same gateway transaction again: success, nothing paid twice.
    let (status, body, diagnosis) =
        app.pf_post_json("/api/payment/confirm", &confirm_body(&number, "105.00", "1234434")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": 200, "description": "Success"})));
    assert!(diagnosis.contains("already recorded"), "{diagnosis}");

    app.advance_ms(100).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 1, "one payment, one notification");
    let notification: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert!(merchant_accepts(&notification));
    assert_eq!(notification["payment_channel"], "BANK");
    assert_eq!(notification["status"], "settled");
    assert_eq!(notification["payment_reference"][0]["payment_reference"], "1234434");
    let (_, status) = app.pf_status(&number).await;
    assert_eq!((status["status"].as_str(), status["amount_paid"].as_str()), (Some("settled"), Some("105.00")));

    // A settled invoice takes no more payments: the guide's 500 Failed.
    let (status, body, diagnosis) =
        app.pf_post_json("/api/payment/confirm", &confirm_body(&number, "1.00", "9999999")).await;
    assert_eq!((status, body), (StatusCode::INTERNAL_SERVER_ERROR, json!({"status": 500, "description": "Failed"})));
    assert!(diagnosis.contains("is already settled"), "{diagnosis}");

    // The money came from outside mobile money into the service's account.
    let (_, accounts) = app.admin_get("/accounts?provider=pesaflow&shortcode=1001").await;
    assert_eq!(accounts["accounts"][0]["balance"], "105.00");
}

#[tokio::test]
async fn a_bank_may_pay_part_and_m_pesa_the_rest() {
    let app = pesaflow_app("").await;
    let answer = app.pf_checkout(&Checkout::new("REF-MIX-1", "100.00")).await;
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    let (status, _, _) = app.pf_post_json("/api/payment/confirm", &confirm_body(&number, "5", "BANK-1")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, due, _) = app.pf_post_json("/api/payment/validate", &validate_body(&number, "100", "KES")).await;
    assert_eq!(due["data"]["amount"], "100.00", "validate answers what is still due");
    let link = answer["invoice_link"].as_str().unwrap().rsplit('=').next().unwrap().to_owned();
    let form = vec![("request_id".to_owned(), link), ("phone".to_owned(), "254708374149".to_owned())];
    let (status, _, _) = app.pf_post_form("/checkout/prompt", &form).await;
    assert_eq!(status, StatusCode::OK);
    app.advance_ms(1_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 2);
    let last: Value = serde_json::from_slice(&received[1].1).unwrap();
    assert_eq!((last["status"].as_str(), last["amount_paid"].as_str()), (Some("settled"), Some("105")));
    assert_eq!(last["payment_reference"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn confirmations_are_hash_checked() {
    let app = pesaflow_app("").await;
    let number = invoice(&app, "REF-BANK-3").await;
    let mut body = confirm_body(&number, "105.00", "1234434");
    body["amount"] = json!("105");
    let (status, answer, diagnosis) = app.pf_post_json("/api/payment/confirm", &body).await;
    assert_eq!(
        (status, answer),
        (StatusCode::UNAUTHORIZED, json!({"status": 401, "description": "Invalid secure hash"}))
    );
    assert!(diagnosis.contains("confirm recipe"), "{diagnosis}");
    // The header is cut short; the journal keeps the whole diagnosis.
    let journaled = app.pf_last_diagnosis().await;
    assert!(journaled.contains(r#"amount "105.00" instead of the "105" sent"#), "{journaled}");
    let mut bad_date = confirm_body(&number, "105.00", "1234434");
    bad_date["gateway_transaction_date"] = json!("2026-02-11T17:31:40Z");
    let (status, _, diagnosis) = app.pf_post_json("/api/payment/confirm", &bad_date).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        diagnosis.starts_with("gateway_transaction_date must be a date and time written Y-m-d H:i:s"),
        "{diagnosis}"
    );
}
