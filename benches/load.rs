//! End-to-end load benchmark: `cargo bench --bench load`.
//!
//! Measures, in one run on one machine:
//!   (a) a bare axum JSON echo server, the floor every other row is compared with;
//!   (a') with (b): the same echo answering a push's answer and sending a push's
//!       callback to the receiver (on a kept-alive connection, written in one
//!       write and its answer read with httparse, as the sandbox's own client
//!       does), the two HTTP exchanges of a push and nothing else: a push's floor;
//!   (b) Daraja token + M-Pesa Express push, with every result callback delivered
//!       to a local receiver;
//!   (c) B2C with one repeated `SecurityCredential`, and with a fresh ciphertext
//!       on every request (one RSA decryption each);
//!   (d) a C2B payment with external validation and confirmation callbacks;
//!   (e) a Pesaflow checkout (JSON answer, a new invoice each, hash-checked);
//!   (f) a Pesaflow notification round trip: a checkout with `sendSTK`, the
//!       prompt paid, the signed notification delivered to a local receiver;
//!   (g) the Vodafone portal's C2B with a reused bearer and with a fresh RSA-4096 one;
//!   (h) a Vodafone OpenAPI C2B in a session (its bearer reused);
//!   (i) an eCitizen SSO code exchange (client secret, PKCE check, an RS256 ID
//!       token each), and (j) eCitizen token introspection;
//!   (k) Daraja token requests alone;
//!   (l) STK pushes whose callbacks go to a port that refuses connections, and
//!   (m) to a receiver that accepts and never answers, each at the benchmark's
//!       concurrency and at 16 connections: push latency, and lost callbacks
//!       (neither delivered nor journaled as failed);
//!   (p) the peer, PyPI's `daraja-mock`, on the endpoints both serve (token,
//!       STK push), installed in a virtual environment under `target/` when
//!       `python3` and `pip` can, skipped with a note otherwise;
//!   plus peak memory after a million STK pushes and the time from start to ready.
//!
//! The servers under test run as child processes (the release `pesa-sandbox`
//! binary, and this benchmark re-executed as the echo server), so their CPU and
//! peak memory are read from `/proc/<pid>` alone. The load generator and the
//! callback receiver run here, on loopback only, with a fixed request count and
//! a time cap per phase; every child is killed at the end.
//!
//! Knobs (environment): `PESA_BENCH_REQUESTS` (per phase, default 40000),
//! `PESA_BENCH_CONCURRENCY` (default 64), `PESA_BENCH_FRESH` (fresh-credential
//! requests and eCitizen code exchanges, default 2000), `PESA_BENCH_MILLION` (pushes in the memory phase,
//! default 1000000; 0 skips it), `PESA_BENCH_MAX_SECS` (cap per phase, default 180),
//! `PESA_BENCH_SANDBOX_BIN` (another build of the binary, e.g. one to profile),
//! `PESA_BENCH_PHASES` (the letters of the phases to run, e.g. `b` or `blm`;
//! (a) always runs, the memory phase follows `PESA_BENCH_MILLION`),
//! `PESA_BENCH_ROUNDS` (rounds of (a), (a') and (b), alternately, default 3:
//! the table shows the round whose push-to-echo CPU ratio is the median, and
//! a note gives every round's; 1 measures each once).
//! The report is printed and written to `target/bench-report.md`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

const ROLE_ENV: &str = "PESA_BENCH_ROLE";
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const INITIATOR_PASSWORD: &str = "Safaricom999!*!";
/// Distinct customers the pushes cycle through: a pool, as a load test uses,
/// large enough that no customer still has a prompt open when it comes round.
const CUSTOMER_POOL: usize = 20_000;
/// One request in this many of phase (b) fetches a new token, for at most
/// `MAX_TOKENS` tokens: the bearer fetched first must stay among the app's
/// newest thousand (older ones are revoked, as `MAX_TOKENS_PER_APP` says).
const TOKENS_EVERY: usize = 50;
const MAX_TOKENS: usize = 500;
const B2C: &str = "/mpesa/b2c/v1/paymentrequest";

/// The world the sandbox runs with: answers and results after 1 ms (so the
/// callback path is exercised at full rate), a B2C shortcode rich enough for
/// every payment, and a paybill that asks its own validation URL.
const BENCH_WORLD: &str = r#"
[[shortcodes]]
number = "600999"
kind = "paybill"
balance = 100000000

[[shortcodes]]
number = "600984"
kind = "paybill"
balance = 0
external_validation = true

[daraja]
stk_answer_delay_ms = 1
result_delay_ms = 1
timestamp_window_secs = 0

[pesaflow]
prompt_answer_delay_ms = 1
"#;

fn main() {
    if std::env::var(ROLE_ENV).as_deref() == Ok("echo") {
        run_echo_server();
        return;
    }
    let knobs = Knobs::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let report = runtime.block_on(run(knobs));
    println!("\n{report}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-report.md");
    if std::fs::write(&path, &report).is_ok() {
        println!("written to {}", path.display());
    }
}

#[derive(Clone, Copy)]
struct Knobs {
    /// The phases to run, by letter (bit `n` for the `n`th letter); (a), the
    /// floor every row is compared with, always runs.
    phases: u32,
    requests: usize,
    concurrency: usize,
    fresh: usize,
    million: usize,
    max: Duration,
    /// Rounds of (a), (a') and (b), alternately.
    rounds: usize,
}

impl Knobs {
    fn from_env() -> Knobs {
        let get = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        let phases = match std::env::var("PESA_BENCH_PHASES") {
            Ok(letters) if !letters.trim().is_empty() => letters
                .chars()
                .filter(char::is_ascii_lowercase)
                .fold(1, |bits, c| bits | 1u32 << (c as u32 - 'a' as u32)),
            _ => u32::MAX,
        };
        Knobs {
            phases,
            requests: get("PESA_BENCH_REQUESTS", 40_000).max(1),
            concurrency: get("PESA_BENCH_CONCURRENCY", 64).max(1),
            fresh: get("PESA_BENCH_FRESH", 2_000).max(1),
            million: get("PESA_BENCH_MILLION", 1_000_000),
            max: Duration::from_secs(get("PESA_BENCH_MAX_SECS", 180) as u64),
            rounds: get("PESA_BENCH_ROUNDS", 3).clamp(1, 9),
        }
    }

    /// Whether phase `letter` runs.
    fn runs(&self, letter: char) -> bool {
        letter.is_ascii_lowercase() && self.phases & (1 << (letter as u32 - 'a' as u32)) != 0
    }
}

// ---------------------------------------------------------------- the echo floor

/// (a): the smallest axum server that parses and answers JSON, on the same
/// runtime shape as the sandbox's (tokio multi-thread, one worker per core).
///
/// (a'), a push's floor: `/echo-callback` answers as a push is answered
/// and sends one callback of a push's size to the request's `CallBackURL`
/// on a kept-alive connection, the request written in one write and the
/// answer read with httparse, as the sandbox's own callback client does:
/// the two HTTP exchanges of a push and nothing else.
fn run_echo_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let app = Router::new()
            .route("/echo", post(|Json(body): Json<Value>| async move { Json(body) }))
            .route("/echo-callback", post(echo_callback))
            .with_state(Floor::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("echo listening on http://{}", listener.local_addr().expect("addr"));
        axum::serve(listener, app).await.expect("serve");
    });
}

/// The floor's idle connections to the benchmark's receiver.
type Floor = Arc<std::sync::Mutex<Vec<tokio::net::TcpStream>>>;

/// A push's answer, as the sandbox words it.
const FLOOR_ANSWER: &str = r#"{"MerchantRequestID":"7071-4170-a0e4-8345632bad4421","CheckoutRequestID":"ws_CO_06122026101010101254790000001","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}"#;

/// A push's result callback, as the sandbox words it.
const FLOOR_CALLBACK: &str = r#"{"Body":{"stkCallback":{"MerchantRequestID":"7071-4170-a0e4-8345632bad4421","CheckoutRequestID":"ws_CO_06122026101010101254790000001","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":"ULC6ABCDEF"},{"Name":"Balance"},{"Name":"TransactionDate","Value":20261206101011},{"Name":"PhoneNumber","Value":254790000001}]}}}}"#;

async fn echo_callback(
    State(floor): State<Floor>,
    Json(body): Json<Value>,
) -> ([(&'static str, &'static str); 1], &'static str) {
    let uri = body.get("CallBackURL").and_then(Value::as_str).and_then(|url| url.parse::<hyper::Uri>().ok());
    // The benchmark's own receiver only: nothing leaves loopback.
    if let Some(uri) = uri.filter(|uri| uri.host() == Some("127.0.0.1")) {
        tokio::spawn(async move {
            let (Some(authority), Some(port)) = (uri.authority(), uri.port_u16()) else { return };
            let request = format!(
                "POST {} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{FLOOR_CALLBACK}",
                uri.path(),
                FLOOR_CALLBACK.len()
            );
            let kept = floor.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let stream = match kept {
                Some(stream) => stream,
                None => match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    Ok(stream) if stream.set_nodelay(true).is_ok() => stream,
                    _ => return,
                },
            };
            if let Some(stream) = floor_exchange(stream, request.as_bytes()).await {
                floor.lock().unwrap_or_else(|e| e.into_inner()).push(stream);
            }
        });
    }
    ([("content-type", "application/json")], FLOOR_ANSWER)
}

/// Writes the request and reads its answer (a head and a `Content-Length`
/// body, as the benchmark's receiver answers); the connection back if it
/// may carry another.
async fn floor_exchange(mut stream: tokio::net::TcpStream, request: &[u8]) -> Option<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.ok()?;
    let mut read = Vec::with_capacity(1024);
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut answer = httparse::Response::new(&mut fields);
        if let httparse::Status::Complete(head) = answer.parse(&read).ok()? {
            let length = answer
                .headers
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case("content-length"))
                .and_then(|f| std::str::from_utf8(f.value).ok()?.trim().parse::<usize>().ok())?;
            if read.len() >= head + length {
                return Some(stream);
            }
        }
        if read.len() > 64 * 1024 || stream.read_buf(&mut read).await.ok()? == 0 {
            return None;
        }
    }
}

// ---------------------------------------------------------------- child servers

/// A server under test in its own process: CPU and memory are its own.
struct Server {
    child: Child,
    base: String,
    ready: Duration,
}

impl Server {
    fn spawn(mut command: Command) -> Server {
        let started = Instant::now();
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").expect("read");
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        // Ready means a request is answered, not only that a line was printed.
        let addr: SocketAddr = base.trim_start_matches("http://").parse().expect("address");
        while std::net::TcpStream::connect(addr).is_err() {
            std::thread::yield_now();
        }
        let ready = started.elapsed();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, ready }
    }

    fn sandbox(world: &std::path::Path, seed: u64) -> Server {
        // A profiling build (frame pointers, debug lines) can stand in.
        let binary =
            std::env::var("PESA_BENCH_SANDBOX_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pesa-sandbox").into());
        let mut command = Command::new(binary);
        command.args(["serve", "--listen", "127.0.0.1:0", "--seed", &seed.to_string()]).arg("--world").arg(world);
        command.env_remove("RUST_LOG");
        Server::spawn(command)
    }

    fn echo() -> Server {
        let mut command = Command::new(std::env::current_exe().expect("own path"));
        command.env(ROLE_ENV, "echo");
        Server::spawn(command)
    }

    /// User and system CPU time of the whole process so far, apart.
    fn cpu_split(&self) -> (Duration, Duration) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
        let ticks =
            |i: usize| Duration::from_secs_f64(fields.get(i).copied().unwrap_or(0) as f64 / clock_ticks_per_second());
        (ticks(11), ticks(12))
    }

    /// Peak resident memory (VmHWM) in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------- callback receiver

/// Counts callbacks; answers C2B validation with an acceptance.
#[derive(Default)]
struct Receiver {
    received: AtomicU64,
}

async fn start_receiver() -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver::default());
    async fn any(State(r): State<Arc<Receiver>>, _body: axum::body::Bytes) -> Json<Value> {
        r.received.fetch_add(1, Ordering::Relaxed);
        Json(json!({ "ResultCode": "0", "ResultDesc": "Accepted" }))
    }
    let app = Router::new().fallback(post(any)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

// ---------------------------------------------------------------- load generator

/// One measured phase.
struct Row {
    name: String,
    requests: usize,
    failed: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    cpu: Duration,
    callbacks: Option<(u64, u64, Duration)>, // (expected, delivered or journaled as failed, until the last)
    peak_mib: f64,
    /// Said under the table.
    note: Option<String>,
}

impl Row {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// One request of a phase, and how many callbacks it brings when it succeeds.
struct Req {
    method: &'static str,
    path: String,
    authorization: Option<Arc<str>>,
    body: Option<Value>,
    /// A form-encoded body instead of JSON (eCitizen's endpoints).
    form: Option<String>,
    brings: u64,
}

impl Req {
    fn post(path: String, authorization: &Arc<str>, body: Value, brings: u64) -> Req {
        Req { method: "POST", path, authorization: Some(authorization.clone()), body: Some(body), form: None, brings }
    }

    fn form(path: &str, form: String) -> Req {
        Req { method: "POST", path: path.to_owned(), authorization: None, body: None, form: Some(form), brings: 0 }
    }
}

/// What a phase sends: request `i` of the phase.
type MakeRequest = Arc<dyn Fn(usize) -> Req + Send + Sync>;

/// A lean HTTP/1.1 client (hyper's connection API, no pool, no redirects):
/// the load generator shares the machine with the server, so it should cost
/// as little as it can.
struct Connection {
    addr: SocketAddr,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// The status and body of the answer; `None` when the connection failed.
    async fn send(&mut self, req: &Req) -> Option<(hyper::StatusCode, Bytes)> {
        // A server that closes after each answer (the peer's HTTP/1.0) may
        // have closed the kept connection since: connect again, once.
        for _ in 0..2 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                let stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
                stream.set_nodelay(true).ok()?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.ok()?;
                tokio::spawn(connection);
                self.sender = Some(sender);
            }
            match self.sender.as_mut()?.ready().await {
                Ok(()) => break,
                Err(_) => self.sender = None,
            }
        }
        let sender = self.sender.as_mut()?;
        let mut builder = hyper::Request::builder().method(req.method).uri(&req.path).header("host", "127.0.0.1");
        if let Some(auth) = &req.authorization {
            builder = builder.header("authorization", auth.as_ref());
        }
        let body = match (&req.body, &req.form) {
            (Some(json), _) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(json).ok()?)
            }
            (None, Some(form)) => {
                builder = builder.header("content-type", "application/x-www-form-urlencoded");
                Bytes::from(form.clone())
            }
            (None, None) => Bytes::new(),
        };
        let res = sender.send_request(builder.body(Full::new(body)).ok()?).await;
        let Ok(res) = res else {
            self.sender = None;
            return None;
        };
        let status = res.status();
        let body = res.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }
}

/// Sends `count` requests from `concurrency` workers (each a keep-alive
/// connection), stopping early at the time cap.
async fn drive(base: &str, count: usize, concurrency: usize, max: Duration, make: MakeRequest) -> Driven {
    let addr: SocketAddr = base.trim_start_matches("http://").parse().expect("loopback address");
    assert!(addr.ip().is_loopback(), "the benchmark only sends to loopback");
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let callbacks = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, make) = (next.clone(), make.clone());
            let (failed, callbacks, samples) = (failed.clone(), callbacks.clone(), samples.clone());
            tokio::spawn(async move {
                let mut connection = Connection { addr, sender: None };
                let mut latencies = Vec::with_capacity(count / concurrency + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= count || started.elapsed() > max {
                        break;
                    }
                    let req = make(i);
                    let sent = Instant::now();
                    let answer = connection.send(&req).await;
                    latencies.push(sent.elapsed().as_micros() as u64);
                    let ok = answer.as_ref().is_some_and(|(status, _)| status.is_success());
                    if !ok {
                        let mut samples = samples.lock().unwrap_or_else(|e| e.into_inner());
                        if samples.len() < 3 {
                            samples.push(match &answer {
                                Some((status, body)) => format!("{status} {}", String::from_utf8_lossy(body)),
                                None => "connection failed".to_owned(),
                            });
                        }
                    }
                    if ok {
                        callbacks.fetch_add(req.brings, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        all.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    for sample in samples.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        eprintln!("    failed: {sample}");
    }
    Driven {
        requests: all.len(),
        failed: failed.load(Ordering::Relaxed) as usize,
        callbacks: callbacks.load(Ordering::Relaxed),
        elapsed,
        latencies_us: all,
    }
}

struct Driven {
    requests: usize,
    failed: usize,
    /// Callbacks the successful requests should bring.
    callbacks: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

/// Waits (bounded) until the receiver has `expected` more callbacks than
/// `before`; returns how many arrived and when the last one did.
async fn await_callbacks(
    receiver: &Receiver,
    before: u64,
    expected: u64,
    started: Instant,
    max: Duration,
) -> (u64, Duration) {
    let deadline = Instant::now() + max.min(Duration::from_secs(60));
    let mut last = receiver.received.load(Ordering::Relaxed) - before;
    let mut last_at = started.elapsed();
    while last < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = receiver.received.load(Ordering::Relaxed) - before;
        if now != last {
            last = now;
            last_at = started.elapsed();
        }
    }
    (last, last_at)
}

async fn phase(
    name: &str,
    server: &Server,
    knobs: Knobs,
    count: usize,
    receiver: Option<&Receiver>,
    make: MakeRequest,
) -> Row {
    let cpu_before = server.cpu_split();
    let received_before = receiver.map(|r| r.received.load(Ordering::Relaxed)).unwrap_or(0);
    let started = Instant::now();
    let driven = drive(&server.base, count, knobs.concurrency, knobs.max, make).await;
    let expected = driven.callbacks;
    let callbacks = match receiver {
        Some(receiver) => {
            let (delivered, until) = await_callbacks(receiver, received_before, expected, started, knobs.max).await;
            Some((expected, delivered, until))
        }
        None => None,
    };
    measured(name, server, cpu_before, driven, callbacks)
}

/// The row of a phase just driven, reported as it ends.
fn measured(
    name: &str,
    server: &Server,
    cpu_before: (Duration, Duration),
    driven: Driven,
    callbacks: Option<(u64, u64, Duration)>,
) -> Row {
    let Driven { requests, failed, elapsed, latencies_us, .. } = driven;
    let (user, system) = server.cpu_split();
    let (user, system) = (user.saturating_sub(cpu_before.0), system.saturating_sub(cpu_before.1));
    let row = Row {
        name: name.to_owned(),
        requests,
        failed,
        elapsed,
        latencies_us,
        cpu: user + system,
        callbacks,
        peak_mib: server.peak_mib(),
        note: None,
    };
    eprintln!(
        "  {name}: {requests} requests ({failed} failed) in {:.2}s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, server CPU {:.1} µs user + {:.1} µs system per request",
        elapsed.as_secs_f64(),
        row.rps(),
        row.percentile_ms(0.5),
        row.percentile_ms(0.99),
        user.as_secs_f64() * 1e6 / requests.max(1) as f64,
        system.as_secs_f64() * 1e6 / requests.max(1) as f64,
    );
    row
}

// ---------------------------------------------------------------- receivers that fail

/// The engine's callback counters, from the health endpoint.
#[derive(Clone, Copy, Default)]
struct Counters {
    accounted: u64,
    short_circuited: u64,
    busy: u64,
}

async fn counters(http: &reqwest::Client, base: &str) -> Counters {
    let health: Value = match http.get(format!("{base}/__sandbox/health")).send().await {
        Ok(res) => res.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let n = |key: &str| health["callbacks"][key].as_u64().unwrap_or(0);
    Counters {
        accounted: n("delivered") + n("failed"),
        short_circuited: n("short_circuited"),
        busy: n("in_flight") + n("queued"),
    }
}

/// A loopback address nobody listens on: connections to it are refused.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// A receiver that accepts every connection and never answers.
async fn hanging_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// STK pushes whose callbacks go to a receiver that fails, at `concurrency`
/// connections; then waits (bounded) until every callback is delivered or
/// journaled as failed. Lost means neither.
async fn failing_phase(
    name: &str,
    sandbox: &Server,
    daraja: &Daraja,
    knobs: Knobs,
    concurrency: usize,
    receiver: String,
) -> Row {
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let before = counters(&http, &sandbox.base).await;
    let cpu_before = sandbox.cpu_split();
    let started = Instant::now();
    // A bearer of its own: each phase renews tokens, and an app keeps only its newest thousand.
    let d = Daraja::connect(&daraja.base, &receiver).await;
    let make = stk_requests(&d, TOKENS_EVERY.max(knobs.requests / MAX_TOKENS));
    let driven = drive(&sandbox.base, knobs.requests, concurrency, knobs.max, make).await;
    let expected = driven.callbacks;
    // A hanging receiver's attempts end at the callback timeout (10 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut now, mut until) = (counters(&http, &sandbox.base).await, started.elapsed());
    while (now.accounted - before.accounted < expected || now.busy > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let next = counters(&http, &sandbox.base).await;
        if next.accounted != now.accounted {
            until = started.elapsed();
        }
        now = next;
    }
    let callbacks = Some((expected, now.accounted - before.accounted, until));
    let mut row = measured(name, sandbox, cpu_before, driven, callbacks);
    row.note = Some(format!(
        "{name}: {} of {expected} callbacks failed at once, unsent, their destination's circuit open.",
        now.short_circuited - before.short_circuited
    ));
    row
}

/// (l) a receiver that refuses connections, (m) one that accepts and never
/// answers, each at the benchmark's concurrency and at 16 connections.
async fn failing_rows(sandbox: &Server, daraja: &Daraja, knobs: Knobs, rows: &mut Vec<Row>) {
    for concurrency in [knobs.concurrency, 16].into_iter().filter(|_| knobs.runs('l')) {
        eprintln!("(l) refusing receiver, {concurrency} connections");
        let name = format!("(l) STK push, refusing receiver, {concurrency} conns");
        rows.push(failing_phase(&name, sandbox, daraja, knobs, concurrency, refusing_url()).await);
    }
    for concurrency in [knobs.concurrency, 16].into_iter().filter(|_| knobs.runs('m')) {
        eprintln!("(m) hanging receiver, {concurrency} connections");
        let name = format!("(m) STK push, hanging receiver, {concurrency} conns");
        rows.push(failing_phase(&name, sandbox, daraja, knobs, concurrency, hanging_url().await).await);
    }
}

// ---------------------------------------------------------------- the peer

/// The peer's virtual environment: made under `target/` with the machine's
/// `python3` and `pip` the first time, reused after; `None` (and why) when
/// they are missing or the install fails.
fn peer_venv(target: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let venv = target.join("bench-peer-venv");
    let bin = venv.join("bin/daraja-mock");
    if bin.exists() {
        return Ok(bin);
    }
    let quiet = |c: &mut Command| c.stdout(Stdio::null()).stderr(Stdio::null()).status();
    match quiet(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        Ok(status) if status.success() => {}
        _ => return Err("python3 with venv is not available".into()),
    }
    match quiet(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "daraja-mock==1.0.5"])) {
        Ok(status) if status.success() && bin.exists() => Ok(bin),
        _ => Err("pip could not install daraja-mock".into()),
    }
}

/// The peer, PyPI's `daraja-mock` (a Flask test double that answers fixed
/// bodies, checks nothing and sends no callback), on a free loopback port.
fn peer_server(bin: &std::path::Path) -> Option<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let started = Instant::now();
    let mut command = Command::new(bin);
    command.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    let mut server = Server { child, base: format!("http://127.0.0.1:{port}"), ready: Duration::ZERO };
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().ok()?;
    while std::net::TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    server.ready = started.elapsed();
    Some(server)
}

/// (p) The endpoints the peer shares with the sandbox, token and STK push,
/// driven the same way; `Err` says why the peer was skipped.
async fn peer_rows(target: &std::path::Path, daraja: &Daraja, knobs: Knobs) -> Result<Vec<Row>, String> {
    let bin = peer_venv(target)?;
    let peer = peer_server(&bin).ok_or("daraja-mock did not start")?;
    let d = Daraja { base: peer.base.clone(), ..daraja.clone() };
    let mut rows = Vec::new();
    // The peer serves about a thousand requests a second: fewer of them
    // measure it as well.
    let count = knobs.requests.min(10_000);
    eprintln!("(p) the peer, daraja-mock: token, STK push");
    rows.push(phase("(p) daraja-mock: token", &peer, knobs, count, None, token_requests(&d)).await);
    rows.push(phase("(p) daraja-mock: STK push", &peer, knobs, count, None, stk_requests(&d, 0)).await);
    Ok(rows)
}

// ---------------------------------------------------------------- Daraja requests

#[derive(Clone)]
struct Daraja {
    base: String,
    /// `Basic …` of the default app, for token requests.
    basic: Arc<str>,
    /// `Bearer …` of a token fetched at the start.
    bearer: Arc<str>,
    receiver: String,
}

/// The default tenant's credentials document.
async fn credentials(http: &reqwest::Client, base: &str) -> Value {
    let res = http.get(format!("{base}/__sandbox/credentials")).send().await.expect("credentials");
    res.json().await.expect("credentials JSON")
}

impl Daraja {
    async fn connect(base: &str, receiver: &str) -> Daraja {
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let creds = credentials(&http, base).await;
        let key = creds["daraja"]["consumer_key"].as_str().expect("consumer key").to_owned();
        let secret = creds["daraja"]["consumer_secret"].as_str().expect("consumer secret").to_owned();
        let token = oauth(&http, base, &key, &secret).await;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
        Daraja {
            base: base.to_owned(),
            basic: basic.into(),
            bearer: format!("Bearer {token}").into(),
            receiver: receiver.to_owned(),
        }
    }
}

async fn oauth(http: &reqwest::Client, base: &str, key: &str, secret: &str) -> String {
    let res: Value = http
        .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(key, Some(secret))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    res["access_token"].as_str().expect("access_token").to_owned()
}

/// The Lipa na M-Pesa timestamp of every push (the bench world turns the
/// freshness window off) and its password, derived as clients derive it.
const TIMESTAMP: &str = "20300101000000";
static PASSWORD: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| pesa_sandbox::crypto::lnm::password("174379", PASSKEY, TIMESTAMP));

fn stk_body(receiver: &str, i: usize) -> Value {
    let (timestamp, password) = (TIMESTAMP, PASSWORD.as_str());
    let msisdn = format!("25479{:07}", i % CUSTOMER_POOL);
    json!({
        "BusinessShortCode": "174379", "Password": password, "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": msisdn, "PartyB": "174379",
        "PhoneNumber": msisdn, "CallBackURL": format!("{receiver}/stk"), "AccountReference": "BENCH", "TransactionDesc": "load",
    })
}

fn b2c_body(receiver: &str, credential: &str) -> Value {
    json!({
        "InitiatorName": "testapi", "SecurityCredential": credential, "CommandID": "BusinessPayment",
        "Amount": 10, "PartyA": "600999", "PartyB": "254708374149", "Remarks": "load", "Occassion": "bench",
        "QueueTimeOutURL": format!("{receiver}/timeout"), "ResultURL": format!("{receiver}/result"),
    })
}

/// A `SecurityCredential` as clients make it, to the published certificate.
fn credential(public: &rsa::RsaPublicKey, rng: &mut rand::rngs::ThreadRng) -> String {
    pesa_sandbox::crypto::credential::encrypt(public, INITIATOR_PASSWORD.as_bytes(), rng).expect("encrypt")
}

/// Token requests only (Basic auth, as clients renew).
fn token_requests(d: &Daraja) -> MakeRequest {
    let basic = d.basic.clone();
    Arc::new(move |_| {
        let path = "/oauth/v1/generate?grant_type=client_credentials".to_owned();
        Req { method: "GET", path, authorization: Some(basic.clone()), body: None, form: None, brings: 0 }
    })
}

/// Token + STK push: pushes, with a token request in every `tokens_every`
/// (clients cache a token for its lifetime and renew it now and then).
fn stk_requests(d: &Daraja, tokens_every: usize) -> MakeRequest {
    let (basic, bearer, receiver) = (d.basic.clone(), d.bearer.clone(), d.receiver.clone());
    Arc::new(move |i| {
        if tokens_every > 0 && i % tokens_every == 0 {
            let path = "/oauth/v1/generate?grant_type=client_credentials".to_owned();
            return Req { method: "GET", path, authorization: Some(basic.clone()), body: None, form: None, brings: 0 };
        }
        Req::post("/mpesa/stkpush/v1/processrequest".into(), &bearer, stk_body(&receiver, i), 1)
    })
}

// ---------------------------------------------------------------- eCitizen requests

/// RFC 7636 Appendix B's pair: every bench login uses it.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ECITIZEN_CALLBACK: &str = "http://localhost:3000/callback";

/// `count` authorization codes of the default eCitizen client, logged in
/// without a page (`prompt=none`, a `login_hint`): the setup of the code
/// exchange phase, not measured.
async fn ecitizen_codes(base: &str, client_id: &str, count: usize) -> Vec<String> {
    let http =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/oauth/authorize"),
        &[
            ("client_id", client_id),
            ("redirect_uri", ECITIZEN_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "bench"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
            ("login_hint", "2"),
        ],
    )
    .expect("authorize URL");
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let res = http.get(url.clone()).send().await.expect("authorize");
        let location = res.headers().get("location").and_then(|l| l.to_str().ok()).expect("a redirect").to_owned();
        let location = reqwest::Url::parse(&location).expect("a URL");
        codes.push(location.query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned());
    }
    codes
}

/// The guide's token request for one code.
fn exchange_form(client_id: &str, secret: &str, code: &str) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs([
        ("client_id", client_id),
        ("client_secret", secret),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", ECITIZEN_CALLBACK),
        ("code_verifier", VERIFIER),
    ]);
    form.finish()
}

// ---------------------------------------------------------------- Pesaflow requests

/// A JSON checkout of the default client's service 1001 for KES 1 (6.00 with
/// its fee), a new `billRefNumber` each, signed as merchants sign it.
fn pesaflow_checkout(creds: &Value, receiver: &str, i: usize, send_stk: bool) -> Value {
    let client = creds["pesaflow"]["api_client_id"].as_str().expect("api_client_id");
    let key = creds["pesaflow"]["key"].as_str().expect("key");
    let secret = creds["pesaflow"]["secret"].as_str().expect("secret");
    // A reference of its own per phase too: an unpaid checkout posted again
    // would answer the same invoice.
    let bill_ref = format!("BENCH-{}-{i}", if send_stk { "STK" } else { "JSON" });
    let values = [client, "1", "1001", "12345678", "KES", &bill_ref, "load", "Bench Citizen"];
    let hash = pesa_sandbox::crypto::secure_hash::secure_hash(
        pesa_sandbox::crypto::secure_hash::Recipe::Checkout,
        &values,
        pesa_sandbox::crypto::secure_hash::HashKey { key, secret },
        pesa_sandbox::crypto::secure_hash::HashEncoding::Base64OfHex,
    )
    .expect("eight checkout values");
    json!({
        "apiClientID": client, "serviceID": "1001", "billDesc": "load", "currency": "KES", "billRefNumber": bill_ref,
        "clientMSISDN": format!("25479{:07}", i % CUSTOMER_POOL), "clientName": "Bench Citizen", "clientIDNumber": "12345678",
        "amountExpected": "1", "notificationURL": format!("{receiver}/ipn"), "format": "json", "sendSTK": send_stk,
        "secureHash": hash,
    })
}

/// Pesaflow checkouts; with `send_stk`, each brings one notification.
fn pesaflow_requests(creds: Arc<Value>, receiver: String, send_stk: bool) -> MakeRequest {
    let none: Arc<str> = Arc::from("");
    Arc::new(move |i| Req {
        authorization: None,
        ..Req::post(
            "/PaymentAPI/iframev2.1.php".into(),
            &none,
            pesaflow_checkout(&creds, &receiver, i, send_stk),
            u64::from(send_stk),
        )
    })
}

// ---------------------------------------------------------------- the run

async fn run(knobs: Knobs) -> String {
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    let world = target.join("bench-world.toml");
    std::fs::write(&world, BENCH_WORLD).expect("write world");
    let (receiver_url, receiver) = start_receiver().await;
    let mut rows = Vec::new();

    let echo = Server::echo();
    let sandbox = Server::sandbox(&world, 1);
    let daraja = Daraja::connect(&sandbox.base, &receiver_url).await;
    // The echo, the floor and the push alternate, round after round, each
    // push beside its own echo: one echo measured on a noisy moment would
    // move every ratio of the run by a sixth.
    let rounds = if knobs.runs('b') { knobs.rounds } else { 1 };
    let tokens_every = TOKENS_EVERY.max(knobs.requests.saturating_mul(rounds) / MAX_TOKENS);
    let mut measured_rounds = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        if rounds > 1 {
            eprintln!("round {round} of {rounds}");
        }
        eprintln!("(a) echo baseline");
        let body = stk_body(&receiver_url, 1);
        let echo_row = phase(
            "(a) axum JSON echo",
            &echo,
            knobs,
            knobs.requests,
            None,
            Arc::new(move |_| Req {
                method: "POST",
                path: "/echo".into(),
                authorization: None,
                body: Some(body.clone()),
                form: None,
                brings: 0,
            }),
        )
        .await;
        if !knobs.runs('b') {
            measured_rounds.push(vec![echo_row]);
            continue;
        }
        eprintln!("(a') a push's floor");
        let floor_url = receiver_url.clone();
        let floor_row = phase(
            "(a') echo + one callback: a push's floor",
            &echo,
            knobs,
            knobs.requests,
            Some(&receiver),
            Arc::new(move |i| Req {
                method: "POST",
                path: "/echo-callback".into(),
                authorization: None,
                body: Some(stk_body(&floor_url, i)),
                form: None,
                brings: 1,
            }),
        )
        .await;
        eprintln!("(b) token + STK push");
        let push_row = phase(
            "(b) token + STK push",
            &sandbox,
            knobs,
            knobs.requests,
            Some(&receiver),
            stk_requests(&daraja, tokens_every),
        )
        .await;
        measured_rounds.push(vec![echo_row, floor_row, push_row]);
    }
    drop(echo);
    rows.extend(median_round(measured_rounds));

    if knobs.runs('c') {
        eprintln!("(c) B2C");
        let public =
            pesa_sandbox::crypto::keys::public_key_from_certificate(pesa_sandbox::daraja::keys::CERTIFICATE_PEM)
                .expect("the published certificate");
        let repeated = credential(&public, &mut rand::thread_rng());
        let (bearer, recv) = (daraja.bearer.clone(), daraja.receiver.clone());
        rows.push(
            phase(
                "(c) B2C, repeated credential",
                &sandbox,
                knobs,
                knobs.requests,
                Some(&receiver),
                Arc::new(move |_| Req::post(B2C.into(), &bearer, b2c_body(&recv, &repeated), 1)),
            )
            .await,
        );
        let fresh: Arc<Vec<String>> = Arc::new({
            let mut rng = rand::thread_rng();
            (0..knobs.fresh).map(|_| credential(&public, &mut rng)).collect()
        });
        let (bearer, recv) = (daraja.bearer.clone(), daraja.receiver.clone());
        rows.push(
            phase(
                "(c) B2C, fresh ciphertext",
                &sandbox,
                knobs,
                knobs.fresh,
                Some(&receiver),
                Arc::new(move |i| Req::post(B2C.into(), &bearer, b2c_body(&recv, &fresh[i % fresh.len()]), 1)),
            )
            .await,
        );
    }

    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    if knobs.runs('d') {
        eprintln!("(d) C2B with validation and confirmation");
        let registered = http
        .post(format!("{}/mpesa/c2b/v1/registerurl", daraja.base))
        .header("authorization", daraja.bearer.as_ref())
        .json(&json!({
            "ShortCode": "600984", "ResponseType": "Completed",
            "ConfirmationURL": format!("{receiver_url}/c2b/confirm"), "ValidationURL": format!("{receiver_url}/c2b/validate"),
        }))
        .send()
        .await
        .expect("register");
        assert!(
            registered.status().is_success(),
            "C2B registration failed: {}",
            registered.text().await.unwrap_or_default()
        );
        let bearer = daraja.bearer.clone();
        rows.push(
            phase(
                "(d) C2B validate + confirm",
                &sandbox,
                knobs,
                knobs.requests,
                Some(&receiver),
                Arc::new(move |i| {
                    let body = json!({
                        "ShortCode": "600984", "CommandID": "CustomerPayBillOnline", "Amount": 1,
                        "Msisdn": format!("25479{:07}", i % CUSTOMER_POOL), "BillRefNumber": "BENCH",
                    });
                    // Validation and confirmation.
                    Req::post("/mpesa/c2b/v1/simulate".into(), &bearer, body, 2)
                }),
            )
            .await,
        );
    }

    let creds: Arc<Value> = Arc::new(credentials(&http, &daraja.base).await);
    if knobs.runs('e') {
        eprintln!("(e) Pesaflow checkout");
        rows.push(
            phase(
                "(e) Pesaflow checkout",
                &sandbox,
                knobs,
                knobs.requests,
                None,
                pesaflow_requests(creds.clone(), receiver_url.clone(), false),
            )
            .await,
        );
    }
    if knobs.runs('f') {
        eprintln!("(f) Pesaflow checkout with its notification");
        rows.push(
            phase(
                "(f) Pesaflow checkout + notification",
                &sandbox,
                knobs,
                knobs.requests,
                Some(&receiver),
                pesaflow_requests(creds, receiver_url.clone(), true),
            )
            .await,
        );
    }
    if knobs.runs('g') || knobs.runs('h') {
        vodafone_rows(&sandbox, knobs, &mut rows).await;
    }
    if knobs.runs('i') || knobs.runs('j') {
        ecitizen_rows(&sandbox, knobs, &mut rows).await;
    }

    // Tokens only, for the side-by-side: this many revoke the bearer the
    // phases above used, so the phases below fetch their own.
    if knobs.runs('k') {
        eprintln!("(k) token");
        rows.push(phase("(k) token", &sandbox, knobs, knobs.requests, None, token_requests(&daraja)).await);
    }
    let daraja = Daraja::connect(&sandbox.base, &receiver_url).await;
    failing_rows(&sandbox, &daraja, knobs, &mut rows).await;
    drop(sandbox);

    let peer = if knobs.runs('p') { peer_rows(&target, &daraja, knobs).await } else { Err("not asked for".into()) };

    // Memory after a million pushes, default journal and retention limits.
    let mut million = None;
    if knobs.million > 0 {
        eprintln!("memory: {} STK pushes", knobs.million);
        let sandbox = Server::sandbox(&world, 2);
        let daraja = Daraja::connect(&sandbox.base, &receiver_url).await;
        let mut long = knobs;
        long.max = knobs.max.max(Duration::from_secs(600));
        let row = phase(
            &format!("{} STK pushes", knobs.million),
            &sandbox,
            long,
            knobs.million,
            Some(&receiver),
            stk_requests(&daraja, knobs.million / MAX_TOKENS + 1),
        )
        .await;
        million = Some(row);
    }

    // Start to ready, over a few starts.
    let mut starts: Vec<Duration> = (0..5).map(|seed| Server::sandbox(&world, 10 + seed).ready).collect();
    starts.sort();

    render(&rows, million.as_ref(), &starts, knobs, peer)
}

// ---------------------------------------------------------------- Vodafone requests

/// A portal C2B body; each request its own reference (the portal refuses a
/// repeated `input_ThirdPartyReference` as a duplicate).
fn portal_c2b(i: usize) -> Value {
    json!({
        "input_TransactionReference": "BENCH", "input_CustomerMSISDN": format!("25886{:07}", i % CUSTOMER_POOL),
        "input_Amount": "1", "input_ThirdPartyReference": format!("B{i}"), "input_ServiceProviderCode": "171717",
    })
}

/// `Bearer base64(RSA-PKCS#1 v1.5(secret))`, as the portal's Java sample makes it.
fn vodafone_bearer(public: &rsa::RsaPublicKey, secret: &str, rng: &mut rand::rngs::ThreadRng) -> Arc<str> {
    let token = pesa_sandbox::crypto::credential::encrypt(public, secret.as_bytes(), rng).expect("a key fits");
    Arc::from(format!("Bearer {token}"))
}

/// (g) The Vodafone portal with a reused and with a fresh RSA-4096 bearer,
/// and (h) an OpenAPI call in a session, all answered synchronously.
async fn vodafone_rows(sandbox: &Server, knobs: Knobs, rows: &mut Vec<Row>) {
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let creds = credentials(&http, &sandbox.base).await;
    let vodafone = &creds["vodafone"];
    let public = pesa_sandbox::crypto::spki::from_base64(vodafone["public_key"].as_str().unwrap_or_default())
        .expect("the published Vodafone key");
    let api_key = vodafone["api_key"].as_str().unwrap_or_default().to_owned();
    let mut rng = rand::thread_rng();
    let path = "/ipg/v1x/c2bPayment/singleStage/";

    if knobs.runs('g') {
        eprintln!("(g) Vodafone portal C2B");
        let reused = vodafone_bearer(&public, &api_key, &mut rng);
        rows.push(
            phase(
                "(g) Vodafone C2B, reused bearer",
                sandbox,
                knobs,
                knobs.requests,
                None,
                Arc::new(move |i| Req::post(path.into(), &reused, portal_c2b(i), 0)),
            )
            .await,
        );
        let fresh: Arc<Vec<Arc<str>>> =
            Arc::new((0..knobs.fresh).map(|_| vodafone_bearer(&public, &api_key, &mut rng)).collect());
        let offset = knobs.requests;
        rows.push(
            phase(
                "(g) Vodafone C2B, fresh RSA-4096 bearer",
                sandbox,
                knobs,
                knobs.fresh,
                None,
                Arc::new(move |i| Req::post(path.into(), &fresh[i % fresh.len()], portal_c2b(offset + i), 0)),
            )
            .await,
        );
    }
    if knobs.runs('h') {
        eprintln!("(h) Vodafone OpenAPI C2B in a session");
        let app_key = vodafone["apps"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["market"] == "vodacomTZN"))
            .and_then(|a| a["api_key"].as_str())
            .unwrap_or_default()
            .to_owned();
        let session: Value = http
            .get(format!("{}/sandbox/ipg/v2/vodacomTZN/getSession/", sandbox.base))
            .header("authorization", vodafone_bearer(&public, &app_key, &mut rng).as_ref())
            .send()
            .await
            .expect("getSession")
            .json()
            .await
            .expect("getSession JSON");
        let session_bearer =
            vodafone_bearer(&public, session["output_SessionID"].as_str().unwrap_or_default(), &mut rng);
        rows.push(
        phase(
            "(h) Vodafone OpenAPI C2B, session bearer",
            sandbox,
            knobs,
            knobs.requests,
            None,
            Arc::new(move |i| {
                let body = json!({
                    "input_Amount": "1", "input_Country": "TZN", "input_Currency": "TZS",
                    "input_CustomerMSISDN": format!("25574{:07}", i % CUSTOMER_POOL), "input_ServiceProviderCode": "000000",
                    "input_ThirdPartyConversationID": format!("B{i}"), "input_TransactionReference": "BENCH",
                    "input_PurchasedItemsDesc": "Bench",
                });
                Req::post("/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/".into(), &session_bearer, body, 0)
            }),
        )
        .await,
    );
    }
}

/// (i) eCitizen code exchanges, each code fetched first (not measured), and
/// (j) introspection of one live token.
async fn ecitizen_rows(sandbox: &Server, knobs: Knobs, rows: &mut Vec<Row>) {
    eprintln!("(i) eCitizen code exchange, (j) introspection");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let creds = credentials(&http, &sandbox.base).await;
    let client_id = creds["ecitizen"]["client_id"].as_str().expect("client id").to_owned();
    let secret = creds["ecitizen"]["client_secret"].as_str().expect("client secret").to_owned();
    // A code lives ten minutes and a tenant keeps 10,000: the phase takes
    // `fresh` of them, fetched first.
    if knobs.runs('i') {
        let codes = ecitizen_codes(&sandbox.base, &client_id, knobs.fresh.min(10_000)).await;
        let forms: Arc<Vec<String>> =
            Arc::new(codes.iter().map(|code| exchange_form(&client_id, &secret, code)).collect());
        rows.push(
            phase(
                "(i) eCitizen code exchange",
                sandbox,
                knobs,
                forms.len(),
                None,
                Arc::new(move |i| Req::form("/oauth/access-token", forms[i % forms.len()].clone())),
            )
            .await,
        );
    }
    if knobs.runs('j') {
        let code = ecitizen_codes(&sandbox.base, &client_id, 1).await.remove(0);
        let tokens: Value = http
            .post(format!("{}/oauth/access-token", sandbox.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(exchange_form(&client_id, &secret, &code))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let introspect: Arc<str> = format!("token={}", tokens["access_token"].as_str().expect("access token")).into();
        rows.push(
            phase(
                "(j) eCitizen introspection",
                sandbox,
                knobs,
                knobs.requests,
                None,
                Arc::new(move |_| Req::form("/api/oauth/token/introspect", introspect.to_string())),
            )
            .await,
        );
    }
}

/// The rows of the round whose push costs the median multiple of its own
/// echo's CPU (of two, the higher), with a note giving every round's
/// ratios; a round is its echo, floor and push, or its echo alone.
fn median_round(mut rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let ratio = |round: &[Row], i: usize, f: fn(&Row) -> f64| {
        round.get(i).map_or(0.0, f) / round.first().map_or(1.0, f).max(1e-9)
    };
    let cpu = |row: &Row| row.cpu_per_request_us();
    let rps = |row: &Row| row.rps();
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&x, &y| ratio(&rounds[x], 2, cpu).total_cmp(&ratio(&rounds[y], 2, cpu)));
    let Some(&chosen) = order.get(rounds.len() / 2) else { return Vec::new() };
    let note = (rounds.len() > 1 && rounds[chosen].len() == 3).then(|| {
        let each: Vec<String> = rounds
            .iter()
            .enumerate()
            .map(|(n, round)| {
                format!(
                    "round {}: the push {:.2}× the echo's CPU ({:.1} against {:.1} µs) and {:.2}× its throughput, the floor {:.2}×",
                    n + 1,
                    ratio(round, 2, cpu),
                    round[2].cpu_per_request_us(),
                    round[0].cpu_per_request_us(),
                    ratio(round, 2, rps),
                    ratio(round, 1, cpu),
                )
            })
            .collect();
        format!(
            "(a), (a') and (b) ran in {} rounds, alternately, each push beside its own echo and floor; the table shows round {}, the median by the push's CPU against its echo's ({}).",
            rounds.len(),
            chosen + 1,
            each.join("; ")
        )
    });
    let mut rows = rounds.swap_remove(chosen);
    if let (Some(note), Some(push)) = (note, rows.get_mut(2)) {
        push.note = Some(note);
    }
    rows
}

fn render(
    rows: &[Row],
    million: Option<&Row>,
    starts: &[Duration],
    knobs: Knobs,
    peer: Result<Vec<Row>, String>,
) -> String {
    use std::fmt::Write;
    let floor = &rows[0];
    let mut out = String::new();
    let _ = writeln!(out, "# pesa-sandbox load benchmark\n");
    let _ = writeln!(
        out,
        "`cargo bench --bench load`: {} requests per phase ({} with fresh credentials), {} concurrent keep-alive connections, loopback, {} cores.\n",
        knobs.requests,
        knobs.fresh,
        knobs.concurrency,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let _ = writeln!(
        out,
        "| phase | req/s | × (a) | p50 ms | p99 ms | server CPU/req µs | × (a) | callbacks/s | lost | peak MiB |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let peer_rows: &[Row] = peer.as_deref().unwrap_or(&[]);
    for row in rows.iter().chain(million).chain(peer_rows) {
        let (cb_rate, lost) = match row.callbacks {
            Some((expected, delivered, until)) => (
                format!("{:.0}", delivered as f64 / until.as_secs_f64().max(1e-9)),
                format!("{}", expected.saturating_sub(delivered)),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {}{} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {} | {} | {:.1} |",
            row.name,
            if row.failed > 0 { format!(" ({} failed)", row.failed) } else { String::new() },
            row.rps(),
            row.rps() / floor.rps(),
            row.percentile_ms(0.5),
            row.percentile_ms(0.99),
            row.cpu_per_request_us(),
            row.cpu_per_request_us() / floor.cpu_per_request_us().max(1e-9),
            cb_rate,
            lost,
            row.peak_mib,
        );
    }
    for note in rows.iter().filter_map(|r| r.note.as_deref()) {
        let _ = writeln!(out, "\n{note}");
    }
    let _ = writeln!(
        out,
        "\nLost: callbacks neither delivered nor journaled as failed (for (l) and (m), failed at once or after the timeout counts as journaled)."
    );
    let by_name = |prefix: &str| rows.iter().find(|r| r.name.starts_with(prefix));
    if let (Some(floor), Some(stk)) = (by_name("(a')"), by_name("(b)")) {
        let _ = writeln!(
            out,
            "\nA push's floor, (a'), is the echo answering a push's answer and sending a push's callback (two HTTP exchanges, nothing checked, kept or journaled): {:.2}× the echo's server CPU, {:.2}× its throughput. The sandbox's push costs {:.2}× the floor's CPU ({:.1} µs more per request) at {:.2}× its throughput.",
            floor.cpu_per_request_us() / rows[0].cpu_per_request_us().max(1e-9),
            floor.rps() / rows[0].rps().max(1e-9),
            stk.cpu_per_request_us() / floor.cpu_per_request_us().max(1e-9),
            stk.cpu_per_request_us() - floor.cpu_per_request_us(),
            stk.rps() / floor.rps().max(1e-9),
        );
    }
    match &peer {
        Ok(peer) => {
            let ours = [("token", by_name("(k) token")), ("STK push", by_name("(b)"))];
            for ((what, ours), theirs) in ours.iter().zip(peer) {
                if let Some(ours) = ours {
                    let _ = writeln!(
                        out,
                        "\nThe peer, daraja-mock, {what}: the sandbox serves {:.1}× its requests per second at {:.2}× its p99 ({:.0} against {:.0} req/s, {:.1} against {:.1} ms).",
                        ours.rps() / theirs.rps().max(1e-9),
                        ours.percentile_ms(0.99) / theirs.percentile_ms(0.99).max(1e-9),
                        ours.rps(),
                        theirs.rps(),
                        ours.percentile_ms(0.99),
                        theirs.percentile_ms(0.99),
                    );
                }
            }
            let _ = writeln!(
                out,
                "The peer answers fixed bodies and checks nothing (no credentials, no password, no state) and sends no callback; the sandbox's push is checked, settled and called back."
            );
        }
        Err(why) => {
            let _ = writeln!(out, "\nThe peer (PyPI daraja-mock) was skipped: {why}.");
        }
    }
    if let (Some(stk), Some(repeated), Some(fresh)) =
        (by_name("(b)"), by_name("(c) B2C, repeated"), by_name("(c) B2C, fresh"))
    {
        let _ = writeln!(
            out,
            "\nB2C with a repeated credential costs {:.2}× the server CPU of an STK push; a fresh ciphertext costs {:.2} ms of server CPU per decryption.",
            repeated.cpu_per_request_us() / stk.cpu_per_request_us().max(1e-9),
            (fresh.cpu_per_request_us() - repeated.cpu_per_request_us()) / 1000.0,
        );
    }
    if let (Some(reused), Some(fresh)) = (by_name("(g) Vodafone C2B, reused"), by_name("(g) Vodafone C2B, fresh")) {
        let _ = writeln!(
            out,
            "A Vodafone call with a fresh RSA-4096 bearer costs {:.2} ms more server CPU than one with a reused bearer (the decryption the digest cache saves).",
            (fresh.cpu_per_request_us() - reused.cpu_per_request_us()) / 1000.0,
        );
    }
    if let (Some(stk), Some(exchange)) = (by_name("(b)"), by_name("(i) eCitizen code exchange")) {
        let _ = writeln!(
            out,
            "An eCitizen code exchange costs {:.2} ms of server CPU ({:.1}× an STK push), most of it the RS256 signature of its ID token.",
            exchange.cpu_per_request_us() / 1000.0,
            exchange.cpu_per_request_us() / stk.cpu_per_request_us().max(1e-9),
        );
    }
    if let Some(m) = million {
        let _ = writeln!(out, "Peak memory after {} STK pushes: {:.1} MiB.", m.requests, m.peak_mib);
    }
    if !starts.is_empty() {
        let _ = writeln!(
            out,
            "Start to ready (spawn until a connection is accepted), median of {}: {:.1} ms.",
            starts.len(),
            starts[starts.len() / 2].as_secs_f64() * 1000.0
        );
    }
    out
}
