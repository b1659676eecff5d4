//! Failures on demand: the default world's test users whose login, code
//! exchange or introspection fails, and scenario rules loaded at runtime
//! (faults, outcomes, rate limits) at every eCitizen endpoint.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{pkce_pair, CHALLENGE, VERIFIER};
use crate::helpers::{spawn, TestApp};

async fn load(app: &TestApp, toml: &str) {
    let res = app.http.put(app.url("/__sandbox/scenarios")).body(toml.to_owned()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn the_credentials_list_the_test_users_that_fail_on_purpose() {
    let app = spawn().await;
    let listed: Vec<(u64, String)> = app.creds.ecitizen.test_users.iter().map(|u| (u.id, u.answer.clone())).collect();
    assert_eq!(
        listed,
        [
            (401, "access_denied".to_owned()),
            (410, "invalid_grant".to_owned()),
            (498, "inactive".to_owned()),
            (503, "fault temporarily_unavailable".to_owned()),
            (504, "delay 3000 ms".to_owned()),
        ]
    );
}

#[tokio::test]
async fn user_401s_login_is_denied_with_or_without_the_page() {
    let app = spawn().await;
    let silent = app.authorize(&app.login_params(CHALLENGE, &[("prompt", "none"), ("login_hint", "401")])).await;
    let silent = silent.redirect();
    assert_eq!((silent.param("error"), silent.param("state")), (Some("access_denied"), Some("xyz-state")));

    let (_, html) =
        app.authorize(&app.login_params(CHALLENGE, &[("login_hint", "login.denied@example.com")])).await.page();
    let mut fields = super::form_fields(&html);
    fields.push(("decision".into(), "proceed".into()));
    let proceed = app.submit_login(&fields).await.redirect();
    assert_eq!(proceed.param("error"), Some("access_denied"));
    assert_eq!(proceed.param("code"), None);
}

#[tokio::test]
async fn user_410s_code_is_answered_as_expired_and_stays_unused() {
    let app = spawn().await;
    let code = app.code_for("410", CHALLENGE).await;
    let (status, body) = app.exchange(&code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, rows) = app.admin_get("/transactions").await;
    let row = rows["transactions"].as_array().unwrap().iter().find(|r| r["user_id"] == 410).unwrap().clone();
    assert_eq!(row["status"], "code_issued", "the scenario answered without redeeming the code: {row}");
}

#[tokio::test]
async fn user_498s_live_token_introspects_inactive_yet_opens_user_info() {
    let app = spawn().await;
    let token = app.access_token_for("498").await;
    assert_eq!(app.introspect(&token).await, (StatusCode::OK, json!({ "active": false })));
    let (status, info) = app.user_info(&token).await;
    assert_eq!((status, info["id"].as_u64()), (StatusCode::OK, Some(498)));
}

#[tokio::test]
async fn user_503s_token_endpoint_is_down_and_user_504s_is_slow() {
    let app = spawn().await;
    let code = app.code_for("503", CHALLENGE).await;
    let (status, body) = app.exchange(&code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable")));

    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("504", &challenge).await;
    let started = Instant::now();
    let (status, body) = app.exchange(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed().as_millis() >= 3000, "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn loaded_rules_script_faults_and_outcomes_at_every_endpoint() {
    let app = spawn().await;
    load(
        &app,
        r#"
        [[rules]]
        name = "consent service down"
        when = { provider = "ecitizen", operation = "authorize", fields = { login_hint = "6" } }
        outcome = { result_code = "temporarily_unavailable", result_desc = "eCitizen is under maintenance" }

        [[rules]]
        name = "user info refused"
        when = { provider = "ecitizen", operation = "userinfo", fields = { user = "3" } }
        outcome = { result_code = "invalid_token" }

        [[rules]]
        name = "discovery broken"
        when = { provider = "ecitizen", operation = "discovery" }
        fault = { error = "server_error" }

        [[rules]]
        name = "token connection reset"
        when = { provider = "ecitizen", operation = "token", msisdn = "254722000002" }
        fault = { connection = "reset" }
        "#,
    )
    .await;

    let redirect =
        app.authorize(&app.login_params(CHALLENGE, &[("prompt", "none"), ("login_hint", "6")])).await.redirect();
    assert_eq!(redirect.param("error"), Some("temporarily_unavailable"));
    assert_eq!(redirect.param("error_description"), Some("eCitizen is under maintenance"));

    let token = app.access_token_for("3").await;
    let (status, body) = app.user_info(&token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_token")));

    let res = app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "server_error");

    let code = app.code_for("2", CHALLENGE).await;
    let reset = app.exchange_raw(&code, VERIFIER).await;
    assert!(reset.is_err(), "the connection was dropped without an answer");
}

#[tokio::test]
async fn a_rate_limit_counts_per_client_and_answers_429() {
    let app = spawn().await;
    load(
        &app,
        "[[rate_limits]]\nprovider = \"ecitizen\"\noperation = \"introspect\"\ncapacity = 1\nrefill = 1\nperiod_ms = 3600000\n",
    )
    .await;
    let token = app.access_token_for("2").await;
    assert_eq!(app.introspect(&token).await.0, StatusCode::OK);
    let (status, body) = app.introspect(&token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("temporarily_unavailable")));
}
