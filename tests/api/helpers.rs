//! Spawning sandboxes and talking to them.

use std::time::Duration;

use pesa_sandbox::config::ClockMode;
use pesa_sandbox::Credentials;
use pesa_sandbox::{Config, Sandbox};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::MockServer;

/// Tests never wait longer than this for anything.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The default world with customers who answer quickly.
pub const FAST_WORLD: &str = "[daraja]\nstk_answer_delay_ms = 20\n";

/// Any JSON value a request field may hold: every type, long and short
/// strings, digits, empty and nested containers (for property tests that
/// send bodies to every route).
pub fn any_json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[0-9]{1,14}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({ "nested": [1, "x"] })),
    ]
}

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

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let res = self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
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
