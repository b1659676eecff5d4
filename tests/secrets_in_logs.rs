//! Secrets never reach the logs: a full flow runs with every log level of
//! every crate captured, and no secret (nor its base64 form on the wire)
//! may appear in the output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pesa_sandbox::cli::LogFormat;
use pesa_sandbox::{telemetry, Config, Sandbox};
use serde_json::{json, Value};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const CONSUMER_SECRET: &str = "PesaSandboxConsumerSecret";
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const INITIATOR_PASSWORD: &str = "Safaricom999!*!";
/// A Vodafone application's API key, and a renewed (so unknown) one sent on purpose.
const VODAFONE_APP_KEY: &str = "6bc4157dbee34d409118e0978dc6dd17";
const VODAFONE_UNKNOWN_KEY: &str = "zzzzb09uz9f3asdcjyk7els777ihmwv8";
const PESAFLOW_KEY: &str = "PesaflowSandboxKey";
const PESAFLOW_SECRET: &str = "PesaflowSandboxSecret";
const ECITIZEN_SECRET: &str = "PesaSandboxEcitizenSecret";
/// RFC 7636 Appendix B's verifier, and its challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test]
async fn captured_logs_never_contain_a_secret() {
    let capture = Capture::default();
    let mut issued = Vec::new();
    for format in [LogFormat::Text, LogFormat::Json] {
        let subscriber = telemetry::subscriber(format, EnvFilter::new("trace"), capture.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        issued.extend(run_a_full_flow().await);
    }
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("stk push accepted"), "the flow was logged at all");
    assert!(logs.contains("request refused"), "refusals were logged");
    assert!(logs.contains("key and secret swapped"), "the Pesaflow hash diagnosis was logged");
    let basic = STANDARD.encode(format!("PesaSandboxConsumerKey:{CONSUMER_SECRET}"));
    let ts_free_password_prefix = &STANDARD.encode(format!("174379{PASSKEY}"))[..40];
    let ecitizen_basic = STANDARD.encode(format!("PesaSandboxEcitizenClient:{ECITIZEN_SECRET}"));
    assert!(logs.contains("ecitizen"), "the eCitizen flow was logged at all");
    assert!(issued.len() >= 6, "the eCitizen flow issued codes and tokens: {}", issued.len());
    for secret in [
        CONSUMER_SECRET,
        basic.as_str(),
        PASSKEY,
        ts_free_password_prefix,
        INITIATOR_PASSWORD,
        "wrong-secret",
        PESAFLOW_KEY,
        PESAFLOW_SECRET,
        VODAFONE_APP_KEY,
        VODAFONE_UNKNOWN_KEY,
        ECITIZEN_SECRET,
        ecitizen_basic.as_str(),
        VERIFIER,
    ]
    .into_iter()
    .chain(issued.iter().map(String::as_str))
    {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
}

/// A whole eCitizen login with its failures: codes, tokens, ID tokens and
/// the verifier pass through the sandbox, and are returned to be looked for.
async fn ecitizen_flow(base: &str) -> Vec<String> {
    let http = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut issued = Vec::new();
    let login = || {
        let http = http.clone();
        let url = reqwest::Url::parse_with_params(
            &format!("{base}/oauth/authorize"),
            &[
                ("client_id", "PesaSandboxEcitizenClient"),
                ("redirect_uri", "http://localhost:3000/callback"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("prompt", "none"),
                ("login_hint", "2"),
            ],
        )
        .unwrap();
        async move {
            let res = http.get(url).send().await.unwrap();
            let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
            location.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).unwrap()
        }
    };
    let token_url = format!("{base}/oauth/access-token");
    let exchange = |code: String, secret: &'static str, verifier: &'static str| {
        let http = http.clone();
        let token_url = token_url.clone();
        async move {
            let form = [
                ("client_id", "PesaSandboxEcitizenClient"),
                ("client_secret", secret),
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://localhost:3000/callback"),
                ("code_verifier", verifier),
            ];
            http.post(&token_url).form(&form).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let code = login().await;
    issued.push(code.clone());
    let _ = exchange(code.clone(), "wrong-secret", VERIFIER).await;
    let _ = exchange(code.clone(), ECITIZEN_SECRET, "a-wrong-verifier-that-is-long-enough-to-be-well-formed").await;
    let tokens = exchange(code.clone(), ECITIZEN_SECRET, VERIFIER).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    issued.push(token.clone());
    issued.push(tokens["id_token"].as_str().unwrap().to_owned());
    let _ = http.post(format!("{base}/api/oauth/token/introspect")).form(&[("token", &token)]).send().await.unwrap();
    let _ = http.get(format!("{base}/api/user-info?access_token={token}")).send().await.unwrap();
    let _ = http.get(format!("{base}/api/userinfo")).bearer_auth(&token).send().await.unwrap();
    let _ = http.get(format!("{base}/api/userinfo?access_token={token}")).bearer_auth(&token).send().await.unwrap();
    // A replay revokes the token, and is refused.
    let _ = exchange(code, ECITIZEN_SECRET, VERIFIER).await;
    let _ = http.get(format!("{base}/api/user-info?access_token={token}")).send().await.unwrap();
    // A malformed verifier is refused without burning the code.
    let second = login().await;
    issued.push(second.clone());
    let refused = exchange(second, ECITIZEN_SECRET, "short").await;
    assert_eq!(refused["error"], "invalid_grant");
    let third = login().await;
    issued.push(third.clone());
    let basic = http
        .post(&token_url)
        .basic_auth("PesaSandboxEcitizenClient", Some(ECITIZEN_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", third.as_str()),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    issued.push(basic["access_token"].as_str().unwrap().to_owned());
    issued
}

/// Runs on the current thread so the scoped subscriber sees every task.
/// Returns the codes and tokens the eCitizen part issued.
async fn run_a_full_flow() -> Vec<String> {
    let config = Config::local()
        .with_world_toml("[daraja]\nstk_answer_delay_ms = 1\n[pesaflow]\nprompt_answer_delay_ms = 1\n")
        .unwrap();
    let sandbox = Sandbox::start(config).await.unwrap();
    let base = sandbox.base_url().to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token_url = format!("{base}/oauth/v1/generate?grant_type=client_credentials");
    let _ = http.get(&token_url).basic_auth("PesaSandboxConsumerKey", Some("wrong-secret")).send().await.unwrap();
    let token: Value = http
        .get(&token_url)
        .basic_auth("PesaSandboxConsumerKey", Some(CONSUMER_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let ts = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let password = STANDARD.encode(format!("174379{PASSKEY}{ts}"));
    let mut body = json!({
        "BusinessShortCode": "174379", "Password": password, "Timestamp": ts,
        "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": "254708374149",
        "PartyB": "174379", "PhoneNumber": "254708374149", "CallBackURL": "http://127.0.0.1:9/cb",
        "AccountReference": "ref", "TransactionDesc": "desc",
    });
    let push_url = format!("{base}/mpesa/stkpush/v1/processrequest");
    let ack: Value = http.post(&push_url).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
    body["Password"] = json!(STANDARD.encode(format!("174379{PASSKEY}x{ts}")));
    let _ = http.post(&push_url).bearer_auth(&token).json(&body).send().await.unwrap();
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    let _ = http
        .get(format!("{base}/__sandbox/callbacks/wait?checkout_request_id={checkout}&timeout_ms=5000"))
        .send()
        .await
        .unwrap();
    let _ = http.get(format!("{base}/__sandbox/credentials")).send().await.unwrap();
    vodafone_flow(&http, &base, &sandbox.credentials().vodafone.public_key).await;
    run_a_pesaflow_flow(&http, &base).await;
    let issued = ecitizen_flow(&base).await;
    sandbox.shutdown().await;
    issued
}

/// A Vodafone session and call, and a bearer with an unknown API key.
async fn vodafone_flow(http: &reqwest::Client, base: &str, public_key: &str) {
    let public = pesa_sandbox::crypto::spki::from_base64(public_key).unwrap();
    let bearer = |secret: &str| {
        pesa_sandbox::crypto::credential::encrypt(&public, secret.as_bytes(), &mut rand::rngs::OsRng).unwrap()
    };
    let session_url = format!("{base}/sandbox/ipg/v2/vodacomTZN/getSession/");
    let _ = http.get(&session_url).bearer_auth(bearer(VODAFONE_UNKNOWN_KEY)).send().await.unwrap();
    let session: Value =
        http.get(&session_url).bearer_auth(bearer(VODAFONE_APP_KEY)).send().await.unwrap().json().await.unwrap();
    let session_id = session["output_SessionID"].as_str().unwrap();
    let _ = http
        .post(format!("{base}/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"))
        .bearer_auth(bearer(session_id))
        .json(&json!({"input_Amount": "1"}))
        .send()
        .await
        .unwrap();
}

/// A Pesaflow token (right and wrong), a checkout signed with key and secret
/// swapped (refused, diagnosed), and a paid checkout with its notification.
async fn run_a_pesaflow_flow(http: &reqwest::Client, base: &str) {
    use hmac::{Hmac, Mac};
    let token_url = format!("{base}/api/oauth/generate/token");
    for secret in [PESAFLOW_SECRET, "wrong-secret"] {
        let _ = http.post(&token_url).json(&json!({ "key": PESAFLOW_KEY, "secret": secret })).send().await.unwrap();
    }
    let sign = |key: &str, tail: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(["1", "100", "1001", "1234", "KES", "REF-LOG", "Log", "Jane Doe", tail].concat().as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        STANDARD.encode(hex)
    };
    let checkout_url = format!("{base}/PaymentAPI/iframev2.1.php");
    for hash in [sign(PESAFLOW_SECRET, PESAFLOW_KEY), sign(PESAFLOW_KEY, PESAFLOW_SECRET)] {
        let body = json!({
            "apiClientID": "1", "serviceID": "1001", "billDesc": "Log", "currency": "KES", "billRefNumber": "REF-LOG",
            "clientMSISDN": "254708374149", "clientName": "Jane Doe", "clientIDNumber": "1234", "amountExpected": "100",
            "notificationURL": "http://127.0.0.1:9/ipn", "format": "json", "sendSTK": true, "secureHash": hash,
        });
        let _ = http.post(&checkout_url).json(&body).send().await.unwrap();
    }
    let _ =
        http.get(format!("{base}/__sandbox/callbacks/wait?kind=notification&timeout_ms=5000")).send().await.unwrap();
}
