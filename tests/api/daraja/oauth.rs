//! `GET /oauth/v1/generate` and the bearer check every API applies.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::daraja::assert_daraja_error;
use crate::helpers::{spawn, spawn_virtual, spawn_with, FAST_WORLD};

async fn generate(app: &crate::helpers::TestApp, query: &str, auth: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut req = app.http.get(app.url(&format!("/oauth/v1/generate{query}")));
    if let Some((key, secret)) = auth {
        req = req.basic_auth(key, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_token_is_issued_with_expires_in_as_the_string_3599() {
    let app = spawn().await;
    let (key, secret) = (&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret);
    let (status, body) = generate(&app, "?grant_type=client_credentials", Some((key, secret))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], json!("3599"));
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 28);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(body.as_object().unwrap().len(), 2, "exactly access_token and expires_in: {body}");
}

#[tokio::test]
async fn expires_in_can_be_a_number_as_the_documentation_shows() {
    let app = spawn_with("[daraja]\nexpires_in = \"number\"\ntoken_ttl_secs = 600\n").await;
    let (key, secret) = (&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret);
    let (_, body) = generate(&app, "?grant_type=client_credentials", Some((key, secret))).await;
    assert_eq!(body["expires_in"], json!(599));
}

/// Query string, Basic credentials, expected code and message.
type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn token_requests_are_refused_with_the_documented_codes() {
    let app = spawn().await;
    let (key, secret) = (app.creds.daraja.consumer_key.as_str(), app.creds.daraja.consumer_secret.as_str());
    let cases: &[Case<'_>] = &[
        ("?grant_type=client_credential", Some((key, secret)), "400.008.02", "Invalid grant type passed"),
        ("?grant_type=client_credentials%20", Some((key, secret)), "400.008.02", "Invalid grant type passed"),
        ("", Some((key, secret)), "400.008.02", "Invalid grant type passed"),
        ("?grant_type=client_credentials", None, "400.008.01", "Invalid authentication type passed"),
        ("?grant_type=client_credentials", Some((key, "wrong")), "400.008.01", "Invalid Authentication passed"),
        ("?grant_type=client_credentials", Some(("nobody", secret)), "400.008.01", "Invalid Authentication passed"),
    ];
    for (query, auth, code, message) in cases {
        let (status, body) = generate(&app, query, *auth).await;
        assert_daraja_error(status, &body, 400, code, message);
    }
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .header("Authorization", "Bearer abc")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_daraja_error(status, &body, 400, "400.008.01", "Invalid authentication type passed");
}

#[tokio::test]
async fn a_wrong_secret_is_diagnosed_without_echoing_any_secret() {
    let app = spawn().await;
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&app.creds.daraja.consumer_key, Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
    assert!(diagnosis.contains("consumer secret does not match"), "{diagnosis}");
    assert!(!diagnosis.contains("not-the-secret") && !diagnosis.contains(&app.creds.daraja.consumer_secret));
}

#[tokio::test]
async fn every_bad_bearer_gets_404_001_03_invalid_access_token() {
    let app = spawn().await;
    let body = app.stk_body("254708374149", 1);
    let path = app.url("/mpesa/stkpush/v1/processrequest");
    let headers: &[Option<&str>] =
        &[None, Some("Bearer"), Some("Basic abc"), Some("Bearer not-a-token"), Some("bearer x y")];
    for header in headers {
        let mut req = app.http.post(&path).json(&body);
        if let Some(h) = header {
            req = req.header("Authorization", *h);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_daraja_error(status, &body, 404, "404.001.03", "Invalid Access Token");
    }
}

#[tokio::test]
async fn a_token_expires_by_the_sandbox_clock() {
    let app = spawn_virtual(&format!("{FAST_WORLD}token_ttl_secs = 60\n")).await;
    let token = app.token().await;
    let body = app.stk_body("254708374149", 1);
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
    assert_eq!(status, StatusCode::OK);

    app.advance(chrono::Duration::seconds(60)).await;
    let body = app.stk_body("254722000000", 1);
    let (status, err) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
    assert_daraja_error(status, &err, 404, "404.001.03", "Invalid Access Token");
    let (_, journal) = app.admin_get("/requests?errors=true").await;
    let diagnosis = journal["requests"][0]["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("expired"), "{diagnosis}");
}

#[tokio::test]
async fn with_single_active_token_a_new_token_revokes_the_old_one() {
    let app = spawn_with(&format!("{FAST_WORLD}single_active_token = true\n")).await;
    let first = app.token().await;
    let second = app.token().await;
    let body = app.stk_body("254708374149", 1);
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &first, &body).await;
    assert_eq!(status.as_u16(), 404);
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &second, &body).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn by_default_earlier_tokens_stay_valid() {
    let app = spawn().await;
    let first = app.token().await;
    let _second = app.token().await;
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &first, &app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK);
}

/// A client that fetches a token for every request keeps working, but only
/// an app's newest tokens stay valid, so memory does not grow for an hour.
#[tokio::test]
async fn an_app_keeps_its_newest_thousand_tokens() {
    let app = spawn().await;
    let first = app.token().await;
    let mut newest = String::new();
    for _ in 0..pesa_sandbox::MAX_TOKENS_PER_APP {
        newest = app.token().await;
    }
    let query = |token: &str| {
        let body = json!({ "BusinessShortCode": "174379", "Password": "x", "Timestamp": "20240101000000", "CheckoutRequestID": "ws_CO_1" });
        let req = app.http.post(app.url("/mpesa/stkpushquery/v1/query")).bearer_auth(token).json(&body);
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, err) = query(&first).await;
    assert_daraja_error(status, &err, 404, "404.001.03", "Invalid Access Token");
    let (status, body) = query(&newest).await;
    assert_ne!(body["errorCode"], "404.001.03", "{status} {body}");
    assert_eq!(app.sandbox.token_count(), pesa_sandbox::MAX_TOKENS_PER_APP);
}
