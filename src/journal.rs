//! The journals a tenant keeps: every callback delivery attempt and every
//! API request with its diagnosis.
//!
//! Both are ring buffers bounded by a number of entries and by bytes: when
//! either is reached, the oldest entries are evicted and counted
//! (`evicted`), never silently lost. Long texts a client controls (a path,
//! a diagnosis quoting input, a callback URL or body) are cut on the way
//! in, with a marker saying how long they were.
//! Waiters (the admin long-poll) are woken on every append, so tests wait on a
//! condition instead of sleeping.

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One attempt to deliver one callback.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackAttempt {
    pub seq: u64,
    pub callback_id: compact_str::CompactString,
    pub provider: &'static str,
    pub kind: &'static str,
    /// The id a receiver correlates on (e.g. `CheckoutRequestID`).
    pub correlation_id: std::sync::Arc<str>,
    pub url: std::sync::Arc<str>,
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
    /// Shared with the attempts before it when the receiver answered alike.
    pub response_body: Option<std::sync::Arc<str>>,
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
    /// A standard method's name is static; only another method's is copied.
    pub method: std::borrow::Cow<'static, str>,
    /// Shared with the requests before it to the same path (see [`shared_path`]).
    pub path: std::sync::Arc<str>,
    pub status: u16,
    /// The provider's error code, when the request was refused.
    pub error_code: Option<String>,
    /// What exactly was wrong, in plain words (never contains a secret).
    pub diagnosis: Option<String>,
}

/// The longest path, URL, error or diagnosis a journal entry keeps.
pub(crate) const MAX_TEXT: usize = 2048;

/// The largest callback body a journal entry keeps.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Cuts `text` to at most `max` bytes (on a character boundary), ending it
/// with a marker that says how long it was.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let total = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.truncate(end);
    text.push_str(&format!("…[cut: {total} bytes in all]"));
}

/// A request's path as the journal keeps it: the same shared string as a
/// recent request's to the same path on this thread, or a new one (see
/// [`crate::recent`]). Only short paths are remembered.
pub(crate) fn shared_path(path: &str) -> std::sync::Arc<str> {
    const REMEMBERED: usize = 256;
    thread_local! {
        static RECENT: std::cell::RefCell<crate::recent::Recent<4>> =
            const { std::cell::RefCell::new(crate::recent::Recent::new()) };
    }
    if path.len() > REMEMBERED {
        return path.into();
    }
    RECENT.with(|recent| recent.borrow_mut().share(path))
}

/// [`cut`] for a shared text: copied only when it is too long.
fn cut_shared(text: &mut std::sync::Arc<str>, max: usize) {
    if text.len() > max {
        let mut owned = text.to_string();
        cut(&mut owned, max);
        *text = owned.into();
    }
}

fn cut_option(text: &mut Option<String>, max: usize) {
    if let Some(text) = text {
        cut(text, max);
    }
}

/// A journal entry: cut to size on the way in, and weighed.
pub trait Entry {
    /// Cuts the long texts a client controls.
    fn bound(&mut self);
    /// Roughly the bytes the entry holds.
    fn weight(&self) -> usize;
}

fn text_weight(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

impl Entry for CallbackAttempt {
    fn bound(&mut self) {
        cut_shared(&mut self.url, MAX_TEXT);
        cut_shared(&mut self.correlation_id, MAX_TEXT);
        cut_option(&mut self.error, MAX_TEXT);
        if let Some(text) = &mut self.response_body {
            cut_shared(text, MAX_BODY);
        }
        if self.body.as_bytes().len() > MAX_BODY {
            let mut text = String::from_utf8_lossy(self.body.as_bytes()).into_owned();
            cut(&mut text, MAX_BODY);
            self.body = crate::callbacks::Payload::Text { content_type: "text/plain", text: text.into() };
        }
    }

    fn weight(&self) -> usize {
        [
            std::mem::size_of::<Self>(),
            self.url.len(),
            self.correlation_id.len(),
            self.callback_id.len(),
            text_weight(&self.error),
            self.response_body.as_ref().map_or(0, |text| text.len()),
            self.body.as_bytes().len(),
        ]
        .into_iter()
        .fold(0, usize::saturating_add)
    }
}

impl Entry for RequestRecord {
    fn bound(&mut self) {
        cut_shared(&mut self.path, MAX_TEXT);
        if let std::borrow::Cow::Owned(method) = &mut self.method {
            cut(method, 32);
        }
        cut_option(&mut self.error_code, 128);
        cut_option(&mut self.request_id, 128);
        cut_option(&mut self.diagnosis, MAX_TEXT);
    }

    fn weight(&self) -> usize {
        [
            std::mem::size_of::<Self>(),
            self.path.len(),
            self.method.len(),
            text_weight(&self.error_code),
            text_weight(&self.request_id),
            text_weight(&self.diagnosis),
        ]
        .into_iter()
        .fold(0, usize::saturating_add)
    }
}

#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<(T, usize)>,
    cap: usize,
    max_bytes: usize,
    bytes: usize,
    evicted: u64,
    next_seq: u64,
}

impl<T: Entry> Ring<T> {
    fn new(cap: usize, max_bytes: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), cap: cap.max(1), max_bytes, bytes: 0, evicted: 0, next_seq: 1 }
    }

    fn push(&mut self, make: impl FnOnce(u64) -> T) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let mut entry = make(seq);
        entry.bound();
        let weight = entry.weight();
        // The newest entry always stays, whatever it weighs.
        while !self.items.is_empty()
            && (self.items.len() >= self.cap || self.bytes.saturating_add(weight) > self.max_bytes)
        {
            if let Some((_, gone)) = self.items.pop_front() {
                self.bytes = self.bytes.saturating_sub(gone);
                self.evicted = self.evicted.saturating_add(1);
            }
        }
        self.bytes = self.bytes.saturating_add(weight);
        crate::retained::reserve_bounded(&mut self.items, self.cap);
        self.items.push_back((entry, weight));
    }

    /// Bytes the entries hold, roughly.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl<T> Ring<T> {
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter().map(|(entry, _)| entry)
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
    changed: crate::signal::Signal,
}

impl Journal {
    pub fn new(cap: usize, max_bytes: usize) -> Journal {
        Journal {
            inner: Mutex::new(Journals { callbacks: Ring::new(cap, max_bytes), requests: Ring::new(cap, max_bytes) }),
            changed: crate::signal::Signal::default(),
        }
    }

    pub fn record_callback(&self, make: impl FnOnce(u64) -> CallbackAttempt) {
        self.lock().callbacks.push(make);
        self.changed.notify_waiters();
    }

    /// How many callback attempts were ever journaled (evicted ones included).
    pub fn callbacks_recorded(&self) -> u64 {
        self.lock().callbacks.next_seq.saturating_sub(1)
    }

    /// Records a provider's judgement of the answer to attempt `seq` (gone
    /// if the ring has evicted it since).
    pub fn acknowledge(&self, seq: u64, mut acknowledgement: Acknowledgement) {
        // Weighed with its entry already: a remark is kept short.
        cut_option(&mut acknowledgement.remark, MAX_TEXT);
        if let Some((entry, _)) = self.lock().callbacks.items.iter_mut().find(|(e, _)| e.seq == seq) {
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
        let (cap, max_bytes) = (inner.callbacks.cap, inner.callbacks.max_bytes);
        *inner = Journals { callbacks: Ring::new(cap, max_bytes), requests: Ring::new(cap, max_bytes) };
    }

    /// Waits until `found` returns `Some` over the journals, or the timeout
    /// passes; returns the last answer of `found`.
    pub async fn wait_for<R>(&self, timeout: Duration, mut found: impl FnMut(&Journals) -> Option<R>) -> Option<R> {
        let deadline = crate::clock::deadline(timeout);
        let _waiting = self.changed.waiting();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, path: String, diagnosis: Option<String>) -> RequestRecord {
        RequestRecord {
            seq,
            at: DateTime::<Utc>::UNIX_EPOCH,
            request_seq: seq,
            request_id: None,
            provider: "test",
            method: "POST".into(),
            path: path.into(),
            status: 400,
            error_code: Some("400".into()),
            diagnosis,
        }
    }

    #[test]
    fn a_recent_path_is_shared_and_a_long_one_is_not_remembered() {
        let first = shared_path("/mpesa/stkpush/v1/processrequest");
        for other in ["/a", "/b", "/c"] {
            assert_eq!(&*shared_path(other), other);
        }
        assert!(std::sync::Arc::ptr_eq(&first, &shared_path("/mpesa/stkpush/v1/processrequest")));
        let long = "/x".repeat(200);
        assert_eq!(&*shared_path(&long), long);
        assert!(!std::sync::Arc::ptr_eq(&shared_path(&long), &shared_path(&long)));
    }

    #[test]
    fn long_texts_are_cut_with_a_marker() {
        let journal = Journal::new(10, 1 << 20);
        journal.record_request(|seq| request(seq, "/".repeat(60 * 1024), Some("é".repeat(100_000))));
        journal.read(|j| {
            let entry = j.requests.iter().next().unwrap();
            assert!(entry.path.len() < MAX_TEXT + 64 && entry.path.ends_with("…[cut: 61440 bytes in all]"));
            let diagnosis = entry.diagnosis.as_deref().unwrap();
            assert!(diagnosis.len() < MAX_TEXT + 64 && diagnosis.ends_with("…[cut: 200000 bytes in all]"));
        });
    }

    #[test]
    fn a_journal_is_bounded_by_bytes_as_well_as_entries() {
        let journal = Journal::new(10_000, 64 * 1024);
        for _ in 0..1_000 {
            journal.record_request(|seq| request(seq, "/x".repeat(1000), None));
        }
        journal.read(|j| {
            assert!(j.requests.bytes() <= 64 * 1024, "{}", j.requests.bytes());
            assert!(j.requests.len() < 100, "{}", j.requests.len());
            assert_eq!(j.requests.evicted() + j.requests.len() as u64, 1_000);
            assert_eq!(j.requests.iter().last().unwrap().seq, 1_000, "the newest entry stays");
        });
        let journal = Journal::new(3, 1 << 20);
        for _ in 0..5 {
            journal.record_request(|seq| request(seq, "/".into(), None));
        }
        journal.read(|j| assert_eq!((j.requests.len(), j.requests.evicted()), (3, 2)));
    }
}
