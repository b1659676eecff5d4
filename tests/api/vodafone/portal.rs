//! The Payments Gateway portal (`/ipg/v1x/`): the seed's bearer, every API
//! synchronously and asynchronously, the codes, the URL rules, key renewal,
//! the trigger MSISDNs, reports and the ledger.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{assert_ins, assert_key_order, last_received, portal_c2b, totals, LOOPBACK, SEED_API_KEY};
use crate::helpers::{spawn_with, TestApp};

fn ack_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "output_OriginalConversationID": "x",
        "output_ResponseCode": "0",
        "output_ResponseDesc": "Successfully Accepted Result",
        "output_ThirdPartyConversationID": "y",
    }))
}

async fn set_async_url(app: &TestApp, url: &str) -> (StatusCode, Value) {
    app.admin_post("/vodafone/accounts/sandbox/async-url", &json!({ "url": url })).await
}

#[tokio::test]
async fn a_bearer_made_by_the_seeds_java_code_pays_and_moves_the_money() {
    let app = spawn_with("").await;
    // Made once by the seed's Java sample, unmodified, against the committed public key.
    let java = include_str!("../../../src/vodafone/testdata/java-bearer-4096.txt").trim();
    let before = totals(&app).await;
    let response = app
        .http
        .post(app.url("/ipg/v1x/c2bPayment/singleStage/"))
        .header("Authorization", format!("Bearer {java}"))
        .header("Origin", "*")
        .json(&portal_c2b("258843330333", "10", "111PA2D"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert_key_order(
        &text,
        &[
            "output_ResponseCode",
            "output_ResponseDesc",
            "output_TransactionID",
            "output_ConversationID",
            "output_ThirdPartyReference",
        ],
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["output_ThirdPartyReference"], "111PA2D");
    assert_eq!(app.balance_of_msisdn("258843330333").await, "49990.00");
    assert_eq!(app.vodafone_org_balance("MOZ:171717").await, "1000010.00");
    assert_eq!(totals(&app).await, before, "money is conserved in every currency");
}

#[tokio::test]
async fn every_portal_api_answers_synchronously_by_default() {
    let app = spawn_with("").await;
    let (status, c2b) =
        app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("843330333", "100", "ref1")).await;
    assert_eq!(status, StatusCode::CREATED, "the local MSISDN form is accepted: {c2b}");
    let (status, b2c) = app.portal(Method::POST, "b2cPayment/", &portal_c2b("258851234567", "25.50", "ref2")).await;
    assert_eq!(status, StatusCode::CREATED, "{b2c}");
    assert_eq!(app.balance_of_msisdn("258851234567").await, "2525.50");
    let b2b = json!({"input_TransactionReference": "T1", "input_Amount": "40", "input_ThirdPartyReference": "ref3",
        "input_PrimaryPartyCode": "171717", "input_ReceiverPartyCode": "979797"});
    let (status, body) = app.portal(Method::POST, "b2bPayment/", &b2b).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.vodafone_org_balance("MOZ:979797").await, "40.00");

    // A partial reversal, then the rest, then nothing is left to reverse.
    let reversal = |amount: Option<&str>, reference: &str| {
        let mut body = json!({"input_TransactionID": c2b["output_TransactionID"], "input_SecurityCredential": "Mpesa2019",
            "input_InitiatorIdentifier": "MPesa2018", "input_ThirdPartyReference": reference, "input_ServiceProviderCode": "171717"});
        if let Some(a) = amount {
            body["input_ReversalAmount"] = json!(a);
        }
        body
    };
    let (status, body) = app.portal(Method::PUT, "reversal/", &reversal(Some("30"), "rev1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.balance_of_msisdn("258843330333").await, "49930.00");
    let (status, body) = app.portal(Method::PUT, "reversal/", &reversal(Some("71"), "rev2")).await;
    assert_ins(status, &body, 400, "INS-15");
    let (status, _) = app.portal(Method::PUT, "reversal/", &reversal(None, "rev3")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance_of_msisdn("258843330333").await, "50000.00", "the payment came back once, in full");
    let (status, body) = app.portal(Method::PUT, "reversal/", &reversal(None, "rev4")).await;
    assert_ins(status, &body, 400, "INS-18");

    let query = json!({"input_ThirdPartyReference": "q1", "input_QueryReference": c2b["output_TransactionID"], "input_ServiceProviderCode": "171717"});
    let (status, body) = app.portal(Method::GET, "queryTransactionStatus/", &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["output_ResponseTransactionStatus"], "Completed");
    assert!(body.get("output_ConversationID").is_none(), "as the sandbox answered abdulmueid's test suite");
    let by_reference = json!({"input_ThirdPartyReference": "q2", "input_QueryReference": "ref1", "input_ServiceProviderCode": "171717"});
    let (_, body) = app.portal(Method::GET, "queryTransactionStatus/", &by_reference).await;
    assert_eq!(body["output_ResponseTransactionStatus"], "Completed");
    let unknown = json!({"input_ThirdPartyReference": "q3", "input_QueryReference": "nothing", "input_ServiceProviderCode": "171717"});
    let (_, body) = app.portal(Method::GET, "queryTransactionStatus/", &unknown).await;
    assert_eq!(body["output_ResponseTransactionStatus"], "N/A");
}

#[tokio::test]
async fn with_an_async_url_every_api_acknowledges_and_posts_the_result() {
    let app = spawn_with(LOOPBACK).await;
    Mock::given(method("POST")).and(path("/results")).respond_with(ack_ok()).mount(&app.receiver).await;
    let (status, body) = set_async_url(&app, &format!("{}/results", app.receiver.uri())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (api, verb, body) in [
        ("c2bPayment/singleStage/", Method::POST, portal_c2b("258843330333", "10", "a1")),
        ("b2cPayment/", Method::POST, portal_c2b("258843330333", "5", "a2")),
        (
            "b2bPayment/",
            Method::POST,
            json!({"input_TransactionReference": "T1", "input_Amount": "1", "input_ThirdPartyReference": "a3",
                "input_PrimaryPartyCode": "171717", "input_ReceiverPartyCode": "979797"}),
        ),
    ] {
        let (status, ack) = app.portal(verb, api, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{api}: {ack}");
        assert!(ack.get("output_TransactionID").is_none(), "an acknowledgement has no transaction id: {ack}");
        let conversation = ack["output_ConversationID"].as_str().unwrap().to_owned();
        let attempts = app.judged(&conversation).await;
        let result = &attempts[0]["body"];
        assert_key_order(
            &last_received(&app).await,
            &[
                "input_OriginalConversationID",
                "input_ThirdPartyReference",
                "input_TransactionID",
                "input_ResultCode",
                "input_ResultDesc",
            ],
        );
        assert_eq!(result["input_ResultCode"], "0", "the documentation's sample writes success as 0");
        assert_eq!(attempts[0]["acknowledgement"]["accepted"], true, "{api}");
    }
    assert_eq!(app.balance_of_msisdn("258843330333").await, "49995.00");
}

#[tokio::test]
async fn a_wrong_acknowledgement_is_journaled_as_such() {
    let app = spawn_with(LOOPBACK).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"output_ResponseCode": "INS-0"})))
        .mount(&app.receiver)
        .await;
    set_async_url(&app, &format!("{}/r", app.receiver.uri())).await;
    let (_, ack) = app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "w1")).await;
    let conversation = ack["output_ConversationID"].as_str().unwrap().to_owned();
    let attempts = app.judged(&conversation).await;
    assert_eq!(attempts[0]["acknowledgement"]["accepted"], false);
    assert!(attempts[0]["acknowledgement"]["remark"].as_str().unwrap().contains("expected \"0\""));
    let row = app.vodafone_transaction(&conversation).await;
    assert_eq!(row["acknowledgement"]["accepted"], false, "{row}");
}

#[tokio::test]
async fn async_urls_follow_the_seeds_rules() {
    let app = spawn_with("").await;
    let (status, body) = set_async_url(&app, "http://results.example.com:12000/r").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("https"), "{body}");
    let (status, body) = set_async_url(&app, "https://results.example.com/r").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("[11000,19000]"), "{body}");
    let (status, _) = set_async_url(&app, "https://results.example.com:19001/r").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = set_async_url(&app, &format!("{}/r", app.receiver.uri())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "loopback http needs the world switch");
    let (status, body) = set_async_url(&app, "https://results.example.com:12000/r").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = set_async_url(&app, "").await;
    assert_eq!(status, StatusCode::OK, "clearing the URL goes back to synchronous answers");
    let (status, body) =
        app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "1", "s1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["output_TransactionID"].is_string());
}

#[tokio::test]
async fn renewing_the_api_key_refuses_the_old_one_at_once() {
    let app = spawn_with("").await;
    let old = app.vodafone_bearer(SEED_API_KEY);
    let (status, renewed) = app.admin_post("/vodafone/accounts/sandbox/renew-key", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let new_key = renewed["api_key"].as_str().unwrap().to_owned();
    assert_eq!(new_key.len(), 32);
    let (status, body) =
        app.portal_with(&old, Method::POST, "b2cPayment/", &portal_c2b("258843330333", "1", "k1")).await;
    assert_ins(status, &body, 401, "INS-2");
    let fresh = app.vodafone_bearer(&new_key);
    let (status, _) =
        app.portal_with(&fresh, Method::POST, "b2cPayment/", &portal_c2b("258843330333", "1", "k2")).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn every_refusal_has_the_portals_code_and_status() {
    let app = &spawn_with("").await;
    let c2b = "c2bPayment/singleStage/";
    let call = |body: Value| async move { app.portal(Method::POST, c2b, &body).await };
    let with = |field: &str, value: Value| {
        let mut body = portal_c2b("258843330333", "10", "r0");
        body[field] = value;
        body
    };
    let (s, b) = call(json!({})).await;
    assert_ins(s, &b, 400, "INS-20");
    let (s, b) = call(with("input_Amount", json!("ten"))).await;
    assert_ins(s, &b, 400, "INS-15");
    let (s, b) = call(with("input_ServiceProviderCode", json!("17"))).await;
    assert_ins(s, &b, 400, "INS-13");
    let (s, b) = call(with("input_ServiceProviderCode", json!("999999"))).await;
    assert_ins(s, &b, 400, "INS-13");
    let (s, b) = call(with("input_TransactionReference", json!("T-1"))).await;
    assert_ins(s, &b, 400, "INS-17");
    let (s, b) = call(with("input_ThirdPartyReference", json!("a b"))).await;
    assert_ins(s, &b, 400, "INS-19");
    let (s, b) = call(with("input_CustomerMSISDN", json!("+258843330333"))).await;
    assert_ins(s, &b, 400, "INS-2051");
    let bearer = app.vodafone_bearer(SEED_API_KEY);
    let res = app
        .http
        .post(app.url("/ipg/v1x/c2bPayment/singleStage/"))
        .bearer_auth(&bearer)
        .body("not json")
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_ins(status, &res.json().await.unwrap(), 400, "INS-21");
    let (s, b) = app.portal(Method::GET, c2b, &json!({})).await;
    assert_ins(s, &b, 405, "INS-22");
    let (s, b) = app.portal(Method::POST, "nothing/", &json!({})).await;
    assert_ins(s, &b, 404, "INS-22");
    let (s, b) = app.portal_with("not*base64", Method::POST, c2b, &json!({})).await;
    assert_ins(s, &b, 401, "INS-2");
    let two_k = include_str!("../../../src/vodafone/testdata/java-bearer-2048.txt").trim();
    let (s, b) = app.portal_with(two_k, Method::POST, c2b, &json!({})).await;
    assert_ins(s, &b, 401, "INS-2");
    let (s, b) = app.portal_with(&app.vodafone_bearer(&app.app_key("vodacomMOZ")), Method::POST, c2b, &json!({})).await;
    assert_ins(s, &b, 401, "INS-2");
    let bad_credential = json!({"input_TransactionID": "X1", "input_SecurityCredential": "wrong",
        "input_InitiatorIdentifier": "MPesa2018", "input_ThirdPartyReference": "v1", "input_ServiceProviderCode": "171717"});
    let (s, b) = app.portal(Method::PUT, "reversal/", &bad_credential).await;
    assert_ins(s, &b, 400, "INS-25");
    let (s, b) = app.portal(Method::PUT, "reversal/", &json!({"input_TransactionID": "X1", "input_SecurityCredential": "Mpesa2019",
        "input_InitiatorIdentifier": "someone", "input_ThirdPartyReference": "v1", "input_ServiceProviderCode": "171717"})).await;
    assert_ins(s, &b, 400, "INS-24");
    let (s, b) = app.portal(Method::PUT, "reversal/", &json!({"input_TransactionID": "NOSUCH1", "input_SecurityCredential": "Mpesa2019",
        "input_InitiatorIdentifier": "MPesa2018", "input_ThirdPartyReference": "v1", "input_ServiceProviderCode": "171717"})).await;
    assert_ins(s, &b, 400, "INS-18");

    let (status, _) = app.admin_post("/vodafone/accounts/sandbox/status", &json!({ "active": false })).await;
    assert_eq!(status, StatusCode::OK);
    let (s, b) = call(portal_c2b("258843330333", "10", "r9")).await;
    assert_ins(s, &b, 401, "INS-4");
    let (_, requests) = app.admin_get("/requests?errors=true").await;
    let diagnoses: Vec<&str> =
        requests["requests"].as_array().unwrap().iter().filter_map(|r| r["diagnosis"].as_str()).collect();
    assert!(diagnoses.iter().any(|d| d.contains("2048-bit key")), "{diagnoses:?}");
    assert!(diagnoses.iter().all(|d| !d.contains(SEED_API_KEY)), "no diagnosis repeats the key");
}

#[tokio::test]
async fn a_duplicate_reference_is_refused_with_the_first_transactions_ids() {
    let app = spawn_with("").await;
    let (_, first) =
        app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "3QYWDW")).await;
    let (status, again) =
        app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "3QYWDW")).await;
    assert_ins(status, &again, 409, "INS-10");
    assert_eq!(again["output_TransactionID"], first["output_TransactionID"]);
    assert_eq!(again["output_ConversationID"], first["output_ConversationID"]);
    assert_eq!(app.balance_of_msisdn("258843330333").await, "49990.00", "paid once");
}

#[tokio::test]
async fn the_trigger_msisdns_produce_their_codes_without_moving_money() {
    let app = spawn_with("").await;
    let before = totals(&app).await;
    for (msisdn, status, code) in [
        ("258840000001", 500, "INS-1"),
        ("258840000005", 401, "INS-5"),
        ("258840000006", 401, "INS-6"),
        ("258840000009", 408, "INS-9"),
        ("258840000016", 503, "INS-16"),
        ("258840002006", 422, "INS-2006"),
    ] {
        let (s, b) = app
            .portal(
                Method::POST,
                "c2bPayment/singleStage/",
                &portal_c2b(msisdn, "10", &format!("t{}", code.replace('-', ""))),
            )
            .await;
        assert_ins(s, &b, status, code);
        assert!(b["output_ConversationID"].is_string(), "a failed transaction still has its ids: {b}");
    }
    assert_eq!(totals(&app).await, before);
}

#[tokio::test]
async fn the_alternate_status_table_is_a_world_switch() {
    let app = spawn_with("[vodafone]\nportal_status_table = \"alternate\"\n").await;
    let (s, b) = app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258840002006", "10", "alt")).await;
    assert_ins(s, &b, 400, "INS-2006");
}

#[tokio::test]
async fn reports_count_and_sum_per_api_and_result() {
    let app = spawn_with("").await;
    app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "p1")).await;
    app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "15.50", "p2")).await;
    app.portal(Method::POST, "c2bPayment/singleStage/", &portal_c2b("258840000006", "5", "p3")).await;
    let (status, report) = app.admin_get("/vodafone/reports?owner=sandbox").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["currency"], "MZN");
    let rows = report["rows"].as_array().unwrap();
    assert!(
        rows.contains(&json!({"api": "c2b_payment", "result_code": "INS-0", "count": 2, "amount": "25.50"})),
        "{report}"
    );
    assert!(
        rows.contains(&json!({"api": "c2b_payment", "result_code": "INS-6", "count": 1, "amount": "5.00"})),
        "{report}"
    );
    let csv = app
        .http
        .get(app.url("/__sandbox/vodafone/reports?owner=sandbox&format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("api,result_code,count,amount,currency\n"), "{csv}");
    assert!(csv.contains("c2b_payment,INS-0,2,25.50,MZN"), "{csv}");
}

#[tokio::test]
async fn an_origin_outside_the_accounts_list_is_not_authorized() {
    let app = spawn_with("[[vodafone.accounts]]\nname = \"sandbox\"\norigins = [\"developer.mpesa.vm.co.mz\"]\n").await;
    let bearer = app.vodafone_bearer(SEED_API_KEY);
    let body = portal_c2b("258843330333", "10", "o1");
    let (s, b) = app
        .vodafone_call("/ipg/v1x/c2bPayment/singleStage/", &bearer, Method::POST, &body, &[("Origin", "example.com")])
        .await;
    assert_ins(s, &b, 400, "INS-26");
    let allowed = app
        .http
        .post(app.url("/ipg/v1x/c2bPayment/singleStage/"))
        .bearer_auth(&bearer)
        .header("Origin", "developer.mpesa.vm.co.mz")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_new_tenant_gets_its_own_api_keys_and_ledger() {
    let app = spawn_with("").await;
    let (status, tenant) = app.admin_post("/tenants", &json!({ "id": "team-a" })).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let key = tenant["vodafone"]["api_key"].as_str().unwrap().to_owned();
    assert_ne!(key, SEED_API_KEY, "a tenant's copy of the default account gets a fresh key");
    let bearer = app.vodafone_bearer(&key);
    let (status, _) = app
        .portal_with(&bearer, Method::POST, "c2bPayment/singleStage/", &portal_c2b("258843330333", "10", "t1"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, theirs) = app.admin_get("/tenants/team-a/accounts?msisdn=258843330333").await;
    assert_eq!(theirs["accounts"][0]["balance"], "49990.00");
    assert_eq!(app.balance_of_msisdn("258843330333").await, "50000.00", "the default tenant is untouched");
}
