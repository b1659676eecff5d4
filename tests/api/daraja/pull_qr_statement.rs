//! Reconciliation surfaces: Pull Transactions (`/pulltransactions/v1/*`),
//! Dynamic QR (`/mpesa/qrcode/v1/generate`) and the admin API's CSV
//! statement (`/__sandbox/statements/{shortcode}`).

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::TimeZone;
use pesa_sandbox::config::ClockMode;
use pesa_sandbox::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::daraja::assert_daraja_error;
use crate::helpers::{spawn, spawn_config, TestApp, FAST_WORLD};

// ---------------------------------------------------------------------------
// Helpers

/// A sandbox whose clock stands still at 2030-01-31 08:36:00 EAT, with the
/// `Timestamp` window off so M-Pesa Express pushes may carry the wall clock.
async fn spawn_at_836_eat() -> TestApp {
    let start = chrono::Utc.with_ymd_and_hms(2030, 1, 31, 5, 36, 0).unwrap();
    let world = format!("{FAST_WORLD}timestamp_window_secs = 0\n");
    let config = Config::local()
        .with_seed(7)
        .with_world_toml(&world)
        .expect("test world is valid")
        .with_clock(ClockMode::Virtual { start });
    spawn_config(config).await
}

/// Makes the wiremock receiver answer every callback with 200.
async fn accept_callbacks(app: &TestApp) {
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
}

fn register_body(shortcode: &str) -> Value {
    json!({
        "ShortCode": shortcode,
        "RequestType": "Pull",
        "NominatedNumber": "0722000000",
        "CallBackURL": "https://example.com/pull",
    })
}

fn query_body(shortcode: &str, start: &str, end: &str, offset: u64) -> Value {
    json!({ "ShortCode": shortcode, "StartDate": start, "EndDate": end, "OffSetValue": offset.to_string() })
}

/// Returns the receipt a paid push's callback carries.
fn receipt_of(callback: &Value) -> String {
    let items = callback["body"]["Body"]["stkCallback"]["CallbackMetadata"]["Item"].as_array().unwrap();
    let item = items.iter().find(|i| i["Name"] == "MpesaReceiptNumber").unwrap();
    item["Value"].as_str().unwrap().to_owned()
}

/// Reads `"350.00"`, `"-20.00"` or `""` as cents.
fn cents(text: &str) -> i64 {
    if text.is_empty() {
        return 0;
    }
    let negative = text.starts_with('-');
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let value: i64 = digits.parse().unwrap();
    if negative {
        -value
    } else {
        value
    }
}

// ---------------------------------------------------------------------------
// Pull Transactions

#[tokio::test]
async fn a_shortcode_registers_for_pulling_once_and_then_is_already_registered() {
    let app = spawn().await;
    let token = app.token().await;
    let (status, body) = app.post_json("/pulltransactions/v1/register", &token, &register_body("600000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseStatus"], "1000");
    assert_eq!(body["ShortCode"], "600000");
    assert_eq!(body["ResponseDescription"], "Shortcode Registered Successfully");
    let first_ref = body["ResponseRefID"].as_str().unwrap().to_owned();
    let parts: Vec<usize> = first_ref.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{first_ref}");
    assert_eq!(body.as_object().unwrap().len(), 4);

    let (status, again) = app.post_json("/pulltransactions/v1/register", &token, &register_body("600000")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["ResponseStatus"], "1001");
    assert_ne!(again["ResponseRefID"], json!(first_ref));
}

#[tokio::test]
async fn every_pull_registration_field_is_checked() {
    let app = spawn().await;
    let token = app.token().await;
    let valid = register_body("600000");
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("ShortCode", json!("60000A")), "ShortCode"),
        (with("ShortCode", json!("999999")), "ShortCode"),
        (with("RequestType", json!("Push")), "RequestType"),
        (with("RequestType", json!("pull")), "RequestType"),
        (with("NominatedNumber", json!("722000000")), "NominatedNumber"),
        (with("NominatedNumber", json!("+254722000000")), "NominatedNumber"),
        (with("CallBackURL", json!("not a url")), "CallBackURL"),
        (with("CallBackURL", Value::Null), "CallBackURL"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post_json("/pulltransactions/v1/register", &token, &body).await;
        assert_daraja_error(status, &err, 400, "400.002.02", &format!("Bad Request - Invalid {field}"));
    }
}

#[tokio::test]
async fn a_pull_query_returns_the_shortcodes_completed_payments_in_the_window() {
    let app = spawn_at_836_eat().await;
    accept_callbacks(&app).await;
    let token = app.token().await;
    let (status, _) = app.post_json("/pulltransactions/v1/register", &token, &register_body("174379")).await;
    assert_eq!(status, StatusCode::OK);
    let mut checkouts = Vec::new();
    for (msisdn, amount) in [("254708374149", 168), ("254722000000", 50)] {
        let (status, ack) = app.stk_push(&app.stk_body(msisdn, amount)).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        checkouts.push(ack["CheckoutRequestID"].as_str().unwrap().to_owned());
    }
    // Both customers answer 20 ms later; moving the clock settles and delivers.
    app.advance_ms(1_000).await;
    let mut receipts = Vec::new();
    for checkout in &checkouts {
        let attempts = app.wait_callbacks(checkout, 1).await;
        receipts.push(receipt_of(&attempts[0]));
    }

    let window = query_body("174379", "2030-01-31 8:36:00", "2030-01-31 08:37:00", 0);
    let (status, body) = app.post_json("/pulltransactions/v1/query", &token, &window).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseCode"], "1000");
    assert_eq!(body["ResponseMessage"], "Success");
    assert!(body["RequestID"].as_str().is_some_and(|id| !id.is_empty()), "the id is RequestID, as captured");
    let pages = body["Response"].as_array().expect("Response is an array of pages");
    assert_eq!(pages.len(), 1, "the transactions sit in a nested array: {body}");
    let transactions = pages[0].as_array().unwrap();
    assert_eq!(transactions.len(), 2);
    assert_eq!(
        transactions[0],
        json!({
            "transactionId": receipts[0],
            "trxDate": "2030-01-31T05:36:00Z",
            "msisdn": 708374149u64,
            "sender": "JOHN KAMAU DOE",
            "transactiontype": "c2b-pay-bill-debit",
            "billreference": "INV-001",
            "amount": "168.00",
            "organizationname": "Sandbox Paybill",
        })
    );
    assert_eq!(transactions[1]["transactionId"], json!(receipts[1]));
    assert_eq!(transactions[1]["amount"], "50.00");

    let (_, second) = app
        .post_json(
            "/pulltransactions/v1/query",
            &token,
            &query_body("174379", "2030-01-31 8:36:00", "2030-01-31 8:37:00", 1),
        )
        .await;
    let rest = second["Response"][0].as_array().unwrap();
    assert_eq!(rest.len(), 1, "OffSetValue skips that many: {second}");
    assert_eq!(rest[0]["transactionId"], json!(receipts[1]));

    let empty_cases = [
        query_body("174379", "2030-01-31 8:36:00", "2030-01-31 8:37:00", 2),
        query_body("174379", "2030-01-31 8:36:01", "2030-01-31 8:37:00", 0),
        query_body("174379", "2030-01-30 8:36:00", "2030-01-31 8:35:59", 0),
    ];
    for query in empty_cases {
        let (status, none) = app.post_json("/pulltransactions/v1/query", &token, &query).await;
        assert_eq!(status, StatusCode::OK, "{none}");
        assert_eq!(none["ResponseCode"], "1001", "{query}");
        assert_eq!(none["ResponseMessage"], "No records found or Organization Name not available");
        assert!(none.get("Response").is_none());
    }
}

#[tokio::test]
async fn a_pull_query_for_an_unregistered_shortcode_is_refused_with_a_diagnosis() {
    let app = spawn().await;
    let token = app.token().await;
    let res = app
        .http
        .post(app.url("/pulltransactions/v1/query"))
        .bearer_auth(&token)
        .json(&query_body("600000", "2030-01-31 8:00:00", "2030-01-31 9:00:00", 0))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let diagnosis = res.headers()["x-sandbox-diagnosis"].to_str().unwrap().to_owned();
    let err: Value = res.json().await.unwrap();
    assert_daraja_error(status, &err, 400, "400.002.02", "Bad Request - Invalid ShortCode");
    assert!(diagnosis.contains("not registered"), "{diagnosis}");
}

#[tokio::test]
async fn pull_query_windows_must_be_readable_dates_at_most_48_hours_apart() {
    let app = spawn().await;
    let token = app.token().await;
    app.post_json("/pulltransactions/v1/register", &token, &register_body("600000")).await;
    let cases = [
        (query_body("600000", "2030-01-31", "2030-01-31 9:00:00", 0), "StartDate"),
        (query_body("600000", "31-01-2030 8:00:00", "2030-01-31 9:00:00", 0), "StartDate"),
        (query_body("600000", "2030-01-31 8:00:00", "2030-01-31 25:00:00", 0), "EndDate"),
        (query_body("600000", "2030-01-31 8:00:00", "2030-01-31 7:59:59", 0), "EndDate"),
        (query_body("600000", "2030-01-29 8:00:00", "2030-01-31 8:00:01", 0), "EndDate"),
        (
            json!({"ShortCode": "600000", "StartDate": "2030-01-31 8:00:00", "EndDate": "2030-01-31 9:00:00", "OffSetValue": "-1"}),
            "OffSetValue",
        ),
        (json!({"StartDate": "2030-01-31 8:00:00", "EndDate": "2030-01-31 9:00:00"}), "ShortCode"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post_json("/pulltransactions/v1/query", &token, &body).await;
        assert_daraja_error(status, &err, 400, "400.002.02", &format!("Bad Request - Invalid {field}"));
    }
    // Exactly 48 hours, with three-digit seconds as in Safaricom's sample, is allowed.
    let widest = query_body("600000", "2030-01-29 8:00:00", "2030-01-31 8:00:000", 0);
    let (status, body) = app.post_json("/pulltransactions/v1/query", &token, &widest).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseCode"], "1001");
}

// ---------------------------------------------------------------------------
// Dynamic QR

fn qr_body() -> Value {
    json!({
        "MerchantName": "TEST SUPERMARKET",
        "RefNo": "Invoice Test",
        "Amount": 1,
        "TrxCode": "BG",
        "CPI": "373132",
        "Size": "300",
    })
}

/// Decodes a base64 PNG of 8-bit RGBA pixels (as the captured codes are)
/// into (width, height, grey levels).
fn decode_png(base64: &str) -> (usize, usize, Vec<u8>) {
    let bytes = STANDARD.decode(base64).expect("QRCode is base64");
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("QRCode is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    pixels.truncate(info.buffer_size());
    let grey: Vec<u8> = pixels.chunks(4).map(|p| p[0]).collect();
    assert!(pixels.chunks(4).all(|p| p[0] == p[1] && p[1] == p[2] && p[3] == 255), "opaque black and white");
    (info.width as usize, info.height as usize, grey)
}

/// Reads the QR code in a greyscale image, as a phone's camera would.
fn scan(width: usize, height: usize, pixels: &[u8]) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

#[tokio::test]
async fn a_dynamic_qr_is_a_scannable_png_of_the_payment_details() {
    let app = spawn().await;
    let token = app.token().await;
    let (status, body) = app.post_json("/mpesa/qrcode/v1/generate", &token, &qr_body()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseCode"], "00");
    assert_eq!(body["ResponseDescription"], "The service request is processed successfully.");
    let (width, height, pixels) = decode_png(body["QRCode"].as_str().unwrap());
    assert_eq!((width, height), (300, 300));
    assert!(pixels.contains(&0) && pixels.contains(&255), "dark and light modules");
    let payload: Value = serde_json::from_str(&scan(width, height, &pixels)).unwrap();
    assert_eq!(
        payload,
        json!({"TrxCode": "BG", "CPI": "373132", "Amount": 1, "RefNo": "Invoice Test", "MerchantName": "TEST SUPERMARKET"})
    );
}

#[tokio::test]
async fn the_qr_size_is_in_pixels_and_defaults_to_300() {
    let app = spawn().await;
    let token = app.token().await;
    for (size, want) in [(Some(json!(100)), 100), (Some(json!("1000")), 1000), (None, 300)] {
        let mut body = qr_body();
        body["TrxCode"] = json!("SM");
        body["CPI"] = json!("254708374149");
        match size {
            Some(size) => body["Size"] = size,
            None => {
                body.as_object_mut().unwrap().remove("Size");
            }
        }
        let (status, qr) = app.post_json("/mpesa/qrcode/v1/generate", &token, &body).await;
        assert_eq!(status, StatusCode::OK, "{qr}");
        let (width, height, pixels) = decode_png(qr["QRCode"].as_str().unwrap());
        assert_eq!((width, height), (want, want));
        let payload: Value = serde_json::from_str(&scan(width, height, &pixels)).unwrap();
        assert_eq!(payload["CPI"], "254708374149");
    }
}

#[tokio::test]
async fn every_dynamic_qr_field_is_checked() {
    let app = spawn().await;
    let token = app.token().await;
    let with = |field: &str, value: Value| {
        let mut body = qr_body();
        body[field] = value;
        body
    };
    let cases = [
        (with("MerchantName", Value::Null), "MerchantName"),
        (with("MerchantName", json!("M".repeat(101))), "MerchantName"),
        (with("RefNo", json!("")), "RefNo"),
        (with("Amount", json!(0)), "Amount"),
        (with("Amount", json!("1.50")), "Amount"),
        (with("TrxCode", json!("XX")), "TrxCode"),
        (with("TrxCode", json!("bg")), "TrxCode"),
        (with("CPI", json!("37A132")), "CPI"),
        (with("CPI", json!("1234")), "CPI"),
        (with("Size", json!(99)), "Size"),
        (with("Size", json!("1001")), "Size"),
        (with("Size", json!("big")), "Size"),
    ];
    for (body, field) in cases {
        let (status, err) = app.post_json("/mpesa/qrcode/v1/generate", &token, &body).await;
        assert_daraja_error(status, &err, 400, "400.002.02", &format!("Bad Request - Invalid {field}"));
    }
    for trx_code in ["BG", "WA", "PB", "SM", "SB"] {
        let (status, body) =
            app.post_json("/mpesa/qrcode/v1/generate", &token, &with("TrxCode", json!(trx_code))).await;
        assert_eq!(status, StatusCode::OK, "{trx_code}: {body}");
    }
}

// ---------------------------------------------------------------------------
// Statement

async fn statement(app: &TestApp, path_and_query: &str) -> (StatusCode, String, String) {
    let res = app.http.get(app.url(&format!("/__sandbox{path_and_query}"))).send().await.unwrap();
    let status = res.status();
    let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

const HEADER: [&str; 8] = [
    "Receipt No.",
    "Completion Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Other Party",
];

/// Splits a statement into its header and rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

#[tokio::test]
async fn a_days_statement_of_a_paybill_adds_up_to_its_ledger_balance() {
    let app = spawn().await;
    accept_callbacks(&app).await;
    let mut receipts = Vec::new();
    for (msisdn, amount) in [("254708374149", 100), ("254722000000", 250)] {
        let (status, ack) = app.stk_push(&app.stk_body(msisdn, amount)).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        let attempts = app.wait_callbacks(ack["CheckoutRequestID"].as_str().unwrap(), 1).await;
        receipts.push(receipt_of(&attempts[0]));
    }

    let (status, content_type, text) = statement(&app, "/statements/174379").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let (header, rows) = parse_csv(&text);
    assert_eq!(header, HEADER);
    assert_eq!(rows.len(), 2, "{text}");
    // Newest first, as the portal shows it.
    assert_eq!(rows[0][0], receipts[1]);
    assert_eq!(rows[1][0], receipts[0]);
    assert_eq!(rows[0][7], "254722000000 - JANE WANJIKU");
    assert_eq!(rows[1][7], "254708374149 - JOHN KAMAU DOE");
    for row in &rows {
        assert_eq!(row[3], "Completed");
        assert!(chrono::NaiveDateTime::parse_from_str(&row[1], "%d-%m-%Y %H:%M:%S").is_ok(), "{}", row[1]);
    }

    let (_, accounts) = app.admin_get("/accounts?shortcode=174379").await;
    let utility = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "Utility Account")
        .and_then(|a| a["balance"].as_str())
        .unwrap();
    assert_eq!(cents(&rows[0][6]), cents(utility), "the newest balance is the ledger's");
    // Each balance is the one before it plus what moved; the paybill opened with KES 1,000,000.
    let mut before = 100_000_000;
    for row in rows.iter().rev() {
        before += cents(&row[4]) + cents(&row[5]);
        assert_eq!(cents(&row[6]), before, "{row:?}");
    }
    assert_eq!(before, 100_035_000);
}

#[tokio::test]
async fn statements_exist_per_tenant_per_account_and_refuse_unknown_shortcodes() {
    let app = spawn().await;
    let (status, created) = app.admin_post("/tenants", &json!({ "id": "books" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for path in
        ["/tenants/books/statements/600000", "/statements/600000?account=working", "/statements/600000?account=charges"]
    {
        let (status, content_type, text) = statement(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let (header, rows) = parse_csv(&text);
        assert_eq!(header, HEADER);
        assert!(rows.is_empty(), "nothing has moved yet: {text}");
    }

    let (status, err) = app.admin_get("/statements/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["error"]["code"], "unknown_shortcode");
    let (status, err) = app.admin_get("/tenants/books/statements/999999").await;
    assert_eq!(err["error"]["code"], "unknown_shortcode", "{status}");
    let (status, err) = app.admin_get("/statements/600000?account=savings").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["code"], "bad_request");
}
