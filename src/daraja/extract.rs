//! Daraja's extractors: the bearer-token check and the JSON body reader.
//! Both reject in Daraja's own envelope, never in axum's plain text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::Daraja;
use crate::app_state::AppState;
use crate::auth::{bearer_grant, TokenProblem};
use crate::fields::{NotAnObject, Object};
use crate::http::{body_of_type, BodyError, RequestContext};
use crate::store::Tenant;

/// A request carrying a valid Daraja access token, and the tenant it reaches.
pub(crate) struct Authed {
    pub tenant: Arc<Tenant>,
    pub consumer_key: std::sync::Arc<str>,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = DarajaError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Authed, DarajaError> {
        let ctx = context(parts)?;
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        let (grant, tenant) = bearer_grant::<Daraja>(app, header, &ctx).map_err(|problem| {
            let why = match problem {
                TokenProblem::Header(p) => {
                    format!("{p}; send `Authorization: Bearer <access_token>` from /oauth/v1/generate")
                }
                TokenProblem::OtherProvider(_) => format!("{problem}, not Daraja"),
                other => other.to_string(),
            };
            DarajaError::new(ErrorKind::InvalidAccessToken, why)
        })?;
        Ok(Authed { tenant, consumer_key: grant.subject })
    }
}

/// The request context set by the HTTP middleware.
pub(crate) fn context(parts: &Parts) -> Result<RequestContext, DarajaError> {
    parts.extensions.get::<RequestContext>().cloned().ok_or_else(|| {
        DarajaError::new(
            ErrorKind::Internal,
            "the request context is missing (router built without the HTTP middleware)",
        )
    })
}

/// A JSON object body, read as the Daraja gateway reads it.
pub(crate) struct JsonObject(pub Map<String, Value>);

/// Why a body could not be read; each endpoint maps it to its first field.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    ContentType(String),
    TooLarge,
    Unreadable(String),
    Malformed(String),
    NotAnObject(&'static str),
}

impl BodyProblem {
    /// The gateway validates fields before anything else, so a body it cannot
    /// read fails on the endpoint's first field (documented for wrong content types).
    pub(crate) fn into_error(self, first_field: &'static str) -> DarajaError {
        let why = match self {
            BodyProblem::TooLarge => {
                return DarajaError::new(
                    ErrorKind::PayloadTooLarge,
                    "the request body is larger than the sandbox accepts",
                )
            }
            BodyProblem::ContentType(found) => {
                format!("Content-Type is {found}; Daraja reads only application/json bodies, so the first field ({first_field}) is reported invalid")
            }
            BodyProblem::Unreadable(e) => format!("the request body could not be read: {e}"),
            BodyProblem::Malformed(e) => {
                format!("the body is not valid JSON ({e}), so the first field ({first_field}) is reported invalid")
            }
            BodyProblem::NotAnObject(found) => format!("the body is {found}, a JSON object was expected"),
        };
        DarajaError::field(first_field, why)
    }
}

impl axum::response::IntoResponse for BodyProblem {
    /// Handlers take `Result<JsonObject, BodyProblem>` and name their own first
    /// field; this is only the fallback for a handler that does not.
    fn into_response(self) -> axum::response::Response {
        self.into_error("BusinessShortCode").into_response()
    }
}

impl FromRequest<AppState> for JsonObject {
    type Rejection = BodyProblem;

    async fn from_request(request: Request, app: &AppState) -> Result<JsonObject, BodyProblem> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, app).await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(other) => Err(BodyProblem::NotAnObject(crate::fields::type_name(&other))),
            Err(e) => Err(BodyProblem::Malformed(e.to_string())),
        }
    }
}

/// A JSON body's bytes, its content type checked as [`JsonObject`] checks
/// it; [`JsonBytes::object`] reads its top-level fields without building a
/// tree, for the endpoints load tests hit hardest.
pub(crate) struct JsonBytes(pub Bytes);

impl JsonBytes {
    /// The body's top-level fields, refused exactly as [`JsonObject`] refuses.
    pub(crate) fn object(&self) -> Result<Object<'_>, BodyProblem> {
        Object::parse(&self.0).map_err(|problem| match problem {
            NotAnObject::Other(found) => BodyProblem::NotAnObject(found),
            NotAnObject::Malformed(e) => BodyProblem::Malformed(e),
        })
    }
}

impl FromRequest<AppState> for JsonBytes {
    type Rejection = BodyProblem;

    async fn from_request(request: Request, app: &AppState) -> Result<JsonBytes, BodyProblem> {
        body_of_type(request, app, "application/json").await.map(JsonBytes).map_err(|problem| match problem {
            BodyError::ContentType(found) => BodyProblem::ContentType(found),
            BodyError::TooLarge => BodyProblem::TooLarge,
            BodyError::Unreadable(e) => BodyProblem::Unreadable(e),
        })
    }
}
