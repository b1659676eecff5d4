//! Shared deployments: admin tokens that cannot be switched off, a tenant's
//! own admin token, unpredictable secrets, and limits on what a client can
//! make the sandbox hold or send back.

use pesa_sandbox::{Config, Secrets};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{spawn, spawn_config, FAST_WORLD};

fn fast() -> Config {
    Config::local().with_seed(7).with_world_toml(FAST_WORLD).unwrap()
}

async fn get_with(app: &crate::helpers::TestApp, url: &str, token: &str) -> (StatusCode, Value) {
    let res = app.http.get(url).bearer_auth(token).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_tenants_admin_token_opens_its_own_views_and_no_other() {
    let mut config = fast();
    config.admin_token = Some("root-token".into());
    let app = spawn_config(config).await;
    let create = |id: &'static str| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/__sandbox/tenants"))
                .bearer_auth("root-token")
                .json(&json!({ "id": id }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.unwrap()
        }
    };
    let mine = create("mine").await;
    let theirs = create("theirs").await;
    let token = mine["admin_token"].as_str().expect("a tenant gets its own admin token").to_owned();
    assert_eq!(token.len(), 32);
    assert_ne!(mine["admin_token"], theirs["admin_token"]);

    let own = |path: &str| format!("{}{path}", mine["admin_url"].as_str().unwrap());
    for path in ["/credentials", "/callbacks", "/requests", "/transactions", "/accounts", "/clock", "/scenarios"] {
        let (status, body) = get_with(&app, &own(path), &token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, body) = get_with(&app, &app.url("/__sandbox/tenants/mine"), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["admin_token"], json!(token));

    let others = [
        "/__sandbox/credentials",
        "/__sandbox/callbacks",
        "/__sandbox/health",
        "/__sandbox/tenants",
        "/__sandbox/tenants/theirs",
        "/__sandbox/tenants/theirs/credentials",
        "/__sandbox/tenants/mine/../theirs/credentials",
    ];
    for path in others {
        let (status, body) = get_with(&app, &app.url(path), &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{path}");
    }
    let res = app.http.post(app.url("/__sandbox/tenants")).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a tenant's token creates no tenant");
    // The sandbox's token still opens everything.
    let (status, _) = get_with(&app, &app.url("/__sandbox/tenants/theirs/credentials"), "root-token").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_an_admin_token_tenants_get_none() {
    let app = spawn().await;
    let (status, creds) = app.admin_post("/tenants", &json!({ "id": "open" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(creds.get("admin_token").is_none(), "{creds}");
}

#[tokio::test]
async fn random_secrets_differ_between_runs_of_the_same_seed_and_seeded_ones_repeat() {
    async fn secrets(mode: Secrets) -> (String, String, String) {
        let mut config = fast();
        config.secrets = mode;
        let app = spawn_config(config).await;
        let token = app.token().await;
        let (_, creds) = app.admin_post("/tenants", &json!({ "id": "ci" })).await;
        let secret = creds["daraja"]["consumer_secret"].as_str().unwrap().to_owned();
        let key = creds["daraja"]["consumer_key"].as_str().unwrap().to_owned();
        (token, key, secret)
    }
    let (a, b) = (secrets(Secrets::Random).await, secrets(Secrets::Random).await);
    assert_ne!(a.0, b.0, "tokens");
    assert_ne!(a.2, b.2, "generated consumer secrets");
    assert_eq!(a.0.len(), 28, "tokens keep their shape");
    let (c, d) = (secrets(Secrets::Seeded).await, secrets(Secrets::Seeded).await);
    assert_eq!(c, d, "seeded secrets repeat, as a deterministic run needs");
}

#[tokio::test]
async fn tenants_and_loaded_rules_are_capped_with_a_clear_error() {
    let mut config = fast();
    config.limits.max_tenants = 2;
    let app = spawn_config(config).await;
    let (status, _) = app.admin_post("/tenants", &json!({ "id": "one" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = app.admin_post("/tenants", &json!({ "id": "two" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "limit_reached");
    assert!(err["error"]["message"].as_str().unwrap().contains("--max-tenants"), "{err}");
    let (status, _) = app.admin_get("/tenants/two").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing half-made is left");

    let rules = "[[rules]]\nwhen = { operation = \"stk_push\" }\n".repeat(600);
    let put = |body: String| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/__sandbox/scenarios"))
                .header("content-type", "application/toml")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = put(rules.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, err) = put(rules).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "limit_reached");
    assert!(err["error"]["message"].as_str().unwrap().contains("at most 1000 rules"), "{err}");
    let (_, loaded) = app.admin_get("/scenarios").await;
    assert_eq!(loaded["scenarios"].as_array().unwrap().len(), 1, "the refused append changed nothing");
}

#[tokio::test]
async fn admin_bodies_over_the_limit_get_413_in_the_admin_envelope() {
    let mut config = fast();
    config.body_limit_bytes = 1024;
    let app = spawn_config(config).await;
    let big = "x".repeat(4096);
    let requests = [
        ("/__sandbox/tenants", "application/json", json!({ "id": big }).to_string()),
        ("/__sandbox/clock", "application/json", json!({ "set": big }).to_string()),
        ("/__sandbox/scenarios", "application/toml", format!("description = \"{big}\"\n")),
        ("/__sandbox/daraja/c2b/pay", "application/json", json!({ "msisdn": big }).to_string()),
        ("/__sandbox/vodafone/accounts/any/async-url", "application/json", json!({ "url": big }).to_string()),
        ("/__sandbox/pesaflow/ussd", "application/json", json!({ "msisdn": big }).to_string()),
        ("/__sandbox/ecitizen/users", "application/json", json!({ "email": big }).to_string()),
    ];
    for (path, content_type, body) in requests {
        let res = app.http.post(app.url(path)).header("content-type", content_type).body(body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: Value = res.json().await.expect("a JSON body");
        assert_eq!(body["error"]["code"], "payload_too_large", "{path}: {body}");
    }
}

#[tokio::test]
async fn journal_entries_cut_what_a_client_controls_and_lists_come_in_pages() {
    let app = spawn().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let long_path = format!("/mpesa/{}", "p".repeat(60 * 1024));
    for _ in 0..5 {
        let res = app.http.post(app.url(&long_path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let mut body = app.stk_body("254708374149", 1);
    body["TransactionType"] = json!("T".repeat(200_000));
    let (status, _) = app.stk_push(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, first) = app.admin_get("/requests?limit=2").await;
    let entries = first["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let path = entries[0]["path"].as_str().unwrap();
    assert!(path.len() < 2200 && path.ends_with(&format!("…[cut: {} bytes in all]", long_path.len())), "{path}");
    let cursor = first["next_after_seq"].as_u64().expect("more pages");
    let (_, rest) = app.admin_get(&format!("/requests?after_seq={cursor}&limit=10")).await;
    let rest = rest["requests"].as_array().unwrap().clone();
    assert!(!rest.is_empty() && rest.iter().all(|r| r["seq"].as_u64().unwrap() > cursor));
    let refused = rest.iter().find(|r| r["error_code"] == "400.002.02").expect("the long TransactionType was refused");
    let diagnosis = refused["diagnosis"].as_str().unwrap_or_default();
    assert!(diagnosis.len() <= 2200, "the diagnosis is cut: {} bytes", diagnosis.len());
    let (_, last) = app.admin_get(&format!("/requests?after_seq={cursor}&limit=10")).await;
    assert_eq!(last["next_after_seq"], Value::Null);

    let mut ids = Vec::new();
    for msisdn in ["254708374149", "254711001032", "254722000333"] {
        let (_, ack) = app.stk_push(&app.stk_body(msisdn, 1)).await;
        ids.push(ack["CheckoutRequestID"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_callbacks(id, 1).await;
    }
    let (_, page) = app.admin_get("/callbacks?limit=2").await;
    assert_eq!(page["callbacks"].as_array().unwrap().len(), 2);
    let cursor = page["next_after_seq"].as_u64().unwrap();
    let (_, page) = app.admin_get(&format!("/callbacks?limit=2&after_seq={cursor}")).await;
    assert_eq!(page["callbacks"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_after_seq"], Value::Null);

    let (_, page) = app.admin_get("/transactions?limit=2").await;
    assert_eq!(page["transactions"].as_array().unwrap().len(), 2);
    let after = page["next_after"].as_str().unwrap().to_owned();
    let (status, rest) = app.admin_get(&format!("/transactions?limit=2&after={after}")).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["transactions"].as_array().unwrap().len(), 1);
    let seen: Vec<&Value> =
        page["transactions"].as_array().unwrap().iter().chain(rest["transactions"].as_array().unwrap()).collect();
    assert_eq!(seen.len(), 3, "each transaction once");
    let (status, err) = app.admin_get("/transactions?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _) = app.admin_get("/transactions?after=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for id in ["a", "b", "c"] {
        app.admin_post("/tenants", &json!({ "id": id })).await;
    }
    let (_, page) = app.admin_get("/tenants?limit=2").await;
    let names: Vec<&str> = page["tenants"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    let (_, page) = app.admin_get(&format!("/tenants?limit=2&after={}", page["next_after"].as_str().unwrap())).await;
    let names: Vec<&str> = page["tenants"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["c", "default"]);
}
