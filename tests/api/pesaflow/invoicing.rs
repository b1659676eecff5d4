//! Server-to-server invoicing: the Pesaflow token and `invoice/create`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{merchant_accepts, pesaflow_app, KEY, SECRET};
use crate::helpers::TestApp;

async fn token(app: &TestApp, key: &str, secret: &str) -> (StatusCode, Value) {
    let (status, body, _) =
        app.pf_post_json("/api/oauth/generate/token", &json!({ "key": key, "secret": secret })).await;
    (status, body)
}

fn create_body(app: &TestApp, account_id: &str, send_stk: bool) -> Value {
    json!({
        "account_id": account_id, "amount_expected": "100.00", "amount_net": "100.00", "amount_settled_offline": 0,
        "callback_url": format!("{}/ok", app.receiver.uri()), "client_invoice_ref": "TEST-20260211163139",
        "commission": "0", "currency": "KES", "email": "test@example.com", "format": "json", "id_number": "TEST-ID-001",
        "items": [{ "account_id": account_id, "desc": "Test Overload Fine", "item_ref": "TEST-1", "price": "100.00",
                    "quantity": "1", "require_settlement": "true", "currency": "KES" }],
        "msisdn": "254708374149", "name": "Pesaflow API Test User",
        "notification_url": format!("{}/ipn", app.receiver.uri()), "payment_gateway_id": 1, "send_stk": send_stk
    })
}

#[tokio::test]
async fn a_token_is_shaped_like_a_live_one() {
    let app = pesaflow_app("").await;
    let res = app
        .http
        .post(app.url("/api/oauth/generate/token"))
        .json(&json!({ "key": KEY, "secret": SECRET }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.starts_with("{\"token\":\"") && text.ends_with(",\"expiry\":3599}"), "the live shape: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["expiry"], 3599);
    let jwt = body["token"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts[0], "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9", "the live header");
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert!(payload["id"].as_str().unwrap().starts_with('1'), "client id first: {payload}");

    // HTTP Basic, as the Postman collection sends it, works too.
    let res = app.http.post(app.url("/api/oauth/generate/token")).basic_auth(KEY, Some(SECRET)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let (status, body) = token(&app, KEY, "wrong").await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({ "status": 401, "message": "Unauthorized" })));
}

#[tokio::test]
async fn invoice_create_bills_like_a_checkout_and_can_prompt() {
    let app = pesaflow_app("").await;
    let (_, body) = token(&app, KEY, SECRET).await;
    let bearer = body["token"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url("/api/invoice/create"))
        .bearer_auth(&bearer)
        .json(&create_body(&app, "1001", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["amount_expected"], "105.00", "the service's fee applies as at checkout");
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    app.advance_ms(1_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 1);
    let notification: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert!(merchant_accepts(&notification));
    assert_eq!(notification["invoice_number"], number.as_str());
    let (_, status) = app.pf_status(&number).await;
    assert_eq!(status["status"], "settled");
}

#[tokio::test]
async fn invoice_create_needs_a_token_and_the_grant() {
    let app = pesaflow_app("").await;
    let body = create_body(&app, "1001", false);
    let res = app.http.post(app.url("/api/invoice/create")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "status": 401, "message": "Unauthorized" }));

    let (_, county) = token(&app, "PesaflowCountyKey", "PesaflowCountySecret").await;
    let res = app
        .http
        .post(app.url("/api/invoice/create"))
        .bearer_auth(county["token"].as_str().unwrap())
        .json(&create_body(&app, "2001", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "status": 401, "message": "Access to this resource Pesaflow.Invoice has not been granted" })
    );

    let (_, agency) = token(&app, KEY, SECRET).await;
    let mut bad = create_body(&app, "1001", false);
    bad["items"][0]["price"] = json!("five");
    let res = app
        .http
        .post(app.url("/api/invoice/create"))
        .bearer_auth(agency["token"].as_str().unwrap())
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
    assert_eq!(diagnosis, "items[0].price is not a decimal number: \"five\"");

    // A token expires on the tenant's clock.
    app.advance_ms(3_600_000).await;
    let res = app
        .http
        .post(app.url("/api/invoice/create"))
        .bearer_auth(agency["token"].as_str().unwrap())
        .json(&create_body(&app, "1001", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
