//! The admin API under `/__sandbox/`: inspect and drive the sandbox.
//!
//! Sandbox-wide:
//! * `GET  /__sandbox/health`: liveness, version, seed, callback engine counters.
//! * `GET  /__sandbox/tls/ca.pem`: the test CA `--tls` serving chains to.
//! * `GET  /__sandbox/scenarios/catalogue`: the shipped scenarios.
//! * `POST /__sandbox/tenants`, `GET /__sandbox/tenants`: create and list tenants.
//! * `GET|DELETE /__sandbox/tenants/{id}`: one tenant's credentials; delete it.
//!
//! Per tenant, under `/__sandbox/` for the default tenant and under
//! `/__sandbox/tenants/{id}/` for any other ([`tenant_routes`]): the generic
//! views (credentials of every provider, transactions of every provider,
//! accounts, callbacks and the long-poll wait, requests, reset, clock,
//! scenarios), and each provider's own views under `/{provider}/`
//! (`crate::providers::admin_routes`).
//!
//! Admin types are a stable surface (serialized for clients in any language).

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

pub(crate) mod fuzzing;
mod journal;
mod state;
mod tenants;

// Conventions providers' admin views share: the page size of a list, and
// the refusal of a change past a limit.
pub(crate) use journal::page_size;
pub(crate) use state::too_many;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Query, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app_state::AppState;
use crate::http::{fault_response, RequestContext, WireError};
use crate::providers::{self, Credentials};
use crate::store::{Core, Tenant, DEFAULT_TENANT};

pub(crate) const PREFIX: &str = "/__sandbox";

pub(crate) fn router() -> Router<AppState> {
    let router = Router::new();
    // A handler with a bug, to prove that a panic is contained (tests only).
    #[cfg(test)]
    let router = router.route("/test/panic", get(panicking_handler));
    router
        .route("/health", get(health))
        .route("/tls/ca.pem", get(tls_ca))
        .route("/scenarios/catalogue", get(state::catalogue))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route("/tenants/{tenant}", get(get_credentials).delete(tenants::delete))
        .merge(tenant_routes())
        .nest("/tenants/{tenant}", tenant_routes())
}

/// A handler with a bug (tests only).
#[cfg(test)]
async fn panicking_handler() -> &'static str {
    panic!("a bug in a handler")
}

/// Everything that exists once per tenant.
fn tenant_routes() -> Router<AppState> {
    Router::new()
        .route("/credentials", get(get_credentials))
        .route("/transactions", get(state::transactions))
        .route("/accounts", get(state::accounts))
        .route("/reset", post(state::reset))
        .route("/clock", get(state::get_clock).post(state::move_clock))
        .route(
            "/scenarios",
            get(state::list_scenarios)
                .put(state::replace_scenarios)
                .post(state::append_scenarios)
                .delete(state::clear_scenarios),
        )
        .route("/callbacks", get(journal::callbacks))
        .route("/callbacks/wait", get(journal::wait_for_callbacks))
        .route("/requests", get(journal::requests))
        .merge(providers::admin_routes())
        .merge(providers::admin_aliases())
}

/// `{base_url}/__sandbox` for the default tenant, `…/tenants/{id}` for any other.
pub(crate) fn tenant_url(base_url: &str, tenant: &str) -> String {
    match tenant {
        DEFAULT_TENANT => format!("{base_url}{PREFIX}"),
        id => format!("{base_url}{PREFIX}/tenants/{id}"),
    }
}

/// What the credentials document says of callbacks.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackCredentials {
    /// The `whsec_` secret callbacks are signed with, when the world turns signing on.
    pub signing_secret: Option<String>,
}

impl CallbackCredentials {
    pub fn of(core: &Core) -> CallbackCredentials {
        CallbackCredentials { signing_secret: core.signing_secret.as_ref().map(|k| k.expose_secret().to_owned()) }
    }
}

async fn get_credentials(State(app): State<AppState>, TenantRef(tenant): TenantRef) -> Json<Credentials> {
    Json(providers::credentials(&app, &tenant))
}

/// The tenant an admin call is about: `{tenant}` in the path, or the default.
pub(crate) struct TenantRef(pub Arc<Tenant>);

impl FromRequestParts<AppState> for TenantRef {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<TenantRef, AdminError> {
        let params =
            RawPathParams::from_request_parts(parts, app).await.map_err(|e| AdminError::bad_request(e.body_text()))?;
        match params.iter().find(|(name, _)| *name == "tenant") {
            None => Ok(TenantRef(app.tenants.default_tenant())),
            Some((_, id)) => app.tenants.get(id).map(TenantRef).ok_or_else(|| AdminError::unknown_tenant(id)),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

/// The admin API's error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone)]
pub(crate) struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError { status, code, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn unknown_tenant(id: &str) -> AdminError {
        AdminError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("no tenant has the id {id:?}; GET /__sandbox/tenants lists them"),
        )
    }

    /// An extractor's refusal in the admin envelope: 413 over the body
    /// limit, 400 for anything else.
    pub(crate) fn rejected(status: StatusCode, text: &str) -> AdminError {
        let text: String = text.chars().take(500).collect();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => AdminError::new(
                status,
                "payload_too_large",
                "the request body is over the sandbox's body limit (--body-limit-bytes)",
            ),
            _ => AdminError::bad_request(text),
        }
    }

    pub(crate) fn from_status(status: StatusCode) -> AdminError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no admin endpoint at this path; see the README's admin API table"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this admin endpoint does not take this method"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took longer than the sandbox's request timeout"),
            _ => ("error", "the request could not be served"),
        };
        AdminError::new(status, code, message)
    }
}

impl WireError for AdminError {
    fn provider(&self) -> &'static str {
        "admin"
    }

    fn code(&self) -> String {
        self.code.to_owned()
    }

    fn diagnosis(&self) -> Option<String> {
        Some(self.message.clone())
    }

    fn request_id(&self, ctx: &RequestContext) -> String {
        ctx.seq.to_string()
    }

    fn render(&self, _ctx: &RequestContext) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        fault_response(self.status, self)
    }
}

/// Whether two tokens are equal, compared in constant time (for tokens of
/// the same length): a token guards a network-reachable API.
fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The tenant an admin path is about, when it is under `/tenants/{id}`.
fn tenant_of_path(path: &str) -> Option<&str> {
    let path = path.strip_prefix(PREFIX).unwrap_or(path);
    let id = path.strip_prefix("/tenants/")?.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// Refuses admin calls without the admin token, when one is set (shared
/// deployments: a sandbox listening beyond loopback always has one). A
/// tenant's own token opens that tenant's views under
/// `/__sandbox/tenants/{id}` and nothing else.
pub(crate) async fn require_token(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(expected) = app.admin_token.as_deref() else { return next.run(request).await };
    let headers = request.headers();
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| crate::httpauth::bearer(Some(v.as_bytes())).ok());
    let direct = headers.get("x-sandbox-admin-token").and_then(|v| v.to_str().ok());
    let given = bearer.or(direct).unwrap_or_default();
    if same_token(given, expected) {
        return next.run(request).await;
    }
    let path = request.extensions().get::<OriginalUri>().map_or(request.uri().path(), |u| u.0.path());
    let tenant_token = tenant_of_path(path)
        .and_then(|id| app.tenants.get(id))
        .and_then(|tenant| tenant.admin_token().map(|t| same_token(given, t.expose_secret())));
    if tenant_token == Some(true) && !given.is_empty() {
        return next.run(request).await;
    }
    AdminError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this sandbox's admin API needs its token: Authorization: Bearer <token> or x-sandbox-admin-token",
    )
    .into_response()
}

/// An admin request's JSON body; a body the extractor refuses gets the
/// admin envelope: 413 `payload_too_large` over the body limit, 400
/// `bad_request` otherwise.
pub(crate) struct AdminJson<T>(pub T);

impl<T, S> FromRequest<S> for AdminJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<AdminJson<T>, AdminError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(AdminJson(value))
    }
}

/// An admin request's raw body, refused in the admin envelope (413 over the
/// body limit).
pub(crate) struct AdminBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for AdminBytes {
    type Rejection = AdminError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<AdminBytes, AdminError> {
        Bytes::from_request(request, state)
            .await
            .map(AdminBytes)
            .map_err(|e| AdminError::rejected(e.status(), &e.body_text()))
    }
}

impl From<JsonRejection> for AdminError {
    fn from(e: JsonRejection) -> AdminError {
        AdminError::rejected(e.status(), &e.body_text())
    }
}

/// A named parameter of an admin view's path (empty if the route has none
/// of that name).
pub(crate) fn path_param(params: &[(String, String)], name: &str) -> String {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// A provider admin view's JSON body, or the refusal in the admin envelope
/// (413 for a body over the limit, 400 otherwise), the same for every view.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    body.map(|Json(t)| t).map_err(AdminError::from)
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AdminError> {
    q.map(|Query(t)| t).map_err(|e| AdminError::bad_request(e.body_text()))
}

// ---------------------------------------------------------------------------
// Sandbox-wide

/// `status` is `ok`, or `degraded` once a bug was caught (a panic in a
/// background task, an event or a handler), with the recent ones listed.
async fn health(State(app): State<AppState>) -> Json<Value> {
    let health = app.health.view();
    Json(json!({
        "status": health.status,
        "version": env!("CARGO_PKG_VERSION"),
        "seed": app.seed,
        "tenants": app.tenants.count(),
        "callbacks": app.callbacks.stats(),
        "problems_total": health.problems_total,
        "problems": health.problems,
    }))
}

/// The test CA the committed `localhost` certificate chains to (`--tls`).
async fn tls_ca() -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], crate::tls::CA_PEM).into_response()
}
