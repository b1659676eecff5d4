//! eCitizen SSO (`accounts.ecitizen.go.ke`): OAuth 2.0 authorization code
//! with PKCE, token introspection, user info, and OpenID Connect on top.
//!
//! Endpoints (the paths real integrations call, plus OIDC discovery):
//! * `GET /oauth/authorize`: checks the request (RFC 6749 §4.1.1, RFC 7636
//!   §4.3) and shows a login and consent page; `POST /oauth/authorize` is the
//!   page's form (**Proceed** redirects with `code` and `state`, **Back** with
//!   `error=access_denied`).
//! * `POST /oauth/access-token`: form-encoded code exchange, client secret in
//!   the body or HTTP Basic, PKCE verification; answers `access_token`,
//!   `token_type`, `expiration_date` as the eCitizen guide shows, plus
//!   `expires_in` and an RS256 `id_token`.
//! * `POST /api/oauth/token/introspect`: `{active, scope, token_type,
//!   client_id}` exactly as the guide shows it, `{"active": false}` otherwise.
//! * `GET /api/userinfo` (the guide) and `GET /api/user-info` (every
//!   integration seen): token as `?access_token=` or `Authorization: Bearer`.
//! * `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json`.
//!
//! Admin views under `/__sandbox/ecitizen/`: test users at runtime, a
//! client's auto-approved user, a PKCE pair ([`admin`]).
//!
//! The pure layer: wire types ([`wire`]), errors ([`error`]), the checks of
//! each endpoint ([`authorize`], [`token`]), codes and tokens ([`grants`]),
//! introspection and user info ([`resource`]), ID tokens and discovery
//! ([`oidc`]), the HTML ([`page`]) and the `[ecitizen]` world table
//! ([`world`]). Around it: the handlers ([`handlers`]), the extractors
//! ([`extract`]), the scenario vocabulary ([`scenario`]), the admin views
//! and the credentials section.
//!
//! **Invariant:** the pure layer does no I/O, reads no clock and never logs;
//! time comes in as a `DateTime<Utc>`, randomness from [`crate::ids::IdGen`].
//! **Invariant:** no error body, diagnosis, log line or `Debug` output
//! contains a client secret, an authorization code, an access token or a
//! code verifier.
//! **Invariant:** a client id identifies its tenant; a token finds its
//! tenant through the sandbox's token index.
//!
//! # Scenarios
//! A scenario rule names one of [`OPERATIONS`] in `when.operation`; what
//! its outcomes and faults mean is in [`scenario`]. The built-in default
//! scenario (`default-scenario.toml`) makes the default world's users 401,
//! 410, 498, 503 and 504 fail on purpose.

// Times, lifetimes and counts from requests, worlds and the admin API:
// every computation here saturates or is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

pub(crate) mod admin;
pub(crate) mod authorize;
pub(crate) mod credentials;
pub(crate) mod error;
pub(crate) mod extract;
#[cfg(test)]
mod flow;
pub(crate) mod grants;
pub(crate) mod handlers;
pub(crate) mod oidc;
pub(crate) mod page;
pub(crate) mod resource;
pub(crate) mod scenario;
pub(crate) mod token;
pub(crate) mod wire;
pub(crate) mod world;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub(crate) use credentials::EcitizenCredentials;

use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::http::WireError;
use crate::ids::IdGen;
use crate::provider::{CredentialContext, Provider, Refusal, TransactionRow, VariantSpec};
use crate::store::Core;
use error::{EcitizenError, OAuthError};
use grants::Grants;
use world::World;

/// The provider's name in journals, scenario files and `/__sandbox/ecitizen/`.
pub(crate) const NAME: &str = "ecitizen";

/// The provider.
pub(crate) struct Ecitizen;

/// eCitizen's per-tenant state: its world (users changed at runtime
/// included) and the codes and tokens it issued.
#[derive(Debug)]
pub(crate) struct State {
    pub world: Arc<World>,
    pub grants: Grants,
}

/// eCitizen puts nothing on a tenant's timeline: codes and tokens expire by
/// comparison with the clock, not by an event.
#[derive(Debug)]
pub enum Due {}

/// Every OAuth error code, which a scenario's `fault.error` may name.
const FAULTS: [&str; 12] = {
    let mut codes = [""; 12];
    let mut i = 0;
    while i < OAuthError::ALL.len() {
        codes[i] = OAuthError::ALL[i].code();
        i += 1;
    }
    codes
};

impl Provider for Ecitizen {
    const NAME: &'static str = NAME;
    const PREFIXES: &'static [&'static str] = PREFIXES;
    const OPERATIONS: &'static [&'static str] = OPERATIONS;
    const VARIANTS: &'static [VariantSpec] = &[];
    const DEFAULT_SCENARIO: Option<&'static str> = Some(include_str!("default-scenario.toml"));
    const FAULTS: &'static [&'static str] = &FAULTS;

    type World = World;
    type State = State;
    type Due = Due;
    type Shared = oidc::Oidc;
    type Credentials = EcitizenCredentials;

    fn shared() -> Result<oidc::Oidc, String> {
        oidc::Oidc::from_committed_key().map_err(|e| format!("the committed ID-token signing key does not load: {e}"))
    }

    fn new_state(_core: &mut Core, world: Arc<World>) -> State {
        State { world, grants: Grants::default() }
    }

    fn world(state: &State) -> &Arc<World> {
        &state.world
    }

    fn routing_keys(world: &World) -> Vec<String> {
        world.clients.iter().map(|c| c.client_id.clone()).collect()
    }

    /// A new tenant's copies of the default clients get fresh ids (32 hex
    /// digits, like the guide's `278f1ef8168611eebdbf0050560101d6`) and
    /// secrets; redirect URIs and users stay.
    fn fresh_credentials(world: &mut World, defaults: &World, ids: &mut IdGen) {
        for client in &mut world.clients {
            if defaults.client(&client.client_id).is_some() {
                client.client_id = ids.hex(32);
                if client.client_secret.is_some() {
                    client.client_secret = Some(SecretString::from(ids.alnum(48)));
                }
            }
        }
    }

    fn on_due(_core: &mut Core, _mine: &mut State, due: Due, _at: DateTime<Utc>) {
        match due {}
    }

    fn on_reply(_core: &mut Core, _mine: &mut State, _key: &str, _reply: &Reply, _at: DateTime<Utc>) {}

    fn routes() -> Router<AppState> {
        Router::new()
            .route(paths::AUTHORIZE, get(handlers::authorize).post(handlers::login))
            .route(paths::TOKEN, post(handlers::access_token))
            .route(paths::INTROSPECT, post(handlers::introspect))
            .route(paths::USERINFO, get(handlers::userinfo))
            .route(paths::USER_INFO, get(handlers::userinfo))
            .route(paths::DISCOVERY, get(handlers::discovery))
            .route(paths::JWKS, get(handlers::jwks))
    }

    fn admin_routes() -> Router<AppState> {
        admin::routes()
    }

    fn bare_error(status: StatusCode) -> Arc<dyn WireError> {
        Arc::new(EcitizenError::bare(status))
    }

    fn refuse(refusal: Refusal<'_>) -> Response {
        scenario::refusal(refusal).into_response()
    }

    fn transactions(mine: &State, out: &mut Vec<TransactionRow>) {
        admin::transactions(mine, out);
    }

    fn credentials(
        ctx: &CredentialContext<'_>,
        _shared: &oidc::Oidc,
        _core: &Core,
        mine: &State,
    ) -> EcitizenCredentials {
        credentials::of(ctx, mine)
    }
}

/// The paths the provider serves.
pub(crate) mod paths {
    pub(crate) const AUTHORIZE: &str = "/oauth/authorize";
    pub(crate) const TOKEN: &str = "/oauth/access-token";
    pub(crate) const INTROSPECT: &str = "/api/oauth/token/introspect";
    /// The guide's spelling.
    pub(crate) const USERINFO: &str = "/api/userinfo";
    /// What NestJS, Laravel and Django integrations call.
    pub(crate) const USER_INFO: &str = "/api/user-info";
    pub(crate) const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub(crate) const JWKS: &str = "/.well-known/jwks.json";
}

/// The path prefixes eCitizen owns on the shared port (the registry routes by
/// longest prefix). Each is exact down to the last segment because the first
/// segments are shared: `/oauth/` with Daraja's `/oauth/v1/generate`, and
/// `/api/` with Pesaflow's `/api/payment/…`, `/api/invoice/…`,
/// `/api/PaymentAPI/…` and `/api/oauth/generate/token`. `/api/oauth/token`
/// leaves room for `…/introspect` and a later `…/revoke` without touching
/// Pesaflow's `/api/oauth/generate/token`.
pub(crate) const PREFIXES: &[&str] = &[
    paths::AUTHORIZE,
    paths::TOKEN,
    "/api/oauth/token",
    paths::USERINFO,
    paths::USER_INFO,
    paths::DISCOVERY,
    paths::JWKS,
];

/// The scenario vocabulary: `when.operation` values this provider decides on.
pub(crate) const OPERATIONS: &[&str] = &[
    scenario::AUTHORIZE,
    scenario::LOGIN,
    scenario::TOKEN,
    scenario::INTROSPECT,
    scenario::USERINFO,
    scenario::DISCOVERY,
    scenario::JWKS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_exactly_one_prefix() {
        let all = [
            paths::AUTHORIZE,
            paths::TOKEN,
            paths::INTROSPECT,
            paths::USERINFO,
            paths::USER_INFO,
            paths::DISCOVERY,
            paths::JWKS,
        ];
        for path in all {
            let owners = PREFIXES.iter().filter(|p| under(path, p)).count();
            assert_eq!(owners, 1, "{path}");
        }
    }

    #[test]
    fn no_prefix_claims_a_daraja_or_pesaflow_path() {
        let others = [
            "/oauth/v1/generate",
            "/api/oauth/generate/token",
            "/api/payment/validate",
            "/api/invoice/payment/status",
            "/api/PaymentAPI/checkout",
            "/PaymentAPI/iframev2.1.php",
            "/mpesa/stkpush/v1/processrequest",
        ];
        for path in others {
            assert!(!PREFIXES.iter().any(|p| under(path, p) || path.starts_with(p)), "{path}");
        }
    }

    /// The segment-aware prefix test the router uses today.
    fn under(path: &str, prefix: &str) -> bool {
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}
