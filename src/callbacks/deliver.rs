//! One delivery attempt: build the request, send it, read a bounded part of
//! the answer, journal the attempt, and schedule what follows (the
//! receiver's answer for its provider, a retry, held callbacks released).

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Request, Uri};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use secrecy::ExposeSecret;

use super::allowlist::{refused, Destination};
use super::breaker::Attempt;
use super::engine::Stats;
use super::plain::Plain;
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
    let plain = job.url.starts_with("http://").then(|| plain_request(job, headers, body.clone())).flatten();
    match plain {
        Some((uri, request)) => send_plain(&clients.plain, &uri, request, capture, timeout).await,
        None => send_reqwest(&clients.tls, job, headers, body, capture, timeout).await,
    }
}

/// A callback URL as the plain client sends to it: the URL, its `Host`
/// header and its origin-form target.
#[derive(Clone)]
struct Target {
    url: Arc<str>,
    uri: Uri,
    host: HeaderValue,
    path: Uri,
}

thread_local! {
    /// The last few callback URLs this thread sent to, parsed: a tenant's
    /// callbacks go to the same few URLs, and parsing one (with its `Host`
    /// and target) cost more than the rest of the request. Only parses that
    /// succeeded are kept; a parse's result depends on the text alone.
    static TARGETS: std::cell::RefCell<[Option<Target>; 4]> = const { std::cell::RefCell::new([None, None, None, None]) };
}

/// The URL's parts for the plain client, or `None` if only reqwest takes it.
fn target(url: &Arc<str>) -> Option<Target> {
    let known = TARGETS.with(|t| t.borrow().iter().flatten().find(|t| t.url == *url).cloned());
    if known.is_some() {
        return known;
    }
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?;
    // `Host` is the URL's host and its port unless that is 80; a URL whose
    // authority says exactly that (a port that is not 80, no user info)
    // gives it as it is.
    let host = match authority.port_u16() {
        Some(80) | None => HeaderValue::from_str(authority.host()).ok()?,
        Some(_) if !authority.as_str().contains('@') => HeaderValue::from_str(authority.as_str()).ok()?,
        Some(port) => HeaderValue::from_str(&format!("{}:{port}", authority.host())).ok()?,
    };
    let path = match uri.path_and_query() {
        Some(path) if path.as_str() != "/" => Uri::from_parts({
            let mut parts = axum::http::uri::Parts::default();
            parts.path_and_query = Some(path.clone());
            parts
        })
        .ok()?,
        _ => Uri::default(),
    };
    let parsed = Target { url: url.clone(), uri, host, path };
    TARGETS.with(|t| {
        let mut t = t.borrow_mut();
        t.rotate_right(1);
        t[0] = Some(parsed.clone());
    });
    Some(parsed)
}

/// The URL and the request (origin-form, with the `Host` hyper-util's client
/// wrote) for the plain client, or `None` if the URL or a header is one only
/// reqwest takes.
fn plain_request(
    job: &CallbackJob,
    headers: &[(&str, Cow<'_, str>)],
    body: Bytes,
) -> Option<(Uri, Request<Full<Bytes>>)> {
    let Target { uri, host, path, .. } = target(&job.url)?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = job.method.clone();
    let map = request.headers_mut();
    // Room for `Host`, `User-Agent` and the `Content-Length` the client
    // adds, so the map is not grown as the request goes out.
    map.reserve(headers.len().saturating_add(3));
    map.insert(header::HOST, host);
    map.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value).ok()?);
    }
    *request.uri_mut() = path;
    Some((uri, request))
}

async fn send_plain(
    client: &Plain,
    uri: &Uri,
    request: Request<Full<Bytes>>,
    capture: usize,
    timeout: Duration,
) -> Answer {
    // One timer for the whole attempt, sending and reading alike (a
    // timeout for each step registered and cancelled a timer for each).
    let mut timer = std::pin::pin!(tokio::time::sleep_until(crate::clock::deadline(timeout)));
    let timed_out = || format!("operation timed out (after {} ms)", timeout.as_millis());
    let destination = uri.authority().map_or("", |a| a.as_str());
    let (response, mut lease) = match within(timer.as_mut(), client.send(uri, destination, request)).await {
        Some(Ok(sent)) => sent,
        Some(Err(e)) => return Answer { status: None, body: None, error: Some(error_chain(&e)) },
        None => return Answer { status: None, body: None, error: Some(timed_out()) },
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    // An answer in one frame (nearly every one) is read where hyper put it.
    let mut captured = crate::http::Gathered::default();
    let mut error = None;
    let mut ended = false;
    while captured.len() < capture {
        match within(timer.as_mut(), lease.drive(body.frame())).await {
            Some(Some(Ok(frame))) => {
                if let Ok(chunk) = frame.into_data() {
                    let room = capture.saturating_sub(captured.len());
                    captured.push(chunk.slice(..chunk.len().min(room)));
                }
            }
            Some(None) => {
                ended = true;
                break;
            }
            Some(Some(Err(e))) => {
                error = Some(error_chain(&e));
                break;
            }
            None => {
                error = Some(timed_out());
                break;
            }
        }
    }
    // Only a connection whose answer was read to its end can carry another request.
    if ended {
        lease.keep();
    }
    Answer { status: Some(status), body: Some(captured_text(&captured.into_bytes())), error }
}

/// `future`'s output, or `None` once `timer` has run out; like
/// `tokio::time::timeout`, the future is polled first. A future of its own
/// rather than an `async fn`, which would hold `future` twice (as its
/// argument and pinned), and the attempt's futures are large.
fn within<'t, F: std::future::Future>(timer: std::pin::Pin<&'t mut tokio::time::Sleep>, future: F) -> Within<'t, F> {
    Within { timer, future }
}

pin_project_lite::pin_project! {
    /// See [`within`].
    struct Within<'t, F> {
        timer: std::pin::Pin<&'t mut tokio::time::Sleep>,
        #[pin]
        future: F,
    }
}

impl<F: std::future::Future> std::future::Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = self.project();
        if let std::task::Poll::Ready(output) = this.future.poll(cx) {
            return std::task::Poll::Ready(Some(output));
        }
        this.timer.as_mut().poll(cx).map(|()| None)
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
        assert_eq!(first.host, "127.0.0.1:8080");
        assert_eq!(first.path, "/mpesa/callback?x=1");
        assert_eq!(first.uri, "http://127.0.0.1:8080/mpesa/callback?x=1");
        // The second time from the thread's cache: the same parts.
        let again = target(&Arc::from("http://127.0.0.1:8080/mpesa/callback?x=1")).expect("cached");
        assert_eq!((again.host, again.path, again.uri), (first.host, first.path, first.uri));
    }

    #[test]
    fn the_host_header_is_written_as_hyper_utils_client_wrote_it() {
        let host = |url: &str| target(&Arc::from(url)).map(|t| t.host.to_str().unwrap_or_default().to_owned());
        assert_eq!(host("http://example.test/cb").as_deref(), Some("example.test"));
        assert_eq!(host("http://example.test:80/cb").as_deref(), Some("example.test"));
        assert_eq!(host("http://example.test:9000/").as_deref(), Some("example.test:9000"));
        assert_eq!(host("http://user@example.test:9000/").as_deref(), Some("example.test:9000"));
        assert_eq!(target(&Arc::from("http://example.test")).map(|t| t.path), Some(Uri::default()));
        assert!(target(&Arc::from("not a url")).is_none());
    }

    #[test]
    fn more_urls_than_the_cache_holds_are_each_parsed_right() {
        for round in 0..3 {
            for port in 9000..9010 {
                let t = target(&Arc::from(format!("http://127.0.0.1:{port}/r{round}"))).expect("parsed");
                assert_eq!(t.host, format!("127.0.0.1:{port}").as_str());
                assert_eq!(t.path, format!("/r{round}").as_str());
            }
        }
    }
}
