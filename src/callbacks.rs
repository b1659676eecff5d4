//! The callback engine: the only part of the sandbox that sends HTTP.
//!
//! Providers never send anything themselves. When a transaction settles, they
//! produce [`CallbackJob`]s; the tenant's timeline holds each job until its
//! sandbox-clock time comes, then the job is handed to the engine, which
//! POSTs it and journals the attempt.
//!
//! Delivery pipeline:
//! * a bounded queue (`queue_capacity`): a full queue makes the producer wait
//!   (back-pressure), it never drops a job;
//! * a dispatcher task that starts at most `concurrency` deliveries at once,
//!   each tracked by the [`TaskTracker`] so shutdown can wait for them;
//! * one pooled `reqwest` client, so connections to a receiver are reused;
//! * every attempt is bounded by `timeout` and journaled (body, receiver
//!   status, latency, error);
//! * a failed attempt is retried only if the job carries a retry schedule;
//!   the retry goes back into the tenant's timeline, so it follows the
//!   tenant's clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::journal::{CallbackAttempt, DeliveryOutcome};
use crate::scenarios::CallbackScript;
use crate::store::{Due, Tenant, TenantState};

/// A callback to deliver.
#[derive(Debug, Clone)]
pub struct CallbackJob {
    pub id: String,
    pub provider: &'static str,
    pub kind: &'static str,
    pub correlation_id: String,
    pub url: String,
    /// The JSON body, serialized once: every attempt, duplicate and journal
    /// entry shares these bytes (a `Value` tree costs several kilobytes).
    pub body: Arc<RawValue>,
    /// 0 for the original, 1.. for scripted duplicates (same id, same body).
    pub copy: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Delays before each retry after a failed attempt; empty means no retry.
    pub retry_delays_ms: Arc<[u64]>,
    /// Overrides the engine's per-attempt timeout (a C2B validator gets less).
    pub timeout_ms: Option<u64>,
    /// Whose business the receiver's answer is (a C2B validation answer).
    pub reply_to: Option<ReplyTo>,
}

impl CallbackJob {
    /// A first attempt of an original (not a duplicate), with no retries,
    /// the engine's timeout, and no interest in the receiver's answer.
    pub fn new(
        id: String,
        provider: &'static str,
        kind: &'static str,
        correlation_id: String,
        url: String,
        body: serde_json::Value,
    ) -> CallbackJob {
        CallbackJob {
            id,
            provider,
            kind,
            correlation_id,
            url,
            body: raw_body(&body),
            copy: 0,
            attempt: 1,
            retry_delays_ms: Arc::from(Vec::new()),
            timeout_ms: None,
            reply_to: None,
        }
    }

    /// The journal entry of an attempt of this job.
    fn attempt_record(&self, seq: u64, at: DateTime<Utc>, outcome: DeliveryOutcome) -> CallbackAttempt {
        CallbackAttempt {
            seq,
            callback_id: self.id.clone(),
            provider: self.provider,
            kind: self.kind,
            correlation_id: self.correlation_id.clone(),
            url: self.url.clone(),
            copy: self.copy,
            attempt: self.attempt,
            at,
            body: self.body.clone(),
            outcome,
            status: None,
            latency_ms: None,
            error: None,
            response_body: None,
        }
    }
}

/// A callback body as the bytes that will be sent.
pub fn raw_body(body: &serde_json::Value) -> Arc<RawValue> {
    // Serializing a `Value` cannot fail: its map keys are strings.
    let raw = serde_json::value::to_raw_value(body).unwrap_or_else(|_| RawValue::NULL.to_owned());
    Arc::from(raw)
}

/// Who acts on a receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub provider: &'static str,
    pub key: String,
}

/// A receiver's answer to a callback that expects one.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: Option<u16>,
    pub body: String,
    pub error: Option<String>,
}

/// A callback destination a shared sandbox may call: an IP network, a host,
/// or every host of a domain (`*.example.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Network(ipnet::IpNet),
    Host(String),
    Domain(String),
}

impl std::str::FromStr for Destination {
    type Err = String;

    fn from_str(text: &str) -> Result<Destination, String> {
        let text = text.trim();
        if let Ok(net) = text.parse::<ipnet::IpNet>() {
            return Ok(Destination::Network(net));
        }
        if let Ok(ip) = text.parse::<std::net::IpAddr>() {
            return Ok(Destination::Network(ipnet::IpNet::from(ip)));
        }
        let valid = |h: &str| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        match text.strip_prefix("*.") {
            Some(domain) if valid(domain) => Ok(Destination::Domain(domain.to_ascii_lowercase())),
            None if valid(text) => Ok(Destination::Host(text.to_ascii_lowercase())),
            _ => Err("not an IP network (10.0.0.0/8), an IP, a host or *.domain".into()),
        }
    }
}

/// Why a destination is refused, or `None` when it may be called. Host
/// names are resolved and every address must be allowed, unless the name
/// itself is allowed.
async fn refused(allow: &[Destination], url: &str) -> Option<String> {
    if allow.is_empty() {
        return None;
    }
    let Ok(parsed) = url::Url::parse(url) else { return Some("the URL does not parse".into()) };
    let ip_allowed =
        |ip: std::net::IpAddr| allow.iter().any(|d| matches!(d, Destination::Network(net) if net.contains(&ip)));
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if ip_allowed(ip.into()) => None,
        Some(url::Host::Ipv6(ip)) if ip_allowed(ip.into()) => None,
        Some(url::Host::Domain(host)) => {
            let host = host.to_ascii_lowercase();
            let named = allow.iter().any(|d| match d {
                Destination::Host(h) => *h == host,
                Destination::Domain(domain) => host == *domain || host.ends_with(&format!(".{domain}")),
                Destination::Network(_) => false,
            });
            if named {
                return None;
            }
            let port = parsed.port_or_known_default().unwrap_or(80);
            let looked_up = tokio::net::lookup_host(format!("{host}:{port}")).await;
            match looked_up {
                Ok(addrs) => {
                    let addrs: Vec<_> = addrs.collect();
                    match !addrs.is_empty() && addrs.iter().all(|a| ip_allowed(a.ip())) {
                        true => None,
                        false => Some(format!("{host} is not in the callback allowlist")),
                    }
                }
                Err(e) => Some(format!("{host} does not resolve: {e}")),
            }
        }
        Some(other) => Some(format!("{other} is not in the callback allowlist")),
        None => Some("the URL has no host".into()),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How much of a receiver's answer is kept in the journal.
    pub response_capture_bytes: usize,
}

#[derive(Debug, Default)]
struct Stats {
    enqueued: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retries_scheduled: AtomicU64,
    abandoned: AtomicU64,
    in_flight: AtomicU64,
    /// Signalled whenever the dispatcher takes a job off the queue.
    room: tokio::sync::Notify,
}

/// Counters of the engine since start.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct EngineStats {
    pub enqueued: u64,
    pub delivered: u64,
    pub failed: u64,
    pub retries_scheduled: u64,
    pub abandoned: u64,
    pub in_flight: u64,
    pub queued: u64,
}

struct Delivery {
    tenant: Arc<Tenant>,
    job: CallbackJob,
}

#[derive(Clone)]
pub struct CallbackEngine {
    tx: mpsc::Sender<Delivery>,
    stats: Arc<Stats>,
    capacity: usize,
    client: reqwest::Client,
    capture: usize,
    allow: Arc<[Destination]>,
}

impl CallbackEngine {
    /// Starts the dispatcher on `tracker`; it runs until `close` is cancelled,
    /// then delivers what is already queued and stops.
    pub fn start(
        config: EngineConfig,
        allow: Vec<Destination>,
        tracker: &TaskTracker,
        close: CancellationToken,
    ) -> Result<CallbackEngine, reqwest::Error> {
        let allow: Arc<[Destination]> = Arc::from(allow);
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.concurrency)
            .no_proxy()
            .user_agent(concat!("pesa-sandbox/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let capacity = config.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let stats = Arc::new(Stats::default());
        let dispatcher = Dispatcher {
            allow: allow.clone(),
            client: client.clone(),
            rx,
            requeue: tx.clone(),
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            tracker: tracker.clone(),
            stats: stats.clone(),
            capture: config.response_capture_bytes,
        };
        tracker.spawn(dispatcher.run(close));
        Ok(CallbackEngine { tx, stats, capacity, client, capture: config.response_capture_bytes, allow })
    }

    /// Waits while the queue is more than half full: a request that will
    /// produce callbacks is admitted only when the engine keeps up, so under
    /// sustained load acceptance slows to the delivery rate instead of the
    /// queue stalling the scheduler (which would leave pushes unsettled and
    /// their customers locked). Not a sleep: it wakes as the queue drains.
    pub async fn admit(&self) {
        loop {
            let room = self.stats.room.notified();
            if self.tx.capacity() * 2 >= self.capacity || self.tx.is_closed() {
                return;
            }
            room.await;
        }
    }

    /// Queues a job; waits while the queue is full (back-pressure).
    /// A job offered after shutdown is journaled as abandoned.
    pub async fn enqueue(&self, tenant: Arc<Tenant>, job: CallbackJob) {
        self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(delivery)) = self.tx.send(Delivery { tenant, job }).await {
            self.stats.abandoned.fetch_add(1, Ordering::Relaxed);
            journal_unsent(
                &delivery.tenant,
                &delivery.job,
                DeliveryOutcome::Abandoned,
                "the sandbox was shutting down",
            );
        }
    }

    /// Delivers jobs one after another on the caller's task, each released
    /// out-of-order callback right after the delivery that released it, so
    /// the order of attempts is deterministic. Used when a virtual clock is
    /// moved; returns the number of attempts made.
    pub async fn deliver_in_order(&self, tenant: &Arc<Tenant>, jobs: Vec<CallbackJob>) -> usize {
        let mut pending: std::collections::VecDeque<CallbackJob> = jobs.into();
        let mut attempts = 0;
        while let Some(job) = pending.pop_front() {
            self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            let released =
                deliver(&self.client, &self.stats, self.capture, &self.allow, Delivery { tenant: tenant.clone(), job })
                    .await;
            self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            attempts += 1;
            for (i, job) in released.into_iter().enumerate() {
                pending.insert(i, job);
            }
        }
        attempts
    }

    pub fn stats(&self) -> EngineStats {
        let s = &self.stats;
        EngineStats {
            enqueued: s.enqueued.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retries_scheduled: s.retries_scheduled.load(Ordering::Relaxed),
            abandoned: s.abandoned.load(Ordering::Relaxed),
            in_flight: s.in_flight.load(Ordering::Relaxed),
            queued: (self.capacity - self.tx.capacity()) as u64,
        }
    }
}

struct Dispatcher {
    allow: Arc<[Destination]>,
    client: reqwest::Client,
    rx: mpsc::Receiver<Delivery>,
    /// Where released out-of-order callbacks go back in.
    requeue: mpsc::Sender<Delivery>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    stats: Arc<Stats>,
    capture: usize,
}

impl Dispatcher {
    async fn run(mut self, close: CancellationToken) {
        loop {
            let delivery = tokio::select! {
                biased;
                d = self.rx.recv() => d,
                _ = close.cancelled() => None,
            };
            let Some(delivery) = delivery else { break };
            self.stats.room.notify_waiters();
            self.spawn(delivery).await;
        }
        // Shutting down: refuse new jobs, deliver what was already queued.
        self.rx.close();
        self.stats.room.notify_waiters();
        while let Some(delivery) = self.rx.recv().await {
            self.spawn(delivery).await;
        }
    }

    async fn spawn(&self, delivery: Delivery) {
        // The semaphore is never closed, so acquiring cannot fail.
        let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
        let client = self.client.clone();
        let stats = self.stats.clone();
        let capture = self.capture;
        let requeue = self.requeue.clone();
        let allow = self.allow.clone();
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        self.tracker.spawn(async move {
            let tenant = delivery.tenant.clone();
            let released = deliver(&client, &stats, capture, &allow, delivery).await;
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            for job in released {
                if let Err(mpsc::error::SendError(d)) = requeue.send(Delivery { tenant: tenant.clone(), job }).await {
                    stats.abandoned.fetch_add(1, Ordering::Relaxed);
                    journal_unsent(&d.tenant, &d.job, DeliveryOutcome::Abandoned, "the sandbox was shutting down");
                }
            }
        });
    }
}

/// Makes one attempt; returns the held callbacks this attempt releases.
async fn deliver(
    client: &reqwest::Client,
    stats: &Stats,
    capture: usize,
    allow: &[Destination],
    delivery: Delivery,
) -> Vec<CallbackJob> {
    let Delivery { tenant, job } = delivery;
    if let Some(why) = refused(allow, &job.url).await {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        journal_unsent(&tenant, &job, DeliveryOutcome::Refused, &why);
        return tenant.with_state(|state| release_held(state, &job.correlation_id));
    }
    let at = tenant.now();
    let started = Instant::now();
    let body = job.body.get().as_bytes().to_vec();
    let mut request = client.post(&job.url).header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(ms) = job.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    if let Some(secret) = tenant.with_state(|state| state.signing_secret.clone()) {
        let timestamp = at.timestamp();
        let signature = crate::crypto::webhook::sign(secret.expose_secret(), &job.id, timestamp, &body);
        request = request
            .header("webhook-id", &job.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
    }
    let sent = request.body(body).send().await;
    let (status, response_body, error) = match sent {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut captured = Vec::new();
            let mut read_error = None;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = capture.saturating_sub(captured.len());
                        captured.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if captured.len() >= capture {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(error_chain(&e));
                        break;
                    }
                }
            }
            (Some(status), Some(String::from_utf8_lossy(&captured).into_owned()), read_error)
        }
        Err(e) => (None, None, Some(error_chain(&e))),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let delivered = matches!(status, Some(s) if (200..300).contains(&s)) && error.is_none();
    let outcome = if delivered { DeliveryOutcome::Delivered } else { DeliveryOutcome::Failed };
    if delivered {
        stats.delivered.fetch_add(1, Ordering::Relaxed);
    } else {
        stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    tracing::info!(
        callback_id = %job.id,
        kind = job.kind,
        attempt = job.attempt,
        status = status.unwrap_or(0),
        latency_ms,
        outcome = ?outcome,
        "callback attempt"
    );
    let reply = job.reply_to.clone().map(|reply_to| {
        let reply = Reply { status, body: response_body.clone().unwrap_or_default(), error: error.clone() };
        (reply_to, reply)
    });
    tenant.journal.record_callback(|seq| CallbackAttempt {
        status,
        latency_ms: Some(latency_ms),
        error,
        response_body,
        ..job.attempt_record(seq, at, outcome)
    });
    if let Some((reply_to, reply)) = reply {
        // The answer is acted on at the time of the attempt, by the owning provider.
        tenant.with_state(|state| state.timeline.schedule(at, Due::Reply { reply_to, reply }));
    }
    // Callbacks held back to arrive out of order go out once another
    // transaction's callback has been delivered (or has failed).
    let released = tenant.with_state(|state| release_held(state, &job.correlation_id));
    if !delivered {
        if let Some(delay) = job.retry_delays_ms.get(job.attempt as usize - 1).copied() {
            stats.retries_scheduled.fetch_add(1, Ordering::Relaxed);
            let retry = CallbackJob { attempt: job.attempt + 1, ..job };
            tenant.with_state(|state| {
                let due_at = at + chrono::Duration::milliseconds(delay as i64);
                state.timeline.schedule(due_at, Due::Deliver(retry));
            });
        }
    }
    released
}

/// Schedules a settled transaction's callback as the scenario's callback
/// script says: extra delay, duplicates, drop, out of order, retries.
pub fn plan(state: &mut TenantState, mut job: CallbackJob, script: &CallbackScript, at: DateTime<Utc>) {
    if script.drop {
        state.timeline.schedule(at, Due::Dropped(job));
        return;
    }
    let delay = script.delay_ms.map_or(0, |d| d.sample(|low, high| state.ids.between(low, high)));
    let first = at + chrono::Duration::milliseconds(delay as i64);
    job.retry_delays_ms = Arc::from(script.retry_ms.as_slice());
    for copy in 0..=script.duplicates {
        let when = first + chrono::Duration::milliseconds((copy as u64 * script.duplicate_spacing_ms) as i64);
        let copy_job = CallbackJob { copy, ..job.clone() };
        if script.out_of_order && copy == 0 {
            let release = when + chrono::Duration::milliseconds(script.hold_max_ms as i64);
            state.timeline.schedule(release, Due::ReleaseHeld { callback_id: job.id.clone(), copy });
            state.timeline.schedule(when, Due::Hold(copy_job));
        } else {
            state.timeline.schedule(when, Due::Deliver(copy_job));
        }
    }
}

/// Takes the held callbacks a delivery for `correlation_id` releases: those
/// of other transactions.
pub fn release_held(state: &mut TenantState, correlation_id: &str) -> Vec<CallbackJob> {
    let (release, keep): (Vec<_>, Vec<_>) = state.held.drain(..).partition(|h| h.correlation_id != correlation_id);
    state.held = keep;
    release
}

/// Journals a job that will never be sent.
pub fn journal_unsent(tenant: &Tenant, job: &CallbackJob, outcome: DeliveryOutcome, why: &str) {
    let at = tenant.now();
    tenant
        .journal
        .record_callback(|seq| CallbackAttempt { error: Some(why.to_owned()), ..job.attempt_record(seq, at, outcome) });
}

/// "connection refused" rather than reqwest's outer "error sending request".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
