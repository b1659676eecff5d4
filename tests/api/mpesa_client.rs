//! The `mpesa` crate (c12i/mpesa-rust 1.1.0), a client nobody on this project
//! wrote, pointed at the sandbox through its `ApiEnvironment` override.
//!
//! The crate caches tokens process-wide by consumer key, so each test here
//! uses an app of its own.

use mpesa::{ApiEnvironment, Mpesa, MpesaError};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{spawn_with, FAST_WORLD, PATIENCE};

#[derive(Clone)]
struct Sandbox {
    base_url: String,
    certificate: String,
}

impl ApiEnvironment for Sandbox {
    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn get_certificate(&self) -> &str {
        &self.certificate
    }
}

fn world_with_app(key: &str) -> String {
    format!(
        "[[apps]]\nname = \"mpesa crate\"\nconsumer_key = \"{key}\"\nconsumer_secret = \"{key}-secret\"\n{FAST_WORLD}"
    )
}

#[tokio::test]
async fn the_mpesa_crate_gets_a_token_pushes_and_receives_the_callback() {
    let key = "mpesa-crate-express";
    let app = spawn_with(&world_with_app(key)).await;
    let guard = Mock::given(method("POST"))
        .and(path("/mpesa/callback"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount_as_scoped(&app.receiver)
        .await;
    let env = Sandbox { base_url: app.base.clone(), certificate: app.creds.daraja.certificate_pem.clone() };
    let client = Mpesa::new(key, &format!("{key}-secret"), env);
    assert!(client.is_connected().await, "the crate authenticates against the sandbox");

    let callback_url = format!("{}/mpesa/callback", app.receiver.uri());
    let response = client
        .express_request("174379")
        .phone_number("254708374149")
        .amount(25)
        .callback_url(&callback_url)
        .account_ref("INV-42")
        .send()
        .await
        .expect("the crate's STK push is accepted unmodified");
    assert_eq!(response.response_code, "0");
    assert!(response.checkout_request_id.starts_with("ws_CO_"));

    tokio::time::timeout(PATIENCE, guard.wait_until_satisfied()).await.expect("callback delivered");
    let received = app.receiver.received_requests().await.unwrap();
    let callback: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(callback["Body"]["stkCallback"]["CheckoutRequestID"], json!(response.checkout_request_id));
    assert_eq!(callback["Body"]["stkCallback"]["ResultCode"], json!(0));

    // The sandbox's query agrees with the callback.
    let (_, query) = app.stk_query(&response.checkout_request_id).await;
    assert_eq!(query["ResultCode"], "0");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "499975.00");
}

#[tokio::test]
async fn the_mpesa_crate_decodes_sandbox_errors_into_its_api_error_type() {
    let key = "mpesa-crate-errors";
    let app = spawn_with(&world_with_app(key)).await;
    let env = Sandbox { base_url: app.base.clone(), certificate: app.creds.daraja.certificate_pem.clone() };
    let client = Mpesa::new(key, &format!("{key}-secret"), env);
    let err = client
        .express_request("174379")
        .phone_number("254708374149")
        .amount(25)
        .callback_url("http://127.0.0.1:9/cb")
        .account_ref("INV-42")
        .pass_key("not-the-passkey")
        .send()
        .await
        .expect_err("a wrong passkey is refused");
    match err {
        MpesaError::MpesaExpressRequestError(api) => {
            assert_eq!(api.error_code, "500.001.1001");
            assert_eq!(api.error_message, "Wrong credentials");
            assert!(!api.request_id.is_empty());
        }
        other => panic!("expected an API error the crate could decode, got {other:?}"),
    }
}
