//! `POST /mpesa/stkpushquery/v1/query`.

use reqwest::StatusCode;
use serde_json::json;

use crate::daraja::{assert_daraja_error, lnm_password, PASSKEY};
use crate::helpers::{spawn_virtual, FAST_WORLD};

#[tokio::test]
async fn a_pending_push_is_being_processed_with_the_checkout_id_as_request_id() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    let (status, err) = app.stk_query(checkout).await;
    assert_daraja_error(status, &err, 500, "500.001.1001", "The transaction is being processed");
    assert_eq!(err["requestId"], checkout);
}

#[tokio::test]
async fn the_4999_variant_answers_200_while_pending() {
    let app = spawn_virtual(&format!("{FAST_WORLD}stk_query_pending = \"4999\"\n")).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let (status, body) = app.stk_query(ack["CheckoutRequestID"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ResultCode"], "4999");
    assert_eq!(body["ResponseCode"], "0");
}

#[tokio::test]
async fn a_settled_push_reports_its_result_code_as_a_string() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (_, paid) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let (_, cancelled) = app.stk_push(&app.stk_body("254711001032", 1)).await;
    app.advance(chrono::Duration::seconds(1)).await;

    let (status, body) = app.stk_query(paid["CheckoutRequestID"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successfully",
            "MerchantRequestID": paid["MerchantRequestID"],
            "CheckoutRequestID": paid["CheckoutRequestID"],
            "ResultCode": "0",
            "ResultDesc": "The service request is processed successfully.",
        })
    );
    let (_, body) = app.stk_query(cancelled["CheckoutRequestID"].as_str().unwrap()).await;
    assert_eq!(body["ResultCode"], "1032");
    assert_eq!(body["ResultDesc"], "Request cancelled by user");
}

#[tokio::test]
async fn the_query_settles_what_is_due_before_answering() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    // Move the clock without running the scheduler: the query itself must settle.
    app.sandbox.clock().advance(chrono::Duration::seconds(5));
    let (status, body) = app.stk_query(ack["CheckoutRequestID"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResultCode"], "0");
}

#[tokio::test]
async fn unknown_checkout_ids_and_bad_passwords_are_refused() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (status, err) = app.stk_query("ws_CO_00000000000000000000000").await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID");

    let token = app.token().await;
    let ts = crate::daraja::timestamp_now();
    let body = json!({
        "BusinessShortCode": "174379",
        "Password": lnm_password("174379", "wrong", &ts),
        "Timestamp": ts,
        "CheckoutRequestID": "ws_CO_1",
    });
    let (status, err) = app.post_json("/mpesa/stkpushquery/v1/query", &token, &body).await;
    assert_daraja_error(status, &err, 500, "500.001.1001", "Wrong credentials");

    let body =
        json!({ "BusinessShortCode": "174379", "Password": lnm_password("174379", PASSKEY, &ts), "Timestamp": ts });
    let (status, err) = app.post_json("/mpesa/stkpushquery/v1/query", &token, &body).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID");
}
