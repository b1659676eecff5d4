//! Daraja's error envelope: `{requestId, errorCode, errorMessage}`, with the
//! HTTP status taken from the code's first three digits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

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
    /// `500.003.02 Error Occurred: Spike Arrest Violation` (rate limit).
    SpikeArrest,
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

    /// The HTTP status is the code's first three digits.
    pub fn status(&self) -> StatusCode {
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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    request_id: String,
    error_code: &'a str,
    error_message: String,
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
        let body = ErrorBody {
            request_id: self.request_id(ctx),
            error_code: self.kind.code(),
            error_message: self.kind.message(),
        };
        (self.status(), Json(body)).into_response()
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
    }
}
