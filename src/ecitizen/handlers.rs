//! The HTTP handlers: each finds its tenant (by client id, or by token),
//! runs the pure checks of its endpoint, passes the gate, and changes the
//! tenant's codes and tokens only through `tenant.with::<Ecitizen>`.
//!
//! Order in every handler: parse, find the tenant, the checks a client can
//! fail on its own (an unknown client, a wrong secret), the gate (rate
//! limits, scripted faults), the scenario's outcome, then the work.
//!
//! **Invariant:** no handler logs; codes, tokens, secrets and verifiers
//! reach no diagnosis (the pure layer builds them without).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::authorize::{self, AuthorizeRequest, Decision as Button, Interaction};
use super::error::{EcitizenError, OAuthError};
use super::extract::{issuer, tenant_of, BodyProblem, FormBody};
use super::page::{login_page, LoginPage};
use super::resource;
use super::scenario::{self, delayed, Gate, Subject};
use super::token::{self, Refused};
use super::wire::{AuthorizeQuery, IntrospectForm, IntrospectionResponse, LoginForm, TokenForm, UserInfoQuery};
use super::world::{ErrorStatuses, User, World};
use super::{oidc, paths, Ecitizen, State as EcitizenState, NAME};
use crate::app_state::AppState;
use crate::http::RequestContext;
use crate::httpauth;
use crate::scenarios::Decision;
use crate::server::OverTls;
use crate::store::{Grant, Tenant};

/// `GET /oauth/authorize`: the login and consent page, or (with
/// `prompt=none` and a `login_hint`, or a client's `auto_approve_user`) the
/// redirect with a code at once.
pub(crate) async fn authorize(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, EcitizenError> {
    let query = AuthorizeQuery::parse(query.as_deref().unwrap_or_default().as_bytes());
    let tenant = tenant_of(&app, &[query.client_id.usable()]);
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Ecitizen>();
    let request = authorize::check(&query, &world)?;
    // The interaction is decided before the gate so a rule can match the
    // user a hint or an auto-approving client logs in; a refusal it holds
    // (`login_required`) is answered after the gate, like any other.
    let interaction = authorize::interaction(&request, &world);
    let user = match &interaction {
        Ok(Interaction::Approve { user_id }) => world.user(*user_id),
        _ => None,
    };
    let decision = match scenario::gate(&tenant, scenario::AUTHORIZE, &subject_of(&request, user)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    if let Some(scripted) = scenario::outcome(decision.as_ref()) {
        return Ok(delayed(scripted.at_authorize(&request).into_response(), decision.as_ref()));
    }
    let response = match interaction {
        Err(refused) => refused.into_response(),
        Ok(Interaction::Page { selected }) => page(&world, &request, selected),
        Ok(Interaction::Approve { user_id }) => approve(&tenant, &world, &request, user_id),
    };
    Ok(delayed(response, decision.as_ref()))
}

/// `POST /oauth/authorize`: the login page's form (**Proceed** or **Back**).
pub(crate) async fn login(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Result<FormBody, BodyProblem>,
) -> Result<Response, EcitizenError> {
    let body = body.map_err(BodyProblem::into_page_error)?;
    let form = LoginForm::parse(&body.0);
    let tenant = tenant_of(&app, &[form.request.client_id.usable()]);
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Ecitizen>();
    let (request, button) = authorize::decision(&form, &world)?;
    let user = match button {
        Button::Proceed { user_id } => world.user(user_id),
        Button::Back => None,
    };
    let decision = match scenario::gate(&tenant, scenario::LOGIN, &subject_of(&request, user)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let response = match (scenario::outcome(decision.as_ref()), button) {
        (Some(scripted), _) => scripted.at_authorize(&request).into_response(),
        (None, Button::Back) => request.denied("the user pressed Back on the login page").into_response(),
        (None, Button::Proceed { user_id }) => approve(&tenant, &world, &request, user_id),
    };
    Ok(delayed(response, decision.as_ref()))
}

/// `POST /oauth/access-token`: the code exchange.
pub(crate) async fn access_token(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    uri: Uri,
    over_tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
    body: Result<FormBody, BodyProblem>,
) -> Result<Response, EcitizenError> {
    let authorization = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let body = body.map_err(|problem| problem.into_json_error(ErrorStatuses::Rfc6749))?;
    let form = TokenForm::parse(&body.0);
    // The client id routes to the tenant: from the form, or the Basic user.
    let basic_user = httpauth::basic(authorization).ok().map(|(user, _)| user);
    let tenant = tenant_of(&app, &[form.client_id.usable(), basic_user.as_deref()]);
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Ecitizen>();
    let statuses = world.settings.error_statuses;
    let request = token::parse(&form, authorization, statuses)?;
    let client_id = token::authenticate(&request, &world)?.client_id.clone();

    let approver = tenant.with::<Ecitizen, _>(|_, mine| mine.grants.user_of_code(request.code()));
    let subject =
        Subject { client_id: Some(&client_id), user: approver.and_then(|id| world.user(id)), ..Subject::default() };
    let decision = match scenario::gate(&tenant, scenario::TOKEN, &subject) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    if let Some(scripted) = scenario::outcome(decision.as_ref()) {
        return Ok(delayed(scripted.at_token(statuses).into_response(), decision.as_ref()));
    }

    let now = tenant.now();
    let redeemed = tenant.with::<Ecitizen, _>(|core, mine| {
        let EcitizenState { world, grants } = mine;
        token::redeem(&request, world, grants, core.secrets(), now)
    });
    let redeemed = match redeemed {
        Ok(redeemed) => redeemed,
        Err(refused) => return Ok(delayed(forget(&app, &tenant, refused).into_response(), decision.as_ref())),
    };
    // Signing takes milliseconds, so it happens outside the tenant's lock.
    let issuer = issuer(&headers, uri.authority().map(|a| a.as_str()), over_tls.is_some(), &app.base_url);
    let exchanged = match token::respond(redeemed, &world, app.shared::<Ecitizen>(), &issuer) {
        Ok(exchanged) => exchanged,
        Err(refused) => return Ok(delayed(forget(&app, &tenant, refused).into_response(), decision.as_ref())),
    };
    app.tenants.grant(
        exchanged.token.token.clone(),
        Grant {
            tenant: tenant.id.as_str().into(),
            provider: NAME,
            subject: exchanged.client_id.as_str().into(),
            expires_at: exchanged.token.expires_at,
        },
    );
    Ok(delayed(no_store(Json(exchanged.response).into_response()), decision.as_ref()))
}

/// Drops the tokens a refusal revoked (a replayed code's) from the tenant
/// and from the sandbox's token index, and hands the error back.
fn forget(app: &AppState, tenant: &Tenant, refused: Refused) -> EcitizenError {
    if !refused.revoked.is_empty() {
        tenant.with::<Ecitizen, _>(|_, mine| {
            for token in &refused.revoked {
                mine.grants.revoke_token(token);
            }
        });
        for token in &refused.revoked {
            app.tenants.revoke_token(token);
        }
    }
    refused.error
}

/// `POST /api/oauth/token/introspect`: `{active, scope, token_type,
/// client_id}` for a live token, `{"active": false}` otherwise.
pub(crate) async fn introspect(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Result<FormBody, BodyProblem>,
) -> Result<Response, EcitizenError> {
    let body = body.map_err(|problem| problem.into_json_error(ErrorStatuses::Rfc6749))?;
    let form = IntrospectForm::parse(&body.0);
    let passed = match by_token(&app, &ctx, form.token.usable(), scenario::INTROSPECT) {
        Ok(passed) => passed,
        Err(refused) => return Ok(*refused),
    };
    let ByToken { tenant, world, decision } = passed;
    let now = tenant.now();
    let answer = match scenario::outcome(decision.as_ref()) {
        Some(scripted) if scripted.is_inactive() => Ok(IntrospectionResponse::inactive()),
        Some(scripted) => Err(scripted.at_introspect(world.settings.error_statuses)),
        None => tenant.with::<Ecitizen, _>(|_, mine| resource::introspect(&form, &mine.world, &mine.grants, now)),
    };
    Ok(json_answer(answer, decision.as_ref()))
}

/// `GET /api/userinfo` and `GET /api/user-info`: the token's user, the
/// token from `?access_token=` or `Authorization: Bearer`.
pub(crate) async fn userinfo(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, EcitizenError> {
    let query = UserInfoQuery::parse(query.as_deref().unwrap_or_default().as_bytes());
    let authorization = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    // Until the token names its tenant, the default tenant's world says how
    // a malformed request is refused.
    let mode = app.tenants.default_tenant().world_of::<Ecitizen>().settings.userinfo_errors;
    let token = resource::bearer_token(&query, authorization, mode)?;
    let passed = match by_token(&app, &ctx, Some(token), scenario::USERINFO) {
        Ok(passed) => passed,
        Err(refused) => return Ok(*refused),
    };
    let ByToken { tenant, world, decision } = passed;
    let now = tenant.now();
    let answer = match scenario::outcome(decision.as_ref()) {
        Some(scripted) => Err(scripted.at_userinfo(world.settings.userinfo_errors)),
        None => tenant.with::<Ecitizen, _>(|_, mine| resource::userinfo(token, &mine.world, &mine.grants, now)),
    };
    Ok(json_answer(answer, decision.as_ref()))
}

/// A request about a token that passed the gate.
struct ByToken {
    tenant: Arc<Tenant>,
    world: Arc<World>,
    decision: Option<Decision>,
}

/// What introspection and user info share: the token's tenant (recorded for
/// the journal), and the gate, with the token's client and user as facts.
fn by_token(
    app: &AppState,
    ctx: &RequestContext,
    token: Option<&str>,
    operation: &'static str,
) -> Result<ByToken, Box<Response>> {
    let tenant = tenant_of_token(app, token);
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Ecitizen>();
    let owner = token_owner(&tenant, token);
    let subject = Subject {
        client_id: owner.as_ref().map(|(client, _)| client.as_str()),
        user: owner.as_ref().and_then(|(_, user)| world.user(*user)),
        ..Subject::default()
    };
    match scenario::gate(&tenant, operation, &subject) {
        Gate::Pass(decision) => Ok(ByToken { tenant, world, decision }),
        Gate::Refuse(response) => Err(Box::new(response)),
    }
}

/// A JSON answer that must not be cached, or the refusal, with the
/// scenario's delay.
fn json_answer(answer: Result<impl serde::Serialize, EcitizenError>, decision: Option<&Decision>) -> Response {
    let response = match answer {
        Ok(body) => no_store(Json(body).into_response()),
        Err(refused) => refused.into_response(),
    };
    delayed(response, decision)
}

/// `GET /.well-known/openid-configuration`, for the issuer the request sees.
pub(crate) async fn discovery(
    State(app): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    uri: Uri,
    over_tls: Option<Extension<OverTls>>,
    headers: HeaderMap,
) -> Response {
    let passed = match well_known(&app, &ctx, scenario::DISCOVERY) {
        Ok(passed) => passed,
        Err(refused) => return *refused,
    };
    let issuer = issuer(&headers, uri.authority().map(|a| a.as_str()), over_tls.is_some(), &app.base_url);
    delayed(Json(oidc::discovery(&issuer, &passed.world)).into_response(), passed.decision.as_ref())
}

/// `GET /.well-known/jwks.json`: the public key ID tokens are signed with.
pub(crate) async fn jwks(State(app): State<AppState>, Extension(ctx): Extension<RequestContext>) -> Response {
    let passed = match well_known(&app, &ctx, scenario::JWKS) {
        Ok(passed) => passed,
        Err(refused) => return *refused,
    };
    delayed(Json(app.shared::<Ecitizen>().jwks()).into_response(), passed.decision.as_ref())
}

/// A discovery request that passed the switch and the gate.
struct WellKnown {
    world: Arc<World>,
    decision: Option<Decision>,
}

/// What the two discovery endpoints share: the default tenant (discovery
/// names no client), the world's `discovery` switch, and the gate.
fn well_known(app: &AppState, ctx: &RequestContext, operation: &'static str) -> Result<WellKnown, Box<Response>> {
    let tenant = app.tenants.default_tenant();
    ctx.set_tenant(&tenant);
    let world = tenant.world_of::<Ecitizen>();
    if !world.settings.discovery {
        let mut refused = EcitizenError::bare(StatusCode::NOT_FOUND);
        refused.diagnosis = "this world turns OpenID Connect discovery off ([ecitizen] discovery = false)".into();
        return Err(Box::new(refused.into_response()));
    }
    match scenario::gate(&tenant, operation, &Subject::default()) {
        Gate::Pass(decision) => Ok(WellKnown { world, decision }),
        Gate::Refuse(response) => Err(Box::new(response)),
    }
}

/// The tenant a token was issued in (the default tenant for a token this
/// sandbox never issued to an eCitizen client, whose grants then do not
/// know it).
fn tenant_of_token(app: &AppState, token: Option<&str>) -> Arc<Tenant> {
    token
        .and_then(|t| app.tenants.lookup(t))
        .filter(|(grant, _)| grant.provider == NAME)
        .map(|(_, tenant)| tenant)
        .unwrap_or_else(|| app.tenants.default_tenant())
}

/// The client and user of a token the tenant knows (live or expired).
fn token_owner(tenant: &Tenant, token: Option<&str>) -> Option<(String, u64)> {
    let token = token?;
    tenant.with::<Ecitizen, _>(|_, mine| mine.grants.token_record(token).map(|r| (r.client_id.clone(), r.user_id)))
}

fn subject_of<'a>(request: &'a AuthorizeRequest, user: Option<&'a User>) -> Subject<'a> {
    Subject {
        client_id: Some(&request.client_id),
        user,
        login_hint: request.login_hint.as_deref(),
        scope: Some(&request.scope),
    }
}

/// Issues a code for `user_id` and sends the browser back with it.
fn approve(tenant: &Tenant, world: &World, request: &AuthorizeRequest, user_id: u64) -> Response {
    let now = tenant.now();
    let ttl = world.settings.code_ttl_secs;
    let code = tenant.with::<Ecitizen, _>(|core, mine| {
        mine.grants.issue_code(core.secrets(), request.authorization(user_id, now), now, ttl)
    });
    match HeaderValue::from_str(&request.success_location(&code)) {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(LOCATION, location);
            no_store(response)
        }
        // A URL the url crate serialized is always a valid header value.
        Err(_) => EcitizenError::page(OAuthError::ServerError, "sandbox bug: the redirect is not a valid header")
            .into_response(),
    }
}

/// The login and consent page.
fn page(world: &World, request: &AuthorizeRequest, selected: Option<u64>) -> Response {
    let client_name = world.client(&request.client_id).map_or(request.client_id.as_str(), |c| c.name.as_str());
    let html = login_page(&LoginPage {
        action: paths::AUTHORIZE,
        client_name,
        scope: &request.scope,
        hidden: request.hidden_fields(),
        users: world.users.values().collect(),
        selected,
    });
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // The page carries the authorization request; it must not be framed
    // (clickjacking the consent) nor run anything.
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    no_store(response)
}

/// RFC 6749 §5.1: token responses (and what carries codes or user data)
/// must not be cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
