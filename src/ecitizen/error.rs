//! Every way an eCitizen SSO request is refused, and how each refusal looks
//! on the wire: an RFC 6749 §5.2 JSON body, a redirect back to the client
//! (§4.1.2.1), an HTML error page when the redirect URI cannot be trusted,
//! the guide's user-info failure, or Phoenix's bare error for unknown paths.
//!
//! Wire descriptions are fixed texts (those of ExOauth2Provider, the Elixir
//! library whose `invalid_request` text the eCitizen guide quotes the start
//! of); they never echo input. What exactly went wrong goes into the
//! diagnosis (`x-sandbox-diagnosis` and the journal).
//!
//! **Invariant:** a diagnosis names parameters, client ids, redirect URIs and
//! lengths, never a client secret, code, token or verifier; the callers in
//! this module tree build every diagnosis from those only.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::wire::{BareErrorBody, BareErrorDetail, OAuthErrorBody};
use super::world::{ErrorStatuses, UserInfoErrors};
use crate::http::{fault_response, RequestContext, WireError};

/// The error codes of RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core
/// §3.1.2.6 and RFC 6750 §3.1 that the provider answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OAuthError {
    /// A parameter is missing, repeated, malformed or unsupported.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The code is unknown, expired, used, issued to another client, or its
    /// redirect URI or PKCE verifier does not match.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not `authorization_code`.
    UnsupportedGrantType,
    /// The scope is malformed or lacks `openid`.
    InvalidScope,
    /// The user pressed Back (or a scenario denied the login).
    AccessDenied,
    /// The response type is not `code`.
    UnsupportedResponseType,
    /// A scripted failure.
    ServerError,
    /// A scripted outage.
    TemporarilyUnavailable,
    /// `prompt=none` without a user the sandbox can log in silently.
    LoginRequired,
    /// A bearer token that is unknown, expired or revoked (RFC 6750 mode).
    InvalidToken,
}

impl OAuthError {
    /// Every code, for the scenario vocabulary (`fault.error`, outcomes).
    pub(crate) const ALL: [OAuthError; 12] = [
        OAuthError::InvalidRequest,
        OAuthError::InvalidClient,
        OAuthError::InvalidGrant,
        OAuthError::UnauthorizedClient,
        OAuthError::UnsupportedGrantType,
        OAuthError::InvalidScope,
        OAuthError::AccessDenied,
        OAuthError::UnsupportedResponseType,
        OAuthError::ServerError,
        OAuthError::TemporarilyUnavailable,
        OAuthError::LoginRequired,
        OAuthError::InvalidToken,
    ];

    /// The error a code names (`invalid_grant`), if any.
    pub(crate) fn parse(code: &str) -> Option<OAuthError> {
        OAuthError::ALL.into_iter().find(|e| e.code() == code)
    }

    pub(crate) const fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::ServerError => "server_error",
            OAuthError::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthError::LoginRequired => "login_required",
            OAuthError::InvalidToken => "invalid_token",
        }
    }

    /// The `error_description` on the wire.
    pub(crate) fn description(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => {
                "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."
            }
            OAuthError::InvalidClient => {
                "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
            }
            OAuthError::InvalidGrant => {
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
            }
            OAuthError::UnauthorizedClient => {
                "The client is not authorized to request an authorization code using this method."
            }
            OAuthError::UnsupportedGrantType => {
                "The authorization grant type is not supported by the authorization server."
            }
            OAuthError::InvalidScope => "The requested scope is invalid, unknown, or malformed.",
            OAuthError::AccessDenied => "The resource owner or authorization server denied the request.",
            OAuthError::UnsupportedResponseType => "The authorization server does not support this response type.",
            OAuthError::ServerError => {
                "The authorization server encountered an unexpected condition which prevented it from fulfilling the request."
            }
            OAuthError::TemporarilyUnavailable => {
                "The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server."
            }
            OAuthError::LoginRequired => "The authorization server requires end-user authentication.",
            OAuthError::InvalidToken => {
                "The access token provided is expired, revoked, malformed, or invalid for other reasons."
            }
        }
    }

    /// The token endpoint's status for this error (RFC 6749 §5.2, or
    /// ExOauth2Provider's 422s when the world asks for them).
    pub(crate) fn token_status(self, statuses: ErrorStatuses) -> StatusCode {
        match (self, statuses) {
            (OAuthError::ServerError, _) => StatusCode::INTERNAL_SERVER_ERROR,
            (OAuthError::TemporarilyUnavailable, _) => StatusCode::SERVICE_UNAVAILABLE,
            (OAuthError::InvalidClient, ErrorStatuses::Rfc6749) => StatusCode::UNAUTHORIZED,
            (
                OAuthError::InvalidClient
                | OAuthError::InvalidGrant
                | OAuthError::UnsupportedGrantType
                | OAuthError::InvalidScope,
                ErrorStatuses::ExOauth2Provider,
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// How a refusal reaches the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Render {
    /// `{"error", "error_description"}` with this status; `challenge` adds
    /// `WWW-Authenticate`.
    Json { status: StatusCode, challenge: Option<Challenge> },
    /// `302 Found` back to the client's redirect URI, `error` in its query.
    Redirect { location: String },
    /// An HTML page for the person at the browser: the client or its
    /// redirect URI could not be trusted, so nothing is sent back to it.
    Page { status: StatusCode },
    /// Phoenix's `{"errors":{"detail":…}}` for a path or method nothing serves.
    Bare { status: StatusCode },
}

/// The scheme of a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// The client authenticated with HTTP Basic (RFC 6749 §5.2 requires the echo).
    Basic,
    /// A bearer token was refused (RFC 6750 §3).
    Bearer,
}

/// A refused eCitizen request: what the client sees, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcitizenError {
    pub error: OAuthError,
    pub diagnosis: String,
    pub render: Render,
    /// A scenario's own wording: a raw error code and description that
    /// replace the standard ones on the wire.
    pub scripted: Option<Box<ScriptedText>>,
}

/// What a scenario rule's `fault.error` and `fault.error_message` put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptedText {
    pub code: Option<String>,
    pub description: Option<String>,
}

impl EcitizenError {
    /// An error rendered as `{"error", "error_description"}` JSON.
    pub(crate) fn json(
        error: OAuthError,
        status: StatusCode,
        challenge: Option<Challenge>,
        diagnosis: impl Into<String>,
    ) -> EcitizenError {
        EcitizenError::new(error, diagnosis.into(), Render::Json { status, challenge })
    }

    fn new(error: OAuthError, diagnosis: String, render: Render) -> EcitizenError {
        EcitizenError { error, diagnosis, render, scripted: None }
    }

    /// A token-endpoint (or introspection) error as RFC 6749 §5.2 JSON.
    pub(crate) fn token(error: OAuthError, statuses: ErrorStatuses, diagnosis: impl Into<String>) -> EcitizenError {
        let render = Render::Json { status: error.token_status(statuses), challenge: None };
        EcitizenError::new(error, diagnosis.into(), render)
    }

    /// Marks an `invalid_client` answer to a client that used HTTP Basic:
    /// RFC 6749 §5.2 then requires 401 and a matching `WWW-Authenticate`.
    pub(crate) fn after_basic_auth(mut self) -> EcitizenError {
        if self.error == OAuthError::InvalidClient {
            self.render = Render::Json { status: StatusCode::UNAUTHORIZED, challenge: Some(Challenge::Basic) };
        }
        self
    }

    /// An authorization error sent back to the client's redirect URI.
    pub(crate) fn redirect(error: OAuthError, location: String, diagnosis: impl Into<String>) -> EcitizenError {
        EcitizenError::new(error, diagnosis.into(), Render::Redirect { location })
    }

    /// An authorization error shown to the user (RFC 6749 §4.1.2.1: never
    /// redirect to an unverified URI).
    pub(crate) fn page(error: OAuthError, diagnosis: impl Into<String>) -> EcitizenError {
        EcitizenError::new(error, diagnosis.into(), Render::Page { status: StatusCode::BAD_REQUEST })
    }

    /// A refused user-info request: the guide's 400 `invalid_request`, or
    /// RFC 6750's 401 `invalid_token` with a Bearer challenge.
    pub(crate) fn userinfo(mode: UserInfoErrors, diagnosis: impl Into<String>) -> EcitizenError {
        let (error, render) = match mode {
            UserInfoErrors::Seed => {
                (OAuthError::InvalidRequest, Render::Json { status: StatusCode::BAD_REQUEST, challenge: None })
            }
            UserInfoErrors::Rfc6750 => (
                OAuthError::InvalidToken,
                Render::Json { status: StatusCode::UNAUTHORIZED, challenge: Some(Challenge::Bearer) },
            ),
        };
        EcitizenError::new(error, diagnosis.into(), render)
    }

    /// A malformed user-info request (a repeated parameter, the token sent
    /// two ways): `400 invalid_request` in either mode, as RFC 6750 §3.1 and
    /// the guide agree.
    pub(crate) fn malformed_userinfo(diagnosis: impl Into<String>) -> EcitizenError {
        EcitizenError::json(OAuthError::InvalidRequest, StatusCode::BAD_REQUEST, None, diagnosis)
    }

    /// The error for a status the router produced by itself (404, 405, 408, 413).
    pub(crate) fn bare(status: StatusCode) -> EcitizenError {
        let diagnosis = match status {
            StatusCode::NOT_FOUND => "no eCitizen SSO endpoint at this path".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this eCitizen endpoint exists but not for this method (the token, introspection and login form are POST; the rest are GET)".to_owned()
            }
            StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than the sandbox accepts".to_owned(),
            StatusCode::REQUEST_TIMEOUT => "the request took too long to arrive".to_owned(),
            other => format!("the request was refused with status {}", other.as_u16()),
        };
        let error = if status.is_server_error() { OAuthError::ServerError } else { OAuthError::InvalidRequest };
        EcitizenError::new(error, diagnosis, Render::Bare { status })
    }

    /// The HTTP status the client sees.
    pub(crate) fn status(&self) -> StatusCode {
        match &self.render {
            Render::Json { status, .. } | Render::Page { status } | Render::Bare { status } => *status,
            Render::Redirect { .. } => StatusCode::FOUND,
        }
    }

    /// The response, with no sandbox header (the middleware adds those).
    pub(crate) fn to_response(&self) -> Response {
        match &self.render {
            Render::Json { status, challenge } => {
                let (code, description) = self.wire_text();
                let body = OAuthErrorBody { error: code, error_description: Some(description) };
                let mut response = (*status, Json(body)).into_response();
                let headers = response.headers_mut();
                // RFC 6749 §5.1 asks token responses not to be cached; the
                // same holds for the errors that replace them.
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
                if let Some(challenge) = challenge {
                    headers.insert(WWW_AUTHENTICATE, challenge_header(*challenge, self.error));
                }
                response
            }
            Render::Redirect { location } => match HeaderValue::from_str(location) {
                Ok(value) => {
                    let mut response = StatusCode::FOUND.into_response();
                    response.headers_mut().insert(LOCATION, value);
                    response
                }
                // A URL the url crate serialized is always a valid header;
                // if that ever fails, the user still gets an answer.
                Err(_) => self.page_response(StatusCode::BAD_REQUEST),
            },
            Render::Page { status } => self.page_response(*status),
            Render::Bare { status } => {
                let detail = status.canonical_reason().unwrap_or("Error");
                (*status, Json(BareErrorBody { errors: BareErrorDetail { detail } })).into_response()
            }
        }
    }

    /// The `error` and `error_description` on the wire: the standard ones,
    /// unless a scenario scripted its own.
    fn wire_text(&self) -> (&str, &str) {
        let scripted = self.scripted.as_deref();
        let code = scripted.and_then(|s| s.code.as_deref()).unwrap_or(self.error.code());
        let description = scripted.and_then(|s| s.description.as_deref()).unwrap_or(self.error.description());
        (code, description)
    }

    fn page_response(&self, status: StatusCode) -> Response {
        let html = super::page::error_page(self.error, &self.diagnosis);
        let mut response = (status, html).into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response
    }
}

fn challenge_header(challenge: Challenge, error: OAuthError) -> HeaderValue {
    match challenge {
        Challenge::Basic => HeaderValue::from_static("Basic realm=\"eCitizen\""),
        Challenge::Bearer => match error {
            OAuthError::InvalidToken => HeaderValue::from_static("Bearer realm=\"eCitizen\", error=\"invalid_token\""),
            _ => HeaderValue::from_static("Bearer realm=\"eCitizen\""),
        },
    }
}

impl WireError for EcitizenError {
    fn provider(&self) -> &'static str {
        super::NAME
    }

    fn code(&self) -> String {
        match &self.render {
            Render::Bare { status } => status.as_u16().to_string(),
            _ => self.wire_text().0.to_owned(),
        }
    }

    fn diagnosis(&self) -> Option<String> {
        Some(self.diagnosis.clone())
    }

    /// eCitizen's bodies carry no request id; the journal gets the sandbox's.
    fn request_id(&self, ctx: &RequestContext) -> String {
        format!("ecitizen-{}", ctx.seq)
    }

    fn render(&self, _ctx: &RequestContext) -> Response {
        self.to_response()
    }
}

impl IntoResponse for EcitizenError {
    fn into_response(self) -> Response {
        let status = self.status();
        fault_response(status, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body reads");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn invalid_client_after_basic_is_401_with_a_basic_challenge() {
        let err = EcitizenError::token(OAuthError::InvalidClient, ErrorStatuses::ExOauth2Provider, "wrong secret")
            .after_basic_auth();
        let response = err.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Basic realm=\"eCitizen\"");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let body = body_text(response).await;
        assert!(body.starts_with(r#"{"error":"invalid_client","error_description":"Client authentication failed"#));
    }

    #[test]
    fn token_statuses_follow_rfc_6749_unless_the_world_asks_for_422() {
        use OAuthError::*;
        for (error, rfc, exo) in [
            (InvalidRequest, 400, 400),
            (InvalidClient, 401, 422),
            (InvalidGrant, 400, 422),
            (UnsupportedGrantType, 400, 422),
            (UnauthorizedClient, 400, 400),
            (TemporarilyUnavailable, 503, 503),
            (ServerError, 500, 500),
        ] {
            assert_eq!(error.token_status(ErrorStatuses::Rfc6749).as_u16(), rfc, "{error:?}");
            assert_eq!(error.token_status(ErrorStatuses::ExOauth2Provider).as_u16(), exo, "{error:?}");
        }
    }

    #[tokio::test]
    async fn the_guides_user_info_failure_is_400_invalid_request() {
        let response = EcitizenError::userinfo(UserInfoErrors::Seed, "token expired").to_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_text(response).await;
        assert!(body.starts_with(
            r#"{"error":"invalid_request","error_description":"The request is missing a required parameter"#
        ));
        let strict = EcitizenError::userinfo(UserInfoErrors::Rfc6750, "token expired").to_response();
        assert_eq!(strict.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(strict.headers()[WWW_AUTHENTICATE], "Bearer realm=\"eCitizen\", error=\"invalid_token\"");
    }

    #[test]
    fn a_redirect_error_is_a_302_to_the_location() {
        let err = EcitizenError::redirect(
            OAuthError::AccessDenied,
            "http://localhost:3000/callback?error=access_denied&state=xyz".into(),
            "the user pressed Back",
        );
        let response = err.to_response();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[LOCATION], "http://localhost:3000/callback?error=access_denied&state=xyz");
        assert_eq!(err.code(), "access_denied");
    }

    #[tokio::test]
    async fn a_page_error_is_html_naming_the_problem() {
        let response = EcitizenError::page(OAuthError::InvalidRequest, "redirect_uri is not registered").to_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(body_text(response).await.contains("redirect_uri is not registered"));
    }

    #[tokio::test]
    async fn unknown_paths_get_phoenixs_error_body() {
        let err = EcitizenError::bare(StatusCode::NOT_FOUND);
        assert_eq!(err.code(), "404");
        assert_eq!(body_text(err.to_response()).await, r#"{"errors":{"detail":"Not Found"}}"#);
    }
}
