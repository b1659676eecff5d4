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
//! This folder holds the pure layer: wire types ([`wire`]), errors
//! ([`error`]), the checks of each endpoint ([`authorize`], [`token`]), codes
//! and tokens ([`grants`]), introspection and user info ([`resource`]), ID
//! tokens and discovery ([`oidc`]), the HTML ([`page`]) and the `[ecitizen]`
//! world table ([`world`]).
//!
//! **Invariant:** nothing here does I/O, reads a clock or logs; time comes in
//! as a `DateTime<Utc>`, randomness from [`crate::ids::IdGen`].
//! **Invariant:** no error body, diagnosis or `Debug` output contains a client
//! secret, an authorization code, an access token or a code verifier.
//!
//! # Scenarios
//! A scenario rule names one of [`OPERATIONS`] in `when.operation`.
//! Outcomes that make sense, and how each shows on the wire:
//! * `authorize` / `login` with a denial: the user pressed **Back**, so the
//!   browser returns to the client with `error=access_denied` (or any RFC 6749
//!   §4.1.2.1 code, e.g. `temporarily_unavailable`, `server_error`).
//! * `token` down or slow: a scripted fault (503 `temporarily_unavailable`,
//!   500 `server_error`, a reset connection) or `after_ms` before answering.
//! * `token` with an expired or revoked code: `invalid_grant`, as if the
//!   code's lifetime had passed, without moving the clock.
//! * `introspect` inactive: `{"active": false}` for a live token (revoked
//!   upstream, say).
//! * `userinfo` refused: the guide's 400 `invalid_request` for a live token.

pub(crate) mod authorize;
pub(crate) mod error;
#[cfg(test)]
mod flow;
pub(crate) mod grants;
pub(crate) mod oidc;
pub(crate) mod page;
pub(crate) mod resource;
pub(crate) mod token;
pub(crate) mod wire;
pub(crate) mod world;

/// The provider's name in journals, scenario files and `/__sandbox/ecitizen/`.
pub(crate) const NAME: &str = "ecitizen";

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
    // GET /oauth/authorize, before the page is shown.
    "authorize",
    // POST /oauth/authorize: the user's Proceed or Back.
    "login",
    // POST /oauth/access-token.
    "token",
    // POST /api/oauth/token/introspect.
    "introspect",
    // GET /api/userinfo and /api/user-info.
    "userinfo",
    // GET /.well-known/openid-configuration.
    "discovery",
    // GET /.well-known/jwks.json.
    "jwks",
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
