//! What captured traffic says beyond the shapes: API products, the
//! gateway's transport, the rules integrators trip over, a default world
//! fit for client libraries' defaults, and the payload variants that keep
//! older captures reachable.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::daraja::assert_daraja_error;
use crate::daraja::money::{b2c_body, call, credential, money_app, param, MONEY_WORLD, PASSWORD};
use crate::helpers::{spawn, spawn_virtual, spawn_with, TestApp, FAST_WORLD};

const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

fn register_body(app: &TestApp, shortcode: &str, https: bool) -> Value {
    let base = if https { "https://merchant.example/c2b".to_owned() } else { format!("{}/c2b", app.receiver.uri()) };
    json!({
        "ShortCode": shortcode,
        "ResponseType": "Completed",
        "ConfirmationURL": format!("{base}/confirm"),
        "ValidationURL": format!("{base}/validate"),
    })
}

fn pull_register_body(app: &TestApp) -> Value {
    json!({ "ShortCode": "600000", "RequestType": "Pull", "NominatedNumber": "0722000000", "CallBackURL": format!("{}/pull", app.receiver.uri()) })
}

/// A SecurityCredential made with a certificate the sandbox does not hold,
/// as client libraries make them with Safaricom's bundled one.
fn foreign_credential(password: &str) -> String {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    pesa_sandbox::crypto::credential::encrypt(
        &rsa::RsaPublicKey::from(&key),
        password.as_bytes(),
        &mut rand::rngs::OsRng,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// API products

const NARROW_APPS: &str = r#"
[[apps]]
name = "Express only"
consumer_key = "express-only"
consumer_secret = "express-only-secret"
products = ["lipa_na_mpesa"]

[[apps]]
name = "Old portal app"
consumer_key = "old-app"
consumer_secret = "old-app-secret"
products = ["lipa_na_mpesa"]
product_error = "404.001.03"
"#;

#[tokio::test]
async fn an_api_outside_the_apps_products_is_refused_as_the_gateway_refuses_it() {
    let app = money_app(NARROW_APPS).await;
    let token = app.token_of("express-only", "express-only-secret").await;
    let b2c = b2c_body(&app, "testapi", &credential(PASSWORD), 100);
    let apiproduct = "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found";
    let (status, err) = app.post_json("/mpesa/b2c/v1/paymentrequest", &token, &b2c).await;
    assert_daraja_error(status, &err, 401, "401.003.01", apiproduct);
    let (status, err) = app.post_json("/mpesa/c2b/v2/registerurl", &token, &register_body(&app, "600984", false)).await;
    assert_daraja_error(status, &err, 401, "401.003.01", apiproduct);
    let (status, err) = app.post_json("/mpesa/qrcode/v1/generate", &token, &json!({})).await;
    assert_daraja_error(status, &err, 401, "401.003.01", apiproduct);
    let mut pochi = b2c.clone();
    pochi["CommandID"] = json!("BusinessPayToPochi");
    let (status, err) = app.post_json("/mpesa/b2pochi/v1/paymentrequest", &token, &pochi).await;
    assert_daraja_error(status, &err, 401, "401.002.01", "Error Occurred - Invalid Access Token - ");
    let (status, err) = app.post_json("/pulltransactions/v1/register", &token, &pull_register_body(&app)).await;
    assert_daraja_error(status, &err, 401, "401.001", "Error Occurred - Invalid Access Token - ");
    let (status, ack) =
        app.post_json("/mpesa/stkpush/v1/processrequest", &token, &app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "the app's own product works: {ack}");

    let old = app.token_of("old-app", "old-app-secret").await;
    let (status, err) = app.post_json("/mpesa/b2c/v1/paymentrequest", &old, &b2c).await;
    assert_daraja_error(status, &err, 404, "404.001.03", "Invalid Access Token");

    let (status, ack) = app.post_json("/mpesa/b2c/v1/paymentrequest", &app.token().await, &b2c).await;
    assert_eq!(status, StatusCode::OK, "the default app has every product: {ack}");
    let (_, creds) = app.admin_get("/credentials").await;
    let apps = creds["daraja"]["apps"].as_array().unwrap();
    let products = |key: &str| apps.iter().find(|a| a["consumer_key"] == key).unwrap()["products"].clone();
    assert_eq!(products("express-only"), json!(["lipa_na_mpesa"]));
    assert_eq!(
        products(&app.creds.daraja.consumer_key),
        json!(["lipa_na_mpesa", "mpesa", "b2pochi", "pull_transactions", "dynamic_qr", "c2b_v1", "c2b_v2"])
    );
}

#[tokio::test]
async fn a_push_meets_the_product_the_body_the_gate_and_the_fields_in_that_order() {
    let app = money_app("[[apps]]\nname = \"Payouts only\"\nconsumer_key = \"payouts\"\nconsumer_secret = \"payouts-secret\"\nproducts = [\"mpesa\"]\n").await;
    let push = "/mpesa/stkpush/v1/processrequest";
    let raw = |token: &str, body: &'static str| {
        app.http.post(app.url(push)).bearer_auth(token).header("content-type", "application/json").body(body).send()
    };
    let answer = |res: reqwest::Response| async move {
        let status = res.status();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let apiproduct = "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found";
    let payouts = app.token_of("payouts", "payouts-secret").await;
    let (status, err) = answer(raw(&payouts, "{").await.unwrap()).await;
    assert_daraja_error(status, &err, 401, "401.003.01", apiproduct);

    let token = app.token().await;
    app.put_scenario("[[rules]]\nwhen = { operation = \"stk_push\" }\nfault = { error = \"500.003.1001\", error_message = \"scripted\", status = 503 }\n").await;
    let (status, err) = answer(raw(&token, "{").await.unwrap()).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode");
    let (status, err) = answer(raw(&token, r#"{"Amount": "abc"}"#).await.unwrap()).await;
    assert_daraja_error(status, &err, 503, "500.003.1001", "scripted");

    app.put_scenario("").await;
    let (status, err) = answer(raw(&token, r#"{"Amount": "abc"}"#).await.unwrap()).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode");
    let (status, ack) = app.post_json(push, &token, &app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "a whole push is accepted: {ack}");
}

#[tokio::test]
async fn under_production_rules_c2b_v1_and_v2_are_products_of_their_own() {
    let apps = "[[apps]]\nname = \"Legacy C2B\"\nconsumer_key = \"legacy-c2b\"\nconsumer_secret = \"legacy-c2b-secret\"\nproducts = [\"mpesa\", \"c2b_v1\"]\n";
    let app = spawn_virtual(&format!("{apps}{MONEY_WORLD}production_rules = true\n")).await;
    let token = app.token().await;
    let (status, err) = app.post_json("/mpesa/c2b/v1/registerurl", &token, &register_body(&app, "600984", true)).await;
    assert_daraja_error(
        status,
        &err,
        401,
        "401.003.01",
        "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found",
    );
    let (status, ack) = app.post_json("/mpesa/c2b/v2/registerurl", &token, &register_body(&app, "600984", true)).await;
    assert_eq!(status, StatusCode::OK, "the portal issues C2B v2: {ack}");
    let legacy = app.token_of("legacy-c2b", "legacy-c2b-secret").await;
    let (status, _) = app.post_json("/mpesa/c2b/v2/registerurl", &legacy, &register_body(&app, "600000", true)).await;
    assert_eq!(status.as_u16(), 401, "an app holding C2B v1 only calls v1");
    let (status, ack) = app.post_json("/mpesa/c2b/v1/registerurl", &legacy, &register_body(&app, "600000", true)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
}

// ---------------------------------------------------------------------------
// Transport

#[tokio::test]
async fn answers_and_errors_carry_the_gateways_content_type() {
    let app = spawn().await;
    let res = app.token_response(&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret).await;
    assert_eq!(res.headers()["content-type"], CONTENT_TYPE);
    let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let push = app.url("/mpesa/stkpush/v1/processrequest");
    let res = app.http.post(&push).bearer_auth(&token).json(&app.stk_body("254708374149", 1)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], CONTENT_TYPE);
    let res = app.http.post(&push).bearer_auth("nope").json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["content-type"], CONTENT_TYPE);
}

#[tokio::test]
async fn a_404_says_resource_not_found_on_its_status_line_with_the_gateways_spacing() {
    let app = spawn().await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = "POST /mpesa/stkpush/v1/processrequest HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(crate::helpers::PATIENCE, socket.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 Resource not found\r\n"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert!(body.starts_with("{\n  \"requestId\":\""), "pretty, no space after requestId's colon: {body:?}");
    assert!(
        body.contains(",\n  \"errorCode\": \"404.001.03\",\n  \"errorMessage\": \"Invalid Access Token\"\n}"),
        "{body:?}"
    );
}

#[tokio::test]
async fn error_bodies_are_compact_for_bad_fields_and_everywhere_when_the_world_asks() {
    let app = spawn().await;
    let token = app.token().await;
    let push = app.url("/mpesa/stkpush/v1/processrequest");
    let mut bad = app.stk_body("254708374149", 1);
    bad["Amount"] = json!("ten");
    let text = app.http.post(&push).bearer_auth(&token).json(&bad).send().await.unwrap().text().await.unwrap();
    assert!(text.starts_with("{\"requestId\":\"") && !text.contains('\n'), "400s are compact: {text}");
    let mut wrong = app.stk_body("254708374149", 1);
    wrong["Password"] = json!("d3Jvbmc=");
    let text = app.http.post(&push).bearer_auth(&token).json(&wrong).send().await.unwrap().text().await.unwrap();
    assert!(text.starts_with("{\n  \"requestId\":"), "gateway errors are pretty: {text}");

    let compact = spawn_with(&format!("{FAST_WORLD}error_bodies = \"compact\"\n")).await;
    let token = compact.token().await;
    let url = compact.url("/mpesa/stkpush/v1/processrequest");
    let text = compact.http.post(&url).bearer_auth(&token).json(&wrong).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains('\n'), "{text}");
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["errorMessage"], "Wrong credentials");
}

#[tokio::test]
async fn an_empty_bucket_can_answer_with_the_500_003_02_envelope_instead_of_apigees_429() {
    let limit =
        "[[rate_limits]]\nprovider = \"daraja\"\noperation = \"oauth\"\ncapacity = 1\nrefill = 1\nperiod_ms = 60000\n";
    for (style, status) in [("apigee", 429), ("envelope", 500)] {
        let app = spawn_with(&format!("{limit}{FAST_WORLD}spike_arrest = \"{style}\"\n")).await;
        let (key, secret) = (&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret);
        assert_eq!(app.token_response(key, secret).await.status(), StatusCode::OK);
        let res = app.token_response(key, secret).await;
        assert_eq!(res.status().as_u16(), status, "{style}");
        let body: Value = res.json().await.unwrap();
        match style {
            "apigee" => assert_eq!(
                body["fault"]["faultstring"],
                "Spike arrest violation. Allowed rate : MessageRate{messagesPerPeriod=1, periodInMicroseconds=60000000, maxBurstMessageCount=1.0}"
            ),
            _ => assert_daraja_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &body,
                500,
                "500.003.02",
                "Error Occurred: Spike Arrest Violation",
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Rules integrators trip over

async fn push_and_settle(app: &TestApp, body: &Value) -> Value {
    let (status, ack) = app.stk_push(body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    app.advance_ms(20).await;
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    app.attempts(checkout).await.last().cloned().unwrap_or(Value::Null)["body"]["Body"]["stkCallback"].clone()
}

#[tokio::test]
async fn the_same_phone_partyb_and_amount_within_the_window_is_rule_limited() {
    let app = money_app("[daraja]\nstk_rule_limited_window_secs = 120\n").await;
    let first = push_and_settle(&app, &app.stk_body("254708374149", 10)).await;
    assert_eq!(first["ResultCode"], json!(0));
    let again = push_and_settle(&app, &app.stk_body("254708374149", 10)).await;
    assert_eq!(again["ResultCode"], json!(17), "{again}");
    assert_eq!(again["ResultDesc"], "Rule limited.");
    assert!(again.get("CallbackMetadata").is_none());
    let other_amount = push_and_settle(&app, &app.stk_body("254708374149", 11)).await;
    assert_eq!(other_amount["ResultCode"], json!(0));
    app.advance_ms(121_000).await;
    let later = push_and_settle(&app, &app.stk_body("254708374149", 10)).await;
    assert_eq!(later["ResultCode"], json!(0), "the window has passed");

    let off = money_app("").await;
    for _ in 0..2 {
        let paid = push_and_settle(&off, &off.stk_body("254708374149", 10)).await;
        assert_eq!(paid["ResultCode"], json!(0), "off by default: the shared sandbox is not seen applying it");
    }
}

#[tokio::test]
async fn a_long_account_reference_is_acknowledged_but_never_reaches_the_phone() {
    let app = money_app("").await;
    let mut long = app.stk_body("254708374149", 10);
    long["AccountReference"] = json!("THIRTEEN-CHAR");
    let (status, ack) = app.stk_push(&long).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    app.advance_ms(59_000).await;
    assert!(app.attempts(checkout).await.is_empty(), "no prompt, nothing settles before the timeout");
    app.advance_ms(1_000).await;
    let callback = &app.attempts(checkout).await[0]["body"]["Body"]["stkCallback"];
    assert_eq!(callback["ResultCode"], json!(1037));
    let mut wordy = app.stk_body("254722000000", 10);
    wordy["TransactionDesc"] = json!("Payment for order 42 placed online today");
    assert_eq!(push_and_settle(&app, &wordy).await["ResultCode"], json!(0), "a long TransactionDesc goes through");

    let documented = money_app("[daraja]\nfield_limits = \"documented\"\n").await;
    let token = documented.token().await;
    let path = "/mpesa/stkpush/v1/processrequest";
    let (status, err) = documented.post_json(path, &token, &long).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid AccountReference");
    let (status, err) = documented.post_json(path, &token, &wordy).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid TransactionDesc");
}

#[tokio::test]
async fn special_characters_in_account_reference_pass_unless_the_world_wants_alphanumerics() {
    let app = money_app("").await;
    let mut odd = app.stk_body("254708374149", 10);
    odd["AccountReference"] = json!("INV#1@A&B");
    assert_eq!(push_and_settle(&app, &odd).await["ResultCode"], json!(0));

    let strict = money_app("[daraja]\naccount_reference_charset = \"alphanumeric\"\n").await;
    let token = strict.token().await;
    let (status, err) = strict.post_json("/mpesa/stkpush/v1/processrequest", &token, &odd).await;
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid AccountReference");
    let mut plain = strict.stk_body("254708374149", 10);
    plain["AccountReference"] = json!("INV-1.A_B 2");
    assert_eq!(push_and_settle(&strict, &plain).await["ResultCode"], json!(0));
}

#[tokio::test]
async fn c2b_urls_can_be_made_to_register_once_as_the_shared_sandbox_did() {
    let app = money_app("[daraja]\nc2b_register_once = true\n").await;
    let token = app.token().await;
    let path = "/mpesa/c2b/v2/registerurl";
    let (status, ack) = app.post_json(path, &token, &register_body(&app, "600984", false)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["ResponseCode"], "00000000");
    let (status, err) = app.post_json(path, &token, &register_body(&app, "600984", false)).await;
    assert_daraja_error(
        status,
        &err,
        500,
        "500.003.1001",
        "Duplicate notification info, SP ID is 107078, correlator is 600984",
    );
    app.admin_post("/c2b/600984/unregister", &json!({})).await;
    let (status, _) = app.post_json(path, &token, &register_body(&app, "600984", false)).await;
    assert_eq!(status, StatusCode::OK, "forgotten URLs register again");
}

// ---------------------------------------------------------------------------
// A default world fit for client libraries' defaults

fn b2b_body(app: &TestApp, security_credential: &str, command: &str, party_a: &str, party_b: &str) -> Value {
    json!({
        "Initiator": "testapi",
        "SecurityCredential": security_credential,
        "CommandID": command,
        "SenderIdentifierType": "4",
        "RecieverIdentifierType": "4",
        "Amount": 1000,
        "PartyA": party_a,
        "PartyB": party_b,
        "AccountReference": "353353",
        "Remarks": "OK",
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()),
        "ResultURL": format!("{}/result", app.receiver.uri()),
    })
}

#[tokio::test]
async fn a_client_with_only_the_well_known_values_moves_money_in_the_default_world() {
    let app = money_app("").await;
    // As django-daraja does: 174379 pays B2C, with a credential made for Safaricom's certificate.
    let safaricom = foreign_credential(PASSWORD);
    let mut b2c = b2c_body(&app, "testapi", &safaricom, 500);
    b2c["PartyA"] = json!("174379");
    let token = app.token().await;
    let res =
        app.http.post(app.url("/mpesa/b2c/v1/paymentrequest")).bearer_auth(&token).json(&b2c).send().await.unwrap();
    assert!(res.headers()["x-sandbox-diagnosis"].to_str().unwrap().contains("accepted unchecked"));
    let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c).await;
    assert_eq!(result["ResultCode"], json!(0), "{result}");

    // As the node library's README does: test organisations it names.
    let mut b2c = b2c_body(&app, "testapi", &safaricom, 100);
    b2c["PartyA"] = json!("600133");
    let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c).await;
    assert_eq!(result["ResultCode"], json!(0), "{result}");
    assert_eq!(param(&result, "ReceiverPartyPublicName"), "254708374149 - JOHN KAMAU DOE");
    let (_, result) =
        call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, &safaricom, "BusinessPayBill", "600133", "600000"))
            .await;
    assert_eq!(result["ResultCode"], "0", "{result}");
    let balance = json!({
        "Initiator": "testapi", "SecurityCredential": safaricom, "CommandID": "AccountBalance", "PartyA": "600978",
        "IdentifierType": "4", "Remarks": "ok",
        "QueueTimeOutURL": format!("{}/timeout", app.receiver.uri()), "ResultURL": format!("{}/result", app.receiver.uri()),
    });
    let (_, result) = call(&app, "/mpesa/accountbalance/v1/query", &balance).await;
    assert_eq!(result["ResultCode"], json!(0), "{result}");
    assert!(param(&result, "AccountBalance").as_str().unwrap().contains("Utility Account|KES|1000000.00|"));

    // As newtonmunene99's live suite does: buy goods and top-up between test organisations.
    for (command, party_b) in [("BusinessBuyGoods", "600000"), ("BusinessPayToBulk", "600997")] {
        let (_, result) =
            call(&app, "/mpesa/b2b/v1/paymentrequest", &b2b_body(&app, &safaricom, command, "600999", party_b)).await;
        assert_eq!(result["ResultCode"], "0", "{command}: {result}");
    }

    // A credential the sandbox can decrypt is still checked.
    let (_, result) =
        call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential("Wrong#Pass1"), 100)).await;
    assert_eq!(result["ResultCode"], json!(2001));
}

#[tokio::test]
async fn a_strict_world_refuses_foreign_credentials_and_unknown_organisations() {
    let app = money_app("[daraja]\nsecurity_credential = \"strict\"\nauto_organisations = false\n").await;
    let mut b2c = b2c_body(&app, "testapi", &foreign_credential(PASSWORD), 100);
    b2c["PartyA"] = json!("174379");
    let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c).await;
    assert_eq!(result["ResultCode"], json!(2001));
    let mut b2c = b2c_body(&app, "testapi", &credential(PASSWORD), 100);
    b2c["PartyA"] = json!("600133");
    let (_, result) = call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c).await;
    assert_eq!(result["ResultCode"], json!(21), "testapi does not act for a shortcode the world lacks");
}

// ---------------------------------------------------------------------------
// Variants that keep older captures reachable

#[tokio::test]
async fn a_failed_results_transaction_id_takes_the_form_the_variant_names() {
    let app = money_app("").await;
    let cases = [("placeholder", "0000000", 10), ("receipt", "", 10), ("zeros", "0000000000000000", 16)];
    for (variant, ends_with, len) in cases {
        app.put_scenario(
            &format!("[[rules]]\nwhen = {{ operation = \"b2c\" }}\noutcome = {{ result_code = 2001 }}\nvariants = {{ failed_transaction_id = \"{variant}\" }}\n"),
        )
        .await;
        let (_, result) =
            call(&app, "/mpesa/b2c/v1/paymentrequest", &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
        let id = result["TransactionID"].as_str().unwrap();
        assert_eq!(id.len(), len, "{variant}: {id}");
        assert!(id.ends_with(ends_with), "{variant}: {id}");
        if variant == "receipt" {
            assert!(!id.ends_with("0000000"), "a real-looking receipt: {id}");
        }
    }
}

#[tokio::test]
async fn a_single_result_parameter_can_be_forced_into_an_array_or_out_of_one() {
    let app = money_app("").await;
    let mut pochi = b2c_body(&app, "testapi", &credential(PASSWORD), 100);
    pochi["CommandID"] = json!("BusinessPayToPochi");
    let rule = |form: &str| {
        format!("[[rules]]\nwhen = {{ operation = [\"b2pochi\", \"tax_remittance\"] }}\noutcome = {{ result_code = 8006 }}\nvariants = {{ result_parameter = \"{form}\", result_shape = \"documentation\" }}\n")
    };
    app.put_scenario(&rule("array")).await;
    let (_, result) = call(&app, "/mpesa/b2pochi/v1/paymentrequest", &pochi).await;
    assert_eq!(result["ResultParameters"]["ResultParameter"][0]["Key"], "CreditPartyName", "{result}");
    app.put_scenario(&rule("object")).await;
    let tax = b2b_body(&app, &credential(PASSWORD), "PayTaxToKRA", "600000", "572572");
    let (_, result) = call(&app, "/mpesa/b2b/v1/remittax", &tax).await;
    assert_eq!(result["ResultParameters"]["ResultParameter"]["Key"], "BOCompletedTime", "{result}");
}

#[tokio::test]
async fn pulled_msisdns_carry_254_under_the_international_variant() {
    let app = money_app("").await;
    app.put_scenario(
        "[[rules]]\nwhen = { operation = \"pull_query\" }\nvariants = { pull_msisdn = \"international\" }\n",
    )
    .await;
    let token = app.token().await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 25)).await;
    app.advance_ms(20).await;
    assert!(ack["CheckoutRequestID"].is_string());
    let mut register = pull_register_body(&app);
    register["ShortCode"] = json!("174379");
    app.post_json("/pulltransactions/v1/register", &token, &register).await;
    let eat =
        |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(3 + hours)).format("%Y-%m-%d %H:%M:%S").to_string();
    let query = json!({ "ShortCode": "174379", "StartDate": eat(-1), "EndDate": eat(1), "OffSetValue": "0" });
    let (_, body) = app.post_json("/pulltransactions/v1/query", &token, &query).await;
    assert_eq!(body["Response"][0][0]["msisdn"], json!(254708374149u64), "{body}");
}
