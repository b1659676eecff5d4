//! The request pipeline every API of both profiles goes through: the path
//! to an API, the method, the bearer to a caller, the body or query string
//! to a map, the gate, the parser, then the API's own handling
//! ([`super::payments`], [`super::queries`], [`super::mandates`],
//! [`super::sessions`]).
//!
//! Every refusal is a [`VodafoneError`] in the profile's envelope; the
//! order of checks is the gateway's: the bearer first (`INS-2` on the
//! portal, the session answer on the OpenAPI), then the account or
//! application (`INS-4`, origins, products), then the fields.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::api::{self, Api, Profile, Route, RouteError};
use super::codes::{Ins, StatusTable};
use super::error::{Echo, SessionRefusal, VodafoneError};
use super::fields::{self, Reader};
use super::markets::Market;
use super::openapi::{OpenApiRequest, SessionState};
use super::portal::PortalRequest;
use super::world::{check_async_url, origin_allowed, Limits};
use super::{auth, ids, mandates, payments, queries, scenario, sessions, Vodafone};
use crate::app_state::AppState;
use crate::gate::{delayed, Gate};
use crate::http::RequestContext;
use crate::scenarios::Decision;
use crate::store::Tenant;

/// The header that overrides, for one OpenAPI request, where its result
/// goes: a listener URL (checked like an application's), or `sync`.
pub(crate) const RESPONSE_URL_HEADER: &str = "x-sandbox-response-url";

/// Everything the APIs' handling needs to know about a request's caller.
pub(crate) struct Caller {
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) profile: Profile,
    pub(crate) api: Api,
    pub(crate) market: Market,
    /// The portal account's or OpenAPI application's name.
    pub(crate) owner: String,
    pub(crate) table: StatusTable,
    /// Where the result goes; `None` answers synchronously.
    pub(crate) async_url: Option<String>,
    /// The OpenAPI session the call came in.
    pub(crate) session: Option<String>,
    pub(crate) limits: Limits,
    pub(crate) decision: Option<Decision>,
    pub(crate) now: DateTime<Utc>,
}

impl Caller {
    /// A refusal in the caller's envelope.
    pub(crate) fn error(&self, ins: Ins, diagnosis: impl Into<String>) -> VodafoneError {
        VodafoneError::new(self.profile, Some(self.api), ins, diagnosis).with_table(self.table)
    }
}

pub(crate) async fn serve(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&app, &ctx, &method, &uri, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(
    app: &AppState,
    ctx: &RequestContext,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, VodafoneError> {
    let path = uri.path();
    let profile = if path.starts_with("/ipg") { Profile::Portal } else { Profile::OpenApi };
    let route = api::route(path).map_err(|e| route_error(profile, e))?;
    let api = route.api();
    if *method != api.method() {
        let mut error = VodafoneError::bare(Some(profile), StatusCode::METHOD_NOT_ALLOWED);
        error.api = Some(api);
        error.diagnosis = Some(format!("{} takes {}, not {method}", api.path_segment(), api.method()));
        return Err(error);
    }
    let header = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let decoded = auth::decode(app.shared::<Vodafone>(), header).await;
    let (caller, map) = match route {
        Route::Portal { api } => portal_caller(app, ctx, api, decoded, origin, uri, body)?,
        Route::OpenApi { market, api: Api::GetSession, .. } => {
            return sessions::get_session(app, ctx, market, decoded, origin);
        }
        Route::OpenApi { market, api, .. } => {
            openapi_caller(app, ctx, market, api, decoded, origin, headers, uri, body)?
        }
    };
    let caller = match gate(caller, &map) {
        Ok(caller) => caller,
        Err(refusal) => return Ok(*refusal),
    };
    // A request whose result is called back waits while its tenant's
    // callbacks are backed up (back-pressure on that tenant only).
    if caller.async_url.is_some() {
        app.callbacks.admit(&caller.tenant).await;
    }
    let decision = caller.decision.clone();
    let response = match caller.profile {
        Profile::Portal => {
            let request = super::portal::parse(caller.api, &map, caller.market)
                .map_err(|e| refuse_parsed(&caller, e, super::portal::echoed_reference(&map)))?;
            match request {
                PortalRequest::C2b(p) => payments::portal_payment(&caller, p, payments::Direction::C2b)?,
                PortalRequest::B2c(p) => payments::portal_payment(&caller, p, payments::Direction::B2c)?,
                PortalRequest::B2b(b) => payments::portal_b2b(&caller, b)?,
                PortalRequest::Reversal(r) => payments::portal_reversal(&caller, r)?,
                PortalRequest::Status(s) => queries::portal_status(&caller, s)?,
            }
        }
        Profile::OpenApi => {
            let today = caller.market.today(caller.now);
            let request = super::openapi::parse(caller.api, &map, caller.market, today)
                .map_err(|e| refuse_parsed(&caller, e, super::openapi::echoed_conversation_id(&map)))?;
            match request {
                OpenApiRequest::GetSession => {
                    return Err(caller.error(Ins::INTERNAL_ERROR, "getSession is routed apart"))
                }
                OpenApiRequest::C2b(p) => payments::openapi_payment(&caller, p, payments::Direction::C2b)?,
                OpenApiRequest::B2c(p) => payments::openapi_payment(&caller, p, payments::Direction::B2c)?,
                OpenApiRequest::B2b(b) => payments::openapi_b2b(&caller, b)?,
                OpenApiRequest::Reversal(r) => payments::openapi_reversal(&caller, r)?,
                OpenApiRequest::Status(s) => queries::openapi_status(&caller, s)?,
                OpenApiRequest::BeneficiaryName(q) => queries::beneficiary_name(&caller, q)?,
                OpenApiRequest::DirectDebit(d) => mandates::handle(&caller, d)?,
            }
        }
    };
    Ok(delayed(response, decision.as_ref()))
}

/// A path under the provider's prefixes that names no API.
fn route_error(profile: Profile, error: RouteError) -> VodafoneError {
    match error {
        RouteError::UnknownMarket(_) => VodafoneError::new(profile, None, Ins::INVALID_MARKET, error.to_string()),
        RouteError::UnknownApi(_) | RouteError::NotOurs => {
            let mut refusal = VodafoneError::bare(Some(profile), StatusCode::NOT_FOUND);
            refusal.diagnosis = Some(error.to_string());
            refusal
        }
    }
}

/// A parser's refusal, echoing the client's reference when readable and a
/// fresh conversation id, as the gateway's refusals do.
fn refuse_parsed(caller: &Caller, error: VodafoneError, third_party: Option<String>) -> VodafoneError {
    let conversation_id = caller.tenant.with_core(|core| ids::conversation_id(&mut core.ids));
    error.with_table(caller.table).with_echo(Echo {
        transaction_id: None,
        conversation_id: Some(conversation_id),
        third_party,
    })
}

/// The body of a POST or PUT, or the query string of a GET, as a map.
fn fields_of(
    profile: Profile,
    api: Api,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, VodafoneError> {
    if api.reads_query_string() {
        return Ok(fields::query_map(uri.query()));
    }
    match body {
        Ok(bytes) => Reader::body(&bytes, profile, api),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(VodafoneError::bare(Some(profile), StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(rejection) => Err(VodafoneError::new(
            profile,
            Some(api),
            Ins::VALIDATION_FAILED,
            format!("the body could not be read: {}", rejection.body_text()),
        )),
    }
}

/// The portal: the bearer's API key names an active account of a tenant.
fn portal_caller(
    app: &AppState,
    ctx: &RequestContext,
    api: Api,
    decoded: Result<(String, super::keys::KeySize), super::bearer::BearerError>,
    origin: Option<&str>,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller, Map<String, Value>), VodafoneError> {
    let profile = Profile::Portal;
    let refusal = SessionRefusal::default();
    let (secret, size) = decoded.map_err(|e| VodafoneError::bearer(profile, api, &e, refusal))?;
    let tenant = app
        .tenants
        .by_key::<Vodafone>(&secret)
        .ok_or_else(|| VodafoneError::unauthorized(profile, api, auth::unknown_key(&secret), refusal))?;
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Vodafone>();
    let table = world.portal_status_table;
    let invalid_key = |why: String| VodafoneError::unauthorized(profile, api, why, refusal).with_table(table);
    auth::check_key_size(size, world.key_size).map_err(invalid_key)?;
    let Some(account) = world.account_by_key(&secret) else {
        let why = match world.app_by_key(&secret) {
            Some(other) => format!(
                "the API key is OpenAPI application {:?}'s; the portal takes a portal account's key",
                other.name
            ),
            None => auth::unknown_key(&secret),
        };
        return Err(invalid_key(why));
    };
    if !account.active {
        return Err(VodafoneError::new(
            profile,
            Some(api),
            Ins::USER_NOT_ACTIVE,
            format!("account {:?} is not active (POST /__sandbox/vodafone/accounts/{{name}}/status)", account.name),
        )
        .with_table(table));
    }
    if !origin_allowed(&account.origins, origin) {
        return Err(VodafoneError::new(
            profile,
            Some(api),
            Ins::NOT_AUTHORIZED,
            format!("the Origin header is not one of account {:?}'s allowed origins", account.name),
        )
        .with_table(table));
    }
    let map = fields_of(profile, api, uri, body).map_err(|e| e.with_table(table))?;
    // The status query has no asynchronous form in the portal's documentation.
    let async_url = match api {
        Api::QueryTransactionStatus => None,
        _ => account.async_url.as_ref().map(|u| u.to_string()),
    };
    let caller = Caller {
        now: tenant.now(),
        tenant,
        profile,
        api,
        market: account.market,
        owner: account.name.clone(),
        table,
        async_url,
        session: None,
        limits: Limits::default(),
        decision: None,
    };
    Ok((caller, map))
}

/// The OpenAPI: the bearer's session id names a live session of a tenant.
#[allow(clippy::too_many_arguments)]
fn openapi_caller(
    app: &AppState,
    ctx: &RequestContext,
    market: Market,
    api: Api,
    decoded: Result<(String, super::keys::KeySize), super::bearer::BearerError>,
    origin: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller, Map<String, Value>), VodafoneError> {
    let profile = Profile::OpenApi;
    let default_refusal = || app.tenants.default_tenant().world_of::<Vodafone>().session_refusal;
    let (secret, size) = decoded.map_err(|e| VodafoneError::bearer(profile, api, &e, default_refusal()))?;
    let Some((grant, tenant)) = app.tenants.lookup(&secret).filter(|(g, _)| g.provider == super::PROVIDER) else {
        return Err(VodafoneError::unauthorized(profile, api, auth::unknown_session(&secret), default_refusal()));
    };
    ctx.set_tenant(&tenant);
    let now = tenant.now();
    let (world, session) = tenant.with::<Vodafone, _>(|_, mine| {
        let session = sessions::session_of(mine, &secret, &grant, now);
        (mine.world.clone(), session)
    });
    let refusal = world.session_refusal;
    let refuse = |why: String| VodafoneError::unauthorized(profile, api, why, refusal);
    auth::check_key_size(size, world.key_size).map_err(refuse)?;
    let Some(session) = session else {
        return Err(refuse(format!("session {} was forgotten (tenant reset); get a new one", clip(&secret))));
    };
    match session.times.state(now) {
        SessionState::Live => {}
        SessionState::NotYetLive => {
            return Err(refuse(format!(
            "the session is not live yet: it becomes live at {} (sandbox clock {}), the application's activation delay",
            session.times.live_from.to_rfc3339(),
            now.to_rfc3339()
        )))
        }
        SessionState::Expired => {
            return Err(refuse(format!(
                "the session expired at {} (sandbox clock {}); get a new one",
                session.times.expires_at.to_rfc3339(),
                now.to_rfc3339()
            )))
        }
    }
    let Some(application) = world.apps.iter().find(|a| a.name == session.app) else {
        return Err(refuse(format!("the session's application {:?} no longer exists", session.app)));
    };
    if session.market != market {
        return Err(refuse(format!(
            "the session was issued for {} (application {:?}); this path is {}",
            session.market, application.name, market
        )));
    }
    if !origin_allowed(&application.origins, origin) {
        return Err(refuse(format!("the Origin header is not one of application {:?}'s origins", application.name)));
    }
    if !application.enables(api) {
        return Err(VodafoneError::new(
            profile,
            Some(api),
            Ins::API_NOT_ENABLED,
            format!("application {:?} does not have the {} product enabled", application.name, api.operation()),
        ));
    }
    let async_url = match headers.get(RESPONSE_URL_HEADER).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()) {
        Some(value) if value.trim().eq_ignore_ascii_case("sync") => None,
        Some(value) => check_async_url(&value, world.loopback_async_urls)
            .map_err(|why| {
                VodafoneError::new(profile, Some(api), Ins::VALIDATION_FAILED, format!("{RESPONSE_URL_HEADER}: {why}"))
            })?
            .map(|u| u.to_string()),
        None => application.async_url.as_ref().map(|u| u.to_string()),
    };
    let map = fields_of(profile, api, uri, body)?;
    let caller = Caller {
        tenant,
        profile,
        api,
        market,
        owner: application.name.clone(),
        table: StatusTable::Documented,
        async_url,
        session: Some(session.id.clone()),
        limits: application.limits.clone(),
        decision: None,
        now,
    };
    Ok((caller, map))
}

/// Rate limits, scripted faults and the scenario decision.
fn gate(mut caller: Caller, map: &Map<String, Value>) -> Result<Caller, Box<Response>> {
    let facts = scenario::facts(caller.profile, caller.api, caller.market, map);
    match crate::gate::gate::<Vodafone>(&caller.tenant, &caller.owner, &facts) {
        Gate::Pass(decision) => {
            caller.decision = decision;
            Ok(caller)
        }
        Gate::Refuse(response) => Err(Box::new(response)),
    }
}

/// A session id in a diagnosis: its first characters only.
fn clip(secret: &str) -> String {
    let head: String = secret.chars().take(6).collect();
    format!("{head}...")
}

/// A JSON answer with a status.
pub(crate) fn answer(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}
