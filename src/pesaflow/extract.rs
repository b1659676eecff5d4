//! Pesaflow's extractors and request plumbing: the raw body with its content
//! type, the request context, and the tenant a request reaches. They reject
//! in Pesaflow's envelope, never in axum's plain text.
//!
//! Pesaflow has no bearer token on most endpoints: the `api_client_id` of
//! the request names the client, so it also names the tenant. A request whose
//! client no tenant knows reaches the default tenant, where the hash check
//! refuses it with the diagnosis of an unknown client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;

use chrono::{DateTime, Utc};

use super::checks;
use super::error::{Envelope, ErrorKind, PesaflowError};
use super::params::Params;
use super::scenario::{self, Gate};
use super::{routing, Pesaflow, World};
use crate::app_state::AppState;
use crate::http::RequestContext;
use crate::store::Tenant;

/// The request context set by the HTTP middleware.
pub(crate) struct Ctx(pub(crate) RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = PesaflowError;

    async fn from_request_parts(parts: &mut Parts, _app: &AppState) -> Result<Ctx, PesaflowError> {
        parts.extensions.get::<RequestContext>().cloned().map(Ctx).ok_or_else(|| {
            PesaflowError::new(
                ErrorKind::Internal,
                Envelope::Error,
                "the request context is missing (router built without the HTTP middleware)",
            )
        })
    }
}

/// A request body as sent, with its content type; read into [`Params`] by
/// the handler, which knows its endpoint's envelope.
pub(crate) struct RawBody {
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

impl RawBody {
    /// The body as parameters (form or JSON); an unreadable one is a 400 in
    /// `envelope`. An empty body is no parameters.
    pub(crate) fn params(&self, envelope: Envelope) -> Result<Params, PesaflowError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        Params::from_body(self.content_type.as_deref(), &self.bytes).map_err(|e| PesaflowError::body(envelope, &e))
    }
}

impl FromRequest<AppState> for RawBody {
    type Rejection = PesaflowError;

    async fn from_request(request: Request, app: &AppState) -> Result<RawBody, PesaflowError> {
        let content_type =
            request.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = Bytes::from_request(request, app).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                PesaflowError::new(
                    ErrorKind::PayloadTooLarge,
                    Envelope::Error,
                    "the request body is larger than the sandbox accepts",
                )
            } else {
                PesaflowError::new(
                    ErrorKind::BadRequest,
                    Envelope::Error,
                    format!("the request body could not be read: {}", rejection.body_text()),
                )
            }
        })?;
        Ok(RawBody { content_type, bytes })
    }
}

/// A request routed by the client it names: its parameters, that client id
/// (empty when absent), the tenant, the tenant's time and Pesaflow world.
pub(crate) struct Routed {
    pub(crate) params: Params,
    pub(crate) client_id: String,
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) world: Arc<World>,
}

impl Routed {
    /// Routes `params` by the client id in `client_field`; refuses the
    /// request in `envelope` while one of the world's maintenance windows is
    /// open, before anything else is looked at.
    pub(crate) fn new(
        app: &AppState,
        ctx: &RequestContext,
        params: Params,
        client_field: &str,
        envelope: Envelope,
    ) -> Result<Routed, PesaflowError> {
        let client_id = params.optional(client_field).ok().flatten().unwrap_or_default();
        let tenant = tenant_of_client(app, ctx, &client_id);
        let now = tenant.now();
        let world = tenant.world_of::<Pesaflow>();
        checks::maintenance(&world, now, envelope)?;
        Ok(Routed { params, client_id, tenant, now, world })
    }

    /// The gate, with the request's client as the rate-limited caller.
    pub(crate) fn gate(&self, operation: &'static str, envelope: Envelope) -> Gate {
        scenario::gate(&self.tenant, &self.client_id, operation, &self.params, envelope)
    }
}

/// The tenant whose world holds `api_client_id`, or the default tenant;
/// recorded on the request for the journal.
pub(crate) fn tenant_of_client(app: &AppState, ctx: &RequestContext, api_client_id: &str) -> Arc<Tenant> {
    let tenant =
        app.tenants.by_key::<Pesaflow>(&routing::client(api_client_id)).unwrap_or_else(|| app.tenants.default_tenant());
    ctx.set_tenant(&tenant);
    tenant
}

/// The tenant whose world holds the client with this hashing key.
pub(crate) fn tenant_of_key(app: &AppState, ctx: &RequestContext, key: &str) -> Arc<Tenant> {
    let tenant = app.tenants.by_key::<Pesaflow>(&routing::key(key)).unwrap_or_else(|| app.tenants.default_tenant());
    ctx.set_tenant(&tenant);
    tenant
}

/// The tenant holding the invoice behind a checkout link, and the invoice's
/// client. The link carries no client id, so the tenants are asked in turn,
/// the default tenant first (a link is 20 random characters: no two tenants
/// hold the same one).
pub(crate) fn tenant_of_link(
    app: &AppState,
    ctx: &RequestContext,
    request_id: &str,
) -> Option<(Arc<Tenant>, String, String)> {
    let default = app.tenants.default_tenant();
    let others = app.tenants.all().into_iter().filter(|t| !Arc::ptr_eq(t, &default));
    std::iter::once(default.clone()).chain(others).find_map(|tenant| {
        let found = tenant.with::<Pesaflow, _>(|_, mine| {
            mine.invoices.by_request_id(request_id).map(|i| (i.number.clone(), i.details.api_client_id.clone()))
        });
        found.map(|(number, client)| {
            ctx.set_tenant(&tenant);
            (tenant, number, client)
        })
    })
}
