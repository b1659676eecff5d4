//! The checkout's refusals, in the order it checks, and its lenient readings.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{pesaflow_app, php_hash, Checkout, KEY, SECRET};

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_owned(), value.to_owned()));
}

#[tokio::test]
async fn a_non_numeric_amount_is_the_live_422_with_the_parameters_printed() {
    let app = pesaflow_app("").await;
    let mut fields = Checkout::new("REF-1", "100.00").fields(&app);
    set(&mut fields, "amountExpected", "ten");
    let (status, body, diagnosis) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = serde_json::from_str(&body).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("invalid params on parsing %{\"amountExpected\" => \"ten\", \"apiClientID\" => \"1\""),
        "{error}"
    );
    assert!(error.contains("\"payment_gateway_id\" => 1"), "{error}");
    assert_eq!(diagnosis, "amountExpected is not a decimal number: \"ten\"");
}

#[tokio::test]
async fn missing_and_malformed_fields_are_named() {
    let app = pesaflow_app("").await;
    let cases = [
        ("billRefNumber", "", "billRefNumber is empty"),
        ("currency", "kes", "currency is not a currency Pesaflow bills in: \"kes\""),
        ("amountExpected", "-5", "amountExpected must be greater than zero"),
        ("amountExpected", "1e3", "amountExpected is not a decimal number"),
        ("notificationURL", "shop.example/ipn", "notificationURL is not an absolute http(s) URL"),
        ("format", "pdf", "format must be one of html, iframe, json"),
    ];
    for (field, value, expected) in cases {
        let mut fields = Checkout::new("REF-1", "100.00").fields(&app);
        set(&mut fields, field, value);
        let (status, _, diagnosis) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(diagnosis.starts_with(expected), "{field}: {diagnosis}");
    }
}

#[tokio::test]
async fn the_documented_path_requires_the_contact_fields() {
    let app = pesaflow_app("").await;
    let mut fields = Checkout::new("REF-1", "100.00").fields(&app);
    set(&mut fields, "clientEmail", "");
    let (status, _, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &fields).await;
    assert_eq!(status, StatusCode::OK, "the live path serves what SDKs send");
    let (status, _, diagnosis) = app.pf_post_form("/api/PaymentAPI/checkout", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(diagnosis, "clientEmail is empty");
}

#[tokio::test]
async fn clients_services_and_currencies_are_checked_after_the_hash() {
    let app = pesaflow_app("").await;
    let mut unknown_client = Checkout::new("REF-1", "100.00");
    unknown_client.client = "588".into();
    let (status, body, diagnosis) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &unknown_client.fields(&app)).await;
    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, r#"{"error":"Invalid secure hash"}"#));
    assert!(diagnosis.contains("\"588\" is not in the world's [pesaflow] clients (1, 2)"), "{diagnosis}");

    let mut unknown_service = Checkout::new("REF-1", "100.00");
    unknown_service.service = "7777".into();
    let (status, _, diagnosis) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &unknown_service.fields(&app)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(diagnosis, "serviceID must be one of the services of api client 1 (1001, 1002), got \"7777\"");

    let mut other_client = Checkout::new("REF-1", "100.00");
    other_client.service = "2001".into();
    let (status, body, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &other_client.fields(&app)).await;
    assert_eq!((status, body.as_str()), (StatusCode::FORBIDDEN, r#"{"error":"Forbidden Access"}"#));
}

#[tokio::test]
async fn a_json_body_with_variant_spellings_is_read_leniently_or_refused_strictly() {
    let body = |app: &crate::helpers::TestApp| {
        let hash = php_hash(
            KEY,
            &["1", "100", "1001", "12345678", "KES", "REF-J", "Business name search", "Jane Doe", SECRET],
        );
        json!({
            "apiClientID": "1", "serviceID": "1001", "billDesc": "Business name search", "currency": "KES",
            "billRefNumber": "REF-J", "clientMSISDN": "+254708374149", "clientName": "Jane Doe",
            "clientIDNumber": "12345678", "amountExpected": 100, "format": "JSON", "sendSTK": false,
            "callBackURLONSuccess": format!("{}/ok", app.receiver.uri()), "secureHash": hash
        })
    };
    let app = pesaflow_app("").await;
    let (status, answer, diagnosis) = app.pf_post_json("/PaymentAPI/iframev2.1.php", &body(&app)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["amount_net"], "100.00", "the JSON number 100 is hashed as \"100\"");
    assert!(diagnosis.contains("callBackURLONSuccess was read as callBackURLOnSuccess"), "{diagnosis}");

    let strict = pesaflow_app("field_names = \"strict\"\n").await;
    let (status, _, diagnosis) = strict.pf_post_json("/PaymentAPI/iframev2.1.php", &body(&strict)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(diagnosis, "callBackURLONSuccess is not a Pesaflow field; Pesaflow spells it callBackURLOnSuccess");
}

#[tokio::test]
async fn posting_the_same_unpaid_checkout_again_answers_the_same_invoice() {
    let app = pesaflow_app("").await;
    let first = app.pf_checkout(&Checkout::new("REF-AGAIN", "100.00")).await;
    let (_, body, diagnosis) =
        app.pf_post_form("/PaymentAPI/iframev2.1.php", &Checkout::new("REF-AGAIN", "100.00").fields(&app)).await;
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["invoice_number"], again["invoice_number"]);
    assert!(diagnosis.contains("is still unpaid"), "{diagnosis}");
    let changed = app.pf_checkout(&Checkout::new("REF-AGAIN", "200.00")).await;
    assert_ne!(first["invoice_number"], changed["invoice_number"]);
}

#[tokio::test]
async fn an_unknown_checkout_link_and_an_unknown_path_answer_in_pesaflows_envelope() {
    let app = pesaflow_app("").await;
    let res = app.http.get(app.url("/checkout?request_id=nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"could not resolve checkout endpoint"}"#);
    let res = app.http.get(app.url("/api/payment/nothing-here")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"Not Found"}"#);
    let res = app.http.get(app.url("/PaymentAPI/iframev2.1.php")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_field_value_is_escaped_on_the_page() {
    let app = pesaflow_app("").await;
    let mut checkout = Checkout::new("<script>alert(1)</script>", "10");
    checkout.format = "iframe";
    let (status, html, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &checkout.fields(&app)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<script>alert(1)") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}
