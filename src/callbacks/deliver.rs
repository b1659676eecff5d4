//! One delivery attempt: build the request, send it, read a bounded part of
//! the answer, journal the attempt, and schedule what follows (the
//! receiver's answer for its provider, a retry, held callbacks released).

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, Uri};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::allowlist::{refused, Destination};
use super::breaker::Attempt;
use super::engine::Stats;
use super::plain::{self, Endpoint, Plain};
use super::{journal_unsent, release_held, CallbackJob, Reply};
use crate::clock::after_ms_u64;
use crate::journal::{CallbackAttempt, DeliveryOutcome};
use crate::store::{Event, Tenant};

/// What the receiver did with one attempt.
struct Answer {
    status: Option<u16>,
    body: Option<Arc<str>>,
    error: Option<String>,
}

impl Answer {
    fn delivered(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s)) && self.error.is_none()
    }
}

/// Makes one attempt; returns the held callbacks this attempt releases.
/// `permit` is the breaker's leave for it (none for a virtual-clock lane,
/// or when the breaker is off), or why the destination's open circuit
/// refused it: then it is journaled and retried as a failed attempt,
/// without a connection.
pub(super) async fn deliver(
    clients: &Clients,
    stats: &Stats,
    capture: usize,
    allow: &[Destination],
    permit: Result<Option<Attempt>, String>,
    tenant: Arc<Tenant>,
    job: CallbackJob,
) -> Vec<CallbackJob> {
    let attempt = match permit {
        Ok(attempt) => attempt,
        Err(why) => {
            stats.short_circuited.fetch_add(1, Ordering::Relaxed);
            let answer = Answer { status: None, body: None, error: Some(why) };
            return conclude(stats, &tenant, job, tenant.now(), answer, 0);
        }
    };
    if let Some(why) = refused(allow, &job.url).await {
        if let Some(attempt) = attempt {
            attempt.forget();
        }
        stats.failed.fetch_add(1, Ordering::Relaxed);
        journal_unsent(&tenant, &job, DeliveryOutcome::Refused, &why);
        return release_held(&tenant, &job.correlation_id);
    }
    let at = tenant.now();
    let started = Instant::now();
    let answer = send(clients, capture, &tenant, &job, at).await;
    if let Some(attempt) = attempt {
        attempt.finish(answer.status.is_some(), answer.error.as_deref());
    }
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    conclude(stats, &tenant, job, at, answer, latency_ms)
}

/// Counts and journals an attempt's answer, hands a receiver's answer to
/// its provider, schedules a retry of a failure; returns the held
/// callbacks it releases.
fn conclude(
    stats: &Stats,
    tenant: &Tenant,
    job: CallbackJob,
    at: DateTime<Utc>,
    answer: Answer,
    latency_ms: u64,
) -> Vec<CallbackJob> {
    let delivered = answer.delivered();
    let outcome = if delivered { DeliveryOutcome::Delivered } else { DeliveryOutcome::Failed };
    let counter = if delivered { &stats.delivered } else { &stats.failed };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        callback_id = %job.id,
        kind = job.kind,
        attempt = job.attempt,
        status = answer.status.unwrap_or(0),
        latency_ms,
        outcome = ?outcome,
        "callback attempt"
    );
    let mut attempt_seq = 0;
    // Only a callback whose answer matters keeps a copy of it.
    let answered = job.reply_to.is_some().then(|| (answer.status, answer.body.clone(), answer.error.clone()));
    tenant.journal.record_callback(|seq| {
        attempt_seq = seq;
        CallbackAttempt {
            status: answer.status,
            latency_ms: Some(latency_ms),
            error: answer.error,
            response_body: answer.body,
            ..job.attempt_record(seq, at, outcome)
        }
    });
    let reply = job.reply_to.clone().zip(answered).map(|(reply_to, (status, body, error))| {
        (reply_to, Reply { status, body: body.as_deref().unwrap_or_default().to_owned(), error, attempt_seq })
    });
    if let Some((reply_to, reply)) = reply {
        // The answer is acted on at the time of the attempt, by the owning provider.
        tenant.with_core(|core| core.timeline.schedule(at, Event::Reply { reply_to, reply }));
    }
    // Callbacks held back to arrive out of order go out once another
    // transaction's callback has been delivered (or has failed).
    let released = release_held(tenant, &job.correlation_id);
    if !delivered {
        schedule_retry(stats, tenant, job, at);
    }
    released
}

/// The engine's HTTP clients: a lean pooled HTTP/1 client for plain HTTP
/// (the usual local receiver, [`Plain`]), reqwest with rustls for HTTPS and
/// for URLs only the `url` crate reads (international host names). Neither
/// follows redirects or uses a proxy; both bound the connect and the attempt.
pub(super) struct Clients {
    plain: Plain,
    tls: reqwest::Client,
    timeout: Duration,
}

const USER_AGENT: &str = concat!("pesa-sandbox/", env!("CARGO_PKG_VERSION"));

impl Clients {
    pub(super) fn new(
        timeout: Duration,
        connect_timeout: Duration,
        idle_per_host: usize,
    ) -> Result<Clients, reqwest::Error> {
        let tls = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(idle_per_host)
            .no_proxy()
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Clients { plain: Plain::new(connect_timeout, idle_per_host), tls, timeout })
    }
}

/// Sends the request and reads at most `capture` bytes of the answer,
/// all within the attempt's timeout.
async fn send(clients: &Clients, capture: usize, tenant: &Tenant, job: &CallbackJob, at: DateTime<Utc>) -> Answer {
    let body = job.body.to_bytes();
    // The content type, then the signature's three headers when callbacks
    // are signed: at most four, so they are kept without an allocation.
    let mut all: [(&str, Cow<'_, str>); 4] = Default::default();
    all[0] = ("content-type", Cow::Borrowed(job.body.content_type()));
    let mut count = 1;
    if let Some(secret) = tenant.signing_secret() {
        let timestamp = at.timestamp();
        let signature = crate::crypto::webhook::sign(secret.expose_secret(), &job.id, timestamp, &body);
        all[1] = ("webhook-id", Cow::Borrowed(&*job.id));
        all[2] = ("webhook-timestamp", Cow::Owned(timestamp.to_string()));
        all[3] = ("webhook-signature", Cow::Owned(signature));
        count = 4;
    }
    let headers = all.get(..count).unwrap_or_default();
    let timeout = job.timeout_ms.map_or(clients.timeout, Duration::from_millis);
    let plain = job.url.starts_with("http://") && headers.iter().all(|(_, value)| field_value(value));
    match plain.then(|| target(&job.url)).flatten() {
        Some(target) => send_plain(&clients.plain, &target, job, headers, &body, capture, timeout).await,
        None => send_reqwest(&clients.tls, job, headers, body, capture, timeout).await,
    }
}

/// A callback URL as the plain client sends to it: the URL, where to
/// connect, its `Host` header and its origin-form target.
struct Target {
    url: Arc<str>,
    endpoint: Endpoint,
    host: Box<str>,
    path: Box<str>,
}

thread_local! {
    /// The last few callback URLs this thread sent to, parsed: a tenant's
    /// callbacks go to the same few URLs, and parsing one (with its `Host`
    /// and target) cost more than the rest of the request. Only parses that
    /// succeeded are kept; a parse's result depends on the text alone.
    static TARGETS: std::cell::RefCell<[Option<Arc<Target>>; 4]> = const { std::cell::RefCell::new([None, None, None, None]) };
}

/// The URL's parts for the plain client, or `None` if only reqwest takes it.
fn target(url: &Arc<str>) -> Option<Arc<Target>> {
    let known = TARGETS.with(|t| t.borrow().iter().flatten().find(|t| t.url == *url).cloned());
    if known.is_some() {
        return known;
    }
    // `Uri` refuses what may not be in a request line or a `Host` field.
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?;
    // `Host` is the URL's host and its port unless that is 80; a URL whose
    // authority says exactly that (a port that is not 80, no user info)
    // gives it as it is.
    let host: Box<str> = match authority.port_u16() {
        Some(80) | None => authority.host().into(),
        Some(_) if !authority.as_str().contains('@') => authority.as_str().into(),
        Some(port) => format!("{}:{port}", authority.host()).into(),
    };
    let path = match uri.path_and_query() {
        Some(path) if !path.as_str().is_empty() => path.as_str().into(),
        _ => "/".into(),
    };
    let connect_to = authority.host();
    let connect_to = connect_to.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(connect_to);
    let endpoint = Endpoint {
        destination: authority.as_str().into(),
        host: connect_to.into(),
        port: authority.port_u16().unwrap_or(80),
    };
    let parsed = Arc::new(Target { url: url.clone(), endpoint, host, path });
    TARGETS.with(|t| {
        let mut t = t.borrow_mut();
        t.rotate_right(1);
        t[0] = Some(parsed.clone());
    });
    Some(parsed)
}

/// Whether a field's value may be written as it is (visible ASCII, spaces and tabs).
fn field_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// The request as hyper-util's client wrote it: the request line, `Host`,
/// `User-Agent`, the job's fields, `Content-Length` (unless the method
/// takes no body and there is none), then the body.
fn write_request(out: &mut Vec<u8>, method: &Method, target: &Target, fields: &[(&str, Cow<'_, str>)], body: &[u8]) {
    let mut length = itoa::Buffer::new();
    let length = length.format(body.len());
    let bodiless = body.is_empty() && !matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    out.reserve(target.path.len().saturating_add(target.host.len()).saturating_add(body.len()).saturating_add(256));
    for part in [
        method.as_str(),
        " ",
        &target.path,
        " HTTP/1.1\r\nhost: ",
        &target.host,
        "\r\nuser-agent: ",
        USER_AGENT,
        "\r\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
    for (name, value) in fields {
        for part in [name, ": ", value.as_ref(), "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    if !bodiless {
        for part in ["content-length: ", length, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

async fn send_plain(
    client: &Plain,
    target: &Target,
    job: &CallbackJob,
    fields: &[(&str, Cow<'_, str>)],
    body: &[u8],
    capture: usize,
    timeout: Duration,
) -> Answer {
    // One timer for the whole attempt, sending and reading alike (a
    // timeout for each step registered and cancelled a timer for each).
    let timer = std::pin::pin!(tokio::time::sleep_until(crate::clock::deadline(timeout)));
    let timed_out = || format!("operation timed out (after {} ms)", timeout.as_millis());
    let error = |e: plain::Error| match e {
        plain::Error::TimedOut => timed_out(),
        e => error_chain(&e),
    };
    let write = |out: &mut Vec<u8>| write_request(out, &job.method, target, fields, body);
    match client.exchange(&target.endpoint, write, capture, timer, captured_text).await {
        Ok(answered) => {
            Answer { status: Some(answered.status), body: Some(answered.body), error: answered.error.map(error) }
        }
        Err(e) => Answer { status: None, body: None, error: Some(error(e)) },
    }
}

/// The captured answer as text (lossily when it is not UTF-8), shared with
/// the last answer this thread captured when the two are the same: a
/// receiver answers every callback alike, and the journal keeps thousands.
fn captured_text(captured: &[u8]) -> Arc<str> {
    thread_local! {
        static LAST: std::cell::RefCell<crate::recent::Recent<1>> =
            const { std::cell::RefCell::new(crate::recent::Recent::new()) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(text) = last.find(captured) {
            return text.clone();
        }
        let text: Arc<str> = String::from_utf8_lossy(captured).into();
        last.keep(text.clone());
        text
    })
}

async fn send_reqwest(
    client: &reqwest::Client,
    job: &CallbackJob,
    headers: &[(&str, Cow<'_, str>)],
    body: Bytes,
    capture: usize,
    timeout: Duration,
) -> Answer {
    let mut request = client.request(job.method.clone(), &*job.url).timeout(timeout);
    for (name, value) in headers {
        request = request.header(*name, value.as_ref());
    }
    match request.body(body).send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut captured = Vec::new();
            let mut error = None;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = capture.saturating_sub(captured.len());
                        captured.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
                        if captured.len() >= capture {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(error_chain(&e));
                        break;
                    }
                }
            }
            Answer { status: Some(status), body: Some(captured_text(&captured)), error }
        }
        Err(e) => Answer { status: None, body: None, error: Some(error_chain(&e)) },
    }
}

/// Puts the next attempt of a failed job on the tenant's timeline, if its
/// script has one left.
fn schedule_retry(stats: &Stats, tenant: &Tenant, job: CallbackJob, at: DateTime<Utc>) {
    let index = usize::try_from(job.attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    let Some(delay) = job.retry_delays_ms.get(index).copied() else { return };
    stats.retries_scheduled.fetch_add(1, Ordering::Relaxed);
    let retry = CallbackJob { attempt: job.attempt.saturating_add(1), ..job };
    tenant.with_core(|core| core.timeline.schedule(after_ms_u64(at, delay), Event::Deliver(retry)));
}

/// Every cause, so the journal says "connection refused" rather than only
/// the client's outer "error sending request".
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_like_the_last_is_shared_and_any_other_is_its_own() {
        let first = captured_text(b"{\"ResultCode\":0}");
        let same = captured_text(b"{\"ResultCode\":0}");
        assert!(Arc::ptr_eq(&first, &same), "the same answer is shared");
        let other = captured_text(b"{\"ResultCode\":1}");
        assert_eq!(&*other, "{\"ResultCode\":1}");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(&*captured_text(b"ok \xff"), "ok \u{fffd}", "not UTF-8: read lossily");
        assert_eq!(&*captured_text(b""), "");
    }

    #[test]
    fn a_url_is_parsed_into_its_host_and_target_once_and_the_same_again() {
        let url: Arc<str> = Arc::from("http://127.0.0.1:8080/mpesa/callback?x=1");
        let first = target(&url).expect("a plain URL");
        assert_eq!(&*first.host, "127.0.0.1:8080");
        assert_eq!(&*first.path, "/mpesa/callback?x=1");
        assert_eq!(
            (&*first.endpoint.destination, &*first.endpoint.host, first.endpoint.port),
            ("127.0.0.1:8080", "127.0.0.1", 8080)
        );
        // The second time from the thread's cache: the same parts.
        let again = target(&Arc::from("http://127.0.0.1:8080/mpesa/callback?x=1")).expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn the_host_header_and_the_address_are_what_hyper_utils_client_used() {
        let parts = |url: &str| {
            target(&Arc::from(url))
                .map(|t| (t.host.to_string(), t.path.to_string(), t.endpoint.host.to_string(), t.endpoint.port))
        };
        let owned = |host: &str, path: &str, to: &str, port| Some((host.into(), path.into(), to.into(), port));
        assert_eq!(parts("http://example.test/cb"), owned("example.test", "/cb", "example.test", 80));
        assert_eq!(parts("http://example.test:80/cb"), owned("example.test", "/cb", "example.test", 80));
        assert_eq!(parts("http://example.test:9000/"), owned("example.test:9000", "/", "example.test", 9000));
        assert_eq!(parts("http://user@example.test:9000/"), owned("example.test:9000", "/", "example.test", 9000));
        assert_eq!(parts("http://example.test"), owned("example.test", "/", "example.test", 80));
        assert_eq!(parts("http://[::1]:8080/cb?a=b"), owned("[::1]:8080", "/cb?a=b", "::1", 8080));
        assert!(target(&Arc::from("not a url")).is_none());
        assert!(target(&Arc::from("http://example.test/a b")).is_none(), "not in a request line");
    }

    #[test]
    fn more_urls_than_the_cache_holds_are_each_parsed_right() {
        for round in 0..3 {
            for port in 9000..9010 {
                let t = target(&Arc::from(format!("http://127.0.0.1:{port}/r{round}"))).expect("parsed");
                assert_eq!(&*t.host, format!("127.0.0.1:{port}"));
                assert_eq!(&*t.path, format!("/r{round}"));
            }
        }
    }

    #[test]
    fn a_request_is_written_as_hyper_utils_client_wrote_it() {
        let t = target(&Arc::from("http://127.0.0.1:8080/cb?x=1")).expect("plain");
        let fields = [("content-type", Cow::Borrowed("application/json")), ("webhook-id", Cow::Borrowed("cb-1"))];
        let mut out = Vec::new();
        write_request(&mut out, &Method::POST, &t, &fields, b"{}");
        let expected = format!(
            "POST /cb?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: {USER_AGENT}\r\ncontent-type: application/json\r\nwebhook-id: cb-1\r\ncontent-length: 2\r\n\r\n{{}}"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // A GET with no body says no length; a POST with none says 0.
        let mut out = Vec::new();
        write_request(&mut out, &Method::GET, &t, &[], b"");
        assert!(!String::from_utf8_lossy(&out).contains("content-length"));
        let mut out = Vec::new();
        write_request(&mut out, &Method::POST, &t, &[], b"");
        assert!(String::from_utf8_lossy(&out).ends_with("content-length: 0\r\n\r\n"));
        assert!(field_value("v1,abc+/= x\t"));
        assert!(!field_value("a\r\nx-injected: 1"));
    }
}
