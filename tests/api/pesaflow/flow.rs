//! A government service's integration end to end: checkout (JSON and the
//! HTML page a citizen pays on) → M-Pesa prompt → notification verified as a
//! merchant's handler does → status settled; partial payments, failed
//! prompts, the shared wallet, and a second tenant.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{merchant_accepts, pesaflow_app, php_hash, Checkout, CLIENT, KEY, PAYER, SECRET};
use crate::helpers::TestApp;

/// The value of an HTML attribute following `marker` in `html`.
fn attribute_after<'a>(html: &'a str, marker: &str, attribute: &str) -> &'a str {
    let at = html.find(marker).unwrap_or_else(|| panic!("{marker} not in the page:\n{html}"));
    let rest = &html[at..];
    let start = rest.find(&format!("{attribute}=\"")).unwrap() + attribute.len() + 2;
    let end = start + rest[start..].find('"').unwrap();
    &rest[start..end]
}

/// The prompt form of a checkout page, as a browser would submit it.
fn page_form(html: &str) -> (String, Vec<(String, String)>) {
    let action = attribute_after(html, "<form id=\"prompt\"", "action").to_owned();
    let request_id = attribute_after(html, "name=\"request_id\"", "value").to_owned();
    let phone = attribute_after(html, "name=\"phone\"", "value").to_owned();
    let amount = attribute_after(html, "name=\"amount\"", "value").to_owned();
    (action, vec![("request_id".into(), request_id), ("phone".into(), phone), ("amount".into(), amount)])
}

#[tokio::test]
async fn a_json_checkout_with_send_stk_is_paid_notified_and_settled() {
    let app = pesaflow_app("").await;
    let before = app.balance_of_msisdn(PAYER).await;
    let mut checkout = Checkout::new("REF-JSON-1", "100.00");
    checkout.send_stk = true;
    let (status, text, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &checkout.fields(&app)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    let keys = ["invoice_number", "invoice_link", "commission", "amount_net", "amount_expected"];
    assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])), "the captured key order: {text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((answer["commission"].as_str(), answer["amount_net"].as_str()), (Some("5.00"), Some("100.00")));
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    assert!(number.len() == 6 && number.bytes().all(|b| b.is_ascii_uppercase()), "{number}");
    assert!(answer["invoice_link"].as_str().unwrap().starts_with(&format!("{}/checkout?request_id=", app.base)));

    let (_, pending) = app.pf_status(&number).await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["payment_date"], Value::Null);

    app.advance_ms(1_000).await;
    let attempts = app.pf_notifications(&number).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["outcome"], "delivered");
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 1);
    let (content_type, body) = &received[0];
    assert_eq!(content_type, "application/json");
    let text = String::from_utf8(body.clone()).unwrap();
    let order: Vec<&str> = [
        "status",
        "secure_hash",
        "phone_number",
        "payment_reference",
        "payment_date",
        "payment_channel",
        "last_payment_amount",
        "invoice_number",
        "invoice_amount",
        "currency",
        "client_invoice_ref",
        "amount_paid",
    ]
    .into_iter()
    .collect();
    // Keys nested in the payment array repeat some names; the outer ones come last.
    let position = |k: &str| {
        let key = format!("\"{k}\":");
        if k == "payment_reference" { text.find(&key) } else { text.rfind(&key) }.unwrap()
    };
    let positions: Vec<usize> = order.iter().map(|k| position(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "the live key order: {text}");
    let notification: Value = serde_json::from_str(&text).unwrap();
    assert!(merchant_accepts(&notification), "the merchant's own HMAC matches: {notification}");
    assert_eq!(notification["status"], "settled");
    assert_eq!(notification["amount_paid"], "105", "paid amounts in their shortest form, as live");
    assert_eq!(notification["invoice_amount"], "105.00");
    assert_eq!(notification["client_invoice_ref"], "REF-JSON-1");
    assert_eq!(notification["phone_number"], PAYER);
    assert_eq!(notification["payment_channel"], "MPESA");
    assert!(notification["payment_date"].as_str().unwrap().ends_with("+03:00 EAT Africa/Nairobi"));
    let references = notification["payment_reference"].as_array().unwrap();
    assert_eq!(references.len(), 1);
    assert_eq!(references[0]["amount"], "105");

    let (status, settled) = app.pf_status(&number).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settled["status"], "settled");
    assert_eq!(settled["amount_paid"], "105.00");
    assert_eq!(settled["amount_expected"], "105.00");
    assert!(settled["payment_date"].is_string());
    // The status query also finds the invoice by the merchant's own reference.
    let (_, by_ref) = app.pf_status("REF-JSON-1").await;
    assert_eq!(by_ref["ref_no"], number.as_str());

    // The customer's one Kenyan wallet paid the service's collection account.
    let after = app.balance_of_msisdn(PAYER).await;
    let spent = before.parse::<f64>().unwrap() - after.parse::<f64>().unwrap();
    assert!((spent - 105.0).abs() < 0.001, "{before} → {after}");
    let (_, accounts) = app.admin_get("/accounts?provider=pesaflow&shortcode=1001").await;
    assert_eq!(accounts["accounts"][0]["balance"], "105.00");
}

#[tokio::test]
async fn a_citizen_pays_on_the_html_page_and_is_sent_back_to_the_merchant() {
    let app = pesaflow_app("").await;
    let mut checkout = Checkout::new("REF-HTML-1", "100.00");
    checkout.format = "html";
    let (status, html, _) = app.pf_post_form("/PaymentAPI/iframev2.1.php", &checkout.fields(&app)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("KES 105.00"), "{html}");

    let (action, form) = page_form(&html);
    assert_eq!(action, "/checkout/prompt");
    assert!(form.contains(&("phone".to_owned(), PAYER.to_owned())));
    assert!(form.contains(&("amount".to_owned(), "105".to_owned())));
    let (status, prompted, _) = app.pf_post_form(&action, &form).await;
    assert_eq!(status, StatusCode::OK, "{prompted}");
    assert!(prompted.contains(&format!("An M-Pesa prompt was sent to {PAYER}")), "{prompted}");

    app.advance_ms(1_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 1);
    let notification: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert!(merchant_accepts(&notification));
    let number = notification["invoice_number"].as_str().unwrap().to_owned();

    // The invoice link shows the settled page, which returns to callBackURLOnSuccess.
    let request_id = form.iter().find(|(k, _)| k == "request_id").unwrap().1.clone();
    let page = app.http.get(app.url(&format!("/checkout?request_id={request_id}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let back = format!("{}/ok", app.receiver.uri());
    assert!(page.contains(&format!("content=\"3;url={back}\"")), "{page}");
    assert!(page.contains("data-state=\"settled\"") && !page.contains("<form"), "{page}");
    let (_, status) = app.pf_status(&number).await;
    assert_eq!(status["status"], "settled");

    // What the page's script polls agrees.
    let polled: Value = app
        .http
        .get(app.url(&format!("/checkout/status?request_id={request_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(polled["status"], "settled");
    assert_eq!(polled["prompt"]["status"], "paid");
}

/// Pays `amount` of an invoice through its page; returns the page.
async fn pay_on_page(app: &TestApp, request_id: &str, amount: &str) -> (StatusCode, String) {
    let form = vec![
        ("request_id".to_owned(), request_id.to_owned()),
        ("phone".to_owned(), "0708374149".to_owned()),
        ("amount".to_owned(), amount.to_owned()),
    ];
    let (status, page, _) = app.pf_post_form("/checkout/prompt", &form).await;
    (status, page)
}

fn request_id(answer: &Value) -> String {
    answer["invoice_link"].as_str().unwrap().rsplit('=').next().unwrap().to_owned()
}

#[tokio::test]
async fn partial_payments_notify_partial_then_settled_with_every_reference() {
    let app = pesaflow_app("").await;
    let answer = app.pf_checkout(&Checkout::new("REF-PART-1", "100.00")).await;
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    let link = request_id(&answer);

    let (status, _) = pay_on_page(&app, &link, "40").await;
    assert_eq!(status, StatusCode::OK);
    app.advance_ms(1_000).await;
    let (_, partial) = app.pf_status(&number).await;
    assert_eq!((partial["status"].as_str(), partial["amount_paid"].as_str()), (Some("partial"), Some("40.00")));

    let (status, page) = pay_on_page(&app, &link, "100").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "more than the balance is refused on the page");
    assert!(page.contains("100.00 is more than the 65.00 still due"), "{page}");

    pay_on_page(&app, &link, "65").await;
    app.advance_ms(1_000).await;
    let received = app.pf_received_notifications().await;
    assert_eq!(received.len(), 2);
    let first: Value = serde_json::from_slice(&received[0].1).unwrap();
    let second: Value = serde_json::from_slice(&received[1].1).unwrap();
    assert!(merchant_accepts(&first) && merchant_accepts(&second));
    assert_eq!((first["status"].as_str(), first["amount_paid"].as_str()), (Some("partial"), Some("40")));
    assert_eq!(
        (second["status"].as_str(), second["amount_paid"].as_str(), second["last_payment_amount"].as_str()),
        (Some("settled"), Some("105"), Some("65"))
    );
    assert_eq!(second["payment_reference"].as_array().unwrap().len(), 2);
    let invoice = app.pf_invoice(&number).await;
    assert_eq!(invoice["invoice"]["status"], "settled");
    assert_eq!(invoice["prompts"].as_array().unwrap().len(), 2, "a refused prompt is never sent");
}

#[tokio::test]
async fn a_cancelled_prompt_fails_on_the_page_and_notifies_nobody() {
    let app = pesaflow_app("").await;
    let mut checkout = Checkout::new("REF-CANCEL-1", "50");
    checkout.msisdn = "254711001032".into();
    checkout.send_stk = true;
    let answer = app.pf_checkout(&checkout).await;
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    app.advance_ms(1_000).await;
    assert!(app.pf_notifications(&number).await.is_empty(), "Pesaflow notifies successful payments only");
    let (_, status) = app.pf_status(&number).await;
    assert_eq!(status["status"], "pending");
    let page = app.http.get(answer["invoice_link"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("The payment did not go through: Request cancelled by user"), "{page}");
    let (_, txs) = app.admin_get(&format!("/transactions?id={number}")).await;
    let prompt = txs["transactions"].as_array().unwrap().iter().find(|t| t["kind"] == "mpesa_prompt").unwrap().clone();
    assert_eq!(prompt["status"], "failed");
    assert_eq!(prompt["result_code"], 1032);
    assert!(prompt["outcome_reason"].as_str().unwrap().contains("pesaflow: cancelled"), "{prompt}");
}

#[tokio::test]
async fn an_unfunded_wallet_fails_the_prompt_and_moves_no_money() {
    let app = pesaflow_app("[[customers]]\nmsisdn = \"254722000111\"\nbalance = 10\n").await;
    let mut checkout = Checkout::new("REF-POOR-1", "100.00");
    checkout.msisdn = "254722000111".into();
    checkout.send_stk = true;
    let answer = app.pf_checkout(&checkout).await;
    app.advance_ms(1_000).await;
    let invoice = app.pf_invoice(answer["invoice_number"].as_str().unwrap()).await;
    let prompt = &invoice["prompts"][0];
    assert_eq!(prompt["result_code"], 1);
    assert!(prompt["outcome_reason"].as_str().unwrap().contains("holds KES 10.00"), "{prompt}");
    assert_eq!(app.balance_of_msisdn("254722000111").await, "10.00");
}

#[tokio::test]
async fn an_interactive_prompt_waits_for_its_answer_through_the_admin_api() {
    let app = pesaflow_app("").await;
    let scenario = r#"
[[rules]]
name = "a human decides"
when = { provider = "pesaflow", operation = "mpesa_prompt" }
outcome = { result_code = 0, await_customer = true }
"#;
    let res = app.http.put(app.url("/__sandbox/scenarios")).body(scenario).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let mut checkout = Checkout::new("REF-ASK-1", "20");
    checkout.send_stk = true;
    let answer = app.pf_checkout(&checkout).await;
    let number = answer["invoice_number"].as_str().unwrap().to_owned();
    app.advance_ms(5_000).await;
    let invoice = app.pf_invoice(&number).await;
    assert_eq!(invoice["prompts"][0]["status"], "pending");
    let id = invoice["prompts"][0]["id"].as_str().unwrap().to_owned();
    let (status, answered) = app.admin_post(&format!("/pesaflow/prompts/{id}/answer"), &json!({"action": "pay"})).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "paid");
    assert_eq!(app.pf_wait_notifications(&number, 1).await.len(), 1);
    let (status, again) = app.admin_post(&format!("/pesaflow/prompts/{id}/answer"), &json!({"action": "cancel"})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_settled")));
}

#[tokio::test]
async fn a_new_tenant_gets_its_own_clients_and_its_checkouts_reach_it() {
    let app = pesaflow_app("").await;
    let (status, created) = app.admin_post("/tenants", &json!({ "id": "county", "clock": {"mode": "virtual"} })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let pesaflow = &created["pesaflow"];
    let client = pesaflow["api_client_id"].as_str().unwrap().to_owned();
    assert_ne!(client, CLIENT);
    let (key, secret) = (pesaflow["key"].as_str().unwrap().to_owned(), pesaflow["secret"].as_str().unwrap().to_owned());
    assert_ne!(key, KEY);
    assert_ne!(secret, SECRET);
    let mut checkout = Checkout::new("REF-T-1", "10");
    checkout.client = client.clone();
    checkout.key = key.clone();
    checkout.secret = secret;
    let answer = app.pf_checkout(&checkout).await;
    let number = answer["invoice_number"].as_str().unwrap();
    let (status, _) = app.admin_get(&format!("/tenants/county/pesaflow/invoices/{number}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.admin_get(&format!("/pesaflow/invoices/{number}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the default tenant never sees it");
    // The default client's hash does not open the new tenant's invoice.
    let hash = php_hash(KEY, &[&client, number]);
    let query = super::form(&[("api_client_id", &client), ("ref_no", number), ("secure_hash", &hash)]);
    let res = app.http.get(app.url(&format!("/api/invoice/payment/status?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let good = php_hash(&key, &[&client, number]);
    let query = super::form(&[("api_client_id", &client), ("ref_no", number), ("secure_hash", &good)]);
    let res = app.http.get(app.url(&format!("/api/invoice/payment/status?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
