//! A PKCE client written here from RFC 7636 and the eCitizen guide alone
//! (the verifier, the S256 challenge, the guide's curl form), so the
//! sandbox is checked against the specification, not against one library.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use super::{pkce_pair, CALLBACK, CHALLENGE, CLIENT, SECRET, VERIFIER};
use crate::helpers::{spawn, spawn_with, FAST_WORLD};

#[tokio::test]
async fn the_guides_flow_by_hand_gets_a_token_user_info_and_introspection() {
    let app = spawn().await;
    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("1", &challenge).await;
    let res = app
        .http
        .post(app.url("/oauth/access-token"))
        .form(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} missing: {text}"));
    let order = ["access_token", "token_type", "expiration_date", "expires_in", "id_token"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "the guide's keys first, in its order: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap();

    let (status, info) = app.user_info(token).await;
    assert_eq!(status, StatusCode::OK);
    let expected: Value = serde_json::from_str(
        r#"{"id":1,"id_number":"12345678","email":"user@ecitizen.com","active":true,"first_name":"John","last_name":"Doe","surname":"Blah","account_type":"citizen","mobile_number":"254711000000","mobile_verified":true,"Gender":"m","Kra_pin_number":"A1000121","dob":"1951-05-28","sub":"1"}"#,
    )
    .unwrap();
    assert_eq!(info, expected, "the guide's user-info body, plus OpenID Connect's sub");

    let res = app.http.post(app.url("/api/oauth/token/introspect")).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert_eq!(
        text,
        format!(r#"{{"active":true,"scope":null,"token_type":"authorization_code","client_id":"{CLIENT}"}}"#),
        "exactly the guide's body, key order included"
    );
}

#[tokio::test]
async fn the_rfc_7636_appendix_b_pair_and_a_raw_basic_header_work() {
    let app = spawn().await;
    let code = app.code_for("2", CHALLENGE).await;
    let basic = STANDARD.encode(format!("{CLIENT}:{SECRET}"));
    let res = app
        .http
        .post(app.url("/oauth/access-token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
}

#[tokio::test]
async fn user_info_takes_the_token_as_a_query_or_a_bearer_header_on_both_paths() {
    let app = spawn().await;
    let token = app.access_token_for("3").await;
    for path in ["/api/userinfo", "/api/user-info"] {
        let by_query = app.http.get(app.url(&format!("{path}?access_token={token}"))).send().await.unwrap();
        assert_eq!(by_query.status(), StatusCode::OK, "{path}");
        let by_header = app.http.get(app.url(path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(by_header.status(), StatusCode::OK, "{path}");
        let body: Value = by_header.json().await.unwrap();
        assert_eq!(body["account_type"], "alien");
    }
}

#[tokio::test]
async fn a_confidential_client_the_world_relaxes_may_skip_pkce_but_never_half_of_it() {
    let world = format!("{FAST_WORLD}[[ecitizen.clients]]\nclient_id = \"{CLIENT}\"\npkce = \"optional\"\n");
    let app = spawn_with(&world).await;
    let params = [
        ("client_id", CLIENT),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
        ("prompt", "none"),
        ("login_hint", "2"),
    ];
    let code = app.authorize(&params).await.redirect().param("code").unwrap().to_owned();
    let form = |verifier: Option<&'static str>| {
        let mut form = vec![
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("redirect_uri", CALLBACK),
        ];
        form.extend(verifier.map(|v| ("code_verifier", v)));
        form
    };
    let mut with_verifier = form(Some(VERIFIER));
    with_verifier.push(("code", &code));
    let (status, body) = app.token_request(&with_verifier).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &Value::from("invalid_grant")), "RFC 9700 §4.8.2");
    let mut without = form(None);
    without.push(("code", &code));
    let (status, body) = app.token_request(&without).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
