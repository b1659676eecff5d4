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

/// An app of its own and a virtual clock, so results arrive when the test says.
async fn money_client(key: &str, extra_world: &str) -> (crate::helpers::TestApp, Mpesa<Sandbox>) {
    let world = format!(
        "[[apps]]\nname = \"mpesa crate\"\nconsumer_key = \"{key}\"\nconsumer_secret = \"{key}-secret\"\n{extra_world}\n{}",
        crate::daraja::money::MONEY_WORLD
    );
    let app = crate::helpers::spawn_virtual(&world).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let env = Sandbox { base_url: app.base.clone(), certificate: app.creds.daraja.certificate_pem.clone() };
    let client = Mpesa::new(key, &format!("{key}-secret"), env);
    // The crate encrypts this password with the sandbox certificate, as it would with Safaricom's.
    client.set_initiator_password("Safaricom999!*!");
    (app, client)
}

async fn result_of(app: &crate::helpers::TestApp, conversation_id: &str) -> serde_json::Value {
    app.advance_ms(20).await;
    let attempts = app.attempts_by(conversation_id).await;
    attempts.last().expect("a result was delivered")["body"]["Result"].clone()
}

#[tokio::test]
async fn the_mpesa_crate_moves_money_and_its_credentials_decrypt_with_the_sandbox_key() {
    let key = "mpesa-crate-money";
    let (app, client) = money_client(key, "").await;
    let result_url = format!("{}/result", app.receiver.uri());
    let timeout_url = format!("{}/timeout", app.receiver.uri());

    let b2c = client
        .b2c("testapi")
        .party_a("600999")
        .party_b("254708374149")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .amount(1500)
        .command_id(mpesa::CommandId::BusinessPayment)
        .send()
        .await
        .expect("B2C (v1, as the crate sends it) is accepted");
    let result = result_of(&app, &b2c.conversation_id).await;
    assert_eq!(result["ResultCode"], json!(0), "the crate's credential decrypted to the password: {result}");
    let b2c_receipt = result["TransactionID"].as_str().unwrap().to_owned();
    assert_eq!(app.balance_of_msisdn("254708374149").await, "501500.00");

    let b2b = client
        .b2b("testapi")
        .party_a("600000")
        .party_b("600984")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .account_ref("INV-77")
        .command_id(mpesa::CommandId::BusinessPayBill)
        .amount(300)
        .send()
        .await
        .expect("B2B is accepted");
    let result = result_of(&app, &b2b.conversation_id).await;
    assert_eq!(result["ResultCode"], "0", "{result}");

    // A customer pays; the business reverses it.
    let express = client
        .express_request("174379")
        .phone_number("254722000000")
        .amount(80)
        .callback_url(&format!("{}/stk", app.receiver.uri()))
        .account_ref("ORDER-1")
        .send()
        .await
        .expect("M-Pesa Express is accepted");
    app.advance_ms(20).await;
    let (_, txs) = app.admin_get(&format!("/transactions?id={}", express.checkout_request_id)).await;
    let receipt = txs["transactions"][0]["receipt"].as_str().unwrap().to_owned();
    assert_eq!(app.balance_of_msisdn("254722000000").await, "99920.00");
    let reversal = client
        .transaction_reversal("testapi")
        .transaction_id(&receipt)
        .amount(80.0)
        .receiver_party("174379")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("reversal is accepted (the crate spells RecieverIdentifierType as the contract does)");
    let result = result_of(&app, &reversal.conversation_id).await;
    assert_eq!(result["ResultCode"], json!(0), "{result}");
    assert_eq!(app.balance_of_msisdn("254722000000").await, "100000.00");

    let status = client
        .transaction_status("testapi")
        .transaction_id(&b2c_receipt)
        .party_a("600999")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("transaction status is accepted");
    let result = result_of(&app, &status.conversation_id).await;
    assert_eq!(result["ResultCode"], json!(0), "{result}");

    let balance = client
        .account_balance("testapi")
        .party_a("600999")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("account balance is accepted");
    let result = result_of(&app, &balance.conversation_id).await;
    let params = result["ResultParameters"]["ResultParameter"].as_array().unwrap().clone();
    let accounts = params.iter().find(|p| p["Key"] == "AccountBalance").unwrap()["Value"].as_str().unwrap().to_owned();
    assert!(accounts.contains("Utility Account|KES|4998500.00|"), "{accounts}");
}

#[tokio::test]
async fn the_mpesa_crate_registers_and_simulates_c2b_once_its_key_spelling_is_served() {
    let key = "mpesa-crate-c2b";
    let (app, client) = money_client(key, "").await;
    // The crate expects OriginatorConverstionID (register) and OriginatorConversationID
    // (simulate); the real API sends OriginatorCoversationID, which the crate cannot read.
    let (status, _) = app
        .admin_post(
            "/scenarios",
            &json!({ "documents": [
                "[[rules]]\nwhen = { operation = \"c2b_register\" }\nvariants = { originator_key = \"OriginatorConverstionID\" }\n[[rules]]\nwhen = { operation = \"c2b_simulate\" }\nvariants = { originator_key = \"OriginatorConversationID\" }\n"
            ] }),
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    let confirmation = format!("{}/c2b/confirm", app.receiver.uri());
    let validation = format!("{}/c2b/validate", app.receiver.uri());
    let registered = client
        .c2b_register()
        .short_code("600984")
        .confirmation_url(&confirmation)
        .validation_url(&validation)
        .send()
        .await
        .expect("C2B register is accepted");
    assert_eq!(registered.response_code, "0");
    let simulated = client
        .c2b_simulate()
        .short_code("600984")
        .msisdn("254708374149")
        .amount(55)
        .bill_ref_number("ACC-1")
        .send()
        .await
        .expect("C2B simulate is accepted");
    assert_eq!(simulated.response_code, "0");
    app.advance_ms(20).await;
    let (_, journal) = app.admin_get("/callbacks?kind=c2b_confirmation").await;
    let confirmation = &journal["callbacks"][0]["body"];
    assert_eq!(confirmation["TransAmount"], "55.00");
    assert_eq!(confirmation["BillRefNumber"], "ACC-1");
}

/// Issue 03's done-when: a full day of a paybill's life, driven by the
/// unmodified `mpesa` crate, and every number adds up.
#[tokio::test]
async fn a_day_in_the_life_of_a_paybill_adds_up() {
    let key = "mpesa-crate-day";
    let paybill = "[[shortcodes]]\nnumber = \"600984\"\nkind = \"paybill\"\nname = \"Mama Mboga Ltd\"\npasskey = \"d4y0fap4yb1ll\"\nbalance = 250000\nworking_balance = 100000\n";
    let (app, client) = money_client(key, paybill).await;
    app.admin_post("/scenarios", &json!({ "documents": [
        "[[rules]]\nwhen = { operation = \"c2b_register\" }\nvariants = { originator_key = \"OriginatorConverstionID\" }\n[[rules]]\nwhen = { operation = \"c2b_simulate\" }\nvariants = { originator_key = \"OriginatorConversationID\" }\n"
    ] })).await;
    let result_url = format!("{}/result", app.receiver.uri());
    let timeout_url = format!("{}/timeout", app.receiver.uri());
    client
        .c2b_register()
        .short_code("600984")
        .confirmation_url(&format!("{}/c2b/confirm", app.receiver.uri()))
        .validation_url(&format!("{}/c2b/validate", app.receiver.uri()))
        .send()
        .await
        .expect("URLs registered");

    // Morning: customers pay, by prompt, by paybill and from the phone.
    let customers = ["254701000001", "254701000002", "254701000003", "254701000004"];
    client
        .express_request("600984")
        .phone_number(customers[0])
        .amount(1000)
        .pass_key("d4y0fap4yb1ll")
        .callback_url(&format!("{}/stk", app.receiver.uri()))
        .account_ref("ORDER-1")
        .send()
        .await
        .expect("prompt sent");
    client
        .c2b_simulate()
        .short_code("600984")
        .msisdn(customers[1])
        .amount(2500)
        .bill_ref_number("ORDER-2")
        .send()
        .await
        .expect("paid");
    app.admin_post(
        "/c2b/pay",
        &json!({ "shortcode": "600984", "msisdn": customers[2], "amount": 700, "bill_ref_number": "ORDER-3" }),
    )
    .await;
    app.advance_ms(20).await;
    let (_, confirmations) = app.admin_get("/callbacks?kind=c2b_confirmation").await;
    assert_eq!(confirmations["callbacks"].as_array().unwrap().len(), 2, "both C2B payments confirmed");

    // Noon: the business pays a supplier's rider and refunds one order.
    let b2c = client
        .b2c("testapi")
        .party_a("600984")
        .party_b(customers[3])
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .amount(1200)
        .command_id(mpesa::CommandId::BusinessPayment)
        .send()
        .await
        .expect("payout accepted");
    let payout = result_of(&app, &b2c.conversation_id).await;
    assert_eq!(payout["ResultCode"], json!(0), "{payout}");
    let refunded = confirmations["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["body"]["BillRefNumber"] == "ORDER-2")
        .unwrap()["body"]["TransID"]
        .as_str()
        .unwrap()
        .to_owned();
    let reversal = client
        .transaction_reversal("testapi")
        .transaction_id(&refunded)
        .amount(2500.0)
        .receiver_party("600984")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("reversal accepted");
    assert_eq!(result_of(&app, &reversal.conversation_id).await["ResultCode"], json!(0));

    // Evening: status, balance and the statement agree with each other.
    let status = client
        .transaction_status("testapi")
        .transaction_id(payout["TransactionID"].as_str().unwrap())
        .party_a("600984")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("status accepted");
    let status = result_of(&app, &status.conversation_id).await;
    let params = status["ResultParameters"]["ResultParameter"].as_array().unwrap().clone();
    assert!(params.iter().any(|p| p["Key"] == "TransactionStatus" && p["Value"] == "Completed"));
    let balance = client
        .account_balance("testapi")
        .party_a("600984")
        .result_url(&result_url)
        .timeout_url(&timeout_url)
        .send()
        .await
        .expect("balance accepted");
    let balance = result_of(&app, &balance.conversation_id).await;
    let accounts = crate::daraja::money::param(&balance, "AccountBalance").as_str().unwrap().to_owned();
    // 250,000 + 1,000 + 2,500 + 700 - 1,200 - 2,500 refunded.
    assert!(accounts.contains("Utility Account|KES|250500.00|250500.00|0.00|0.00"), "{accounts}");
    assert_eq!(app.balance_of_msisdn(customers[0]).await, "99000.00");
    assert_eq!(app.balance_of_msisdn(customers[1]).await, "100000.00", "refunded");
    assert_eq!(app.balance_of_msisdn(customers[2]).await, "99300.00");
    assert_eq!(app.balance_of_msisdn(customers[3]).await, "101200.00");

    let csv = app.http.get(app.url("/__sandbox/statements/600984")).send().await.unwrap().text().await.unwrap();
    assert!(csv
        .starts_with("Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Other Party\n"));
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 5, "three payments in, a payout and a refund out:\n{csv}");
    assert_eq!(rows[0][6], "250500.00", "the newest balance is the ledger's");
    let cents = |s: &str| if s.is_empty() { 0 } else { s.replace('.', "").parse::<i64>().unwrap() };
    let net: i64 = rows.iter().map(|r| cents(&r[4]) + cents(&r[5])).sum();
    assert_eq!(net, 50_000, "the statement's movements add up to the day's KES 500");
}
