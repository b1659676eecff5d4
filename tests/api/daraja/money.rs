//! Money movement: operators and SecurityCredentials, B2C, B2B, tax,
//! reversal, transaction status, account balance. Virtual clocks make every
//! result arrive exactly when the test moves time.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::assert_daraja_error;
use crate::helpers::{spawn_virtual, TestApp};

pub const MONEY_WORLD: &str = "[daraja]\nstk_answer_delay_ms = 20\nresult_delay_ms = 20\n";

/// A SecurityCredential exactly as a client makes it: PKCS#1 v1.5 over the
/// raw password, to the sandbox's published certificate.
pub fn credential(password: &str) -> String {
    let public =
        pesa_sandbox::crypto::keys::public_key_from_certificate(pesa_sandbox::daraja::keys::CERTIFICATE_PEM).unwrap();
    pesa_sandbox::crypto::credential::encrypt(&public, password.as_bytes(), &mut rand::rngs::OsRng).unwrap()
}

pub const PASSWORD: &str = "Safaricom999!*!";

pub async fn money_app(extra_world: &str) -> TestApp {
    // Settings for `[daraja]` join the money world's own table.
    let world = match extra_world.strip_prefix("[daraja]\n") {
        Some(keys) => format!("{MONEY_WORLD}{keys}"),
        None => format!("{extra_world}\n{MONEY_WORLD}"),
    };
    let app = spawn_virtual(&world).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    app
}

pub fn b2c_body(app: &TestApp, initiator: &str, security_credential: &str, amount: i64) -> Value {
    json!({
        "InitiatorName": initiator,
        "SecurityCredential": security_credential,
        "CommandID": "BusinessPayment",
        "Amount": amount,
        "PartyA": "600999",
        "PartyB": "254708374149",
        "Remarks": "Salary",
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
        "ResultURL": format!("{}/result", app.receiver.uri()),
        "Occassion": "November",
    })
}

/// Posts, checks the acknowledgement, moves the clock, returns the result.
pub async fn call(app: &TestApp, path: &str, body: &Value) -> (Value, Value) {
    let token = app.token().await;
    let (status, ack) = app.post_json(path, &token, body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["ResponseCode"], "0");
    assert_eq!(ack["ResponseDescription"], "Accept the service request successfully.");
    let conversation = ack["ConversationID"].as_str().unwrap().to_owned();
    assert!(conversation.starts_with("AG_"), "{conversation}");
    app.advance_ms(20).await;
    let attempts = app.attempts_by(&conversation).await;
    let result = attempts.last().cloned().unwrap_or(Value::Null)["body"]["Result"].clone();
    (ack, result)
}

pub fn param<'a>(result: &'a Value, key: &str) -> &'a Value {
    let params = &result["ResultParameters"]["ResultParameter"];
    let list = match params {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        one => vec![one],
    };
    list.into_iter().find(|p| p["Key"] == key).map(|p| &p["Value"]).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn b2c_pays_the_customer_and_reports_balances_after_the_payment() {
    let app = money_app("").await;
    let (ack, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 1500)).await;
    assert_eq!(result["ResultType"], json!(0));
    assert_eq!(result["ResultCode"], json!(0));
    assert_eq!(result["ResultDesc"], "The service request is processed successfully.");
    assert_eq!(result["ConversationID"], ack["ConversationID"]);
    assert_eq!(result["OriginatorConversationID"], ack["OriginatorConversationID"]);
    let receipt = result["TransactionID"].as_str().unwrap();
    assert_eq!(param(&result, "TransactionReceipt"), receipt);
    assert_eq!(param(&result, "TransactionAmount"), &json!(1500));
    assert_eq!(param(&result, "ReceiverPartyPublicName"), "254708374149 - JOHN KAMAU DOE");
    assert_eq!(param(&result, "B2CUtilityAccountAvailableFunds"), &json!(4_998_500.0));
    assert_eq!(param(&result, "B2CRecipientIsRegisteredCustomer"), "Y");
    assert_eq!(result["ReferenceData"]["ReferenceItem"]["Key"], "QueueTimeoutURL");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "501500.00");
    assert_eq!(app.balance_of_shortcode("600999").await, "4998500.00");
}

#[tokio::test]
async fn b2c_v3_echoes_the_client_originator_id_and_refuses_a_duplicate() {
    let app = money_app("").await;
    let mut body = b2c_body(&app, "testapi", &credential(PASSWORD), 100);
    body["OriginatorConversationID"] = json!("600999_Test_32et3241ed8yu");
    let (ack, result) = call(&app, "/mpesa/b2c/v3/paymentrequest", &body).await;
    assert_eq!(ack["OriginatorConversationID"], "600999_Test_32et3241ed8yu");
    assert_eq!(result["OriginatorConversationID"], "600999_Test_32et3241ed8yu");
    let token = app.token().await;
    let (status, err) = app.post_json("/mpesa/b2c/v3/paymentrequest", &token, &body).await;
    assert_daraja_error(status, &err, 500, "500.002.1001", "Duplicate OriginatorConversationID.");
}

#[tokio::test]
async fn wrong_credentials_are_accepted_then_fail_with_2001_and_a_diagnosis() {
    // Strict: every credential must decrypt to the password (the default
    // accepts ciphertexts made for Safaricom's certificate).
    let app = money_app("[daraja]\nsecurity_credential = \"strict\"\n").await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    let foreign = {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        pesa_sandbox::crypto::credential::encrypt(
            &rsa::RsaPublicKey::from(&key),
            PASSWORD.as_bytes(),
            &mut rand::rngs::OsRng,
        )
        .unwrap()
    };
    let cases = [
        (credential("WrongPassword1!"), "not the initiator's"),
        (credential(&b64), "base64 of the initiator password"),
        (credential(&format!("{PASSWORD}20240101120000")), "timestamp appended"),
        (foreign, "another certificate"),
        ("not base64 at all!".to_owned(), "not base64"),
    ];
    for (security_credential, diagnosis) in cases {
        let token = app.token().await;
        let res = app
            .http
            .post(app.url("/mpesa/b2c/v1/paymentrequest"))
            .bearer_auth(&token)
            .json(&b2c_body(&app, "testapi", &security_credential, 100))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "a wrong credential is not a synchronous error");
        let header = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
        assert!(header.contains(diagnosis), "{diagnosis:?} not in {header:?}");
        assert!(!header.contains(PASSWORD));
        let ack: Value = res.json().await.unwrap();
        app.advance_ms(20).await;
        let attempts = app.attempts_by(ack["ConversationID"].as_str().unwrap()).await;
        let result = &attempts[0]["body"]["Result"];
        assert_eq!(result["ResultCode"], json!(2001));
        assert_eq!(result["ResultDesc"], "The initiator information is invalid.");
        assert!(result.get("ResultParameters").is_none());
    }
    let (_, journal) = app.admin_get("/requests").await;
    let diagnosed = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["diagnosis"].as_str().is_some_and(|d| d.contains("2001")));
    assert_eq!(diagnosed.count(), 5, "the journal keeps each diagnosis");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "500000.00");
}

#[tokio::test]
async fn lenient_mode_accepts_ciphertexts_made_for_another_certificate() {
    let app = money_app("[daraja]\nsecurity_credential = \"lenient\"\n").await;
    let foreign = base64::engine::general_purpose::STANDARD.encode([7u8; 256]);
    let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &foreign, 100)).await;
    assert_eq!(result["ResultCode"], json!(0));
}

#[tokio::test]
async fn operators_are_held_to_their_kind_roles_status_and_lockout() {
    let app = money_app("[daraja]\nlockout_after_failures = 2\n").await;
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "auditor", &credential("Audit#2026"), 100)).await;
    assert_eq!(result["ResultCode"], json!(21), "auditor lacks the B2C role");
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "portaluser", &credential("Portal#2026"), 100))
            .await;
    assert_eq!(result["ResultCode"], json!(2001), "a web operator's expired password");
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "nobody", &credential(PASSWORD), 100)).await;
    assert_eq!(result["ResultCode"], json!(2001), "unknown initiator");

    for _ in 0..2 {
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential("Wrong#Pass1"), 100)).await;
    }
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
    assert_eq!(result["ResultCode"], json!(8006), "locked after two failures");
    assert_eq!(result["ResultDesc"], "The security credential is locked.");

    let (status, _) = app.admin_post("/operators/testapi/status", &json!({ "status": "active" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
    assert_eq!(result["ResultCode"], json!(0), "unlocked");
    app.admin_post("/operators/testapi/status", &json!({ "status": "disabled" })).await;
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
    assert_eq!(result["ResultCode"], json!(2001), "disabled");
}

#[tokio::test]
async fn rotating_a_password_changes_which_credential_works() {
    let app = money_app("").await;
    let (status, err) = app.admin_post("/operators/testapi/password", &json!({ "password": "weak@pass1A" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "weak_password");
    assert!(err["error"]["message"].as_str().unwrap().contains("other than '@'"));
    let (status, _) = app.admin_post("/operators/testapi/password", &json!({ "password": "N3w#Password" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
    assert_eq!(result["ResultCode"], json!(2001));
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential("N3w#Password"), 100)).await;
    assert_eq!(result["ResultCode"], json!(0));
    let (_, creds) = app.admin_get("/credentials").await;
    let testapi =
        creds["daraja"]["initiators"].as_array().unwrap().iter().find(|i| i["name"] == "testapi").unwrap().clone();
    assert_eq!(testapi["password"], "N3w#Password");

    let (status, created) = app
        .admin_post(
            "/operators",
            &json!({ "name": "payouts", "password": "Pay#Outs2026", "roles": ["b2c"], "shortcodes": ["600999"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "payouts", &credential("Pay#Outs2026"), 100)).await;
    assert_eq!(result["ResultCode"], json!(0));
}

#[tokio::test]
async fn rotating_consumer_secrets_and_passkeys_takes_effect_at_once() {
    let app = money_app("").await;
    let key = app.creds.daraja.consumer_key.clone();
    let (status, rotated) = app.admin_post(&format!("/apps/{key}/secret"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&key, Some(&app.creds.daraja.consumer_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the old secret is refused");
    let res = app
        .http
        .get(app.url("/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&key, rotated["consumer_secret"].as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token: Value = res.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    let (_, rotated) = app.admin_post("/shortcodes/174379/passkey", &json!({})).await;
    let (status, err) =
        app.post_json("/mpesa/stkpush/v1/processrequest", &token, &app.stk_body("254708374149", 1)).await;
    assert_daraja_error(status, &err, 500, "500.001.1001", "Wrong credentials");
    let ts = crate::daraja::timestamp_now();
    let mut body = app.stk_body("254708374149", 1);
    body["Password"] = json!(crate::daraja::lnm_password("174379", rotated["passkey"].as_str().unwrap(), &ts));
    body["Timestamp"] = json!(ts);
    let (status, _) = app.post_json("/mpesa/stkpush/v1/processrequest", &token, &body).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn b2c_limits_funds_and_tills_fail_in_the_result() {
    let app = money_app("[[shortcodes]]\nnumber = \"600111\"\nkind = \"b2c\"\nbalance = 50\n[[initiators]]\nname = \"testapi\"\npassword = \"Safaricom999!*!\"\nshortcodes = [\"600111\", \"600999\", \"500200\"]\n").await;
    let cases = [(5, "600999", 2), (300_000, "600999", 3), (100, "600111", 1), (100, "500200", 11)];
    for (amount, party_a, code) in cases {
        let mut body = b2c_body(&app, "testapi", &credential(PASSWORD), amount);
        body["PartyA"] = json!(party_a);
        let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &body).await;
        assert_eq!(result["ResultCode"], json!(code), "{amount} from {party_a}");
    }
    assert_eq!(app.balance_of_shortcode("600111").await, "50.00");
}

#[tokio::test]
async fn every_field_rule_of_the_result_apis_is_answered_synchronously() {
    let app = money_app("").await;
    let token = app.token().await;
    let base = b2c_body(&app, "testapi", &credential(PASSWORD), 100);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "CommandID": "BusinessPayment" }), "InitiatorName"),
        (with(&base, "CommandID", json!("PayEveryone")), "CommandID"),
        (with(&base, "Amount", json!("lots")), "Amount"),
        (with(&base, "PartyA", json!("abc")), "PartyA"),
        (with(&base, "PartyB", json!("0708374149")), "PartyB"),
        (with(&base, "Remarks", json!("x")), "Remarks"),
        (with(&base, "ResultURL", json!("nope")), "ResultURL"),
        (with(&base, "QueueTimeOutURL", json!("ftp://x")), "QueueTimeOutURL"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post_json("/mpesa/b2c/v1/paymentrequest", &token, &body).await;
        assert_daraja_error(status, &err, 400, "400.002.02", &format!("Bad Request - Invalid {field}"));
    }
    // Both spellings of Occasion, and unknown fields, are accepted.
    let mut body = with(&base, "Occasion", json!("x"));
    body.as_object_mut().unwrap().remove("Occassion");
    body["Extra"] = json!([1, 2]);
    let (status, _) = app.post_json("/mpesa/b2c/v1/paymentrequest", &token, &body).await;
    assert_eq!(status, StatusCode::OK);
}

pub fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

pub fn b2b_body(app: &TestApp, command: &str, party_b: &str, amount: i64) -> Value {
    json!({
        "Initiator": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": command,
        "SenderIdentifierType": "4",
        "RecieverIdentifierType": 4,
        "Amount": amount,
        "PartyA": "600000",
        "PartyB": party_b,
        "AccountReference": "INV-778",
        "Requester": "254700000000",
        "Remarks": "OK",
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
        "ResultURL": format!("{}/result", app.receiver.uri()),
        "Occassion": "",
    })
}

#[tokio::test]
async fn b2b_moves_working_funds_to_the_receiver_and_answers_with_string_codes() {
    let app = money_app("").await;
    let (_, result) =
        call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, "BusinessPayBill", "600984", 190)).await;
    assert_eq!(result["ResultCode"], "0");
    assert_eq!(result["ResultType"], "0");
    assert_eq!(param(&result, "Amount"), "190.00");
    assert_eq!(param(&result, "ReceiverPartyPublicName"), "600984 - Safaricom Daraja 984");
    assert_eq!(param(&result, "DebitPartyAffectedAccountBalance"), "Working Account|KES|499810.00|499810.00|0.00|0.00");
    assert_eq!(
        param(&result, "DebitAccountBalance"),
        "{Amount={CurrencyCode=KES, MinimumAmount=49981000, BasicAmount=499810.00}}"
    );
    let reference = result["ReferenceData"]["ReferenceItem"].as_array().unwrap();
    assert_eq!(reference[0], json!({ "Key": "BillReferenceNumber", "Value": "INV-778" }));
    assert_eq!(reference.last().unwrap(), &json!({ "Key": "Occassion" }), "the value-less Occassion item");

    let (_, accounts) = app.admin_get("/accounts?shortcode=600984").await;
    let utility =
        accounts["accounts"].as_array().unwrap().iter().find(|a| a["account"] == "Utility Account").unwrap().clone();
    assert_eq!(utility["balance"], "250190.00");

    let (_, goods) =
        call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, "BusinessBuyGoods", "500200", 50)).await;
    assert_eq!(goods["ResultCode"], "0");
    let (_, top_up) =
        call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, "BusinessPayToBulk", "600999", 1000)).await;
    assert_eq!(top_up["ResultCode"], "0");
    assert_eq!(app.balance_of_shortcode("600999").await, "5001000.00");
    let mut tax = b2b_body(&app, "PayTaxToKRA", "572572", 300);
    tax["AccountReference"] = json!("PRN1234567");
    let (_, tax) = call(&app, "/mpesa/b2b/v1/remittax", &tax).await;
    assert_eq!(tax["ResultCode"], "0");
    assert_eq!(app.balance_of_shortcode("572572").await, "300.00");
    let (_, wrong) = call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, "BusinessPayBill", "500200", 50)).await;
    assert_eq!(wrong["ResultCode"], json!(2028), "a till is not a paybill, and failures have numeric codes");

    let token = app.token().await;
    let mut misspelt_right = b2b_body(&app, "BusinessPayBill", "600984", 1);
    misspelt_right.as_object_mut().unwrap().remove("RecieverIdentifierType");
    misspelt_right["ReceiverIdentifierType"] = json!("4");
    let (status, err) = app.post_json("/mpesa/b2b/v1/paymentrequest", &token, &misspelt_right).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid RecieverIdentifierType");
}

#[tokio::test]
async fn reversal_returns_a_payment_once_and_never_a_b2c() {
    let app = money_app("").await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 700)).await;
    app.advance_ms(20).await;
    let (_, txs) = app.admin_get(&format!("/transactions?id={}", ack["CheckoutRequestID"].as_str().unwrap())).await;
    let receipt = txs["transactions"][0]["receipt"].as_str().unwrap().to_owned();
    assert_eq!(app.balance_of_msisdn("254708374149").await, "499300.00");
    let reversal = |transaction: &str, receiver: &str| {
        json!({
            "Initiator": "testapi",
            "SecurityCredential": credential(PASSWORD),
            "CommandID": "TransactionReversal",
            "TransactionID": transaction,
            "Amount": 700,
            "ReceiverParty": receiver,
            "RecieverIdentifierType": "11",
            "ResultURL": format!("{}/result", app.receiver.uri()),
            "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
            "Remarks": "Customer asked",
        })
    };
    let (_, wrong_receiver) = call(&app, "/mpesa/reversal/v1/request", &reversal(&receipt, "600000")).await;
    assert_eq!(wrong_receiver["ResultCode"], "R000002");
    let (_, result) = call(&app, "/mpesa/reversal/v1/request", &reversal(&receipt, "174379")).await;
    assert_eq!(result["ResultCode"], json!(0));
    assert_eq!(param(&result, "OriginalTransactionID"), receipt.as_str());
    assert_eq!(param(&result, "CreditPartyPublicName"), "254708374149 - JOHN KAMAU DOE");
    assert_eq!(app.balance_of_msisdn("254708374149").await, "500000.00");
    assert_eq!(app.balance_of_shortcode("174379").await, "1000000.00");
    let (_, again) = call(&app, "/mpesa/reversal/v1/request", &reversal(&receipt, "174379")).await;
    assert_eq!(again["ResultCode"], "R000001");
    assert_eq!(again["ResultDesc"], "The transaction has already been reversed.");
    let (_, unknown) = call(&app, "/mpesa/reversal/v1/request", &reversal("NOPE000000", "174379")).await;
    assert_eq!(unknown["ResultCode"], "R000002");
    assert_eq!(unknown["ResultDesc"], "The OriginalTransactionID is invalid.");

    let (_, b2c) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 700)).await;
    let b2c_receipt = b2c["TransactionID"].as_str().unwrap();
    let (_, refused) = call(&app, "/mpesa/reversal/v1/request", &reversal(b2c_receipt, "600999")).await;
    assert_eq!(refused["ResultCode"], json!(2028), "B2C is not reversible");
}

pub fn status_body(app: &TestApp, transaction_id: Option<&str>, original_conversation_id: Option<&str>) -> Value {
    let mut body = json!({
        "Initiator": "auditor",
        "SecurityCredential": credential("Audit#2026"),
        "CommandID": "TransactionStatusQuery",
        "PartyA": "600999",
        "IdentifierType": "4",
        "ResultURL": format!("{}/result", app.receiver.uri()),
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
        "Remarks": "OK",
        "Occasion": "audit",
    });
    if let Some(id) = transaction_id {
        body["TransactionID"] = json!(id);
    }
    if let Some(id) = original_conversation_id {
        body["OriginalConversationID"] = json!(id);
    }
    body
}

#[tokio::test]
async fn transaction_status_reflects_the_records_and_balance_reflects_the_ledger() {
    let app = money_app("").await;
    let (ack, b2c) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 250)).await;
    let receipt = b2c["TransactionID"].as_str().unwrap().to_owned();
    let (_, status) = call(&app, "/mpesa/transactionstatus/v1/query", &status_body(&app, Some(&receipt), None)).await;
    assert_eq!(status["ResultCode"], json!(0));
    assert_eq!(param(&status, "ReceiptNo"), receipt.as_str());
    assert_eq!(param(&status, "TransactionStatus"), "Completed");
    assert_eq!(param(&status, "Amount"), &json!(250));
    assert_eq!(param(&status, "DebitPartyName"), "600999 - Safaricom Daraja 999");
    assert_eq!(param(&status, "CreditPartyName"), "254708374149 - JOHN KAMAU DOE");
    assert_eq!(param(&status, "ReasonType"), "Business Payment to Customer via API");
    assert!(param(&status, "TransactionReason").is_null());
    assert_eq!(status["ReferenceData"]["ReferenceItem"], json!({ "Key": "Occasion", "Value": "audit" }));

    let by_conversation = ack["OriginatorConversationID"].as_str().unwrap();
    let (_, status) =
        call(&app, "/mpesa/transactionstatus/v1/query", &status_body(&app, None, Some(by_conversation))).await;
    assert_eq!(param(&status, "ReceiptNo"), receipt.as_str());
    let (_, unknown) =
        call(&app, "/mpesa/transactionstatus/v1/query", &status_body(&app, Some("ZZZ0000000"), None)).await;
    assert_eq!(unknown["ResultCode"], json!(2032));
    assert_eq!(unknown["ResultDesc"], "The transaction receipt number does not exist.");

    let balance = json!({
        "Initiator": "auditor",
        "SecurityCredential": credential("Audit#2026"),
        "CommandID": "AccountBalance",
        "PartyA": "600999",
        "IdentifierType": "4",
        "Remarks": "ok",
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
        "ResultURL": format!("{}/result", app.receiver.uri()),
    });
    let (_, result) = call(&app, "/mpesa/accountbalance/v1/query", &balance).await;
    assert_eq!(result["ResultCode"], json!(0));
    assert_eq!(param(&result, "ActionType"), "AccountBalance");
    assert_eq!(
        param(&result, "AccountBalance"),
        "Working Account|KES|1000000.00|1000000.00|0.00|0.00&Float Account|KES|0.00|0.00|0.00|0.00&Utility Account|KES|4999750.00|4999750.00|0.00|0.00&Charges Paid Account|KES|0.00|0.00|0.00|0.00&Organization Settlement Account|KES|0.00|0.00|0.00|0.00"
    );
    assert_eq!(param(&result, "BOCompletedTime").as_u64().unwrap().to_string().len(), 14);
}

#[tokio::test]
async fn charges_are_paid_from_the_charges_account_and_money_is_conserved() {
    let app = money_app("[daraja.charges]\nb2c = 22.40\nb2b = 77\n").await;
    let total_before = total_money(&app).await;
    call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 1000)).await;
    call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, "BusinessPayBill", "600984", 500)).await;
    let (_, accounts) = app.admin_get("/accounts?shortcode=600999").await;
    let charges = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "Charges Paid Account")
        .unwrap()
        .clone();
    assert_eq!(charges["balance"], "-22.40");
    assert_eq!(total_money(&app).await, total_before);
}

pub async fn total_money(app: &TestApp) -> i64 {
    let (_, accounts) = app.admin_get("/accounts").await;
    accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = a["balance"].as_str().unwrap();
            let negative = text.starts_with('-');
            let cents = text.trim_start_matches('-').replace('.', "").parse::<i64>().unwrap();
            if negative {
                -cents
            } else {
                cents
            }
        })
        .sum()
}

#[tokio::test]
async fn a_queue_timeout_scenario_notifies_the_timeout_url_before_the_result() {
    let app = money_app("").await;
    app.admin_post("/scenarios", &json!({ "documents": ["[[rules]]\nwhen = { operation = \"b2c\" }\ncallback = { queue_timeout_first = true, delay_ms = 3000 }\n"] })).await;
    let token = app.token().await;
    let (_, ack) = app
        .post_json("/mpesa/b2c/v1/paymentrequest", &token, &b2c_body(&app, "testapi", &credential(PASSWORD), 100))
        .await;
    let conversation = ack["ConversationID"].as_str().unwrap();
    app.advance_ms(20).await;
    let attempts = app.attempts_by(conversation).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["kind"], "queue_timeout");
    assert!(attempts[0]["url"].as_str().unwrap().ends_with("/timeout"));
    assert_eq!(attempts[0]["body"]["Result"]["ResultType"], json!(1));
    app.advance_ms(3000).await;
    let attempts = app.attempts_by(conversation).await;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["kind"], "result");
    assert_eq!(attempts[1]["body"]["Result"]["ResultCode"], json!(0));
}
