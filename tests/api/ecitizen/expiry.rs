//! Codes and tokens live by the tenant's clock: on a virtual clock moved
//! through `/__sandbox/clock`, a code dies at ten minutes and a token at its
//! lifetime, to the second, without a test waiting for either.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::pkce_pair;
use crate::helpers::{spawn_virtual, FAST_WORLD};

/// The payload of a JWT, decoded without checking it (the OIDC client
/// tests check signatures).
fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn clock_now(app: &crate::helpers::TestApp) -> chrono::DateTime<chrono::Utc> {
    let (_, clock) = app.admin_get("/clock").await;
    chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap().with_timezone(&chrono::Utc)
}

#[tokio::test]
async fn a_code_expires_ten_minutes_after_the_login_on_the_sandbox_clock() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (early_verifier, early_challenge) = pkce_pair();
    let (late_verifier, late_challenge) = pkce_pair();
    let early = app.code_for("2", &early_challenge).await;
    let late = app.code_for("2", &late_challenge).await;

    app.advance_ms(599_000).await;
    let (status, body) = app.exchange(&early, &early_verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    app.advance_ms(1_000).await;
    let res = app.exchange_raw(&late, &late_verifier).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers()["x-sandbox-diagnosis"].to_str().unwrap().contains("expired"));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn a_token_lives_its_lifetime_to_the_second() {
    let app = spawn_virtual(FAST_WORLD).await;
    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("1", &challenge).await;
    let issued_at = clock_now(&app).await;
    let (_, tokens) = app.exchange(&code, &verifier).await;
    let token = tokens["access_token"].as_str().unwrap();
    let expires_at = issued_at + chrono::Duration::seconds(3600);
    assert_eq!(tokens["expiration_date"], expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["iat"], issued_at.timestamp(), "the ID token is stamped by the sandbox clock");
    assert_eq!(claims["exp"], expires_at.timestamp());

    app.advance_ms(3_599_000).await;
    assert_eq!(app.introspect(token).await.1["active"], true);
    assert_eq!(app.user_info(token).await.0, StatusCode::OK);

    app.advance_ms(1_000).await;
    assert_eq!(app.introspect(token).await, (StatusCode::OK, json!({ "active": false })));
    assert_eq!(app.user_info(token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_world_sets_the_lifetimes() {
    let world = format!("{FAST_WORLD}[ecitizen]\ncode_ttl_secs = 5\ntoken_ttl_secs = 60\n");
    let app = spawn_virtual(&world).await;
    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("1", &challenge).await;
    app.advance_ms(4_000).await;
    let (_, tokens) = app.exchange(&code, &verifier).await;
    assert_eq!(tokens["expires_in"], 60);
    let token = tokens["access_token"].as_str().unwrap();
    app.advance_ms(60_000).await;
    assert_eq!(app.introspect(token).await.1, json!({ "active": false }));

    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("1", &challenge).await;
    app.advance_ms(5_000).await;
    assert_eq!(app.exchange(&code, &verifier).await.1["error"], "invalid_grant");
}
