//! What a live access token opens: introspection
//! (`POST /api/oauth/token/introspect`) and user info (`GET /api/userinfo`,
//! `GET /api/user-info`), as pure functions of the request, the world and
//! the tenant's [`Grants`].
//!
//! Introspection answers the guide's two shapes only: an unknown, expired or
//! revoked token is `200 {"active": false}`, not an error (RFC 7662 §2.2);
//! only a request without a `token` is refused. Like the one integration that
//! calls it, it needs no client authentication.
//!
//! User info takes the token from `?access_token=` (what every integration
//! sends) or `Authorization: Bearer` (RFC 6750), never both (RFC 6750 §2).
//!
//! **Invariant:** no diagnosis contains the token.

use chrono::{DateTime, Utc};

use super::error::{Challenge, EcitizenError, OAuthError};
use super::grants::Grants;
use super::wire::{ActiveIntrospection, IntrospectForm, IntrospectionResponse, UserInfoQuery, UserInfoResponse};
use super::world::{UserInfoErrors, World};
use crate::httpauth::{self, AuthProblem};

/// `POST /api/oauth/token/introspect`.
pub(crate) fn introspect(
    form: &IntrospectForm,
    world: &World,
    grants: &Grants,
    now: DateTime<Utc>,
) -> Result<IntrospectionResponse, EcitizenError> {
    let statuses = world.settings.error_statuses;
    let token = match form.token.get() {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Err(EcitizenError::token(
                OAuthError::InvalidRequest,
                statuses,
                "token is missing; send the access token as the form field token",
            ))
        }
        Err(problem) => {
            return Err(EcitizenError::token(OAuthError::InvalidRequest, statuses, format!("token {problem}")))
        }
    };
    Ok(match grants.live_token(token, now) {
        Some(record) => IntrospectionResponse::Active(ActiveIntrospection {
            active: true,
            scope: world.settings.introspection_scope.then(|| record.scope.clone()),
            token_type: "authorization_code",
            client_id: record.client_id.clone(),
        }),
        None => IntrospectionResponse::inactive(),
    })
}

/// The access token of a user-info request.
pub(crate) fn bearer_token<'r>(
    query: &'r UserInfoQuery,
    authorization: Option<&'r [u8]>,
    mode: UserInfoErrors,
) -> Result<&'r str, EcitizenError> {
    let from_query = query
        .access_token
        .get()
        .map_err(|problem| EcitizenError::malformed_userinfo(format!("access_token {problem}")))?;
    let from_header = match authorization {
        None => None,
        Some(header) => match httpauth::bearer(Some(header)) {
            Ok(token) => Some(token),
            Err(problem @ (AuthProblem::WrongScheme { .. } | AuthProblem::Empty | AuthProblem::NotText)) => {
                return Err(EcitizenError::userinfo(
                    mode,
                    format!("{problem}; send Authorization: Bearer <access_token>"),
                ))
            }
            Err(_) => None,
        },
    };
    match (from_query, from_header) {
        (Some(_), Some(_)) => Err(EcitizenError::malformed_userinfo(
            "the access token came both as ?access_token= and in the Authorization header; RFC 6750 §2 allows one",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(match mode {
            UserInfoErrors::Seed => EcitizenError::userinfo(
                mode,
                "no access token: send ?access_token=<token> (what integrations do) or Authorization: Bearer <token>",
            ),
            // RFC 6750 §3.1: a request without credentials gets a bare challenge.
            UserInfoErrors::Rfc6750 => EcitizenError::json(
                OAuthError::InvalidRequest,
                axum::http::StatusCode::UNAUTHORIZED,
                Some(Challenge::Bearer),
                "no access token: send Authorization: Bearer <token> or ?access_token=<token>",
            ),
        }),
    }
}

/// `GET /api/userinfo` for a token.
pub(crate) fn userinfo(
    token: &str,
    world: &World,
    grants: &Grants,
    now: DateTime<Utc>,
) -> Result<UserInfoResponse, EcitizenError> {
    let mode = world.settings.userinfo_errors;
    let Some(record) = grants.live_token(token, now) else {
        return Err(EcitizenError::userinfo(
            mode,
            "the access token is unknown, expired or revoked (tokens live token_ttl_secs on the sandbox clock)",
        ));
    };
    let Some(user) = world.user(record.user_id) else {
        return Err(EcitizenError::userinfo(mode, format!("user {} of this token no longer exists", record.user_id)));
    };
    Ok(UserInfoResponse::from_user(user, world.settings.userinfo_keys, world.settings.userinfo_sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::grants::{Authorization, Redemption};
    use crate::ecitizen::world::WorldDoc;
    use crate::ids::IdGen;
    use chrono::{TimeDelta, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
    }

    fn world(fragment: &str) -> World {
        World::from_overlays(&[WorldDoc::parse_fragment(fragment).unwrap()]).unwrap()
    }

    /// Grants with one live token for user 3 of the default client.
    fn with_token() -> (Grants, String) {
        let (mut grants, mut ids) = (Grants::default(), IdGen::new(1, "t"));
        let authorization = Authorization {
            client_id: "PesaSandboxEcitizenClient".into(),
            redirect_uri: "http://localhost:3000/callback".into(),
            user_id: 3,
            scope: "openid".into(),
            nonce: None,
            challenge: None,
            auth_time: t0(),
        };
        let code = grants.issue_code(&mut ids, authorization, t0(), 600);
        let redemption = Redemption {
            code: &code,
            client_id: "PesaSandboxEcitizenClient",
            redirect_uri: "http://localhost:3000/callback",
            code_verifier: None,
        };
        grants.redeem(redemption, t0()).unwrap();
        let token = grants.issue_token(&mut ids, &code, t0(), 3600).unwrap().token;
        (grants, token)
    }

    #[test]
    fn a_live_token_introspects_as_the_guide_shows() {
        let (grants, token) = with_token();
        let form = IntrospectForm::parse(format!("token={token}").as_bytes());
        let answer = introspect(&form, &world(""), &grants, t0()).unwrap();
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"active":true,"scope":null,"token_type":"authorization_code","client_id":"PesaSandboxEcitizenClient"}"#
        );
        let scoped = introspect(&form, &world("[ecitizen]\nintrospection_scope = true\n"), &grants, t0()).unwrap();
        assert!(serde_json::to_string(&scoped).unwrap().contains(r#""scope":"openid""#));
    }

    #[test]
    fn unknown_and_expired_tokens_are_inactive_not_errors() {
        let (grants, token) = with_token();
        let late = t0() + TimeDelta::seconds(3600);
        for (form, now) in [(format!("token={token}"), late), ("token=nope".into(), t0())] {
            let answer = introspect(&IntrospectForm::parse(form.as_bytes()), &world(""), &grants, now).unwrap();
            assert_eq!(answer, IntrospectionResponse::inactive());
        }
        let err = introspect(&IntrospectForm::parse(b""), &world(""), &grants, t0()).unwrap_err();
        assert_eq!((err.error, err.status().as_u16()), (OAuthError::InvalidRequest, 400));
    }

    #[test]
    fn user_info_comes_by_query_or_bearer_but_not_both() {
        let (grants, token) = with_token();
        let w = world("");
        let query = UserInfoQuery::parse(format!("access_token={token}").as_bytes());
        let header = format!("Bearer {token}");
        assert_eq!(bearer_token(&query, None, w.settings.userinfo_errors).unwrap(), token);
        let empty = UserInfoQuery::default();
        assert_eq!(bearer_token(&empty, Some(header.as_bytes()), w.settings.userinfo_errors).unwrap(), token);
        let both = bearer_token(&query, Some(header.as_bytes()), w.settings.userinfo_errors).unwrap_err();
        assert_eq!(both.status().as_u16(), 400);
        assert!(!both.diagnosis.contains(&token));
        let info = userinfo(&token, &w, &grants, t0()).unwrap();
        assert_eq!(info.user.id, 3);
        assert_eq!(info.sub.as_deref(), Some("3"));
    }

    #[test]
    fn a_bad_token_gets_the_guides_400_or_rfc_6750s_401() {
        let (grants, token) = with_token();
        let late = t0() + TimeDelta::seconds(3600);
        let err = userinfo(&token, &world(""), &grants, late).unwrap_err();
        assert_eq!((err.error, err.status().as_u16()), (OAuthError::InvalidRequest, 400));
        let strict = world("[ecitizen]\nuserinfo_errors = \"rfc6750\"\n");
        let err = userinfo(&token, &strict, &grants, late).unwrap_err();
        assert_eq!((err.error, err.status().as_u16()), (OAuthError::InvalidToken, 401));
        let missing = bearer_token(&UserInfoQuery::default(), None, strict.settings.userinfo_errors).unwrap_err();
        assert_eq!(missing.status().as_u16(), 401);
        let empty = UserInfoQuery::default();
        let basic = bearer_token(&empty, Some(b"Basic abc"), strict.settings.userinfo_errors);
        assert_eq!(basic.unwrap_err().status().as_u16(), 401);
    }
}
