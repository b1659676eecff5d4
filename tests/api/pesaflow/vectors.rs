//! Every hashed endpoint against the fixed vectors of the integration notes
//! (the default world's client 1, key `PesaflowSandboxKey`, secret
//! `PesaflowSandboxSecret`): a right hash gets past the hash check (to the
//! answer, or to the lookup that follows it), a wrong one is a 401.

use reqwest::StatusCode;
use serde_json::json;

use super::{form, pesaflow_app, php_hash, KEY, SECRET};

/// The notes' worked checkout: `"1" + "100.00" + "1001" + "12345678" + "KES" + "REF-1" + "Business name search" + "Jane Doe" + secret`.
const CHECKOUT_HASH: &str = "MDE3ZDNiODI2MmMyZDVjZDgzOGFmYjdjNzg0MGNmOGUyZmU0ZTAxNmNkNjQ4YzY2MDE1MTdlZjA2MjlmMDcwZg==";
/// The same checkout with `amountExpected` sent as `"100"`.
const CHECKOUT_HASH_100: &str =
    "MDRhNzZmZDI4NGUyNDZhYWEwOTUzNDNmOWNlYjQxZjg4ZWViOTkwMTIxOWQ2NjY2MTk2NzU5N2Q2NDhmOGMxYQ==";
const VALIDATE_HASH: &str = "ODNmZTEyZTYyYWUzN2JiNjYyNTM4ZWZkMTcwMWI0NjU0NzYyMjQyMGE1NWY1ZjE3YmE1OGY0NDQyYjIyMGI3MQ==";
const CONFIRM_HASH: &str = "MGE4ZTE3MDcwOGZiNjYyZDBjNDc2NzM4MDQwODE0NzQ5ZGQ2NThlOTVlMjZmY2FhOTY5OWIyNzYzMGYwMTg2Yw==";
const STATUS_HASH: &str = "NzNhNGJjYjZlY2JiNTUyM2U4MjI0MDlhZWJlZWM1NWNiNDQ1ODhkZDE2MWQ3OTQ5YWE3ZTBiZmVjMGUzNDE1Mw==";

fn worked_checkout(amount: &str, hash: &str) -> Vec<(String, String)> {
    [
        ("apiClientID", "1"),
        ("serviceID", "1001"),
        ("billDesc", "Business name search"),
        ("currency", "KES"),
        ("billRefNumber", "REF-1"),
        ("clientName", "Jane Doe"),
        ("clientIDNumber", "12345678"),
        ("amountExpected", amount),
        ("format", "json"),
        ("secureHash", hash),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn the_independent_hash_reproduces_every_worked_example() {
    assert_eq!(
        php_hash(KEY, &["1", "100.00", "1001", "12345678", "KES", "REF-1", "Business name search", "Jane Doe", SECRET]),
        CHECKOUT_HASH
    );
    assert_eq!(php_hash(KEY, &["1", "GWLQKD", "105.00", SECRET]), VALIDATE_HASH);
    assert_eq!(
        php_hash(
            KEY,
            &["1", "GWLQKD", "105.00", "KES", "1234434", "2021-01-26 15:30:01", "JOHN DOE", "438485959", SECRET]
        ),
        CONFIRM_HASH
    );
    assert_eq!(php_hash(KEY, &["1", "GWLQKD"]), STATUS_HASH);
}

#[tokio::test]
async fn the_worked_checkout_is_accepted_on_every_checkout_path() {
    let app = pesaflow_app("").await;
    for path in ["/PaymentAPI/iframev2.1.php", "/PaymentAPI/invoice/checkout"] {
        let (status, body, _) = app.pf_post_form(path, &worked_checkout("100.00", CHECKOUT_HASH)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["amount_expected"], "105.00");
    }
    // The documented path also needs the contact fields the guide marks mandatory.
    let mut full = worked_checkout("100.00", CHECKOUT_HASH);
    full.extend(
        [
            ("clientMSISDN", "254708374149"),
            ("clientEmail", "jane@example.com"),
            ("callBackURLOnSuccess", "https://shop.example/ok"),
            ("notificationURL", "https://shop.example/ipn"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let (status, body, _) = app.pf_post_form("/api/PaymentAPI/checkout", &full).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_amount_is_hashed_exactly_as_sent() {
    let app = pesaflow_app("").await;
    let (status, _, _) =
        app.pf_post_form("/PaymentAPI/iframev2.1.php", &worked_checkout("100", CHECKOUT_HASH_100)).await;
    assert_eq!(status, StatusCode::OK, "\"100\" signed as \"100\"");
    let (status, body, diagnosis) =
        app.pf_post_form("/PaymentAPI/iframev2.1.php", &worked_checkout("100", CHECKOUT_HASH)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, r#"{"error":"Invalid secure hash"}"#);
    assert!(diagnosis.contains("checkout recipe"), "{diagnosis}");
    assert!(diagnosis.contains(r#"amountExpected "100.00" instead of the "100" sent"#), "{diagnosis}");
}

#[tokio::test]
async fn validate_confirm_and_status_accept_their_recipes_and_refuse_others() {
    let app = pesaflow_app("").await;
    // A right hash for an invoice that does not exist reaches the lookup.
    let validate =
        json!({"api_client_id":"1","ref_no":"GWLQKD","currency":"KES","amount":"105.00","secure_hash":VALIDATE_HASH});
    let (status, body, _) = app.pf_post_json("/api/payment/validate", &validate).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"status":404,"description":"Bill not found"})));
    let confirm = json!({"api_client_id":"1","ref_no":"GWLQKD","amount":"105.00","currency":"KES",
        "gateway_transaction_id":"1234434","gateway_transaction_date":"2021-01-26 15:30:01",
        "customer_name":"JOHN DOE","customer_account_number":"438485959","secure_hash":CONFIRM_HASH});
    let (status, body, _) = app.pf_post_json("/api/payment/confirm", &confirm).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"status":404,"description":"Bill not found"})));
    let query = form(&[("api_client_id", "1"), ("ref_no", "GWLQKD"), ("secure_hash", STATUS_HASH)]);
    let res = app.http.get(app.url(&format!("/api/invoice/payment/status?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"Invoice Not Found"}"#);

    // Another recipe's hash is refused, with the expected recipe named.
    let wrong =
        json!({"api_client_id":"1","ref_no":"GWLQKD","currency":"KES","amount":"105.00","secure_hash":STATUS_HASH});
    let (status, body, diagnosis) = app.pf_post_json("/api/payment/validate", &wrong).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({"status":401,"description":"Invalid secure hash"})));
    assert!(diagnosis.contains("validate recipe") && diagnosis.contains("api_client_id + ref_no + amount + secret"));
    // The status query has no secret: appending it is named as the mistake.
    let appended = php_hash(KEY, &["1", "GWLQKD", SECRET]);
    let query = form(&[("api_client_id", "1"), ("ref_no", "GWLQKD"), ("secure_hash", &appended)]);
    let res = app.http.get(app.url(&format!("/api/invoice/payment/status?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
    assert!(diagnosis.contains("the secret appended, but this recipe has no secret"), "{diagnosis}");
}

#[tokio::test]
async fn the_journal_names_the_recipe_and_fields_of_a_hash_failure_but_never_the_credentials() {
    let app = pesaflow_app("").await;
    let swapped =
        php_hash(SECRET, &["1", "100.00", "1001", "12345678", "KES", "REF-1", "Business name search", "Jane Doe", KEY]);
    let (status, _, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &worked_checkout("100.00", &swapped)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, journal) = app.admin_get("/requests").await;
    let entry =
        journal["requests"].as_array().unwrap().iter().rev().find(|r| r["provider"] == "pesaflow").unwrap().clone();
    assert_eq!(entry["error_code"], "invalid_secure_hash");
    let diagnosis = entry["diagnosis"].as_str().unwrap();
    assert!(diagnosis.starts_with("secureHash: the hash (88 characters of base64) does not match the checkout recipe"));
    assert!(
        diagnosis.contains(
            r#""1" + "100.00" + "1001" + "12345678" + "KES" + "REF-1" + "Business name search" + "Jane Doe" + <secret>"#
        ),
        "{diagnosis}"
    );
    assert!(diagnosis.contains("key and secret swapped"), "{diagnosis}");
    assert!(!diagnosis.contains(KEY) && !diagnosis.contains(SECRET), "{diagnosis}");
}
