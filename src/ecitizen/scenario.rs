//! Where eCitizen meets the scenario engine: the facts each request shows
//! the rules, what an outcome means at each endpoint, and how the gate's
//! refusals (rate limits, scripted faults) look on eCitizen's wire.
//!
//! Facts: `when.fields` matches `client_id`, `user` (the test user's id, as
//! text), `id_number`, `email`, `account_type`, `login_hint` and `scope`;
//! `when.msisdn` matches the user's `mobile_number`. The user is the one
//! picked on the page or hinted (`authorize`, `login`), the one who approved
//! the code (`token`), or the token's (`introspect`, `userinfo`).
//!
//! Outcomes (`outcome.result_code`, text) are data, answered as the protocol
//! answers them:
//! * `authorize`, `login`: an RFC 6749 §4.1.2.1 code (`access_denied`,
//!   `temporarily_unavailable`, `server_error`, ...) comes back to the
//!   client's redirect URI;
//! * `token`: an RFC 6749 §5.2 code as JSON; `invalid_grant` says the code
//!   expired, without touching it;
//! * `introspect`: `inactive` answers `{"active": false}` for a live token;
//!   another code is a JSON error;
//! * `userinfo`: any code refuses the token the way the world's
//!   `userinfo_errors` says (`server_error` and `temporarily_unavailable`
//!   answer 500 and 503).
//!
//! A code that is none of these still reaches the wire as written, with
//! the endpoint's usual kind of failure behind it.
//! Faults (`fault.error`) answer with JSON and a status, as an outage does:
//! `temporarily_unavailable` (or `system_busy`) 503, `server_error` (or
//! `internal_error`) 500, any other OAuth code with its RFC 6749 status.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::authorize::AuthorizeRequest;
use super::error::{EcitizenError, OAuthError, ScriptedText};
use super::world::{ErrorStatuses, User, UserInfoErrors};
use super::{Ecitizen, NAME};
pub(crate) use crate::gate::{delayed, Gate};
use crate::provider::Refusal;
use crate::scenarios::{Decision, Facts, ResultCode};
use crate::store::Tenant;

/// `GET /oauth/authorize`, before the page is shown (or the user logged in at once).
pub(crate) const AUTHORIZE: &str = "authorize";
/// `POST /oauth/authorize`: the user's Proceed or Back.
pub(crate) const LOGIN: &str = "login";
/// `POST /oauth/access-token`.
pub(crate) const TOKEN: &str = "token";
/// `POST /api/oauth/token/introspect`.
pub(crate) const INTROSPECT: &str = "introspect";
/// `GET /api/userinfo` and `/api/user-info`.
pub(crate) const USERINFO: &str = "userinfo";
/// `GET /.well-known/openid-configuration`.
pub(crate) const DISCOVERY: &str = "discovery";
/// `GET /.well-known/jwks.json`.
pub(crate) const JWKS: &str = "jwks";

/// The outcome code that makes introspection say a live token is inactive.
pub(crate) const INACTIVE: &str = "inactive";

/// Rate limits count per client; requests that name none share this key.
const ANONYMOUS: &str = "anonymous";

/// Who a request is about, as far as the endpoint knows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Subject<'a> {
    pub client_id: Option<&'a str>,
    pub user: Option<&'a User>,
    pub login_hint: Option<&'a str>,
    pub scope: Option<&'a str>,
}

impl Subject<'_> {
    /// The fields `when.fields` matches.
    fn fields(&self) -> Map<String, Value> {
        let mut body = Map::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                body.insert(key.to_owned(), Value::String(value));
            }
        };
        put("client_id", self.client_id.map(str::to_owned));
        put("user", self.user.map(|u| u.id.to_string()));
        put("id_number", self.user.map(|u| u.id_number.clone()));
        put("email", self.user.map(|u| u.email.clone()));
        put("account_type", self.user.map(|u| u.account_type.clone()));
        put("login_hint", self.login_hint.map(str::to_owned));
        put("scope", self.scope.map(str::to_owned));
        body
    }
}

/// Applies rate limits (per client) and scripted faults to an eCitizen request.
pub(crate) fn gate(tenant: &Tenant, operation: &'static str, subject: &Subject<'_>) -> Gate {
    let body = subject.fields();
    let facts = Facts {
        provider: NAME,
        operation,
        body: Some(&body),
        msisdn: subject.user.and_then(|u| u.mobile_number.as_deref()).map(Into::into),
        ..Facts::default()
    };
    crate::gate::gate::<Ecitizen>(tenant, subject.client_id.unwrap_or(ANONYMOUS), &facts)
}

/// The gate's refusal as eCitizen JSON.
pub(crate) fn refusal(refusal: Refusal<'_>) -> EcitizenError {
    match refusal {
        // No RFC 6749 code means "too many requests"; a gateway in front of
        // eCitizen would answer 429, and `temporarily_unavailable` is the
        // code a client retries on.
        Refusal::RateLimited { why, .. } => {
            EcitizenError::json(OAuthError::TemporarilyUnavailable, StatusCode::TOO_MANY_REQUESTS, None, why)
        }
        Refusal::Scripted { error, message, status, why } => {
            let (oauth, raw) = match error {
                None => (by_status(status), None),
                Some("system_busy") => (OAuthError::TemporarilyUnavailable, None),
                Some("internal_error") => (OAuthError::ServerError, None),
                Some("spike_arrest" | "quota_violation") => (OAuthError::TemporarilyUnavailable, None),
                Some(code) => match OAuthError::parse(code) {
                    Some(oauth) => (oauth, None),
                    None => (OAuthError::ServerError, Some(code.to_owned())),
                },
            };
            let default_status = match error {
                Some("spike_arrest" | "quota_violation") => StatusCode::TOO_MANY_REQUESTS,
                _ => oauth.token_status(ErrorStatuses::Rfc6749),
            };
            let mut refused = EcitizenError::json(oauth, status.unwrap_or(default_status), None, why);
            if raw.is_some() || message.is_some() {
                refused.scripted = Some(Box::new(ScriptedText { code: raw, description: message.map(str::to_owned) }));
            }
            refused
        }
    }
}

/// The error a bare status stands for.
fn by_status(status: Option<StatusCode>) -> OAuthError {
    match status {
        None | Some(StatusCode::SERVICE_UNAVAILABLE) | Some(StatusCode::TOO_MANY_REQUESTS) => {
            OAuthError::TemporarilyUnavailable
        }
        Some(StatusCode::UNAUTHORIZED) => OAuthError::InvalidClient,
        Some(s) if s.is_server_error() => OAuthError::ServerError,
        Some(_) => OAuthError::InvalidRequest,
    }
}

/// What a rule's outcome asks an endpoint to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scripted {
    /// The standard error the code names, if it names one.
    pub error: Option<OAuthError>,
    /// The code as the rule wrote it.
    pub code: String,
    pub description: Option<String>,
    /// `scenario#rule`, for the diagnosis.
    pub rule: String,
}

/// The outcome of the rule that decided, if it has one.
pub(crate) fn outcome(decision: Option<&Decision>) -> Option<Scripted> {
    let decision = decision?;
    let outcome = decision.outcome.as_ref()?;
    let code = match &outcome.result_code {
        ResultCode::Text(text) => text.clone(),
        ResultCode::Number(n) => n.to_string(),
    };
    Some(Scripted {
        error: OAuthError::parse(&code),
        code,
        description: outcome.result_desc.clone(),
        rule: decision.rule.clone(),
    })
}

impl Scripted {
    fn why(&self) -> String {
        format!("scripted by scenario rule {} (outcome {:?})", self.rule, self.code)
    }

    /// The wording on the wire when it is not the standard one.
    fn text(&self, error: OAuthError) -> Option<Box<ScriptedText>> {
        let code = (error.code() != self.code).then(|| self.code.clone());
        (code.is_some() || self.description.is_some())
            .then(|| Box::new(ScriptedText { code, description: self.description.clone() }))
    }

    /// At the authorization endpoint: back to the client's redirect URI.
    pub(crate) fn at_authorize(&self, request: &AuthorizeRequest) -> EcitizenError {
        let error = self.error.unwrap_or(OAuthError::AccessDenied);
        request.refused_as(error, self.text(error), self.why())
    }

    /// At the token endpoint: RFC 6749 §5.2 JSON; `invalid_grant` reads as an
    /// expired code.
    pub(crate) fn at_token(&self, statuses: ErrorStatuses) -> EcitizenError {
        let error = self.error.unwrap_or(OAuthError::InvalidGrant);
        let why = match error {
            OAuthError::InvalidGrant => format!("{}: the code is answered as expired; it stays unused", self.why()),
            _ => self.why(),
        };
        let mut refused = EcitizenError::token(error, statuses, why);
        refused.scripted = self.text(error);
        refused
    }

    /// At user info: the world's refusal of a bad token, or an outage.
    pub(crate) fn at_userinfo(&self, mode: UserInfoErrors) -> EcitizenError {
        let mut refused = match self.error {
            Some(error @ (OAuthError::ServerError | OAuthError::TemporarilyUnavailable)) => {
                EcitizenError::token(error, ErrorStatuses::Rfc6749, self.why())
            }
            _ => EcitizenError::userinfo(mode, self.why()),
        };
        refused.scripted = self.text(refused.error);
        refused
    }

    /// At introspection, for a code other than `inactive`: JSON.
    pub(crate) fn at_introspect(&self, statuses: ErrorStatuses) -> EcitizenError {
        let error = self.error.unwrap_or(OAuthError::InvalidRequest);
        let mut refused = EcitizenError::token(error, statuses, self.why());
        refused.scripted = self.text(error);
        refused
    }

    pub(crate) fn is_inactive(&self) -> bool {
        self.code == INACTIVE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_oauth_fault_errors_become_rfc_6749_json() {
        let scripted = |error: Option<&'static str>, status: Option<StatusCode>| {
            refusal(Refusal::Scripted { error, message: None, status, why: "test".into() })
        };
        let down = scripted(Some("temporarily_unavailable"), None);
        assert_eq!((down.error, down.status()), (OAuthError::TemporarilyUnavailable, StatusCode::SERVICE_UNAVAILABLE));
        let busy = scripted(Some("system_busy"), None);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        let broken = scripted(Some("internal_error"), None);
        assert_eq!((broken.error, broken.status()), (OAuthError::ServerError, StatusCode::INTERNAL_SERVER_ERROR));
        let grant = scripted(Some("invalid_grant"), None);
        assert_eq!(grant.status(), StatusCode::BAD_REQUEST);
        assert_eq!(scripted(None, Some(StatusCode::BAD_GATEWAY)).error, OAuthError::ServerError);
        assert_eq!(scripted(Some("spike_arrest"), None).status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn a_raw_fault_code_and_message_reach_the_wire_as_written() {
        let refused = refusal(Refusal::Scripted {
            error: Some("ECZ-42"),
            message: Some("Gateway says no"),
            status: Some(StatusCode::BAD_GATEWAY),
            why: "test".into(),
        });
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(crate::http::WireError::code(&refused), "ECZ-42");
    }

    #[test]
    fn facts_name_the_user_the_client_and_the_hint() {
        let world = super::super::world::World::from_overlays(&[]).unwrap();
        let subject =
            Subject { client_id: Some("c"), user: world.user(2), login_hint: Some("2"), scope: Some("openid") };
        let fields = subject.fields();
        assert_eq!(fields["user"], "2");
        assert_eq!(fields["client_id"], "c");
        assert_eq!(fields["email"], "wanjiku.kamau@example.com");
        assert!(Subject::default().fields().is_empty());
    }
}
