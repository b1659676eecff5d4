//! Pesaflow: the provider's tests and their helpers.
//!
//! Hashes here are computed independently of the sandbox's code, the way a
//! merchant's PHP does it (`base64_encode(hash_hmac('sha256', $data, $key))`),
//! with the `hmac`, `sha2` and `base64` crates directly.

mod checkout;
mod faults;
mod flow;
mod invoicing;
mod payments;
mod robustness;
mod ussd;
mod vectors;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{spawn_virtual, TestApp, PATIENCE};

/// The default world's first client, as the credentials document gives it.
pub const CLIENT: &str = "1";
pub const KEY: &str = "PesaflowSandboxKey";
pub const SECRET: &str = "PesaflowSandboxSecret";
/// Its service with a flat 5.00 fee, like the live test server's.
pub const SERVICE: &str = "1001";
/// A customer of the default world with money on the phone.
pub const PAYER: &str = "254708374149";

/// Prompts answered within 20 ms of the sandbox clock.
pub const FAST: &str = "[daraja]\nstk_answer_delay_ms = 20\n[pesaflow]\nprompt_answer_delay_ms = 20\n";

/// `base64(lowercase hex(HMAC-SHA256(key, concatenated values)))`: the
/// guide's PHP, written independently of the sandbox.
pub fn php_hash(key: &str, values: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(values.concat().as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    STANDARD.encode(hex)
}

/// A form body, `application/x-www-form-urlencoded`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// A sandbox on a virtual clock with fast prompts and `extra` world tables,
/// whose receiver takes notifications at `/ipn`. `extra` follows [`FAST`]'s
/// `[pesaflow]` table, so its bare keys are Pesaflow settings.
pub async fn pesaflow_app(extra: &str) -> TestApp {
    let app = spawn_virtual(&format!("{FAST}{extra}")).await;
    Mock::given(method("POST"))
        .and(path("/ipn"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "status": "ok" })))
        .mount(&app.receiver)
        .await;
    app
}

/// The fields of a checkout as a merchant's backend sends them, signed.
pub struct Checkout {
    pub amount: String,
    pub bill_ref: String,
    pub msisdn: String,
    pub format: &'static str,
    pub send_stk: bool,
    pub service: String,
    pub client: String,
    pub key: String,
    pub secret: String,
}

impl Checkout {
    pub fn new(bill_ref: &str, amount: &str) -> Checkout {
        Checkout {
            amount: amount.into(),
            bill_ref: bill_ref.into(),
            msisdn: PAYER.into(),
            format: "json",
            send_stk: false,
            service: SERVICE.into(),
            client: CLIENT.into(),
            key: KEY.into(),
            secret: SECRET.into(),
        }
    }

    /// Every field of the guide's form, in its order, `secureHash` over the
    /// checkout recipe.
    pub fn fields(&self, app: &TestApp) -> Vec<(String, String)> {
        let hash = php_hash(
            &self.key,
            &[
                &self.client,
                &self.amount,
                &self.service,
                "12345678",
                "KES",
                &self.bill_ref,
                "Business name search",
                "Jane Doe",
                &self.secret,
            ],
        );
        let receiver = app.receiver.uri();
        [
            ("apiClientID", self.client.clone()),
            ("serviceID", self.service.clone()),
            ("billDesc", "Business name search".into()),
            ("currency", "KES".into()),
            ("billRefNumber", self.bill_ref.clone()),
            ("clientMSISDN", self.msisdn.clone()),
            ("clientName", "Jane Doe".into()),
            ("clientIDNumber", "12345678".into()),
            ("clientEmail", "jane@example.com".into()),
            ("callBackURLOnSuccess", format!("{receiver}/ok")),
            ("amountExpected", self.amount.clone()),
            ("notificationURL", format!("{receiver}/ipn")),
            ("pictureURL", String::new()),
            ("format", self.format.into()),
            ("sendSTK", self.send_stk.to_string()),
            ("secureHash", hash),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl TestApp {
    /// POSTs a form to a Pesaflow path; the status, the body as text and
    /// the diagnosis header.
    pub async fn pf_post_form(&self, path: &str, fields: &[(String, String)]) -> (StatusCode, String, String) {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let res = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let diagnosis = res.headers().get("x-sandbox-diagnosis").map(|v| v.to_str().unwrap().to_owned());
        (status, res.text().await.unwrap(), diagnosis.unwrap_or_default())
    }

    /// POSTs a JSON body to a Pesaflow path; the status, the body as JSON and
    /// the diagnosis header.
    pub async fn pf_post_json(&self, path: &str, body: &Value) -> (StatusCode, Value, String) {
        let res = self.http.post(self.url(path)).json(body).send().await.unwrap();
        let status = res.status();
        let diagnosis = res.headers().get("x-sandbox-diagnosis").map(|v| v.to_str().unwrap().to_owned());
        (status, res.json().await.unwrap_or(Value::Null), diagnosis.unwrap_or_default())
    }

    /// A JSON checkout on the live path; its answer.
    pub async fn pf_checkout(&self, checkout: &Checkout) -> Value {
        let (status, body, diagnosis) = self.pf_post_form("/PaymentAPI/iframev2.1.php", &checkout.fields(self)).await;
        assert_eq!(status, StatusCode::OK, "{body} {diagnosis}");
        serde_json::from_str(&body).unwrap()
    }

    /// The status query of an invoice, signed as the guide says.
    pub async fn pf_status(&self, ref_no: &str) -> (StatusCode, Value) {
        let hash = php_hash(KEY, &[CLIENT, ref_no]);
        let query = form(&[("api_client_id", CLIENT), ("ref_no", ref_no), ("secure_hash", &hash)]);
        let res = self.http.get(self.url(&format!("/api/invoice/payment/status?{query}"))).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Every notification attempt of an invoice so far, in journal order.
    pub async fn pf_notifications(&self, invoice_number: &str) -> Vec<Value> {
        let (_, body) = self.admin_get(&format!("/callbacks?correlation_id={invoice_number}&kind=notification")).await;
        body["callbacks"].as_array().unwrap().clone()
    }

    /// Waits until `count` notifications of an invoice were attempted.
    pub async fn pf_wait_notifications(&self, invoice_number: &str, count: usize) -> Vec<Value> {
        let (status, body) = self
            .admin_get(&format!(
                "/callbacks/wait?correlation_id={invoice_number}&kind=notification&count={count}&timeout_ms={}",
                PATIENCE.as_millis()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "notifications did not arrive: {body}");
        body["callbacks"].as_array().unwrap().clone()
    }

    /// The notification bodies the receiver got at `/ipn`, raw, in order.
    pub async fn pf_received_notifications(&self) -> Vec<(String, Vec<u8>)> {
        self.receiver
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/ipn")
            .map(|r| {
                let content_type =
                    r.headers.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                (content_type, r.body)
            })
            .collect()
    }

    /// The diagnosis the journal kept for the latest Pesaflow request.
    pub async fn pf_last_diagnosis(&self) -> String {
        let (_, journal) = self.admin_get("/requests").await;
        let requests = journal["requests"].as_array().unwrap();
        let last = requests.iter().rev().find(|r| r["provider"] == "pesaflow").unwrap();
        last["diagnosis"].as_str().unwrap_or_default().to_owned()
    }

    /// An invoice as the admin view shows it.
    pub async fn pf_invoice(&self, number: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/pesaflow/invoices/{number}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// What a merchant's notification handler does: recompute `secure_hash` from
/// the strings received and compare.
pub fn merchant_accepts(notification: &Value) -> bool {
    let text = |k: &str| notification[k].as_str().unwrap_or_default().to_owned();
    let expected = php_hash(
        KEY,
        &[&text("client_invoice_ref"), &text("invoice_number"), &text("amount_paid"), &text("payment_date"), SECRET],
    );
    notification["secure_hash"].as_str() == Some(expected.as_str())
}
