//! The authorization endpoint's checks and answers (`GET` and `POST
//! /oauth/authorize`), as pure functions of the request and the world.
//!
//! Order of checks, after RFC 6749 §4.1.2.1: first the client and its
//! redirect URI, whose failures are shown on an error page because nothing
//! can safely be sent back; then everything else, whose failures go back to
//! the client's redirect URI with `error`, `error_description` and `state`.
//!
//! How a login happens ([`interaction`]):
//! * normally the login page is shown (a `login_hint` naming a test user
//!   preselects that user);
//! * `prompt=none` with a `login_hint` naming a test user logs that user in
//!   at once, the OpenID Connect way for a browserless test to log in;
//!   `prompt=none` without one is `login_required` (OIDC Core §3.1.2.6);
//! * a client with `auto_approve_user` logs that user (or the hinted one) in
//!   at once, for relying parties that cannot add parameters.
//!
//! **Invariant:** never redirects to a URI that is not registered, exactly,
//! for the client.

use chrono::{DateTime, Utc};

use super::error::{EcitizenError, OAuthError, ScriptedText};
use super::grants::{Authorization, StoredChallenge};
use super::wire::{first_problem, AuthorizeQuery, LoginForm};
use super::world::{Client, PkcePolicy, World};
use crate::crypto::pkce::{self, ChallengeMethod};

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<StoredChallenge>,
    pub login_hint: Option<String>,
    pub prompt_none: bool,
}

/// What the endpoint does with a checked request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interaction {
    /// Show the login page, with this user checked.
    Page { selected: Option<u64> },
    /// Log this user in without a page.
    Approve { user_id: u64 },
}

/// The button pressed on the login page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Proceed { user_id: u64 },
    Back,
}

/// Checks an authorization request against the world.
pub(crate) fn check(query: &AuthorizeQuery, world: &World) -> Result<AuthorizeRequest, EcitizenError> {
    let client = trusted_client(query, world)?;
    // From here on the redirect URI is registered for the client, so errors
    // go back to it.
    let redirect_uri = query.redirect_uri.usable().unwrap_or_default().to_owned();
    let state = query.state.usable().map(str::to_owned);
    let refuse = |error: OAuthError, diagnosis: String| {
        EcitizenError::redirect(error, error_location(&redirect_uri, error, state.as_deref()), diagnosis)
    };

    let others = [
        ("response_type", &query.response_type),
        ("scope", &query.scope),
        ("state", &query.state),
        ("code_challenge", &query.code_challenge),
        ("code_challenge_method", &query.code_challenge_method),
        ("nonce", &query.nonce),
        ("login_hint", &query.login_hint),
        ("prompt", &query.prompt),
        ("response_mode", &query.response_mode),
    ];
    if let Some(problem) = first_problem(&others) {
        return Err(refuse(OAuthError::InvalidRequest, problem));
    }

    match query.response_mode.usable() {
        None | Some("query") => {}
        Some(other) => {
            return Err(refuse(
                OAuthError::InvalidRequest,
                format!("response_mode {:?} is not served; leave it out or send \"query\"", shown(other)),
            ))
        }
    }
    match query.response_type.usable() {
        Some("code") => {}
        None => return Err(refuse(OAuthError::InvalidRequest, "response_type is missing; set it to \"code\"".into())),
        Some(other) => {
            return Err(refuse(
                OAuthError::UnsupportedResponseType,
                format!("response_type is {:?}; eCitizen requires the authorization code flow: \"code\"", shown(other)),
            ))
        }
    }
    let scope = check_scope(query.scope.usable()).map_err(|why| refuse(OAuthError::InvalidScope, why))?;
    if world.settings.require_state && state.is_none() {
        return Err(refuse(
            OAuthError::InvalidRequest,
            "state is missing; send an unguessable value and compare it on the redirect (this world requires it)"
                .into(),
        ));
    }
    let challenge = check_pkce(query, client).map_err(|why| refuse(OAuthError::InvalidRequest, why))?;
    let prompt = query.prompt.usable().unwrap_or_default();
    let prompt_none = prompt.split(' ').any(|p| p == "none");
    if prompt_none && prompt.split(' ').any(|p| !p.is_empty() && p != "none") {
        return Err(refuse(
            OAuthError::InvalidRequest,
            "prompt combines \"none\" with other values (OpenID Connect Core §3.1.2.1 forbids it)".into(),
        ));
    }

    Ok(AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope,
        state,
        nonce: query.nonce.usable().map(str::to_owned),
        challenge,
        login_hint: query.login_hint.usable().map(str::to_owned),
        prompt_none,
    })
}

/// Decides between the login page and an immediate login.
pub(crate) fn interaction(request: &AuthorizeRequest, world: &World) -> Result<Interaction, EcitizenError> {
    let hinted = request.login_hint.as_deref().and_then(|hint| world.user_by_hint(hint)).map(|u| u.id);
    let auto = world.client(&request.client_id).and_then(|c| c.auto_approve_user);
    match (hinted.or(auto), request.prompt_none, auto.is_some()) {
        (Some(user_id), true, _) | (Some(user_id), _, true) => Ok(Interaction::Approve { user_id }),
        (None, true, _) => {
            let why = match &request.login_hint {
                Some(_) => "prompt=none, but login_hint names no test user (use a user's id, ID number or e-mail)",
                None => "prompt=none needs a login_hint naming a test user (or a client with auto_approve_user)",
            };
            Err(refuse_with(request, OAuthError::LoginRequired, why.to_owned()))
        }
        (selected, false, _) => Ok(Interaction::Page { selected }),
    }
}

/// Reads the login page's form: the request is checked again (it came back
/// through the browser), then the button and the user.
pub(crate) fn decision(form: &LoginForm, world: &World) -> Result<(AuthorizeRequest, Decision), EcitizenError> {
    let request = check(&form.request, world)?;
    let decision = match form.decision.get() {
        Ok(Some("back")) => Decision::Back,
        Ok(Some("proceed")) => {
            let user_id = match form.user.get() {
                Ok(Some(user)) => user.parse::<u64>().ok().filter(|id| world.user(*id).is_some()),
                _ => None,
            };
            let Some(user_id) = user_id else {
                return Err(refuse_with(
                    &request,
                    OAuthError::InvalidRequest,
                    "Proceed was pressed without picking a test user that exists".into(),
                ));
            };
            Decision::Proceed { user_id }
        }
        _ => {
            return Err(refuse_with(
                &request,
                OAuthError::InvalidRequest,
                "the login form needs decision=proceed or decision=back".into(),
            ))
        }
    };
    Ok((request, decision))
}

impl AuthorizeRequest {
    /// What a code for this request, approved by `user_id` at `now`, is bound to.
    pub(crate) fn authorization(&self, user_id: u64, now: DateTime<Utc>) -> Authorization {
        Authorization {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            user_id,
            scope: self.scope.clone(),
            nonce: self.nonce.clone(),
            challenge: self.challenge.clone(),
            auth_time: now,
        }
    }

    /// The redirect that completes a login: `code` and `state` (RFC 6749 §4.1.2).
    pub(crate) fn success_location(&self, code: &str) -> String {
        let mut pairs = vec![("code", code)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        with_query(&self.redirect_uri, &pairs)
    }

    /// The answer to **Back** (or a scenario's denial): `error=access_denied`.
    pub(crate) fn denied(&self, diagnosis: impl Into<String>) -> EcitizenError {
        refuse_with(self, OAuthError::AccessDenied, diagnosis.into())
    }

    /// A scenario's refusal sent back to the client, in the rule's words
    /// when it has its own (`text`).
    pub(crate) fn refused_as(
        &self,
        error: OAuthError,
        text: Option<Box<ScriptedText>>,
        diagnosis: impl Into<String>,
    ) -> EcitizenError {
        let scripted = text.as_deref();
        let code = scripted.and_then(|t| t.code.as_deref()).unwrap_or(error.code());
        let description = scripted.and_then(|t| t.description.as_deref()).unwrap_or(error.description());
        let location = location_with(&self.redirect_uri, code, description, self.state.as_deref());
        let mut refused = EcitizenError::redirect(error, location, diagnosis);
        refused.scripted = text;
        refused
    }

    /// The parameters the login page posts back, as hidden fields.
    pub(crate) fn hidden_fields(&self) -> Vec<(&'static str, &str)> {
        let mut fields = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", self.scope.as_str()),
        ];
        let optional = [("state", &self.state), ("nonce", &self.nonce), ("login_hint", &self.login_hint)];
        fields.extend(optional.into_iter().filter_map(|(name, value)| value.as_deref().map(|v| (name, v))));
        if let Some(challenge) = &self.challenge {
            fields.push(("code_challenge", challenge.challenge.as_str()));
            fields.push(("code_challenge_method", challenge.method.as_str()));
        }
        fields
    }
}

/// The client, if `client_id` names one and `redirect_uri` is registered for
/// it; otherwise the error page (RFC 6749 §4.1.2.1).
fn trusted_client<'w>(query: &AuthorizeQuery, world: &'w World) -> Result<&'w Client, EcitizenError> {
    let client_id = match query.client_id.get() {
        Ok(Some(id)) => id,
        Ok(None) => return Err(EcitizenError::page(OAuthError::InvalidRequest, "client_id is missing")),
        Err(problem) => return Err(EcitizenError::page(OAuthError::InvalidRequest, format!("client_id {problem}"))),
    };
    let Some(client) = world.client(client_id) else {
        return Err(EcitizenError::page(
            OAuthError::InvalidClient,
            format!(
                "client_id {:?} is not registered; GET /__sandbox/credentials lists this sandbox's clients",
                shown(client_id)
            ),
        ));
    };
    let redirect_uri = match query.redirect_uri.get() {
        Ok(Some(uri)) => uri,
        Ok(None) => {
            return Err(EcitizenError::page(
                OAuthError::InvalidRequest,
                "redirect_uri is missing; the eCitizen guide marks it mandatory",
            ))
        }
        Err(problem) => return Err(EcitizenError::page(OAuthError::InvalidRequest, format!("redirect_uri {problem}"))),
    };
    if !client.has_redirect_uri(redirect_uri) {
        return Err(EcitizenError::page(
            OAuthError::InvalidRequest,
            format!(
                "redirect_uri {:?} is not registered for client {:?} (matching is exact: scheme, host, port, path and a trailing slash all count); registered: {}",
                shown(redirect_uri),
                client.client_id,
                client.redirect_uris.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(client)
}

/// RFC 6749 §3.3 scope syntax, and `openid` required (the guide: "Pass 'openid'").
fn check_scope(scope: Option<&str>) -> Result<String, String> {
    let Some(scope) = scope else { return Err("scope is missing; pass \"openid\"".into()) };
    let well_formed = scope.split(' ').all(|token| {
        !token.is_empty()
            && token.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    });
    if !well_formed {
        return Err(format!(
            "scope {:?} is not space-separated scope tokens (RFC 6749 §3.3: single spaces, no quotes or backslashes)",
            shown(scope)
        ));
    }
    if !scope.split(' ').any(|token| token == "openid") {
        return Err(format!("scope {:?} lacks \"openid\", which eCitizen requires", shown(scope)));
    }
    Ok(scope.to_owned())
}

/// RFC 7636 §4.3/§4.4.1 at the authorization endpoint, under the client's policy.
fn check_pkce(query: &AuthorizeQuery, client: &Client) -> Result<Option<StoredChallenge>, String> {
    let method = query.code_challenge_method.usable();
    let Some(challenge) = query.code_challenge.usable() else {
        if method.is_some() {
            return Err("code_challenge_method was sent without a code_challenge".into());
        }
        return match client.pkce {
            PkcePolicy::Required => Err(format!(
                "code_challenge is missing; client {:?} must use PKCE with code_challenge_method=S256",
                client.client_id
            )),
            PkcePolicy::Optional => Ok(None),
        };
    };
    // RFC 7636 §4.3: an absent method means plain.
    let method = match method {
        None => ChallengeMethod::Plain,
        Some(name) => ChallengeMethod::parse(name).ok_or_else(|| {
            format!("code_challenge_method {:?} is not supported; use \"S256\" (case-sensitive)", shown(name))
        })?,
    };
    if method == ChallengeMethod::Plain && !client.allow_plain_pkce {
        let why = if query.code_challenge_method.is_absent() {
            "code_challenge_method is missing, which means \"plain\" (RFC 7636 §4.3); send code_challenge_method=S256"
        } else {
            "code_challenge_method \"plain\" is not allowed for this client; use \"S256\""
        };
        return Err(why.into());
    }
    pkce::check_challenge(challenge, method).map_err(|problem| format!("code_challenge {problem}"))?;
    Ok(Some(StoredChallenge { challenge: challenge.to_owned(), method }))
}

fn refuse_with(request: &AuthorizeRequest, error: OAuthError, diagnosis: String) -> EcitizenError {
    EcitizenError::redirect(error, error_location(&request.redirect_uri, error, request.state.as_deref()), diagnosis)
}

/// The redirect that reports an error: `error`, `error_description`, and
/// `state` when the request had one (RFC 6749 §4.1.2.1).
pub(crate) fn error_location(redirect_uri: &str, error: OAuthError, state: Option<&str>) -> String {
    location_with(redirect_uri, error.code(), error.description(), state)
}

fn location_with(redirect_uri: &str, code: &str, description: &str, state: Option<&str>) -> String {
    let mut pairs = vec![("error", code), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    with_query(redirect_uri, &pairs)
}

/// Appends parameters to a registered redirect URI, keeping its own query
/// (RFC 6749 §3.1.2: "MUST retain the query component").
fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        // Registered URIs are checked to parse when the world loads; this
        // arm only keeps the function total.
        Err(_) => {
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            format!("{redirect_uri}{separator}{query}")
        }
    }
}

/// Client-supplied text in a diagnosis, cut short.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(100).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::error::Render;
    use crate::ecitizen::wire::Param;
    use crate::ecitizen::world::WorldDoc;

    const CLIENT: &str = "PesaSandboxEcitizenClient";
    const CB: &str = "http://localhost:3000/callback";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn world() -> World {
        World::from_overlays(&[]).unwrap()
    }

    fn world_with(fragment: &str) -> World {
        World::from_overlays(&[WorldDoc::parse_fragment(fragment).unwrap()]).unwrap()
    }

    fn query(extra: &str) -> AuthorizeQuery {
        let raw = format!(
            "client_id={CLIENT}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code&scope=openid&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
        );
        AuthorizeQuery::parse(raw.as_bytes())
    }

    fn without(name: &str) -> AuthorizeQuery {
        let mut q = query("");
        let param = match name {
            "client_id" => &mut q.client_id,
            "redirect_uri" => &mut q.redirect_uri,
            "response_type" => &mut q.response_type,
            "scope" => &mut q.scope,
            "state" => &mut q.state,
            "code_challenge" => &mut q.code_challenge,
            "code_challenge_method" => &mut q.code_challenge_method,
            other => panic!("no parameter {other}"),
        };
        *param = Param::Absent;
        q
    }

    fn redirected(err: &EcitizenError) -> url::Url {
        match &err.render {
            Render::Redirect { location } => url::Url::parse(location).unwrap(),
            other => panic!("expected a redirect, got {other:?}: {}", err.diagnosis),
        }
    }

    fn query_value(url: &url::Url, name: &str) -> Option<String> {
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    #[test]
    fn the_guides_request_is_accepted() {
        let request = check(&query("&nonce=n1"), &world()).expect("valid");
        assert_eq!(request.redirect_uri, CB);
        assert_eq!(request.state.as_deref(), Some("xyz"));
        assert_eq!(request.challenge.as_ref().map(|c| c.method), Some(ChallengeMethod::S256));
        assert_eq!(request.nonce.as_deref(), Some("n1"));
    }

    #[test]
    fn client_and_redirect_uri_problems_show_a_page_and_never_redirect() {
        let w = world();
        for q in [
            without("client_id"),
            without("redirect_uri"),
            AuthorizeQuery::parse(format!("client_id=nobody&redirect_uri={CB}").as_bytes()),
            AuthorizeQuery::parse(format!("client_id={CLIENT}&redirect_uri=https://evil.example/cb").as_bytes()),
            AuthorizeQuery::parse(format!("client_id={CLIENT}&redirect_uri={CB}/").as_bytes()),
            AuthorizeQuery::parse(format!("client_id={CLIENT}&client_id={CLIENT}&redirect_uri={CB}").as_bytes()),
            AuthorizeQuery::parse(format!("client_id={CLIENT}&redirect_uri={CB}&redirect_uri={CB}").as_bytes()),
        ] {
            let err = check(&q, &w).unwrap_err();
            assert!(matches!(err.render, Render::Page { .. }), "{q:?} gave {err:?}");
        }
    }

    #[test]
    fn other_problems_redirect_with_the_rfc_error_and_the_state() {
        let w = world();
        let cases = [
            (without("response_type"), "invalid_request"),
            (query("&response_type=token").clone(), "invalid_request"),
            (AuthorizeQuery { response_type: Param::One("token".into()), ..query("") }, "unsupported_response_type"),
            (without("scope"), "invalid_scope"),
            (AuthorizeQuery { scope: Param::One("profile".into()), ..query("") }, "invalid_scope"),
            (AuthorizeQuery { scope: Param::One("openid  profile".into()), ..query("") }, "invalid_scope"),
            (without("code_challenge"), "invalid_request"),
            (AuthorizeQuery { code_challenge_method: Param::One("s256".into()), ..query("") }, "invalid_request"),
            (AuthorizeQuery { code_challenge: Param::One(format!("{CHALLENGE}=")), ..query("") }, "invalid_request"),
            (query("&prompt=none+login"), "invalid_request"),
            (query("&response_mode=form_post"), "invalid_request"),
        ];
        for (q, code) in cases {
            let err = check(&q, &w).unwrap_err();
            let url = redirected(&err);
            assert_eq!(query_value(&url, "error").as_deref(), Some(code), "{}", err.diagnosis);
            assert_eq!(query_value(&url, "state").as_deref(), Some("xyz"));
            assert!(query_value(&url, "error_description").is_some());
            assert!(url.as_str().starts_with(CB));
        }
    }

    #[test]
    fn a_missing_state_is_refused_unless_the_world_allows_it() {
        let err = check(&without("state"), &world()).unwrap_err();
        assert_eq!(query_value(&redirected(&err), "state"), None);
        assert_eq!(err.error, OAuthError::InvalidRequest);
        let relaxed = world_with("[ecitizen]\nrequire_state = false\n");
        assert!(check(&without("state"), &relaxed).is_ok());
    }

    #[test]
    fn pkce_follows_the_client_policy() {
        // PKCE is required of every client by default, confidential ones included.
        let no_pkce = AuthorizeQuery { code_challenge: Param::Absent, ..without("code_challenge_method") };
        let err = check(&no_pkce, &world()).unwrap_err();
        assert_eq!(err.error, OAuthError::InvalidRequest);
        assert!(err.diagnosis.contains("code_challenge is missing"), "{}", err.diagnosis);
        // A world relaxes it for a confidential client: then it is checked when sent.
        let relaxed =
            world_with("[[ecitizen.clients]]\nclient_id = \"PesaSandboxEcitizenClient\"\npkce = \"optional\"\n");
        assert_eq!(check(&no_pkce, &relaxed).map(|r| r.challenge), Ok(None));
        // A missing method means plain, refused unless allowed.
        let err = check(&without("code_challenge_method"), &world()).unwrap_err();
        assert!(err.diagnosis.contains("means \"plain\""), "{}", err.diagnosis);
        let plain =
            world_with("[[ecitizen.clients]]\nclient_id = \"PesaSandboxEcitizenClient\"\nallow_plain_pkce = true\n");
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let q = AuthorizeQuery {
            code_challenge: Param::One(verifier.into()),
            code_challenge_method: Param::One("plain".into()),
            ..query("")
        };
        assert_eq!(check(&q, &plain).unwrap().challenge.map(|c| c.method), Some(ChallengeMethod::Plain));
        // A public client must send a challenge.
        let public = world_with(
            "[[ecitizen.clients]]\nclient_id = \"spa\"\nredirect_uris = [\"http://localhost:3000/callback\"]\n",
        );
        let q = AuthorizeQuery { client_id: Param::One("spa".into()), ..without("code_challenge") };
        let q = AuthorizeQuery { code_challenge_method: Param::Absent, ..q };
        assert_eq!(check(&q, &public).unwrap_err().error, OAuthError::InvalidRequest);
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        let err = check(&query("&scope=openid"), &world()).unwrap_err();
        assert_eq!(err.error, OAuthError::InvalidRequest);
        assert!(err.diagnosis.contains("scope is sent more than once"), "{}", err.diagnosis);
        let err = check(&query("&state=again"), &world()).unwrap_err();
        assert_eq!(query_value(&redirected(&err), "state"), None, "an ambiguous state is not echoed");
    }

    #[test]
    fn the_redirect_keeps_the_registered_query() {
        let w = world_with("[[ecitizen.clients]]\nclient_id = \"c\"\nclient_secret = \"s\"\npkce = \"optional\"\nredirect_uris = [\"http://localhost/cb?tenant=7\"]\n");
        let q = AuthorizeQuery::parse(b"client_id=c&redirect_uri=http%3A%2F%2Flocalhost%2Fcb%3Ftenant%3D7&response_type=code&scope=openid&state=s%20t");
        let request = check(&q, &w).unwrap();
        assert_eq!(request.success_location("abc"), "http://localhost/cb?tenant=7&code=abc&state=s+t");
    }

    #[test]
    fn prompt_none_with_a_login_hint_logs_in_without_a_page() {
        let w = world();
        let request = check(&query("&prompt=none&login_hint=28765432"), &w).unwrap();
        assert_eq!(interaction(&request, &w).unwrap(), Interaction::Approve { user_id: 2 });
        let request = check(&query("&prompt=none"), &w).unwrap();
        let err = interaction(&request, &w).unwrap_err();
        assert_eq!(query_value(&redirected(&err), "error").as_deref(), Some("login_required"));
        let request = check(&query("&login_hint=user%40ecitizen.com"), &w).unwrap();
        assert_eq!(interaction(&request, &w).unwrap(), Interaction::Page { selected: Some(1) });
    }

    #[test]
    fn auto_approve_skips_the_page() {
        let w = world_with("[[ecitizen.clients]]\nclient_id = \"PesaSandboxEcitizenClient\"\nauto_approve_user = 3\n");
        let request = check(&query(""), &w).unwrap();
        assert_eq!(interaction(&request, &w).unwrap(), Interaction::Approve { user_id: 3 });
        let request = check(&query("&login_hint=4"), &w).unwrap();
        assert_eq!(interaction(&request, &w).unwrap(), Interaction::Approve { user_id: 4 }, "a hint wins");
    }

    #[test]
    fn the_login_form_round_trips_through_hidden_fields() {
        let w = world();
        let request = check(&query("&nonce=n1"), &w).unwrap();
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(request.hidden_fields());
        body.append_pair("user", "2");
        body.append_pair("decision", "proceed");
        let form = LoginForm::parse(body.finish().as_bytes());
        let (again, decision) = decision(&form, &w).unwrap();
        assert_eq!(again, request);
        assert_eq!(decision, Decision::Proceed { user_id: 2 });
    }

    #[test]
    fn back_and_bad_forms_redirect_with_errors() {
        let w = world();
        let base = format!("client_id={CLIENT}&redirect_uri={CB}&response_type=code&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let form = LoginForm::parse(format!("{base}&decision=back").as_bytes());
        let (request, choice) = decision(&form, &w).unwrap();
        assert_eq!(choice, Decision::Back);
        let url = redirected(&request.denied("the user pressed Back"));
        assert_eq!(query_value(&url, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_value(&url, "state").as_deref(), Some("s"));
        for extra in ["&decision=proceed", "&decision=proceed&user=999", "&decision=maybe&user=1", ""] {
            let form = LoginForm::parse(format!("{base}{extra}").as_bytes());
            let err = decision(&form, &w).unwrap_err();
            assert_eq!(err.error, OAuthError::InvalidRequest, "{extra}");
        }
    }

    #[test]
    fn any_query_is_judged_without_panicking() {
        use proptest::prelude::*;
        let w = world();
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..300))| {
            let q = AuthorizeQuery::parse(&bytes);
            if let Ok(request) = check(&q, &w) {
                let _ = interaction(&request, &w);
            }
        });
    }
}
