//! The login and consent page, rendered and submitted the way a browser
//! does: read the form, keep its hidden fields and the checked user, press
//! **Proceed** or **Back**.

use reqwest::StatusCode;

use super::{form_fields, pkce_pair, CALLBACK, CLIENT};
use crate::helpers::spawn;

#[tokio::test]
async fn the_page_lists_the_test_users_and_carries_the_request_in_hidden_fields() {
    let app = spawn().await;
    let (_, challenge) = pkce_pair();
    let res = super::no_redirects()
        .get(reqwest::Url::parse_with_params(&app.url("/oauth/authorize"), &app.login_params(&challenge, &[])).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Pesa Sandbox Demo Service"), "the client's formal name");
    for name in ["John Doe Blah", "Wanjiku Kamau Njeri", "Priya Shah", "Marco Rossi", "Login Denied"] {
        assert!(html.contains(name), "{name} is on the page");
    }
    assert!(html.contains(">Proceed</button>") && html.contains(">Back</button>"));
    let fields = form_fields(&html);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("state"), Some("xyz-state"));
    assert_eq!(field("code_challenge"), Some(challenge.as_str()));
    assert_eq!(field("code_challenge_method"), Some("S256"));
    assert_eq!(field("user"), Some("1"), "the first user is checked");
}

#[tokio::test]
async fn proceed_redirects_with_a_code_for_the_picked_user_and_back_with_access_denied() {
    let app = spawn().await;
    let (verifier, challenge) = pkce_pair();
    let (status, html) =
        app.authorize(&app.login_params(&challenge, &[("login_hint", "marco.rossi@example.com")])).await.page();
    assert_eq!(status, StatusCode::OK);
    let mut fields = form_fields(&html);
    assert!(fields.contains(&("user".into(), "4".into())), "the hinted user is checked: {fields:?}");

    fields.push(("decision".into(), "back".into()));
    let back = app.submit_login(&fields).await.redirect();
    assert!(back.location.starts_with(CALLBACK));
    assert_eq!(back.param("error"), Some("access_denied"));
    assert_eq!(back.param("state"), Some("xyz-state"));
    assert_eq!(back.param("code"), None);

    fields.pop();
    fields.push(("decision".into(), "proceed".into()));
    let proceed = app.submit_login(&fields).await.redirect();
    assert_eq!(proceed.param("state"), Some("xyz-state"));
    let code = proceed.param("code").expect("a code").to_owned();
    let (status, tokens) = app.exchange(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, info) = app.user_info(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["id"], 4);
    assert_eq!(info["account_type"], "visitor");
    assert_eq!(info["Kra_pin_number"], serde_json::Value::Null, "a visitor has no KRA PIN");
}

#[tokio::test]
async fn a_tampered_or_incomplete_form_is_refused_safely() {
    let app = spawn().await;
    let (_, challenge) = pkce_pair();
    let (_, html) = app.authorize(&app.login_params(&challenge, &[])).await.page();
    let fields = form_fields(&html);

    let mut no_user: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "user").cloned().collect();
    no_user.push(("decision".into(), "proceed".into()));
    let refused = app.submit_login(&no_user).await.redirect();
    assert_eq!(refused.param("error"), Some("invalid_request"));

    let mut tampered: Vec<(String, String)> =
        fields
            .iter()
            .map(|(k, v)| {
                if k == "redirect_uri" {
                    (k.clone(), "https://evil.example/cb".into())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
    tampered.push(("decision".into(), "proceed".into()));
    let (status, page) = app.submit_login(&tampered).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST, "never a redirect to an unregistered URI");
    assert!(page.contains("is not registered"), "{page}");

    let res = app.http.post(app.url("/oauth/authorize")).json(&serde_json::json!({"user": 1})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn text_from_the_request_is_escaped_on_the_page() {
    let app = spawn().await;
    let (_, challenge) = pkce_pair();
    let hostile = "\"><script>alert(1)</script>";
    let (_, html) = app.authorize(&app.login_params(&challenge, &[("nonce", hostile)])).await.page();
    assert!(!html.contains("<script>"), "{html}");
    let fields = form_fields(&html);
    assert!(fields.contains(&("nonce".into(), hostile.into())), "the value survives the round trip");
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_gets_the_error_page_not_a_redirect() {
    let app = spawn().await;
    let (_, challenge) = pkce_pair();
    let mut unknown = app.login_params(&challenge, &[]);
    unknown[0] = ("client_id", "nobody");
    let (status, html) = app.authorize(&unknown).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("invalid_client") && html.contains("nobody"), "{html}");

    let mut wrong_uri = app.login_params(&challenge, &[]);
    wrong_uri[1] = ("redirect_uri", "http://localhost:3000/callback/");
    let (status, html) = app.authorize(&wrong_uri).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("trailing slash"), "the diagnosis explains exact matching: {html}");
    assert!(html.contains(CLIENT));
}
