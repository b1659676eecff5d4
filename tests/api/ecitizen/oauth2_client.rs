//! The code exchange with the unmodified `oauth2` crate, configured with the
//! endpoints the credentials document lists: success in both client
//! authentication styles, and the RFC 6749 §5.2 errors it parses as typed
//! errors.

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};

use super::{CALLBACK, CLIENT, SECRET};
use crate::helpers::{spawn, TestApp};

type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(app: &TestApp, secret: &str, auth: AuthType) -> Client {
    BasicClient::new(ClientId::new(CLIENT.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_auth_uri(AuthUrl::new(app.creds.ecitizen.authorize_url.clone()).unwrap())
        .set_token_uri(TokenUrl::new(app.creds.ecitizen.token_url.clone()).unwrap())
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
        .set_auth_type(auth)
}

fn http() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .no_proxy()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs user 2 in through the URL the client builds (with `prompt=none` and
/// a `login_hint` as extra parameters); the code and the PKCE verifier.
async fn login(app: &TestApp, client: &Client) -> (String, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .set_pkce_challenge(challenge)
        .add_extra_param("prompt", "none")
        .add_extra_param("login_hint", "2")
        .url();
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let params: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let redirect = app.authorize(&params).await.redirect();
    assert_eq!(redirect.param("state"), Some(csrf.secret().as_str()));
    (redirect.param("code").unwrap().to_owned(), verifier)
}

fn server_error<T: std::fmt::Debug>(
    result: Result<
        T,
        RequestTokenError<oauth2::HttpClientError<oauth2::reqwest::Error>, oauth2::basic::BasicErrorResponse>,
    >,
) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(response)) => response.error().clone(),
        other => panic!("expected an RFC 6749 error response, got {other:?}"),
    }
}

#[tokio::test]
async fn the_oauth2_crate_exchanges_a_code_with_either_client_authentication() {
    let app = spawn().await;
    for auth in [AuthType::RequestBody, AuthType::BasicAuth] {
        let client = client(&app, SECRET, auth.clone());
        let (code, verifier) = login(&app, &client).await;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e:?}"));
        assert_eq!(*token.token_type(), BasicTokenType::Bearer);
        assert_eq!(token.expires_in(), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(token.access_token().secret().len(), 32, "like the guide's example token");
        let (status, info) = app.user_info(token.access_token().secret()).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["id"], 2);
    }
}

#[tokio::test]
async fn the_oauth2_crate_reads_every_token_error_as_the_rfc_names_it() {
    let app = spawn().await;
    let good = client(&app, SECRET, AuthType::BasicAuth);

    let (code, _) = login(&app, &good).await;
    let wrong = PkceCodeVerifier::new("a".repeat(43));
    let refused =
        good.exchange_code(AuthorizationCode::new(code.clone())).set_pkce_verifier(wrong).request_async(&http()).await;
    assert_eq!(server_error(refused), BasicErrorResponseType::InvalidGrant, "a wrong verifier");

    let refused = good.exchange_code(AuthorizationCode::new(code.clone())).request_async(&http()).await;
    assert_eq!(server_error(refused), BasicErrorResponseType::InvalidGrant, "no verifier for a PKCE code");

    let impostor = client(&app, "not-the-secret", AuthType::BasicAuth);
    let refused = impostor.exchange_code(AuthorizationCode::new(code)).request_async(&http()).await;
    assert_eq!(server_error(refused), BasicErrorResponseType::InvalidClient, "a wrong secret");

    let refused = good.exchange_code(AuthorizationCode::new("no-such-code".into())).request_async(&http()).await;
    assert_eq!(server_error(refused), BasicErrorResponseType::InvalidGrant, "an unknown code");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_its_token_stops_working() {
    let app = spawn().await;
    let client = client(&app, SECRET, AuthType::RequestBody);
    let (code, verifier) = login(&app, &client).await;
    let first = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    let (_, live) = app.introspect(first.access_token().secret()).await;
    assert_eq!(live["active"], true);

    let again = PkceCodeVerifier::new("b".repeat(43));
    let replay =
        client.exchange_code(AuthorizationCode::new(code)).set_pkce_verifier(again).request_async(&http()).await;
    assert_eq!(server_error(replay), BasicErrorResponseType::InvalidGrant);
    let (_, revoked) = app.introspect(first.access_token().secret()).await;
    assert_eq!(revoked, serde_json::json!({ "active": false }), "RFC 6749 §4.1.2: a replay revokes the code's tokens");
    let (status, _) = app.user_info(first.access_token().secret()).await;
    assert_eq!(status, 400);
}
