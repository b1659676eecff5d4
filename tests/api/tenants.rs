//! Tenants: isolated worlds in one sandbox, reached through their own
//! credentials; rate limits and signed callbacks, switched on per tenant.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::daraja::{lnm_password, timestamp_now, PASSKEY};
use crate::helpers::{spawn, TestApp, PATIENCE};

/// A client of one tenant, with the credentials tenant creation returned.
pub(crate) struct TenantClient<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) creds: Value,
}

impl TenantClient<'_> {
    pub(crate) async fn token(&self) -> String {
        let res = self
            .app
            .http
            .get(self.app.url("/oauth/v1/generate?grant_type=client_credentials"))
            .basic_auth(
                self.creds["daraja"]["consumer_key"].as_str().unwrap(),
                self.creds["daraja"]["consumer_secret"].as_str(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn push(&self, msisdn: &str, amount: i64, callback: &str) -> String {
        let token = self.token().await;
        let mut body = self.app.stk_body(msisdn, amount);
        body["CallBackURL"] = json!(callback);
        let (status, ack) = self.app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        ack["CheckoutRequestID"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn admin(&self, path: &str) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.creds["admin_url"].as_str().unwrap());
        let res = self.app.http.get(url).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap())
    }
}

pub(crate) async fn create(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.admin_post("/tenants", &body).await
}

#[tokio::test]
async fn a_new_tenant_gets_its_own_credentials_in_the_credentials_shape() {
    let app = spawn().await;
    let (status, creds) = create(&app, json!({ "id": "ci-run-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{creds}");
    assert_eq!(creds["tenant"], "ci-run-1");
    assert_eq!(creds["admin_url"], format!("{}/__sandbox/tenants/ci-run-1", app.base));
    let (_, default_creds) = app.admin_get("/credentials").await;
    let keys = |c: &Value| c["daraja"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&creds), keys(&default_creds), "the same JSON shape");
    assert_ne!(creds["daraja"]["consumer_key"], default_creds["daraja"]["consumer_key"]);
    assert_eq!(creds["daraja"]["consumer_key"].as_str().unwrap().len(), 48);
    let (status, again) = app.admin_get("/tenants/ci-run-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, creds);
}

#[tokio::test]
async fn requests_reach_their_tenant_through_their_credentials_and_state_stays_apart() {
    let app = spawn().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, creds) = create(&app, json!({ "world": "[daraja]\nstk_answer_delay_ms = 20\n" })).await;
    let tenant = TenantClient { app: &app, creds };
    let callback = format!("{}/stk", app.receiver.uri());
    let id = tenant.push("254708374149", 100, &callback).await;

    let (_, txs) = tenant.admin("/transactions").await;
    assert_eq!(txs["transactions"][0]["checkout_request_id"], id);
    let (_, default_txs) = app.admin_get("/transactions").await;
    assert!(default_txs["transactions"].as_array().unwrap().is_empty(), "the default tenant sees nothing");

    let (status, waited) = tenant.admin(&format!("/callbacks/wait?checkout_request_id={id}&timeout_ms=5000")).await;
    assert_eq!(status, StatusCode::OK, "{waited}");
    let (_, balance) = tenant.admin("/accounts?msisdn=254708374149").await;
    assert_eq!(balance["accounts"][0]["balance"], "499900.00");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "500000.00");
    let (_, default_journal) = app.admin_get("/callbacks").await;
    assert!(default_journal["callbacks"].as_array().unwrap().is_empty());

    // A tenant's token is no key to another tenant's data: the query cannot see it.
    let token = app.token().await;
    let ts = timestamp_now();
    let query = json!({ "BusinessShortCode": "174379", "Password": lnm_password("174379", PASSKEY, &ts), "Timestamp": ts, "CheckoutRequestID": id });
    let (status, _) = app.post_json("/mpesa/stkpushquery/v1/query", &token, &query).await;
    assert_eq!(status.as_u16(), 400);
}

#[tokio::test]
async fn tenants_can_be_listed_reset_and_deleted_and_unknown_ones_get_404() {
    let app = spawn().await;
    let (_, creds) = create(&app, json!({})).await;
    let id = creds["tenant"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tenant-"));
    let (_, listed) = app.admin_get("/tenants").await;
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 2);
    let res = app.http.post(app.url(&format!("/__sandbox/tenants/{id}/reset"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let tenant = TenantClient { app: &app, creds: creds.clone() };
    let token = tenant.token().await;
    let res = app.http.delete(app.url(&format!("/__sandbox/tenants/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, err) = app.admin_get(&format!("/tenants/{id}/transactions")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "unknown_tenant");
    assert!(err["error"]["message"].as_str().unwrap().contains(&id));
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &app.stk_body("254708374149", 1)).await;
    assert_eq!(status.as_u16(), 404, "a deleted tenant's tokens are gone");
    let res = app.http.delete(app.url("/__sandbox/tenants/default")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_tenant_requests_are_refused_precisely_and_create_nothing() {
    let app = spawn().await;
    let cases = [
        (json!({ "id": "Bad Id!" }), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({ "world": "[[apps]]\nconsumer_key = \"k\"\n" }), StatusCode::BAD_REQUEST, "invalid_world"),
        (json!({ "world": "colour = 1" }), StatusCode::BAD_REQUEST, "invalid_world"),
        (json!({ "clock": { "mode": "lunar" } }), StatusCode::BAD_REQUEST, "invalid_clock"),
        (
            json!({ "scenarios": { "documents": ["[[rules]]\nfault = { error = \"nope\" }\n"] } }),
            StatusCode::BAD_REQUEST,
            "invalid_scenario",
        ),
        (json!({ "colour": "red" }), StatusCode::BAD_REQUEST, "bad_request"),
        (
            json!({ "world": "[[apps]]\nconsumer_key = \"PesaSandboxConsumerKey\"\nconsumer_secret = \"x\"\n" }),
            StatusCode::CREATED,
            "",
        ),
    ];
    for (body, status, code) in cases {
        let (got, err) = create(&app, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
        if !code.is_empty() {
            assert_eq!(err["error"]["code"], code, "{err}");
        }
    }
    // An app whose key another tenant already uses is a conflict.
    let (status, err) =
        create(&app, json!({ "world": "[[apps]]\nconsumer_key = \"mine\"\nconsumer_secret = \"x\"\n" })).await;
    assert_eq!(status, StatusCode::CREATED, "{err}");
    let (status, err) =
        create(&app, json!({ "world": "[[apps]]\nconsumer_key = \"mine\"\nconsumer_secret = \"y\"\n" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, _) = create(&app, json!({ "id": "default" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = app.admin_get("/tenants").await;
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 3, "only the two valid tenants were added");
}

#[tokio::test]
async fn parallel_suites_in_their_own_tenants_never_see_each_other() {
    let app = spawn().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let callback = format!("{}/stk", receiver.uri());
    let suites = (0..8).map(|i| {
        let app = &app;
        let callback = callback.clone();
        async move {
            let (_, creds) =
                create(app, json!({ "world": "[daraja]\nstk_answer_delay_ms = 10\n", "clock": { "mode": "virtual" } }))
                    .await;
            let tenant = TenantClient { app, creds };
            let mut ids = Vec::new();
            for n in 0..3 {
                ids.push(tenant.push(&format!("2547000{i:02}{n:03}"), 10 + i, &callback).await);
            }
            let url = format!("{}/clock", tenant.creds["admin_url"].as_str().unwrap());
            let res = app.http.post(url).json(&json!({ "advance_ms": 10 })).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let (_, journal) = tenant.admin("/callbacks").await;
            let seen: Vec<String> = journal["callbacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["correlation_id"].as_str().unwrap().to_owned())
                .collect();
            let (_, txs) = tenant.admin("/transactions").await;
            (ids, seen, txs["transactions"].as_array().unwrap().len())
        }
    });
    let results = tokio::time::timeout(PATIENCE, futures_join_all(suites)).await.expect("suites finish");
    for (ids, seen, n_txs) in results {
        assert_eq!(n_txs, 3);
        let mut seen_sorted = seen.clone();
        seen_sorted.sort();
        let mut ids_sorted = ids.clone();
        ids_sorted.sort();
        assert_eq!(seen_sorted, ids_sorted, "each suite sees exactly its own callbacks");
    }
}

async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Poll them together: one task per suite would need 'static borrows.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}

#[tokio::test]
async fn a_rate_limit_lets_exactly_its_capacity_through_under_concurrency() {
    let app = spawn().await;
    let world = "[[rate_limits]]\nprovider = \"daraja\"\noperation = \"oauth\"\ncapacity = 5\nrefill = 1\nperiod_ms = 3600000\n";
    let (_, creds) = create(&app, json!({ "world": world })).await;
    let key = creds["daraja"]["consumer_key"].as_str().unwrap().to_owned();
    let secret = creds["daraja"]["consumer_secret"].as_str().unwrap().to_owned();
    let requests = (0..20).map(|_| {
        let http = app.http.clone();
        let url = app.url("/oauth/v1/generate?grant_type=client_credentials");
        let (key, secret) = (key.clone(), secret.clone());
        tokio::spawn(async move {
            let res = http.get(url).basic_auth(key, Some(secret)).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        })
    });
    let mut ok = 0;
    let mut arrested = 0;
    for handle in requests.collect::<Vec<_>>() {
        let (status, body) = handle.await.unwrap();
        match status.as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(body["fault"]["detail"]["errorcode"], "policies.ratelimit.SpikeArrestViolation");
                arrested += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!((ok, arrested), (5, 15));
}

#[tokio::test]
async fn signed_callbacks_carry_standard_webhooks_headers_that_verify() {
    let app = spawn().await;
    let (_, creds) =
        create(&app, json!({ "world": "[callbacks]\nsigning = true\n[daraja]\nstk_answer_delay_ms = 10\n" })).await;
    let secret = creds["callbacks"]["signing_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert!(base64::engine::general_purpose::STANDARD.decode(&secret["whsec_".len()..]).is_ok());
    let guard = Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount_as_scoped(&app.receiver)
        .await;
    let tenant = TenantClient { app: &app, creds };
    tenant.push("254708374149", 10, &format!("{}/stk", app.receiver.uri())).await;
    tokio::time::timeout(PATIENCE, guard.wait_until_satisfied()).await.expect("callback delivered");
    let request = &app.receiver.received_requests().await.unwrap()[0];
    let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    let signature = header("webhook-signature");
    assert!(pesa_sandbox::crypto::webhook::verify(&secret, &id, timestamp, &request.body, &signature));
    assert!(!pesa_sandbox::crypto::webhook::verify(&secret, &id, timestamp, b"{}", &signature));
    // And the headers every callback carries.
    assert_eq!(header("host"), app.receiver.address().to_string());
    assert!(header("user-agent").starts_with("pesa-sandbox/"), "{}", header("user-agent"));
    assert_eq!(header("content-type"), "application/json");

    // The default tenant did not opt in.
    let (_, default_creds) = app.admin_get("/credentials").await;
    assert!(default_creds["callbacks"]["signing_secret"].is_null());
}
