//! The callback engine: the only part of the sandbox that sends HTTP.
//!
//! Providers never send anything themselves. When a transaction settles, they
//! produce [`CallbackJob`]s; the tenant's timeline holds each job until its
//! sandbox-clock time comes, then the job is handed to the engine, which
//! sends it and journals the attempt.
//!
//! A job carries its body already serialized ([`Payload`]: JSON, or a form
//! or any other text with its content type), its method, and any headers
//! a provider's signing scheme adds; the engine may add Standard Webhooks
//! signatures on top when the tenant's world asks for them.
//!
//! Delivery pipeline ([`engine`]):
//! * one lane per tenant: a request that will produce callbacks waits while
//!   its tenant's lane is more than half of `queue_capacity` (back-pressure
//!   on the tenant causing the backlog); a job is never dropped;
//! * the lanes served in turn, at most `concurrency` deliveries in flight
//!   per tenant and `max_in_flight` in all, each tracked by the
//!   [`TaskTracker`](tokio_util::task::TaskTracker) so shutdown can wait
//!   for them; deliveries start when jobs are handed over or a slot frees,
//!   and a dispatcher task looks after lanes waiting for a slot; a
//!   virtual-clock tenant's lane delivers one at a time, in order;
//! * pooled clients, so connections to a receiver are reused: for plain
//!   HTTP (the usual local receiver) the engine's own HTTP/1.1 client and
//!   pool, at the least cost ([`plain`]), reqwest with rustls for HTTPS;
//! * every attempt is bounded by `timeout` and journaled (body, receiver
//!   status, latency, error) ([`deliver`]);
//! * a destination that leaves attempts unanswered (refuses, hangs) has its
//!   circuit opened: its attempts fail at once, journaled with the reason,
//!   so it cannot back the lane up and hold the tenant's requests
//!   ([`breaker`]);
//! * a failed attempt is retried only if the job carries a retry schedule;
//!   the retry goes back into the tenant's timeline, so it follows the
//!   tenant's clock.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

mod allowlist;
mod breaker;
mod deliver;
mod engine;
mod plain;

use std::sync::Arc;

use axum::http::Method;
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

pub use allowlist::Destination;
pub use breaker::BreakerConfig;
pub(crate) use engine::{CallbackEngine, Settle};
pub use engine::{EngineConfig, EngineStats, UnsentCallback};
pub(crate) use plain::answer_of;

use crate::clock::after_ms_u64;
use crate::journal::{CallbackAttempt, DeliveryOutcome};
use crate::providers::ProviderId;
use crate::scenarios::CallbackScript;
use crate::store::{Core, Event, Tenant};

/// A callback body as the bytes that will be sent, serialized once: every
/// attempt, duplicate and journal entry shares it (a `serde_json::Value`
/// tree would cost several kilobytes per copy).
#[derive(Debug, Clone)]
pub enum Payload {
    /// JSON text, as [`Payload::json`] wrote it (so always valid JSON).
    Json(bytes::Bytes),
    /// A body in another format (a form), with its content type.
    Text { content_type: &'static str, text: Arc<str> },
}

/// A shared text body seen as bytes, for [`Payload::to_bytes`].
struct TextBytes(Arc<str>);

impl AsRef<[u8]> for TextBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The buffer a JSON body is written into first: most callbacks are a few
/// hundred bytes, so they are written without growing it.
const JSON_CAPACITY: usize = 512;

impl Payload {
    /// Serializes a wire body once, into bytes every copy shares. Wire types
    /// and JSON values always serialize; were one to fail, the body would be
    /// `null`, never a panic.
    pub fn json(body: &impl Serialize) -> Payload {
        let mut bytes = Vec::with_capacity(JSON_CAPACITY);
        if serde_json::to_writer(&mut bytes, body).is_err() {
            bytes.clear();
            bytes.extend_from_slice(b"null");
        }
        Payload::Json(bytes.into())
    }

    /// An `application/x-www-form-urlencoded` body of these pairs, in order.
    pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Payload {
        let text = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Payload::Text { content_type: "application/x-www-form-urlencoded", text: Arc::from(text) }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Payload::Json(_) => "application/json",
            Payload::Text { content_type, .. } => content_type,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Json(bytes) => bytes,
            Payload::Text { text, .. } => text.as_bytes(),
        }
    }

    /// The body to send, sharing the payload's bytes rather than copying them.
    pub(crate) fn to_bytes(&self) -> bytes::Bytes {
        match self {
            Payload::Json(bytes) => bytes.clone(),
            Payload::Text { text, .. } => bytes::Bytes::from_owner(TextBytes(text.clone())),
        }
    }
}

/// In journals, a JSON body is shown as JSON and any other body as a string.
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Read back as the raw JSON it is (it was written by serde_json).
            Payload::Json(bytes) => match serde_json::from_slice::<&RawValue>(bytes) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_none(),
            },
            Payload::Text { text, .. } => serializer.serialize_str(text),
        }
    }
}

/// A callback to deliver.
#[derive(Debug, Clone)]
pub struct CallbackJob {
    /// Held inline (`cb-` and a number); the correlation id and the URL are
    /// shared by the job's copies, attempts and journal entries: a
    /// reference count, never a copy.
    pub id: CompactString,
    pub provider: &'static str,
    pub kind: &'static str,
    pub correlation_id: Arc<str>,
    pub url: Arc<str>,
    pub method: Method,
    pub body: Payload,
    /// 0 for the original, 1.. for scripted duplicates (same id, same body).
    pub copy: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Delays before each retry after a failed attempt; empty means no retry
    /// (and costs no allocation, as most jobs have none).
    pub retry_delays_ms: Vec<u64>,
    /// Overrides the engine's per-attempt timeout (a C2B validator gets less).
    pub timeout_ms: Option<u64>,
    /// Whose business the receiver's answer is (a C2B validation answer).
    pub reply_to: Option<ReplyTo>,
}

impl CallbackJob {
    /// A first attempt of an original (not a duplicate) POST of a JSON
    /// body, with no retries, the engine's timeout, and no interest in the
    /// receiver's answer.
    pub fn new(
        id: impl Into<CompactString>,
        provider: &'static str,
        kind: &'static str,
        correlation_id: impl Into<Arc<str>>,
        url: impl Into<Arc<str>>,
        body: &impl Serialize,
    ) -> CallbackJob {
        CallbackJob::with_payload(id, provider, kind, correlation_id, url, Payload::json(body))
    }

    /// Like [`CallbackJob::new`], with a body already serialized.
    pub fn with_payload(
        id: impl Into<CompactString>,
        provider: &'static str,
        kind: &'static str,
        correlation_id: impl Into<Arc<str>>,
        url: impl Into<Arc<str>>,
        body: Payload,
    ) -> CallbackJob {
        CallbackJob {
            id: id.into(),
            provider,
            kind,
            correlation_id: correlation_id.into(),
            url: url.into(),
            method: Method::POST,
            body,
            copy: 0,
            attempt: 1,
            retry_delays_ms: Vec::new(),
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
            method: self.method.clone(),
            copy: self.copy,
            attempt: self.attempt,
            at,
            body: self.body.clone(),
            outcome,
            status: None,
            latency_ms: None,
            error: None,
            response_body: None,
            acknowledgement: None,
        }
    }
}

/// Who acts on a receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub provider: ProviderId,
    pub key: String,
}

/// A receiver's answer to a callback that expects one.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: Option<u16>,
    pub body: String,
    pub error: Option<String>,
    /// The journal entry of the attempt this answers, so the provider's
    /// judgement of the answer can be journaled beside it ([`Core::judge`]).
    pub attempt_seq: u64,
}

/// Schedules a settled transaction's callback as the scenario's callback
/// script says: extra delay, duplicates, drop, out of order, retries.
/// Delays saturate: a hostile scenario number cannot overflow the calendar.
pub(crate) fn plan(core: &mut Core, mut job: CallbackJob, script: &CallbackScript, at: DateTime<Utc>) {
    if script.drop {
        core.timeline.schedule(at, Event::Dropped(job));
        return;
    }
    let delay = script.delay_ms.map_or(0, |d| d.sample(|low, high| core.ids.between(low, high)));
    let first = after_ms_u64(at, delay);
    job.retry_delays_ms.clone_from(&script.retry_ms);
    let mut schedule = |copy: u32, copy_job: CallbackJob| {
        let when = after_ms_u64(first, u64::from(copy).saturating_mul(script.duplicate_spacing_ms));
        if script.out_of_order && copy == 0 {
            let release = after_ms_u64(when, script.hold_max_ms);
            core.timeline.schedule(release, Event::ReleaseHeld { callback_id: copy_job.id.clone(), copy });
            core.timeline.schedule(when, Event::Hold(copy_job));
        } else {
            core.timeline.schedule(when, Event::Deliver(copy_job));
        }
    };
    // Copies first, in order; the last is the job itself, not a copy of it.
    for copy in 0..script.duplicates {
        schedule(copy, CallbackJob { copy, ..job.clone() });
    }
    schedule(script.duplicates, CallbackJob { copy: script.duplicates, ..job });
}

/// Takes the held callbacks a delivery for `correlation_id` releases: those
/// of other transactions. Without the tenant's lock when none is held.
pub(crate) fn release_held(tenant: &Tenant, correlation_id: &str) -> Vec<CallbackJob> {
    if tenant.held_callbacks.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return Vec::new();
    }
    tenant.with_core(|core| {
        let (release, keep): (Vec<_>, Vec<_>) = core.held.drain(..).partition(|h| &*h.correlation_id != correlation_id);
        core.held = keep;
        tenant.held_callbacks.store(core.held.len(), std::sync::atomic::Ordering::Relaxed);
        release
    })
}

/// Journals a job that will never be sent.
pub(crate) fn journal_unsent(tenant: &Tenant, job: &CallbackJob, outcome: DeliveryOutcome, why: &str) {
    let at = tenant.now();
    tenant
        .journal
        .record_callback(|seq| CallbackAttempt { error: Some(why.to_owned()), ..job.attempt_record(seq, at, outcome) });
}
