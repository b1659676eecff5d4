//! Daraja's error envelope: `{requestId, errorCode, errorMessage}`, with the
//! HTTP status taken from the code's first three digits; and the one error
//! the gateway answers in Apigee's own body (spike arrest, HTTP 429).
//!
//! Bodies are written as captured: the gateway's own errors pretty-printed
//! with its irregular spacing (no space after `"requestId":`), field
//! validation errors (`400.*`) compact; `[daraja] error_bodies = "compact"`
//! writes them all compact. Every envelope has the gateway's
//! `Content-Type: application/json;charset=UTF-8`, and a 404 the gateway's
//! status line, `404 Resource not found`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::shapes::Shape;
use super::wire::{self, ApigeeDetail, ApigeeFault, ApigeeFaultBody};
use super::world::{ErrorBodies, ProductError};
use super::Daraja;
use crate::http::{fault_response, RequestContext, WireError};

/// Every way a Daraja request can be refused synchronously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// `404.001.03`: missing, malformed, unknown or expired bearer token.
    InvalidAccessToken,
    /// `400.002.02 Bad Request - Invalid <field>`.
    InvalidField(&'static str),
    /// `400.008.02`: `grant_type` is not `client_credentials`.
    InvalidGrantType,
    /// `400.008.01`: the token request's `Authorization` is not Basic.
    InvalidAuthenticationType,
    /// `400.008.01`: unknown consumer key or wrong secret.
    InvalidAuthentication,
    /// `500.001.1001 Merchant does not exist`.
    MerchantDoesNotExist,
    /// `500.001.1001 Wrong credentials` (Lipa na M-Pesa password).
    WrongCredentials,
    /// `500.001.1001`: the customer already has a prompt open.
    UnableToLockSubscriber,
    /// `500.001.1001 The transaction is being processed` (STK query while pending).
    TransactionBeingProcessed,
    /// `404.001.01 Resource not found`.
    ResourceNotFound,
    /// `405.001 Method Not Allowed`.
    MethodNotAllowed,
    /// `400.002.05 Invalid Request Payload`: the body is too large.
    PayloadTooLarge,
    /// `500.003.1001 Internal Server Error`: a sandbox bug, or a scenario's choice.
    Internal,
    /// `500.003.02 Error Occurred: Spike Arrest Violation` (a rate limit,
    /// as the envelope; the `spike_arrest = "envelope"` variant).
    SpikeArrest,
    /// HTTP 429 with Apigee's fault body `policies.ratelimit.SpikeArrestViolation`
    /// (a rate limit, as the live gateway answers it since 2026).
    ApigeeSpikeArrest { faultstring: String },
    /// An API outside the app's products: `401.003.01`, `401.002.01` or `401.001`.
    ProductMissing(ProductError),
    /// `500.003.02 System is busy. Please try again in few minutes.`
    SystemBusy,
    /// `500.003.03 Error Occurred: Quota Violation`.
    QuotaViolation,
    /// `500.002.1001 Duplicate OriginatorConversationID.` (B2C v3).
    DuplicateOriginator,
    /// Any code and message a scenario asks for.
    Custom { code: String, message: String },
}

impl ErrorKind {
    pub fn code(&self) -> &str {
        match self {
            ErrorKind::SpikeArrest | ErrorKind::SystemBusy => "500.003.02",
            ErrorKind::ApigeeSpikeArrest { .. } => "policies.ratelimit.SpikeArrestViolation",
            ErrorKind::ProductMissing(ProductError::NoApiProductMatch) => "401.003.01",
            ErrorKind::ProductMissing(ProductError::EmptyDetail) => "401.002.01",
            ErrorKind::ProductMissing(ProductError::Unauthorised) => "401.001",
            ErrorKind::ProductMissing(ProductError::InvalidAccessToken) => "404.001.03",
            ErrorKind::QuotaViolation => "500.003.03",
            ErrorKind::DuplicateOriginator => "500.002.1001",
            ErrorKind::Custom { code, .. } => code,
            ErrorKind::InvalidAccessToken => "404.001.03",
            ErrorKind::InvalidField(_) => "400.002.02",
            ErrorKind::InvalidGrantType => "400.008.02",
            ErrorKind::InvalidAuthenticationType | ErrorKind::InvalidAuthentication => "400.008.01",
            ErrorKind::MerchantDoesNotExist
            | ErrorKind::WrongCredentials
            | ErrorKind::UnableToLockSubscriber
            | ErrorKind::TransactionBeingProcessed => "500.001.1001",
            ErrorKind::ResourceNotFound => "404.001.01",
            ErrorKind::MethodNotAllowed => "405.001",
            ErrorKind::PayloadTooLarge => "400.002.05",
            ErrorKind::Internal => "500.003.1001",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ErrorKind::SpikeArrest => "Error Occurred: Spike Arrest Violation".into(),
            ErrorKind::ApigeeSpikeArrest { faultstring } => faultstring.clone(),
            ErrorKind::ProductMissing(ProductError::NoApiProductMatch) => {
                "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found".into()
            }
            // The detail is empty and the message keeps its trailing space, as captured.
            ErrorKind::ProductMissing(ProductError::EmptyDetail | ProductError::Unauthorised) => {
                "Error Occurred - Invalid Access Token - ".into()
            }
            ErrorKind::ProductMissing(ProductError::InvalidAccessToken) => "Invalid Access Token".into(),
            ErrorKind::SystemBusy => "System is busy. Please try again in few minutes.".into(),
            ErrorKind::QuotaViolation => "Error Occurred: Quota Violation".into(),
            ErrorKind::DuplicateOriginator => "Duplicate OriginatorConversationID.".into(),
            ErrorKind::Custom { message, .. } => message.clone(),
            ErrorKind::InvalidAccessToken => "Invalid Access Token".into(),
            ErrorKind::InvalidField(field) => format!("Bad Request - Invalid {field}"),
            ErrorKind::InvalidGrantType => "Invalid grant type passed".into(),
            ErrorKind::InvalidAuthenticationType => "Invalid authentication type passed".into(),
            ErrorKind::InvalidAuthentication => "Invalid Authentication passed".into(),
            ErrorKind::MerchantDoesNotExist => "Merchant does not exist".into(),
            ErrorKind::WrongCredentials => "Wrong credentials".into(),
            ErrorKind::UnableToLockSubscriber => {
                "Unable to lock subscriber, a transaction is already in process for the current subscriber".into()
            }
            ErrorKind::TransactionBeingProcessed => "The transaction is being processed".into(),
            ErrorKind::ResourceNotFound => "Resource not found".into(),
            ErrorKind::MethodNotAllowed => "Method Not Allowed".into(),
            ErrorKind::PayloadTooLarge => "Invalid Request Payload".into(),
            ErrorKind::Internal => "Internal Server Error".into(),
        }
    }

    /// The HTTP status is the code's first three digits (429 for Apigee's spike arrest).
    pub fn status(&self) -> StatusCode {
        if let ErrorKind::ApigeeSpikeArrest { .. } = self {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        self.code()
            .get(..3)
            .and_then(|prefix| prefix.parse::<u16>().ok())
            .and_then(|n| StatusCode::from_u16(n).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A refused Daraja request: what the client sees, and why (for the journal).
#[derive(Debug, Clone)]
pub struct DarajaError {
    pub kind: ErrorKind,
    pub diagnosis: Option<String>,
    /// Overrides the generated `requestId` (the STK query echoes the CheckoutRequestID).
    pub request_id: Option<String>,
    /// Overrides the status the code implies (a scenario's choice).
    pub status: Option<StatusCode>,
}

impl DarajaError {
    pub fn new(kind: ErrorKind, diagnosis: impl Into<String>) -> DarajaError {
        DarajaError { kind, diagnosis: Some(diagnosis.into()), request_id: None, status: None }
    }

    fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.kind.status())
    }

    pub fn field(field: &'static str, diagnosis: impl Into<String>) -> DarajaError {
        DarajaError::new(ErrorKind::InvalidField(field), diagnosis)
    }

    /// The golden shape this error's body follows.
    fn shape(&self) -> Shape {
        match &self.kind {
            ErrorKind::ApigeeSpikeArrest { .. } => Shape::ApigeeSpikeArrest,
            ErrorKind::SpikeArrest => Shape::SpikeArrestEnvelope,
            ErrorKind::TransactionBeingProcessed => Shape::StkQueryPendingError,
            ErrorKind::ProductMissing(ProductError::NoApiProductMatch) => Shape::ErrorProductMissing,
            ErrorKind::ProductMissing(ProductError::EmptyDetail) => Shape::ErrorProductMissingEmptyDetail,
            ErrorKind::ProductMissing(ProductError::Unauthorised) => Shape::ErrorPullUnauthorised,
            _ => Shape::ErrorEnvelope,
        }
    }
}

/// The envelope as the gateway writes it: two-space indentation, no space
/// after the `requestId` colon and one after the others (the captured
/// bytes), or compact. Values are JSON-escaped strings either way.
fn envelope_text(request_id: &str, code: &str, message: &str, pretty: bool) -> String {
    let quote = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    let (id, code, message) = (quote(request_id), quote(code), quote(message));
    match pretty {
        true => format!("{{\n  \"requestId\":{id},\n  \"errorCode\": {code},\n  \"errorMessage\": {message}\n}}"),
        false => format!("{{\"requestId\":{id},\"errorCode\":{code},\"errorMessage\":{message}}}"),
    }
}

impl WireError for DarajaError {
    fn provider(&self) -> &'static str {
        super::PROVIDER
    }

    fn code(&self) -> String {
        self.kind.code().to_owned()
    }

    fn diagnosis(&self) -> Option<String> {
        self.diagnosis.clone()
    }

    fn request_id(&self, ctx: &RequestContext) -> String {
        self.request_id.clone().unwrap_or_else(|| super::ids::request_id(ctx.seed, ctx.seq))
    }

    fn render(&self, ctx: &RequestContext) -> Response {
        let status = self.status();
        if let ErrorKind::ApigeeSpikeArrest { faultstring } = &self.kind {
            let body = ApigeeFault {
                fault: ApigeeFaultBody {
                    faultstring: faultstring.clone(),
                    detail: ApigeeDetail { errorcode: "policies.ratelimit.SpikeArrestViolation" },
                },
            };
            return wire::reply_as(self.shape(), status, wire::APIGEE_CONTENT_TYPE, &body);
        }
        // Before the caller is known (a token request with an unknown key, an
        // unknown path) there is no tenant's world to ask; the captured form applies.
        let style = ctx.tenant().map_or(ErrorBodies::Captured, |t| t.world_of::<Daraja>().settings.error_bodies);
        let code = self.kind.code();
        let pretty = style == ErrorBodies::Captured && !code.starts_with("400.");
        let text = envelope_text(&self.request_id(ctx), code, &self.kind.message(), pretty);
        tracing::trace!(shape = self.shape().name(), "daraja refuses");
        let mut response =
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static(wire::CONTENT_TYPE))], text).into_response();
        if status == StatusCode::NOT_FOUND {
            // The gateway's status line reads `404 Resource not found`.
            response.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(b"Resource not found"));
        }
        response
    }
}

impl IntoResponse for DarajaError {
    fn into_response(self) -> Response {
        fault_response(self.status(), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_comes_from_the_code_prefix() {
        assert_eq!(ErrorKind::InvalidAccessToken.status(), StatusCode::NOT_FOUND);
        assert_eq!(ErrorKind::InvalidField("Amount").status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorKind::WrongCredentials.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ErrorKind::MethodNotAllowed.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(ErrorKind::ProductMissing(ProductError::Unauthorised).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorKind::ApigeeSpikeArrest { faultstring: String::new() }.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn envelopes_are_written_with_the_gateways_spacing_or_compact() {
        assert_eq!(
            envelope_text("74ba-4bfd", "404.001.03", "Invalid Access Token", true),
            "{\n  \"requestId\":\"74ba-4bfd\",\n  \"errorCode\": \"404.001.03\",\n  \"errorMessage\": \"Invalid Access Token\"\n}"
        );
        let compact = envelope_text("r", "400.002.02", "Bad Request - Invalid \"x\"", false);
        assert_eq!(
            compact,
            r#"{"requestId":"r","errorCode":"400.002.02","errorMessage":"Bad Request - Invalid \"x\""}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&compact).unwrap();
        assert_eq!(parsed["errorMessage"], "Bad Request - Invalid \"x\"");
    }
}
