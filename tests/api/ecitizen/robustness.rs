//! Random input to every eCitizen route, over HTTP: each answer is one of
//! the provider's own shapes (RFC 6749 JSON, Phoenix's bare error, a redirect
//! to a registered URI, an HTML page, a success body), never an internal
//! error, and the sandbox stays healthy.

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use super::{no_redirects, CALLBACK, CHALLENGE, CLIENT, SECRET, VERIFIER};
use crate::helpers::spawn;

const ROUTES: &[&str] = &[
    "/oauth/authorize",
    "/oauth/access-token",
    "/api/oauth/token/introspect",
    "/api/userinfo",
    "/api/user-info",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/oauth/authorize/nowhere",
];

/// Parameter names and values real requests carry, so random requests reach
/// deep into the checks.
const NAMES: &[&str] = &[
    "client_id",
    "client_secret",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "login_hint",
    "prompt",
    "response_mode",
    "grant_type",
    "code",
    "code_verifier",
    "token",
    "access_token",
    "user",
    "decision",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(CLIENT.to_owned()),
        Just(SECRET.to_owned()),
        Just(CALLBACK.to_owned()),
        Just(CHALLENGE.to_owned()),
        Just(VERIFIER.to_owned()),
        Just("code".to_owned()),
        Just("openid".to_owned()),
        Just("S256".to_owned()),
        Just("none".to_owned()),
        Just("authorization_code".to_owned()),
        Just("proceed".to_owned()),
        Just("2".to_owned()),
        ".{0,40}",
    ]
}

fn form() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    proptest::collection::vec((prop::sample::select(NAMES), value()), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn any_input_to_any_ecitizen_route_gets_one_of_its_own_answers(
        params in form(),
        route in prop::sample::select(ROUTES),
        post in any::<bool>(),
        as_form in any::<bool>(),
        authorization in prop::option::of(prop_oneof![Just("Bearer ".to_owned()), Just("Basic UGVzYVNhbmRib3hFY2l0aXplbkNsaWVudDpQZXNhU2FuZGJveEVjaXRpemVuU2VjcmV0".to_owned()), ".{0,30}".prop_map(|s| s)]),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let app = spawn().await;
            let url = reqwest::Url::parse_with_params(&app.url(route), if post { &[][..] } else { &params[..] }).unwrap();
            let mut req = if post { no_redirects().post(url) } else { no_redirects().get(url) };
            if post {
                req = if as_form { req.form(&params) } else { req.body(serde_json::to_vec(&params).unwrap()) };
            }
            if let Some(a) = authorization.filter(|a| reqwest::header::HeaderValue::from_str(a).is_ok()) {
                req = req.header("authorization", a);
            }
            let res = req.send().await.expect("the server always answers");
            let status = res.status();
            let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let text = res.text().await.unwrap();
            prop_assert!(!status.is_server_error(), "{route}: {status} {text}");
            if status == StatusCode::FOUND {
                let location = location.unwrap_or_default();
                prop_assert!(location.starts_with("http://localhost:") || location.starts_with("http://127.0.0.1:"), "{location}");
            } else if content_type.starts_with("text/html") {
                prop_assert!(text.starts_with("<!DOCTYPE html>"), "{text}");
            } else {
                let body: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{route}: {e}: {text}")))?;
                if !status.is_success() {
                    prop_assert!(body["error"].is_string() || body["errors"]["detail"].is_string(), "{route}: {status} {body}");
                }
            }
            let (health, _) = app.admin_get("/health").await;
            prop_assert_eq!(health, StatusCode::OK);
            Ok(())
        })?;
    }
}
