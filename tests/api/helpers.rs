//! Spawning sandboxes and talking to them.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pesa_sandbox::config::ClockMode;
use pesa_sandbox::Credentials;
use pesa_sandbox::{Config, Sandbox};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::MockServer;

/// Tests never wait longer than this for anything.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The default world with customers who answer quickly.
pub const FAST_WORLD: &str = "[daraja]\nstk_answer_delay_ms = 20\n";

pub struct TestApp {
    pub sandbox: Sandbox,
    pub base: String,
    pub http: reqwest::Client,
    pub receiver: MockServer,
    pub creds: Credentials,
}

pub async fn spawn() -> TestApp {
    spawn_with(FAST_WORLD).await
}

pub async fn spawn_with(world_toml: &str) -> TestApp {
    spawn_config(Config::local().with_seed(7).with_world_toml(world_toml).expect("test world is valid")).await
}

/// A sandbox whose default tenant runs on a virtual clock starting now.
pub async fn spawn_virtual(world_toml: &str) -> TestApp {
    let config = Config::local()
        .with_seed(7)
        .with_world_toml(world_toml)
        .expect("test world is valid")
        .with_clock(ClockMode::Virtual { start: chrono::Utc::now() });
    spawn_config(config).await
}

/// A virtual-clock sandbox with shipped scenarios loaded, in order.
pub async fn spawn_scenarios(names: &[&str]) -> TestApp {
    let mut config = Config::local()
        .with_seed(7)
        .with_world_toml(FAST_WORLD)
        .expect("test world is valid")
        .with_clock(ClockMode::Virtual { start: chrono::Utc::now() });
    for name in names {
        config = config.with_shipped_scenario(name).expect("shipped scenario exists");
    }
    spawn_config(config).await
}

pub async fn spawn_config(config: Config) -> TestApp {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let base = sandbox.base_url().to_owned();
    let creds = sandbox.credentials();
    TestApp {
        sandbox,
        base,
        http: reqwest::Client::builder().no_proxy().timeout(PATIENCE).build().unwrap(),
        receiver: MockServer::start().await,
        creds,
    }
}

/// The current time as a Daraja `Timestamp` (UTC is as good a zone as any).
pub fn timestamp_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}

pub fn lnm_password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

pub const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn token(&self) -> String {
        let res = self
            .http
            .get(self.url("/oauth/v1/generate?grant_type=client_credentials"))
            .basic_auth(&self.creds.daraja.consumer_key, Some(&self.creds.daraja.consumer_secret))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A valid STK push body for the default paybill, paid by `msisdn`,
    /// calling back to the wiremock receiver at `/stk`.
    pub fn stk_body(&self, msisdn: &str, amount: i64) -> Value {
        let ts = timestamp_now();
        json!({
            "BusinessShortCode": "174379",
            "Password": lnm_password("174379", PASSKEY, &ts),
            "Timestamp": ts,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": msisdn,
            "PartyB": "174379",
            "PhoneNumber": msisdn,
            "CallBackURL": format!("{}/stk", self.receiver.uri()),
            "AccountReference": "INV-001",
            "TransactionDesc": "Order 1",
        })
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let res = self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn stk_push(&self, body: &Value) -> (StatusCode, Value) {
        let token = self.token().await;
        self.post_json("/mpesa/stkpush/v1/processrequest", &token, body).await
    }

    pub async fn stk_query(&self, checkout_request_id: &str) -> (StatusCode, Value) {
        let token = self.token().await;
        let ts = timestamp_now();
        let body = json!({
            "BusinessShortCode": "174379",
            "Password": lnm_password("174379", PASSKEY, &ts),
            "Timestamp": ts,
            "CheckoutRequestID": checkout_request_id,
        });
        self.post_json("/mpesa/stkpushquery/v1/query", &token, &body).await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self.http.post(self.url(&format!("/__sandbox{path}"))).json(body).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Moves the virtual clock through the admin API; the released callbacks
    /// have been attempted when this returns.
    pub async fn advance_ms(&self, ms: u64) -> Value {
        let (status, body) = self.admin_post("/clock", &json!({ "advance_ms": ms })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Every callback attempt correlated with an id (ConversationID, TransID), in journal order.
    pub async fn attempts_by(&self, correlation_id: &str) -> Vec<Value> {
        let (_, body) = self.admin_get(&format!("/callbacks?correlation_id={correlation_id}")).await;
        body["callbacks"].as_array().unwrap().clone()
    }

    /// Every callback attempt for a checkout request, in journal order.
    pub async fn attempts(&self, checkout_request_id: &str) -> Vec<Value> {
        let (_, body) = self.admin_get(&format!("/callbacks?checkout_request_id={checkout_request_id}")).await;
        body["callbacks"].as_array().unwrap().clone()
    }

    pub async fn admin_get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let res = self.http.get(self.url(&format!("/__sandbox{path_and_query}"))).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Waits (long-poll, no sleeping) until `count` callbacks for the
    /// checkout request have been attempted; returns their journal entries.
    pub async fn wait_callbacks(&self, checkout_request_id: &str, count: usize) -> Vec<Value> {
        let (status, body) = self
            .admin_get(&format!(
                "/callbacks/wait?checkout_request_id={checkout_request_id}&count={count}&timeout_ms={}",
                PATIENCE.as_millis()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "callbacks did not arrive: {body}");
        body["callbacks"].as_array().unwrap().clone()
    }

    pub async fn balance_of_msisdn(&self, msisdn: &str) -> String {
        let (_, body) = self.admin_get(&format!("/accounts?msisdn={msisdn}")).await;
        body["accounts"][0]["balance"].as_str().unwrap_or("none").to_owned()
    }

    pub async fn balance_of_shortcode(&self, shortcode: &str) -> String {
        let (_, body) = self.admin_get(&format!("/accounts?shortcode={shortcode}")).await;
        body["accounts"][0]["balance"].as_str().unwrap_or("none").to_owned()
    }

    /// Moves the default tenant's virtual clock and settles what fell due,
    /// as the admin clock API will.
    pub async fn advance(&self, by: chrono::Duration) {
        assert!(self.sandbox.advance_clock(by).await, "the tenant runs on a virtual clock");
    }
}

/// Asserts a Daraja error envelope.
pub fn assert_daraja_error(status: StatusCode, body: &Value, want_status: u16, code: &str, message: &str) {
    assert_eq!(status.as_u16(), want_status, "status for {body}");
    assert_eq!(body["errorCode"], code, "code in {body}");
    assert_eq!(body["errorMessage"], message, "message in {body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "requestId in {body}");
}
