//! Creating, listing and deleting tenants: isolated worlds in one sandbox.
//!
//! A new tenant starts from the default world (or a world document merged
//! over it) with credentials of its own: every provider gives the
//! credentials inherited from the default world fresh values (Daraja's apps
//! get new consumer keys and secrets), derived from the run's seed and the
//! tenant id, so requests find their tenant through their credentials.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{scenarios_from, too_many, ScenarioRequest};
use super::{AdminError, AdminJson, TenantRef};
use crate::app_state::AppState;
use crate::clock::Clock;
use crate::ids::IdGen;
use crate::providers::{credentials, World};
use crate::scenarios::{Scenario, ScenarioSet};
use crate::store::TenantError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTenant {
    /// `a-z`, `0-9`, `-`, `_`; generated when omitted.
    id: Option<String>,
    /// A world document (TOML) merged over the default world.
    world: Option<String>,
    clock: Option<ClockSpec>,
    scenarios: Option<ScenarioRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockSpec {
    /// `system` (default) or `virtual`.
    mode: String,
    /// Start of a virtual clock (RFC 3339); now when omitted.
    start: Option<String>,
}

/// What a tenant creation request asks for, checked.
pub(crate) struct NewTenant {
    /// The world, before its credentials are made the tenant's own.
    pub(crate) world: World,
    pub(crate) clock: Clock,
    pub(crate) scenarios: Vec<Arc<Scenario>>,
}

impl CreateTenant {
    /// Checks everything but the id: the world document, the clock and the
    /// scenarios (within the limits); nothing is created.
    pub(crate) fn validate(&self) -> Result<NewTenant, AdminError> {
        let invalid = |code: &'static str, message: String| AdminError::new(StatusCode::BAD_REQUEST, code, message);
        let overlays = match &self.world {
            Some(text) => vec![(
                World::parse_doc(text, "world").map_err(|e| invalid("invalid_world", e.to_string()))?,
                "world".to_owned(),
            )],
            None => Vec::new(),
        };
        let world = World::from_overlays(&overlays).map_err(|e| invalid("invalid_world", e.to_string()))?;
        let clock = match &self.clock {
            None => Clock::System,
            Some(spec) => match spec.mode.as_str() {
                "system" => Clock::System,
                "virtual" => {
                    let start = match &spec.start {
                        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                            .map_err(|e| {
                                let text: String = text.chars().take(64).collect();
                                invalid("invalid_clock", format!("clock.start {text:?} is not an RFC 3339 time: {e}"))
                            })?
                            .with_timezone(&chrono::Utc),
                        None => chrono::Utc::now(),
                    };
                    Clock::virtual_at(start)
                }
                other => {
                    let other: String = other.chars().take(64).collect();
                    return Err(invalid(
                        "invalid_clock",
                        format!("clock.mode {other:?} is neither \"system\" nor \"virtual\""),
                    ));
                }
            },
        };
        let scenarios = match &self.scenarios {
            Some(s) => scenarios_from(s)?,
            None => Vec::new(),
        };
        crate::scenarios::check_limits(scenarios.iter().map(|s| &**s)).map_err(too_many)?;
        Ok(NewTenant { world, clock, scenarios })
    }
}

/// `POST /__sandbox/tenants`: answers 201 with the tenant's credentials.
pub(crate) async fn create(
    State(app): State<AppState>,
    AdminJson(request): AdminJson<CreateTenant>,
) -> Result<Response, AdminError> {
    let id = request.id.clone().unwrap_or_else(|| app.tenants.next_id());
    let NewTenant { mut world, clock, scenarios } = request.validate()?;
    let secrets = app.tenants.secrets();
    let mut ids = IdGen::for_secrets(secrets, app.seed, &format!("tenant-credentials/{id}"));
    world.fresh_credentials(&World::default_world(), &mut ids);

    let tenant = app.tenants.create(&id, world, clock, ScenarioSet { scenarios }).map_err(|e| match e {
        TenantError::Exists(_) | TenantError::KeyTaken { .. } => {
            AdminError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        TenantError::BadId(_) | TenantError::Default => AdminError::bad_request(e.to_string()),
        TenantError::TooMany(_) => too_many(e.to_string()),
    })?;
    if app.admin_token.is_some() {
        let token = IdGen::for_secrets(secrets, app.seed, &format!("tenant-admin-token/{id}")).alnum(32);
        tenant.set_admin_token(secrecy::SecretString::from(token));
    }
    tracing::info!(tenant = %tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(credentials(&app, &tenant))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantPage {
    /// Tenants per page (default 1,000, at most 10,000).
    limit: Option<usize>,
    /// The `next_after` of the previous page (a tenant id).
    after: Option<String>,
}

/// `GET /__sandbox/tenants?limit=&after=`: tenants by id.
pub(crate) async fn list(
    State(app): State<AppState>,
    q: Result<Query<TenantPage>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let page = super::query(q)?;
    let limit = super::journal::page_size(page.limit)?;
    let mut all = app.tenants.all();
    if let Some(after) = &page.after {
        all.retain(|t| t.id.as_str() > after.as_str());
    }
    let next_after = (all.len() > limit).then(|| all.get(limit.saturating_sub(1)).map(|t| t.id.clone())).flatten();
    let tenants: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|t| json!({ "id": t.id, "clock": if t.clock.is_virtual() { "virtual" } else { "system" } }))
        .collect();
    Ok(Json(json!({ "tenants": tenants, "next_after": next_after })))
}

/// `DELETE /__sandbox/tenants/{id}`: the tenant, its tokens and its pending events go.
pub(crate) async fn delete(
    State(app): State<AppState>,
    TenantRef(tenant): TenantRef,
) -> Result<Json<Value>, AdminError> {
    let deleted = app.tenants.delete(&tenant.id).map_err(|e| AdminError::bad_request(e.to_string()))?;
    let pending_events_dropped = deleted.map_or(0, |t| t.with_core(|core| core.timeline.clear()));
    app.callbacks.forget(&tenant.id);
    Ok(Json(json!({ "tenant": tenant.id, "deleted": true, "pending_events_dropped": pending_events_dropped })))
}
