//! Any input to any Pesaflow route gets a well-formed answer in the
//! envelope of that route, and never an internal error.

use pesa_sandbox::config::ClockMode;
use pesa_sandbox::Config;
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{any_json_value, spawn_config};

const ROUTES: &[&str] = &[
    "/PaymentAPI/iframev2.1.php",
    "/api/PaymentAPI/checkout",
    "/PaymentAPI/invoice/checkout",
    "/checkout",
    "/checkout/prompt",
    "/checkout/status",
    "/api/payment/validate",
    "/api/payment/confirm",
    "/api/invoice/payment/status",
    "/invoice/payment/status",
    "/api/oauth/generate/token",
    "/api/invoice/create",
    "/api/payment/nowhere",
];

/// Field names Pesaflow bodies carry, so random objects reach deep into the parsers.
const FIELDS: &[&str] = &[
    "apiClientID",
    "serviceID",
    "billDesc",
    "currency",
    "billRefNumber",
    "clientMSISDN",
    "clientName",
    "clientIDNumber",
    "amountExpected",
    "notificationURL",
    "callBackURLOnSuccess",
    "callBackURLONSuccess",
    "format",
    "sendSTK",
    "secureHash",
    "api_client_id",
    "ref_no",
    "amount",
    "secure_hash",
    "gateway_transaction_id",
    "gateway_transaction_date",
    "customer_name",
    "customer_account_number",
    "key",
    "secret",
    "account_id",
    "amount_expected",
    "client_invoice_ref",
    "name",
    "items",
    "send_stk",
    "msisdn",
    "request_id",
    "phone",
];

/// Any value, or one of the default world's that gets past the first checks.
fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => any_json_value(),
        1 => prop::sample::select(vec!["1", "1001", "KES", "100.00", "json", "true", "254708374149", "PesaflowSandboxKey"])
            .prop_map(Value::from),
        1 => Just(json!([{ "desc": "d", "price": "five" }])),
    ]
}

fn body() -> impl Strategy<Value = (Vec<u8>, Option<&'static str>)> {
    let map = || proptest::collection::btree_map(prop::sample::select(FIELDS), json_value(), 0..14);
    let object = map().prop_map(|m| serde_json::to_vec(&m).unwrap());
    let form = map().prop_map(|m| {
        let pairs: Vec<(String, String)> = m
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
    });
    let bytes = proptest::collection::vec(any::<u8>(), 0..300);
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "APPLICATION/JSON; charset=UTF-8",
    ]));
    (prop_oneof![2 => object, 2 => form, 1 => bytes], content_type)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_input_to_any_pesaflow_route_gets_a_well_formed_pesaflow_answer(
        (payload, content_type) in body(),
        route in prop::sample::select(ROUTES),
        method_name in prop::sample::select(vec!["POST", "GET", "PUT"]),
        query in prop::option::of("[a-z_=&0-9%]{0,40}"),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let config = Config::local().with_seed(7).with_clock(ClockMode::Virtual { start: chrono::Utc::now() });
            let app = spawn_config(config).await;
            let method = reqwest::Method::from_bytes(method_name.as_bytes()).unwrap();
            let url = match &query {
                Some(q) => app.url(&format!("{route}?{q}")),
                None => app.url(route),
            };
            let mut req = app.http.request(method, url).body(payload.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let res = req.send().await.expect("the server always answers");
            let status = res.status();
            let html = res.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
            let text = res.text().await.unwrap();
            prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "no internal error is caused by input: {}", text);
            if html {
                prop_assert!(text.starts_with("<!DOCTYPE html>"), "{status} {text}");
                return Ok(());
            }
            let body: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            if status.is_success() {
                return Ok(());
            }
            let enveloped = body["error"].is_string()
                || (body["status"].as_u64() == Some(u64::from(status.as_u16()))
                    && (body["description"].is_string() || body["message"].is_string()));
            prop_assert!(enveloped, "{status} {body}");
            Ok(())
        })?;
    }
}
