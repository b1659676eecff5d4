//! The token endpoint (`POST /oauth/access-token`) as pure functions: read
//! the form and the `Authorization` header, authenticate the client, redeem
//! the code, mint the access token and the ID token.
//!
//! Order of checks: repeated parameters, `grant_type`, client
//! authentication, then the code (RFC 6749 §4.1.3, RFC 7636 §4.6).
//! Client authentication accepts the secret in the form (`client_secret_post`,
//! what the guide shows) or HTTP Basic (`client_secret_basic`), never both
//! (RFC 6749 §2.3.1). Basic credentials are form-urlencoded by the RFC, yet
//! many clients send eCitizen's base64 secrets (with `+`, `/`, `=`) raw; a
//! secret matches in either form.
//!
//! **Invariant:** the secret, the code and the verifier never reach a
//! diagnosis or a `Debug` output.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::{EcitizenError, OAuthError};
use super::grants::{Authorization, Grants, IssuedToken, Redemption};
use super::oidc::Oidc;
use super::wire::{first_problem, TokenForm, TokenResponse, UserInfoResponse};
use super::world::{Client, ClientKind, ErrorStatuses, ExpirationDateFormat, User, World};
use crate::httpauth::{self, AuthProblem};
use crate::ids::IdGen;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic,
    /// `client_secret` in the form (`client_secret_post`).
    Post,
    /// No secret: a public client.
    None,
}

/// A well-formed token request.
pub(crate) struct TokenRequest {
    pub client_id: String,
    /// The Basic user form-urldecoded, when that differs from `client_id`.
    alt_client_id: Option<String>,
    pub auth: ClientAuth,
    secret: Option<Presented>,
    code: String,
    pub redirect_uri: String,
    code_verifier: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &self.code_verifier.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// A presented secret, as sent and (for Basic) form-urldecoded.
struct Presented {
    raw: SecretString,
    decoded: Option<SecretString>,
}

/// A successful exchange.
#[derive(Debug)]
pub(crate) struct Exchanged {
    pub response: TokenResponse,
    pub token: IssuedToken,
    pub client_id: String,
}

/// A refused exchange, and the tokens a replayed code revoked (for indexes
/// outside the tenant's [`Grants`]).
#[derive(Debug)]
pub(crate) struct Refused {
    pub error: EcitizenError,
    pub revoked: Vec<String>,
}

impl From<EcitizenError> for Refused {
    fn from(error: EcitizenError) -> Refused {
        Refused { error, revoked: Vec::new() }
    }
}

/// Reads the form and the `Authorization` header into a token request.
pub(crate) fn parse(
    form: &TokenForm,
    authorization: Option<&[u8]>,
    statuses: ErrorStatuses,
) -> Result<TokenRequest, EcitizenError> {
    let invalid = |error: OAuthError, diagnosis: String| EcitizenError::token(error, statuses, diagnosis);
    let params = [
        ("client_id", &form.client_id),
        ("client_secret", &form.client_secret),
        ("grant_type", &form.grant_type),
        ("code", &form.code),
        ("redirect_uri", &form.redirect_uri),
        ("code_verifier", &form.code_verifier),
    ];
    if let Some(problem) = first_problem(&params) {
        return Err(invalid(OAuthError::InvalidRequest, problem));
    }
    match form.grant_type.usable() {
        Some("authorization_code") => {}
        None => {
            return Err(invalid(
                OAuthError::InvalidRequest,
                "grant_type is missing; set it to \"authorization_code\"".into(),
            ))
        }
        Some(other) => {
            return Err(invalid(
                OAuthError::UnsupportedGrantType,
                format!(
                    "grant_type {:?} is not served; eCitizen relying parties use \"authorization_code\"",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
    }

    let body_id = form.client_id.usable();
    let body_secret = form.client_secret.usable();
    let (client_id, alt_client_id, auth, secret) = match authorization {
        Some(header) => {
            let basic = |diagnosis: String| invalid(OAuthError::InvalidClient, diagnosis).after_basic_auth();
            let (user, password) = httpauth::basic(Some(header)).map_err(|problem| match problem {
                AuthProblem::WrongScheme { .. } => {
                    basic(format!("{problem}; authenticate with client_secret in the form or HTTP Basic"))
                }
                other => basic(format!("{other}; send Basic base64(client_id:client_secret)")),
            })?;
            if body_secret.is_some() {
                return Err(invalid(
                    OAuthError::InvalidRequest,
                    "the client authenticated twice (HTTP Basic and client_secret in the form); RFC 6749 §2.3.1 allows one method".into(),
                ));
            }
            let decoded_user = form_decode(&user);
            if let Some(id) = body_id {
                if id != user && id != decoded_user {
                    return Err(basic(format!(
                        "client_id {id:?} in the form differs from the client_id in the Basic credentials"
                    )));
                }
            }
            let decoded = form_decode(&password);
            let decoded = (decoded != password).then(|| SecretString::from(decoded));
            let alt = (decoded_user != user).then_some(decoded_user);
            (user, alt, ClientAuth::Basic, Some(Presented { raw: SecretString::from(password), decoded }))
        }
        None => {
            let Some(id) = body_id else {
                return Err(invalid(
                    OAuthError::InvalidClient,
                    "no client authentication: send client_id and client_secret in the form, or HTTP Basic".into(),
                ));
            };
            match body_secret {
                Some(secret) => (
                    id.to_owned(),
                    None,
                    ClientAuth::Post,
                    Some(Presented { raw: SecretString::from(secret.to_owned()), decoded: None }),
                ),
                None => (id.to_owned(), None, ClientAuth::None, None),
            }
        }
    };

    let Some(code) = form.code.usable() else {
        return Err(invalid(OAuthError::InvalidRequest, "code is missing; send the code from the redirect".into()));
    };
    let Some(redirect_uri) = form.redirect_uri.usable() else {
        return Err(invalid(
            OAuthError::InvalidRequest,
            "redirect_uri is missing; send the one of the authorization request".into(),
        ));
    };
    Ok(TokenRequest {
        client_id,
        alt_client_id,
        auth,
        secret,
        code: code.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        code_verifier: form.code_verifier.usable().map(str::to_owned),
    })
}

impl TokenRequest {
    /// The authorization code presented (a credential: never log it).
    pub(crate) fn code(&self) -> &str {
        &self.code
    }
}

/// Authenticates the client (RFC 6749 §2.3): a confidential client must
/// present its secret, a public one must present none.
pub(crate) fn authenticate<'w>(request: &TokenRequest, world: &'w World) -> Result<&'w Client, EcitizenError> {
    let statuses = world.settings.error_statuses;
    let refuse = |diagnosis: String| {
        let error = EcitizenError::token(OAuthError::InvalidClient, statuses, diagnosis);
        if request.auth == ClientAuth::Basic {
            error.after_basic_auth()
        } else {
            error
        }
    };
    let found =
        world.client(&request.client_id).or_else(|| request.alt_client_id.as_deref().and_then(|id| world.client(id)));
    let Some(client) = found else {
        return Err(refuse(format!(
            "client_id {:?} is not registered; GET /__sandbox/credentials lists this sandbox's clients",
            request.client_id.chars().take(100).collect::<String>()
        )));
    };
    match (client.kind, &client.client_secret, &request.secret) {
        (ClientKind::Confidential, Some(registered), Some(presented)) => {
            if !secret_matches(presented, registered) {
                return Err(refuse(format!("the client_secret is not the secret of client {:?}", client.client_id)));
            }
        }
        (ClientKind::Confidential, _, None) => {
            return Err(refuse(format!(
                "client {:?} is confidential: send its client_secret in the form or with HTTP Basic",
                client.client_id
            )))
        }
        (ClientKind::Public, _, Some(_)) => {
            return Err(refuse(format!("client {:?} is public and has no secret; send none", client.client_id)))
        }
        (ClientKind::Public, _, None) => {}
        // World resolution gives every confidential client a secret.
        (ClientKind::Confidential, None, Some(_)) => {
            return Err(refuse(format!("client {:?} has no secret registered", client.client_id)))
        }
    }
    Ok(client)
}

/// The whole exchange: authenticate, redeem the code, mint the tokens
/// ([`redeem`], then [`respond`]); the handler calls the two apart.
pub(crate) fn exchange(
    request: &TokenRequest,
    world: &World,
    grants: &mut Grants,
    ids: &mut IdGen,
    oidc: &Oidc,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<Exchanged, Refused> {
    let redeemed = redeem(request, world, grants, ids, now)?;
    respond(redeemed, world, oidc, issuer)
}

/// A redeemed code and the access token minted for it, before the response
/// (and its ID token) is made.
#[derive(Debug)]
pub(crate) struct Redeemed {
    pub authorization: Authorization,
    pub token: IssuedToken,
    pub user: User,
    pub now: DateTime<Utc>,
}

/// Authenticates the client, redeems the code and mints the access token:
/// the part of the exchange that changes the tenant's state (the handler
/// runs it under the tenant's lock, and signs the ID token after).
pub(crate) fn redeem(
    request: &TokenRequest,
    world: &World,
    grants: &mut Grants,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Redeemed, Refused> {
    let settings = &world.settings;
    let client = authenticate(request, world)?;
    let redemption = Redemption {
        code: &request.code,
        client_id: &client.client_id,
        redirect_uri: &request.redirect_uri,
        code_verifier: request.code_verifier.as_deref(),
    };
    let authorization = match grants.redeem(redemption, now) {
        Ok(authorization) => authorization,
        Err(problem) => {
            let error = EcitizenError::token(OAuthError::InvalidGrant, settings.error_statuses, problem.diagnosis());
            let revoked = match problem {
                super::grants::RedeemError::Replayed { revoked } => revoked,
                _ => Vec::new(),
            };
            return Err(Refused { error, revoked });
        }
    };
    let Some(user) = world.user(authorization.user_id) else {
        return Err(EcitizenError::token(
            OAuthError::InvalidGrant,
            settings.error_statuses,
            format!("user {} who approved the code no longer exists", authorization.user_id),
        )
        .into());
    };
    let Some(token) = grants.issue_token(ids, &request.code, now, settings.token_ttl_secs) else {
        return Err(server_error(settings.error_statuses, "the redeemed code vanished before its token was issued"));
    };
    Ok(Redeemed { authorization, token, user: user.clone(), now })
}

/// The token response for a redeemed code, with its RS256 ID token (the
/// costly part, which needs no tenant state).
pub(crate) fn respond(redeemed: Redeemed, world: &World, oidc: &Oidc, issuer: &str) -> Result<Exchanged, Refused> {
    let settings = &world.settings;
    let Redeemed { authorization, token, user, now } = redeemed;
    let id_token = if settings.token_id_token {
        let claims = UserInfoResponse::from_user(&user, settings.userinfo_keys, false);
        match oidc.id_token(issuer, &authorization, &claims, &token) {
            Ok(jwt) => Some(jwt),
            Err(e) => {
                return Err(Refused {
                    revoked: vec![token.token],
                    ..server_error(settings.error_statuses, &format!("the ID token could not be signed: {e}"))
                })
            }
        }
    } else {
        None
    };
    let lifetime = u64::try_from(token.expires_at.signed_duration_since(now).num_seconds()).unwrap_or(0);
    let response = TokenResponse {
        access_token: token.token.clone(),
        token_type: "bearer",
        expiration_date: settings
            .token_expiration_date
            .then(|| expiration_date(token.expires_at, settings.expiration_date_format)),
        expires_in: settings.token_expires_in.then_some(lifetime),
        id_token,
    };
    Ok(Exchanged { response, token, client_id: authorization.client_id })
}

/// `expiration_date` of the token response in the world's format.
pub(crate) fn expiration_date(at: DateTime<Utc>, format: ExpirationDateFormat) -> String {
    match format {
        ExpirationDateFormat::Rfc3339 => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ExpirationDateFormat::Naive => at.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

fn server_error(statuses: ErrorStatuses, diagnosis: &str) -> Refused {
    EcitizenError::token(OAuthError::ServerError, statuses, format!("sandbox bug: {diagnosis}")).into()
}

/// Constant-time comparison of a presented secret, raw or form-urldecoded,
/// with the registered one.
fn secret_matches(presented: &Presented, registered: &SecretString) -> bool {
    let registered = registered.expose_secret().as_bytes();
    let raw = bool::from(presented.raw.expose_secret().as_bytes().ct_eq(registered));
    let decoded =
        presented.decoded.as_ref().is_some_and(|d| bool::from(d.expose_secret().as_bytes().ct_eq(registered)));
    raw | decoded
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space).
fn form_decode(value: &str) -> String {
    let escaped = format!("v={}", value.replace('&', "%26"));
    url::form_urlencoded::parse(escaped.as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::pkce::{ChallengeMethod, PkcePair};
    use crate::ecitizen::error::{Challenge, Render};
    use crate::ecitizen::grants::StoredChallenge;
    use crate::ecitizen::world::WorldDoc;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use chrono::{TimeDelta, TimeZone};

    const CLIENT: &str = "PesaSandboxEcitizenClient";
    const SECRET: &str = "PesaSandboxEcitizenSecret";
    const CB: &str = "http://localhost:3000/callback";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    struct Fixture {
        world: World,
        grants: Grants,
        ids: IdGen,
        oidc: Oidc,
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
    }

    fn fixture(fragment: &str) -> Fixture {
        let world = World::from_overlays(&[WorldDoc::parse_fragment(fragment).unwrap()]).unwrap();
        Fixture { world, grants: Grants::default(), ids: IdGen::new(1, "t"), oidc: Oidc::from_committed_key().unwrap() }
    }

    impl Fixture {
        fn code(&mut self, client_id: &str, pkce: bool) -> String {
            let challenge = pkce.then(|| StoredChallenge {
                challenge: PkcePair::from_verifier(VERIFIER).unwrap().challenge,
                method: ChallengeMethod::S256,
            });
            let authorization = Authorization {
                client_id: client_id.into(),
                redirect_uri: CB.into(),
                user_id: 2,
                scope: "openid".into(),
                nonce: None,
                challenge,
                auth_time: t0(),
            };
            self.grants.issue_code(&mut self.ids, authorization, t0(), 600)
        }

        fn exchange(&mut self, body: &str, header: Option<&str>, now: DateTime<Utc>) -> Result<Exchanged, Refused> {
            let form = TokenForm::parse(body.as_bytes());
            let request = parse(&form, header.map(str::as_bytes), self.world.settings.error_statuses)?;
            exchange(&request, &self.world, &mut self.grants, &mut self.ids, &self.oidc, "http://sandbox", now)
        }
    }

    fn body(code: &str, extra: &str) -> String {
        format!(
            "client_id={CLIENT}&client_secret={SECRET}&grant_type=authorization_code&code={code}&redirect_uri={CB}&code_verifier={VERIFIER}{extra}"
        )
    }

    fn refused(result: Result<Exchanged, Refused>) -> EcitizenError {
        match result {
            Ok(ok) => panic!("expected a refusal, got {ok:?}"),
            Err(refused) => refused.error,
        }
    }

    #[test]
    fn the_guides_curl_request_gets_the_guides_keys_and_more() {
        let mut f = fixture("");
        let code = f.code(CLIENT, true);
        let done = f.exchange(&body(&code, ""), None, t0()).expect("exchange works");
        let json = serde_json::to_value(&done.response).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["access_token", "expiration_date", "expires_in", "id_token", "token_type"]);
        assert_eq!(json["token_type"], "bearer");
        assert_eq!(json["expires_in"], 3600);
        assert_eq!(json["expiration_date"], "2026-01-01T09:00:00Z");
        assert!(f.grants.live_token(&done.token.token, t0()).is_some());
    }

    #[test]
    fn basic_authentication_works_raw_or_form_encoded() {
        let mut f =
            fixture("[[ecitizen.clients]]\nclient_id = \"PesaSandboxEcitizenClient\"\nclient_secret = \"a+b/c=\"\n");
        let no_secret = format!("grant_type=authorization_code&redirect_uri={CB}&code_verifier={VERIFIER}");
        for credentials in ["PesaSandboxEcitizenClient:a+b/c=", "PesaSandboxEcitizenClient:a%2Bb%2Fc%3D"] {
            let code = f.code(CLIENT, true);
            let header = format!("Basic {}", STANDARD.encode(credentials));
            let result = f.exchange(&format!("{no_secret}&code={code}"), Some(&header), t0());
            assert!(result.is_ok(), "{credentials}: {:?}", result.err());
        }
    }

    #[test]
    fn a_wrong_basic_secret_is_401_with_a_challenge() {
        let mut f = fixture("");
        let code = f.code(CLIENT, true);
        let header = format!("Basic {}", STANDARD.encode(format!("{CLIENT}:wrong")));
        let body = format!("grant_type=authorization_code&code={code}&redirect_uri={CB}&code_verifier={VERIFIER}");
        let err = refused(f.exchange(&body, Some(&header), t0()));
        assert_eq!(err.error, OAuthError::InvalidClient);
        assert_eq!(
            err.render,
            Render::Json { status: axum::http::StatusCode::UNAUTHORIZED, challenge: Some(Challenge::Basic) }
        );
        assert!(!err.diagnosis.contains("wrong"));
    }

    #[test]
    fn each_token_request_problem_gets_its_rfc_error() {
        let mut f = fixture("");
        let code = f.code(CLIENT, true);
        let cases: Vec<(String, Option<String>, OAuthError)> = vec![
            (body(&code, "&code=again"), None, OAuthError::InvalidRequest),
            (body(&code, "").replace("grant_type=authorization_code&", ""), None, OAuthError::InvalidRequest),
            (
                body(&code, "").replace("authorization_code", "client_credentials"),
                None,
                OAuthError::UnsupportedGrantType,
            ),
            (body(&code, "").replace("authorization_code", "refresh_token"), None, OAuthError::UnsupportedGrantType),
            (body(&code, "").replace(&format!("code={code}&"), ""), None, OAuthError::InvalidRequest),
            (body(&code, "").replace(&format!("redirect_uri={CB}&"), ""), None, OAuthError::InvalidRequest),
            (body(&code, "").replace(SECRET, "wrong"), None, OAuthError::InvalidClient),
            (body(&code, "").replace(&format!("client_secret={SECRET}&"), ""), None, OAuthError::InvalidClient),
            (body(&code, "").replace(&format!("client_id={CLIENT}&"), ""), None, OAuthError::InvalidClient),
            (body(&code, "").replace(CLIENT, "nobody"), None, OAuthError::InvalidClient),
            (
                body(&code, ""),
                Some(format!("Basic {}", STANDARD.encode(format!("{CLIENT}:{SECRET}")))),
                OAuthError::InvalidRequest,
            ),
            (body(&code, "").replace(VERIFIER, "short"), None, OAuthError::InvalidGrant),
            (
                body(&code, "").replace(VERIFIER, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
                None,
                OAuthError::InvalidGrant,
            ),
            (body(&code, "").replace(&format!("&code_verifier={VERIFIER}"), ""), None, OAuthError::InvalidGrant),
            (body(&code, "").replace(CB, "http://localhost:3000/other"), None, OAuthError::InvalidGrant),
            (body("unknown", ""), None, OAuthError::InvalidGrant),
            (body(&code, ""), Some("Bearer abc".into()), OAuthError::InvalidClient),
        ];
        for (request, header, expected) in cases {
            let err = refused(f.exchange(&request, header.as_deref(), t0()));
            assert_eq!(err.error, expected, "{request} → {}", err.diagnosis);
            for secret in [SECRET, VERIFIER, code.as_str()] {
                assert!(!err.diagnosis.contains(secret), "{}", err.diagnosis);
            }
        }
        assert!(f.exchange(&body(&code, ""), None, t0()).is_ok(), "none of the failures burned the code");
    }

    #[test]
    fn a_replay_is_refused_and_reports_the_revoked_token() {
        let mut f = fixture("");
        let code = f.code(CLIENT, true);
        let first = f.exchange(&body(&code, ""), None, t0()).unwrap();
        let Err(again) = f.exchange(&body(&code, ""), None, t0()) else { panic!("a replay must fail") };
        assert_eq!(again.error.error, OAuthError::InvalidGrant);
        assert_eq!(again.revoked, vec![first.token.token.clone()]);
        assert!(f.grants.live_token(&first.token.token, t0()).is_none());
    }

    #[test]
    fn an_expired_code_is_invalid_grant_and_the_422_switch_applies() {
        let mut f = fixture("[ecitizen]\nerror_statuses = \"ex_oauth2_provider\"\n");
        let code = f.code(CLIENT, true);
        let err = refused(f.exchange(&body(&code, ""), None, t0() + TimeDelta::seconds(601)));
        assert_eq!(err.error, OAuthError::InvalidGrant);
        assert_eq!(err.status().as_u16(), 422);
        assert!(err.diagnosis.contains("expired"), "{}", err.diagnosis);
    }

    #[test]
    fn a_public_client_exchanges_with_pkce_and_no_secret() {
        let mut f = fixture(
            "[[ecitizen.clients]]\nclient_id = \"spa\"\nredirect_uris = [\"http://localhost:3000/callback\"]\n",
        );
        let code = f.code("spa", true);
        let request = format!(
            "client_id=spa&grant_type=authorization_code&code={code}&redirect_uri={CB}&code_verifier={VERIFIER}"
        );
        assert!(f.exchange(&request, None, t0()).is_ok());
        let code = f.code("spa", true);
        let with_secret = format!(
            "client_id=spa&client_secret=x&grant_type=authorization_code&code={code}&redirect_uri={CB}&code_verifier={VERIFIER}"
        );
        assert_eq!(refused(f.exchange(&with_secret, None, t0())).error, OAuthError::InvalidClient);
    }

    #[test]
    fn switches_drop_the_optional_keys() {
        let mut f = fixture(
            "[ecitizen]\ntoken_expires_in = false\ntoken_id_token = false\nexpiration_date_format = \"naive\"\n",
        );
        let code = f.code(CLIENT, true);
        let json = serde_json::to_value(f.exchange(&body(&code, ""), None, t0()).unwrap().response).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 3);
        assert_eq!(json["expiration_date"], "2026-01-01T09:00:00");
    }

    #[test]
    fn debug_output_hides_the_secret_code_and_verifier() {
        let form = TokenForm::parse(body("C0DE", "").as_bytes());
        let request = parse(&form, None, ErrorStatuses::Rfc6749).unwrap();
        let debug = format!("{request:?}");
        for secret in [SECRET, VERIFIER, "C0DE"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn any_form_and_header_are_judged_without_panicking() {
        use proptest::prelude::*;
        let f = fixture("");
        proptest!(|(body in proptest::collection::vec(any::<u8>(), 0..300), header in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80)))| {
            let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
            let form = TokenForm::parse(&body);
            if let Ok(request) = parse(&form, header.as_deref(), ErrorStatuses::Rfc6749) {
                let _ = exchange(&request, &f.world, &mut grants, &mut ids, &f.oidc, "http://sandbox", t0());
            }
        });
    }
}
