//! Memory stays bounded under sustained load: after a warm-up, thousands
//! more M-Pesa Express pushes (each settling and calling back to a dead
//! receiver) leave retained state at its limits and resident memory nearly
//! where it was. Its own test binary, so no other test shares the process.

use std::time::Duration;

use pesa_sandbox::{Config, Sandbox};
use serde_json::{json, Value};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn push_many(base: &str, token: &str, from: usize, count: usize) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ts = "20300101000000";
    let password = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("174379bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919{ts}"),
    );
    let workers = (0..8).map(|w| {
        let (http, base, token, password) = (http.clone(), base.to_owned(), token.to_owned(), password.clone());
        tokio::spawn(async move {
            for i in (from + w..from + count).step_by(8) {
                // 500 distinct customers, so no prompt is still open when its customer comes round again.
                let msisdn = format!("2547130{:05}", i % 500);
                let body = json!({
                    "BusinessShortCode": "174379", "Password": password, "Timestamp": ts,
                    "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": msisdn, "PartyB": "174379",
                    "PhoneNumber": msisdn, "CallBackURL": "http://127.0.0.1:9/dead", "AccountReference": "M", "TransactionDesc": "M",
                });
                let res = http.post(format!("{base}/mpesa/stkpush/v1/processrequest")).bearer_auth(&token).json(&body).send().await.unwrap();
                assert!(res.status().is_success() || res.status().as_u16() == 500, "{}", res.status());
            }
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_state_and_resident_memory_stay_bounded_under_sustained_load() {
    let mut config = Config::local()
        .with_seed(3)
        .with_world_toml("[daraja]\nstk_answer_delay_ms = 1\ntimestamp_window_secs = 0\n")
        .unwrap();
    config.limits.journal_entries = 2_000;
    config.limits.transactions = 2_000;
    config.limits.ledger_history = 2_000;
    let sandbox = Sandbox::start(config).await.unwrap();
    let base = sandbox.base_url().to_owned();
    let creds = sandbox.credentials();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token: Value = http
        .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(&creds.daraja.consumer_key, Some(&creds.daraja.consumer_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    push_many(&base, &token, 0, 6_000).await;
    let warm = rss_kib();
    push_many(&base, &token, 6_000, 18_000).await;
    // Let the last settlements and failed callbacks drain, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sandbox.callback_stats().in_flight + sandbox.callback_stats().queued > 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = rss_kib();

    let listed: Value =
        http.get(format!("{base}/__sandbox/transactions?kind=stk_push")).send().await.unwrap().json().await.unwrap();
    let txs = listed["transactions"].as_array().map_or(0, Vec::len);
    assert!(txs <= 2_000 + 500, "retained transactions stay at the limit: {txs}");
    let journal: Value = http.get(format!("{base}/__sandbox/callbacks")).send().await.unwrap().json().await.unwrap();
    let callbacks = journal["callbacks"].as_array().map_or(0, Vec::len);
    let evicted = journal["evicted"].as_u64().unwrap_or(0);
    assert!(callbacks <= 2_000 && evicted > 0, "the journal is a ring: {callbacks} kept, {evicted} evicted");
    let growth_mib = after.saturating_sub(warm) / 1024;
    eprintln!("RSS after warm-up {} MiB, after 18,000 more pushes {} MiB", warm / 1024, after / 1024);
    assert!(growth_mib < 24, "resident memory grew {growth_mib} MiB over 18,000 pushes");
    sandbox.shutdown().await;
}
