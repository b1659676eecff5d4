//! HTTP plumbing shared by every provider: the per-request context, the
//! contract every provider error fulfils, and the middleware that renders
//! provider errors and journals every request.
//!
//! A provider handler returns its own error type; that type's `IntoResponse`
//! puts a [`Fault`] into the response extensions and leaves the body empty.
//! [`Journaling`] then renders the fault in the provider's envelope with the
//! request's id, adds the `x-sandbox-diagnosis` header, and journals it, so
//! no error can escape unrendered or unjournaled, whichever layer raised it.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::app_state::AppState;
use crate::journal::RequestRecord;
use crate::providers::Surface;
use crate::scenarios::ConnectionFault;
use crate::server::RequestLink;
use crate::store::Tenant;

/// What every handler can know about the request it serves.
#[derive(Clone)]
pub struct RequestContext {
    /// Sandbox-wide request number, from 1; providers format their request ids from it.
    pub seq: u64,
    pub seed: u64,
    tenant: Arc<Mutex<Option<Arc<Tenant>>>>,
}

impl RequestContext {
    /// Records which tenant the request reached, for the journal.
    pub fn set_tenant(&self, tenant: &Arc<Tenant>) {
        *self.tenant.lock().unwrap_or_else(|e| e.into_inner()) = Some(tenant.clone());
    }

    /// The tenant the request reached, once its caller is known; a provider
    /// rendering an error may consult the tenant's world.
    pub(crate) fn tenant(&self) -> Option<Arc<Tenant>> {
        self.tenant.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A provider error that can render itself in the provider's envelope.
pub trait WireError: Send + Sync + 'static {
    fn provider(&self) -> &'static str;
    /// The provider's error code (e.g. `404.001.03`).
    fn code(&self) -> String;
    /// What exactly was wrong, in plain words; never contains a secret.
    fn diagnosis(&self) -> Option<String>;
    /// The request id the client sees in the error body.
    fn request_id(&self, ctx: &RequestContext) -> String;
    fn render(&self, ctx: &RequestContext) -> Response;
}

/// Ask [`Journaling`] to wait this long (real time) before answering: a
/// scripted slow gateway. Handlers themselves never sleep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseDelay(pub std::time::Duration);

/// A diagnosis for a request that succeeded synchronously but will fail
/// later (a wrong credential shows in the result callback): journaled and
/// sent as `x-sandbox-diagnosis`.
#[derive(Debug, Clone)]
pub(crate) struct Diagnosis(pub String);

/// A provider error waiting to be rendered by [`Journaling`].
#[derive(Clone)]
pub(crate) struct Fault(pub Arc<dyn WireError>);

/// Builds the empty response that carries a fault to the middleware.
pub(crate) fn fault_response(status: StatusCode, error: impl WireError) -> Response {
    fault_response_dyn(status, Arc::new(error))
}

pub(crate) fn fault_response_dyn(status: StatusCode, error: Arc<dyn WireError>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response.extensions_mut().insert(Fault(error));
    response
}

/// A method's name for the journal, without a copy for the standard ones.
fn method_name(method: &axum::http::Method) -> std::borrow::Cow<'static, str> {
    use axum::http::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return std::borrow::Cow::Owned(method.as_str().to_owned()),
    };
    std::borrow::Cow::Borrowed(name)
}

/// The layer every request passes first: it numbers the request, gives
/// handlers its [`RequestContext`], renders a provider error (or a bare
/// status the router or a timeout raised) in the envelope of the provider
/// that owns the path, journals the request, holds a scripted slow answer,
/// trips a scripted connection fault, and answers 500 for a handler that
/// panics (a bug), marking the sandbox degraded, instead of dropping the
/// connection.
///
/// A service of its own rather than `axum::middleware::from_fn`, and laid
/// over the whole router rather than over every route: `from_fn` boxes the
/// service below it and both futures, and a layer laid over the routes
/// boxes and clones each route once more, a dozen allocations and copies of
/// futures per request that this does without.
#[derive(Clone)]
pub(crate) struct Journaling<S> {
    app: AppState,
    inner: S,
}

impl<S> Journaling<S> {
    pub(crate) fn new(app: AppState, inner: S) -> Journaling<S> {
        Journaling { app, inner }
    }
}

impl<S> tower::Service<Request> for Journaling<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Journaled<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Journaled<S::Future> {
        let begun = Begun::new(&self.app, &mut request);
        let span = begun.span.clone();
        // A service may panic in `call` as well as in its future: both are caught.
        let inner = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => Some(AssertUnwindSafe(future).catch_unwind().instrument(span)),
            Err(panic) => {
                self.app.health.record("request handler", None, panic.as_ref());
                None
            }
        };
        Journaled { inner, app: self.app.clone(), begun: Some(begun), delay: None, finished: None }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Journaling`]: the router's, rendered and journaled,
    /// after the scripted delay if there is one.
    pub(crate) struct Journaled<F> {
        #[pin]
        inner: Option<tracing::instrument::Instrumented<futures_util::future::CatchUnwind<AssertUnwindSafe<F>>>>,
        app: AppState,
        // Until the router answers.
        begun: Option<Begun>,
        #[pin]
        delay: Option<tokio::time::Sleep>,
        // The answer, held through the delay.
        finished: Option<Finished>,
    }
}

impl<F> Future for Journaled<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.begun.is_some() {
            let response = match this.inner.as_mut().as_pin_mut().map(|inner| inner.poll(cx)) {
                Some(Poll::Pending) => return Poll::Pending,
                Some(Poll::Ready(Ok(Ok(response)))) => response,
                Some(Poll::Ready(Ok(Err(never)))) => match never {},
                Some(Poll::Ready(Err(panic))) => {
                    this.app.health.record("request handler", None, panic.as_ref());
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
                // `call` panicked (recorded there). An empty answer is
                // rendered in the provider's envelope by `finish`.
                None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
            // The handler's state goes now, not when the answer is sent.
            this.inner.set(None);
            let Some(begun) = this.begun.take() else { return Poll::Pending };
            let finished = begun.finish(this.app, response);
            if let Some(delay) = finished.delay {
                this.delay.set(Some(tokio::time::sleep(delay)));
            }
            *this.finished = Some(finished);
        }
        if let Some(sleep) = this.delay.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.delay.set(None);
        }
        match this.finished.take() {
            Some(Finished { response, trip: None, .. }) => Poll::Ready(Ok(response)),
            Some(Finished { trip: Some((fault, connection)), .. }) => {
                connection.trip(fault);
                // The connection task tears the socket down; this answer is never sent.
                Poll::Pending
            }
            None => Poll::Pending,
        }
    }
}

/// What [`Journaling`] learnt of a request before the router saw it.
struct Begun {
    ctx: RequestContext,
    method: std::borrow::Cow<'static, str>,
    path: Arc<str>,
    surface: Surface,
    span: tracing::Span,
    connection: Option<crate::server::ConnectionControl>,
    body_timeout: Option<crate::server::BodyTimeout>,
}

/// A rendered answer, what to wait before sending it, and the connection
/// fault to trip instead of sending it.
struct Finished {
    response: Response,
    delay: Option<std::time::Duration>,
    trip: Option<(ConnectionFault, crate::server::ConnectionControl)>,
}

impl Begun {
    fn new(app: &AppState, request: &mut Request) -> Begun {
        let seq = app.next_request_seq();
        let ctx = RequestContext { seq, seed: app.seed, tenant: Arc::new(Mutex::new(None)) };
        // Taken out before the context goes in, so the request's extensions
        // stay within the room they start with.
        let (connection, body_timeout) = match request.extensions_mut().remove::<RequestLink>() {
            Some(RequestLink { control, timed_out }) => (Some(control), Some(timed_out)),
            None => (None, None),
        };
        request.extensions_mut().insert(ctx.clone());
        let method = method_name(request.method());
        let path = crate::journal::shared_path(request.uri().path());
        let surface = Surface::of_path(&path);
        // A debug span: at the default level it is disabled and costs nothing,
        // and the one line a request logs at info (a refusal) names the request
        // itself.
        let span = tracing::debug_span!("request", provider = surface.name(), %method, %path, seq);
        Begun { ctx, method, path, surface, span, connection, body_timeout }
    }

    /// Renders the router's answer, journals the request and says what to
    /// do with the answer.
    fn finish(self, app: &AppState, mut response: Response) -> Finished {
        let Begun { ctx, method, path, surface, span, connection, body_timeout } = self;
        let seq = ctx.seq;
        let mut delay = response.extensions_mut().remove::<ResponseDelay>().map(|d| d.0);
        let success_diagnosis = response.extensions_mut().remove::<Diagnosis>().map(|d| d.0);
        let connection_fault = response.extensions_mut().remove::<ConnectionFault>();
        // A scripted delay is cut at the request timeout, and then the request
        // times out as any other would: a scenario cannot hold a connection
        // past it.
        let timed_out = delay.filter(|d| *d >= app.request_timeout);
        // A body that did not arrive in time: the request timed out, whatever
        // the handler made of the cut body.
        let body_too_slow = body_timeout.is_some_and(|t| t.fired());
        if timed_out.is_some() {
            delay = Some(app.request_timeout);
        }
        if timed_out.is_some() || body_too_slow {
            response.extensions_mut().remove::<Fault>();
            *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
        }
        let fault = response.extensions_mut().remove::<Fault>().map(|f| f.0).or_else(|| {
            // Errors raised by the router itself (unknown method, timeout) arrive
            // with an empty body; give them the envelope of the provider that owns
            // the path. Error answers a handler wrote itself are left alone.
            let status = response.status();
            let bare = response.body().size_hint().exact() == Some(0) && connection_fault.is_none();
            let bare = bare || timed_out.is_some() || body_too_slow;
            (bare && (status.is_client_error() || status.is_server_error())).then(|| surface.bare_error(status))
        });
        let (request_id, error_code, mut diagnosis) = match &fault {
            Some(fault) => {
                response = fault.render(&ctx);
                let diagnosis = fault.diagnosis();
                if let Some(d) = &diagnosis {
                    response.headers_mut().insert("x-sandbox-diagnosis", header_text(d));
                }
                (Some(fault.request_id(&ctx)), Some(fault.code()), diagnosis)
            }
            None => {
                if let Some(d) = &success_diagnosis {
                    response.headers_mut().insert("x-sandbox-diagnosis", header_text(d));
                }
                (None, None, success_diagnosis)
            }
        };
        if body_too_slow {
            let why = "the request body did not arrive within the body read timeout".to_owned();
            response.headers_mut().insert("x-sandbox-diagnosis", header_text(&why));
            // The rest of the body may still come; this connection is done.
            response.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            diagnosis = Some(why);
        }
        if let Some(scripted) = timed_out {
            let why = format!(
                "the scenario delays the answer {} ms, at or past the request timeout ({} ms)",
                scripted.as_millis(),
                app.request_timeout.as_millis()
            );
            response.headers_mut().insert("x-sandbox-diagnosis", header_text(&why));
            diagnosis = Some(why);
        }
        let status = response.status().as_u16();
        span.in_scope(|| match &error_code {
            Some(code) => tracing::info!(
                provider = surface.name(),
                %method,
                %path,
                seq,
                status,
                error_code = %code,
                diagnosis = diagnosis.as_deref().unwrap_or(""),
                "request refused"
            ),
            None => tracing::debug!(status, "request served"),
        });
        if surface.is_journaled() {
            let tenant = ctx.tenant().unwrap_or_else(|| app.tenants.default_tenant());
            let at = tenant.now();
            tenant.journal.record_request(|journal_seq| RequestRecord {
                seq: journal_seq,
                at,
                request_seq: seq,
                request_id,
                provider: surface.name(),
                method,
                path,
                status,
                error_code,
                diagnosis: match connection_fault {
                    Some(fault) => Some(format!("the scenario drops the connection ({fault:?}) without an answer")),
                    None => diagnosis,
                },
            });
        }
        let trip = connection_fault.zip(connection);
        Finished { response, delay, trip }
    }
}

/// Why a request body could not be read as a provider expects it.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body's content type is another: as it came (`"text/plain"`, quoted), or `missing`.
    ContentType(String),
    TooLarge,
    Unreadable(String),
}

/// Reads a request's body when its content type is `mime` (compared without
/// case and parameters, so `application/json; charset=utf-8` is JSON), up to
/// the sandbox's body limit; each provider words the refusal in its own
/// envelope.
///
/// Read frame by frame rather than by axum's `Bytes` extractor, which
/// gathers even a body of one frame in a list it allocates: a body that
/// comes in one frame (nearly every one) is taken as it is, without a copy.
pub(crate) async fn body_of_type(request: Request, app: &AppState, mime: &str) -> Result<axum::body::Bytes, BodyError> {
    use http_body_util::BodyExt;
    // Borrowed: copied only to word a refusal.
    let content_type = request.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()));
    let matches = content_type
        .as_deref()
        .is_some_and(|ct| ct.split(';').next().is_some_and(|found| found.trim().eq_ignore_ascii_case(mime)));
    if !matches {
        return Err(BodyError::ContentType(content_type.map_or_else(|| "missing".into(), |ct| format!("{ct:?}"))));
    }
    let limit = app.body_limit;
    let mut body = request.into_body();
    let mut gathered = Gathered::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(format!("Failed to buffer the request body: {e}")))?;
        // Trailers carry nothing a provider reads.
        let Ok(data) = frame.into_data() else { continue };
        if gathered.len().saturating_add(data.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        gathered.push(data);
    }
    Ok(gathered.into_bytes())
}

/// A body's data frames, gathered: a body that comes in one frame (nearly
/// every one) is kept as it came, without a copy; only one in several
/// frames is copied together.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    first: axum::body::Bytes,
    joined: Option<bytes::BytesMut>,
}

impl Gathered {
    /// The bytes gathered so far.
    pub(crate) fn len(&self) -> usize {
        self.joined.as_ref().map_or(self.first.len(), bytes::BytesMut::len)
    }

    pub(crate) fn push(&mut self, data: axum::body::Bytes) {
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(&data);
        } else if self.first.is_empty() {
            self.first = data;
        } else {
            let first = std::mem::take(&mut self.first);
            let mut both = bytes::BytesMut::with_capacity(first.len().saturating_add(data.len()));
            both.extend_from_slice(&first);
            both.extend_from_slice(&data);
            self.joined = Some(both);
        }
    }

    pub(crate) fn into_bytes(self) -> axum::body::Bytes {
        self.joined.map_or(self.first, bytes::BytesMut::freeze)
    }
}

/// Header values must be visible ASCII; anything else becomes `?`, and long
/// diagnoses are cut.
fn header_text(text: &str) -> HeaderValue {
    let cleaned: String =
        text.chars().take(480).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static("unprintable diagnosis"))
}

/// Answers `status` with an empty body (the middleware above renders it in
/// the provider's envelope) when a request is not answered within
/// `timeout`: tower-http's `TimeoutLayer`, except that the timer is made
/// only if the request has to wait. Nearly every request is answered in its
/// first poll, and registering and cancelling a timer for each one took the
/// timer wheel's lock twice per request. The timeout counts from that first
/// wait, so a request that first works without waiting gets that work's
/// time on top (the same bound for anything that waits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LazyTimeoutLayer {
    pub(crate) status: StatusCode,
    pub(crate) timeout: std::time::Duration,
}

impl<S> tower::Layer<S> for LazyTimeoutLayer {
    type Service = LazyTimeout<S>;

    fn layer(&self, inner: S) -> LazyTimeout<S> {
        LazyTimeout { inner, layer: *self }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LazyTimeout<S> {
    inner: S,
    layer: LazyTimeoutLayer,
}

impl<S, R> tower::Service<R> for LazyTimeout<S>
where
    S: tower::Service<R, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = LazyTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        LazyTimeoutFuture { inner: self.inner.call(request), sleep: None, layer: self.layer }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`LazyTimeout`]: the inner one, or `status` once the
    /// timer made at the first wait has run out.
    pub(crate) struct LazyTimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        layer: LazyTimeoutLayer,
    }
}

impl<F, E> std::future::Future for LazyTimeoutFuture<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let mut this = self.project();
        if let std::task::Poll::Ready(answer) = this.inner.poll(cx) {
            return std::task::Poll::Ready(answer);
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(this.layer.timeout)));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(std::task::Poll::Ready(())) => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = this.layer.status;
                std::task::Poll::Ready(Ok(response))
            }
            _ => std::task::Poll::Pending,
        }
    }
}

#[cfg(test)]
mod lazy_timeout_tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use tower::{Layer, ServiceExt};

    use super::*;

    const LAYER: LazyTimeoutLayer =
        LazyTimeoutLayer { status: StatusCode::REQUEST_TIMEOUT, timeout: Duration::from_millis(300) };

    #[tokio::test(start_paused = true)]
    async fn an_answer_ready_at_once_passes_through() {
        let service = LAYER.layer(tower::service_fn(|_: ()| async {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::CREATED;
            Ok::<_, Infallible>(response)
        }));
        let response = service.oneshot(()).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_within_the_timeout_after_a_wait_passes_through() {
        let service = LAYER.layer(tower::service_fn(|_: ()| async {
            tokio::time::sleep(Duration::from_millis(299)).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        let response = service.oneshot(()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waits_past_the_timeout_answers_the_status_at_the_timeout() {
        let started = tokio::time::Instant::now();
        let service = LAYER.layer(tower::service_fn(|_: ()| async {
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        let response = service.oneshot(()).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}

#[cfg(test)]
mod gathered_tests {
    use axum::body::Bytes;

    use super::Gathered;

    #[test]
    fn one_frame_is_kept_as_it_came_and_several_are_joined_in_order() {
        let one = Bytes::from_static(b"{\"a\":1}");
        let mut gathered = Gathered::default();
        gathered.push(one.clone());
        assert_eq!(gathered.len(), one.len());
        let kept = gathered.into_bytes();
        assert_eq!(kept.as_ptr(), one.as_ptr(), "a single frame is not copied");

        let mut gathered = Gathered::default();
        for part in ["", "{\"a\"", ":", "1}"] {
            gathered.push(Bytes::from(part));
        }
        assert_eq!(gathered.len(), 7);
        assert_eq!(gathered.into_bytes(), Bytes::from_static(b"{\"a\":1}"));
        assert!(Gathered::default().into_bytes().is_empty());
    }
}

#[cfg(test)]
mod journaling_tests {
    use tower::ServiceExt;

    use super::*;
    use crate::app::Sandbox;
    use crate::config::Config;

    /// `inner`'s answer to a GET of `path`, through [`Journaling`].
    async fn answer<S>(app: &AppState, inner: S, path: &str) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>,
    {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        Journaling::new(app.clone(), inner).oneshot(request).await.unwrap()
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The task and message of the last panic health recorded.
    fn last_problem(app: &AppState) -> (String, String) {
        let problem = app.health.view().problems.pop().expect("a problem recorded");
        (problem.task, problem.message)
    }

    #[tokio::test]
    async fn a_service_that_panics_in_call_answers_500_in_the_envelope_and_is_recorded() {
        let sandbox = Sandbox::start(Config::local().with_seed(1)).await.unwrap();
        let app = sandbox.state().clone();
        let inner = tower::service_fn(|_: Request| -> std::future::Ready<Result<Response, Infallible>> {
            panic!("a bug before the future")
        });
        let response = answer(&app, inner, "/mpesa/stkpush/v1/processrequest").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_text(response).await;
        assert!(body.contains("\"errorCode\""), "Daraja's envelope: {body}");
        assert_eq!(last_problem(&app), ("request handler".to_owned(), "a bug before the future".to_owned()));
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_future_that_panics_answers_500_and_a_bare_status_is_rendered_and_journaled() {
        let sandbox = Sandbox::start(Config::local().with_seed(1)).await.unwrap();
        let app = sandbox.state().clone();
        let inner =
            tower::service_fn(|_: Request| async { panic!("a bug in the future") as Result<Response, Infallible> });
        let response = answer(&app, inner, "/mpesa/b2c/v3/paymentrequest").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(last_problem(&app), ("request handler".to_owned(), "a bug in the future".to_owned()));

        let inner = tower::service_fn(|_: Request| async { Ok(StatusCode::NOT_FOUND.into_response()) });
        let response = answer(&app, inner, "/mpesa/nowhere").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = body_text(response).await;
        assert!(body.contains("\"errorCode\": \"404.001.01\""), "a bare status in Daraja's envelope: {body}");
        let journaled = app
            .tenants
            .default_tenant()
            .journal
            .read(|j| j.requests.iter().map(|r| (r.path.to_string(), r.status)).collect::<Vec<_>>());
        assert_eq!(
            journaled,
            vec![("/mpesa/b2c/v3/paymentrequest".to_owned(), 500), ("/mpesa/nowhere".to_owned(), 404)]
        );
        sandbox.shutdown().await;
    }
}
