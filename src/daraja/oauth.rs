//! `GET /oauth/v1/generate?grant_type=client_credentials` with
//! `Authorization: Basic base64(consumer_key:consumer_secret)`.
//!
//! Tokens are bound to the app and the tenant, and expire by the tenant's
//! clock. `expires_in` is one second short of the lifetime (`"3599"` for an
//! hour), as a string unless the world asks for a number.

use axum::extract::{RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use secrecy::ExposeSecret;

use super::error::{DarajaError, ErrorKind};
use super::scenario::{self as daraja_scenario, Variants};
use super::scenario::{gate, Gate};
use super::shapes::Shape;
use super::wire::{self, ExpiresIn, TokenResponse};
use super::world::ExpiresInFormat;
use super::Daraja;
use crate::app_state::AppState;
use crate::http::RequestContext;
use crate::httpauth::{self, AuthProblem};
use crate::store::Grant;

pub(crate) const OPERATION: &str = "oauth";

pub(crate) async fn generate(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, DarajaError> {
    let grant_type = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "grant_type").map(|(_, v)| v.into_owned())
    });
    match grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(DarajaError::new(
                ErrorKind::InvalidGrantType,
                format!("grant_type is {other:?}; only \"client_credentials\" is accepted (check for stray spaces)"),
            ))
        }
        None => {
            return Err(DarajaError::new(
                ErrorKind::InvalidGrantType,
                "the query string has no grant_type; send ?grant_type=client_credentials",
            ))
        }
    }

    let (consumer_key, consumer_secret) =
        httpauth::basic(headers.get(AUTHORIZATION).map(|v| v.as_bytes())).map_err(|problem| {
            let kind = match problem {
                AuthProblem::NotBase64 | AuthProblem::NoColon => ErrorKind::InvalidAuthentication,
                _ => ErrorKind::InvalidAuthenticationType,
            };
            DarajaError::new(
                kind,
                format!("{problem}; send `Authorization: Basic base64(consumer_key:consumer_secret)`"),
            )
        })?;

    let Some(tenant) = app.tenants.by_key::<Daraja>(&consumer_key) else {
        return Err(DarajaError::new(
            ErrorKind::InvalidAuthentication,
            format!(
                "no app has the consumer key {consumer_key:?}; GET /__sandbox/credentials lists the sandbox's apps"
            ),
        ));
    };
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Daraja>();
    let Some(app_entry) = world.app_by_key(&consumer_key) else {
        return Err(DarajaError::new(
            ErrorKind::InvalidAuthentication,
            "the app was removed while the request was served",
        ));
    };
    if app_entry.consumer_secret.expose_secret() != consumer_secret {
        return Err(DarajaError::new(
            ErrorKind::InvalidAuthentication,
            format!("the consumer secret does not match app {:?} (consumer key {consumer_key:?})", app_entry.name),
        ));
    }

    let decision = match gate(&tenant, &consumer_key, OPERATION, None) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let settings = &world.settings;
    let now = tenant.now();
    let token = tenant.with_core(|core| super::ids::access_token(core.secrets()));
    if settings.single_active_token {
        app.tenants.revoke(&tenant.id, super::PROVIDER, &consumer_key);
    }
    let ttl = settings.token_ttl_secs;
    app.tenants.grant(
        token.clone(),
        Grant {
            tenant: tenant.id.as_str().into(),
            provider: super::PROVIDER,
            subject: consumer_key.into(),
            expires_at: crate::clock::after(now, crate::clock::seconds(ttl)),
        },
    );
    let shown = ttl.saturating_sub(1);
    let as_number = match Variants::of(decision.as_ref()).expires_in {
        Some(variant) => variant == daraja_scenario::ExpiresIn::Number,
        None => settings.expires_in == ExpiresInFormat::Number,
    };
    let (shape, expires_in) = match as_number {
        true => (Shape::TokenExpiresInNumber, ExpiresIn::Number(shown)),
        false => (Shape::Token, ExpiresIn::Text(shown.to_string())),
    };
    let response = wire::reply(shape, &TokenResponse { access_token: token, expires_in });
    Ok(super::scenario::delayed(response, decision.as_ref()))
}
