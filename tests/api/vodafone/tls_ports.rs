//! What unmodified portal SDKs need: the per-API ports and HTTPS with a
//! certificate their client can be made to trust (the committed test CA).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{java_bearer, portal_c2b};
use crate::helpers::{spawn_config, PATIENCE};
use pesa_sandbox::Config;

#[tokio::test]
async fn a_client_that_trusts_the_test_ca_pays_over_https_on_another_port() {
    let config =
        Config::local().with_seed(7).with_test_tls().also_listening_on("127.0.0.1:0".parse().expect("an address"));
    let app = spawn_config(config).await;
    let extra = app.sandbox.also_listening()[0];
    let (status, ca) = app.admin_get("/tls/ca.pem").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ca.is_null(), "the CA is PEM, not JSON");
    let ca_pem = app.http.get(app.url("/__sandbox/tls/ca.pem")).send().await.unwrap().text().await.unwrap();
    assert_eq!(ca_pem, pesa_sandbox::tls::CA_PEM);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the CA parses"))
        .resolve("localhost", extra)
        .timeout(PATIENCE)
        .no_proxy()
        .build()
        .unwrap();
    let bearer = java_bearer(&app.creds.vodafone.public_key, &app.creds.vodafone.api_key);
    let response = client
        .request(Method::POST, format!("https://localhost:{}/ipg/v1x/c2bPayment/singleStage/", extra.port()))
        .bearer_auth(&bearer)
        .header("Origin", "*")
        .json(&portal_c2b("258843330333", "10", "tls1"))
        .send()
        .await
        .expect("the TLS handshake succeeds with the test CA");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["output_ResponseCode"], "INS-0");

    // The same port still speaks plain HTTP, and the main port TLS.
    let plain = app.http.get(format!("http://{extra}/__sandbox/health")).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let https = app.sandbox.https_url().expect("https is served");
    let main = client.get(format!("{https}/__sandbox/health")).send().await;
    assert!(main.is_ok() || https.contains(&app.sandbox.addr().port().to_string()));

    // A client that does not trust the CA is refused at the handshake.
    let untrusting = reqwest::Client::builder().resolve("localhost", extra).no_proxy().build().unwrap();
    let refused = untrusting.get(format!("https://localhost:{}/__sandbox/health", extra.port())).send().await;
    assert!(refused.is_err(), "an unknown CA fails the handshake");
}
