//! Daraja's extractors: the bearer-token check and the JSON body reader.
//! Both reject in Daraja's own envelope, never in axum's plain text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::Daraja;
use crate::app_state::AppState;
use crate::auth::{bearer_grant, TokenProblem};
use crate::http::RequestContext;
use crate::store::Tenant;

/// A request carrying a valid Daraja access token, and the tenant it reaches.
pub(crate) struct Authed {
    pub tenant: Arc<Tenant>,
    pub consumer_key: String,
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
        let content_type =
            request.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let is_json = content_type.as_deref().is_some_and(|ct| {
            ct.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        });
        if !is_json {
            return Err(BodyProblem::ContentType(
                content_type.map_or_else(|| "missing".into(), |ct| format!("{ct:?}")),
            ));
        }
        let bytes = Bytes::from_request(request, app).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyProblem::TooLarge
            } else {
                BodyProblem::Unreadable(rejection.body_text())
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(other) => Err(BodyProblem::NotAnObject(crate::fields::type_name(&other))),
            Err(e) => Err(BodyProblem::Malformed(e.to_string())),
        }
    }
}
