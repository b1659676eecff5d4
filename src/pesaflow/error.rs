//! Pesaflow's error answers, in the body shape of the endpoint that fails.
//!
//! Pesaflow has no single error envelope ([`Envelope`]):
//! the checkout and the status query answer `{"error": "…"}` (a 422 prints
//! the request's parameters as an Elixir map), the aggregator endpoints
//! answer `{"status": n, "description": "…"}` as the guide shows, and the
//! server-to-server endpoints answer `{"status": n, "message": "…"}` as a
//! live 401 shows.
//! Maintenance answers (502, 503) come from the proxy in front of the
//! Phoenix application, so they are its HTML page whatever the endpoint.
//!
//! The status table is the guide's: 400 invalid request, 401 unauthorized or
//! invalid secure hash, 403 forbidden, 404 not found, 500 internal error,
//! 502 bad gateway (maintenance); 422 and 503 come from live traffic and the
//! proxy, the rest (405, 408, 413, 429) from the sandbox's own plumbing.
//!
//! **Invariant:** a diagnosis never contains a key or a secret; hash
//! mismatches are described by [`crate::crypto::secure_hash::HashMismatch`],
//! which redacts them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::params::{BodyError, FieldError, Params};
use super::PROVIDER;
use crate::crypto::secure_hash::HashMismatch;
use crate::http::{fault_response, RequestContext, WireError};

/// The body shape of an endpoint's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// `{"error": "…"}`: checkout, status query, the checkout page.
    Error,
    /// `{"status": n, "description": "…"}`: validate and confirm.
    StatusDescription,
    /// `{"status": n, "message": "…"}`: token and invoice/create.
    StatusMessage,
}

/// A maintenance answer of the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Maintenance {
    /// 502 Bad Gateway: the guide's "possible maintenance on-going".
    BadGateway,
    /// 503 Service Temporarily Unavailable.
    Unavailable,
}

/// Every way a Pesaflow request can be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// 422 `invalid params on parsing %{…}`: a checkout field is missing or
    /// malformed; `printed` is the parameters as an Elixir map.
    InvalidParams { printed: String },
    /// 400 Invalid Request: a missing or malformed field elsewhere, or a body
    /// that is not a form or a JSON object.
    BadRequest,
    /// 401: the secure hash does not match.
    InvalidSecureHash,
    /// 401: no bearer token, or an unknown or expired one; or a wrong
    /// key and secret for a token.
    Unauthorized,
    /// 401 `Access to this resource Pesaflow.Invoice has not been granted`.
    NotGranted,
    /// 403 Forbidden Access: the client may not use this service.
    Forbidden,
    /// 404 `{"error":"Invoice Not Found"}` (status query, live).
    InvoiceNotFound,
    /// 404 `Bill not found` (validate, documented).
    BillNotFound,
    /// 404 `could not resolve checkout endpoint`: an unknown checkout link (live).
    CheckoutNotResolved,
    /// 404 for a path Pesaflow does not serve.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 408: the body did not arrive in time.
    RequestTimeout,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 429: a rate limit of the sandbox.
    TooManyRequests,
    /// 500 with the endpoint's failure text (`Failed` for confirm).
    Failed { message: &'static str },
    /// 500: a sandbox bug, or a scenario's choice.
    Internal,
    /// 502 or 503 from the proxy: a maintenance window.
    Maintenance(Maintenance),
    /// Any status and message a scenario asks for.
    Custom { status: StatusCode, message: String },
}

impl ErrorKind {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ErrorKind::InvalidParams { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::InvalidSecureHash | ErrorKind::Unauthorized | ErrorKind::NotGranted => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::InvoiceNotFound
            | ErrorKind::BillNotFound
            | ErrorKind::CheckoutNotResolved
            | ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Failed { .. } | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Maintenance(Maintenance::BadGateway) => StatusCode::BAD_GATEWAY,
            ErrorKind::Maintenance(Maintenance::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Custom { status, .. } => *status,
        }
    }

    /// The journal's name for the error.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ErrorKind::InvalidParams { .. } => "invalid_params",
            ErrorKind::BadRequest => "invalid_request",
            ErrorKind::InvalidSecureHash => "invalid_secure_hash",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotGranted => "not_granted",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::InvoiceNotFound => "invoice_not_found",
            ErrorKind::BillNotFound => "bill_not_found",
            ErrorKind::CheckoutNotResolved => "checkout_not_resolved",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::Failed { .. } => "failed",
            ErrorKind::Internal => "internal_error",
            ErrorKind::Maintenance(Maintenance::BadGateway) => "maintenance_502",
            ErrorKind::Maintenance(Maintenance::Unavailable) => "maintenance_503",
            ErrorKind::Custom { .. } => "scenario",
        }
    }

    /// The text in the body.
    pub(crate) fn message(&self) -> String {
        match self {
            ErrorKind::InvalidParams { printed } => format!("invalid params on parsing {printed}"),
            ErrorKind::BadRequest => "Invalid Request".into(),
            ErrorKind::InvalidSecureHash => "Invalid secure hash".into(),
            ErrorKind::Unauthorized => "Unauthorized".into(),
            ErrorKind::NotGranted => "Access to this resource Pesaflow.Invoice has not been granted".into(),
            ErrorKind::Forbidden => "Forbidden Access".into(),
            ErrorKind::InvoiceNotFound => "Invoice Not Found".into(),
            ErrorKind::BillNotFound => "Bill not found".into(),
            ErrorKind::CheckoutNotResolved => "could not resolve checkout endpoint".into(),
            ErrorKind::NotFound => "Not Found".into(),
            ErrorKind::MethodNotAllowed => "Method Not Allowed".into(),
            ErrorKind::RequestTimeout => "Request Timeout".into(),
            ErrorKind::PayloadTooLarge => "Payload Too Large".into(),
            ErrorKind::TooManyRequests => "Too Many Requests".into(),
            ErrorKind::Failed { message } => (*message).into(),
            ErrorKind::Internal => "Internal Server Error".into(),
            ErrorKind::Maintenance(Maintenance::BadGateway) => "Bad Gateway".into(),
            ErrorKind::Maintenance(Maintenance::Unavailable) => "Service Temporarily Unavailable".into(),
            ErrorKind::Custom { message, .. } => message.clone(),
        }
    }
}

/// A refused Pesaflow request: what the client sees, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PesaflowError {
    pub(crate) kind: ErrorKind,
    pub(crate) envelope: Envelope,
    pub(crate) diagnosis: Option<String>,
}

impl PesaflowError {
    pub(crate) fn new(kind: ErrorKind, envelope: Envelope, diagnosis: impl Into<String>) -> PesaflowError {
        PesaflowError { kind, envelope, diagnosis: Some(diagnosis.into()) }
    }

    /// A missing or malformed field: a checkout answers 422 with the
    /// parameters printed, other endpoints 400.
    pub(crate) fn field(envelope: Envelope, error: &FieldError, params: &Params) -> PesaflowError {
        let kind = match envelope {
            Envelope::Error => ErrorKind::InvalidParams { printed: params.to_elixir(&server_params()) },
            Envelope::StatusDescription | Envelope::StatusMessage => ErrorKind::BadRequest,
        };
        PesaflowError::new(kind, envelope, error.to_string())
    }

    /// A body that is neither a form nor a JSON object.
    pub(crate) fn body(envelope: Envelope, error: &BodyError) -> PesaflowError {
        PesaflowError::new(ErrorKind::BadRequest, envelope, error.to_string())
    }

    /// A hash that does not match; `field` is the hash's name on this endpoint.
    pub(crate) fn hash(envelope: Envelope, field: &str, mismatch: &HashMismatch) -> PesaflowError {
        PesaflowError::new(ErrorKind::InvalidSecureHash, envelope, format!("{field}: {mismatch}"))
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Status, content type and body, as sent.
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, String) {
        let status = self.status();
        if let ErrorKind::Maintenance(_) = self.kind {
            return (status, "text/html", proxy_page(status));
        }
        let code = status.as_u16();
        let message = self.kind.message();
        // Serializing these flat structs of strings and integers cannot fail.
        let body = match self.envelope {
            Envelope::Error => serde_json::to_string(&ErrorBody { error: message }),
            Envelope::StatusDescription => {
                serde_json::to_string(&StatusDescriptionBody { status: code, description: message })
            }
            Envelope::StatusMessage => serde_json::to_string(&StatusMessageBody { status: code, message }),
        }
        .unwrap_or_default();
        (status, "application/json", body)
    }

    fn response(&self) -> Response {
        let (status, content_type, body) = self.parts();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

/// What Pesaflow adds to a checkout's parameters before parsing them; it
/// shows in the captured 422.
fn server_params() -> [(&'static str, serde_json::Value); 1] {
    [("payment_gateway_id", serde_json::Value::from(1))]
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

#[derive(Serialize)]
struct StatusDescriptionBody {
    status: u16,
    description: String,
}

#[derive(Serialize)]
struct StatusMessageBody {
    status: u16,
    message: String,
}

/// The proxy's own error page, as nginx writes it.
fn proxy_page(status: StatusCode) -> String {
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

impl WireError for PesaflowError {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn code(&self) -> String {
        self.kind.code().to_owned()
    }

    fn diagnosis(&self) -> Option<String> {
        self.diagnosis.clone()
    }

    /// Pesaflow's bodies carry no request id; the journal gets the sandbox's.
    fn request_id(&self, ctx: &RequestContext) -> String {
        format!("pesaflow-{}", ctx.seq)
    }

    fn render(&self, _ctx: &RequestContext) -> Response {
        self.response()
    }
}

impl IntoResponse for PesaflowError {
    fn into_response(self) -> Response {
        fault_response(self.status(), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secure_hash::{verify, HashKey, Recipe};

    #[test]
    fn each_envelope_has_its_endpoints_shape() {
        let not_found = PesaflowError::new(ErrorKind::InvoiceNotFound, Envelope::Error, "no invoice GWLQKD");
        assert_eq!(
            not_found.parts(),
            (StatusCode::NOT_FOUND, "application/json", r#"{"error":"Invoice Not Found"}"#.into())
        );
        let bill = PesaflowError::new(ErrorKind::BillNotFound, Envelope::StatusDescription, "no bill");
        assert_eq!(bill.parts().2, r#"{"status":404,"description":"Bill not found"}"#);
        let grant = PesaflowError::new(ErrorKind::NotGranted, Envelope::StatusMessage, "client 2 has no grant");
        assert_eq!(
            grant.parts().2,
            r#"{"status":401,"message":"Access to this resource Pesaflow.Invoice has not been granted"}"#
        );
        let failed = PesaflowError::new(ErrorKind::Failed { message: "Failed" }, Envelope::StatusDescription, "x");
        assert_eq!(failed.parts().2, r#"{"status":500,"description":"Failed"}"#);
    }

    #[test]
    fn a_bad_checkout_field_answers_422_with_the_parameters_printed() {
        let params = Params::from_form(b"amountExpected=ten&apiClientID=588");
        let error = super::super::params::FieldError::new(
            "amountExpected",
            super::super::amount::AmountProblem::NotANumber("ten".into()).into(),
        );
        let refused = PesaflowError::field(Envelope::Error, &error, &params);
        let (status, _, body) = refused.parts();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            r#"{"error":"invalid params on parsing %{\"amountExpected\" => \"ten\", \"apiClientID\" => \"588\", \"payment_gateway_id\" => 1}"}"#
        );
        assert_eq!(refused.diagnosis.as_deref(), Some("amountExpected is not a decimal number: \"ten\""));
        let elsewhere = PesaflowError::field(Envelope::StatusDescription, &error, &params);
        assert_eq!(elsewhere.parts().2, r#"{"status":400,"description":"Invalid Request"}"#);
    }

    #[test]
    fn maintenance_is_the_proxys_html_page_on_every_endpoint() {
        for envelope in [Envelope::Error, Envelope::StatusDescription, Envelope::StatusMessage] {
            let down = PesaflowError::new(ErrorKind::Maintenance(Maintenance::BadGateway), envelope, "window");
            let (status, content_type, body) = down.parts();
            assert_eq!((status, content_type), (StatusCode::BAD_GATEWAY, "text/html"));
            assert!(body.contains("<title>502 Bad Gateway</title>") && body.contains("nginx"), "{body}");
        }
        let unavailable = PesaflowError::new(ErrorKind::Maintenance(Maintenance::Unavailable), Envelope::Error, "w");
        assert!(unavailable.parts().2.contains("503 Service Unavailable"));
    }

    #[test]
    fn a_hash_error_says_which_recipe_without_the_credentials() {
        let key = HashKey { key: "k3y", secret: "s3cr3t" };
        let mismatch = verify(Recipe::StatusQuery, &["588", "GWLQKD"], key, "bm9wZQ==", &[]).unwrap_err();
        let refused = PesaflowError::hash(Envelope::Error, "secure_hash", &mismatch);
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.parts().2, r#"{"error":"Invalid secure hash"}"#);
        let diagnosis = refused.diagnosis.unwrap();
        assert!(
            diagnosis.starts_with("secure_hash: the hash (8 characters of base64) does not match the status recipe")
        );
        assert!(diagnosis.contains("api_client_id + ref_no = \"588\" + \"GWLQKD\""), "{diagnosis}");
        assert!(!diagnosis.contains("k3y") && !diagnosis.contains("s3cr3t"));
    }

    #[test]
    fn every_kind_has_a_status_a_code_and_a_message() {
        let kinds = [
            ErrorKind::InvalidParams { printed: "%{}".into() },
            ErrorKind::BadRequest,
            ErrorKind::InvalidSecureHash,
            ErrorKind::Unauthorized,
            ErrorKind::NotGranted,
            ErrorKind::Forbidden,
            ErrorKind::InvoiceNotFound,
            ErrorKind::BillNotFound,
            ErrorKind::CheckoutNotResolved,
            ErrorKind::NotFound,
            ErrorKind::MethodNotAllowed,
            ErrorKind::RequestTimeout,
            ErrorKind::PayloadTooLarge,
            ErrorKind::TooManyRequests,
            ErrorKind::Failed { message: "Failed" },
            ErrorKind::Internal,
            ErrorKind::Maintenance(Maintenance::BadGateway),
            ErrorKind::Maintenance(Maintenance::Unavailable),
            ErrorKind::Custom { status: StatusCode::IM_A_TEAPOT, message: "tea".into() },
        ];
        for kind in kinds {
            assert!(kind.status().is_client_error() || kind.status().is_server_error(), "{kind:?}");
            assert!(!kind.code().is_empty() && !kind.message().is_empty(), "{kind:?}");
        }
    }
}
