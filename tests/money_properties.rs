//! Property: whatever sequence of payments, payouts, transfers and
//! reversals clients send, money is conserved and no balance goes negative
//! where M-Pesa forbids it (only charges-paid accounts may).
//! Each case drives a real sandbox over HTTP on a virtual clock.

use base64::Engine;
use pesa_sandbox::config::ClockMode;
use pesa_sandbox::{Config, Sandbox};
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Op {
    Stk { customer: usize, amount: i64 },
    C2b { customer: usize, amount: i64 },
    B2c { customer: usize, amount: i64 },
    B2b { amount: i64 },
    Reverse { pick: usize },
}

const CUSTOMERS: [&str; 3] = ["254708374149", "254722000000", "254711000009"];
const PASSWORD: &str = "Safaricom999!*!";

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1i64..300_000).prop_map(|(customer, amount)| Op::Stk { customer, amount }),
        (0..3usize, 1i64..300_000).prop_map(|(customer, amount)| Op::C2b { customer, amount }),
        (0..3usize, 1i64..300_000).prop_map(|(customer, amount)| Op::B2c { customer, amount }),
        (1i64..900_000).prop_map(|amount| Op::B2b { amount }),
        (0..8usize).prop_map(|pick| Op::Reverse { pick }),
    ]
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    credential: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> Value {
        let res =
            self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        res.json().await.unwrap_or(Value::Null)
    }

    async fn admin(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/__sandbox{path}", self.base);
        let req = match body {
            Some(b) => self.http.post(url).json(&b),
            None => self.http.get(url),
        };
        req.send().await.unwrap().json().await.unwrap()
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let world = "[daraja]\nstk_answer_delay_ms = 10\nresult_delay_ms = 10\ntimestamp_window_secs = 0\n[daraja.charges]\nb2c = 15\nb2b = 20\n";
    let config = Config::local()
        .with_seed(1)
        .with_world_toml(world)
        .unwrap()
        .with_clock(ClockMode::Virtual { start: chrono::Utc::now() });
    let sandbox = Sandbox::start(config).await.unwrap();
    let creds = sandbox.credentials();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token: Value = http
        .get(format!("{}/oauth/v1/generate?grant_type=client_credentials", sandbox.base_url()))
        .basic_auth(&creds.daraja.consumer_key, Some(&creds.daraja.consumer_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = pesa_sandbox::crypto::keys::public_key_from_certificate(&creds.daraja.certificate_pem).unwrap();
    let credential =
        pesa_sandbox::crypto::credential::encrypt(&public, PASSWORD.as_bytes(), &mut rand::rngs::OsRng).unwrap();
    let client = Client {
        http,
        base: sandbox.base_url().to_owned(),
        token: token["access_token"].as_str().unwrap().into(),
        credential,
    };
    // Nobody listens: callbacks fail, which changes nothing about the money.
    let sink = "http://127.0.0.1:9/sink";
    let total_before = total(&client).await;
    let requests = ops.iter().filter(|op| !matches!(op, Op::Reverse { .. })).count();
    for op in ops {
        match op {
            Op::Stk { customer, amount } => {
                let ts = "20300101000000";
                let password = base64::engine::general_purpose::STANDARD
                    .encode(format!("174379bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919{ts}"));
                client
                    .post(
                        "/mpesa/stkpush/v1/processrequest",
                        json!({
                            "BusinessShortCode": "174379", "Password": password, "Timestamp": ts,
                            "TransactionType": "CustomerPayBillOnline", "Amount": amount.min(250_000),
                            "PartyA": CUSTOMERS[customer], "PartyB": "174379", "PhoneNumber": CUSTOMERS[customer],
                            "CallBackURL": sink, "AccountReference": "P", "TransactionDesc": "P",
                        }),
                    )
                    .await;
            }
            Op::C2b { customer, amount } => {
                client
                    .admin(
                        "/c2b/pay",
                        Some(json!({ "shortcode": "600984", "msisdn": CUSTOMERS[customer], "amount": amount })),
                    )
                    .await;
            }
            Op::B2c { customer, amount } => {
                client.post("/mpesa/b2c/v1/paymentrequest", json!({
                    "InitiatorName": "testapi", "SecurityCredential": client.credential, "CommandID": "BusinessPayment",
                    "Amount": amount, "PartyA": "600999", "PartyB": CUSTOMERS[customer], "Remarks": "pay",
                    "QueueTimeOutURL": sink, "ResultURL": sink,
                })).await;
            }
            Op::B2b { amount } => {
                client.post("/mpesa/b2b/v1/paymentrequest", json!({
                    "Initiator": "testapi", "SecurityCredential": client.credential, "CommandID": "BusinessPayBill",
                    "SenderIdentifierType": "4", "RecieverIdentifierType": "4", "Amount": amount,
                    "PartyA": "600000", "PartyB": "600984", "AccountReference": "B", "Remarks": "pay",
                    "QueueTimeOutURL": sink, "ResultURL": sink,
                })).await;
            }
            Op::Reverse { pick } => {
                let txs = client.admin("/transactions", None).await;
                let receipts: Vec<(String, String)> = txs["transactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t["receipt"].as_str()?.to_owned(),
                            t["business_short_code"].as_str().or(t["shortcode"].as_str())?.to_owned(),
                        ))
                    })
                    .collect();
                if let Some((receipt, receiver)) = receipts.get(pick % receipts.len().max(1)).cloned() {
                    client.post("/mpesa/reversal/v1/request", json!({
                        "Initiator": "testapi", "SecurityCredential": client.credential, "CommandID": "TransactionReversal",
                        "TransactionID": receipt, "ReceiverParty": receiver, "RecieverIdentifierType": "11",
                        "Amount": 1, "Remarks": "undo", "QueueTimeOutURL": sink, "ResultURL": sink,
                    })).await;
                }
            }
        }
        client.admin("/clock", Some(json!({ "advance_ms": 20 }))).await;
        prop_assert_eq!(total(&client).await, total_before, "money is conserved");
        let accounts = client.admin("/accounts", None).await;
        for account in accounts["accounts"].as_array().unwrap() {
            let negative = account["balance"].as_str().unwrap().starts_with('-');
            let may_be_negative =
                account["account"] == "Charges Paid Account" || account["account"] == "Outside M-Pesa";
            prop_assert!(!negative || may_be_negative, "{account} went negative");
        }
    }
    let txs = client.admin("/transactions", None).await;
    prop_assert!(txs["transactions"].as_array().unwrap().len() >= requests, "every request was accepted: {txs}");
    sandbox.shutdown().await;
    Ok(())
}

async fn total(client: &Client) -> i64 {
    let accounts = client.admin("/accounts", None).await;
    let mut sum = 0;
    for account in accounts["accounts"].as_array().unwrap() {
        let text = account["balance"].as_str().unwrap();
        let cents: i64 = text.trim_start_matches('-').replace('.', "").parse().unwrap();
        sum += if text.starts_with('-') { -cents } else { cents };
    }
    sum
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved_and_never_goes_negative_where_forbidden(ops in proptest::collection::vec(op(), 1..14)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
