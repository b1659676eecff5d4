//! eCitizen SSO wire types, the only serde types of the provider: request
//! parameters as parsed from a query string or form body, and response
//! bodies in the order the eCitizen guide shows their keys.
//!
//! Requests are parsed leniently into [`Param`]s that remember whether a
//! parameter was absent, present once or repeated; the endpoint checks
//! ([`super::authorize`], [`super::token`]) decide which RFC error each case
//! is. Unknown parameters are ignored (RFC 6749 §3.1), and a parameter sent
//! without a value counts as absent (same section).
//!
//! **Invariant:** parsing never fails and never panics, whatever the bytes.
//! **Invariant:** `Debug` of a request type shows whether a secret parameter
//! (code, client secret, verifier, token) was sent, never its value.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::world::{User, UserInfoKeys};

/// Longest parameter value accepted; longer ones are `invalid_request`, so a
/// hostile `state` cannot turn into a huge `Location` header.
pub(crate) const MAX_PARAM_LEN: usize = 4096;

/// One request parameter.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum Param {
    /// Not sent, or sent with an empty value.
    #[default]
    Absent,
    One(String),
    /// Sent more than once (RFC 6749 §3.1: "MUST NOT be included more than once").
    Repeated,
}

/// Why a parameter's value cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamProblem {
    #[error("is sent more than once")]
    Repeated,
    #[error("is {len} characters long; at most {MAX_PARAM_LEN} are accepted")]
    TooLong { len: usize },
}

impl Param {
    /// The value, if sent exactly once and not too long.
    pub(crate) fn get(&self) -> Result<Option<&str>, ParamProblem> {
        match self {
            Param::Absent => Ok(None),
            Param::Repeated => Err(ParamProblem::Repeated),
            Param::One(value) if value.len() > MAX_PARAM_LEN => Err(ParamProblem::TooLong { len: value.len() }),
            Param::One(value) => Ok(Some(value)),
        }
    }

    /// The value when it is usable, ignoring problems (for echoing `state`
    /// into an error redirect only when that is safe).
    pub(crate) fn usable(&self) -> Option<&str> {
        self.get().ok().flatten()
    }

    pub(crate) fn is_absent(&self) -> bool {
        matches!(self, Param::Absent)
    }

    fn add(&mut self, value: String) {
        if value.is_empty() {
            return;
        }
        *self = match self {
            Param::Absent => Param::One(value),
            Param::One(_) | Param::Repeated => Param::Repeated,
        };
    }

    /// `absent`, `present` or `repeated`: what `Debug` shows of a secret.
    fn presence(&self) -> &'static str {
        match self {
            Param::Absent => "absent",
            Param::One(_) => "present",
            Param::Repeated => "repeated",
        }
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::One(value) => write!(f, "{value:?}"),
            other => f.write_str(other.presence()),
        }
    }
}

/// The first parameter that is repeated or too long, as `"<name> <problem>"`
/// for a diagnosis (RFC 6749 §3.1 makes either `invalid_request`).
pub(crate) fn first_problem(params: &[(&'static str, &Param)]) -> Option<String> {
    params.iter().find_map(|(name, param)| param.get().err().map(|problem| format!("{name} {problem}")))
}

/// Adds one decoded `application/x-www-form-urlencoded` value to the slot
/// its key picked; keys no slot knows are ignored (RFC 6749 §3.1).
fn add_pair(slot: Option<&mut Param>, value: std::borrow::Cow<'_, str>) {
    if let Some(param) = slot {
        param.add(value.into_owned());
    }
}

/// The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core
/// §3.1.2.1), in the order of the eCitizen guide's parameter table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuthorizeQuery {
    pub redirect_uri: Param,
    pub client_id: Param,
    pub response_type: Param,
    pub scope: Param,
    pub state: Param,
    pub code_challenge: Param,
    pub code_challenge_method: Param,
    /// OpenID Connect: echoed into the ID token.
    pub nonce: Param,
    /// OpenID Connect: the user to log in (id, ID number or e-mail).
    pub login_hint: Param,
    /// OpenID Connect: `none` asks for no page at all.
    pub prompt: Param,
    /// Only `query` is served.
    pub response_mode: Param,
}

impl AuthorizeQuery {
    /// Parses a raw query string (without the `?`).
    pub(crate) fn parse(raw: &[u8]) -> AuthorizeQuery {
        let mut q = AuthorizeQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw) {
            add_pair(q.slot(&key), value);
        }
        q
    }

    fn slot(&mut self, key: &str) -> Option<&mut Param> {
        Some(match key {
            "redirect_uri" => &mut self.redirect_uri,
            "client_id" => &mut self.client_id,
            "response_type" => &mut self.response_type,
            "scope" => &mut self.scope,
            "state" => &mut self.state,
            "code_challenge" => &mut self.code_challenge,
            "code_challenge_method" => &mut self.code_challenge_method,
            "nonce" => &mut self.nonce,
            "login_hint" => &mut self.login_hint,
            "prompt" => &mut self.prompt,
            "response_mode" => &mut self.response_mode,
            _ => return None,
        })
    }
}

/// What the login page posts to `POST /oauth/authorize`: the authorization
/// request again (hidden fields), the user picked and the button pressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoginForm {
    pub request: AuthorizeQuery,
    /// The picked user's id.
    pub user: Param,
    /// `proceed` or `back`.
    pub decision: Param,
}

impl LoginForm {
    pub(crate) fn parse(body: &[u8]) -> LoginForm {
        let mut form = LoginForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "user" => Some(&mut form.user),
                "decision" => Some(&mut form.decision),
                other => form.request.slot(other),
            };
            add_pair(slot, value);
        }
        form
    }
}

/// The token request form (RFC 6749 §4.1.3, RFC 7636 §4.5), in the order of
/// the eCitizen guide's curl example.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenForm {
    pub client_id: Param,
    pub client_secret: Param,
    pub grant_type: Param,
    pub code: Param,
    pub redirect_uri: Param,
    pub code_verifier: Param,
}

impl TokenForm {
    pub(crate) fn parse(body: &[u8]) -> TokenForm {
        let mut form = TokenForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "client_id" => Some(&mut form.client_id),
                "client_secret" => Some(&mut form.client_secret),
                "grant_type" => Some(&mut form.grant_type),
                "code" => Some(&mut form.code),
                "redirect_uri" => Some(&mut form.redirect_uri),
                "code_verifier" => Some(&mut form.code_verifier),
                _ => None,
            };
            add_pair(slot, value);
        }
        form
    }
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.presence())
            .field("grant_type", &self.grant_type)
            .field("code", &self.code.presence())
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &self.code_verifier.presence())
            .finish()
    }
}

/// The introspection form (RFC 7662 §2.1).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct IntrospectForm {
    pub token: Param,
    /// Ignored, as RFC 7662 §2.1 allows.
    pub token_type_hint: Param,
}

impl IntrospectForm {
    pub(crate) fn parse(body: &[u8]) -> IntrospectForm {
        let mut form = IntrospectForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "token" => Some(&mut form.token),
                "token_type_hint" => Some(&mut form.token_type_hint),
                _ => None,
            };
            add_pair(slot, value);
        }
        form
    }
}

impl std::fmt::Debug for IntrospectForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectForm")
            .field("token", &self.token.presence())
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

/// The user-info query: the token as `?access_token=` (what integrations send).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct UserInfoQuery {
    pub access_token: Param,
}

impl UserInfoQuery {
    pub(crate) fn parse(raw: &[u8]) -> UserInfoQuery {
        let mut query = UserInfoQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw) {
            add_pair((key == "access_token").then_some(&mut query.access_token), value);
        }
        query
    }
}

impl std::fmt::Debug for UserInfoQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfoQuery").field("access_token", &self.access_token.presence()).finish()
    }
}

// ---------------------------------------------------------------------------
// Responses.

/// `POST /oauth/access-token` success: the guide's three keys, then what
/// standard clients need. Each optional key is a world switch.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    /// `bearer`, as ExOauth2Provider writes it (RFC 6749 §5.1: case-insensitive).
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expiration_date", &self.expiration_date)
            .field("expires_in", &self.expires_in)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `POST /api/oauth/token/introspect`: exactly the guide's two shapes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum IntrospectionResponse {
    Active(ActiveIntrospection),
    Inactive(InactiveIntrospection),
}

impl IntrospectionResponse {
    pub(crate) fn inactive() -> IntrospectionResponse {
        IntrospectionResponse::Inactive(InactiveIntrospection { active: false })
    }
}

/// `{"active": true, "scope": null, "token_type": "authorization_code", "client_id": "…"}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct ActiveIntrospection {
    pub active: bool,
    /// `null` in the guide; the granted scope when the world asks for it.
    pub scope: Option<String>,
    /// `authorization_code` in the guide (not RFC 7662's `Bearer`).
    pub token_type: &'static str,
    pub client_id: String,
}

/// `{"active": false}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct InactiveIntrospection {
    pub active: bool,
}

/// `GET /api/userinfo`: the guide's keys in the guide's order; `Gender` and
/// `Kra_pin_number` capitalised unless the world asks for snake case, and
/// `sub` appended for OpenID Connect clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfoResponse {
    pub user: User,
    /// OpenID Connect Core §5.3.2 requires `sub`; it equals the ID token's.
    pub sub: Option<String>,
    pub keys: UserInfoKeys,
    /// Leave out absent fields instead of writing `null` (ID tokens do, as
    /// OIDC Core §5.3.2 recommends; the user-info endpoint writes `null`).
    pub omit_nulls: bool,
}

impl UserInfoResponse {
    pub(crate) fn from_user(user: &User, keys: UserInfoKeys, with_sub: bool) -> UserInfoResponse {
        UserInfoResponse { user: user.clone(), sub: with_sub.then(|| user.id.to_string()), keys, omit_nulls: false }
    }
}

impl Serialize for UserInfoResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A hand-written impl because two keys change spelling with a world
        // switch; the order below is the guide's.
        let (gender_key, kra_key) = match self.keys {
            UserInfoKeys::Seed => ("Gender", "Kra_pin_number"),
            UserInfoKeys::SnakeCase => ("gender", "kra_pin_number"),
        };
        let user = &self.user;
        let mut s = serializer.serialize_struct("UserInfo", 14)?;
        s.serialize_field("id", &user.id)?;
        s.serialize_field("id_number", &user.id_number)?;
        s.serialize_field("email", &user.email)?;
        s.serialize_field("active", &user.active)?;
        let names: [(&'static str, &Option<String>); 3] =
            [("first_name", &user.first_name), ("last_name", &user.last_name), ("surname", &user.surname)];
        for (key, value) in names {
            self.optional_field(&mut s, key, value)?;
        }
        s.serialize_field("account_type", &user.account_type)?;
        self.optional_field(&mut s, "mobile_number", &user.mobile_number)?;
        s.serialize_field("mobile_verified", &user.mobile_verified)?;
        self.optional_field(&mut s, gender_key, &user.gender)?;
        self.optional_field(&mut s, kra_key, &user.kra_pin_number)?;
        self.optional_field(&mut s, "dob", &user.dob)?;
        match &self.sub {
            Some(sub) => s.serialize_field("sub", sub)?,
            None => s.skip_field("sub")?,
        }
        s.end()
    }
}

impl UserInfoResponse {
    fn optional_field<S: SerializeStruct>(
        &self,
        s: &mut S,
        key: &'static str,
        value: &Option<String>,
    ) -> Result<(), S::Error> {
        match value {
            None if self.omit_nulls => s.skip_field(key),
            value => s.serialize_field(key, value),
        }
    }
}

/// The RFC 6749 §5.2 error body, also used by the guide's user-info failure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct OAuthErrorBody<'a> {
    pub error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<&'a str>,
}

/// Phoenix's default JSON error view, `{"errors":{"detail":"Not Found"}}`,
/// for paths and methods nothing serves (accounts.ecitizen.go.ke runs
/// Phoenix; the body is a guess from the framework's default).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct BareErrorBody {
    pub errors: BareErrorDetail,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct BareErrorDetail {
    pub detail: &'static str,
}

/// OpenID Connect Discovery 1.0 §3 provider metadata.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    /// RFC 8414 §2 (RFC 7662 endpoint).
    pub introspection_endpoint: String,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub request_parameter_supported: bool,
    pub authorization_response_iss_parameter_supported: bool,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// An RSA public signing key (RFC 7517 §4, RFC 7518 §6.3.1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// The ID token's claims (OIDC Core §2): the registered ones, then the
/// user-info fields under their user-info names (no public source documents
/// eCitizen's ID-token claims; the reference notes recommend these).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
    #[serde(flatten)]
    pub user: UserInfoResponse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::world::World;
    use proptest::prelude::*;

    fn user(id: u64) -> User {
        World::from_overlays(&[]).unwrap().user(id).unwrap().clone()
    }

    #[test]
    fn repeated_and_empty_parameters_are_told_apart() {
        let q = AuthorizeQuery::parse(b"client_id=a&client_id=b&state=&scope=openid&unknown=1");
        assert_eq!(q.client_id, Param::Repeated);
        assert_eq!(q.state, Param::Absent, "a parameter without a value counts as omitted");
        assert_eq!(q.scope.get(), Ok(Some("openid")));
        assert_eq!(q.client_id.get(), Err(ParamProblem::Repeated));
    }

    #[test]
    fn values_are_percent_and_plus_decoded() {
        let q = AuthorizeQuery::parse(b"redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=openid+profile");
        assert_eq!(q.redirect_uri.usable(), Some("http://localhost:3000/callback"));
        assert_eq!(q.scope.usable(), Some("openid profile"));
    }

    #[test]
    fn overlong_values_are_a_problem_not_a_panic() {
        let raw = format!("state={}", "x".repeat(MAX_PARAM_LEN + 1));
        let q = AuthorizeQuery::parse(raw.as_bytes());
        assert_eq!(q.state.get(), Err(ParamProblem::TooLong { len: MAX_PARAM_LEN + 1 }));
        assert_eq!(q.state.usable(), None);
    }

    #[test]
    fn the_login_form_carries_the_request_and_the_choice() {
        let form = LoginForm::parse(b"client_id=c&state=s&user=2&decision=proceed");
        assert_eq!(form.request.client_id.usable(), Some("c"));
        assert_eq!(form.user.usable(), Some("2"));
        assert_eq!(form.decision.usable(), Some("proceed"));
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let form = TokenForm::parse(b"client_secret=S3CRET&code=C0DE&code_verifier=V3RIFIER&client_id=c");
        let debug = format!("{form:?}");
        for secret in ["S3CRET", "C0DE", "V3RIFIER"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("present"));
        assert!(!format!("{:?}", IntrospectForm::parse(b"token=T0KEN")).contains("T0KEN"));
        assert!(!format!("{:?}", UserInfoQuery::parse(b"access_token=T0KEN")).contains("T0KEN"));
    }

    #[test]
    fn introspection_bodies_are_exactly_the_guides() {
        let active = IntrospectionResponse::Active(ActiveIntrospection {
            active: true,
            scope: None,
            token_type: "authorization_code",
            client_id: "278f1ef8168611eebdbf0050560101d6".into(),
        });
        assert_eq!(
            serde_json::to_string(&active).unwrap(),
            r#"{"active":true,"scope":null,"token_type":"authorization_code","client_id":"278f1ef8168611eebdbf0050560101d6"}"#
        );
        assert_eq!(serde_json::to_string(&IntrospectionResponse::inactive()).unwrap(), r#"{"active":false}"#);
    }

    #[test]
    fn user_info_for_the_guides_user_is_the_guides_body() {
        let body = UserInfoResponse::from_user(&user(1), UserInfoKeys::Seed, false);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            concat!(
                r#"{"id":1,"id_number":"12345678","email":"user@ecitizen.com","active":true,"#,
                r#""first_name":"John","last_name":"Doe","surname":"Blah","account_type":"citizen","#,
                r#""mobile_number":"254711000000","mobile_verified":true,"Gender":"m","#,
                r#""Kra_pin_number":"A1000121","dob":"1951-05-28"}"#
            )
        );
    }

    #[test]
    fn user_info_can_be_snake_case_with_sub_and_nulls_for_missing_fields() {
        let body = UserInfoResponse::from_user(&user(4), UserInfoKeys::SnakeCase, true);
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.contains(r#""gender":"m""#), "{json}");
        assert!(json.contains(r#""kra_pin_number":null"#), "{json}");
        assert!(json.contains(r#""surname":null"#), "{json}");
        assert!(json.ends_with(r#""sub":"4"}"#), "{json}");
    }

    #[test]
    fn token_response_keys_follow_the_guide_then_the_standard() {
        let body = TokenResponse {
            access_token: "tok".into(),
            token_type: "bearer",
            expiration_date: Some("2026-01-01T01:00:00Z".into()),
            expires_in: Some(3600),
            id_token: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"access_token":"tok","token_type":"bearer","expiration_date":"2026-01-01T01:00:00Z","expires_in":3600}"#
        );
        assert!(!format!("{body:?}").contains("tok\""));
    }

    #[test]
    fn error_bodies_are_rfc_6749_and_phoenix_shaped() {
        let body = OAuthErrorBody { error: "invalid_grant", error_description: None };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"error":"invalid_grant"}"#);
        let bare = BareErrorBody { errors: BareErrorDetail { detail: "Not Found" } };
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"errors":{"detail":"Not Found"}}"#);
    }

    #[test]
    fn a_jwk_has_its_members_in_the_usual_order() {
        let jwk = Jwk { kty: "RSA", use_: "sig", alg: "RS256", kid: "k".into(), n: "nn".into(), e: "AQAB".into() };
        assert_eq!(
            serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap(),
            r#"{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"k","n":"nn","e":"AQAB"}]}"#
        );
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = AuthorizeQuery::parse(&bytes);
            let _ = LoginForm::parse(&bytes);
            let _ = TokenForm::parse(&bytes);
            let _ = IntrospectForm::parse(&bytes);
            let _ = UserInfoQuery::parse(&bytes);
        }
    }
}
