//! A bounded soak, on loopback: hostile tenants (receivers that hang, a
//! scenario at every limit, callback storms, a flood of pushes) beside a
//! well-behaved tenant, whose push latency and callbacks are measured
//! alone and then among them. Its own test binary, so no other test shares
//! the process; a few seconds long.
//!
//! `cargo test --release --test soak -- --nocapture` prints the figures
//! README "Reliability" quotes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use pesa_sandbox::{Config, Sandbox};
use serde_json::{json, Value};

const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

/// Pushes the well-behaved tenant makes in each phase, one every `PACE`.
const PUSHES: usize = 150;
const PACE: Duration = Duration::from_millis(10);

/// A receiver answering every callback with `status`, at once.
async fn receiver(status: StatusCode) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move { status });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/cb")
}

/// A receiver that takes every request and never answers.
async fn hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{addr}/hang")
}

/// A client of one tenant.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn new(base: &str, key: &str, secret: &str) -> Client {
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        let token: Value = http
            .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
            .basic_auth(key, Some(secret))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client { http, base: base.to_owned(), token: token["access_token"].as_str().unwrap().to_owned() }
    }

    /// One push; its CheckoutRequestID when accepted.
    async fn push(&self, msisdn: &str, callback: &str) -> Option<String> {
        let eat = (chrono::Utc::now() + chrono::Duration::hours(3)).naive_utc();
        let timestamp = pesa_sandbox::crypto::lnm::format_timestamp(eat);
        let body = json!({
            "BusinessShortCode": "174379",
            "Password": pesa_sandbox::crypto::lnm::password("174379", PASSKEY, &timestamp),
            "Timestamp": timestamp, "TransactionType": "CustomerPayBillOnline", "Amount": 1,
            "PartyA": msisdn, "PartyB": "174379", "PhoneNumber": msisdn, "CallBackURL": callback,
            "AccountReference": "SOAK", "TransactionDesc": "Soak",
        });
        let res = self
            .http
            .post(format!("{}/mpesa/stkpush/v1/processrequest", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .ok()?;
        let ack: Value = res.json().await.ok()?;
        ack["CheckoutRequestID"].as_str().map(str::to_owned)
    }
}

/// Creates a tenant (with scenario documents) and returns its client.
async fn tenant(base: &str, id: &str, documents: &[&str]) -> Client {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let res = http
        .post(format!("{base}/__sandbox/tenants"))
        .json(&json!({ "id": id, "world": "[daraja]\nstk_answer_delay_ms = 20\n", "scenarios": { "documents": documents } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let creds: Value = res.json().await.unwrap();
    Client::new(
        base,
        creds["daraja"]["consumer_key"].as_str().unwrap(),
        creds["daraja"]["consumer_secret"].as_str().unwrap(),
    )
    .await
}

/// Pushes from `workers` tasks, without pause, until `stop`; counts them.
fn hammer(client: Client, workers: u32, callback: String, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    for worker in 0..workers {
        let (client, callback, stop, count) = (client.clone(), callback.clone(), stop.clone(), count.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                client.push(&format!("2547{worker}{n:07}"), &callback).await;
                n = n.wrapping_add(1) % 10_000_000;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

/// The well-behaved tenant's figures for one phase.
#[derive(Debug)]
struct Figures {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    callbacks: usize,
    callback_p99_ms: f64,
}

impl Figures {
    /// A row of README's table.
    fn row(&self, phase: &str) -> String {
        format!(
            "| {phase} | {:.1} | {:.1} | {:.1} | {} of {PUSHES} | {:.1} |",
            self.p50_ms, self.p99_ms, self.max_ms, self.callbacks, self.callback_p99_ms
        )
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

/// `PUSHES` paced pushes by the default tenant; push latency, and how long
/// after each push its callback was attempted.
async fn well_behaved(sandbox: &Sandbox, client: &Client, callback: &str, first_msisdn: u32) -> Figures {
    let mut latencies = Vec::new();
    let mut sent_at = HashMap::new();
    for i in 0..PUSHES {
        let started = Instant::now();
        let wall = chrono::Utc::now();
        let id = client.push(&format!("25479{:07}", first_msisdn as usize + i), callback).await.expect("accepted");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        sent_at.insert(id, wall);
        tokio::time::sleep(PACE).await;
    }
    // Every callback arrives (the long-poll, bounded).
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut delays = Vec::new();
    for (id, wall) in &sent_at {
        let url = format!("{}/__sandbox/callbacks/wait?correlation_id={id}&timeout_ms=10000", sandbox.base_url());
        let waited: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(waited["satisfied"], true, "the callback of {id} never came: {waited}");
        let at: chrono::DateTime<chrono::Utc> = waited["callbacks"][0]["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(waited["callbacks"][0]["outcome"], "delivered");
        delays.push((at - *wall).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    delays.sort_by(f64::total_cmp);
    Figures {
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        callbacks: delays.len(),
        callback_p99_ms: percentile(&delays, 0.99),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_tenant_is_unaffected_by_hostile_ones() {
    let mut config = Config::local().with_seed(11).with_world_toml("[daraja]\nstk_answer_delay_ms = 20\n").unwrap();
    config.callbacks.timeout = Duration::from_secs(2);
    config.shutdown_grace = Duration::from_secs(1);
    let sandbox = Sandbox::start(config).await.unwrap();
    let base = sandbox.base_url().to_owned();
    let ok = receiver(StatusCode::OK).await;
    let failing = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let hang = hanging_receiver().await;
    let creds = sandbox.credentials();
    let good = Client::new(&base, &creds.daraja.consumer_key, &creds.daraja.consumer_secret).await;

    let alone = well_behaved(&sandbox, &good, &ok, 0).await;

    // A scenario at every limit: a day's delays, 100 duplicates, 100 retries.
    let day = 86_400_000;
    let retries = vec![day.to_string(); 100].join(", ");
    let at_the_limits = format!(
        "[[rules]]\noutcome = {{ result_code = 0, after_ms = {day} }}\ncallback = {{ delay_ms = {day}, duplicates = 100, duplicate_spacing_ms = {day}, out_of_order = true, hold_max_ms = {day}, retry_ms = [{retries}] }}\n"
    );
    let storm = "[[rules]]\ncallback = { duplicates = 100, retry_ms = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }\n";
    let hostile = [
        ("hangs", tenant(&base, "hangs", &[]).await, hang.clone(), 4),
        ("limits", tenant(&base, "limits", &[&at_the_limits]).await, ok.clone(), 2),
        ("storm", tenant(&base, "storm", &[storm]).await, failing.clone(), 2),
        ("flood", tenant(&base, "flood", &[]).await, ok.clone(), 4),
    ];
    // Past the limits, nothing loads.
    let refused = reqwest::Client::new()
        .put(format!("{base}/__sandbox/tenants/limits/scenarios"))
        .header("content-type", "application/toml")
        .body("[[rules]]\ncallback = { delay_ms = 9223372036854775807 }\n")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let stop = Arc::new(AtomicBool::new(false));
    let mut counts = Vec::new();
    for (name, client, callback, workers) in hostile {
        let count = Arc::new(AtomicU64::new(0));
        hammer(client, workers, callback, stop.clone(), count.clone());
        counts.push((name, count));
    }
    // Let the hostile tenants fill their lanes first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let among = well_behaved(&sandbox, &good, &ok, 1_000).await;
    stop.store(true, Ordering::Relaxed);
    let hostile_pushes: Vec<String> =
        counts.iter().map(|(name, n)| format!("{name} {}", n.load(Ordering::Relaxed))).collect();
    let stats = sandbox.callback_stats();
    eprintln!("| well-behaved tenant | push p50 ms | push p99 ms | push max ms | callbacks | callback p99 ms |");
    eprintln!("|---|---:|---:|---:|---:|---:|");
    eprintln!("{}", alone.row("alone"));
    eprintln!("{}", among.row("beside the hostile tenants"));
    eprintln!("hostile pushes: {}; engine: {stats:?}", hostile_pushes.join(", "));

    assert_eq!(among.callbacks, PUSHES, "every callback of the well-behaved tenant was delivered");
    assert!(
        among.p99_ms < 250.0,
        "push p99 {:.1} ms among hostile tenants (alone {:.1} ms)",
        among.p99_ms,
        alone.p99_ms
    );
    assert!(
        among.callback_p99_ms < 1_000.0,
        "callback p99 {:.1} ms after its push among hostile tenants (alone {:.1} ms)",
        among.callback_p99_ms,
        alone.callback_p99_ms
    );
    let health: Value = reqwest::get(format!("{base}/__sandbox/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let report = tokio::time::timeout(Duration::from_secs(30), sandbox.shutdown()).await.expect("stops");
    eprintln!("shutdown: abandoned {}, scheduled {}", report.abandoned_count, report.scheduled_count);
}
