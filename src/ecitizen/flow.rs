//! The whole SSO flow with an unmodified OpenID Connect relying party, and
//! no sockets: the `openidconnect` crate builds the authorization URL, and
//! its HTTP calls (token, user info, introspection) go to a function that
//! serves them with this module tree's pure functions, as the handlers do.
//!
//! This proves the pure layer end to end on its own, so a failure here points
//! at the protocol rather than at HTTP; `tests/api/ecitizen/` repeats the
//! flow over a real socket.

use std::cell::RefCell;
use std::convert::Infallible;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::http::{HeaderValue, Method, Request, Response, StatusCode};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, TokenIntrospectionResponse, TokenResponse,
};
use serde::Serialize;

use super::authorize::{self, Decision, Interaction};
use super::error::{EcitizenError, Render};
use super::grants::Grants;
use super::oidc::{self, Oidc};
use super::resource;
use super::token;
use super::wire::{AuthorizeQuery, IntrospectForm, LoginForm, OAuthErrorBody, TokenForm, UserInfoQuery};
use super::world::World;
use super::{paths, world::WorldDoc};
use crate::ids::IdGen;

const ISSUER: &str = "http://127.0.0.1:4010";
const CLIENT: &str = "PesaSandboxEcitizenClient";
const SECRET: &str = "PesaSandboxEcitizenSecret";
const CALLBACK: &str = "http://localhost:3000/callback";

/// One tenant's provider state, served without HTTP.
struct Sandbox {
    world: World,
    grants: RefCell<Grants>,
    ids: RefCell<IdGen>,
    oidc: Oidc,
    now: RefCell<DateTime<Utc>>,
}

impl Sandbox {
    fn new(world: World) -> Sandbox {
        Sandbox {
            world,
            grants: RefCell::new(Grants::default()),
            ids: RefCell::new(IdGen::new(7, "default")),
            oidc: Oidc::from_committed_key().unwrap(),
            now: RefCell::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn advance(&self, seconds: i64) {
        let later = crate::clock::after(self.now(), TimeDelta::seconds(seconds));
        *self.now.borrow_mut() = later;
    }

    /// `GET /oauth/authorize` and, when the page is shown, the user's
    /// Proceed: the `Location` the browser is sent to.
    fn authorize(&self, url: &str, user_on_page: u64) -> String {
        let url = openidconnect::url::Url::parse(url).unwrap();
        let query = AuthorizeQuery::parse(url.query().unwrap_or_default().as_bytes());
        let request = match authorize::check(&query, &self.world) {
            Ok(request) => request,
            Err(refusal) => return location(&refusal),
        };
        let user_id = match authorize::interaction(&request, &self.world) {
            Ok(Interaction::Approve { user_id }) => user_id,
            Ok(Interaction::Page { .. }) => {
                // The browser posts the page's form back.
                let mut body = openidconnect::url::form_urlencoded::Serializer::new(String::new());
                body.extend_pairs(request.hidden_fields());
                body.append_pair("user", &user_on_page.to_string());
                body.append_pair("decision", "proceed");
                match authorize::decision(&LoginForm::parse(body.finish().as_bytes()), &self.world) {
                    Ok((_, Decision::Proceed { user_id })) => user_id,
                    Ok((request, Decision::Back)) => return location(&request.denied("Back")),
                    Err(refusal) => return location(&refusal),
                }
            }
            Err(refusal) => return location(&refusal),
        };
        let authorization = request.authorization(user_id, self.now());
        let code = self.grants.borrow_mut().issue_code(
            &mut self.ids.borrow_mut(),
            authorization,
            self.now(),
            self.world.settings.code_ttl_secs,
        );
        request.success_location(&code)
    }

    /// The relying party's HTTP client.
    fn http(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Infallible> {
        let header = request.headers().get("authorization").map(HeaderValue::as_bytes);
        let query = request.uri().query().unwrap_or_default().as_bytes();
        let body = request.body();
        let answer = match (request.method(), request.uri().path()) {
            (&Method::POST, paths::TOKEN) => {
                let form = TokenForm::parse(body);
                match token::parse(&form, header, self.world.settings.error_statuses) {
                    Ok(request) => token::exchange(
                        &request,
                        &self.world,
                        &mut self.grants.borrow_mut(),
                        &mut self.ids.borrow_mut(),
                        &self.oidc,
                        ISSUER,
                        self.now(),
                    )
                    .map(|done| json(StatusCode::OK, &done.response))
                    .map_err(|refused| refused.error),
                    Err(error) => Err(error),
                }
            }
            (&Method::GET, paths::USERINFO | paths::USER_INFO) => {
                let query = UserInfoQuery::parse(query);
                resource::bearer_token(&query, header, self.world.settings.userinfo_errors)
                    .and_then(|token| resource::userinfo(token, &self.world, &self.grants.borrow(), self.now()))
                    .map(|info| json(StatusCode::OK, &info))
            }
            (&Method::POST, paths::INTROSPECT) => {
                resource::introspect(&IntrospectForm::parse(body), &self.world, &self.grants.borrow(), self.now())
                    .map(|answer| json(StatusCode::OK, &answer))
            }
            (&Method::GET, paths::DISCOVERY) => Ok(json(StatusCode::OK, &oidc::discovery(ISSUER, &self.world))),
            (&Method::GET, paths::JWKS) => Ok(json(StatusCode::OK, &self.oidc.jwks())),
            (method, path) => panic!("the relying party called {method} {path}"),
        };
        Ok(answer.unwrap_or_else(|error| refusal(&error)))
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Response<Vec<u8>> {
    let mut response = Response::new(serde_json::to_vec(body).unwrap());
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn refusal(error: &EcitizenError) -> Response<Vec<u8>> {
    let body = OAuthErrorBody { error: error.error.code(), error_description: Some(error.error.description()) };
    json(StatusCode::from_u16(error.status().as_u16()).unwrap(), &body)
}

fn location(refusal: &EcitizenError) -> String {
    match &refusal.render {
        Render::Redirect { location } => location.clone(),
        other => panic!("expected a redirect, got {other:?}: {}", refusal.diagnosis),
    }
}

/// The relying party, configured by OpenID Connect Discovery alone (it
/// fetches the discovery document, then the JWKS); a macro, because the
/// client's type changes with every endpoint it is given.
macro_rules! relying_party {
    ($sandbox:expr, $auth:expr) => {{
        let http = |request| $sandbox.http(request);
        let issuer = IssuerUrl::new(ISSUER.into()).unwrap();
        let metadata = CoreProviderMetadata::discover(&issuer, &http).expect("discovery and JWKS load");
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(CLIENT.into()),
            Some(ClientSecret::new(SECRET.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(format!("{ISSUER}{}", paths::INTROSPECT)).unwrap())
        .set_auth_type($auth)
    }};
}

fn param(url: &str, name: &str) -> Option<String> {
    let url = openidconnect::url::Url::parse(url).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[test]
fn an_unmodified_relying_party_logs_a_citizen_in_reads_user_info_and_introspects() {
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let sandbox = Sandbox::new(World::from_overlays(&[]).unwrap());
        let http = |request| sandbox.http(request);
        let rp = relying_party!(sandbox, auth.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .url();

        let redirect = sandbox.authorize(url.as_str(), 2);
        assert!(redirect.starts_with(CALLBACK), "{redirect}");
        assert_eq!(param(&redirect, "state").as_deref(), Some(csrf.secret().as_str()));
        let code = param(&redirect, "code").expect("a code");

        let tokens = rp
            .exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request(&http)
            .expect("the token exchange succeeds");
        let id_token = tokens.id_token().expect("an ID token");
        let now = sandbox.now();
        let verifier = rp.id_token_verifier().set_time_fn(move || now);
        let claims = id_token.claims(&verifier, &nonce).expect("the ID token verifies");
        assert_eq!(claims.subject().as_str(), "2");
        assert_eq!(tokens.expires_in(), Some(std::time::Duration::from_secs(3600)));

        let info: CoreUserInfoClaims = rp
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request(&http)
            .expect("user info answers for the same subject");
        assert_eq!(info.email().map(|e| e.as_str()), Some("wanjiku.kamau@example.com"));

        let introspection = rp.introspect(tokens.access_token()).request(&http).expect("introspection answers");
        assert!(introspection.active());
        assert_eq!(introspection.client_id().map(|c| c.as_str()), Some(CLIENT));

        // A replayed code is refused, and the token it issued dies with it.
        let replay = rp.exchange_code(AuthorizationCode::new(code)).unwrap().request(&http);
        assert!(replay.is_err(), "a code is single use");
        let after = rp.introspect(tokens.access_token()).request(&http).expect("introspection answers");
        assert!(!after.active());
    }
}

#[test]
fn codes_and_tokens_expire_on_the_sandbox_clock() {
    let sandbox = Sandbox::new(World::from_overlays(&[]).unwrap());
    let http = |request| sandbox.http(request);
    let rp = relying_party!(sandbox, AuthType::RequestBody);
    let mut logins = Vec::new();
    for _ in 0..2 {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, _) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .url();
        logins.push((param(&sandbox.authorize(url.as_str(), 1), "code").unwrap(), verifier));
    }
    let (late_code, late_verifier) = logins.pop().unwrap();
    let (code, verifier) = logins.pop().unwrap();
    let tokens =
        rp.exchange_code(AuthorizationCode::new(code)).unwrap().set_pkce_verifier(verifier).request(&http).unwrap();

    sandbox.advance(601);
    let late =
        rp.exchange_code(AuthorizationCode::new(late_code)).unwrap().set_pkce_verifier(late_verifier).request(&http);
    let message = format!("{:?}", late.expect_err("the code expired after ten minutes"));
    assert!(message.contains("invalid_grant"), "{message}");

    sandbox.advance(3600 - 601);
    let info: Result<CoreUserInfoClaims, _> = rp.user_info(tokens.access_token().clone(), None).unwrap().request(&http);
    assert!(info.is_err(), "an expired token gets no user info");
    assert!(!rp.introspect(tokens.access_token()).request(&http).unwrap().active());
}

/// Logs in through the unmodified client; the ID token's subject.
fn subject_of_login(sandbox: &Sandbox, hint: Option<&str>, prompt_none: bool, user_on_page: u64) -> String {
    let http = |request| sandbox.http(request);
    let rp = relying_party!(sandbox, AuthType::BasicAuth);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    if let Some(hint) = hint {
        request = request.set_login_hint(openidconnect::LoginHint::new(hint.into()));
    }
    if prompt_none {
        request = request.add_prompt(openidconnect::core::CoreAuthPrompt::None);
    }
    let (url, _, nonce) = request.url();
    let redirect = sandbox.authorize(url.as_str(), user_on_page);
    let code = param(&redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let tokens =
        rp.exchange_code(AuthorizationCode::new(code)).unwrap().set_pkce_verifier(verifier).request(&http).unwrap();
    let now = sandbox.now();
    let verifier = rp.id_token_verifier().set_time_fn(move || now);
    tokens.id_token().unwrap().claims(&verifier, &nonce).unwrap().subject().to_string()
}

#[test]
fn a_ci_test_logs_in_without_a_page() {
    let sandbox = Sandbox::new(World::from_overlays(&[]).unwrap());
    assert_eq!(subject_of_login(&sandbox, None, false, 1), "1", "the page's choice");
    assert_eq!(subject_of_login(&sandbox, Some("33444555"), true, 1), "6", "prompt=none with a login_hint");
    let auto = WorldDoc::parse_fragment(
        "[[ecitizen.clients]]\nclient_id = \"PesaSandboxEcitizenClient\"\nauto_approve_user = 5\n",
    );
    let sandbox = Sandbox::new(World::from_overlays(&[auto.unwrap()]).unwrap());
    assert_eq!(subject_of_login(&sandbox, None, false, 1), "5", "the client's auto_approve_user");
}
