//! eCitizen's admin views and its parts of the generic ones: test users
//! changed at runtime, a client's auto-approved user, the PKCE helper, the
//! credentials section, the transactions rows, and tenants routed by
//! client id.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{pkce_pair, CALLBACK, CHALLENGE, CLIENT, SECRET, VERIFIER};
use crate::helpers::{spawn, TestApp};

impl TestApp {
    async fn admin_send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(&format!("/__sandbox/ecitizen{path}")));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn users_are_added_changed_and_removed_at_runtime() {
    let app = spawn().await;
    let (status, list) = app.admin_send(reqwest::Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["users"].as_array().unwrap().len(), 11, "six citizens and five failing test users");

    let amina = json!({
        "id": 77, "id_number": "27000077", "email": "amina@example.com", "first_name": "Amina",
        "last_name": "Hassan", "account_type": "diplomat", "mobile_number": "254777000077",
        "mobile_verified": false, "gender": "f", "dob": "1988-02-29"
    });
    let (status, created) = app.admin_send(reqwest::Method::POST, "/users", Some(amina.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = app.admin_send(reqwest::Method::POST, "/users", Some(amina)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let token = app.access_token_for("amina@example.com").await;
    let (_, info) = app.user_info(&token).await;
    assert_eq!((info["id"].as_u64(), info["account_type"].as_str()), (Some(77), Some("diplomat")));
    assert_eq!(info["mobile_verified"], false);

    let (status, changed) =
        app.admin_send(reqwest::Method::PATCH, "/users/77", Some(json!({ "active": false, "gender": "" }))).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (_, info) = app.user_info(&token).await;
    assert_eq!(info["active"], false, "a live token sees the change at once");
    assert_eq!(info["Gender"], Value::Null, "an empty string clears a field");
    assert_eq!(info["email"], "amina@example.com", "untouched fields stay");

    let (status, body) =
        app.admin_send(reqwest::Method::PATCH, "/users/77", Some(json!({ "dob": "29/02/1988" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_user")));
    let (status, _) = app.admin_send(reqwest::Method::PATCH, "/users/77", Some(json!({ "id": 78 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.admin_send(reqwest::Method::PATCH, "/users/77", Some(json!({ "colour": "red" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused");

    let full = json!({ "id_number": "88", "email": "new@example.com" });
    assert_eq!(app.admin_send(reqwest::Method::PUT, "/users/88", Some(full.clone())).await.0, StatusCode::CREATED);
    assert_eq!(app.admin_send(reqwest::Method::PUT, "/users/88", Some(full)).await.0, StatusCode::OK);

    assert_eq!(app.admin_send(reqwest::Method::DELETE, "/users/77", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.admin_send(reqwest::Method::GET, "/users/77", None).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app.user_info(&token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a removed user's token opens nothing");
    let (_, html) = app.authorize(&app.login_params(CHALLENGE, &[])).await.page();
    assert!(!html.contains("Amina") && html.contains("new@example.com"));
}

#[tokio::test]
async fn a_client_can_auto_approve_a_user_for_relying_parties_that_send_no_hint() {
    let app = spawn().await;
    let path = format!("/clients/{CLIENT}/auto-approve");
    let (status, body) = app.admin_send(reqwest::Method::POST, &path, Some(json!({ "user": 3 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = app.authorize(&app.login_params(CHALLENGE, &[])).await.redirect().param("code").unwrap().to_owned();
    let (_, tokens) = app.exchange(&code, VERIFIER).await;
    let (_, info) = app.user_info(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["id"], 3);
    assert_eq!(app.admin_send(reqwest::Method::DELETE, "/users/3", None).await.0, StatusCode::CONFLICT);

    app.admin_send(reqwest::Method::POST, &path, Some(json!({ "user": null }))).await;
    let (status, _) = app.authorize(&app.login_params(CHALLENGE, &[])).await.page();
    assert_eq!(status, StatusCode::OK, "the page is back");

    let (status, _) =
        app.admin_send(reqwest::Method::POST, "/clients/nobody/auto-approve", Some(json!({ "user": 1 }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.admin_send(reqwest::Method::POST, &path, Some(json!({ "user": 999 }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_pkce_helper_makes_a_pair_or_checks_a_verifier() {
    let app = spawn().await;
    let (status, pair) = app.admin_send(reqwest::Method::GET, "/pkce", None).await;
    assert_eq!(status, StatusCode::OK);
    let verifier = pair["code_verifier"].as_str().unwrap();
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(pair["code_challenge"], URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
    assert_eq!(pair["code_challenge_method"], "S256");
    let (_, again) = app.admin_send(reqwest::Method::GET, "/pkce", None).await;
    assert_ne!(again["code_verifier"], pair["code_verifier"], "verifiers are unguessable, not seeded");

    let (_, known) = app.admin_send(reqwest::Method::GET, &format!("/pkce?code_verifier={VERIFIER}"), None).await;
    assert_eq!(known["code_challenge"], CHALLENGE);
    let (status, body) = app.admin_send(reqwest::Method::GET, "/pkce?code_verifier=short", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_verifier")));
}

#[tokio::test]
async fn the_credentials_say_where_to_point_a_relying_party() {
    let app = spawn().await;
    let (_, creds) = app.admin_get("/credentials").await;
    let ecitizen = &creds["ecitizen"];
    assert_eq!(ecitizen["discovery_url"], format!("{}/.well-known/openid-configuration", app.base));
    assert_eq!(ecitizen["client_id"], CLIENT);
    assert_eq!(ecitizen["client_secret"], SECRET);
    assert_eq!(ecitizen["clients"][1]["kind"], "public");
    assert_eq!(ecitizen["clients"][0]["pkce"], "required");
    assert!(ecitizen["clients"][0]["redirect_uris"].as_array().unwrap().contains(&json!(CALLBACK)));
    assert_eq!(ecitizen["users"][0]["name"], "John Doe Blah");
    let pkce = app.http.get(ecitizen["pkce_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(pkce.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_login_is_a_transaction_row_that_shows_no_credential() {
    let app = spawn().await;
    let (verifier, challenge) = pkce_pair();
    let code = app.code_for("2", &challenge).await;
    let (_, tokens) = app.exchange(&code, &verifier).await;
    let (_, body) = app.admin_get("/transactions?provider=ecitizen").await;
    let rows = body["transactions"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["kind"], "login");
    assert_eq!(row["id"], "login-1");
    assert_eq!(row["status"], "exchanged");
    assert_eq!(row["user_id"], 2);
    assert_eq!(row["msisdn"], "254722000002");
    assert_eq!(row["code_challenge_method"], "S256");
    assert_eq!(row["tokens_issued"], 1);
    let text = row.to_string();
    assert!(!text.contains(&code) && !text.contains(tokens["access_token"].as_str().unwrap()), "{text}");

    let (_, by_id) = app.admin_get("/transactions?id=login-1").await;
    assert_eq!(by_id["transactions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tenant_is_reached_through_its_own_client_id() {
    let app = spawn().await;
    let (status, creds) = app.admin_post("/tenants", &json!({ "id": "rp-ci" })).await;
    assert_eq!(status, StatusCode::CREATED, "{creds}");
    let client_id = creds["ecitizen"]["client_id"].as_str().unwrap().to_owned();
    let secret = creds["ecitizen"]["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 32);
    assert!(client_id.bytes().all(|b| b.is_ascii_hexdigit()), "{client_id}");
    assert_ne!(client_id, CLIENT);

    // A user only the tenant has.
    let res = app
        .http
        .post(app.url("/__sandbox/tenants/rp-ci/ecitizen/users"))
        .json(&json!({ "id": 90, "id_number": "90", "email": "tenant.only@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let (verifier, challenge) = pkce_pair();
    let mut params = app.login_params(&challenge, &[("prompt", "none"), ("login_hint", "90")]);
    params[0] = ("client_id", &client_id);
    let code = app.authorize(&params).await.redirect().param("code").unwrap().to_owned();
    let (status, tokens) = app
        .token_request(&[
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let (_, info) = app.user_info(token).await;
    assert_eq!(info["email"], "tenant.only@example.com");
    let (_, introspection) = app.introspect(token).await;
    assert_eq!(introspection["client_id"], client_id.as_str());

    let (_, tenant_rows) = app.admin_get("/tenants/rp-ci/transactions?provider=ecitizen").await;
    assert_eq!(tenant_rows["transactions"].as_array().unwrap().len(), 1);
    let (_, default_rows) = app.admin_get("/transactions?provider=ecitizen").await;
    assert!(default_rows["transactions"].as_array().unwrap().is_empty(), "the default tenant saw nothing");

    // The default client's id still reaches the default tenant, which lacks user 90.
    let (_, challenge) = pkce_pair();
    let refused = app.authorize(&app.login_params(&challenge, &[("prompt", "none"), ("login_hint", "90")])).await;
    assert_eq!(refused.redirect().param("error"), Some("login_required"));
}

#[tokio::test]
async fn a_reset_forgets_logins_but_keeps_users_changed_at_runtime() {
    let app = spawn().await;
    app.admin_send(reqwest::Method::PATCH, "/users/2", Some(json!({ "first_name": "Wambui" }))).await;
    let code = app.code_for("2", CHALLENGE).await;
    let (status, _) = app.admin_post("/reset", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.exchange(&code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, user) = app.admin_send(reqwest::Method::GET, "/users/2", None).await;
    assert_eq!(user["first_name"], "Wambui");
}

#[tokio::test]
async fn the_users_come_a_page_at_a_time_by_id() {
    let app = spawn().await;
    let (_, all) = app.admin_send(reqwest::Method::GET, "/users", None).await;
    assert_eq!(all["next_after"], Value::Null, "one page holds the default world");
    let every: Vec<u64> = all["users"].as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect();
    let mut paged = Vec::new();
    let mut path = "/users?limit=4".to_owned();
    loop {
        let (status, page) = app.admin_send(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 4);
        paged.extend(users.iter().map(|u| u["id"].as_u64().unwrap()));
        match page["next_after"].as_u64() {
            Some(after) => path = format!("/users?limit=4&after={after}"),
            None => break,
        }
    }
    assert_eq!(paged, every, "the pages add up to the whole list, in id order");
    for bad in ["/users?limit=0", "/users?limit=10001", "/users?after=x", "/users?colour=red"] {
        let (status, body) = app.admin_send(reqwest::Method::GET, bad, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{bad}");
    }
}
