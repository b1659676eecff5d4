//! Every way a request is refused, as the client sees it: RFC 6749
//! §4.1.2.1 redirects and error pages at the authorization endpoint, §5.2
//! JSON at the token endpoint, the guide's user-info failure, RFC 7662's
//! inactive answer, Phoenix's bare errors for unknown paths. No diagnosis
//! names a secret, a code or a verifier.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{pkce_pair, CALLBACK, CHALLENGE, CLIENT, PUBLIC_CLIENT, SECRET, VERIFIER};
use crate::helpers::{spawn, spawn_with, FAST_WORLD};

/// Parameters to change (`Some`) or remove (`None`).
type Change = &'static [(&'static str, Option<&'static str>)];

/// The default client's valid request with one parameter changed
/// (`Some`) or removed (`None`), plus extras.
fn request(change: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, String)> {
    let mut params: Vec<(&'static str, String)> = vec![
        ("client_id", CLIENT.into()),
        ("redirect_uri", CALLBACK.into()),
        ("response_type", "code".into()),
        ("scope", "openid".into()),
        ("state", "st".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ];
    for (name, value) in change {
        let existing = params.iter().position(|(k, _)| k == name);
        match (existing, value) {
            (Some(i), Some(v)) => params[i].1 = (*v).into(),
            (Some(i), None) => {
                params.remove(i);
            }
            (None, Some(v)) => params.push((name, (*v).into())),
            (None, None) => {}
        }
    }
    params
}

#[tokio::test]
async fn authorization_errors_go_back_to_the_client_with_the_rfc_code_and_state() {
    let app = spawn().await;
    let cases: &[(Change, &str, Option<&str>)] = &[
        (&[("response_type", None)], "invalid_request", Some("st")),
        (&[("response_type", Some("token"))], "unsupported_response_type", Some("st")),
        (&[("scope", None)], "invalid_scope", Some("st")),
        (&[("scope", Some("profile email"))], "invalid_scope", Some("st")),
        (&[("scope", Some("openid  profile"))], "invalid_scope", Some("st")),
        (&[("state", None)], "invalid_request", None),
        (&[("code_challenge", None), ("code_challenge_method", None)], "invalid_request", Some("st")),
        (&[("code_challenge", None)], "invalid_request", Some("st")),
        (&[("code_challenge_method", None)], "invalid_request", Some("st")),
        (&[("code_challenge_method", Some("plain"))], "invalid_request", Some("st")),
        (&[("code_challenge_method", Some("s256"))], "invalid_request", Some("st")),
        (&[("code_challenge", Some("too-short"))], "invalid_request", Some("st")),
        (&[("response_mode", Some("fragment"))], "invalid_request", Some("st")),
        (&[("prompt", Some("none login"))], "invalid_request", Some("st")),
        (&[("prompt", Some("none"))], "login_required", Some("st")),
        (&[("prompt", Some("none")), ("login_hint", Some("nobody@example.com"))], "login_required", Some("st")),
    ];
    for (change, error, state) in cases {
        let params = request(change);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let redirect = app.authorize(&pairs).await.redirect();
        assert!(redirect.location.starts_with(CALLBACK), "{change:?}");
        assert_eq!(redirect.param("error"), Some(*error), "{change:?}");
        assert!(redirect.param("error_description").is_some(), "{change:?}");
        assert_eq!(redirect.param("state"), *state, "{change:?}");
        assert_eq!(redirect.param("code"), None, "{change:?}");
    }

    // A repeated or overlong parameter is invalid_request; an ambiguous state is not echoed.
    let mut params = request(&[]);
    params.push(("scope", "openid".into()));
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(app.authorize(&pairs).await.redirect().param("error"), Some("invalid_request"));
    let long = "s".repeat(5000);
    let mut params = request(&[]);
    params[4].1 = long;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let redirect = app.authorize(&pairs).await.redirect();
    assert_eq!((redirect.param("error"), redirect.param("state")), (Some("invalid_request"), None));
}

#[tokio::test]
async fn an_untrusted_client_or_redirect_uri_gets_an_html_error_page() {
    let app = spawn().await;
    let cases: &[(Change, &str)] = &[
        (&[("client_id", None)], "client_id is missing"),
        (&[("client_id", Some("stranger"))], "is not registered"),
        (&[("redirect_uri", None)], "redirect_uri is missing"),
        (&[("redirect_uri", Some("https://evil.example/cb"))], "is not registered"),
        (&[("redirect_uri", Some("http://localhost:3000/callback?x=1"))], "is not registered"),
    ];
    for (change, why) in cases {
        let params = request(change);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, html) = app.authorize(&pairs).await.page();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change:?}");
        assert!(html.contains(why), "{change:?}: {html}");
    }
    let mut repeated = request(&[]);
    repeated.push(("client_id", CLIENT.into()));
    let pairs: Vec<(&str, &str)> = repeated.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = app.authorize(&pairs).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("client_id is sent more than once"), "{html}");
}

/// A token request with the default client, a fresh code of user 2, and
/// the given changes; status, body and the diagnosis header.
struct TokenCase {
    form: Vec<(&'static str, String)>,
    basic: Option<(String, String)>,
    bearer: bool,
    json: bool,
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_6749_json_with_their_statuses() {
    let app = spawn().await;
    let code = app.code_for("2", CHALLENGE).await;
    let base = || -> Vec<(&'static str, String)> {
        vec![
            ("client_id", CLIENT.into()),
            ("client_secret", SECRET.into()),
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", CALLBACK.into()),
            ("code_verifier", VERIFIER.into()),
        ]
    };
    let without = |name: &str| base().into_iter().filter(|(k, _)| *k != name).collect::<Vec<_>>();
    let with = |name: &'static str, value: &str| {
        base().into_iter().map(|(k, v)| if k == name { (k, value.to_owned()) } else { (k, v) }).collect::<Vec<_>>()
    };
    let plain = |form| TokenCase { form, basic: None, bearer: false, json: false };
    let cases: Vec<(TokenCase, u16, &str)> = vec![
        (TokenCase { json: true, ..plain(base()) }, 400, "invalid_request"),
        (plain(without("grant_type")), 400, "invalid_request"),
        (plain(with("grant_type", "client_credentials")), 400, "unsupported_grant_type"),
        (plain([base(), vec![("code", "again".to_owned())]].concat()), 400, "invalid_request"),
        (plain(without("client_id")), 401, "invalid_client"),
        (plain(with("client_id", "stranger")), 401, "invalid_client"),
        (plain(with("client_secret", "wrong")), 401, "invalid_client"),
        (plain(without("client_secret")), 401, "invalid_client"),
        (TokenCase { basic: Some((CLIENT.into(), SECRET.into())), ..plain(base()) }, 400, "invalid_request"),
        (TokenCase { bearer: true, ..plain(without("client_secret")) }, 401, "invalid_client"),
        (plain(without("code")), 400, "invalid_request"),
        (plain(without("redirect_uri")), 400, "invalid_request"),
        (plain(with("redirect_uri", "http://localhost:8080/callback")), 400, "invalid_grant"),
        (plain(with("code", "no-such-code")), 400, "invalid_grant"),
        (plain(without("code_verifier")), 400, "invalid_grant"),
        (plain(with("code_verifier", "short")), 400, "invalid_grant"),
        (plain(with("code_verifier", &"x".repeat(43))), 400, "invalid_grant"),
        (plain(with("code_verifier", &"x".repeat(129))), 400, "invalid_grant"),
    ];
    for (case, status, error) in cases {
        let mut req = app.http.post(app.url("/oauth/access-token"));
        req = if case.json {
            let object: serde_json::Map<String, Value> =
                case.form.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
            req.json(&object)
        } else {
            req.form(&case.form)
        };
        if let Some((id, secret)) = &case.basic {
            req = req.basic_auth(id, Some(secret));
        }
        if case.bearer {
            req = req.bearer_auth("whatever");
        }
        let res = req.send().await.unwrap();
        let what = format!("{:?}", case.form.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        assert_eq!(res.status().as_u16(), status, "{what} expected {error}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
        for secret in [SECRET, code.as_str(), VERIFIER] {
            assert!(!diagnosis.contains(secret), "the diagnosis leaks a credential: {diagnosis}");
        }
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{what}: {diagnosis}");
        assert!(body["error_description"].is_string());
    }
    // None of those burned the code.
    let (status, body) = app.exchange(&code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_failed_basic_authentication_is_401_with_a_basic_challenge() {
    let app = spawn().await;
    let basic = STANDARD.encode(format!("{CLIENT}:wrong"));
    let res = app
        .http
        .post(app.url("/oauth/access-token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"eCitizen\"");
}

#[tokio::test]
async fn a_public_client_may_not_send_a_secret_nor_redeem_another_clients_code() {
    let app = spawn().await;
    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("2", &challenge).await;
    let form = [
        ("client_id", PUBLIC_CLIENT),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = app.token_request(&form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another client's code"
    );
    let mut with_secret = form.to_vec();
    with_secret.push(("client_secret", "anything"));
    let (status, body) = app.token_request(&with_secret).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
}

#[tokio::test]
async fn the_ex_oauth2_provider_switch_answers_422_as_that_library_does() {
    let app = spawn_with(&format!("{FAST_WORLD}[ecitizen]\nerror_statuses = \"ex_oauth2_provider\"\n")).await;
    let code = app.code_for("2", CHALLENGE).await;
    let (status, body) = app.exchange(&code, &"y".repeat(43)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_grant")));
}

#[tokio::test]
async fn introspection_says_inactive_for_what_it_does_not_know_and_needs_a_token() {
    let app = spawn().await;
    let (status, body) = app.introspect("48wJCHeJpUpeGUrDsLXc1AC8gzhgn7HX").await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "active": false })));
    let daraja = app.token().await;
    let (_, body) = app.introspect(&daraja).await;
    assert_eq!(body, json!({ "active": false }), "a Daraja token is no eCitizen token");
    let res = app
        .http
        .post(app.url("/api/oauth/token/introspect"))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn user_info_refuses_with_the_guides_400_or_rfc_6750s_401() {
    let app = spawn().await;
    let token = app.access_token_for("2").await;
    let guide = json!({
        "error": "invalid_request",
        "error_description": "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."
    });
    for (query, header) in [
        ("", None),
        ("?access_token=unknown", None),
        (&format!("?access_token={token}") as &str, Some(format!("Bearer {token}"))),
        ("", Some("Basic Zm9vOmJhcg==".to_owned())),
        ("?access_token=a&access_token=b", None),
    ] {
        let mut req = app.http.get(app.url(&format!("/api/userinfo{query}")));
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query} {header:?}");
        assert_eq!(res.json::<Value>().await.unwrap(), guide, "{query} {header:?}");
    }

    let strict = spawn_with(&format!("{FAST_WORLD}[ecitizen]\nuserinfo_errors = \"rfc6750\"\n")).await;
    let res = strict.http.get(strict.url("/api/userinfo")).bearer_auth("unknown").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"eCitizen\", error=\"invalid_token\"");
}

#[tokio::test]
async fn unknown_paths_and_methods_under_ecitizens_prefixes_get_phoenixs_error_body() {
    let app = spawn().await;
    let res = app.http.get(app.url("/oauth/authorize/extra")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "errors": { "detail": "Not Found" } }));
    let res = app.http.get(app.url("/oauth/access-token")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "errors": { "detail": "Method Not Allowed" } }));
    let res = app.http.get(app.url("/api/oauth/token/revoke")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.json::<Value>().await.unwrap()["errors"].is_object());
}

#[tokio::test]
async fn daraja_and_pesaflow_keep_their_paths_next_to_ecitizens() {
    let app = spawn().await;
    assert!(!app.token().await.is_empty(), "/oauth/v1/generate is still Daraja's");
    // Pesaflow's token path shares `/api/oauth/` with eCitizen's introspection:
    // a wrong secret gets Pesaflow's 401, not an OAuth error.
    let res = app
        .http
        .post(app.url("/api/oauth/generate/token"))
        .json(&json!({ "key": "PesaflowSandboxKey", "secret": "wrong" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "status": 401, "message": "Unauthorized" }));
    // And eCitizen's introspection right beside it is still eCitizen's.
    let res = app.http.post(app.url("/api/oauth/token/introspect")).form(&[("token", "unknown")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "active": false }));
}

#[tokio::test]
async fn discovery_can_be_switched_off() {
    let app = spawn_with(&format!("{FAST_WORLD}[ecitizen]\ndiscovery = false\n")).await;
    for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
