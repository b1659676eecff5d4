//! The composition root: application state, the router, and the embeddable
//! [`Sandbox`] handle.
//!
//! `Sandbox::start(config)` binds (port 0 is fine), starts the background
//! tasks (scheduler, callback engine) and the HTTP server, and returns the
//! base URL and the default tenant's credentials. `Sandbox::shutdown` stops
//! accepting, lets in-flight requests finish, delivers queued callbacks
//! within the grace period and reports what was left.

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
use tower_http::timeout::TimeoutLayer;

use crate::admin;
use crate::app_state::AppState;
use crate::callbacks::{CallbackEngine, EngineStats};
use crate::clock::Clock;
use crate::config::{ClockMode, Config};
use crate::http;
use crate::providers::{self, Credentials, Surface};
use crate::scenarios::ScenarioSet;
use crate::store::Tenants;

/// The whole HTTP surface.
pub(crate) fn router(state: AppState, body_limit: usize, request_timeout: Duration) -> Router {
    Router::new()
        .merge(providers::routes())
        .nest(admin::PREFIX, admin::router().layer(middleware::from_fn_with_state(state.clone(), admin::require_token)))
        .fallback(unknown_path)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(middleware::from_fn_with_state(state.clone(), http::middleware))
        .with_state(state)
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
    #[error("HTTPS cannot be served: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What shutdown left behind.
#[derive(Debug, Clone, Serialize)]
pub struct ShutdownReport {
    pub callbacks: EngineStats,
    /// Events still on tenants' timelines (payments not yet settled, callbacks not yet due).
    pub pending_events: usize,
    /// Whether the grace period ran out before every delivery finished.
    pub grace_exceeded: bool,
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

impl Sandbox {
    pub async fn start(config: Config) -> Result<Sandbox, StartError> {
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
        let engine_close = CancellationToken::new();
        let callbacks = CallbackEngine::start(config.callbacks, config.callback_allow, &tracker, engine_close.clone())?;
        let clock = match config.clock {
            ClockMode::System => crate::clock::Clock::System,
            ClockMode::Virtual { start } => crate::clock::Clock::virtual_at(start),
        };
        let scenarios = ScenarioSet { scenarios: config.scenarios.into_iter().map(Arc::new).collect() };
        let tenants = Arc::new(Tenants::new(seed, config.world, clock, config.limits, scenarios));
        let state = AppState::new(tenants, callbacks, shared, seed, base_url, config.admin_token.map(Arc::from));

        let background_stop = CancellationToken::new();
        tracker.spawn(crate::scheduler::run(state.clone(), background_stop.clone()));

        let server_stop = CancellationToken::new();
        let app = router(state.clone(), config.body_limit_bytes, config.request_timeout);
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

    /// Stops accepting, finishes in-flight requests, delivers queued callbacks
    /// within the grace period and reports what was left.
    pub async fn shutdown(mut self) -> ShutdownReport {
        self.server_stop.cancel();
        let servers = std::mem::take(&mut self.servers);
        let _ = tokio::time::timeout(self.grace, futures_join(servers)).await;
        self.background_stop.cancel();
        self.engine_close.cancel();
        self.tracker.close();
        let grace_exceeded = tokio::time::timeout(self.grace, self.tracker.wait()).await.is_err();
        let pending_events = self.state.tenants.all().iter().map(|t| t.with_core(|core| core.timeline.len())).sum();
        let report = ShutdownReport { callbacks: self.state.callbacks.stats(), pending_events, grace_exceeded };
        tracing::info!(?report, "sandbox stopped");
        report
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
