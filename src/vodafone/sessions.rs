//! OpenAPI sessions: `GET /{env}/ipg/v2/{market}/getSession/` with
//! `Authorization: Bearer base64(RSA(api key))` answers `output_SessionID`;
//! every other call carries `Bearer base64(RSA(session id))`.
//!
//! A session is live after the application's activation delay (0 by
//! default; the real gateway's "up to 30 seconds" is `activation_delay_ms =
//! 30000`) and expires after its lifetime, both by the tenant's clock.
//! Session ids route to their tenant through the core's token index
//! ([`crate::store::Tenants::grant`]), which forgets the oldest past a
//! thousand per application, as the state here forgets the oldest past
//! [`super::state::MAX_SESSIONS`].

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::api::{Api, Profile};
use super::bearer::BearerError;
use super::codes::Ins;
use super::error::{SessionRefusal, VodafoneError};
use super::handler::answer;
use super::keys::KeySize;
use super::markets::Market;
use super::openapi::SessionTimes;
use super::state::{Session, State, Usage};
use super::wire::{Head, SessionResponse};
use super::world::origin_allowed;
use super::{auth, ids, Vodafone};
use crate::app_state::AppState;
use crate::http::RequestContext;
use crate::store::Grant;

/// `getSession`: the API key names an application of the path's market.
pub(crate) fn get_session(
    app: &AppState,
    ctx: &RequestContext,
    market: Market,
    decoded: Result<(String, KeySize), BearerError>,
    origin: Option<&str>,
) -> Result<Response, VodafoneError> {
    let (profile, api) = (Profile::OpenApi, Api::GetSession);
    let fail = |why: String| VodafoneError::new(profile, Some(api), Ins::SESSION_CREATION_FAILED, why);
    let (secret, size) = decoded.map_err(|e| VodafoneError::bearer(profile, api, &e, SessionRefusal::default()))?;
    let tenant = app.tenants.by_key::<Vodafone>(&secret).ok_or_else(|| fail(auth::unknown_key(&secret)))?;
    ctx.set_tenant(&tenant);
    let now = tenant.now();
    let issued = tenant.with::<Vodafone, _>(|core, mine| {
        auth::check_key_size(size, mine.world.key_size)?;
        let world = mine.world.clone();
        let Some(application) = world.app_by_key(&secret) else {
            return Err(match world.account_by_key(&secret) {
                Some(account) => format!(
                    "the API key is portal account {:?}'s; getSession takes an OpenAPI application's key",
                    account.name
                ),
                None => auth::unknown_key(&secret),
            });
        };
        if application.market != market {
            return Err(format!(
                "application {:?} belongs to {}, not {market}; call {}",
                application.name,
                application.market,
                Api::GetSession.openapi_path(super::api::Environment::Sandbox, application.market)
            ));
        }
        if !origin_allowed(&application.origins, origin) {
            return Err(format!("the Origin header is not one of application {:?}'s origins", application.name));
        }
        let id = ids::session_id(&mut core.ids);
        let times = SessionTimes::new(now, application.activation_delay_ms, application.session_lifetime_secs);
        mine.add_session(Session {
            id: id.clone(),
            app: application.name.clone(),
            market,
            times,
            usage: Usage::default(),
        });
        Ok((id, application.name.clone(), times))
    });
    let (id, app_name, times) = issued.map_err(fail)?;
    app.tenants.grant(
        id.clone(),
        Grant {
            tenant: tenant.id.as_str().into(),
            provider: super::PROVIDER,
            subject: app_name.into(),
            expires_at: times.expires_at,
        },
    );
    let body =
        SessionResponse { head: Head::new(Ins::SUCCESS.code(), "Request processed successfully"), session_id: id };
    Ok(answer(StatusCode::OK, &body))
}

/// The session a routed id names. A tenant reset forgets sessions but not
/// the core's token index, so a session known there comes back live until
/// its recorded expiry, as Daraja's tokens survive a reset.
pub(crate) fn session_of(mine: &mut State, id: &str, grant: &Grant, now: DateTime<Utc>) -> Option<Session> {
    if let Some(session) = mine.sessions.get(id) {
        return Some(session.clone());
    }
    let application = mine.world.apps.iter().find(|a| a.name == *grant.subject)?;
    let session = Session {
        id: id.to_owned(),
        app: application.name.clone(),
        market: application.market,
        times: SessionTimes { issued_at: now, live_from: now, expires_at: grant.expires_at },
        usage: Usage::default(),
    };
    mine.add_session(session.clone());
    Some(session)
}
