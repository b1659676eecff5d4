//! Vodafone / Vodacom M-Pesa: the portal (`/ipg/v1x/`) and the OpenAPI
//! (`/{sandbox|openapi}/ipg/v2/{market}/`), spoken to by a client that
//! encrypts exactly as the portal's Java sample does.

mod openapi;
mod portal;
mod real_clients;
mod scenarios;
mod tls_ports;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// The seed's sample API key: the default world's portal account has it.
pub const SEED_API_KEY: &str = "aaaab09uz9f3asdcjyk7els777ihmwv8";

/// A world whose loopback listeners may receive asynchronous results over
/// plain http (the seed's rule is https and ports 11000 to 19000).
pub const LOOPBACK: &str = "[vodafone]\nloopback_async_urls = true\nresult_delay_ms = 10\n";

/// The seed's Java sample, step by step: Base64-decode the public key, read
/// it as an X.509 `SubjectPublicKeyInfo`, encrypt the secret's UTF-8 bytes
/// with `Cipher.getInstance("RSA")` (PKCS#1 v1.5), Base64-encode the result.
pub fn java_bearer(public_key_base64: &str, secret: &str) -> String {
    let der = STANDARD.decode(public_key_base64.trim()).expect("the published key is base64");
    let key = RsaPublicKey::from_public_key_der(&der).expect("the published key is an X.509 SPKI");
    let ciphertext =
        key.encrypt(&mut rand::rngs::OsRng, Pkcs1v15Encrypt, secret.as_bytes()).expect("a 32-byte key fits");
    STANDARD.encode(ciphertext)
}

/// A C2B body as the portal's documentation and SDKs send it.
pub fn portal_c2b(msisdn: &str, amount: &str, reference: &str) -> Value {
    json!({
        "input_TransactionReference": "T12344C",
        "input_CustomerMSISDN": msisdn,
        "input_Amount": amount,
        "input_ThirdPartyReference": reference,
        "input_ServiceProviderCode": "171717",
    })
}

/// An OpenAPI payment body for a market (C2B or B2C by `desc_field`).
pub fn openapi_payment(country: &str, currency: &str, msisdn: &str, amount: &str, conversation: &str) -> Value {
    json!({
        "input_Amount": amount,
        "input_Country": country,
        "input_Currency": currency,
        "input_CustomerMSISDN": msisdn,
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": conversation,
        "input_TransactionReference": "T1234C",
        "input_PurchasedItemsDesc": "Shoes",
    })
}

impl TestApp {
    /// The published public key, as a client copies it from the portal.
    pub fn vodafone_public_key(&self) -> String {
        self.creds.vodafone.public_key.clone()
    }

    /// A bearer for a secret, made as the Java sample makes it.
    pub fn vodafone_bearer(&self, secret: &str) -> String {
        java_bearer(&self.vodafone_public_key(), secret)
    }

    /// Calls a portal API with the default account's key.
    pub async fn portal(&self, method: Method, api: &str, body: &Value) -> (StatusCode, Value) {
        let bearer = self.vodafone_bearer(&self.creds.vodafone.api_key);
        self.portal_with(&bearer, method, api, body).await
    }

    /// Calls a portal API with a bearer; a GET sends the body's fields as the query string.
    pub async fn portal_with(&self, bearer: &str, method: Method, api: &str, body: &Value) -> (StatusCode, Value) {
        self.vodafone_call(&format!("/ipg/v1x/{api}"), bearer, method, body, &[]).await
    }

    pub async fn vodafone_call(
        &self,
        path: &str,
        bearer: &str,
        method: Method,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(bearer)
            .header("Origin", "*")
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match method {
            Method::GET => {
                let pairs: Vec<(String, String)> = body
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                    .unwrap_or_default();
                request.query(&pairs)
            }
            _ => request.body(body.to_string()),
        };
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The API key of the default world's application for a market.
    pub fn app_key(&self, market: &str) -> String {
        self.creds
            .vodafone
            .apps
            .iter()
            .find(|a| a.market == market)
            .map(|a| a.api_key.clone())
            .expect("an app per market")
    }

    /// `getSession` for a market's application; the session id.
    pub async fn session(&self, market: &str) -> String {
        let bearer = self.vodafone_bearer(&self.app_key(market));
        let (status, body) = self
            .vodafone_call(&format!("/sandbox/ipg/v2/{market}/getSession/"), &bearer, Method::GET, &json!({}), &[])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["output_ResponseCode"], "INS-0");
        body["output_SessionID"].as_str().expect("a session id").to_owned()
    }

    /// Calls an OpenAPI API in a session.
    pub async fn openapi(
        &self,
        market: &str,
        method: Method,
        api: &str,
        session: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let bearer = self.vodafone_bearer(session);
        self.vodafone_call(&format!("/sandbox/ipg/v2/{market}/{api}"), &bearer, method, body, &[]).await
    }

    /// An organisation account's balance (`MOZ:171717`).
    pub async fn vodafone_org_balance(&self, id: &str) -> String {
        self.balance_of_shortcode(id).await
    }

    /// Waits until the result of a conversation has been delivered and its
    /// acknowledgement judged; returns the journal entries.
    pub async fn judged(&self, conversation_id: &str) -> Vec<Value> {
        let (status, body) = self
            .admin_get(&format!(
                "/callbacks/wait?correlation_id={conversation_id}&judged=true&timeout_ms={}",
                crate::helpers::PATIENCE.as_millis()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "no judged result arrived: {body}");
        body["callbacks"].as_array().expect("entries").clone()
    }

    /// The provider's transaction row for a conversation id.
    pub async fn vodafone_transaction(&self, conversation_id: &str) -> Value {
        let (_, body) = self.admin_get(&format!("/transactions?provider=vodafone&id={conversation_id}")).await;
        body["transactions"][0].clone()
    }
}

/// Asserts that `keys` appear in `text` (raw JSON) in this order, as serde
/// writes a struct's fields: the wire order of captured traffic.
pub fn assert_key_order(text: &str, keys: &[&str]) {
    let positions: Vec<usize> =
        keys.iter().map(|k| text.find(&format!("\"{k}\"")).unwrap_or_else(|| panic!("{k} in {text}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "keys out of order in {text}");
}

/// The raw body of the latest request the receiver got.
pub async fn last_received(app: &TestApp) -> String {
    let requests = app.receiver.received_requests().await.unwrap_or_default();
    requests.last().map(|r| String::from_utf8_lossy(&r.body).into_owned()).unwrap_or_default()
}

/// Asserts the provider's envelope: code, description and status.
pub fn assert_ins(status: StatusCode, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status.as_u16(), want_status, "status of {body}");
    assert_eq!(body["output_ResponseCode"], code, "code of {body}");
    assert!(body["output_ResponseDesc"].as_str().is_some_and(|d| !d.is_empty()), "description of {body}");
}

/// Every currency's total across the ledger, from the admin API.
pub async fn totals(app: &TestApp) -> std::collections::BTreeMap<String, i64> {
    let (_, body) = app.admin_get("/accounts").await;
    let mut totals = std::collections::BTreeMap::new();
    for account in body["accounts"].as_array().expect("accounts") {
        let currency = account["currency"].as_str().unwrap_or_default().to_owned();
        let balance = account["balance"].as_str().unwrap_or("0").replace('.', "");
        *totals.entry(currency).or_insert(0) += balance.parse::<i64>().unwrap_or(0);
    }
    totals
}
