//! The seed's error table on demand: maintenance windows from the world,
//! scripted faults, rate limits, and notifications that are late, doubled,
//! lost, retried or sent as a form.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{merchant_accepts, pesaflow_app, php_hash, Checkout, KEY, SECRET};
use crate::helpers::TestApp;

async fn load_scenario(app: &TestApp, toml: &str) {
    let res = app.http.put(app.url("/__sandbox/scenarios")).body(toml.to_owned()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_maintenance_window_answers_the_proxys_502_page_on_every_endpoint() {
    let now = chrono::Utc::now();
    let window = format!(
        "[[pesaflow.maintenance]]\nfrom = \"{}\"\nuntil = \"{}\"\nstatus = 502\n",
        (now - chrono::Duration::minutes(1)).to_rfc3339(),
        (now + chrono::Duration::minutes(30)).to_rfc3339()
    );
    let app = pesaflow_app(&window).await;
    let (status, body, _) =
        app.pf_post_form("/PaymentAPI/iframev2.1.php", &Checkout::new("REF-1", "10").fields(&app)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("<title>502 Bad Gateway</title>") && body.contains("nginx"), "{body}");
    let (status, _, _) = app.pf_post_json("/api/payment/validate", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, _) = app.pf_status("GWLQKD").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // After the window, service resumes.
    app.advance_ms(31 * 60_000).await;
    let (status, _, _) =
        app.pf_post_form("/PaymentAPI/iframev2.1.php", &Checkout::new("REF-1", "10").fields(&app)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scenarios_script_503_maintenance_and_the_endpoints_own_errors() {
    let app = pesaflow_app("").await;
    load_scenario(
        &app,
        r#"
[[rules]]
when = { provider = "pesaflow", operation = "status" }
fault = { error = "maintenance_503" }

[[rules]]
when = { provider = "pesaflow", operation = "validate" }
fault = { error = "bill_not_found" }

[[rules]]
when = { provider = "pesaflow", operation = "token" }
fault = { error = "internal_error" }
"#,
    )
    .await;
    let (status, _) = app.pf_status("GWLQKD").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, body, diagnosis) = app.pf_post_json("/api/payment/validate", &json!({"api_client_id": "1"})).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"status": 404, "description": "Bill not found"})));
    assert!(diagnosis.contains("scripted by scenario rule"), "{diagnosis}");
    let (status, body, _) = app.pf_post_json("/api/oauth/generate/token", &json!({"key": KEY, "secret": SECRET})).await;
    assert_eq!(
        (status, body),
        (StatusCode::INTERNAL_SERVER_ERROR, json!({"status": 500, "message": "Internal Server Error"}))
    );
}

#[tokio::test]
async fn checkouts_are_rate_limited_per_client() {
    let app = pesaflow_app("").await;
    load_scenario(
        &app,
        "[[rate_limits]]\nprovider = \"pesaflow\"\noperation = \"checkout\"\ncapacity = 1\nperiod_ms = 60000\n",
    )
    .await;
    let fields = Checkout::new("REF-1", "10").fields(&app);
    let (status, _, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &fields).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &fields).await;
    assert_eq!((status, body.as_str()), (StatusCode::TOO_MANY_REQUESTS, r#"{"error":"Too Many Requests"}"#));
}

async fn paid_invoice(app: &TestApp, bill_ref: &str) -> String {
    let mut checkout = Checkout::new(bill_ref, "100.00");
    checkout.send_stk = true;
    app.pf_checkout(&checkout).await["invoice_number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn duplicated_and_late_notifications_carry_the_same_signed_body() {
    let app = pesaflow_app("").await;
    load_scenario(
        &app,
        "[[rules]]\nwhen = { provider = \"pesaflow\", operation = \"notification\" }\ncallback = { delay_ms = 5000, duplicates = 2, duplicate_spacing_ms = 200 }\n",
    )
    .await;
    let number = paid_invoice(&app, "REF-DUP").await;
    app.advance_ms(1_000).await;
    assert!(app.pf_notifications(&number).await.is_empty(), "five seconds late");
    app.advance_ms(5_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|(_, body)| *body == received[0].1), "the same bytes each time");
    let notification: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert!(merchant_accepts(&notification));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_when_the_scenario_says_so() {
    let app = crate::helpers::spawn_virtual(super::FAST).await;
    Mock::given(method("POST"))
        .and(path("/ipn"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&app.receiver)
        .await;
    Mock::given(method("POST")).and(path("/ipn")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    load_scenario(
        &app,
        "[[rules]]\nwhen = { provider = \"pesaflow\", operation = \"notification\" }\ncallback = { retry_ms = [1000] }\n",
    )
    .await;
    let number = paid_invoice(&app, "REF-RETRY").await;
    app.advance_ms(1_000).await;
    app.advance_ms(1_000).await;
    let attempts = app.pf_notifications(&number).await;
    let outcomes: Vec<&str> = attempts.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failed", "delivered"], "{attempts:?}");
}

#[tokio::test]
async fn a_dropped_notification_leaves_the_status_query_to_tell() {
    let app = pesaflow_app("").await;
    load_scenario(
        &app,
        "[[rules]]\nwhen = { provider = \"pesaflow\", operation = \"notification\" }\ncallback = { drop = true }\n",
    )
    .await;
    let number = paid_invoice(&app, "REF-LOST").await;
    app.advance_ms(1_000).await;
    assert!(app.pf_received_notifications().await.is_empty());
    let attempts = app.pf_notifications(&number).await;
    assert_eq!(attempts[0]["outcome"], "dropped");
    let (_, status) = app.pf_status(&number).await;
    assert_eq!(status["status"], "settled");
}

#[tokio::test]
async fn the_documented_notification_shape_is_a_switch_away() {
    let app = pesaflow_app(
        "[pesaflow.notification]\ncontent_type = \"form\"\nsignature_field = \"both\"\namounts = \"two_decimals\"\n",
    )
    .await;
    let number = paid_invoice(&app, "REF-FORM").await;
    app.advance_ms(1_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received[0].0, "application/x-www-form-urlencoded");
    let fields: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&received[0].1).into_owned().collect();
    assert_eq!(fields["invoice_number"], number);
    assert_eq!(fields["amount_paid"], "105.00");
    let expected = php_hash(
        KEY,
        &[
            &fields["client_invoice_ref"],
            &fields["invoice_number"],
            &fields["amount_paid"],
            &fields["payment_date"],
            SECRET,
        ],
    );
    assert_eq!(fields["secure_hash"], expected);
    assert_eq!(fields["token_hash"], expected);
}
