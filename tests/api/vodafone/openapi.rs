//! The multi-market OpenAPI: sessions on the virtual clock, every market end
//! to end, the limits, direct debits with state, asynchronous results with
//! their acknowledgement, the sandbox's trigger values and the codes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use super::{assert_ins, assert_key_order, last_received, openapi_payment, totals, LOOPBACK};
use crate::helpers::{spawn_config, spawn_virtual, spawn_with, TestApp};

const MARKETS: [(&str, &str, &str, &str); 5] = [
    ("vodafoneGHA", "GHA", "GHS", "233241234567"),
    ("vodacomTZN", "TZN", "TZS", "255741234567"),
    ("vodacomLES", "LES", "LSL", "26658001234"),
    ("vodacomDRC", "DRC", "USD", "243811234567"),
    ("vodacomMOZ", "MOZ", "MZN", "258843330333"),
];

fn status_query(reference: &str, country: &str, conversation: &str) -> Value {
    json!({"input_QueryReference": reference, "input_Country": country, "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": conversation})
}

#[tokio::test]
async fn a_status_query_by_reference_finds_what_is_kept_and_not_what_was_forgotten() {
    let mut config = pesa_sandbox::Config::local().with_seed(7).with_world_toml("").expect("test world is valid");
    config.limits.transactions = 2;
    let app = spawn_config(config).await;
    let (market, country, currency, msisdn) = MARKETS[1];
    let session = app.session(market).await;
    for reference in ["keptnot1", "kept2", "kept3"] {
        let body = openapi_payment(country, currency, msisdn, "10", reference);
        let (status, paid) = app.openapi(market, Method::POST, "c2bPayment/singleStage/", &session, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{paid}");
    }
    // Two finished transactions are kept: the first payment is forgotten.
    let query = |reference: &str| status_query(reference, country, &format!("q{reference}"));
    let (s, b) = app.openapi(market, Method::GET, "queryTransactionStatus/", &session, &query("keptnot1")).await;
    assert_ins(s, &b, 400, "INS-23");
    let (s, b) = app.openapi(market, Method::GET, "queryTransactionStatus/", &session, &query("kept3")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["output_ResponseTransactionStatus"], "Completed");
}

#[tokio::test]
async fn every_market_pays_queries_and_reverses_in_its_own_currency() {
    let app = spawn_with("").await;
    let before = totals(&app).await;
    for (market, country, currency, msisdn) in MARKETS {
        let session = app.session(market).await;
        let (status, paid) = app
            .openapi(
                market,
                Method::POST,
                "c2bPayment/singleStage/",
                &session,
                &openapi_payment(country, currency, msisdn, "10", &format!("{market}1")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{market}: {paid}");
        let transaction_id = paid["output_TransactionID"].as_str().unwrap().to_owned();
        let (_, body) = app.admin_get(&format!("/accounts?msisdn={msisdn}")).await;
        assert_eq!(body["accounts"][0]["currency"], currency, "{market}");
        assert_eq!(app.vodafone_org_balance(&format!("{country}:000000")).await, "1000010.00", "{market}");

        let (status, found) = app
            .openapi(
                market,
                Method::GET,
                "queryTransactionStatus/",
                &session,
                &status_query(&transaction_id, country, "q1"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["output_ResponseTransactionStatus"], "Completed");
        assert_eq!(found["output_OriginalTransactionID"], transaction_id.as_str());
        assert_eq!(found["output_Reversed"], "False");

        let reversal = json!({"input_Country": country, "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": format!("{market}r"), "input_TransactionID": transaction_id});
        let (status, body) = app.openapi(market, Method::PUT, "reversal/", &session, &reversal).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(app.vodafone_org_balance(&format!("{country}:000000")).await, "1000000.00", "{market}");
        let (_, found) = app
            .openapi(
                market,
                Method::GET,
                "queryTransactionStatus/",
                &session,
                &status_query(&format!("{market}1"), country, "q2"),
            )
            .await;
        assert_eq!(found["output_Reversed"], "True", "{market}: {found}");
    }
    assert_eq!(totals(&app).await, before, "every currency adds up");
}

#[tokio::test]
async fn an_openapi_answer_keeps_the_documented_key_order() {
    let app = spawn_with("").await;
    let session = app.session("vodacomTZN").await;
    let text = app
        .http
        .post(app.url("/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"))
        .bearer_auth(app.vodafone_bearer(&session))
        .json(&openapi_payment("TZN", "TZS", "000000000001", "10", "order1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_key_order(
        &text,
        &[
            "output_ResponseCode",
            "output_ResponseDesc",
            "output_TransactionID",
            "output_ConversationID",
            "output_ThirdPartyConversationID",
        ],
    );
}

#[tokio::test]
async fn a_session_is_live_after_its_activation_delay_and_expires_by_the_sandbox_clock() {
    let world = "[[vodafone.apps]]\nname = \"vodacomTZN\"\nactivation_delay_ms = 30000\nsession_lifetime_secs = 3600\n";
    let app = spawn_virtual(world).await;
    let session = app.session("vodacomTZN").await;
    let body = openapi_payment("TZN", "TZS", "000000000001", "1", "s1");
    let (status, refused) = app.openapi("vodacomTZN", Method::POST, "c2bPayment/singleStage/", &session, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused, json!({"output_error": "Unauthorized"}));
    let (_, requests) = app.admin_get("/requests?errors=true").await;
    assert!(requests.to_string().contains("not live yet"), "{requests}");
    app.advance_ms(30_000).await;
    let (status, paid) = app.openapi("vodacomTZN", Method::POST, "c2bPayment/singleStage/", &session, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let (_, sessions) = app.admin_get("/vodafone/sessions").await;
    assert_eq!(sessions["sessions"][0]["state"], "live");
    app.advance_ms(3_600_000).await;
    let body = openapi_payment("TZN", "TZS", "000000000001", "1", "s2");
    let (status, _) = app.openapi("vodacomTZN", Method::POST, "c2bPayment/singleStage/", &session, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, sessions) = app.admin_get("/vodafone/sessions").await;
    assert_eq!(sessions["sessions"][0]["state"], "expired");
}

#[tokio::test]
async fn the_session_refusal_is_a_world_switch() {
    let app = spawn_with("[vodafone]\nsession_refusal = \"ins_6\"\n").await;
    let unknown = app.vodafone_bearer("0123456789abcdef0123456789abcdef");
    let (status, body) =
        app.vodafone_call("/sandbox/ipg/v2/vodacomMOZ/b2cPayment/", &unknown, Method::POST, &json!({}), &[]).await;
    assert_ins(status, &body, 401, "INS-6");
    let session = app.session("vodacomMOZ").await;
    let (status, body) = app.openapi("vodacomTZN", Method::POST, "b2cPayment/", &session, &json!({})).await;
    assert_ins(status, &body, 401, "INS-6");
}

#[tokio::test]
async fn limits_are_enforced_per_session_and_per_customer() {
    let world = r#"
        [[vodafone.apps]]
        name = "vodacomMOZ"
        [vodafone.apps.limits]
        single_transaction_max = 100
        session_count_max = 2
        customer_daily_count_max = 3
    "#;
    let app = spawn_with(world).await;
    let session = app.session("vodacomMOZ").await;
    let pay =
        |amount: &str, conversation: &str, msisdn: &str| openapi_payment("MOZ", "MZN", msisdn, amount, conversation);
    let c2b = "c2bPayment/singleStage/";
    let (s, b) = app.openapi("vodacomMOZ", Method::POST, c2b, &session, &pay("101", "l1", "258843330333")).await;
    assert_ins(s, &b, 400, "INS-995");
    for n in 0..2 {
        let (s, b) =
            app.openapi("vodacomMOZ", Method::POST, c2b, &session, &pay("1", &format!("l2{n}"), "258843330333")).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = app.openapi("vodacomMOZ", Method::POST, c2b, &session, &pay("1", "l3", "258843330333")).await;
    assert_ins(s, &b, 400, "INS-993");
    let (s, b) = app.openapi("vodacomMOZ", Method::POST, c2b, &session, &pay("500", "l4", "258843330333")).await;
    assert_ins(s, &b, 400, "INS-992");
    let fresh = app.session("vodacomMOZ").await;
    let (s, _) = app.openapi("vodacomMOZ", Method::POST, c2b, &fresh, &pay("1", "l5", "258843330333")).await;
    assert_eq!(s, StatusCode::CREATED, "a new session starts its counters at zero");
    let (s, b) = app.openapi("vodacomMOZ", Method::POST, c2b, &fresh, &pay("1", "l6", "258843330333")).await;
    assert_ins(s, &b, 400, "INS-991");
}

fn create_mandate(conversation: &str, reference: &str) -> Value {
    json!({"input_CustomerMSISDN": "258843330333", "input_Country": "MOZ", "input_ServiceProviderCode": "000000",
        "input_ThirdPartyReference": reference, "input_ThirdPartyConversationID": conversation, "input_AgreedTC": "1",
        "input_Frequency": "04", "input_StartRangeOfDays": "01", "input_EndRangeOfDays": "05"})
}

fn debit(conversation: &str, reference: &str, extra: Value) -> Value {
    let mut body = json!({"input_CustomerMSISDN": "258843330333", "input_Country": "MOZ", "input_ServiceProviderCode": "000000",
        "input_ThirdPartyReference": reference, "input_ThirdPartyConversationID": conversation, "input_Amount": "12",
        "input_Currency": "MZN"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

#[tokio::test]
async fn a_mandate_lives_from_creation_through_payments_to_cancellation() {
    let app = spawn_with("").await;
    let m = "vodacomMOZ";
    let session = app.session(m).await;
    let (status, created) =
        app.openapi(m, Method::POST, "directDebitCreation/", &session, &create_mandate("d1", "MANDATE1")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mandate_id = created["output_MandateID"].as_str().unwrap().to_owned();
    let token = created["output_MsisdnToken"].as_str().unwrap().to_owned();
    assert!(token.ends_with("=="));
    let (status, body) =
        app.openapi(m, Method::POST, "directDebitCreation/", &session, &create_mandate("d1b", "MANDATE1")).await;
    assert_ins(status, &body, 409, "INS-10");

    let (status, paid) =
        app.openapi(m, Method::POST, "directDebitPayment/", &session, &debit("d2", "MANDATE1", json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["output_MsisdnToken"], token.as_str());
    assert_eq!(app.balance_of_msisdn("258843330333").await, "49988.00");
    let (status, body) = app
        .openapi(
            m,
            Method::POST,
            "directDebitPayment/",
            &session,
            &debit("d3", "MANDATE1", json!({"input_MsisdnToken": "wrongtoken=="})),
        )
        .await;
    assert_ins(status, &body, 400, "INS-50");
    let (status, body) = app
        .openapi(
            m,
            Method::POST,
            "directDebitPayment/",
            &session,
            &debit("d4", "OTHER", json!({"input_MandateID": mandate_id})),
        )
        .await;
    assert_ins(status, &body, 400, "INS-52");

    let query = json!({"input_QueryBalanceAmount": "True", "input_BalanceAmount": "100", "input_Country": "MOZ",
        "input_CustomerMSISDN": "258843330333", "input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": "d5",
        "input_ThirdPartyReference": "MANDATE1", "input_Currency": "MZN"});
    let (status, found) = app.openapi(m, Method::GET, "queryDirectDebit/", &session, &query).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["output_MandateStatus"], "Active");
    assert_eq!(found["output_SufficientBalance"], "True");
    assert_eq!(found["output_Frequency"], "04");
    assert_eq!(found["output_PaymentDayTo"], "05");

    let cancel = json!({"input_CustomerMSISDN": "258843330333", "input_Country": "MOZ", "input_ServiceProviderCode": "000000",
        "input_ThirdPartyReference": "MANDATE1", "input_ThirdPartyConversationID": "d6"});
    let (status, body) = app.openapi(m, Method::PUT, "directDebitCancel/", &session, &cancel).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        app.openapi(m, Method::POST, "directDebitPayment/", &session, &debit("d7", "MANDATE1", json!({}))).await;
    assert_ins(status, &body, 400, "INS-58");
    let (_, mandates) = app.admin_get("/vodafone/mandates").await;
    assert_eq!(mandates["mandates"][0]["status"], "cancelled");
    assert_eq!(mandates["mandates"][0]["payments"], 1);
    let (status, body) = app.openapi(m, Method::PUT, "directDebitCancel/", &session, &cancel).await;
    assert_ins(status, &body, 401, "INS-6");
    assert_eq!(body["output_ResponseDesc"], "Mandate does not exist");
}

#[tokio::test]
async fn a_mandate_without_agreed_terms_never_pays_until_activated() {
    let app = spawn_with("").await;
    let session = app.session("vodacomMOZ").await;
    let mut create = create_mandate("n1", "NOTERMS");
    create["input_AgreedTC"] = json!("0");
    let (_, created) = app.openapi("vodacomMOZ", Method::POST, "directDebitCreation/", &session, &create).await;
    let (status, body) = app
        .openapi("vodacomMOZ", Method::POST, "directDebitPayment/", &session, &debit("n2", "NOTERMS", json!({})))
        .await;
    assert_ins(status, &body, 400, "INS-58");
    let id = created["output_MandateID"].as_str().unwrap();
    let (status, _) = app.admin_post(&format!("/vodafone/mandates/{id}/status"), &json!({"status": "active"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .openapi("vodacomMOZ", Method::POST, "directDebitPayment/", &session, &debit("n3", "NOTERMS", json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn async_app() -> TestApp {
    let app = spawn_with(LOOPBACK).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"output_OriginalConversationID": "c",
            "output_ResponseCode": "0", "output_ResponseDesc": "Successfully Accepted Result", "output_ThirdPartyConversationID": "t"})))
        .mount(&app.receiver)
        .await;
    app
}

#[tokio::test]
async fn results_go_to_the_applications_listener_or_the_requests_header() {
    let app = async_app().await;
    let url = format!("{}/openapi", app.receiver.uri());
    let (status, _) = app.admin_post("/vodafone/apps/vodafoneGHA/async-url", &json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK);
    let session = app.session("vodafoneGHA").await;
    let (status, ack) = app
        .openapi(
            "vodafoneGHA",
            Method::POST,
            "c2bPayment/singleStage/",
            &session,
            &openapi_payment("GHA", "GHS", "000000000001", "5", "g1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(ack.get("output_TransactionID").is_none(), "{ack}");
    let conversation = ack["output_ConversationID"].as_str().unwrap().to_owned();
    let attempts = app.judged(&conversation).await;
    let result = &attempts[0]["body"];
    assert_key_order(
        &last_received(&app).await,
        &[
            "input_OriginalConversationID",
            "input_TransactionID",
            "input_ResultCode",
            "input_ResultDesc",
            "input_ThirdPartyConversationID",
        ],
    );
    assert_eq!(result["input_ResultCode"], "INS-0");
    assert_eq!(attempts[0]["acknowledgement"]["accepted"], true);

    // A synchronous answer for one request, by header.
    let bearer = app.vodafone_bearer(&session);
    let body = openapi_payment("GHA", "GHS", "000000000001", "5", "g2");
    let (status, sync) = app
        .vodafone_call(
            "/sandbox/ipg/v2/vodafoneGHA/c2bPayment/singleStage/",
            &bearer,
            Method::POST,
            &body,
            &[("x-sandbox-response-url", "sync")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(sync["output_TransactionID"].is_string(), "{sync}");

    // Query Direct Debit's result is acknowledged with INS-0, so "0" is refused.
    let session = app.session("vodacomMOZ").await;
    let bearer = app.vodafone_bearer(&session);
    let query = json!({"input_QueryBalanceAmount": "False", "input_Country": "MOZ", "input_CustomerMSISDN": "000000000001",
        "input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": "g3", "input_ThirdPartyReference": "00000000000000000001",
        "input_Currency": "MZN"});
    let (status, ack) = app
        .vodafone_call(
            "/sandbox/ipg/v2/vodacomMOZ/queryDirectDebit/",
            &bearer,
            Method::GET,
            &query,
            &[("x-sandbox-response-url", &url)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let attempts = app.judged(ack["output_ConversationID"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["body"]["input_ResponseCode"], "INS-0");
    assert_eq!(attempts[0]["acknowledgement"]["accepted"], false, "QDD expects INS-0");
}

#[tokio::test]
async fn the_sandbox_trigger_values_answer_as_the_real_sandbox() {
    let app = spawn_with("").await;
    let m = "vodacomLES";
    let session = app.session(m).await;
    let b2b = |receiver: &str, conversation: &str| {
        json!({"input_Amount": "10", "input_ReceiverPartyCode": receiver, "input_Country": "LES", "input_Currency": "LSL",
            "input_PrimaryPartyCode": "000000", "input_TransactionReference": "T1", "input_ThirdPartyConversationID": conversation,
            "input_PurchasedItemsDesc": "Goods"})
    };
    let (s, b) = app.openapi(m, Method::POST, "b2bPayment/", &session, &b2b("000001", "b1")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    for (receiver, status, code) in
        [("000002", 400, "INS-1"), ("000003", 401, "INS-6"), ("000004", 408, "INS-9"), ("000006", 422, "INS-2006")]
    {
        let (s, b) = app.openapi(m, Method::POST, "b2bPayment/", &session, &b2b(receiver, receiver)).await;
        assert_ins(s, &b, status, code);
    }
    for (msisdn, status, code) in
        [("000000000004", 401, "INS-6"), ("000000000007", 400, "INS-15"), ("000000000008", 422, "INS-2006")]
    {
        let body = openapi_payment("LES", "LSL", msisdn, "1", msisdn);
        let (s, b) = app.openapi(m, Method::POST, "c2bPayment/singleStage/", &session, &body).await;
        assert_ins(s, &b, status, code);
    }
    let reversal = json!({"input_Country": "LES", "input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": "r1",
        "input_TransactionID": "0000000000006"});
    let (s, b) = app.openapi(m, Method::PUT, "reversal/", &session, &reversal).await;
    assert_ins(s, &b, 400, "INS-35");
    let (s, b) = app
        .openapi(
            m,
            Method::GET,
            "queryTransactionStatus/",
            &session,
            &status_query("000000000000000000001", "LES", "q"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["output_Reversed"], "True");
    let (s, b) = app
        .openapi(m, Method::GET, "queryTransactionStatus/", &session, &status_query("NOSUCHTHING", "LES", "q2"))
        .await;
    assert_ins(s, &b, 400, "INS-23");
    let qdd = json!({"input_QueryBalanceAmount": "False", "input_Country": "LES", "input_CustomerMSISDN": "000000000001",
        "input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": "q3", "input_ThirdPartyReference": "99999999999999999999",
        "input_Currency": "LSL"});
    let (s, b) = app.openapi(m, Method::GET, "queryDirectDebit/", &session, &qdd).await;
    assert_ins(s, &b, 400, "INS-999");
    assert_eq!(b["output_ResponseDesc"], "Invalid Use Case");
}

#[tokio::test]
async fn each_openapi_refusal_has_its_documented_code() {
    let app = spawn_with("[[vodafone.apps]]\nname = \"vodacomDRC\"\nproducts = [\"c2b_payment\"]\n").await;
    let bad_key = app.vodafone_bearer("0123456789abcdef0123456789abcdef");
    let (s, b) =
        app.vodafone_call("/sandbox/ipg/v2/vodacomTZN/getSession/", &bad_key, Method::GET, &json!({}), &[]).await;
    assert_ins(s, &b, 400, "INS-989");
    let tz = app.vodafone_bearer(&app.app_key("vodacomTZN"));
    let (s, b) = app.vodafone_call("/sandbox/ipg/v2/vodacomMOZ/getSession/", &tz, Method::GET, &json!({}), &[]).await;
    assert_ins(s, &b, 400, "INS-989");
    let (s, b) = app.vodafone_call("/sandbox/ipg/v2/vodacomKEN/getSession/", &tz, Method::GET, &json!({}), &[]).await;
    assert_ins(s, &b, 400, "INS-998");
    let drc = app.session("vodacomDRC").await;
    let (s, b) = app.openapi("vodacomDRC", Method::POST, "b2cPayment/", &drc, &json!({})).await;
    assert_ins(s, &b, 400, "INS-997");
    let tzn = app.session("vodacomTZN").await;
    let c2b = "c2bPayment/singleStage/";
    let (s, b) = app
        .openapi("vodacomTZN", Method::POST, c2b, &tzn, &openapi_payment("TZN", "KES", "000000000001", "1", "x1"))
        .await;
    assert_ins(s, &b, 400, "INS-26");
    let (s, b) = app
        .openapi("vodacomTZN", Method::POST, c2b, &tzn, &openapi_payment("TZN", "TZS", "000000000001", "1", "x-2"))
        .await;
    assert_ins(s, &b, 400, "INS-28");
    let mut desc = openapi_payment("TZN", "TZS", "000000000001", "1", "x3");
    desc["input_PurchasedItemsDesc"] = json!("Handbag, Black shoes");
    let (s, b) = app.openapi("vodacomTZN", Method::POST, c2b, &tzn, &desc).await;
    assert_ins(s, &b, 400, "INS-30");
    assert_eq!(b["output_ThirdPartyConversationID"], "x3", "the refusal echoes the client's id");
    let (s, b) =
        app.openapi("vodacomTZN", Method::POST, c2b, &tzn, &openapi_payment("TZN", "TZS", "12345", "1", "x4")).await;
    assert_ins(s, &b, 400, "INS-2051");
    app.openapi("vodacomTZN", Method::POST, c2b, &tzn, &openapi_payment("TZN", "TZS", "000000000001", "1", "x5")).await;
    let (s, b) = app
        .openapi("vodacomTZN", Method::POST, c2b, &tzn, &openapi_payment("TZN", "TZS", "000000000001", "1", "x5"))
        .await;
    assert_ins(s, &b, 409, "INS-10");
    let (s, b) = app.openapi("vodacomTZN", Method::POST, "queryTransactionStatus/", &tzn, &json!({})).await;
    assert_ins(s, &b, 405, "INS-997");
}

#[tokio::test]
async fn the_beneficiary_name_is_the_subscribers() {
    let app = spawn_with("").await;
    let session = app.session("vodacomMOZ").await;
    let query = json!({"input_CustomerMSISDN": "258843330333", "input_Country": "MOZ", "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": "n1", "input_KYCQueryType": "Name"});
    let (status, body) = app.openapi("vodacomMOZ", Method::GET, "queryBeneficiaryName/", &session, &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["output_CustomerFirstName"], "Ana");
    assert_eq!(body["output_CustomerLastName"], "Macuacua");
}
