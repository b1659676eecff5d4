//! Client libraries nobody on the team wrote, unmodified, pointed at the
//! sandbox as their users point them at the real gateways: only the host (and
//! for the OpenAPI the port) changes.
//!
//! - `@paymentsds/mpesa` 0.1.0-alpha-9 (`tests/clients/paymentsds/`, run by
//!   `node`): the Mozambique portal on its per-API ports, loaded both ways its
//!   README shows (ES module over http, CommonJS over https with the test CA).
//! - The OpenAPI portal's own Python SDK (`open_api` in `pypesa` 0.0.3,
//!   `tests/clients/pypesa/`, run by `python3`): session, C2B, status and
//!   reversal in all five markets.
//!
//! This is the one test of the `api` binary that binds the portal's fixed
//! ports; `tests/binary.rs` binds them too, but it is another test binary and
//! `cargo test` runs test binaries one after another (a runner that runs
//! binaries in parallel, such as nextest, needs the two kept apart).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{totals, LOOPBACK, SEED_API_KEY};
use crate::helpers::{spawn_config, TestApp};
use pesa_sandbox::Config;

/// How long one run of a client may take (each makes a dozen local calls).
const CLIENT_PATIENCE: Duration = Duration::from_secs(60);

fn client_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

/// Runs a driver script with `input` on its standard input and returns the
/// JSON lines it printed, one per SDK call.
async fn run_driver(program: &str, script: PathBuf, input: &Value, env: &[(&str, String)]) -> Vec<Value> {
    let found = tokio::process::Command::new(program).arg("--version").output().await;
    assert!(
        found.is_ok_and(|out| out.status.success()),
        "`{program}` is needed to run the real client SDKs in {} (Node.js 20 and CPython 3.11 are on this project's \
         machines: install them, e.g. `apt-get install nodejs python3`)",
        script.display()
    );
    let mut command = tokio::process::Command::new(program);
    command
        .arg(&script)
        .current_dir(script.parent().expect("the driver is in a folder"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The SDKs' HTTP clients honour proxy variables; the sandbox is local.
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{program} {} starts: {e}", script.display()));
    let mut stdin = child.stdin.take().expect("a piped stdin");
    stdin.write_all(input.to_string().as_bytes()).await.expect("the driver reads its plan");
    drop(stdin);
    let output = tokio::time::timeout(CLIENT_PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {CLIENT_PATIENCE:?}", script.display()))
        .expect("the driver runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{} failed: {}\n{stdout}\n{stderr}", script.display(), output.status);
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{stderr}")))
        .collect()
}

// ---------------------------------------------------------------------------
// The portal: @paymentsds/mpesa on the per-API ports.

/// A sandbox as `pesa-sandbox --tls --vodafone-ports` starts it (HTTPS and
/// plain HTTP on the main port and on 18352, 18345, 18349, 18354, 18353),
/// with a world whose loopback listeners may receive asynchronous results.
async fn spawn_on_the_portal_ports() -> TestApp {
    let flags = ["pesa-sandbox", "--listen", "127.0.0.1:0", "--seed", "7", "--tls", "--vodafone-ports"];
    let cli = pesa_sandbox::cli::Cli::try_parse_from(flags).expect("the flags parse");
    let config = Config::from_args(&cli.serve)
        .expect("the flags make a configuration")
        .with_world_toml(LOOPBACK)
        .expect("the test world is valid");
    let ports: Vec<u16> = config.also_listen.iter().map(|a| a.port()).collect();
    assert_eq!(ports, [18352, 18345, 18349, 18354, 18353], "the portal's ports, as every portal SDK fixes them");
    assert!(config.also_listen.iter().all(|a| a.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)));
    spawn_config(config).await
}

/// The SDK's configuration, as its README writes it, with the host changed.
fn paymentsds_client(app: &TestApp, host: &str) -> Value {
    json!({
        "host": host,
        "apiKey": SEED_API_KEY,
        "publicKey": app.vodafone_public_key(),
        "serviceProviderCode": "171717",
        "initiatorIdentifier": "MPesa2018",
        "securityCredential": "Mpesa2019",
    })
}

async fn run_paymentsds(app: &TestApp, module: &str, host: &str, steps: &[Value]) -> Vec<Value> {
    let mut env = Vec::new();
    let ca = std::env::temp_dir().join(format!("pesa-sandbox-test-ca-{}-{module}.pem", std::process::id()));
    if host.starts_with("https") {
        // What a Node.js user does to trust a private CA; the SDK's own
        // `verifySSL` option is never passed to its HTTP client.
        std::fs::write(&ca, pesa_sandbox::tls::CA_PEM).expect("the CA file is written");
        env.push(("NODE_EXTRA_CA_CERTS", ca.display().to_string()));
    }
    let input = json!({"module": module, "client": paymentsds_client(app, host), "steps": steps});
    let lines = run_driver("node", client_dir("paymentsds").join("drive.mjs"), &input, &env).await;
    let _ = std::fs::remove_file(&ca);
    assert_eq!(lines.len(), steps.len(), "one line per call: {lines:?}");
    lines
}

/// Every portal API once, as the SDK's README calls them, then the failures
/// the default scenario's trigger MSISDNs and the gateway's own checks give.
fn portal_plan(prefix: &str) -> Vec<Value> {
    let r = |n: u32| format!("{prefix}{n}");
    vec![
        json!({"op": "receive", "data": {"from": "843330333", "reference": r(1), "transaction": "T12344C", "amount": "10"}}),
        json!({"op": "send", "data": {"to": "851234567", "reference": r(2), "transaction": "T12344C", "amount": "5"}}),
        json!({"op": "send", "data": {"to": "979797", "reference": r(3), "transaction": "T12344C", "amount": "3"}}),
        json!({"op": "revert", "data": {"reference": r(4), "transaction": "$0.transaction", "amount": "10"}}),
        json!({"op": "query", "data": {"reference": r(5), "subject": "$0.transaction"}}),
        json!({"op": "receive", "data": {"from": "258840002006", "reference": r(6), "transaction": "T12344C", "amount": "10"}}),
        json!({"op": "send", "data": {"to": "258840000005", "reference": r(7), "transaction": "T12344C", "amount": "10"}}),
        json!({"op": "receive", "data": {"from": "843330333", "reference": r(1), "transaction": "T12344C", "amount": "10"}}),
        json!({"op": "revert", "data": {"reference": r(8), "transaction": "nosuchtx", "amount": "10"}}),
    ]
}

fn outcome(line: &Value) -> (&str, u64) {
    let status = line["value"]["response"]["status"].as_u64().unwrap_or_default();
    (line["outcome"].as_str().unwrap_or_default(), status)
}

/// The codes the sandbox refused with, oldest first, from the request journal
/// (the SDK passes on only the HTTP status of a refusal).
async fn refusal_codes(app: &TestApp) -> Vec<String> {
    let (_, body) = app.admin_get("/requests?errors=true").await;
    body["requests"]
        .as_array()
        .expect("journal entries")
        .iter()
        .map(|r| r["error_code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_synchronous_portal_run(lines: &[Value]) {
    let expected = [
        ("resolved", 201),
        ("resolved", 201),
        ("resolved", 201),
        ("resolved", 201),
        ("resolved", 200),
        ("rejected", 422),
        ("rejected", 401),
        ("rejected", 409),
        ("rejected", 400),
    ];
    for (line, want) in lines.iter().zip(expected) {
        assert_eq!(outcome(line), want, "{line}");
    }
    for line in &lines[..5] {
        assert_eq!(line["value"]["response"]["code"], "INS-0", "{line}");
    }
    for line in &lines[..4] {
        let transaction = line["value"]["transaction"].as_str().unwrap_or_default();
        assert!(transaction.len() == 12, "a sandbox transaction id: {line}");
    }
}

#[tokio::test]
async fn the_paymentsds_sdk_runs_every_portal_api_on_the_portal_ports_in_both_modes_including_failures() {
    let app = spawn_on_the_portal_ports().await;
    let before = totals(&app).await;

    // Synchronously: the ES module over plain http, then the CommonJS build
    // over https, trusting the test CA.
    let esm = run_paymentsds(&app, "esm", "http://127.0.0.1", &portal_plan("E")).await;
    assert_synchronous_portal_run(&esm);
    let cjs = run_paymentsds(&app, "cjs", "https://localhost", &portal_plan("C")).await;
    assert_synchronous_portal_run(&cjs);
    let codes = ["INS-2006", "INS-5", "INS-10", "INS-18"];
    assert_eq!(refusal_codes(&app).await, [codes, codes].concat(), "what the SDK saw only as statuses");
    assert_eq!(app.balance_of_msisdn("258843330333").await, "50000.00", "each C2B was reversed in full");
    assert_eq!(app.balance_of_msisdn("258851234567").await, "2510.00");
    assert_eq!(app.vodafone_org_balance("MOZ:979797").await, "6.00");
    assert_eq!(app.vodafone_org_balance("MOZ:171717").await, "999984.00");

    // Asynchronously, once the account has an Asynchronous Response URL: every
    // call is acknowledged and its result POSTed to the URL.
    Mock::given(method("POST"))
        .and(path("/results"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output_OriginalConversationID": "x",
            "output_ResponseCode": "0",
            "output_ResponseDesc": "Successfully Accepted Result",
            "output_ThirdPartyConversationID": "y",
        })))
        .mount(&app.receiver)
        .await;
    let url = format!("{}/results", app.receiver.uri());
    let (status, body) = app.admin_post("/vodafone/accounts/sandbox/async-url", &json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payments = [
        json!({"op": "receive", "data": {"from": "843330333", "reference": "A1", "transaction": "T12344C", "amount": "20"}}),
        json!({"op": "send", "data": {"to": "851234567", "reference": "A2", "transaction": "T12344C", "amount": "4"}}),
        json!({"op": "send", "data": {"to": "979797", "reference": "A3", "transaction": "T12344C", "amount": "2"}}),
        json!({"op": "receive", "data": {"from": "258840002006", "reference": "A4", "transaction": "T12344C", "amount": "10"}}),
        json!({"op": "send", "data": {"to": "258840000005", "reference": "A5", "transaction": "T12344C", "amount": "10"}}),
    ];
    let acks = run_paymentsds(&app, "esm", "http://127.0.0.1", &payments).await;
    let mut results = Vec::new();
    for line in &acks {
        assert_eq!(outcome(line), ("resolved", 201), "an acknowledgement: {line}");
        assert_eq!(line["value"]["response"]["code"], "INS-0", "{line}");
        assert!(line["value"].get("transaction").is_none(), "an acknowledgement has no transaction id: {line}");
        let conversation = line["value"]["conversation"].as_str().expect("a conversation id");
        let attempts = app.judged(conversation).await;
        assert_eq!(attempts[0]["acknowledgement"]["accepted"], true, "{line}");
        results.push(attempts[0]["body"].clone());
    }
    let result_codes: Vec<&str> = results.iter().map(|r| r["input_ResultCode"].as_str().unwrap_or_default()).collect();
    assert_eq!(result_codes, ["0", "0", "0", "INS-2006", "INS-5"], "{results:?}");
    let paid = results[0]["input_TransactionID"].as_str().expect("the payment's transaction id").to_owned();

    let follow_up = [
        json!({"op": "revert", "data": {"reference": "A6", "transaction": paid, "amount": "20"}}),
        json!({"op": "query", "data": {"reference": "A7", "subject": paid}}),
    ];
    let lines = run_paymentsds(&app, "esm", "http://127.0.0.1", &follow_up).await;
    for line in &lines {
        let (outcome, status) = outcome(line);
        assert_eq!(outcome, "resolved", "{line}");
        assert!(status == 200 || status == 201, "{line}");
        assert_eq!(line["value"]["response"]["code"], "INS-0", "{line}");
        if let Some(conversation) = line["value"]["conversation"].as_str() {
            let attempts = app.judged(conversation).await;
            assert_eq!(attempts[0]["body"]["input_ResultCode"], "0", "{line}");
        }
    }

    assert_eq!(app.balance_of_msisdn("258843330333").await, "50000.00", "the asynchronous C2B came back too");
    assert_eq!(app.balance_of_msisdn("258851234567").await, "2514.00");
    assert_eq!(app.vodafone_org_balance("MOZ:979797").await, "8.00");
    assert_eq!(app.vodafone_org_balance("MOZ:171717").await, "999978.00");
    assert_eq!(totals(&app).await, before, "money is conserved in every currency");
}

// ---------------------------------------------------------------------------
// The OpenAPI: the portal's own Python SDK in every market.

const MARKETS: [(&str, &str, &str); 5] = [
    ("vodafoneGHA", "GHA", "GHS"),
    ("vodacomTZN", "TZN", "TZS"),
    ("vodacomLES", "LES", "LSL"),
    ("vodacomDRC", "DRC", "USD"),
    ("vodacomMOZ", "MOZ", "MZN"),
];

#[tokio::test]
async fn the_openapi_portals_python_sdk_completes_the_flow_in_every_market_without_waiting() {
    let app = crate::helpers::spawn_with("").await;
    let before = totals(&app).await;
    let mut steps = Vec::new();
    for (market, country, currency) in MARKETS {
        let api_key = app.app_key(market);
        let first = steps.len();
        let paid = format!("${}.output_TransactionID", first + 1);
        let payment = |msisdn: &str, conversation: String| {
            json!({"input_Amount": "10", "input_Country": country, "input_Currency": currency,
                "input_CustomerMSISDN": msisdn, "input_ServiceProviderCode": "000000",
                "input_ThirdPartyConversationID": conversation, "input_TransactionReference": "T1234C",
                "input_PurchasedItemsDesc": "Shoes"})
        };
        steps.extend([
            json!({"op": "session", "market": market, "api_key": api_key}),
            json!({"op": "call", "market": market, "method": "POST", "api": "c2bPayment/singleStage/",
                "parameters": payment("000000000001", format!("{market}pay"))}),
            json!({"op": "call", "market": market, "method": "GET", "api": "queryTransactionStatus/",
                "parameters": {"input_QueryReference": paid, "input_ServiceProviderCode": "000000",
                    "input_ThirdPartyConversationID": format!("{market}query"), "input_Country": country}}),
            json!({"op": "call", "market": market, "method": "PUT", "api": "reversal/",
                "parameters": {"input_ReversalAmount": "10", "input_Country": country,
                    "input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": format!("{market}rev"),
                    "input_TransactionID": paid}}),
            json!({"op": "call", "market": market, "method": "POST", "api": "c2bPayment/singleStage/",
                "parameters": payment("000000000008", format!("{market}poor"))}),
            json!({"op": "call", "market": market, "method": "POST", "api": "c2bPayment/singleStage/",
                "parameters": payment("000000000001", format!("{market}pay"))}),
        ]);
    }
    let input = json!({
        "address": "127.0.0.1",
        "port": app.sandbox.addr().port(),
        "ssl": false,
        "public_key": app.vodafone_public_key(),
        "steps": steps,
    });
    let started = Instant::now();
    let lines = run_driver("python3", client_dir("pypesa").join("drive.py"), &input, &[]).await;
    assert!(started.elapsed() < Duration::from_secs(30), "no session activation wait: {:?}", started.elapsed());
    assert_eq!(lines.len(), steps.len(), "one line per call: {lines:?}");

    for (market, chunk) in MARKETS.iter().map(|m| m.0).zip(lines.chunks(6)) {
        let status_and_code = |line: &Value| {
            assert!(line.get("error").is_none(), "{market}: the SDK raised: {line}");
            let code = line["body"]["output_ResponseCode"].as_str().unwrap_or_default().to_owned();
            (line["status"].as_u64().unwrap_or_default(), code)
        };
        let want = [(200, "INS-0"), (201, "INS-0"), (200, "INS-0"), (201, "INS-0"), (422, "INS-2006"), (409, "INS-10")];
        for (line, want) in chunk.iter().zip(want) {
            assert_eq!(status_and_code(line), (want.0, want.1.to_owned()), "{market}: {line}");
        }
        assert_eq!(chunk[0]["body"]["output_SessionID"].as_str().map(str::len), Some(32), "{market}");
        let transaction = chunk[1]["body"]["output_TransactionID"].as_str().expect("a transaction id");
        assert_eq!(chunk[1]["body"]["output_ThirdPartyConversationID"], format!("{market}pay"));
        assert_eq!(chunk[2]["body"]["output_ResponseTransactionStatus"], "Completed", "{market}");
        assert_eq!(chunk[2]["body"]["output_OriginalTransactionID"], transaction, "{market}");
        assert_ne!(chunk[3]["body"]["output_TransactionID"], transaction, "a reversal is a transaction of its own");
    }
    for (_, country, _) in MARKETS {
        assert_eq!(app.vodafone_org_balance(&format!("{country}:000000")).await, "1000000.00", "{country}");
    }
    assert_eq!(totals(&app).await, before, "every currency adds up");
}
