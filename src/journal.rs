//! The journals a tenant keeps: every callback delivery attempt and every
//! API request with its diagnosis.
//!
//! Both are ring buffers with a fixed capacity: when full, the oldest entry is
//! evicted and counted (`evicted`), never silently lost.
//! Waiters (the admin long-poll) are woken on every append, so tests wait on a
//! condition instead of sleeping.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

/// One attempt to deliver one callback.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackAttempt {
    pub seq: u64,
    pub callback_id: String,
    pub provider: &'static str,
    pub kind: &'static str,
    /// The id a receiver correlates on (e.g. `CheckoutRequestID`).
    pub correlation_id: String,
    pub url: String,
    #[serde(serialize_with = "method_name")]
    pub method: axum::http::Method,
    /// 0 for the original, 1.. for scripted duplicates.
    pub copy: u32,
    pub attempt: u32,
    /// Sandbox-clock time of the attempt.
    pub at: DateTime<Utc>,
    /// The body as sent (JSON as JSON, anything else as a string), shared
    /// with the job that sent it.
    pub body: crate::callbacks::Payload,
    pub outcome: DeliveryOutcome,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
    /// The first bytes of the receiver's answer.
    pub response_body: Option<String>,
    /// The provider's judgement of the receiver's answer, for callbacks
    /// whose answer is an acknowledgement with a contract (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<Acknowledgement>,
}

/// Whether a receiver's answer met the provider's acknowledgement contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    pub accepted: bool,
    /// What was off, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

fn method_name<S: serde::Serializer>(method: &axum::http::Method, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(method.as_str())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered with a 2xx status.
    Delivered,
    /// The receiver answered with another status, or could not be reached.
    Failed,
    /// Not sent, and it never will be (shutdown before delivery).
    Abandoned,
    /// Not sent because the scenario drops it.
    Dropped,
    /// Not sent because the destination is outside the callback allowlist.
    Refused,
}

/// One API request as the sandbox understood it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Sandbox-wide request number.
    pub request_seq: u64,
    /// The request id the client saw in an error body.
    pub request_id: Option<String>,
    pub provider: &'static str,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The provider's error code, when the request was refused.
    pub error_code: Option<String>,
    /// What exactly was wrong, in plain words (never contains a secret).
    pub diagnosis: Option<String>,
}

#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
    evicted: u64,
    next_seq: u64,
}

impl<T> Ring<T> {
    fn new(cap: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), cap: cap.max(1), evicted: 0, next_seq: 1 }
    }

    fn push(&mut self, make: impl FnOnce(u64) -> T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.items.len() == self.cap {
            self.items.pop_front();
            self.evicted += 1;
        }
        self.items.push_back(make(seq));
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[derive(Debug)]
pub struct Journals {
    pub callbacks: Ring<CallbackAttempt>,
    pub requests: Ring<RequestRecord>,
}

#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Journals>,
    changed: Notify,
}

impl Journal {
    pub fn new(cap: usize) -> Journal {
        Journal {
            inner: Mutex::new(Journals { callbacks: Ring::new(cap), requests: Ring::new(cap) }),
            changed: Notify::new(),
        }
    }

    pub fn record_callback(&self, make: impl FnOnce(u64) -> CallbackAttempt) {
        self.lock().callbacks.push(make);
        self.changed.notify_waiters();
    }

    /// Records a provider's judgement of the answer to attempt `seq` (gone
    /// if the ring has evicted it since).
    pub fn acknowledge(&self, seq: u64, acknowledgement: Acknowledgement) {
        if let Some(entry) = self.lock().callbacks.items.iter_mut().find(|e| e.seq == seq) {
            entry.acknowledgement = Some(acknowledgement);
        }
        self.changed.notify_waiters();
    }

    pub fn record_request(&self, make: impl FnOnce(u64) -> RequestRecord) {
        self.lock().requests.push(make);
        self.changed.notify_waiters();
    }

    /// Reads the journals under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&Journals) -> R) -> R {
        f(&self.lock())
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        let cap = inner.callbacks.cap;
        *inner = Journals { callbacks: Ring::new(cap), requests: Ring::new(cap) };
    }

    /// Waits until `found` returns `Some` over the journals, or the timeout
    /// passes; returns the last answer of `found`.
    pub async fn wait_for<R>(&self, timeout: Duration, mut found: impl FnMut(&Journals) -> Option<R>) -> Option<R> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before checking, so an append between the
            // check and the wait still wakes us.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = found(&self.lock()) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return found(&self.lock());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journals> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
