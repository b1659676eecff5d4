//! Daraja: the provider's tests, and the helpers they (and the
//! provider-neutral tests that use Daraja as their example) share.

mod c2b;
mod fidelity;
pub(crate) mod money;
mod mpesa_client;
mod oauth;
mod pull_qr_statement;
mod shapes;
mod stk_push;
mod stk_query;
mod vocabulary;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// The current time as a Daraja `Timestamp` (UTC is as good a zone as any).
pub fn timestamp_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}

pub fn lnm_password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

pub const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

impl TestApp {
    /// Asks for a token as an app, whatever the answer.
    pub async fn token_response(&self, consumer_key: &str, consumer_secret: &str) -> reqwest::Response {
        self.http
            .get(self.url("/oauth/v1/generate?grant_type=client_credentials"))
            .basic_auth(consumer_key, Some(consumer_secret))
            .send()
            .await
            .unwrap()
    }

    /// A token of the given app.
    pub async fn token_of(&self, consumer_key: &str, consumer_secret: &str) -> String {
        let res = self.token_response(consumer_key, consumer_secret).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A token of the default tenant's first app.
    pub async fn token(&self) -> String {
        self.token_of(&self.creds.daraja.consumer_key, &self.creds.daraja.consumer_secret).await
    }

    /// Replaces the default tenant's loaded scenarios with one document.
    pub async fn put_scenario(&self, scenario: &str) {
        let res = self.http.put(self.url("/__sandbox/scenarios")).body(scenario.to_owned()).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
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
}

/// Asserts a Daraja error envelope.
pub fn assert_daraja_error(status: StatusCode, body: &Value, want_status: u16, code: &str, message: &str) {
    assert_eq!(status.as_u16(), want_status, "status for {body}");
    assert_eq!(body["errorCode"], code, "code in {body}");
    assert_eq!(body["errorMessage"], message, "message in {body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "requestId in {body}");
}
