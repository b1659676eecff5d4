//! `POST /mpesa/stkpush/v1/processrequest`: validation, lifecycle, callbacks.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::{assert_daraja_error, lnm_password, timestamp_now, PASSKEY};
use crate::helpers::{spawn, spawn_virtual, spawn_with, FAST_WORLD, PATIENCE};

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn without(mut body: Value, field: &str) -> Value {
    body.as_object_mut().unwrap().remove(field);
    body
}

#[tokio::test]
async fn a_valid_push_is_acknowledged_exactly_as_daraja_does() {
    let app = spawn().await;
    let (status, body) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseCode"], "0");
    assert_eq!(body["ResponseDescription"], "Success. Request accepted for processing");
    assert_eq!(body["CustomerMessage"], "Success. Request accepted for processing");
    let checkout = body["CheckoutRequestID"].as_str().unwrap();
    assert!(checkout.starts_with("ws_CO_") && checkout.ends_with("708374149"), "{checkout}");
    let merchant = body["MerchantRequestID"].as_str().unwrap();
    assert_eq!(merchant.split('-').count(), 4, "{merchant}");
    assert_eq!(body.as_object().unwrap().len(), 5);
}

#[tokio::test]
async fn every_field_rule_is_answered_with_bad_request_invalid_field() {
    let app = spawn().await;
    let token = app.token().await;
    let valid = app.stk_body("254708374149", 1);
    let cases: Vec<(Value, &str)> = vec![
        (without(valid.clone(), "BusinessShortCode"), "BusinessShortCode"),
        (with(valid.clone(), "BusinessShortCode", json!("17437A")), "BusinessShortCode"),
        (with(valid.clone(), "BusinessShortCode", json!(true)), "BusinessShortCode"),
        (without(valid.clone(), "Password"), "Password"),
        (with(valid.clone(), "Password", json!("")), "Password"),
        (without(valid.clone(), "Timestamp"), "Timestamp"),
        (with(valid.clone(), "Timestamp", json!("2024-01-01 10:00")), "Timestamp"),
        (with(valid.clone(), "Timestamp", json!("20241301100000")), "Timestamp"),
        (with(valid.clone(), "TransactionType", json!("PayBill")), "TransactionType"),
        (without(valid.clone(), "Amount"), "Amount"),
        (with(valid.clone(), "Amount", json!("ten")), "Amount"),
        (with(valid.clone(), "Amount", json!(0)), "Amount"),
        (with(valid.clone(), "Amount", json!(-5)), "Amount"),
        (with(valid.clone(), "Amount", json!(1.5)), "Amount"),
        (with(valid.clone(), "Amount", json!(250_001)), "Amount"),
        (with(valid.clone(), "PartyA", json!("0708374149")), "PartyA"),
        (with(valid.clone(), "PartyB", json!("till")), "PartyB"),
        (with(valid.clone(), "PhoneNumber", json!("+254708374149")), "PhoneNumber"),
        (with(valid.clone(), "PhoneNumber", json!(2547083741u64)), "PhoneNumber"),
        (with(valid.clone(), "CallBackURL", json!("not a url")), "CallBackURL"),
        (with(valid.clone(), "CallBackURL", json!("ftp://example.com/cb")), "CallBackURL"),
        (without(valid.clone(), "CallBackURL"), "CallBackURL"),
        (without(valid.clone(), "AccountReference"), "AccountReference"),
        (with(valid.clone(), "AccountReference", json!(null)), "Remarks"),
        (with(valid.clone(), "TransactionDesc", json!(null)), "Remarks"),
        (with(valid.clone(), "TransactionType", json!("CustomerBuyGoodsOnline")), "TransactionType"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
        assert_daraja_error(status, &err, 400, "400.002.02", &format!("Bad Request - Invalid {field}"));
    }
}

#[tokio::test]
async fn numbers_may_arrive_as_strings_integers_or_floats_and_extra_fields_are_ignored() {
    let app = spawn().await;
    let token = app.token().await;
    let base = app.stk_body("254708374149", 1);
    let variants = [
        with(with(base.clone(), "BusinessShortCode", json!(174379)), "Amount", json!("1")),
        with(with(base.clone(), "PartyB", json!(174379.0)), "Amount", json!(1.0)),
        with(with(base.clone(), "PhoneNumber", json!(254722000000u64)), "PartyA", json!(254722000000u64)),
        with(without(base.clone(), "TransactionDesc"), "Unexpected", json!({"nested": true})),
        with(base.clone(), "Amount", json!("10.00")),
    ];
    for (i, body) in variants.into_iter().enumerate() {
        // One customer may only have one prompt open; give each variant its own.
        let msisdn = format!("2547080000{i:02}");
        let body = with(with(body, "PhoneNumber", json!(msisdn)), "PartyA", json!(msisdn));
        let (status, ack) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
        assert_eq!(status, StatusCode::OK, "variant {i}: {ack}");
    }
}

#[tokio::test]
async fn unknown_merchants_and_wrong_passwords_fail_with_500_001_1001() {
    let app = spawn().await;
    let token = app.token().await;
    let valid = app.stk_body("254708374149", 1);
    let ts = valid["Timestamp"].as_str().unwrap().to_owned();
    let for_shortcode = |shortcode: &str, passkey: &str| {
        let body = with(valid.clone(), "BusinessShortCode", json!(shortcode));
        with(body, "Password", json!(lnm_password(shortcode, passkey, &ts)))
    };
    let cases = [
        (for_shortcode("999999", PASSKEY), "Merchant does not exist", "not in this tenant's world"),
        (for_shortcode("500200", PASSKEY), "Merchant does not exist", "is a till"),
        (for_shortcode("600984", PASSKEY), "Merchant does not exist", "has no passkey"),
        (with(valid.clone(), "Password", json!(lnm_password("174379", "nope", &ts))), "Wrong credentials", "passkey"),
        (
            with(valid.clone(), "Password", json!(lnm_password("174379", PASSKEY, "20200101000000"))),
            "Wrong credentials",
            "Timestamp",
        ),
        (
            with(valid.clone(), "Password", json!(lnm_password("174378", PASSKEY, &ts))),
            "Wrong credentials",
            "BusinessShortCode",
        ),
        (with(valid.clone(), "Password", json!("%%%")), "Wrong credentials", "base64"),
    ];
    for (body, message, diagnosis_mentions) in cases {
        let res = app
            .http
            .post(app.url("/mpesa/stkpush/v1/processrequest"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
        let err: Value = res.json().await.unwrap();
        assert_daraja_error(status, &err, 500, "500.001.1001", message);
        assert!(diagnosis.contains(diagnosis_mentions), "{diagnosis_mentions:?} not in {diagnosis:?}");
        assert!(!diagnosis.contains(PASSKEY), "the diagnosis must not reveal the passkey");
    }
}

#[tokio::test]
async fn a_timestamp_outside_every_time_zone_is_refused_but_any_zone_is_fine() {
    let app = spawn().await;
    let token = app.token().await;
    let valid = app.stk_body("254708374149", 1);
    let at = |offset_hours: i64| {
        let ts = (chrono::Utc::now() + chrono::Duration::hours(offset_hours)).format("%Y%m%d%H%M%S").to_string();
        let body = with(valid.clone(), "Timestamp", json!(ts));
        with(body, "Password", json!(lnm_password("174379", PASSKEY, &ts)))
    };
    for (i, offset) in [-11i64, 3, 13].into_iter().enumerate() {
        let msisdn = format!("2547090000{i:02}");
        let body = with(with(at(offset), "PhoneNumber", json!(msisdn)), "PartyA", json!(msisdn));
        let (status, ack) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
        assert_eq!(status, StatusCode::OK, "offset {offset}h: {ack}");
    }
    for offset in [-20i64, 20, -24 * 365] {
        let (status, err) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &at(offset)).await;
        assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid Timestamp");
    }
}

#[tokio::test]
async fn the_timestamp_window_can_be_switched_off() {
    let app = spawn_with(&format!("{FAST_WORLD}timestamp_window_secs = 0\n")).await;
    let ts = "20160216165627";
    let body = with(
        with(app.stk_body("254708374149", 1), "Timestamp", json!(ts)),
        "Password",
        json!(lnm_password("174379", PASSKEY, ts)),
    );
    let (status, ack) = app.stk_push(&body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
}

#[tokio::test]
async fn unreadable_bodies_fail_on_the_first_field_as_the_gateway_does() {
    let app = spawn().await;
    let token = app.token().await;
    let url = app.url("/mpesa/stkpush/v1/processrequest");
    let sends = [
        app.http.post(&url).bearer_auth(&token).header("Content-Type", "application/json").body("{not json"),
        app.http.post(&url).bearer_auth(&token).header("Content-Type", "application/json").body("[1,2]"),
        app.http.post(&url).bearer_auth(&token).header("Content-Type", "application/json").body(""),
        app.http.post(&url).bearer_auth(&token).form(&[("BusinessShortCode", "174379")]),
        app.http.post(&url).bearer_auth(&token).body("{}"),
    ];
    for send in sends {
        let res = send.send().await.unwrap();
        let status = res.status();
        let err: Value = res.json().await.unwrap();
        assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode");
    }
}

#[tokio::test]
async fn oversized_bodies_wrong_methods_and_unknown_paths_get_the_daraja_envelope() {
    let app = spawn().await;
    let token = app.token().await;
    let huge = format!("{{\"BusinessShortCode\":\"{}\"}}", "1".repeat(300 * 1024));
    let res = app
        .http
        .post(app.url("/mpesa/stkpush/v1/processrequest"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let err: Value = res.json().await.unwrap();
    assert_daraja_error(status, &err, 400, "400.002.05", "Invalid Request Payload");

    let res = app.http.get(app.url("/mpesa/stkpush/v1/processrequest")).bearer_auth(&token).send().await.unwrap();
    let status = res.status();
    let err: Value = res.json().await.unwrap();
    assert_daraja_error(status, &err, 405, "405.001", "Method Not Allowed");

    for path in ["/mpesa/nothing/v1/here", "/oauth/v2/generate", "/", "/anything"] {
        let res = app.http.post(app.url(path)).bearer_auth(&token).json(&json!({})).send().await.unwrap();
        let status = res.status();
        let err: Value = res.json().await.unwrap();
        assert_daraja_error(status, &err, 404, "404.001.01", "Resource not found");
    }
}

#[tokio::test]
async fn a_paid_push_moves_money_and_calls_back_with_metadata_and_the_query_string_intact() {
    let app = spawn().await;
    let guard = Mock::given(method("POST"))
        .and(path("/stk"))
        .and(query_param("order", "42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ResultCode": 0, "ResultDesc": "Accepted"})))
        .expect(1)
        .mount_as_scoped(&app.receiver)
        .await;
    let before_customer = app.balance_of_msisdn("254708374149").await;
    let before_shop = app.balance_of_shortcode("174379").await;
    assert_eq!((before_customer.as_str(), before_shop.as_str()), ("500000.00", "1000000.00"));

    let body =
        with(app.stk_body("254708374149", 150), "CallBackURL", json!(format!("{}/stk?order=42", app.receiver.uri())));
    let (_, ack) = app.stk_push(&body).await;
    tokio::time::timeout(PATIENCE, guard.wait_until_satisfied()).await.expect("callback delivered");

    let received = app.receiver.received_requests().await.unwrap();
    let callback: Value = serde_json::from_slice(&received[0].body).unwrap();
    let stk = &callback["Body"]["stkCallback"];
    assert_eq!(stk["MerchantRequestID"], ack["MerchantRequestID"]);
    assert_eq!(stk["CheckoutRequestID"], ack["CheckoutRequestID"]);
    assert_eq!(stk["ResultCode"], json!(0));
    assert_eq!(stk["ResultDesc"], "The service request is processed successfully.");
    let items = stk["CallbackMetadata"]["Item"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber"]);
    assert_eq!(items[0]["Value"], json!(150));
    let receipt = items[1]["Value"].as_str().unwrap();
    assert_eq!(receipt.len(), 10);
    assert!(receipt.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert!(items[2].get("Value").is_none(), "Balance has no value");
    assert!(items[3]["Value"].is_u64() && items[3]["Value"].to_string().len() == 14);
    assert_eq!(items[4]["Value"], json!(254708374149u64));
    assert_eq!(received[0].headers["content-type"], "application/json");

    assert_eq!(app.balance_of_msisdn("254708374149").await, "499850.00");
    assert_eq!(app.balance_of_shortcode("174379").await, "1000150.00");
    let (_, txs) = app.admin_get(&format!("/transactions?id={}", ack["CheckoutRequestID"].as_str().unwrap())).await;
    assert_eq!(txs["transactions"][0]["status"], "completed");
    assert_eq!(txs["transactions"][0]["receipt"], receipt);
}

#[tokio::test]
async fn test_msisdns_produce_their_failure_code_without_metadata_and_move_no_money() {
    let app = spawn().await;
    let cases = [
        ("254711001032", 1032, "Request cancelled by user"),
        ("254711002001", 2001, "The initiator information is invalid."),
        ("254711001025", 1025, "An error occurred while sending a push request."),
        ("254711000001", 1, "The balance is insufficient for the transaction."),
    ];
    for (msisdn, code, desc) in cases {
        let (_, ack) = app.stk_push(&app.stk_body(msisdn, 10)).await;
        let before = app.balance_of_msisdn(msisdn).await;
        let checkout = ack["CheckoutRequestID"].as_str().unwrap();
        let attempts = app.wait_callbacks(checkout, 1).await;
        let stk = &attempts[0]["body"]["Body"]["stkCallback"];
        assert_eq!(stk["ResultCode"], json!(code), "{msisdn}");
        assert_eq!(stk["ResultDesc"], desc);
        assert!(stk.get("CallbackMetadata").is_none(), "failures carry no metadata");
        assert_eq!(app.balance_of_msisdn(msisdn).await, before, "no money moved for {msisdn}");
    }
}

#[tokio::test]
async fn a_customer_without_enough_money_gets_result_code_1_from_the_ledger() {
    let app = spawn_with(&format!("[[customers]]\nmsisdn = \"254799000000\"\nbalance = 5\n{FAST_WORLD}")).await;
    let (_, ack) = app.stk_push(&app.stk_body("254799000000", 10)).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["body"]["Body"]["stkCallback"]["ResultCode"], json!(1));
    let (_, txs) = app.admin_get("/transactions?msisdn=254799000000").await;
    assert!(txs["transactions"][0]["outcome_reason"].as_str().unwrap().contains("holds KES 5.00"));
    assert_eq!(app.balance_of_msisdn("254799000000").await, "5.00");
}

#[tokio::test]
async fn any_well_formed_msisdn_is_a_customer_with_the_default_balance() {
    let app = spawn().await;
    let (_, ack) = app.stk_push(&app.stk_body("254712345678", 100)).await;
    app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(app.balance_of_msisdn("254712345678").await, "99900.00");
}

#[tokio::test]
async fn buy_goods_pays_the_till_through_its_store_number() {
    let app = spawn().await;
    let store_passkey = app
        .creds
        .daraja
        .lipa_na_mpesa
        .iter()
        .find(|l| l.business_short_code == "400200")
        .map(|l| l.passkey.clone())
        .unwrap();
    let ts = timestamp_now();
    let goods = |till: &str, msisdn: &str| {
        let mut body = app.stk_body(msisdn, 70);
        body["BusinessShortCode"] = json!("400200");
        body["Password"] = json!(lnm_password("400200", &store_passkey, &ts));
        body["Timestamp"] = json!(ts);
        body["TransactionType"] = json!("CustomerBuyGoodsOnline");
        body["PartyB"] = json!(till);
        body
    };
    let (status, ack) = app.stk_push(&goods("500200", "254708374149")).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["body"]["Body"]["stkCallback"]["ResultCode"], json!(0));
    assert_eq!(app.balance_of_shortcode("500200").await, "70.00");

    // A PartyB that is not a till of this store: accepted, then refused by product assignment.
    let (_, ack) = app.stk_push(&goods("174379", "254722000000")).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["body"]["Body"]["stkCallback"]["ResultCode"], json!(2028));
}

#[tokio::test]
async fn a_second_push_to_a_customer_with_a_prompt_open_is_refused_until_it_settles() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (status, _) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    assert_daraja_error(
        status,
        &err,
        500,
        "500.001.1001",
        "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    );
    app.advance(chrono::Duration::seconds(1)).await;
    let (status, _) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "the lock is released once the first push settles");
}

#[tokio::test]
async fn no_response_times_out_after_the_prompt_timeout_on_the_sandbox_clock() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (_, ack) = app.stk_push(&app.stk_body("254711001037", 1)).await;
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    app.advance(chrono::Duration::seconds(59)).await;
    let (_, txs) = app.admin_get(&format!("/transactions?id={checkout}")).await;
    assert_eq!(txs["transactions"][0]["status"], "pending");
    app.advance(chrono::Duration::seconds(1)).await;
    let attempts = app.wait_callbacks(checkout, 1).await;
    assert_eq!(attempts[0]["body"]["Body"]["stkCallback"]["ResultCode"], json!(1037));
    assert_eq!(attempts[0]["body"]["Body"]["stkCallback"]["ResultDesc"], "No response from user.");
}

#[tokio::test]
async fn a_receiver_that_fails_is_journaled_and_not_retried_by_default() {
    let app = spawn().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&app.receiver)
        .await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[0]["status"], json!(503));
    assert_eq!(attempts[0]["response_body"], "down");
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["callbacks"]["retries_scheduled"], json!(0));
}
