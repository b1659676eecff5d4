//! eCitizen's extractors and request helpers: the form body reader (it
//! rejects in eCitizen's own shapes, never in axum's plain text), the tenant
//! a client id routes to, and the issuer a request sees.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};

use super::error::{EcitizenError, OAuthError};
use super::world::ErrorStatuses;
use super::Ecitizen;
use crate::app_state::AppState;
use crate::http::{body_of_type, BodyError};
use crate::store::Tenant;

/// An `application/x-www-form-urlencoded` body, as raw bytes (the wire
/// module's parsers read it).
pub(crate) struct FormBody(pub Bytes);

/// Why a form body could not be read.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    /// Not a form: the content type it came with (`missing` when none).
    ContentType(String),
    TooLarge,
    Unreadable(String),
}

impl BodyProblem {
    fn diagnosis(&self) -> String {
        match self {
            BodyProblem::ContentType(found) => format!(
                "Content-Type is {found}; eCitizen's endpoints read application/x-www-form-urlencoded bodies (RFC 6749 §4.1.3)"
            ),
            BodyProblem::TooLarge => "the request body is larger than the sandbox accepts".into(),
            BodyProblem::Unreadable(e) => format!("the request body could not be read: {e}"),
        }
    }

    /// The token and introspection endpoints' answer: RFC 6749 §5.2
    /// `invalid_request` (a body too large gets the bare 413).
    pub(crate) fn into_json_error(self, statuses: ErrorStatuses) -> EcitizenError {
        match self {
            BodyProblem::TooLarge => EcitizenError::bare(StatusCode::PAYLOAD_TOO_LARGE),
            other => EcitizenError::token(OAuthError::InvalidRequest, statuses, other.diagnosis()),
        }
    }

    /// The login form's answer: the error page (nothing in the body can be
    /// trusted to redirect to).
    pub(crate) fn into_page_error(self) -> EcitizenError {
        match self {
            BodyProblem::TooLarge => EcitizenError::bare(StatusCode::PAYLOAD_TOO_LARGE),
            other => EcitizenError::page(OAuthError::InvalidRequest, other.diagnosis()),
        }
    }
}

impl axum::response::IntoResponse for BodyProblem {
    /// Handlers take `Result<FormBody, BodyProblem>` and choose the shape
    /// themselves; this is only the fallback for one that does not.
    fn into_response(self) -> axum::response::Response {
        self.into_json_error(ErrorStatuses::Rfc6749).into_response()
    }
}

impl FromRequest<AppState> for FormBody {
    type Rejection = BodyProblem;

    async fn from_request(request: Request, app: &AppState) -> Result<FormBody, BodyProblem> {
        let bytes =
            body_of_type(request, app, "application/x-www-form-urlencoded").await.map_err(|problem| match problem {
                BodyError::ContentType(found) => BodyProblem::ContentType(found),
                BodyError::TooLarge => BodyProblem::TooLarge,
                BodyError::Unreadable(e) => BodyProblem::Unreadable(e),
            })?;
        Ok(FormBody(bytes))
    }
}

/// The tenant a client id belongs to (a client id is eCitizen's routing
/// key), or the default tenant, whose world then refuses the unknown client.
pub(crate) fn tenant_of(app: &AppState, client_ids: &[Option<&str>]) -> Arc<Tenant> {
    client_ids
        .iter()
        .flatten()
        .find_map(|id| app.tenants.by_key::<Ecitizen>(id))
        .unwrap_or_else(|| app.tenants.default_tenant())
}

/// The issuer identifier this request sees: its scheme and `Host` (so a
/// relying party reaching the sandbox as `http://sandbox:7372` from a
/// container gets tokens issued by that name), `https` when the request came
/// over TLS (`--tls`) or through a proxy that says `X-Forwarded-Proto:
/// https`, and the sandbox's base URL when the request names no usable host.
pub(crate) fn issuer(headers: &HeaderMap, authority: Option<&str>, over_tls: bool, base_url: &str) -> String {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).or(authority).filter(|h| is_host(h));
    let Some(host) = host else { return super::oidc::issuer(base_url) };
    let https = over_tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// A `host[:port]` (names, IPv4 and bracketed IPv6) and nothing else, so
/// a hostile `Host` header cannot change what the issuer URL means.
fn is_host(host: &str) -> bool {
    (1..=255).contains(&host.len())
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_issuer_follows_the_host_and_a_forwarded_https() {
        let mut headers = HeaderMap::new();
        assert_eq!(issuer(&headers, None, false, "http://127.0.0.1:7372/"), "http://127.0.0.1:7372");
        headers.insert(HOST, HeaderValue::from_static("sandbox:7372"));
        assert_eq!(issuer(&headers, None, false, "http://0.0.0.0:7372"), "http://sandbox:7372");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(issuer(&headers, None, false, "http://0.0.0.0:7372"), "https://sandbox:7372");
        headers.remove("x-forwarded-proto");
        assert_eq!(issuer(&headers, None, true, "http://0.0.0.0:7372"), "https://sandbox:7372", "served over TLS");
    }

    #[test]
    fn a_hostile_host_falls_back_to_the_base_url() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("evil.example/path?x=1"));
        assert_eq!(issuer(&headers, None, false, "http://127.0.0.1:1"), "http://127.0.0.1:1");
        headers.insert(HOST, HeaderValue::from_static("user@evil.example"));
        assert_eq!(issuer(&headers, None, false, "http://127.0.0.1:1"), "http://127.0.0.1:1");
        assert_eq!(issuer(&HeaderMap::new(), Some("[::1]:8080"), false, "http://x"), "http://[::1]:8080");
    }
}
