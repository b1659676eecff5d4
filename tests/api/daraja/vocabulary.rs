//! Daraja's scenario vocabulary: every operation a rule may name reaches the
//! requests it names, and every matcher key, outcome, fault, callback and
//! rate-limit key not exercised by a shipped scenario does what
//! `scenarios/README.md` says.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::daraja::assert_daraja_error;
use crate::daraja::money::{b2c_body, credential, money_app, PASSWORD};
use crate::helpers::{spawn_with, FAST_WORLD};

/// Every Daraja operation but `c2b_payment` (a payment, not a request), with the path it answers on.
const OPERATIONS: [(&str, &str); 15] = [
    ("oauth", "/oauth/v1/generate?grant_type=client_credentials"),
    ("stk_push", "/mpesa/stkpush/v1/processrequest"),
    ("stk_query", "/mpesa/stkpushquery/v1/query"),
    ("c2b_register", "/mpesa/c2b/v2/registerurl"),
    ("c2b_simulate", "/mpesa/c2b/v1/simulate"),
    ("b2c", "/mpesa/b2c/v3/paymentrequest"),
    ("b2pochi", "/mpesa/b2pochi/v1/paymentrequest"),
    ("b2b", "/mpesa/b2b/v1/paymentrequest"),
    ("tax_remittance", "/mpesa/b2b/v1/remittax"),
    ("reversal", "/mpesa/reversal/v1/request"),
    ("transaction_status", "/mpesa/transactionstatus/v1/query"),
    ("account_balance", "/mpesa/accountbalance/v1/query"),
    ("pull_register", "/pulltransactions/v1/register"),
    ("pull_query", "/pulltransactions/v1/query"),
    ("qr_generate", "/mpesa/qrcode/v1/generate"),
];

#[tokio::test]
async fn a_rule_naming_an_operation_decides_exactly_that_operations_requests() {
    let app = spawn_with(FAST_WORLD).await;
    // Tokens first: the oauth rule below refuses new ones.
    let token = app.token().await;
    for (operation, path) in OPERATIONS {
        app.put_scenario(
            &format!("[[rules]]\nwhen = {{ provider = \"daraja\", operation = \"{operation}\" }}\nfault = {{ error = \"500.003.1001\", error_message = \"scripted {operation}\", status = 503 }}\n"),
        )
        .await;
        // The gate answers before the body is read, so an empty one will do.
        let (status, body) = match operation {
            "oauth" => {
                let res = app.token_response(&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret).await;
                (res.status(), res.json::<Value>().await.unwrap())
            }
            _ => app.post_json(path, &token, &json!({})).await,
        };
        assert_daraja_error(status, &body, 503, "500.003.1001", &format!("scripted {operation}"));
        let (other, _) = OPERATIONS.iter().find(|(o, _)| *o != operation && *o != "oauth").unwrap();
        let other_path = OPERATIONS.iter().find(|(o, _)| o == other).unwrap().1;
        let (status, _) = app.post_json(other_path, &token, &json!({})).await;
        assert_ne!(status.as_u16(), 503, "{operation}'s rule leaves {other} alone");
    }
}

#[tokio::test]
async fn a_rule_on_c2b_payment_decides_a_simulated_payment() {
    let app = money_app("").await;
    let token = app.token().await;
    let register = json!({
        "ShortCode": "600984",
        "ResponseType": "Completed",
        "ConfirmationURL": format!("{}/c2b/confirm", app.receiver.uri()),
        "ValidationURL": format!("{}/c2b/validate", app.receiver.uri()),
    });
    app.post_json("/mpesa/c2b/v2/registerurl", &token, &register).await;
    let pay = |amount: i64| json!({ "ShortCode": "600984", "CommandID": "CustomerPayBillOnline", "Amount": amount, "Msisdn": "254708374149", "BillRefNumber": "ACC" });
    let confirmation_msisdn =
        |attempts: &Value| attempts["callbacks"].as_array().unwrap().last().unwrap()["body"]["MSISDN"].clone();

    app.put_scenario("[[rules]]\nwhen = { operation = \"c2b_payment\", amount = 10 }\ncallback = { drop = true }\n[[rules]]\nwhen = { operation = \"c2b_payment\" }\nvariants = { msisdn = \"full\" }\n").await;
    let (status, _) = app.post_json("/mpesa/c2b/v1/simulate", &token, &pay(10)).await;
    assert_eq!(status, StatusCode::OK);
    app.advance_ms(20).await;
    let (_, attempts) = app.admin_get("/callbacks?kind=c2b_confirmation").await;
    assert_eq!(attempts["callbacks"][0]["outcome"], "dropped", "{attempts}");
    app.post_json("/mpesa/c2b/v1/simulate", &token, &pay(11)).await;
    app.advance_ms(20).await;
    let (_, attempts) = app.admin_get("/callbacks?kind=c2b_confirmation").await;
    assert_eq!(confirmation_msisdn(&attempts), "254708374149", "the payment rule's variant: {attempts}");

    // Without a c2b_payment rule, a c2b_simulate rule still decides the payment.
    app.put_scenario("[[rules]]\nwhen = { operation = \"c2b_simulate\" }\nvariants = { msisdn = \"hashed\" }\n").await;
    app.post_json("/mpesa/c2b/v1/simulate", &token, &pay(12)).await;
    app.advance_ms(20).await;
    let (_, attempts) = app.admin_get("/callbacks?kind=c2b_confirmation").await;
    assert_eq!(confirmation_msisdn(&attempts).as_str().unwrap().len(), 64, "{attempts}");
}

#[tokio::test]
async fn each_matcher_key_narrows_a_rule_to_the_requests_it_names() {
    let app = money_app("").await;
    let fault = |message: &str| format!("fault = {{ error = \"500.003.1001\", error_message = \"{message}\" }}\n");
    app.put_scenario(
        &[
            ("when = { operation = \"stk_push\", shortcode = \"400200\" }", "by shortcode"),
            ("when = { operation = \"stk_push\", account_reference = \"BLOCKED\" }", "by account reference"),
            ("when = { operation = \"stk_push\", fields = { TransactionDesc = \"blocked desc\" } }", "by field"),
            ("when = { operation = \"stk_push\", amount = { min = 5000, max = 6000 } }", "by amount"),
            ("when = { operation = \"stk_push\", msisdn = \"254799999999\" }", "by msisdn"),
            (
                "when = { provider = \"daraja\", operation = \"b2c\", initiator = \"blocked-initiator\" }",
                "by initiator",
            ),
        ]
        .iter()
        .map(|(when, message)| format!("[[rules]]\n{when}\n{}", fault(message)))
        .collect::<String>(),
    )
    .await;
    let token = app.token().await;
    let push = "/mpesa/stkpush/v1/processrequest";
    let base = app.stk_body("254708374149", 10);
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("BusinessShortCode", json!("400200")), "by shortcode"),
        (with("AccountReference", json!("BLOCKED")), "by account reference"),
        (with("TransactionDesc", json!("blocked desc")), "by field"),
        (with("Amount", json!(5500)), "by amount"),
        (with("PhoneNumber", json!("254799999999")), "by msisdn"),
    ];
    for (body, message) in cases {
        let (status, err) = app.post_json(push, &token, &body).await;
        assert_daraja_error(status, &err, 500, "500.003.1001", message);
    }
    let (status, ack) = app.post_json(push, &token, &base).await;
    assert_eq!(status, StatusCode::OK, "a request none of the keys names passes: {ack}");

    let b2c = "/mpesa/b2c/v1/paymentrequest";
    let blocked = b2c_body(&app, "blocked-initiator", &credential(PASSWORD), 100);
    let (status, err) = app.post_json(b2c, &token, &blocked).await;
    assert_daraja_error(status, &err, 500, "500.003.1001", "by initiator");
    let (status, _) = app.post_json(b2c, &token, &b2c_body(&app, "testapi", &credential(PASSWORD), 100)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_outcomes_own_description_reaches_the_callback() {
    let app = money_app("").await;
    app.put_scenario(
        "[[rules]]\nwhen = { operation = \"stk_push\" }\noutcome = { result_code = 1032, result_desc = \"Cancelled at the till\" }\n",
    )
    .await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 10)).await;
    app.advance_ms(20).await;
    let attempts = app.attempts(ack["CheckoutRequestID"].as_str().unwrap()).await;
    let callback = &attempts[0]["body"]["Body"]["stkCallback"];
    assert_eq!(callback["ResultCode"], json!(1032));
    assert_eq!(callback["ResultDesc"], "Cancelled at the till");
}

#[tokio::test]
async fn a_rate_limit_may_start_empty_and_answer_with_a_quota_violation() {
    let world = format!("[[rate_limits]]\nprovider = \"daraja\"\noperation = \"oauth\"\ncapacity = 2\nrefill = 1\nperiod_ms = 3600000\ninitial = 0\nerror = \"quota_violation\"\n{FAST_WORLD}");
    let app = spawn_with(&world).await;
    let res = app.token_response(&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_daraja_error(status, &body, 500, "500.003.03", "Error Occurred: Quota Violation");
}

#[tokio::test]
async fn hold_max_ms_bounds_how_long_an_out_of_order_callback_waits() {
    let app = money_app("").await;
    app.put_scenario(
        "[[rules]]\nwhen = { operation = \"stk_push\" }\ncallback = { out_of_order = true, hold_max_ms = 500 }\n",
    )
    .await;
    let (_, ack) = app.stk_push(&app.stk_body("254708374149", 10)).await;
    let checkout = ack["CheckoutRequestID"].as_str().unwrap();
    app.advance_ms(20).await;
    assert!(app.attempts(checkout).await.is_empty(), "held");
    app.advance_ms(499).await;
    assert!(app.attempts(checkout).await.is_empty(), "still held");
    app.advance_ms(1).await;
    assert_eq!(app.attempts(checkout).await.len(), 1, "released at its own limit, not the default minute");
}

#[tokio::test]
async fn a_rate_limit_on_every_operation_gives_each_a_bucket_of_its_own() {
    let world = format!(
        "[[rate_limits]]\nprovider = \"daraja\"\noperation = \"*\"\ncapacity = 1\nrefill = 1\nperiod_ms = 3600000\n{FAST_WORLD}"
    );
    let app = spawn_with(&world).await;
    let token = app.token().await;
    let res = app.token_response(&app.creds.daraja.consumer_key, &app.creds.daraja.consumer_secret).await;
    assert_eq!(res.status().as_u16(), 429, "oauth's bucket is empty");
    let push = "/mpesa/stkpush/v1/processrequest";
    let (status, ack) = app.post_json(push, &token, &app.stk_body("254708374149", 1)).await;
    assert_eq!(status, StatusCode::OK, "stk_push has a bucket of its own: {ack}");
    let (status, _) = app.post_json(push, &token, &app.stk_body("254722000000", 1)).await;
    assert_eq!(status.as_u16(), 429);
}
