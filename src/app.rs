//! The composition root: application state, the router, and the embeddable
//! [`Sandbox`] handle.
//!
//! `Sandbox::start(config)` binds (port 0 is fine), starts the background
//! tasks (scheduler, callback engine) and the HTTP server, and returns the
//! base URL and the default tenant's credentials. `Sandbox::shutdown` stops
//! accepting, lets in-flight requests finish, delivers queued callbacks
//! within the grace period and reports what was left.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{middleware, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;

use crate::admin;
use crate::app_state::{AppParts, AppState};
use crate::callbacks::{CallbackEngine, EngineStats, Settle, UnsentCallback};
use crate::clock::Clock;
use crate::config::{ClockMode, Config};
use crate::http;
use crate::ids::IdGen;
use crate::providers::{self, Credentials, Surface};
use crate::scenarios::ScenarioSet;
use crate::store::{Event, Tenants};
use crate::supervisor::{supervise, Health};

/// The whole HTTP surface: the routes, and the layers every request passes,
/// laid over the router as a whole (laid over the routes, each would box
/// and clone every route once more per request), with the body limit and
/// request timeout the state holds.
pub(crate) fn app(state: AppState) -> impl HttpService {
    let (body_limit, request_timeout) = (state.body_limit, state.request_timeout);
    let router = Router::new()
        .merge(providers::routes())
        .nest(admin::PREFIX, admin::router().layer(middleware::from_fn_with_state(state.clone(), admin::require_token)))
        .fallback(unknown_path)
        .with_state(state.clone());
    let inner = ServiceBuilder::new()
        .layer(http::LazyTimeoutLayer { status: StatusCode::REQUEST_TIMEOUT, timeout: request_timeout })
        .layer(DefaultBodyLimit::max(body_limit))
        .service(router);
    http::Journaling::new(state, inner)
}

/// What the server serves: the [`app`].
pub(crate) trait HttpService:
    tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + Sync + 'static
{
}

impl<S> HttpService for S where
    S: tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

async fn unknown_path(request: Request) -> Response {
    let surface = Surface::of_path(request.uri().path());
    let error = surface.bare_error(StatusCode::NOT_FOUND);
    http::fault_response_dyn(StatusCode::NOT_FOUND, error)
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the {provider} provider cannot start: {message}")]
    Provider { provider: &'static str, message: String },
    #[error("the callback HTTP client cannot be built: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// An admin token that is empty, blank or not sendable in a header
    /// would silently turn admin authentication off (or lock everyone out).
    #[error(
        "the admin token {0}; give a token of visible ASCII characters, or none (one is generated beyond loopback)"
    )]
    AdminToken(&'static str),
    /// More scenarios or rules than a tenant may hold.
    #[error("the scenarios to load: {0}")]
    Scenarios(String),
    #[error("HTTPS cannot be served: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// The most callbacks the shutdown report lists of each kind (the counts
/// are always complete).
const MAX_LISTED: usize = 1_000;

/// What shutdown left behind.
#[derive(Debug, Clone, Serialize)]
pub struct ShutdownReport {
    pub callbacks: EngineStats,
    /// Events still on tenants' timelines (payments not yet settled, callbacks not yet due).
    pub pending_events: usize,
    /// Whether the grace period ran out before every due delivery finished.
    pub grace_exceeded: bool,
    /// Callbacks that were due (queued, in flight, or past their time on a
    /// timeline) and were never delivered: the first 1,000.
    pub abandoned: Vec<UnsentCallback>,
    pub abandoned_count: usize,
    /// Callbacks scheduled for later (a scripted delay, a retry, a virtual
    /// clock that was not moved) that will never be sent, since nothing
    /// survives a restart: the first 1,000.
    pub scheduled: Vec<UnsentCallback>,
    pub scheduled_count: usize,
}

impl ShutdownReport {
    /// Whether every callback that was due was delivered.
    pub fn is_clean(&self) -> bool {
        self.abandoned_count == 0
    }
}

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
    /// The other addresses served (`Config::also_listen`, bound).
    also: Vec<SocketAddr>,
    tls: bool,
    state: AppState,
    server_stop: CancellationToken,
    background_stop: CancellationToken,
    engine_close: CancellationToken,
    tracker: TaskTracker,
    servers: Vec<JoinHandle<()>>,
    grace: Duration,
}

/// Checks an admin token a user gave.
fn check_admin_token(token: Option<&str>) -> Result<(), StartError> {
    match token {
        None => Ok(()),
        Some(t) if t.trim().is_empty() => Err(StartError::AdminToken("is empty")),
        Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => Err(StartError::AdminToken(
            "has characters a header cannot carry (spaces, control or non-ASCII characters)",
        )),
        Some(_) => Ok(()),
    }
}

impl Sandbox {
    pub async fn start(config: Config) -> Result<Sandbox, StartError> {
        check_admin_token(config.admin_token.as_deref())?;
        crate::scenarios::check_limits(&config.scenarios).map_err(StartError::Scenarios)?;
        let beyond_loopback =
            std::iter::once(&config.listen).chain(&config.also_listen).any(|addr| !addr.ip().is_loopback());
        let secrets = config.secrets.resolve(beyond_loopback);
        // A sandbox reachable from other machines always guards its admin API.
        let admin_token = match config.admin_token {
            None if beyond_loopback => Some(IdGen::from_entropy().alnum(32)),
            given => given,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let mut more = Vec::new();
        for extra in &config.also_listen {
            let bound = TcpListener::bind(extra).await.map_err(|source| StartError::Bind { addr: *extra, source })?;
            more.push(bound);
        }
        let tls = config.tls.as_ref().map(crate::tls::server_config).transpose()?;
        let base_url: Arc<str> = format!("http://{addr}").into();
        let seed = config.seed;
        let shared = providers::Shared::new()
            .map_err(|(provider, message)| StartError::Provider { provider: provider.name(), message })?;

        let tracker = TaskTracker::new();
        let health = Arc::new(Health::default());
        let engine_close = CancellationToken::new();
        let settle_health = health.clone();
        let settle: Settle = Arc::new(move |tenant| crate::scheduler::settle(&settle_health, tenant));
        let callbacks = CallbackEngine::start(
            config.callbacks,
            config.callback_allow,
            &tracker,
            engine_close.clone(),
            settle,
            health.clone(),
        )?;
        let clock = match config.clock {
            ClockMode::System => crate::clock::Clock::System,
            ClockMode::Virtual { start } => crate::clock::Clock::virtual_at(start),
        };
        let scenarios = ScenarioSet { scenarios: config.scenarios.into_iter().map(Arc::new).collect() };
        let tenants = Arc::new(Tenants::new(seed, config.world, clock, config.limits, scenarios, secrets));
        let mut parts =
            AppParts::new(tenants, callbacks, shared, seed, base_url, admin_token.map(Arc::from), health.clone());
        parts.request_timeout = config.request_timeout;
        parts.body_limit = config.body_limit_bytes;
        let state = AppState::from(parts);

        let background_stop = CancellationToken::new();
        let scheduler_state = state.clone();
        let scheduler_stop = background_stop.clone();
        supervise(&tracker, health, "scheduler", background_stop.clone(), move || {
            crate::scheduler::run(scheduler_state.clone(), scheduler_stop.clone())
        });

        let server_stop = CancellationToken::new();
        let app = app(state.clone());
        let mut also = Vec::new();
        let mut servers = Vec::new();
        for extra in more {
            also.push(extra.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?);
            let serve = crate::server::serve(extra, app.clone(), server_stop.clone(), config.server, tls.clone());
            servers.push(tokio::spawn(serve));
        }
        let serve = crate::server::serve(listener, app, server_stop.clone(), config.server, tls.clone());
        servers.push(tokio::spawn(serve));
        tracing::info!(%addr, ?also, tls = tls.is_some(), seed, "sandbox listening");
        Ok(Sandbox {
            addr,
            also,
            tls: tls.is_some(),
            state,
            server_stop,
            background_stop,
            engine_close,
            tracker,
            servers,
            grace: config.shutdown_grace,
        })
    }

    /// What handlers reach (tests of the crate drive the sandbox through it).
    #[cfg(test)]
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: point clients here.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `https://localhost:<port>` when HTTPS is served (the same port serves both).
    pub fn https_url(&self) -> Option<String> {
        self.tls.then(|| format!("https://localhost:{}", self.addr.port()))
    }

    /// The other addresses served, as bound (`Config::also_listen`).
    pub fn also_listening(&self) -> &[SocketAddr] {
        &self.also
    }

    /// The token the admin API requires, if any.
    pub fn admin_token(&self) -> Option<&str> {
        self.state.admin_token.as_deref()
    }

    /// The seed this run uses (given, or drawn at start); replay with it.
    pub fn seed(&self) -> u64 {
        self.state.seed
    }

    /// The default tenant's credentials for every provider.
    pub fn credentials(&self) -> Credentials {
        providers::credentials(&self.state, &self.state.tenants.default_tenant())
    }

    /// The default tenant's clock: a virtual clock can be moved through it
    /// (nothing settles until the scheduler, a query or [`Sandbox::advance_clock`] looks).
    pub fn clock(&self) -> Clock {
        self.state.tenants.default_tenant().clock.clone()
    }

    /// Moves the default tenant's virtual clock and settles what fell due,
    /// handing the callbacks to the engine; `false` on a system clock.
    pub async fn advance_clock(&self, by: chrono::Duration) -> bool {
        let tenant = self.state.tenants.default_tenant();
        if tenant.clock.advance(by).is_none() {
            return false;
        }
        crate::scheduler::settle_due(&self.state, &tenant).await;
        true
    }

    /// The callback engine's counters since start.
    pub fn callback_stats(&self) -> EngineStats {
        self.state.callbacks.stats()
    }

    /// Bearer tokens currently issued, in every tenant.
    pub fn token_count(&self) -> usize {
        self.state.tenants.grant_count()
    }

    /// Stops accepting, finishes in-flight requests, then, within the grace
    /// period, delivers the queued callbacks and those that fall due (the
    /// scheduler keeps settling system-clock tenants), and reports what was
    /// left: callbacks abandoned (due, never delivered) and callbacks
    /// scheduled for later. Nothing survives a restart.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let deadline = crate::clock::deadline(self.grace);
        self.server_stop.cancel();
        let servers = std::mem::take(&mut self.servers);
        let _ = tokio::time::timeout_at(deadline, futures_join(servers)).await;
        let drained = self.drain(deadline).await;
        self.background_stop.cancel();
        let mut abandoned = self.state.callbacks.close();
        self.engine_close.cancel();
        self.tracker.close();
        if drained {
            // Only the dispatcher and the scheduler are left; they stop at once.
            let _ = tokio::time::timeout_at(deadline, self.tracker.wait()).await;
        }
        let mut scheduled = Vec::new();
        let mut pending_events = 0;
        for tenant in self.state.tenants.all() {
            let now = tenant.now();
            tenant.with_core(|core| {
                pending_events += core.timeline.len();
                for (at, event) in core.timeline.iter() {
                    let job = match event {
                        Event::Deliver(job) | Event::Hold(job) => job,
                        _ => continue,
                    };
                    if at <= now {
                        abandoned.push(UnsentCallback::of(&tenant.id, job, "due"));
                    } else {
                        scheduled.push(UnsentCallback::of(&tenant.id, job, "scheduled"));
                    }
                }
                for job in &core.held {
                    scheduled.push(UnsentCallback::of(&tenant.id, job, "held"));
                }
            });
        }
        let (abandoned_count, scheduled_count) = (abandoned.len(), scheduled.len());
        abandoned.truncate(MAX_LISTED);
        scheduled.truncate(MAX_LISTED);
        let report = ShutdownReport {
            callbacks: self.state.callbacks.stats(),
            pending_events,
            grace_exceeded: !drained,
            abandoned,
            abandoned_count,
            scheduled,
            scheduled_count,
        };
        tracing::info!(
            pending_events,
            abandoned = abandoned_count,
            scheduled = scheduled_count,
            grace_exceeded = report.grace_exceeded,
            "sandbox stopped"
        );
        report
    }

    /// Lets the engine deliver what is queued and the scheduler settle what
    /// falls due before `deadline`; returns whether everything due was
    /// delivered in time.
    async fn drain(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let horizon = crate::clock::after(
                chrono::Utc::now(),
                chrono::Duration::from_std(left).unwrap_or(chrono::Duration::zero()),
            );
            let nothing_due = self.state.tenants.wakeups.quiet_until(horizon);
            if self.state.callbacks.is_idle() && nothing_due {
                return true;
            }
            if left.is_zero() {
                return false;
            }
            // Shutdown only: a short poll keeps this simple and bounded.
            tokio::time::sleep(left.min(Duration::from_millis(20))).await;
        }
    }
}

/// Waits for every server task.
async fn futures_join(servers: Vec<JoinHandle<()>>) {
    for server in servers {
        let _ = server.await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server_stop.cancel();
        self.background_stop.cancel();
        self.engine_close.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_in_its_envelope_and_marks_health_degraded() {
        let sandbox = Sandbox::start(Config::local().with_seed(1)).await.unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let res = http.get(format!("{}/__sandbox/test/panic", sandbox.base_url())).send().await.unwrap();
        assert_eq!(res.status(), 500);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "error", "the admin envelope: {body}");
        let health: serde_json::Value =
            http.get(format!("{}/__sandbox/health", sandbox.base_url())).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "degraded");
        assert_eq!(health["problems"][0]["task"], "request handler");
        assert_eq!(health["problems"][0]["message"], "a bug in a handler");
        sandbox.shutdown().await;
    }
}
