//! The provider's error envelope: `{output_ResponseCode, output_ResponseDesc}`
//! plus the echo fields real answers carry, in wire order.
//!
//! Captured answers put the code and description first, then
//! `output_TransactionID`, `output_ConversationID` and the client's reference
//! (`output_ThirdPartyReference` on the portal,
//! `output_ThirdPartyConversationID` on the OpenAPI); a portal SDK's test
//! fixture shows a refused request (`INS-10`) in the same shape. An echo field
//! is written only when the refusal came late enough to know it: a bearer
//! refusal carries none, a duplicate carries the client's reference and a
//! fresh conversation id. The status comes from the code's table
//! ([`crate::vodafone::codes`]) unless a scenario overrides it.
//!
//! One more shape exists: `{"output_error": "..."}`, which the paymentsds PHP
//! SDK recognises as "unauthorized API or session". It is one of the
//! switchable answers for an OpenAPI session that is unknown, not yet live or
//! expired ([`SessionRefusal`]), since the real answer is not published.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::{fault_response, RequestContext, WireError};
use crate::vodafone::api::{Api, Profile};
use crate::vodafone::bearer::BearerError;
use crate::vodafone::codes::{self, Ins, StatusTable};
use crate::vodafone::wire::Head;

/// What a refused request answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// A code of the profile's table, with its description.
    Ins(Ins),
    /// Any code and description (a scenario's `INS-999`, an unlisted code).
    Custom { code: String, desc: String },
    /// `{"output_error": message}`.
    OutputError { message: String },
}

/// The answer for an OpenAPI call whose bearer decrypts to no live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum SessionRefusal {
    /// 401 `{"output_error": "Unauthorized"}` (the shape paymentsds checks
    /// for as "unauthorized API or session"; the default).
    #[default]
    OutputError,
    /// 401 `INS-6 Transaction Failed` (the OpenAPI's only 401 code).
    Ins6,
    /// 400 `INS-989 Session Creation Failed` (the getSession failure).
    Ins989,
}

/// The fields a refusal echoes back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Echo {
    pub(crate) transaction_id: Option<String>,
    pub(crate) conversation_id: Option<String>,
    /// The client's `input_ThirdPartyReference` (portal) or
    /// `input_ThirdPartyConversationID` (OpenAPI).
    pub(crate) third_party: Option<String>,
}

/// A refused request: what the client sees, and why (for the journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VodafoneError {
    pub(crate) profile: Profile,
    pub(crate) api: Option<Api>,
    pub(crate) table: StatusTable,
    pub(crate) kind: ErrorKind,
    /// What exactly was wrong, in plain words; never a secret.
    pub(crate) diagnosis: Option<String>,
    /// Boxed: refusals travel in `Result`s and most carry no echo.
    pub(crate) echo: Box<Echo>,
    /// Overrides the status the code implies (a scenario's choice).
    pub(crate) status: Option<StatusCode>,
}

impl VodafoneError {
    pub(crate) fn new(profile: Profile, api: Option<Api>, ins: Ins, diagnosis: impl Into<String>) -> VodafoneError {
        VodafoneError {
            profile,
            api,
            table: StatusTable::default(),
            kind: ErrorKind::Ins(ins),
            diagnosis: Some(diagnosis.into()),
            echo: Box::default(),
            status: None,
        }
    }

    /// A scenario's own code and description, with its status.
    pub(crate) fn custom(
        profile: Profile,
        api: Option<Api>,
        code: &str,
        desc: &str,
        status: StatusCode,
    ) -> VodafoneError {
        VodafoneError {
            kind: ErrorKind::Custom { code: code.to_owned(), desc: desc.to_owned() },
            status: Some(status),
            diagnosis: Some(format!("a scenario answers {code}")),
            ..VodafoneError::new(profile, api, Ins::INTERNAL_ERROR, "")
        }
    }

    pub(crate) fn with_echo(mut self, echo: Echo) -> VodafoneError {
        self.echo = Box::new(echo);
        self
    }

    pub(crate) fn with_table(mut self, table: StatusTable) -> VodafoneError {
        self.table = table;
        self
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> VodafoneError {
        self.status = Some(status);
        self
    }

    /// A bearer that does not decode: `INS-2` on the portal, `INS-989` at
    /// `getSession`, the world's [`SessionRefusal`] on other OpenAPI calls.
    pub(crate) fn bearer(profile: Profile, api: Api, error: &BearerError, refusal: SessionRefusal) -> VodafoneError {
        VodafoneError::unauthorized(profile, api, error.to_string(), refusal)
    }

    /// A bearer that decodes to no known secret (a wrong or renewed API key,
    /// an unknown, pending or expired session), with the diagnosis to journal.
    pub(crate) fn unauthorized(
        profile: Profile,
        api: Api,
        diagnosis: impl Into<String>,
        refusal: SessionRefusal,
    ) -> VodafoneError {
        let diagnosis = diagnosis.into();
        match (profile, api, refusal) {
            (Profile::Portal, _, _) => VodafoneError::new(profile, Some(api), Ins::INVALID_API_KEY, diagnosis),
            (Profile::OpenApi, Api::GetSession, _) | (Profile::OpenApi, _, SessionRefusal::Ins989) => {
                VodafoneError::new(profile, Some(api), Ins::SESSION_CREATION_FAILED, diagnosis)
            }
            (Profile::OpenApi, _, SessionRefusal::Ins6) => {
                VodafoneError::new(profile, Some(api), Ins::TRANSACTION_FAILED, diagnosis)
            }
            (Profile::OpenApi, _, SessionRefusal::OutputError) => VodafoneError {
                kind: ErrorKind::OutputError { message: "Unauthorized".into() },
                status: Some(StatusCode::UNAUTHORIZED),
                ..VodafoneError::new(profile, Some(api), Ins::TRANSACTION_FAILED, diagnosis)
            },
        }
    }

    /// The envelope for errors the router raises itself (unknown path, wrong
    /// method, body too large, too slow). The status stays what the router
    /// chose; the code is the nearest one the profile has: `INS-22 Invalid
    /// Operation Type` on the portal and `INS-997 API Not Enabled` on the
    /// OpenAPI for 404 and 405, `INS-9` for 408, `INS-21` for 413, `INS-1`
    /// otherwise and when the profile is unknown.
    pub(crate) fn bare(profile: Option<Profile>, status: StatusCode) -> VodafoneError {
        let ins = match (profile, status.as_u16()) {
            (Some(Profile::Portal), 404 | 405) => Ins::INVALID_OPERATION_TYPE,
            (Some(Profile::OpenApi), 404 | 405) => Ins::API_NOT_ENABLED,
            (_, 408) => Ins::REQUEST_TIMEOUT,
            (_, 413) => Ins::VALIDATION_FAILED,
            _ => Ins::INTERNAL_ERROR,
        };
        let diagnosis = match status.as_u16() {
            404 => "no Vodafone M-Pesa API has this path",
            405 => "this API does not accept this method (queries and getSession are GET, reversal and cancel PUT, the rest POST)",
            408 => "the request did not arrive in time",
            413 => "the body is larger than the sandbox accepts",
            _ => "the request could not be routed",
        };
        VodafoneError::new(profile.unwrap_or(Profile::OpenApi), None, ins, diagnosis).with_status(status)
    }

    /// `INS-<n>`, a custom code, or `output_error`.
    pub(crate) fn code(&self) -> String {
        match &self.kind {
            ErrorKind::Ins(ins) => ins.code(),
            ErrorKind::Custom { code, .. } => code.clone(),
            ErrorKind::OutputError { .. } => "output_error".into(),
        }
    }

    fn entry(&self, ins: Ins) -> codes::Entry {
        let other = match self.profile {
            Profile::Portal => Profile::OpenApi,
            Profile::OpenApi => Profile::Portal,
        };
        codes::lookup(self.profile, self.table, self.api, ins)
            .or_else(|| codes::lookup(other, StatusTable::Documented, self.api, ins))
            .unwrap_or(codes::Entry { desc: "Internal Error", status: 400 })
    }

    pub(crate) fn desc(&self) -> String {
        match &self.kind {
            ErrorKind::Ins(ins) => self.entry(*ins).desc.to_owned(),
            ErrorKind::Custom { desc, .. } => desc.clone(),
            ErrorKind::OutputError { message } => message.clone(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        if let Some(status) = self.status {
            return status;
        }
        match &self.kind {
            ErrorKind::Ins(ins) => StatusCode::from_u16(self.entry(*ins).status).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorKind::Custom { .. } => StatusCode::BAD_REQUEST,
            ErrorKind::OutputError { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    /// The body, in wire order.
    pub(crate) fn body(&self) -> ErrorBody {
        if let ErrorKind::OutputError { message } = &self.kind {
            return ErrorBody::OutputError { output_error: message.clone() };
        }
        let (third_party_reference, third_party_conversation_id) = match self.profile {
            Profile::Portal => (self.echo.third_party.clone(), None),
            Profile::OpenApi => (None, self.echo.third_party.clone()),
        };
        ErrorBody::Ins(InsBody {
            head: Head::new(self.code(), self.desc()),
            transaction_id: self.echo.transaction_id.clone(),
            conversation_id: self.echo.conversation_id.clone(),
            third_party_reference,
            third_party_conversation_id,
        })
    }
}

/// `{output_ResponseCode, output_ResponseDesc, ...echo}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct InsBody {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    #[serde(rename = "output_ConversationID", skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<String>,
    #[serde(rename = "output_ThirdPartyReference", skip_serializing_if = "Option::is_none")]
    pub(crate) third_party_reference: Option<String>,
    #[serde(rename = "output_ThirdPartyConversationID", skip_serializing_if = "Option::is_none")]
    pub(crate) third_party_conversation_id: Option<String>,
}

/// Either envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum ErrorBody {
    Ins(InsBody),
    OutputError { output_error: String },
}

impl WireError for VodafoneError {
    fn provider(&self) -> &'static str {
        crate::vodafone::PROVIDER
    }

    fn code(&self) -> String {
        VodafoneError::code(self)
    }

    fn diagnosis(&self) -> Option<String> {
        self.diagnosis.as_deref().map(without_quotes)
    }

    fn request_id(&self, ctx: &RequestContext) -> String {
        self.echo
            .conversation_id
            .clone()
            .unwrap_or_else(|| crate::vodafone::ids::request_conversation_id(ctx.seed, ctx.seq))
    }

    fn render(&self, _ctx: &RequestContext) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// The diagnosis with every quote mark written as a backtick.
/// The OpenAPI portal's own Python SDK (`APIRequest`, vendored by many
/// integrators) reads the response headers by writing Python's repr of them
/// and parsing that as JSON with `'` replaced by `"`: one quote mark of either
/// kind in any header value makes every call that gets it raise in the client,
/// so the refusal in the body is never seen.
/// The real gateways send no such header, so the sandbox's must not break it.
fn without_quotes(text: &str) -> String {
    text.replace(['"', '\''], "`")
}

impl IntoResponse for VodafoneError {
    fn into_response(self) -> Response {
        fault_response(self.status(), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vodafone::keys::KeySize;

    fn json(error: &VodafoneError) -> String {
        serde_json::to_string(&error.body()).unwrap()
    }

    #[test]
    fn a_refusal_renders_code_and_description_first_then_the_echo() {
        let error = VodafoneError::new(Profile::Portal, Some(Api::C2bSingleStage), Ins::DUPLICATE_TRANSACTION, "seen")
            .with_echo(Echo {
                transaction_id: None,
                conversation_id: Some("dfc12eec891244c6847b4ea594496bc3".into()),
                third_party: Some("3QYWDW".into()),
            });
        assert_eq!(
            json(&error),
            r#"{"output_ResponseCode":"INS-10","output_ResponseDesc":"Duplicate Transaction","output_ConversationID":"dfc12eec891244c6847b4ea594496bc3","output_ThirdPartyReference":"3QYWDW"}"#
        );
        assert_eq!(error.status(), StatusCode::CONFLICT);
    }

    #[test]
    fn the_diagnosis_has_no_quote_marks_for_the_portal_sdk_to_trip_on() {
        let error = VodafoneError::new(
            Profile::OpenApi,
            Some(Api::C2bSingleStage),
            Ins::DUPLICATE_TRANSACTION,
            "input_ThirdPartyConversationID \"a1\" was used by the customer's first payment",
        );
        assert_eq!(
            WireError::diagnosis(&error).as_deref(),
            Some("input_ThirdPartyConversationID `a1` was used by the customer`s first payment")
        );
    }

    #[test]
    fn the_openapi_echoes_the_third_party_conversation_id() {
        let error = VodafoneError::new(Profile::OpenApi, Some(Api::B2c), Ins::INSUFFICIENT_BALANCE, "poor")
            .with_echo(Echo { third_party: Some("asv02e5958774f7ba228d83d0d689761".into()), ..Echo::default() });
        assert!(json(&error).ends_with(r#""output_ThirdPartyConversationID":"asv02e5958774f7ba228d83d0d689761"}"#));
        assert_eq!(error.status().as_u16(), 422);
    }

    #[test]
    fn bearer_refusals_follow_the_profile_and_the_session_switch() {
        let bad = BearerError::NotBase64;
        let portal = VodafoneError::bearer(Profile::Portal, Api::B2c, &bad, SessionRefusal::default());
        assert_eq!((portal.code(), portal.status().as_u16()), ("INS-2".into(), 401));
        assert_eq!(json(&portal), r#"{"output_ResponseCode":"INS-2","output_ResponseDesc":"Invalid API Key"}"#);
        assert!(portal.diagnosis.as_deref().is_some_and(|d| d.contains("base64")));
        let session = VodafoneError::bearer(Profile::OpenApi, Api::GetSession, &bad, SessionRefusal::OutputError);
        assert_eq!((session.code(), session.status().as_u16()), ("INS-989".into(), 400));
        let call = VodafoneError::bearer(Profile::OpenApi, Api::B2c, &bad, SessionRefusal::OutputError);
        assert_eq!(json(&call), r#"{"output_error":"Unauthorized"}"#);
        assert_eq!(call.status().as_u16(), 401);
        let ins6 = VodafoneError::bearer(
            Profile::OpenApi,
            Api::B2c,
            &BearerError::WrongLength { got: 3, key: KeySize::Rsa4096 },
            SessionRefusal::Ins6,
        );
        assert_eq!((ins6.code(), ins6.status().as_u16()), ("INS-6".into(), 401));
    }

    #[test]
    fn router_errors_keep_their_status_in_the_providers_envelope() {
        let portal = VodafoneError::bare(Some(Profile::Portal), StatusCode::NOT_FOUND);
        assert_eq!((portal.code(), portal.status()), ("INS-22".into(), StatusCode::NOT_FOUND));
        let openapi = VodafoneError::bare(Some(Profile::OpenApi), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(openapi.code(), "INS-997");
        assert_eq!(VodafoneError::bare(None, StatusCode::PAYLOAD_TOO_LARGE).code(), "INS-21");
    }

    #[test]
    fn the_alternate_table_and_scenario_codes_change_what_is_rendered() {
        let error = VodafoneError::new(Profile::Portal, Some(Api::C2bSingleStage), Ins::INSUFFICIENT_BALANCE, "poor")
            .with_table(StatusTable::Alternate);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let custom =
            VodafoneError::custom(Profile::OpenApi, None, "INS-999", "Invalid Use Case", StatusCode::BAD_REQUEST);
        assert_eq!(json(&custom), r#"{"output_ResponseCode":"INS-999","output_ResponseDesc":"Invalid Use Case"}"#);
        let unlisted = VodafoneError::new(Profile::OpenApi, None, Ins::INVALID_API_KEY, "portal code on the OpenAPI");
        assert_eq!(unlisted.desc(), "Invalid API Key");
    }
}
