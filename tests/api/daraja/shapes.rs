//! Shape conformance: every body Daraja emits, checked against the golden
//! shape captured traffic shows (`tests/golden/daraja/`, vocabulary in its
//! README).
//!
//! One data-driven test drives a sandbox over HTTP until it has emitted
//! every kind of body the code declares (`pesa_sandbox::daraja::shapes::NAMES`),
//! reads each response's bytes off the socket and each callback's bytes as
//! wiremock received them, and checks key order, value types and
//! object-versus-array shape, plus each response's status and content type.
//! It fails when a declared kind has no golden file, a golden file names no
//! declared kind, a declared kind is never emitted, or a body does not match.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::money::{credential, MONEY_WORLD, PASSWORD};
use crate::daraja::{lnm_password, timestamp_now, PASSKEY};
use crate::helpers::{spawn_virtual, TestApp};

// ---------------------------------------------------------------------------
// JSON read keeping key order and number spelling.

/// A JSON value whose objects keep their keys in the order they were
/// written, and whose numbers remember whether they had a fraction.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    Text(String),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

impl Tree {
    fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Tree::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tree::Null => write!(f, "null"),
            Tree::Bool(b) => write!(f, "{b}"),
            Tree::Integer(n) => write!(f, "{n}"),
            Tree::Float(x) => write!(f, "{x:?}"),
            Tree::Text(t) => write!(f, "{t:?}"),
            Tree::Array(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    write!(f, "{}{item}", if i > 0 { "," } else { "" })?;
                }
                write!(f, "]")
            }
            Tree::Object(entries) => {
                write!(f, "{{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    write!(f, "{}{k:?}:{v}", if i > 0 { "," } else { "" })?;
                }
                write!(f, "}}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tree, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Tree, E> {
        Ok(Tree::Integer(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Tree, E> {
        Ok(Tree::Integer(n.into()))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Tree, E> {
        Ok(Tree::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
        Ok(Tree::Text(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Tree, E> {
        Ok(Tree::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Tree>()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Tree>()? {
            entries.push((key, value));
        }
        Ok(Tree::Object(entries))
    }
}

// ---------------------------------------------------------------------------
// Golden shapes and the matcher.

struct Golden {
    transport: String,
    http_status: Option<Tree>,
    content_type: Option<String>,
    shape: Tree,
    sources: String,
}

fn goldens() -> BTreeMap<String, Golden> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/daraja");
    let mut goldens = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the golden folder exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file: Tree = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let kind = file.get("kind").and_then(Tree::text).expect("a golden names its kind").to_owned();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(kind, stem, "{} is named after its kind", path.display());
        let golden = Golden {
            transport: file.get("transport").and_then(Tree::text).unwrap_or_default().to_owned(),
            http_status: file.get("http_status").cloned(),
            content_type: file.get("content_type").and_then(Tree::text).map(str::to_owned),
            shape: file.get("shape").cloned().expect("a golden has a shape"),
            sources: file.get("source").map(ToString::to_string).unwrap_or_default(),
        };
        goldens.insert(kind, golden);
    }
    goldens
}

/// Whether an emitted value is of a tag's JSON type.
fn tag_matches(tag: &str, got: &Tree) -> bool {
    match tag {
        "$string" => matches!(got, Tree::Text(_)),
        "$integer" => matches!(got, Tree::Integer(_)),
        "$number" => matches!(got, Tree::Integer(_) | Tree::Float(_)),
        "$bool" => matches!(got, Tree::Bool(_)),
        "$null" => matches!(got, Tree::Null),
        _ => false,
    }
}

/// Checks an emitted tree against a golden shape; the error names the
/// first mismatch's path and both values.
fn conforms(want: &Tree, got: &Tree, path: &str) -> Result<(), String> {
    let mismatch =
        |what: &str| Err(format!("at {}: {what}; want {want}, got {got}", if path.is_empty() { "$" } else { path }));
    match want {
        Tree::Text(tags) if tags.starts_with('$') => match tags.split('|').any(|tag| tag_matches(tag, got)) {
            true => Ok(()),
            false => mismatch("wrong type"),
        },
        Tree::Object(entries) if entries.len() == 1 && entries[0].0 == "$each" => match got {
            Tree::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| conforms(&entries[0].1, item, &format!("{path}[{i}]"))),
            _ => mismatch("not an array"),
        },
        Tree::Object(want_entries) => {
            let Tree::Object(got_entries) = got else { return mismatch("not an object") };
            let want_keys: Vec<&str> = want_entries.iter().map(|(k, _)| k.as_str()).collect();
            let got_keys: Vec<&str> = got_entries.iter().map(|(k, _)| k.as_str()).collect();
            if want_keys != got_keys {
                return mismatch(&format!("keys {got_keys:?} instead of {want_keys:?}"));
            }
            want_entries.iter().zip(got_entries).try_for_each(|((key, w), (_, g))| {
                conforms(w, g, &if path.is_empty() { key.clone() } else { format!("{path}.{key}") })
            })
        }
        Tree::Array(want_items) => {
            let Tree::Array(got_items) = got else { return mismatch("not an array") };
            if want_items.len() != got_items.len() {
                return mismatch(&format!("{} items instead of {}", got_items.len(), want_items.len()));
            }
            want_items
                .iter()
                .zip(got_items)
                .enumerate()
                .try_for_each(|(i, (w, g))| conforms(w, g, &format!("{path}[{i}]")))
        }
        constant => match constant == got {
            true => Ok(()),
            false => mismatch("a different constant"),
        },
    }
}

#[test]
fn the_matcher_tells_order_types_and_shapes_apart() {
    let parse = |text: &str| serde_json::from_str::<Tree>(text).unwrap();
    let shape = parse(r#"{"A":"$integer","B":[{"Key":"X"}],"C":{"$each":"$string|$integer"},"D":"0"}"#);
    assert!(conforms(&shape, &parse(r#"{"A":1,"B":[{"Key":"X"}],"C":["a",2],"D":"0"}"#), "").is_ok());
    let wrong = [
        r#"{"B":[{"Key":"X"}],"A":1,"C":[],"D":"0"}"#,
        r#"{"A":1.0,"B":[{"Key":"X"}],"C":[],"D":"0"}"#,
        r#"{"A":1,"B":{"Key":"X"},"C":[],"D":"0"}"#,
        r#"{"A":1,"B":[{"Key":"X","Value":1}],"C":[],"D":"0"}"#,
        r#"{"A":1,"B":[{"Key":"X"}],"C":[true],"D":"0"}"#,
        r#"{"A":1,"B":[{"Key":"X"}],"C":[],"D":0}"#,
    ];
    for text in wrong {
        assert!(conforms(&shape, &parse(text), "").is_err(), "{text}");
    }
}

// ---------------------------------------------------------------------------
// Driving the sandbox.

/// A response read off the socket.
struct Emitted {
    kind: &'static str,
    what: String,
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

struct Driver {
    app: TestApp,
    token: String,
    responses: Vec<Emitted>,
    /// Each callback kind and the receiver path its cases call back to.
    callbacks: Vec<(&'static str, String)>,
}

/// Apps, shortcodes and tenants the cases need, over the fast money world.
const WORLD: &str = r#"
[[apps]]
name = "Express only"
consumer_key = "conformance-express-only"
consumer_secret = "conformance-express-only-secret"
products = ["lipa_na_mpesa"]

[[shortcodes]]
number = "600555"
kind = "paybill"
name = "Validating Paybill"
balance = 0
external_validation = true
"#;

/// Rules that make the variants and failures appear on chosen numbers.
const SCENARIO: &str = r#"
[[rules]]
when = { operation = "stk_push", msisdn = "254700000101" }
variants = { balance_item = false }
[[rules]]
when = { operation = "stk_push", msisdn = "254700000102" }
variants = { phone_number = "hashed" }
[[rules]]
when = { operation = "stk_query", shortcode = "400200" }
variants = { stk_query_description = "legacy" }
[[rules]]
when = { operation = "stk_query", fields = { CheckoutRequestID = "apigee" } }
fault = { error = "spike_arrest" }
[[rules]]
when = { operation = "stk_query", fields = { CheckoutRequestID = "envelope" } }
fault = { error = "500.003.02" }
[[rules]]
when = { operation = "c2b_register", shortcode = "600556" }
variants = { c2b_register_ack = "legacy" }
[[rules]]
when = { operation = ["b2b", "tax_remittance"], shortcode = "600557" }
outcome = { result_code = 8006 }
variants = { result_shape = "documentation" }
[[rules]]
when = { operation = "account_balance", shortcode = "600557" }
variants = { result_shape = "documentation" }
[[rules]]
when = { shortcode = "600558" }
outcome = { result_code = 8006 }
[[rules]]
when = { operation = "b2c", shortcode = "600559" }
callback = { queue_timeout_first = true }
[[rules]]
when = { operation = "pull_query", shortcode = "600984" }
variants = { pull_id_key = "ResponseRefID" }
"#;

impl Driver {
    fn cb(&self, label: &str) -> String {
        format!("{}/cb/{label}", self.app.receiver.uri())
    }

    /// Sends a request and keeps the answer's bytes as the kind it should be.
    async fn send(&mut self, kind: &'static str, request: reqwest::RequestBuilder, what: &str) -> Value {
        let res = request.send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let body = res.bytes().await.unwrap().to_vec();
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        self.responses.push(Emitted { kind, what: what.to_owned(), status, content_type, body });
        value
    }

    async fn post(&mut self, kind: &'static str, path: &str, body: &Value) -> Value {
        let request = self.app.http.post(self.app.url(path)).bearer_auth(&self.token).json(body);
        self.send(kind, request, path).await
    }

    async fn post_as(&mut self, kind: &'static str, token: &str, path: &str, body: &Value) -> Value {
        let request = self.app.http.post(self.app.url(path)).bearer_auth(token).json(body);
        self.send(kind, request, path).await
    }

    async fn token_of(&mut self, kind: &'static str, key: &str, secret: &str) -> String {
        let request = self
            .app
            .http
            .get(self.app.url("/oauth/v1/generate?grant_type=client_credentials"))
            .basic_auth(key, Some(secret));
        let body = self.send(kind, request, "/oauth/v1/generate").await;
        body["access_token"].as_str().expect("a token").to_owned()
    }

    fn expect_callback(&mut self, kind: &'static str, label: &str) {
        self.callbacks.push((kind, format!("/cb/{label}")));
    }

    /// An STK push to 174379 calling back to `label`; returns the CheckoutRequestID.
    async fn push(&mut self, msisdn: &str, amount: i64, label: &str, callback: &'static str) -> String {
        let mut body = self.app.stk_body(msisdn, amount);
        body["CallBackURL"] = json!(self.cb(label));
        let ack = self.post("stk_push_ack", "/mpesa/stkpush/v1/processrequest", &body).await;
        self.expect_callback(callback, label);
        ack["CheckoutRequestID"].as_str().expect("a CheckoutRequestID").to_owned()
    }

    async fn query(&mut self, kind: &'static str, shortcode: &str, passkey: &str, checkout: &str) -> Value {
        let ts = timestamp_now();
        let body = json!({
            "BusinessShortCode": shortcode,
            "Password": lnm_password(shortcode, passkey, &ts),
            "Timestamp": ts,
            "CheckoutRequestID": checkout,
        });
        self.post(kind, "/mpesa/stkpushquery/v1/query", &body).await
    }

    /// A result API request whose result goes to `label/result`.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &mut self,
        ack: &'static str,
        path: &str,
        mut body: Value,
        label: &str,
        result: &'static str,
    ) -> Value {
        body["ResultURL"] = json!(self.cb(&format!("{label}/result")));
        body["QueueTimeOutURL"] = json!(self.cb(&format!("{label}/timeout")));
        let answer = self.post(ack, path, &body).await;
        self.expect_callback(result, &format!("{label}/result"));
        answer
    }

    async fn advance(&self, ms: u64) {
        self.app.advance_ms(ms).await;
    }

    /// The bodies wiremock received at a path, in arrival order.
    async fn received(&self, path: &str) -> Vec<Vec<u8>> {
        let requests = self.app.receiver.received_requests().await.unwrap_or_default();
        requests.into_iter().filter(|r| r.url.path() == path).map(|r| r.body).collect()
    }
}

fn b2c(party_a: &str, command: &str) -> Value {
    json!({
        "InitiatorName": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": command,
        "Amount": 100,
        "PartyA": party_a,
        "PartyB": "254708374149",
        "Remarks": "Salary",
        "Occassion": "",
    })
}

fn b2b(party_a: &str, command: &str, party_b: &str, reference: Option<&str>) -> Value {
    let mut body = json!({
        "Initiator": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": command,
        "SenderIdentifierType": "4",
        "RecieverIdentifierType": "4",
        "Amount": 50,
        "PartyA": party_a,
        "PartyB": party_b,
        "Remarks": "Stock",
    });
    if let Some(reference) = reference {
        body["AccountReference"] = json!(reference);
    }
    body
}

fn balance(party_a: &str) -> Value {
    json!({
        "Initiator": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": "AccountBalance",
        "PartyA": party_a,
        "IdentifierType": "4",
        "Remarks": "Balance",
    })
}

fn status(party_a: &str, receipt: &str, occasion: Option<&str>) -> Value {
    let mut body = json!({
        "Initiator": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": "TransactionStatusQuery",
        "TransactionID": receipt,
        "PartyA": party_a,
        "IdentifierType": "4",
        "Remarks": "Status",
    });
    if let Some(occasion) = occasion {
        body["Occasion"] = json!(occasion);
    }
    body
}

fn reversal(receipt: &str, amount: i64) -> Value {
    json!({
        "Initiator": "testapi",
        "SecurityCredential": credential(PASSWORD),
        "CommandID": "TransactionReversal",
        "TransactionID": receipt,
        "Amount": amount,
        "ReceiverParty": "174379",
        "RecieverIdentifierType": "11",
        "Remarks": "Refund",
    })
}

fn pull_query(shortcode: &str, start: &str, end: &str) -> Value {
    json!({ "ShortCode": shortcode, "StartDate": start, "EndDate": end, "OffSetValue": "0" })
}

/// Makes the sandbox emit every kind of body at least once.
async fn drive() -> Driver {
    let app = spawn_virtual(&format!("{WORLD}\n{MONEY_WORLD}")).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ResultCode": "0", "ResultDesc": "Accepted" })))
        .mount(&app.receiver)
        .await;
    let res = app.http.put(app.url("/__sandbox/scenarios")).body(SCENARIO).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let started = chrono::Utc::now();
    let (key, secret) = (app.creds.daraja.consumer_key.clone(), app.creds.daraja.consumer_secret.clone());
    let mut d = Driver { app, token: String::new(), responses: Vec::new(), callbacks: Vec::new() };
    d.token = d.token_of("token", &key, &secret).await;

    // Another tenant whose world writes expires_in as a number.
    let (_, tenant) = d.app.admin_post("/tenants", &json!({ "world": "[daraja]\nexpires_in = \"number\"\n" })).await;
    let (tenant_key, tenant_secret) = (
        tenant["daraja"]["consumer_key"].as_str().unwrap().to_owned(),
        tenant["daraja"]["consumer_secret"].as_str().unwrap().to_owned(),
    );
    d.token_of("token_expires_in_number", &tenant_key, &tenant_secret).await;

    // M-Pesa Express.
    let paid = d.push("254708374149", 300, "stk-paid", "stk_callback_success").await;
    d.push("254711001032", 10, "stk-cancelled", "stk_callback_failure").await;
    d.push("254700000101", 10, "stk-no-balance", "stk_callback_success_no_balance").await;
    d.push("254700000102", 10, "stk-hashed", "stk_callback_success_hashed_phone").await;
    let store_passkey =
        d.app.creds.daraja.lipa_na_mpesa.iter().find(|l| l.business_short_code == "400200").unwrap().passkey.clone();
    let ts = timestamp_now();
    let mut store = d.app.stk_body("254722000000", 20);
    store["BusinessShortCode"] = json!("400200");
    store["Password"] = json!(lnm_password("400200", &store_passkey, &ts));
    store["Timestamp"] = json!(ts);
    store["TransactionType"] = json!("CustomerBuyGoodsOnline");
    store["PartyB"] = json!("500200");
    store["CallBackURL"] = json!(d.cb("stk-store"));
    let store_ack = d.post("stk_push_ack", "/mpesa/stkpush/v1/processrequest", &store).await;
    d.expect_callback("stk_callback_success", "stk-store");
    d.query("stk_query_pending_error", "174379", PASSKEY, &paid).await;
    d.query("apigee_spike_arrest", "174379", PASSKEY, "apigee").await;
    d.query("spike_arrest_envelope", "174379", PASSKEY, "envelope").await;
    let mut bad = d.app.stk_body("254708374149", 1);
    bad["Amount"] = json!("ten");
    d.post("error_envelope", "/mpesa/stkpush/v1/processrequest", &bad).await;
    d.advance(20).await;
    d.query("stk_query_result", "174379", PASSKEY, &paid).await;
    let store_checkout = store_ack["CheckoutRequestID"].as_str().unwrap().to_owned();
    d.query("stk_query_result_legacy_desc", "400200", &store_passkey, &store_checkout).await;
    let paid_callback = d.received("/cb/stk-paid").await;
    let paid_callback: Value =
        serde_json::from_slice(paid_callback.first().expect("the paid push called back")).unwrap();
    let stk_receipt =
        paid_callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"][1]["Value"].as_str().unwrap().to_owned();

    // API products.
    let bare = d.token_of("token", "conformance-express-only", "conformance-express-only-secret").await;
    d.post_as("error_product_missing", &bare, "/mpesa/b2c/v1/paymentrequest", &b2c("600999", "BusinessPayment")).await;
    d.post_as(
        "error_product_missing_empty_detail",
        &bare,
        "/mpesa/b2pochi/v1/paymentrequest",
        &b2c("600999", "BusinessPayToPochi"),
    )
    .await;
    let pull_register = json!({ "ShortCode": "174379", "RequestType": "Pull", "NominatedNumber": "0722000000", "CallBackURL": d.cb("pull") });
    d.post_as("error_pull_unauthorised", &bare, "/pulltransactions/v1/register", &pull_register).await;

    // The APIs answered through ResultURL.
    let b2c_ack = d
        .request(
            "b2c_ack",
            "/mpesa/b2c/v1/paymentrequest",
            b2c("600999", "BusinessPayment"),
            "b2c",
            "b2c_result_success",
        )
        .await;
    d.request(
        "b2c_ack",
        "/mpesa/b2c/v3/paymentrequest",
        b2c("600558", "BusinessPayment"),
        "b2c-locked",
        "b2c_result_failure",
    )
    .await;
    d.request(
        "b2c_ack",
        "/mpesa/b2pochi/v1/paymentrequest",
        b2c("600999", "BusinessPayToPochi"),
        "pochi",
        "b2pochi_result_success",
    )
    .await;
    d.request(
        "b2c_ack",
        "/mpesa/b2pochi/v1/paymentrequest",
        b2c("600558", "BusinessPayToPochi"),
        "pochi-locked",
        "b2pochi_result_failure",
    )
    .await;
    let b2b_path = "/mpesa/b2b/v1/paymentrequest";
    let tax_path = "/mpesa/b2b/v1/remittax";
    let cases = [
        (
            b2b_path,
            b2b("600000", "BusinessPayBill", "600984", Some("353353")),
            "b2b-ref",
            "b2b_result_success_with_reference",
        ),
        (
            b2b_path,
            b2b("600000", "BusinessBuyGoods", "500200", None),
            "b2b-goods",
            "b2b_result_success_without_reference",
        ),
        (
            b2b_path,
            b2b("600558", "BusinessPayBill", "600000", Some("1d2ea2b9")),
            "b2b-ref-locked",
            "b2b_result_failure_with_reference",
        ),
        (
            b2b_path,
            b2b("600558", "BusinessBuyGoods", "500200", None),
            "b2b-goods-locked",
            "b2b_result_failure_without_reference",
        ),
        (b2b_path, b2b("600557", "BusinessPayBill", "600000", Some("353353")), "b2b-doc", "b2b_result_failure_doc"),
        (tax_path, b2b("600000", "PayTaxToKRA", "572572", Some("PRN1234XN")), "tax", "tax_result_success"),
        (tax_path, b2b("600558", "PayTaxToKRA", "572572", Some("353353")), "tax-locked", "tax_result_failure"),
        (tax_path, b2b("600557", "PayTaxToKRA", "572572", Some("PRN1234XN")), "tax-doc", "tax_result_failure_doc"),
        ("/mpesa/accountbalance/v1/query", balance("600000"), "balance", "balance_result_success"),
        ("/mpesa/accountbalance/v1/query", balance("600557"), "balance-doc", "balance_result_success_doc"),
        ("/mpesa/accountbalance/v1/query", balance("600558"), "balance-locked", "balance_result_failure"),
        ("/mpesa/reversal/v1/request", reversal("NOPE000000", 300), "reversal-unknown", "reversal_result_failure"),
        (
            "/mpesa/transactionstatus/v1/query",
            status("174379", &stk_receipt, Some("OK")),
            "status-customer",
            "status_result_success_customer_payment",
        ),
        (
            "/mpesa/transactionstatus/v1/query",
            status("174379", "ZZZ0000000", None),
            "status-unknown",
            "status_result_failure",
        ),
    ];
    for (path, body, label, result) in cases {
        d.request("request_ack", path, body, label, result).await;
    }
    d.request(
        "b2c_ack",
        "/mpesa/b2c/v1/paymentrequest",
        b2c("600559", "BusinessPayment"),
        "queued",
        "b2c_result_success",
    )
    .await;
    d.expect_callback("queue_timeout_notice", "queued/timeout");
    d.advance(20).await;
    let b2c_result: Value = serde_json::from_slice(&d.received("/cb/b2c/result").await[0]).unwrap();
    let b2c_receipt = b2c_result["Result"]["TransactionID"].as_str().unwrap().to_owned();
    assert_eq!(b2c_ack["ResponseCode"], "0");
    d.request(
        "request_ack",
        "/mpesa/transactionstatus/v1/query",
        status("600999", &b2c_receipt, Some("Audit")),
        "status-business",
        "status_result_success_business_payment",
    )
    .await;
    d.request(
        "request_ack",
        "/mpesa/reversal/v1/request",
        reversal(&stk_receipt, 300),
        "reversal",
        "reversal_result_success",
    )
    .await;
    d.advance(20).await;
    d.advance(5000).await;

    // C2B.
    let register = |label: &str, shortcode: &str, d: &Driver| {
        json!({
            "ShortCode": shortcode,
            "ResponseType": "Completed",
            "ConfirmationURL": d.cb(&format!("{label}/confirm")),
            "ValidationURL": d.cb(&format!("{label}/validate")),
        })
    };
    let body = register("c2b-555", "600555", &d);
    d.post("c2b_register_ack_v2", "/mpesa/c2b/v2/registerurl", &body).await;
    let body = register("c2b-984", "600984", &d);
    d.post("c2b_register_ack_v1", "/mpesa/c2b/v1/registerurl", &body).await;
    let body = register("c2b-556", "600556", &d);
    d.post("c2b_register_ack_legacy", "/mpesa/c2b/v1/registerurl", &body).await;
    let body = register("c2b-174", "174379", &d);
    d.post("soap_fault_c2b_register", "/mpesa/c2b/v2/registerurl", &body).await;
    for (shortcode, version) in [("600555", "v2"), ("600984", "v1")] {
        let pay = json!({ "ShortCode": shortcode, "CommandID": "CustomerPayBillOnline", "Amount": 75, "Msisdn": "254708374149", "BillRefNumber": "INV-9" });
        d.post("c2b_simulate_ack", &format!("/mpesa/c2b/{version}/simulate"), &pay).await;
    }
    d.expect_callback("c2b_validation", "c2b-555/validate");
    d.expect_callback("c2b_confirmation", "c2b-555/confirm");
    d.expect_callback("c2b_confirmation", "c2b-984/confirm");
    d.advance(20).await;
    d.advance(20).await;

    // Pull Transactions and Dynamic QR, over the payments above.
    let eat =
        |at: chrono::DateTime<chrono::Utc>| (at + chrono::Duration::hours(3)).format("%Y-%m-%d %H:%M:%S").to_string();
    let (from, to) = (eat(started - chrono::Duration::hours(1)), eat(started + chrono::Duration::hours(1)));
    let (old_from, old_to) = (eat(started - chrono::Duration::hours(30)), eat(started - chrono::Duration::hours(29)));
    for shortcode in ["174379", "600984"] {
        let body = json!({ "ShortCode": shortcode, "RequestType": "Pull", "NominatedNumber": "0722000000", "CallBackURL": d.cb("pull") });
        d.post("pull_register_ack", "/pulltransactions/v1/register", &body).await;
    }
    d.post("pull_query_found", "/pulltransactions/v1/query", &pull_query("174379", &from, &to)).await;
    d.post("pull_query_found_doc", "/pulltransactions/v1/query", &pull_query("600984", &from, &to)).await;
    d.post("pull_query_empty", "/pulltransactions/v1/query", &pull_query("174379", &old_from, &old_to)).await;
    let qr = json!({ "MerchantName": "TEST SUPERMARKET", "RefNo": "Invoice Test", "Amount": 1, "TrxCode": "BG", "CPI": "373132", "Size": "300" });
    d.post("qr_generate", "/mpesa/qrcode/v1/generate", &qr).await;
    d
}

#[tokio::test]
async fn every_body_the_sandbox_emits_follows_its_golden_shape() {
    let goldens = goldens();
    let declared: BTreeSet<&str> = pesa_sandbox::daraja::shapes::NAMES.iter().copied().collect();
    let filed: BTreeSet<&str> = goldens.keys().map(String::as_str).collect();
    let mut failures = Vec::new();
    for kind in declared.difference(&filed) {
        failures.push(format!("{kind}: the sandbox emits it, but tests/golden/daraja/{kind}.json does not exist"));
    }
    for kind in filed.difference(&declared) {
        failures.push(format!("{kind}: a golden file, but src/daraja/shapes.rs declares no such kind"));
    }

    let d = drive().await;
    let mut emitted: BTreeSet<&str> = BTreeSet::new();
    for response in &d.responses {
        emitted.insert(response.kind);
        let Some(golden) = goldens.get(response.kind) else { continue };
        let what = format!("{} ({}, from {})", response.kind, response.what, golden.sources);
        if golden.transport != "response" {
            failures.push(format!("{what}: emitted as a response, filed as a {}", golden.transport));
        }
        let body: Tree = match serde_json::from_slice(&response.body) {
            Ok(tree) => tree,
            Err(e) => {
                failures.push(format!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(&response.body)));
                continue;
            }
        };
        if let Err(e) = conforms(&golden.shape, &body, "") {
            failures.push(format!("{what}: {e}"));
        }
        let status_ok = match &golden.http_status {
            Some(Tree::Integer(n)) => i128::from(response.status) == *n,
            // The envelope's status is its code's first three digits.
            _ => body
                .get("errorCode")
                .and_then(Tree::text)
                .and_then(|code| code.get(..3))
                .is_some_and(|prefix| prefix == response.status.to_string()),
        };
        if !status_ok {
            failures.push(format!("{what}: HTTP {} instead of {:?}", response.status, golden.http_status));
        }
        if golden.content_type.is_some() && golden.content_type != response.content_type {
            failures
                .push(format!("{what}: Content-Type {:?} instead of {:?}", response.content_type, golden.content_type));
        }
    }
    for (kind, path) in &d.callbacks {
        emitted.insert(kind);
        let Some(golden) = goldens.get(*kind) else { continue };
        let what = format!("{kind} (callback to {path}, from {})", golden.sources);
        if golden.transport != "callback" {
            failures.push(format!("{what}: emitted as a callback, filed as a {}", golden.transport));
        }
        let bodies = d.received(path).await;
        if bodies.is_empty() {
            failures.push(format!("{what}: never arrived"));
        }
        for body in bodies {
            match serde_json::from_slice::<Tree>(&body) {
                Ok(tree) => {
                    if let Err(e) = conforms(&golden.shape, &tree, "") {
                        failures.push(format!("{what}: {e}"));
                    }
                }
                Err(e) => failures.push(format!("{what}: not JSON ({e})")),
            }
        }
    }
    for kind in declared.difference(&emitted) {
        failures.push(format!("{kind}: no case here makes the sandbox emit it; add one to drive()"));
    }
    assert!(failures.is_empty(), "{} bodies differ from their golden shapes:\n{}", failures.len(), failures.join("\n"));
}
