//! The "done when" of the eCitizen provider: an unmodified OpenID Connect
//! relying party (the `openidconnect` crate), configured with nothing but
//! the sandbox's discovery URL and a client's credentials, logs a test
//! citizen in without a browser, verifies the ID token through the JWKS,
//! reads the user info and introspects its token, all over HTTP.

use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IdTokenClaims,
    IntrospectionUrl, IssuerUrl, LoginHint, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    TokenIntrospectionResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use super::{no_redirects, Answer, CALLBACK, CLIENT, PUBLIC_CLIENT, SECRET};
use crate::helpers::{spawn, spawn_config, TestApp};
use pesa_sandbox::Config;

/// eCitizen's own claims, as a relying party would declare them to read
/// them from the ID token and the user info.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EcitizenClaims {
    id_number: String,
    account_type: String,
    #[serde(rename = "Kra_pin_number")]
    kra_pin_number: Option<String>,
    mobile_verified: bool,
}

impl AdditionalClaims for EcitizenClaims {}

/// Follows the authorization URL the relying party built, as a browser
/// would, but without one: one GET, whose redirect carries the code.
async fn visit(url: &str) -> Answer {
    visit_with(&no_redirects(), url).await
}

/// [`visit`] with a given HTTP client (one that trusts the test CA, say).
async fn visit_with(browser: &reqwest::Client, url: &str) -> Answer {
    let res = browser.get(url).send().await.unwrap();
    let status = res.status();
    if status == reqwest::StatusCode::FOUND {
        let location = res.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
        let parsed = reqwest::Url::parse(&location).unwrap();
        let query = parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        return Answer::Redirect(super::Redirect { location, query });
    }
    Answer::Page { status, html: res.text().await.unwrap() }
}

/// The relying party's HTTP client: as the crate's documentation says, one
/// that does not follow redirects (SSRF).
fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .no_proxy()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The relying party as discovery configures it, with its redirect URI.
type Rp = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Logs `hint` in through the client's authorization URL with
/// `prompt=none`, and exchanges the code with its PKCE verifier.
async fn login_headless(client: &Rp, hint: &str) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    login_headless_with(client, hint, &no_redirects(), &rp_http()).await
}

/// [`login_headless`] with given HTTP clients for the browser and the
/// relying party.
async fn login_headless_with(
    client: &Rp,
    hint: &str,
    browser: &reqwest::Client,
    rp: &openidconnect::reqwest::Client,
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .set_login_hint(LoginHint::new(hint.into()))
        .add_prompt(CoreAuthPrompt::None)
        .url();
    let code = visit_with(browser, url.as_str()).await.redirect().param("code").unwrap().to_owned();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(rp)
        .await
        .unwrap_or_else(|e| panic!("the code exchange fails: {e:?}"));
    (tokens, nonce)
}

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    let issuer = IssuerUrl::new(app.creds.ecitizen.issuer.clone()).unwrap();
    CoreProviderMetadata::discover_async(issuer, &rp_http()).await.expect("discovery and the JWKS load")
}

#[tokio::test]
async fn an_unmodified_relying_party_logs_a_citizen_in_headless_then_reads_user_info_and_introspects() {
    let app = spawn().await;
    assert_eq!(app.creds.ecitizen.discovery_url, format!("{}/.well-known/openid-configuration", app.base));
    let http = rp_http();
    for auth in [AuthType::RequestBody, AuthType::BasicAuth] {
        let client = CoreClient::from_provider_metadata(
            discover(&app).await,
            ClientId::new(CLIENT.into()),
            Some(ClientSecret::new(SECRET.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(app.creds.ecitizen.introspection_url.clone()).unwrap())
        .set_auth_type(auth.clone());

        // The CI path: prompt=none and a login_hint naming a test citizen.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .set_login_hint(LoginHint::new("wanjiku.kamau@example.com".into()))
            .add_prompt(CoreAuthPrompt::None)
            .url();
        let redirect = visit(url.as_str()).await.redirect();
        assert!(redirect.location.starts_with(CALLBACK), "{}", redirect.location);
        assert_eq!(redirect.param("state"), Some(csrf.secret().as_str()));
        let code = redirect.param("code").expect("a code").to_owned();

        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("the code exchange ({auth:?}) fails: {e:?}"));
        let id_token = tokens.id_token().expect("the token response carries an ID token");
        let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("the ID token verifies with the JWKS");
        assert_eq!(claims.subject().as_str(), "2");
        assert_eq!(
            claims.email().map(|e| e.as_str()),
            Some("wanjiku.kamau@example.com"),
            "the ID token carries the user-info fields, OIDC's email among them"
        );
        assert_eq!(tokens.expires_in(), Some(std::time::Duration::from_secs(3600)));

        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .expect("user info answers for the ID token's subject");
        assert_eq!(info.email().map(|e| e.as_str()), Some("wanjiku.kamau@example.com"));

        let introspection = client
            .introspect(tokens.access_token())
            .set_token_type_hint("access_token")
            .request_async(&http)
            .await
            .expect("introspection answers");
        assert!(introspection.active());
        assert_eq!(introspection.client_id().map(|c| c.as_str()), Some(CLIENT));
    }
}

#[tokio::test]
async fn the_id_token_and_user_info_carry_ecitizens_own_claims() {
    let app = spawn().await;
    let http = rp_http();
    let client = CoreClient::from_provider_metadata(
        discover(&app).await,
        ClientId::new(CLIENT.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());

    let (tokens, nonce) = login_headless(&client, "1").await;
    // The same ID token, read with the relying party's own claims type.
    let id_token: IdToken<EcitizenClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm> =
        tokens.id_token().unwrap().to_string().parse().unwrap();
    let claims: &IdTokenClaims<EcitizenClaims, CoreGenderClaim> =
        id_token.claims(&client.id_token_verifier(), &nonce).unwrap();
    let ours = claims.additional_claims();
    assert_eq!(ours.id_number, "12345678", "the guide's user");
    assert_eq!(ours.kra_pin_number.as_deref(), Some("A1000121"));
    assert_eq!(ours.account_type, "citizen");

    let info: UserInfoClaims<EcitizenClaims, CoreGenderClaim> =
        client.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http).await.unwrap();
    assert!(info.additional_claims().mobile_verified);
    assert_eq!(info.additional_claims().id_number, "12345678");
}

#[tokio::test]
async fn a_public_client_logs_in_with_pkce_alone() {
    let app = spawn().await;
    let client = CoreClient::from_provider_metadata(discover(&app).await, ClientId::new(PUBLIC_CLIENT.into()), None)
        .set_redirect_uri(RedirectUrl::new("http://localhost:5173/callback".into()).unwrap());
    // A public client exchanges its code with the verifier and no secret.
    let (tokens, nonce) = login_headless(&client, "3").await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), "3");
    assert_eq!(claims.audiences()[0].as_str(), PUBLIC_CLIENT);
}

#[tokio::test]
async fn a_relying_party_reaching_the_sandbox_by_another_name_gets_that_issuer() {
    let app = spawn().await;
    let port = reqwest::Url::parse(&app.base).unwrap().port().unwrap();
    let res = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", format!("sandbox.test:{port}"))
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], format!("http://sandbox.test:{port}"));
    assert_eq!(doc["token_endpoint"], format!("http://sandbox.test:{port}/oauth/access-token"));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
}

#[tokio::test]
async fn over_https_an_unmodified_relying_party_sees_an_https_issuer_and_verifies_its_id_token() {
    let app = spawn_config(Config::local().with_test_tls()).await;
    let https = app.sandbox.https_url().expect("HTTPS is served");
    let ca = reqwest::Certificate::from_pem(pesa_sandbox::tls::CA_PEM.as_bytes()).expect("the test CA parses");
    let loopback = app.sandbox.addr();
    // The relying party (and the "browser") trust the test CA, and
    // `localhost` is the sandbox.
    let rp = openidconnect::reqwest::ClientBuilder::new()
        .no_proxy()
        .add_root_certificate(ca)
        .resolve("localhost", loopback)
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(https.clone()).unwrap(), &rp)
        .await
        .expect("discovery and the JWKS load over HTTPS");
    assert_eq!(metadata.issuer().as_str(), https, "the issuer is the HTTPS origin the client used");
    assert_eq!(metadata.token_endpoint().map(|u| u.as_str().to_owned()), Some(format!("{https}/oauth/access-token")));
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (tokens, nonce) = login_headless_with(&client, "2", &rp, &rp).await;
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("the ID token verifies through the JWKS");
    assert_eq!(claims.issuer().as_str(), https);
    assert_eq!(claims.subject().as_str(), "2");
}
