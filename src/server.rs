//! The HTTP server: an accept loop serving the router on every connection.
//!
//! It is ours rather than `axum::serve` for two reasons: a scenario may ask
//! for a connection-level fault (reset the connection, or close it without
//! an answer), which needs a handle on the socket; and slow or idle clients
//! must be bounded in every phase of a connection.
//!
//! Every phase has a limit: a connection must start its first request
//! within `header_read_timeout` (whatever the protocol, even if it never
//! sends a byte), a request head must arrive within it, a body within
//! `body_read_timeout` (else the request is answered 408 in its
//! provider's envelope and the connection closed), and a connection with
//! no request in flight (HTTP/1 keep-alive or HTTP/2) closes after
//! `header_read_timeout` idle. Near `max_connections` (under an eighth of
//! the slots free), the server sheds first: connections idle or not yet
//! started for a second, and bodies still arriving after a second, are
//! closed, so slow clients cannot hold every slot. A client may half-close
//! its side after its request and still get the answer.
//!
//! With a TLS configuration, each connection's first byte says whether it
//! opens a TLS handshake; TLS and plain HTTP are served on the same port, so
//! `--tls` never breaks a plain client (the admin API, `http://` tests).
//!
//! Each connection runs in a task tracked by a [`TaskTracker`]; on shutdown
//! the loop stops accepting, every connection finishes its in-flight request
//! and closes (HTTP graceful shutdown), and [`serve`] returns when all are
//! gone.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::app::HttpService;
use crate::scenarios::ConnectionFault;

/// What a request carries from its connection to the middleware, which
/// takes it out of the request's extensions.
#[derive(Clone)]
pub(crate) struct RequestLink {
    pub(crate) control: ConnectionControl,
    pub(crate) timed_out: BodyTimeout,
}

/// Lets a request ask for its connection to be torn down without an answer.
#[derive(Clone, Default)]
pub(crate) struct ConnectionControl {
    inner: Arc<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    fault: Mutex<Option<ConnectionFault>>,
    tripped: Notify,
}

impl ConnectionControl {
    /// Tears the connection down; the caller should then never answer.
    pub(crate) fn trip(&self, fault: ConnectionFault) {
        *self.inner.fault.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault);
        self.inner.tripped.notify_one();
    }

    fn fault(&self) -> Option<ConnectionFault> {
        *self.inner.fault.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to start its first request (from the
    /// connection), to send a request head, and to leave a connection idle
    /// between requests (HTTP/1 keep-alive and HTTP/2 alike).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body, from its head.
    pub body_read_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// The largest request head accepted (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
}

/// How long, near the connection limit, an idle or unstarted connection
/// or an unfinished body may last before it is shed.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// Whether free connection slots are scarce (an eighth or less left).
fn scarce(slots: &tokio::sync::Semaphore, max: usize) -> bool {
    slots.available_permits() <= (max / 8).max(1)
}

/// Serves `router` on `listener` until `stop` is cancelled, then shuts every
/// connection down gracefully and returns once they are all closed. With
/// `tls`, connections that open a TLS handshake are served over TLS.
pub(crate) async fn serve<A: HttpService>(
    listener: TcpListener,
    router: A,
    stop: CancellationToken,
    limits: ServerLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let connections = TaskTracker::new();
    let max = limits.max_connections.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (pressure, _) = tokio::sync::watch::channel(false);
    let pressure = Arc::new(pressure);
    loop {
        // Wait for a free slot before accepting: at the limit, new clients
        // queue in the kernel's backlog instead of costing memory here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stop.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and similar: back off briefly rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        pressure.send_if_modified(|p| std::mem::replace(p, scarce(&slots, max)) != *p);
        let (router, stop, tls) = (router.clone(), stop.clone(), tls.clone());
        let (slots, pressure) = (slots.clone(), pressure.clone());
        connections.spawn(async move {
            serve_connection(stream, router, stop, limits, tls, pressure.subscribe()).await;
            drop(slot);
            pressure.send_if_modified(|p| std::mem::replace(p, scarce(&slots, max)) != *p);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn serve_connection<A: HttpService>(
    stream: TcpStream,
    router: A,
    stop: CancellationToken,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pressure: tokio::sync::watch::Receiver<bool>,
) {
    // A second descriptor of the same socket, kept to set its linger for a
    // connection-reset fault while hyper owns the stream itself (a wrapper
    // sharing the stream would cost hyper its uninitialised read buffers).
    // Without one (no descriptors left), a reset fault closes instead.
    let socket = socket2::SockRef::from(&stream).try_clone().ok();
    let Some(acceptor) = tls else {
        return drive(stream, socket, router, stop, limits, pressure, false).await;
    };
    // Peek without consuming: a TLS client speaks first with a handshake
    // record; a plain HTTP client with a method name. Both within the
    // header-read timeout, or the connection closes.
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return;
    }
    if !crate::tls::is_handshake(first[0]) {
        return drive(stream, socket, router, stop, limits, pressure, false).await;
    }
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await;
    match handshake {
        Ok(Ok(tls_stream)) => drive(tls_stream, socket, router, stop, limits, pressure, true).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Marks a request that came over TLS, so a provider that writes its own
/// URLs into answers (eCitizen's issuer) says `https` for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverTls;

/// Serves HTTP on one connection's byte stream (plain or TLS, as `over_tls`
/// says); `socket` is the TCP socket underneath, for connection faults.
async fn drive<S, A: HttpService>(
    io: S,
    socket: Option<socket2::Socket>,
    router: A,
    stop: CancellationToken,
    limits: ServerLimits,
    mut pressure: tokio::sync::watch::Receiver<bool>,
    over_tls: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let control = ConnectionControl::default();
    let request_control = control.clone();
    let activity = Arc::new(Activity::new());
    let (request_activity, future_activity) = (activity.clone(), activity.clone());
    let body_timeout = limits.body_read_timeout;
    let service = router
        .map_request(move |request: Request<Incoming>| {
            let timed_out = BodyTimeout::default();
            let deadline = tokio::time::Instant::now().checked_add(body_timeout);
            let body = TimeoutBody::prepare(request.body().is_end_stream(), deadline, &timed_out, &request_activity);
            let mut request = request.map(|incoming| Body::new(body.wrap(incoming)));
            // One extension for both: a request's extensions have room for
            // three before they grow, and axum adds two.
            request.extensions_mut().insert(RequestLink { control: request_control.clone(), timed_out });
            if over_tls {
                request.extensions_mut().insert(OverTls);
            }
            request
        })
        .map_future(move |future| {
            // In flight until the answer is ready, or the request is dropped.
            let guard = future_activity.start();
            async move {
                let response = future.await;
                drop(guard);
                response
            }
        });
    let mut builder = Builder::new(TokioExecutor::new());
    // The head's limit is the connection's watchdog below (no request in
    // flight for `header_read_timeout` since the last ended, or since the
    // connection opened, closes it), not hyper's own: hyper arms a timer for
    // every request head it waits for, an allocation and two turns of the
    // timer wheel's lock per request.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .half_close(true)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service)));
    let mut stopping = false;
    let mut idle_since_shutdown: Option<tokio::time::Instant> = None;
    let controls = Arc::new(Controls::default());
    let controls_waker = std::task::Waker::from(controls.clone());
    loop {
        let scarce = *pressure.borrow_and_update();
        let check = activity.next_check(&limits, scarce);
        let mut cancelled = pin!(stop.cancelled());
        let mut changed = pin!(pressure.changed());
        let mut due = pin!(tokio::time::sleep_until(check));
        let mut tripped = pin!(control.inner.tripped.notified());
        controls.arm();
        // The connection is polled on every wake of this task (nearly all of
        // them its socket's); its controls only when one of them woke it:
        // polling them on every wake took the shutdown signal's and the
        // pressure signal's locks, which every connection shares, a few
        // times per request.
        let step = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                return Poll::Ready(Step::Ended(result));
            }
            if !controls.woken(cx) {
                return Poll::Pending;
            }
            let mut cx = Context::from_waker(&controls_waker);
            if !stopping && cancelled.as_mut().poll(&mut cx).is_ready() {
                return Poll::Ready(Step::Stop);
            }
            if changed.as_mut().poll(&mut cx).is_ready() {
                return Poll::Ready(Step::Pressure);
            }
            if due.as_mut().poll(&mut cx).is_ready() {
                return Poll::Ready(Step::Check);
            }
            if tripped.as_mut().poll(&mut cx).is_ready() {
                return Poll::Ready(Step::Tripped);
            }
            Poll::Pending
        })
        .await;
        match step {
            Step::Ended(result) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            Step::Stop => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            Step::Pressure => {}
            Step::Check => match activity.verdict(&limits, scarce) {
                Verdict::Keep => {}
                Verdict::Close => break,
                Verdict::Idle => match idle_since_shutdown {
                    // Asked to close and still here a while later: drop it.
                    Some(at) if at.elapsed() >= SHED_AFTER => break,
                    Some(_) => {}
                    None => {
                        idle_since_shutdown = Some(tokio::time::Instant::now());
                        conn.as_mut().graceful_shutdown();
                    }
                },
            },
            Step::Tripped => {
                if let (Some(ConnectionFault::Reset), Some(socket)) = (control.fault(), &socket) {
                    // A zero linger turns the close into a TCP RST.
                    let _ = socket.set_linger(Some(Duration::ZERO));
                }
                break;
            }
        }
    }
    // Dropping the connection and the second descriptor closes the socket.
}

/// What woke a connection's task, of the things [`drive`] waits on.
enum Step<E> {
    Ended(Result<(), E>),
    Stop,
    Pressure,
    Check,
    Tripped,
}

/// The waker a connection's controls are polled with: it notes that one of
/// them woke the task, then wakes the task.
struct Controls {
    woken: std::sync::atomic::AtomicBool,
    task: futures_util::task::AtomicWaker,
}

impl Default for Controls {
    fn default() -> Controls {
        Controls { woken: std::sync::atomic::AtomicBool::new(true), task: futures_util::task::AtomicWaker::new() }
    }
}

impl std::task::Wake for Controls {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::Release);
        self.task.wake();
    }
}

impl Controls {
    /// New controls are polled at the next poll, whatever woke the task.
    fn arm(&self) {
        self.woken.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether one of the controls woke the task since they were last
    /// polled (or they are new); the task's waker is kept for them to wake.
    fn woken(&self, cx: &Context<'_>) -> bool {
        self.task.register(cx.waker());
        self.woken.swap(false, std::sync::atomic::Ordering::AcqRel)
    }
}

/// What a connection is doing, for its idle and shedding limits.
struct Activity {
    opened: tokio::time::Instant,
    state: Mutex<ActivityState>,
}

#[derive(Default)]
struct ActivityState {
    requests: u64,
    in_flight: usize,
    last: Option<tokio::time::Instant>,
    /// Bodies still arriving, and since when the oldest of them.
    bodies: usize,
    body_since: Option<tokio::time::Instant>,
}

/// What a connection's check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// No request in flight for too long: close gracefully.
    Idle,
    /// Never started a request, or a body too slow while slots are scarce: drop it.
    Close,
}

/// Marks a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.last = Some(tokio::time::Instant::now());
    }
}

impl Activity {
    fn new() -> Activity {
        Activity { opened: tokio::time::Instant::now(), state: Mutex::new(ActivityState::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.requests = state.requests.saturating_add(1);
        state.in_flight = state.in_flight.saturating_add(1);
        state.last = Some(tokio::time::Instant::now());
        InFlight(self.clone())
    }

    fn body_started(&self) {
        let mut state = self.state();
        state.bodies = state.bodies.saturating_add(1);
        state.body_since.get_or_insert_with(tokio::time::Instant::now);
    }

    fn body_ended(&self) {
        let mut state = self.state();
        state.bodies = state.bodies.saturating_sub(1);
        if state.bodies == 0 {
            state.body_since = None;
        }
    }

    /// The limits that apply now.
    fn limits(limits: &ServerLimits, scarce: bool) -> (Duration, Option<Duration>) {
        let idle = if scarce { SHED_AFTER.min(limits.header_read_timeout) } else { limits.header_read_timeout };
        (idle, scarce.then_some(SHED_AFTER))
    }

    /// When the connection should next be looked at.
    fn next_check(&self, limits: &ServerLimits, scarce: bool) -> tokio::time::Instant {
        let (idle, slow_body) = Activity::limits(limits, scarce);
        let state = self.state();
        let since = state.last.unwrap_or(self.opened);
        let mut at = since.checked_add(idle).unwrap_or(since);
        if let (Some(limit), Some(body_since)) = (slow_body, state.body_since) {
            at = at.min(body_since.checked_add(limit).unwrap_or(body_since));
        }
        // While busy, look again a little later rather than spin.
        at.max(tokio::time::Instant::now().checked_add(Duration::from_millis(50)).unwrap_or(at))
    }

    fn verdict(&self, limits: &ServerLimits, scarce: bool) -> Verdict {
        let (idle, slow_body) = Activity::limits(limits, scarce);
        let state = self.state();
        let now = tokio::time::Instant::now();
        if let (Some(limit), Some(body_since)) = (slow_body, state.body_since) {
            if now.saturating_duration_since(body_since) >= limit {
                return Verdict::Close;
            }
        }
        if state.in_flight > 0 {
            return Verdict::Keep;
        }
        let since = state.last.unwrap_or(self.opened);
        match now.saturating_duration_since(since) >= idle {
            false => Verdict::Keep,
            // A connection that never started a request has nothing to finish.
            true if state.requests == 0 => Verdict::Close,
            true => Verdict::Idle,
        }
    }
}

/// Set when a request's body did not arrive in time: the middleware then
/// answers 408 in the provider's envelope and closes the connection.
#[derive(Clone, Default)]
pub(crate) struct BodyTimeout(Arc<std::sync::atomic::AtomicBool>);

impl BodyTimeout {
    pub(crate) fn fired(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Why a body read failed: it did not arrive within the body read timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body read timeout")]
struct BodyTooSlow;

/// A request body that must arrive, in full, by a deadline.
struct TimeoutBody {
    inner: Option<Incoming>,
    /// When the body must have arrived by.
    due: Option<tokio::time::Instant>,
    /// The timer for `due`, made the first time the body is waited for (a
    /// body already read with the head never needs one).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: BodyTimeout,
    activity: Option<Arc<Activity>>,
}

/// The parts of a [`TimeoutBody`] made before the body is taken.
struct TimeoutParts {
    deadline: Option<tokio::time::Instant>,
    timed_out: BodyTimeout,
    activity: Option<Arc<Activity>>,
}

impl TimeoutBody {
    /// An empty body is never waited for, so it gets no deadline.
    fn prepare(
        empty: bool,
        deadline: Option<tokio::time::Instant>,
        timed_out: &BodyTimeout,
        activity: &Arc<Activity>,
    ) -> TimeoutParts {
        let activity = (!empty).then(|| {
            activity.body_started();
            activity.clone()
        });
        TimeoutParts { deadline: deadline.filter(|_| !empty), timed_out: timed_out.clone(), activity }
    }
}

impl TimeoutParts {
    fn wrap(self, inner: Incoming) -> TimeoutBody {
        TimeoutBody {
            inner: Some(inner),
            due: self.deadline,
            deadline: None,
            timed_out: self.timed_out,
            activity: self.activity,
        }
    }
}

impl TimeoutBody {
    fn finish(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.body_ended();
        }
    }
}

impl Drop for TimeoutBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl hyper::body::Body for TimeoutBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                this.inner = None;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish();
                return Poll::Ready(Some(Err(e.into())));
            }
            Poll::Ready(Some(Ok(frame))) => return Poll::Ready(Some(Ok(frame))),
            Poll::Pending => {}
        }
        if this.deadline.is_none() {
            this.deadline = this.due.map(|at| Box::pin(tokio::time::sleep_until(at)));
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                this.timed_out.0.store(true, std::sync::atomic::Ordering::Relaxed);
                this.finish();
                this.inner = None;
                return Poll::Ready(Some(Err(BodyTooSlow.into())));
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.as_ref().map_or_else(|| hyper::body::SizeHint::with_exact(0), hyper::body::Body::size_hint)
    }
}
